"""``ev.Client`` and ``ev.AsyncClient``: one request builder and parser, two ways to send.

Everything that does no I/O (building requests, deciding retries, mapping errors, writing the
ledger) lives in :class:`_BaseClient`; the two clients repeat only the sending loop.

Retries: a GET is retried on connection errors, timeouts, 408, 429 and 5xx with capped
exponential backoff and jitter, honouring ``Retry-After``. A POST starts paid work, so it is
retried only when the request certainly never started it (connection refused, connect or pool
timeout, or a 429 refusal); after a read timeout, a dropped connection or a 5xx it is *not*
resent and the ledger marks the job ``unknown``; the raised error then carries that job as ``.job``.

Turns: ``generate()`` first waits until no run on the product that its images could be mixed
up with is in flight (:mod:`ecomviz_nb.scheduler`); ``try_generate()`` submits only if it is
the run's turn now.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from . import config
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from .jobs import AsyncGenerationJob, AsyncJobs, AsyncTryOnJob, GenerationJob, Jobs, TryOnJob
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

__all__ = ["DEFAULT_TIMEOUT", "AsyncClient", "Client", "retry_delay"]

logger = logging.getLogger("ecomviz_nb.client")

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0, pool=10.0)
"""Connect and pool: 10 s; read and write: 60 s."""
MAX_RETRY_AFTER = 60.0
"""A ``Retry-After`` longer than this is not waited out: the error is raised instead."""
RETRY_STATUSES = frozenset({408, 429})
# Exceptions after which the request certainly never reached the server.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    rand: float = 0.5,
    *,
    base: float = 0.5,
    cap: float = 8.0,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``.

    The server's ``Retry-After`` wins when given; otherwise ``base * 2**attempt`` capped at
    ``cap``, scaled by a jitter factor in [0.5, 1.5) picked by ``rand`` in [0, 1).
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(cap, base * 2.0 ** min(attempt, 30)) * (0.5 + rand)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    body: dict[str, Any] | None = None

    @property
    def paid(self) -> bool:
        """POSTs start work that costs money: resend only if it certainly never arrived."""
        return self.method == "POST"


def _server_message(response: httpx.Response, payload: Any) -> str:
    if isinstance(payload, Mapping):
        for key in ("message", "error", "detail"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value
            if value:
                return str(value)[:500]
    text = response.text.strip()
    return text[:500] if text else (response.reason_phrase or "no message")


def _remember_webhook_token(webhook: Webhook | None) -> None:
    if webhook is not None and webhook.token:
        config.remember_secret(webhook.token)


class _BaseClient:
    """Configuration, request building, retry decisions, error mapping and the ledger."""

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

    def _build(self, http: httpx.Client | httpx.AsyncClient, call: _Call) -> httpx.Request:
        if self._owns_http:  # headers and timeout were set on the client once
            return http.build_request(call.method, self.base_url + call.path, json=call.body)
        return http.build_request(
            call.method,
            self.base_url + call.path,
            json=call.body,
            headers=self._headers(),
            timeout=self.timeout,
        )

    def _retry_after_error(self, call: _Call, exc: httpx.HTTPError, attempt: int) -> float | None:
        if attempt >= self.max_retries:
            return None
        retryable = _NEVER_SENT if call.paid else _TRANSIENT
        if not isinstance(exc, retryable):
            return None
        return retry_delay(attempt, rand=self._rand())

    def _retry_after_response(
        self, call: _Call, response: httpx.Response, attempt: int
    ) -> float | None:
        status = response.status_code
        if attempt >= self.max_retries:
            return None
        if call.paid and status != 429:  # a 429 refused the work: resending cannot pay twice
            return None
        if status not in RETRY_STATUSES and status < 500:
            return None
        hint = parse_retry_after(response.headers.get("Retry-After"))
        if hint is not None and hint > MAX_RETRY_AFTER:
            return None
        return retry_delay(attempt, hint, self._rand())

    def _connection_error(self, call: _Call, exc: httpx.HTTPError) -> APIConnectionError:
        maybe_sent = not isinstance(exc, _NEVER_SENT)
        detail = config.redact(str(exc) or type(exc).__name__)
        message = f"{call.method} {call.path}: {type(exc).__name__}: {detail}"
        if maybe_sent and call.paid:
            message += (
                " -- the request may have reached the server, so it was not resent (a duplicate "
                "would be charged twice); check before submitting again"
            )
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        return cls(message, method=call.method, path=call.path, maybe_sent=maybe_sent)

    def _parse(self, call: _Call, response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a successful response; raises the mapped APIError otherwise."""
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        status = response.status_code
        ok = 200 <= status < 300
        if ok and isinstance(payload, dict) and payload.get("success") is not False:
            return payload
        if ok:
            message = (
                "the response was not a JSON object"
                if not isinstance(payload, dict)
                else (_server_message(response, payload))
            )
        else:
            message = _server_message(response, payload)
        message = config.redact(message)
        if payload is not None:  # the body may echo a secret too
            payload = json.loads(config.redact(json.dumps(payload)))
        kwargs: dict[str, Any] = {"method": call.method, "path": call.path, "body": payload}
        if status in (401, 403):
            if not self._token:
                message += " (no token was sent: pass token= or set ECOMVIZ_API_TOKEN)"
            raise AuthenticationError(status, message, **kwargs)
        if status == 404:
            raise NotFoundError(status, message, **kwargs)
        if status == 429:
            hint = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimitError(status, message, retry_after=hint, **kwargs)
        if status >= 500:
            raise ServerError(status, message, **kwargs)
        raise APIError(status, message, **kwargs)

    def _log(self, call: _Call, outcome: str, started: float, attempt: int) -> None:
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
    def _create_product_call(image_urls: Sequence[str]) -> _Call:
        return _Call("POST", "/api/products/url", CreateProductRequest(image_urls).to_wire())

    @staticmethod
    def _get_product_call(product_id: str) -> _Call:
        return _Call("GET", "/api/products/" + quote(check_id("product_id", product_id), safe=""))

    def _generate_call(
        self, product_id: str, request: GenerateRequest | Mapping[str, Any]
    ) -> tuple[_Call, GenerateRequest]:
        pid = quote(check_id("product_id", product_id), safe="")
        if isinstance(request, Mapping):
            request = GenerateRequest.from_wire(request)
        elif not isinstance(request, GenerateRequest):
            raise ValidationError("request", request, "an ev.GenerateRequest")
        check_webhook_reachable(request.webhook, self.base_url)
        _remember_webhook_token(request.webhook)
        return _Call("POST", f"/api/products/{pid}/generate", request.to_wire()), request

    def _try_on_call(self, request: TryOnRequest | Mapping[str, Any]) -> tuple[_Call, TryOnRequest]:
        if isinstance(request, Mapping):
            request = TryOnRequest.from_wire(request)
        elif not isinstance(request, TryOnRequest):
            raise ValidationError("request", request, "an ev.TryOnRequest")
        check_webhook_reachable(request.webhook, self.base_url)
        _remember_webhook_token(request.webhook)
        return _Call("POST", "/api/vto/generate-url", request.to_wire()), request

    @staticmethod
    def _get_try_on_call(vto_id: str) -> _Call:
        return _Call("GET", "/api/vto/" + quote(check_id("vto_id", vto_id), safe=""))

    # ---- parsing and ledger bookkeeping

    def _product(self, payload: dict[str, Any]) -> Product:
        return Product.from_wire(payload.get("data"), base_url=self.base_url)

    def _try_on_result(self, payload: dict[str, Any]) -> TryOnResult:
        return TryOnResult.from_wire(payload.get("data"), base_url=self.base_url)

    def _record_submission(
        self,
        call: _Call,
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


class Client(_BaseClient):
    """A synchronous EcomViz client on ``httpx.Client``.

    Args:
        token: the API token; default ``$ECOMVIZ_API_TOKEN``. Never shown in reprs or logs.
        base_url: default ``$ECOMVIZ_BASE_URL`` or ``https://ecomviz.cloud``.
        timeout: seconds or an ``httpx.Timeout`` (default: connect 10 s, read 60 s).
        max_retries: retries for GETs (and for POSTs that never reached the server).
        http_client: an ``httpx.Client`` to send with (proxies, tests); you keep closing it.
        home: folder of the job ledger; default ``$ECOMVIZ_HOME`` or ``~/.ecomviz``.
        sleep: what waits between retries, for a product's turn and in the jobs this client
            returns; default ``time.sleep``. Tests and simulations pass a recorder, as they can
            to a job.
        rand: the jitter source in [0, 1) for those waits; default ``random.random``.

    Raises:
        ValidationError: ``max_retries`` is not a whole number >= 0, or ``sleep`` / ``rand``
            is not callable.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        home: str | None = None,
        sleep: Callable[[float], Any] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            home=home,
            sleep=sleep,
            rand=rand,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=self.timeout, headers=self._headers())
        self._sleep: Callable[[float], Any] = time.sleep if sleep is None else sleep
        self.jobs = Jobs(self.ledger, self, self.base_url)
        """The job ledger's jobs for this server: ``client.jobs.list()``, ``.get(job_id)``."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections (an injected ``http_client`` is left open) and forget the
        token, unless another live client still uses it."""
        if self._owns_http:
            self._http.close()
        if not getattr(self, "_released", False):  # a second close gives nothing back twice
            self._released = True
            config.release_api(self.base_url, self._token)

    def _send(self, call: _Call) -> dict[str, Any]:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self._http.send(self._build(self._http, call))
            except httpx.HTTPError as exc:
                self._log(call, type(exc).__name__, started, attempt)
                delay = self._retry_after_error(call, exc, attempt)
                if delay is None:
                    raise self._connection_error(call, exc) from None
            else:
                self._log(call, str(response.status_code), started, attempt)
                delay = self._retry_after_response(call, response, attempt)
                if delay is None:
                    return self._parse(call, response)
            self._sleep(delay)
            attempt += 1

    def create_product(self, image_urls: Sequence[str]) -> Product:
        """Create a product from image URLs; the server analyses it (name, colours).

        Raises:
            ValidationError: a URL is empty or not http(s); nothing was sent.
        """
        return self._product(self._send(self._create_product_call(image_urls)))

    def get_product(self, product_id: str) -> Product:
        """Fetch a product with its generated images so far."""
        return self._product(self._send(self._get_product_call(product_id)))

    def generate(
        self,
        product_id: str,
        request: GenerateRequest | Mapping[str, Any],
        *,
        queue_timeout: float | None = 600,
    ) -> GenerationJob:
        """Start image generation; returns a job to ``wait()`` on.

        If a run on this product whose images could not be told apart from this one's is in
        flight (same platform, region and a shared type or VTO colour), this first waits for it
        to finish (:mod:`ecomviz_nb.attribution`). The job is in the ledger before the request
        is sent.

        Args:
            queue_timeout: seconds to wait for that turn at most (None: no limit).

        Raises:
            ValidationError: the request breaks a rule; nothing was sent.
            QueueTimeoutError: the turn did not come in time; nothing was sent.
            APIError: the server refused it. APIConnectionError: see ``maybe_sent``; when the
                request may have started the job, ``error.job`` is its ledger job.
        """
        call, req = self._generate_call(product_id, request)
        started = time.monotonic()
        while True:
            job = self._try_generate(self.get_product(product_id), call, req)
            if isinstance(job, GenerationJob):
                return job
            self._sleep(self._turn_pause(job, started, queue_timeout))

    def try_generate(
        self, product: Product, request: GenerateRequest | Mapping[str, Any]
    ) -> GenerationJob | None:
        """Submit now if it is the run's turn on ``product``; else None and nothing is sent.

        Args:
            product: the product as read just now: its images are the run's baseline.
        """
        call, req = self._generate_call(product.id, request)
        job = self._try_generate(product, call, req)
        return job if isinstance(job, GenerationJob) else None

    def _try_generate(
        self, product: Product, call: _Call, req: GenerateRequest
    ) -> GenerationJob | list[JobRecord]:
        assert call.body is not None
        record, blockers = self.turns.reserve(product, req, call.body)
        if record is None:
            return blockers
        try:
            payload = self._send(call)
        except (APIError, APIConnectionError) as exc:
            self._mark_failed(record, exc)
            raise
        self._mark_submitted(record, payload)
        return GenerationJob(record, self, **self._job_options())

    def try_on(self, request: TryOnRequest | Mapping[str, Any]) -> TryOnJob:
        """Start a virtual try-on; returns a job to ``wait()`` on."""
        call, req = self._try_on_call(request)
        record = self._record_submission(call, "tryon", req.expected_images, None)
        try:
            payload = self._send(call)
        except (APIError, APIConnectionError) as exc:
            self._mark_failed(record, exc)
            raise
        self._mark_submitted(record, payload)
        return TryOnJob(record, self, **self._job_options())

    def get_try_on(self, vto_id: str) -> TryOnResult:
        """Fetch a try-on task's status and images."""
        return self._try_on_result(self._send(self._get_try_on_call(vto_id)))

    def to_async(self) -> AsyncClient:
        """An ``AsyncClient`` for the same server, token and ledger (widgets use one)."""
        return AsyncClient(self._token, **self._twin_options())


class Limiter(Protocol):
    """Paces an :class:`AsyncClient` (a batch's :class:`~ecomviz_nb.runs.AdaptiveLimiter`)."""

    def slot(self) -> AbstractAsyncContextManager[None]: ...

    def penalize(self, retry_after: float | None) -> None: ...

    def reward(self) -> None: ...


class AsyncClient(_BaseClient):
    """The asyncio twin of :class:`Client` on ``httpx.AsyncClient``; every method is awaitable.

    Takes the same arguments as :class:`Client`; ``http_client`` is an ``httpx.AsyncClient``
    and ``sleep`` a coroutine function (default ``asyncio.sleep``).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
        home: str | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            home=home,
            sleep=sleep,
            rand=rand,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout, headers=self._headers())
        self._sleep: Callable[[float], Any] = asyncio.sleep if sleep is None else sleep
        self.limiter: Limiter | None = None
        """When set, every request takes one of its slots and reports 429s to it."""
        self.jobs = AsyncJobs(self.ledger, self, self.base_url)
        """The job ledger's jobs for this server, as async jobs."""

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (an injected ``http_client`` is left open) and forget the
        token, unless another live client still uses it."""
        if self._owns_http:
            await self._http.aclose()
        if not getattr(self, "_released", False):  # a second close gives nothing back twice
            self._released = True
            config.release_api(self.base_url, self._token)

    async def _send(self, call: _Call) -> dict[str, Any]:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = await self._send_once(call)
            except httpx.HTTPError as exc:
                self._log(call, type(exc).__name__, started, attempt)
                delay = self._retry_after_error(call, exc, attempt)
                if delay is None:
                    raise self._connection_error(call, exc) from None
            else:
                self._log(call, str(response.status_code), started, attempt)
                delay = self._retry_after_response(call, response, attempt)
                if delay is None:
                    return self._parse(call, response)
            await self._sleep(delay)
            attempt += 1

    async def _send_once(self, call: _Call) -> httpx.Response:
        if self.limiter is None:
            return await self._http.send(self._build(self._http, call))
        async with self.limiter.slot():
            response = await self._http.send(self._build(self._http, call))
        if response.status_code == 429:
            self.limiter.penalize(parse_retry_after(response.headers.get("Retry-After")))
        else:
            self.limiter.reward()
        return response

    async def create_product(self, image_urls: Sequence[str]) -> Product:
        """See :meth:`Client.create_product`."""
        return self._product(await self._send(self._create_product_call(image_urls)))

    async def get_product(self, product_id: str) -> Product:
        """See :meth:`Client.get_product`."""
        return self._product(await self._send(self._get_product_call(product_id)))

    async def generate(
        self,
        product_id: str,
        request: GenerateRequest | Mapping[str, Any],
        *,
        queue_timeout: float | None = 600,
    ) -> AsyncGenerationJob:
        """See :meth:`Client.generate`."""
        call, req = self._generate_call(product_id, request)
        started = time.monotonic()
        while True:
            job = await self._try_generate(await self.get_product(product_id), call, req)
            if isinstance(job, AsyncGenerationJob):
                return job
            await self._sleep(self._turn_pause(job, started, queue_timeout))

    async def try_generate(
        self, product: Product, request: GenerateRequest | Mapping[str, Any]
    ) -> AsyncGenerationJob | None:
        """See :meth:`Client.try_generate`."""
        call, req = self._generate_call(product.id, request)
        job = await self._try_generate(product, call, req)
        return job if isinstance(job, AsyncGenerationJob) else None

    async def _try_generate(
        self, product: Product, call: _Call, req: GenerateRequest
    ) -> AsyncGenerationJob | list[JobRecord]:
        assert call.body is not None
        record, blockers = self.turns.reserve(product, req, call.body)
        if record is None:
            return blockers
        try:
            payload = await self._send(call)
        except (APIError, APIConnectionError) as exc:
            self._mark_failed(record, exc)
            raise
        self._mark_submitted(record, payload)
        return AsyncGenerationJob(record, self, **self._job_options())

    async def try_on(self, request: TryOnRequest | Mapping[str, Any]) -> AsyncTryOnJob:
        """See :meth:`Client.try_on`."""
        call, req = self._try_on_call(request)
        record = self._record_submission(call, "tryon", req.expected_images, None)
        try:
            payload = await self._send(call)
        except (APIError, APIConnectionError) as exc:
            self._mark_failed(record, exc)
            raise
        self._mark_submitted(record, payload)
        return AsyncTryOnJob(record, self, **self._job_options())

    async def get_try_on(self, vto_id: str) -> TryOnResult:
        """See :meth:`Client.get_try_on`."""
        return self._try_on_result(await self._send(self._get_try_on_call(vto_id)))

    def to_async(self) -> AsyncClient:
        """A new ``AsyncClient`` like this one (its own connections)."""
        return AsyncClient(self._token, **self._twin_options())
