"""``ev.connect()`` and ``ev.Sandbox``: a client for the real API, or for a local sandbox."""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from . import config
from .client import AsyncClient, Client
from .sandbox.server import SandboxServer

__all__ = ["SANDBOX_TOKEN", "Sandbox", "connect"]

SANDBOX_TOKEN = "sandbox-local"
"""The token clients of a local sandbox send (a sandbox accepts any, unless started strict)."""


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


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def shared_sandbox(**kwargs: Any) -> Sandbox:
    """The process's one background sandbox, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = Sandbox(**kwargs)
            _shared.start()
            atexit.register(_shared.stop)
        return _shared


def connect(
    token: str | None = None,
    *,
    base_url: str | None = None,
    asynchronous: bool = False,
    quiet: bool = False,
    **kwargs: Any,
) -> Client | AsyncClient:
    """A client for the real API when a token is given or set, else for a local sandbox.

    Args:
        token: the API token; default ``$ECOMVIZ_API_TOKEN``.
        base_url: the server; default ``$ECOMVIZ_BASE_URL``. With a server and no token, the
            sandbox token is sent (for a sandbox started by ``ecomviz-nb sandbox`` or Binder).
        asynchronous: return an ``ev.AsyncClient``.
        quiet: do not print the line that says which server is used.
        **kwargs: passed to the client (``timeout``, ``max_retries``...).

    Returns:
        ``ev.Client`` (or ``ev.AsyncClient``).
    """
    cls: type[Client] | type[AsyncClient] = AsyncClient if asynchronous else Client
    resolved = config.resolve_token(token)
    server = base_url or os.environ.get(config.ENV_BASE_URL) or None
    # The lines name no local address: notebooks are saved and shared, and a loopback URL in
    # an output means nothing to a reader (on Binder the browser cannot even reach it).
    if resolved is not None:
        client = cls(resolved, base_url=server, **kwargs)
        line = f"ecomviz_nb: connected to {client.base_url} with your API token."
    elif server is not None:
        client = cls(SANDBOX_TOKEN, base_url=server, **kwargs)
        line = (
            "ecomviz_nb: no API token set; using the server from base_url / ECOMVIZ_BASE_URL "
            "(if it is a sandbox, its images are local renders, not AI)."
        )
    else:
        sandbox = shared_sandbox()
        client = cls(SANDBOX_TOKEN, base_url=sandbox.url, **kwargs)
        line = (
            "ecomviz_nb: no ECOMVIZ_API_TOKEN set, so a local sandbox runs in this kernel; "
            "its images are local renders, not AI."
        )
    if not quiet:
        print(line)
    return client
