"""``BaseClient``: what a client does without I/O: settings, the call per endpoint, parsing, ledger.

:class:`~ecomviz_nb.client.Client` and :class:`~ecomviz_nb.client.AsyncClient` share all of it
and repeat only the sending loop; whether a call is sent again and what its answer means is
:mod:`ecomviz_nb.api_call`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from . import config
from ._version import __version__
from .api_call import ApiCall
from .errors import APIConnectionError, APIError, ValidationError
from .ledger import JobLedger, JobRecord
from .models import (
    CreateProductRequest,
    GenerateRequest,
    Product,
    TryOnRequest,
    TryOnResult,
    Webhook,
    check_id,
    check_webhook_reachable,
)
from .scheduler import ProductScheduler

__all__ = ["DEFAULT_TIMEOUT", "BaseClient"]

# Requests are logged under the client's name: the redacting filter is attached to that logger.
logger = logging.getLogger("ecomviz_nb.client")

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0, pool=10.0)
"""Connect and pool: 10 s; read and write: 60 s."""


def _remember_webhook_token(webhook: Webhook | None) -> None:
    if webhook is not None and webhook.token:
        config.remember_secret(webhook.token)


class BaseClient:
    """Configuration, request building, retry decisions, error mapping and the ledger.

    Not used on its own: :class:`~ecomviz_nb.client.Client` and
    :class:`~ecomviz_nb.client.AsyncClient` add the I/O.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        home: str | None = None,
        sleep: Callable[[float], Any] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValidationError("max_retries", max_retries, "a whole number >= 0")
        for name, seam in (("sleep", sleep), ("rand", rand)):
            if seam is not None and not callable(seam):
                raise ValidationError(name, seam, "a callable, or None for the default")
        config.configure_logging()
        self._token = config.resolve_token(token)
        self.base_url = config.resolve_base_url(base_url)
        config.register_api(self.base_url, self._token)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.max_retries = max_retries
        self.ledger = JobLedger(config.resolve_home(home) / "jobs.sqlite3")
        self._rand: Callable[[], float] = random.random if rand is None else rand
        self._job_sleep = sleep  # None: the jobs this client returns keep their own default
        self._owns_http = True
        self.turns = ProductScheduler(self.ledger, self.base_url, rand=self._rand)
        """Who goes next on a product: see :mod:`ecomviz_nb.scheduler`."""

    def __repr__(self) -> str:
        token = "set" if self._token else "None"
        return f"{type(self).__name__}(base_url={self.base_url!r}, token={token})"

    def _twin_options(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "home": str(self.ledger.path.parent),
        }

    def _job_options(self) -> dict[str, Any]:
        """What the jobs this client returns are built with: its ledger, sleep and jitter."""
        return {"ledger": self.ledger, "sleep": self._job_sleep, "rand": self._rand}

    @property
    def has_token(self) -> bool:
        """Whether requests carry an ``Authorization`` header."""
        return self._token is not None

    @property
    def is_sandbox(self) -> bool:
        """Whether the server is on this machine (``localhost``, ``127.x``, ``::1``...).

        A heuristic on the base URL only (:func:`ecomviz_nb.config.is_local_server`): a
        sandbox on another host reads as False, and nothing is asked of the server.
        """
        return config.is_local_server(self.base_url)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"ecomviz-nb/{__version__}"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _build(self, http: httpx.Client | httpx.AsyncClient, call: ApiCall) -> httpx.Request:
        if self._owns_http:  # headers and timeout were set on the client once
            return http.build_request(call.method, self.base_url + call.path, json=call.body)
        return http.build_request(
            call.method,
            self.base_url + call.path,
            json=call.body,
            headers=self._headers(),
            timeout=self.timeout,
        )

    def _retry_after_error(self, call: ApiCall, exc: httpx.HTTPError, attempt: int) -> float | None:
        return call.retry_after_error(exc, attempt, max_retries=self.max_retries, rand=self._rand)

    def _retry_after_response(
        self, call: ApiCall, response: httpx.Response, attempt: int
    ) -> float | None:
        return call.retry_after_response(
            response, attempt, max_retries=self.max_retries, rand=self._rand
        )

    def _connection_error(self, call: ApiCall, exc: httpx.HTTPError) -> APIConnectionError:
        return call.connection_error(exc)

    def _parse(self, call: ApiCall, response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a successful response; raises the mapped APIError otherwise."""
        return call.parse(response, token_sent=bool(self._token))

    def _log(self, call: ApiCall, outcome: str, started: float, attempt: int) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug(
                "%s %s -> %s in %.0f ms (attempt %d)",
                call.method,
                call.path,
                outcome,
                elapsed,
                attempt + 1,
            )

    # ---- calls: what each endpoint sends

    @staticmethod
    def _create_product_call(image_urls: Sequence[str]) -> ApiCall:
        return ApiCall("POST", "/api/products/url", CreateProductRequest(image_urls).to_wire())

    @staticmethod
    def _get_product_call(product_id: str) -> ApiCall:
        return ApiCall("GET", "/api/products/" + quote(check_id("product_id", product_id), safe=""))

    def _generate_call(
        self, product_id: str, request: GenerateRequest | Mapping[str, Any]
    ) -> tuple[ApiCall, GenerateRequest]:
        pid = quote(check_id("product_id", product_id), safe="")
        if isinstance(request, Mapping):
            request = GenerateRequest.from_wire(request)
        elif not isinstance(request, GenerateRequest):
            raise ValidationError("request", request, "an ev.GenerateRequest")
        check_webhook_reachable(request.webhook, self.base_url)
        _remember_webhook_token(request.webhook)
        return ApiCall("POST", f"/api/products/{pid}/generate", request.to_wire()), request

    def _try_on_call(
        self, request: TryOnRequest | Mapping[str, Any]
    ) -> tuple[ApiCall, TryOnRequest]:
        if isinstance(request, Mapping):
            request = TryOnRequest.from_wire(request)
        elif not isinstance(request, TryOnRequest):
            raise ValidationError("request", request, "an ev.TryOnRequest")
        check_webhook_reachable(request.webhook, self.base_url)
        _remember_webhook_token(request.webhook)
        return ApiCall("POST", "/api/vto/generate-url", request.to_wire()), request

    @staticmethod
    def _get_try_on_call(vto_id: str) -> ApiCall:
        return ApiCall("GET", "/api/vto/" + quote(check_id("vto_id", vto_id), safe=""))

    # ---- parsing and ledger bookkeeping

    def _product(self, payload: dict[str, Any]) -> Product:
        return Product.from_wire(payload.get("data"), base_url=self.base_url)

    def _try_on_result(self, payload: dict[str, Any]) -> TryOnResult:
        return TryOnResult.from_wire(payload.get("data"), base_url=self.base_url)

    def _record_submission(
        self,
        call: ApiCall,
        kind: str,
        expected: int,
        remote_id: str | None,
        baseline: list[str] | None = None,
    ) -> JobRecord:
        assert call.body is not None
        return self.ledger.add(
            kind=kind,
            base_url=self.base_url,
            request=call.body,
            expected=expected,
            remote_id=remote_id,
            baseline=baseline,
        )

    def _save(self, record: JobRecord, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(record, name, value)
        self.ledger.update(record.id, **changes)

    def _mark_submitted(self, record: JobRecord, payload: dict[str, Any]) -> None:
        """The server took the job: keep its id (a try-on's comes in the answer)."""
        remote_id = record.remote_id
        if record.kind == "tryon":
            raw = payload.get("data")
            data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            remote_id = payload.get("vtoId") or data.get("vtoId") or data.get("_id")
            if not isinstance(remote_id, str) or not remote_id:
                message = "the server's answer had no vtoId"
                self._save(record, state="unknown", message=message)
                raise APIError(
                    200, message, method="POST", path="/api/vto/generate-url", body=payload
                )
        said = payload.get("message")
        self._save(
            record,
            state="submitted",
            remote_id=remote_id,
            message=config.redact(said) if isinstance(said, str) else None,
        )

    def _mark_failed(self, record: JobRecord, error: APIError | APIConnectionError) -> None:
        """``rejected`` when the job surely did not start; ``unknown`` when it may have.

        An ``unknown`` job is attached to the error as ``error.job`` and named in its message.
        """
        if isinstance(error, APIConnectionError):
            state = "unknown" if error.maybe_sent else "rejected"
        else:
            state = "unknown" if error.status_code >= 500 else "rejected"
        self._save(record, state=state, message=str(error))
        if state == "unknown":
            error.job = self._job(record)
            if record.kind == "tryon":  # no vtoId came back: nothing to follow, no product
                tail = (
                    f"It is kept as job {record.id} in state 'unknown', but its vtoId never "
                    "arrived, so it cannot be followed from here: look for it in your EcomViz "
                    "account before paying again."
                )
            else:
                tail = (
                    f"It is kept as job {record.id} in state 'unknown': error.job.wait() "
                    "follows it and client.jobs lists it, so check it before paying again; "
                    "until then it holds its product's turn (error.job.give_up() releases it)."
                )
            error.args = (f"{error} -- {tail}",)

    def _job(self, record: JobRecord) -> Any:
        """The job object of a ledger row, for this client."""
        return self.jobs._job(record)  # type: ignore[attr-defined]

    def _turn_pause(
        self, blockers: list[JobRecord], started: float, queue_timeout: float | None
    ) -> float:
        waited = time.monotonic() - started
        logger.info("waiting for the turn of %d overlapping run(s)", len(blockers))
        return self.turns.pause(blockers, waited, queue_timeout)
