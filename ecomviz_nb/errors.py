"""The exceptions ecomviz_nb raises.

The tree::

    EcomVizError
    ├── ValidationError      (also ValueError)  bad input, raised before any request is sent
    ├── APIError             the server answered with an error (status_code, message, path)
    │   ├── AuthenticationError   401 / 403
    │   ├── NotFoundError         404
    │   ├── RateLimitError        429 (retry_after)
    │   └── ServerError           5xx
    ├── APIConnectionError   no usable answer: connection refused, dropped, timed out
    │   └── APITimeoutError  (also TimeoutError) a connect, read, write or pool timeout
    ├── JobError             a submitted job did not end well
    │   ├── JobTimeoutError  (also TimeoutError) the deadline passed; carries the partial images
    │   └── JobFailedError   the server reported a failed status
    └── QueueTimeoutError    (also TimeoutError) a run waited too long for its turn; nothing sent

    EcomVizWarning (UserWarning)  accepted but unusual input, e.g. a non-recommended aspect ratio

Messages never contain the API token: only the method, the path and the server's own message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "EcomVizError",
    "EcomVizWarning",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "QueueTimeoutError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "describe",
    "is_transient",
]


class EcomVizError(Exception):
    """Base class of every error ecomviz_nb raises."""


class EcomVizWarning(UserWarning):
    """Input the API accepts but does not recommend (for example an unusual aspect ratio)."""


class ValidationError(EcomVizError, ValueError):
    """A request field holds a value the API does not accept; nothing was sent.

    Attributes:
        field: the field's name as the user wrote it, with its position (``clothing[1].url``).
        value: the offending value.
        allowed: what the API accepts, in words.
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}={shown} is not accepted: {allowed}")


class APIError(EcomVizError):
    """The API answered with an error status.

    Attributes:
        status_code: the HTTP status.
        message: the server's own message (from its ``message`` field, or its body).
        method: the HTTP method of the request.
        path: the request path, without host or query.
        body: the decoded JSON body, when there was one.
        job: for a generate or try-on request that may have started work anyway (a 5xx), the
            ledger's job in state ``unknown``: ``error.job.wait()`` follows it.
    """

    job: Any = None

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        method: str = "",
        path: str = "",
        body: Any = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.method = method
        self.path = path
        self.body = body
        where = f"{method} {path}".strip()
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}HTTP {status_code}: {message}")


class AuthenticationError(APIError):
    """401 or 403: the token is missing, wrong or lacks permission."""


class NotFoundError(APIError):
    """404: no such product, try-on or route."""


class RateLimitError(APIError):
    """429: too many requests.

    Attributes:
        retry_after: seconds the server asked us to wait, if it said.
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        method: str = "",
        path: str = "",
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status_code, message, method=method, path=path, body=body)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed."""


class APIConnectionError(EcomVizError):
    """No usable answer reached us: the connection failed, dropped or timed out.

    Attributes:
        method: the HTTP method of the request.
        path: the request path.
        maybe_sent: True when the request may have reached the server (it was not resent if it
            starts paid work: check before submitting again).
        job: for a generate or try-on request that may have reached the server, the ledger's
            job in state ``unknown``: ``error.job.wait()`` follows it.
    """

    job: Any = None

    def __init__(self, message: str, *, method: str = "", path: str = "", maybe_sent: bool) -> None:
        self.method = method
        self.path = path
        self.maybe_sent = maybe_sent
        super().__init__(message)


class APITimeoutError(APIConnectionError, TimeoutError):
    """A connect, read, write or pool timeout."""


class JobError(EcomVizError):
    """Base class of errors about a submitted job.

    Attributes:
        job: the job object; it can be waited on again.
    """

    def __init__(self, message: str, *, job: Any) -> None:
        self.job = job
        super().__init__(message)


class JobTimeoutError(JobError, TimeoutError):
    """The wait's deadline passed before the job finished.

    Attributes:
        images: the images that had arrived by then.
        last_error: the error of the last poll, when polls were failing at the deadline.
    """

    def __init__(
        self,
        message: str,
        *,
        job: Any,
        images: list[Any],
        last_error: BaseException | None = None,
    ) -> None:
        super().__init__(message, job=job)
        self.images = images
        self.last_error = last_error


class JobFailedError(JobError):
    """The server reported a failed, errored or cancelled job.

    Attributes:
        status: the status as the server spelled it.
    """

    def __init__(self, message: str, *, job: Any, status: str) -> None:
        super().__init__(message, job=job)
        self.status = status


class QueueTimeoutError(EcomVizError, TimeoutError):
    """A run waited for its turn on a product longer than allowed; nothing was sent.

    Another run on the same product that its images could not be told apart from was still in
    flight (see :mod:`ecomviz_nb.attribution`).

    Attributes:
        blockers: the ledger ids of the runs it was waiting for.
    """

    def __init__(self, message: str, *, blockers: list[str]) -> None:
        super().__init__(message)
        self.blockers = blockers


def describe(exc: BaseException) -> str:
    """One line for an error in a run's or an item's record: the field and rule of a
    ValidationError, the status and server message of an APIError, else the message."""
    if isinstance(exc, ValidationError):
        return f"{exc.field}: {exc.allowed} (got {exc.value!r})"
    if isinstance(exc, APIError):
        return f"HTTP {exc.status_code}: {exc.message}"
    return str(exc) or type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Whether a failed *read* is worth trying again later: no answer, 408, 429 or a 5xx.

    401/403 (the token), 404 (no such thing) and other 4xx will answer the same next time.
    """
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, APIError):
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return False
