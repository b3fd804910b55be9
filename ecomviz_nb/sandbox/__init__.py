"""A local EcomViz server: the reference's routes, images rendered with Pillow, state in SQLite.

``create_app(settings)`` builds the ASGI app; ``SandboxServer`` runs it in a thread;
``ecomviz-nb sandbox`` runs it in the foreground. It imports nothing of the client.

Importing this package loads neither FastAPI nor uvicorn (an optional extra,
``ecomviz-nb[sandbox]``): ``create_app`` and ``serve`` load them when first asked for, and
raise ``SandboxNotInstalled`` naming the command that installs them when they are missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .server import INSTALL_HINT, SandboxNotInstalled, SandboxServer, require_server_stack
from .settings import Faults, Settings

if TYPE_CHECKING:
    from .app import create_app
    from .server import serve

__all__ = [
    "INSTALL_HINT",
    "Faults",
    "SandboxNotInstalled",
    "SandboxServer",
    "Settings",
    "create_app",
    "require_server_stack",
    "serve",
]


# Checked on access, so ``from ecomviz_nb.sandbox import serve`` fails at once, before a
# command line announces a server that cannot start.
_NEED_SERVER_STACK = {"create_app": ".app", "serve": ".server"}


def __getattr__(name: str) -> Any:
    if name in _NEED_SERVER_STACK:
        require_server_stack()
        return getattr(importlib.import_module(_NEED_SERVER_STACK[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
