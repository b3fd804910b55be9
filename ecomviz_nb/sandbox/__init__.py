"""A local EcomViz server: the reference's routes, images rendered with Pillow, state in SQLite.

``create_app(settings)`` builds the ASGI app; ``SandboxServer`` runs it in a thread;
``ecomviz-nb sandbox`` runs it in the foreground. It imports nothing of the client.
"""

from .app import create_app
from .server import SandboxServer, serve
from .settings import Faults, Settings

__all__ = ["Faults", "SandboxServer", "Settings", "create_app", "serve"]
