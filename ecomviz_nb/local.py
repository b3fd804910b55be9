"""``ev.connect()`` and ``ev.Sandbox``: a client for the real API, or for a local sandbox."""

from __future__ import annotations

import atexit
import math
import os
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import config
from .client import AsyncClient, Client
from .errors import APIConnectionError, APIError, ValidationError
from .sandbox.server import SandboxServer

__all__ = [
    "CONFIG_PATH",
    "MAX_JOB_SECONDS",
    "REAL_API",
    "SANDBOX",
    "SANDBOX_TOKEN",
    "Sandbox",
    "check_job_seconds",
    "connect",
    "set_job_seconds",
]

SANDBOX_TOKEN = "sandbox-local"
"""The token clients of a local sandbox send (a sandbox accepts any, unless started strict)."""

SANDBOX = "EcomViz sandbox (local, free, images are drawn by Pillow: local renders, not AI)"
"""How ``connect()`` names a sandbox when it tells which kind of server it chose."""

REAL_API = "the real EcomViz API (billed)"
"""How ``connect()`` names the provider's API when it tells which kind of server it chose."""


class Sandbox(SandboxServer):
    """A local EcomViz sandbox in a background thread, with clients bound to it.

    >>> with ev.Sandbox(port=0, job_seconds=0) as sb:
    ...     client = sb.client()
    """

    def client(self, **kwargs: Any) -> Client:
        """An ``ev.Client`` for this sandbox (extra arguments go to ``Client``)."""
        kwargs.setdefault("token", self.settings.token or SANDBOX_TOKEN)
        return Client(base_url=self.url, **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncClient:
        """An ``ev.AsyncClient`` for this sandbox."""
        kwargs.setdefault("token", self.settings.token or SANDBOX_TOKEN)
        return AsyncClient(base_url=self.url, **kwargs)

    def __enter__(self) -> Sandbox:
        self.start()
        return self


CONFIG_PATH = "/_sandbox/config"
"""Where a sandbox takes its run-time switches (``job_seconds`` among them)."""

MAX_JOB_SECONDS = 600
"""The most seconds per job a sandbox's ``/_sandbox/config`` accepts."""

_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def shared_sandbox(*, job_seconds: float | None = None, **kwargs: Any) -> Sandbox:
    """The process's one background sandbox, started on first use and stopped at exit.

    Args:
        job_seconds: how long its jobs take. The call that starts the sandbox makes it a
            start-up setting; a later call applies it to the running sandbox through its
            ``/_sandbox/config`` (no restart: products and running jobs stay). None keeps
            what the sandbox has.
        **kwargs: other ``ev.Sandbox`` options, used only by the call that starts it.

    Raises:
        ValidationError: ``job_seconds`` is not a number from 0 to :data:`MAX_JOB_SECONDS`.
        APIError, APIConnectionError: the running sandbox did not take ``job_seconds``.
    """
    global _shared
    job_seconds = check_job_seconds(job_seconds)
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = Sandbox(job_seconds=job_seconds, **kwargs)
            _shared.start()
            atexit.register(_shared.stop)
        elif job_seconds is not None:
            set_job_seconds(_shared.url, job_seconds)
        return _shared


def check_job_seconds(value: Any) -> float | None:
    """``value`` as seconds per sandbox job, or None.

    Raises:
        ValidationError: ``value`` is not None nor a number from 0 to :data:`MAX_JOB_SECONDS`.
    """
    if value is None:
        return None
    allowed = f"None, or a number of seconds per sandbox job from 0 to {MAX_JOB_SECONDS}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError("job_seconds", value, allowed)
    if not math.isfinite(value) or not 0 <= value <= MAX_JOB_SECONDS:
        raise ValidationError("job_seconds", value, allowed)
    return float(value)


def set_job_seconds(url: str, seconds: float) -> None:
    """Make a running sandbox's jobs take ``seconds`` (``PUT /_sandbox/config``, no token sent).

    Jobs already running keep their pace; the next ones take the new time. A
    ``POST /_sandbox/reset`` returns the sandbox to its start-up time.

    Args:
        url: the sandbox's base URL.
        seconds: seconds per job (checked by :func:`check_job_seconds` first).

    Raises:
        ValidationError: ``seconds`` is out of range; nothing was sent.
        APIError: the server refused, e.g. 404 when it is not an EcomViz sandbox.
        APIConnectionError: the server could not be reached.
    """
    value = check_job_seconds(seconds)
    try:
        answer = httpx.put(url + CONFIG_PATH, json={"job_seconds": value}, timeout=10)
    except httpx.HTTPError as exc:
        detail = config.redact(str(exc) or type(exc).__name__)
        raise APIConnectionError(
            f"PUT {CONFIG_PATH}: {type(exc).__name__}: {detail}",
            method="PUT",
            path=CONFIG_PATH,
            maybe_sent=not isinstance(exc, httpx.ConnectError),
        ) from None
    try:
        taken = answer.json()["faults"]["job_seconds"]
    except (ValueError, KeyError, TypeError):
        taken = None
    if not answer.is_success or taken != value:
        # The server's own words stay out: it may not be a sandbox at all.
        raise APIError(
            answer.status_code,
            "the server did not take job_seconds; job_seconds applies only to an EcomViz sandbox",
            method="PUT",
            path=CONFIG_PATH,
        )


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: no credentials, path or query reach an output."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def connect(
    token: str | None = None,
    *,
    base_url: str | None = None,
    asynchronous: bool = False,
    quiet: bool = False,
    job_seconds: float | None = None,
    **kwargs: Any,
) -> Client | AsyncClient:
    """A client for the real API when a token is given or set, else for a local sandbox.

    It prints one line naming the kind of server chosen (an EcomViz sandbox, or the real,
    billed EcomViz API) and why: a token was passed or ``ECOMVIZ_API_TOKEN`` is set, the base
    URL names a local server, or nothing was set so a sandbox was started in this process. The
    line never holds a local address: notebooks are saved and shared, and a loopback URL means
    nothing to a reader (on Binder the browser cannot even reach it).

    Args:
        token: the API token; default ``$ECOMVIZ_API_TOKEN``.
        base_url: the server; default ``$ECOMVIZ_BASE_URL``. With a server and no token, the
            sandbox token is sent (for a sandbox started by ``ecomviz-nb sandbox`` or Binder).
        asynchronous: return an ``ev.AsyncClient``.
        quiet: do not print the line that says which server is used.
        job_seconds: a sandbox only: how long each of its jobs takes (0 renders as fast as it
            can; at most 600). A sandbox started here starts with it; one already running (on
            a second ``connect()``, or a server named by ``base_url`` that is local or is sent
            no token) is switched through its ``/_sandbox/config``, without a restart, and
            without the token. None keeps the sandbox's own.
        **kwargs: passed to the client (``timeout``, ``max_retries``...).

    Returns:
        ``ev.Client`` (or ``ev.AsyncClient``).

    Raises:
        ValidationError: ``job_seconds`` is out of range, or given while the server is the
            real API (a token is set and the server is not local); nothing was sent.
        SandboxNotInstalled: no token and no server are set, so a sandbox must start here,
            and its server stack is missing; the message says ``pip install
            'ecomviz-nb[sandbox]'``.
        APIError, APIConnectionError: the sandbox did not take ``job_seconds``.
    """
    cls: type[Client] | type[AsyncClient] = AsyncClient if asynchronous else Client
    seconds = check_job_seconds(job_seconds)
    resolved = config.resolve_token(token)
    server = base_url or os.environ.get(config.ENV_BASE_URL) or None
    token_from = "a token was passed" if token is not None else f"{config.ENV_TOKEN} is set"
    server_from = "the base_url argument" if base_url else config.ENV_BASE_URL
    if server is None and resolved is None:
        sandbox = shared_sandbox(job_seconds=seconds)
        client = cls(SANDBOX_TOKEN, base_url=sandbox.url, **kwargs)
        line = f"using an {SANDBOX}, started in this process as no {config.ENV_TOKEN} is set."
    else:
        if seconds is not None:
            # Checked before any client exists, so a bad URL is still reported as base_url.
            url = config.resolve_base_url(server)
            if resolved is not None and not config.is_local_server(url):
                raise ValidationError(
                    "job_seconds",
                    seconds,
                    "None here: job_seconds applies only to a local sandbox, and this connects "
                    f"to {REAL_API}, as a token is set and the server is not local; nothing "
                    "was sent",
                )
            set_job_seconds(url, seconds)
        # The client checks the URL first, so a bad one is reported as base_url.
        client = cls(resolved or SANDBOX_TOKEN, base_url=server, **kwargs)
        shown = _origin(client.base_url)
        if server is None:
            line = f"using {REAL_API} at {shown}, because {token_from}."
        elif config.is_local_server(client.base_url):
            line = f"using an {SANDBOX}, because {server_from} names a local server"
            line += f" ({token_from}; the token is sent to it)." if resolved else "."
        elif resolved is not None:
            line = f"using {REAL_API} at {shown} (named by {server_from}), because {token_from}."
        else:
            line = (
                f"using {shown} (named by {server_from}) as an EcomViz sandbox, because no "
                f"{config.ENV_TOKEN} is set; {REAL_API} refuses requests without one."
            )
    if seconds is not None:
        line += f" Its jobs take {seconds:g} s each."
    if not quiet:
        print(f"ecomviz_nb: {line}")
    return client
