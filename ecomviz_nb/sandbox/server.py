"""Running the sandbox: in a background thread (``SandboxServer``) or in the foreground."""

from __future__ import annotations

import importlib
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .settings import Settings

if TYPE_CHECKING:
    import uvicorn

__all__ = ["INSTALL_HINT", "SandboxNotInstalled", "SandboxServer", "require_server_stack", "serve"]

INSTALL_HINT = "pip install 'ecomviz-nb[sandbox]'"
"""The command that installs what the sandbox serves with."""

# What serving needs beyond the base install (Pillow, httpx): the optional extra, imported only
# when a server is made. FastAPI brings pydantic and starlette, so its import checks them too.
_SERVER_STACK = ("fastapi", "uvicorn")


class SandboxNotInstalled(ModuleNotFoundError):
    """The sandbox's server stack (FastAPI, uvicorn) is not installed; the message says how."""


def require_server_stack() -> None:
    """Check that the sandbox can serve: FastAPI and uvicorn import.

    Raises:
        SandboxNotInstalled: one of them is missing or broken; the message names it, the
            import error, and the command that installs them (`INSTALL_HINT`).
    """
    missing: list[tuple[str, ImportError]] = []
    for name in _SERVER_STACK:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append((name, exc))
    if missing:
        causes = "; ".join(f"{name} cannot be imported ({exc})" for name, exc in missing)
        raise SandboxNotInstalled(
            f"the local EcomViz sandbox needs FastAPI and uvicorn: {causes}. Install them with "
            f"{INSTALL_HINT} (or set ECOMVIZ_API_TOKEN to use the real EcomViz API, which needs "
            "no sandbox)",
            name=missing[0][0],
        )


class SandboxServer:
    """A sandbox served by uvicorn in a daemon thread on a pre-bound loopback socket.

    Works inside a running Jupyter kernel: uvicorn gets its own event loop in its own thread.

    Args:
        port: 0 picks a free port.
        host: the interface; keep 127.0.0.1 unless you mean to share it.
        settings: full settings; ``token``, ``job_seconds``, ``data_dir``, ``offline`` are
            shortcuts that override them.

    Raises:
        SandboxNotInstalled: FastAPI or uvicorn is missing (checked when it is made).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        token: str | None = None,
        job_seconds: float | None = None,
        data_dir: str | Path | None = None,
        offline: bool | None = None,
        settings: Settings | None = None,
        log_level: str = "warning",
    ) -> None:
        require_server_stack()
        base = settings or Settings()
        changes: dict[str, Any] = {}
        if token is not None:
            changes["token"] = token
        if job_seconds is not None:
            changes["job_seconds"] = job_seconds
        if data_dir is not None:
            changes["data_dir"] = Path(data_dir)
        if offline is not None:
            changes["offline"] = offline
        self.settings = Settings(**{**base.__dict__, **changes})
        self.host = host
        self.port = port
        self.log_level = log_level
        self.app: Any = None
        """The ASGI app while running (its ``state`` holds the store, for tests)."""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:49152``."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"{type(self).__name__}(url={self.url!r}, {state})"

    def start(self, timeout: float = 30.0) -> SandboxServer:
        """Start serving; returns once the server accepts connections.

        Raises:
            RuntimeError: it did not start within ``timeout`` seconds.
        """
        if self.running:
            return self
        import uvicorn

        from .app import create_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, log_level=self.log_level, lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"ecomviz-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end (running jobs are cancelled)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.app = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8787, log_level: str = "info"
) -> None:
    """Serve in the foreground until interrupted (the ``ecomviz-nb sandbox`` command).

    Raises:
        SandboxNotInstalled: FastAPI or uvicorn is missing.
    """
    require_server_stack()
    import uvicorn

    from .app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
