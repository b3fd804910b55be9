"""The sandbox's HTTP application: ``create_app(settings)`` builds it, uvicorn serves it.

Routes are the provider reference's five (``products``, ``vto``), plus ``/files/…``
(generated images), ``/samples/…`` (bundled sample photos) (``media``) and sandbox-only
controls under ``/_sandbox/`` (``control``). Every error is ``{"success": false, "message": …}``;
bad input never produces a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

try:
    from fastapi import FastAPI
except ImportError:  # the optional extra is missing: raise the error that says what to install
    from .server import require_server_stack

    require_server_stack()
    raise

from .._version import __version__
from . import control, media, products, vto
from .deps import Parts
from .errors import install_error_handlers
from .fetch import ImageFetcher
from .middleware import RequestCounter, RequestStats, SandboxMiddleware
from .settings import Faults, Settings
from .store import Store
from .webhooks import WebhookSender
from .worker import Worker

__all__ = ["create_app"]


def _build_parts(settings: Settings) -> Parts:
    """The store, worker, fetcher and the rest that one app owns."""
    store = Store(settings.data_dir)
    faults = Faults(job_seconds=None)
    webhooks = WebhookSender(settings)
    worker = Worker(store, settings, faults, webhooks)
    origins: set[str] = set()  # this server's own origins, filled in by the middleware
    fetcher = ImageFetcher(settings, lambda path: media.read_local(store, path), lambda: origins)
    return Parts(
        settings=settings,
        store=store,
        faults=faults,
        worker=worker,
        webhooks=webhooks,
        fetcher=fetcher,
        requests=RequestStats(),
        instance=settings.instance,
        origins=origins,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build a sandbox application.

    Args:
        settings: start-up settings; defaults keep state in memory, 4 s per job.

    Returns:
        The app; ``app.state.parts`` holds its store, worker and fault switches (and
        ``app.state.store`` etc. name the same objects, for tests).
    """
    parts = _build_parts(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts.worker.resume_unfinished()
        yield
        await parts.worker.close()
        await parts.fetcher.aclose()
        await parts.webhooks.aclose()
        parts.store.close()

    app = FastAPI(
        title="EcomViz sandbox",
        version=__version__,
        description="A local stand-in for the EcomViz API: same routes, images rendered "
        "locally with Pillow (not AI).",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
    )
    app.state.parts = parts
    for name in ("settings", "store", "faults", "worker", "webhooks", "origins", "requests"):
        setattr(app.state, name, getattr(parts, name))
    app.add_middleware(
        SandboxMiddleware,
        faults=parts.faults,
        max_body=parts.settings.max_body_bytes,
        origins=parts.origins,
    )
    # Outermost, so injected faults count too; it names requests by the /api/ route templates.
    api_routes = [*products.router.routes, *vto.router.routes]
    app.add_middleware(RequestCounter, stats=parts.requests, routes=api_routes)
    install_error_handlers(app, parts.faults)
    for module in (products, vto):
        app.include_router(module.router)
        app.webhooks.include_router(module.webhooks)
    app.include_router(media.router)
    app.include_router(control.router)
    return app
