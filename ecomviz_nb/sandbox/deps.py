"""What the routes are handed: the sandbox's parts, the bearer check, and fetched images."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPBearer
from PIL import Image

from .codec import ImageRejected, decode
from .errors import SandboxError
from .fetch import FetchError, ImageFetcher
from .middleware import RequestStats
from .settings import Faults, Settings
from .store import Store
from .webhooks import WebhookSender
from .worker import Worker

__all__ = ["API", "Parts", "PartsDep", "fetch_decoded", "new_id", "require_token"]


@dataclass(frozen=True)
class Parts:
    """Everything one sandbox app is made of; built once by ``create_app``.

    It lives on ``app.state.parts``; routes ask for it with the `PartsDep` annotation, so a
    router module holds no state of its own and serves any app it is included in.
    """

    settings: Settings
    store: Store
    faults: Faults
    worker: Worker
    webhooks: WebhookSender
    fetcher: ImageFetcher
    requests: RequestStats
    instance: str
    """``settings.instance``, reported by ``/_sandbox/health`` (tells two sandboxes apart)."""
    origins: set[str]
    """The origins this server was reached under; its own URLs are read, not fetched."""


def get_parts(request: Request) -> Parts:
    """The `Parts` of the app serving `request`."""
    parts: Parts = request.app.state.parts
    return parts


PartsDep = Annotated[Parts, Depends(get_parts)]
"""Annotate a route parameter with this to receive the app's `Parts`."""

# Declared so /openapi.json shows the bearer scheme; the check itself is require_token's.
_bearer = HTTPBearer(
    auto_error=False, description="Any non-empty token, unless the sandbox was started with --token"
)


async def require_token(
    request: Request, parts: PartsDep, _: Annotated[Any, Depends(_bearer)]
) -> None:
    """Refuse a request without ``Authorization: Bearer <token>`` (or with the wrong token).

    Raises:
        SandboxError: 401 with a message saying what the header must hold.
    """
    header = request.headers.get("authorization")
    if not header:
        raise SandboxError(401, "missing 'Authorization: Bearer <token>' header")
    scheme, _sep, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SandboxError(401, "the Authorization header must be 'Bearer <token>'")
    expected = parts.settings.token
    if expected is not None and not secrets.compare_digest(token.encode(), expected.encode()):
        raise SandboxError(401, "the token is not valid for this sandbox")


API: list[DependsParam] = [Depends(require_token)]
"""The dependencies of every ``/api/`` route."""


def new_id() -> str:
    """A new product or try-on id, in the shape of the API's ids (24 hex digits)."""
    return secrets.token_hex(12)


async def fetch_decoded(parts: Parts, url: str, field: str) -> tuple[bytes, Image.Image]:
    """Fetch an image URL of a request body and decode it in the render pool.

    Args:
        parts: the app's parts.
        url: the URL as sent.
        field: the body field it came from, named in the error (``imageUrls[0]``).

    Raises:
        SandboxError: 400 naming the field when the URL cannot be fetched or decoded.
    """
    try:
        data = await parts.fetcher.fetch(url)
    except FetchError as exc:
        raise SandboxError(400, f"{field}: {exc}") from None
    try:
        image = await parts.worker.run_in_pool(decode, data)
    except ImageRejected as exc:
        raise SandboxError(400, f"{field}: {url!r} is not a usable image: {exc}") from None
    return data, image
