"""Image files the sandbox serves: uploads and renders under ``/files/``, and its samples."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import samples
from .codec import file_type
from .deps import PartsDep
from .errors import SandboxError
from .store import Store

__all__ = ["read_local", "router", "store_upload"]

router = APIRouter()
"""``GET /files/…``, ``GET /samples/…`` and ``GET /_sandbox/samples`` (none in the schema)."""

# A stored path is never rewritten (each holds a fresh id), so browsers may keep what they got.
_CACHED = {"Cache-Control": "public, max-age=86400"}


def store_upload(store: Store, stem: str, data: bytes) -> str:
    """Store fetched image bytes as ``stem`` plus the extension their format calls for.

    Returns:
        The stored path (``files/…``), also the path the file is served under.
    """
    ext, content_type = file_type(data)
    path = f"{stem}.{ext}"
    store.put_file(path, data, content_type)
    return path


def read_local(store: Store, path: str) -> bytes | None:
    """The bytes behind a URL path of this sandbox (``/samples/…`` or ``/files/…``), if any.

    The fetcher reads these directly instead of making the server request itself.
    """
    if path.startswith("/samples/"):
        try:
            return samples.sample_bytes(path[len("/samples/") :])
        except KeyError:
            return None
    if path.startswith("/files/"):
        found = store.get_file(path.lstrip("/"))
        return None if found is None else found[0]
    return None


@router.get("/files/{path:path}", include_in_schema=False)
async def get_file(path: str, parts: PartsDep) -> Response:
    """A stored upload or generated image."""
    found = parts.store.get_file("files/" + path)
    if found is None:
        raise SandboxError(404, f"no file {path[:200]!r}")
    return Response(found[0], media_type=found[1], headers=_CACHED)


@router.get("/samples/{name:path}", include_in_schema=False)
async def get_sample(name: str) -> Response:
    """A bundled sample photo (drawn once, kept in memory)."""
    try:
        data = samples.sample_bytes(name)
    except KeyError:
        raise SandboxError(404, f"no sample {name[:200]!r}; see /_sandbox/samples") from None
    return Response(data, media_type=samples.sample_content_type(name), headers=_CACHED)


@router.get("/_sandbox/samples", include_in_schema=False)
async def list_samples(request: Request) -> dict[str, Any]:
    """The sample photos, by name, with their absolute URLs on this server."""
    base = str(request.base_url).rstrip("/")
    return {"samples": {name: f"{base}/samples/{name}" for name in samples.SAMPLE_NAMES}}
