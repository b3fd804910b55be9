"""One API call without I/O: what it sends, whether to send it again, and what its answer means.

Retries: a GET is retried on connection errors, timeouts, 408, 429 and 5xx with capped
exponential backoff and jitter, honouring ``Retry-After``. A POST starts paid work, so it is
retried only when the request certainly never started it (connection refused, connect or pool
timeout, or a 429 refusal); after a read timeout, a dropped connection or a 5xx it is *not*
resent (the client then marks its ledger job ``unknown``).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from . import config
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

__all__ = ["MAX_RETRY_AFTER", "RETRY_STATUSES", "ApiCall", "parse_retry_after", "retry_delay"]

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
class ApiCall:
    """One request to the API: its method, its path under the base URL and its JSON body."""

    method: str
    path: str
    body: dict[str, Any] | None = None

    @property
    def paid(self) -> bool:
        """POSTs start work that costs money: resend only if it certainly never arrived."""
        return self.method == "POST"

    def retry_after_error(
        self, exc: httpx.HTTPError, attempt: int, *, max_retries: int, rand: Callable[[], float]
    ) -> float | None:
        """Seconds to wait before sending again after ``exc``, or None: do not resend."""
        if attempt >= max_retries:
            return None
        retryable = _NEVER_SENT if self.paid else _TRANSIENT
        if not isinstance(exc, retryable):
            return None
        return retry_delay(attempt, rand=rand())

    def retry_after_response(
        self,
        response: httpx.Response,
        attempt: int,
        *,
        max_retries: int,
        rand: Callable[[], float],
    ) -> float | None:
        """Seconds to wait before sending again after ``response``, or None: it is final."""
        status = response.status_code
        if attempt >= max_retries:
            return None
        if self.paid and status != 429:  # a 429 refused the work: resending cannot pay twice
            return None
        if status not in RETRY_STATUSES and status < 500:
            return None
        hint = parse_retry_after(response.headers.get("Retry-After"))
        if hint is not None and hint > MAX_RETRY_AFTER:
            return None
        return retry_delay(attempt, hint, rand())

    def connection_error(self, exc: httpx.HTTPError) -> APIConnectionError:
        """The error to raise for ``exc``; it says whether the request may have arrived."""
        maybe_sent = not isinstance(exc, _NEVER_SENT)
        detail = config.redact(str(exc) or type(exc).__name__)
        message = f"{self.method} {self.path}: {type(exc).__name__}: {detail}"
        if maybe_sent and self.paid:
            message += (
                " -- the request may have reached the server, so it was not resent (a duplicate "
                "would be charged twice); check before submitting again"
            )
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        return cls(message, method=self.method, path=self.path, maybe_sent=maybe_sent)

    def parse(self, response: httpx.Response, *, token_sent: bool) -> dict[str, Any]:
        """The JSON object of a successful response; raises the mapped APIError otherwise.

        Args:
            token_sent: whether the request carried a token (a 401 without one says how to).
        """
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
        kwargs: dict[str, Any] = {"method": self.method, "path": self.path, "body": payload}
        if status in (401, 403):
            if not token_sent:
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
