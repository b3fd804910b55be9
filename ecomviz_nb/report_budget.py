"""How big a report's pictures may be: each embedded twice, shrunk until it fits its budget."""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from PIL import Image

from . import images

__all__ = ["LARGE_BUDGET", "THUMB_BUDGET", "EmbeddedPic", "PictureCache", "embed", "fitted"]

THUMB_BUDGET = 20_000
"""Most bytes of one embedded thumbnail: its JPEG quality drops until it fits."""
LARGE_BUDGET = 52_000
"""Most bytes of one embedded larger view, so that a 20-image report stays under 2 MB."""
QUALITIES = (72, 62, 52, 42, 34)
"""JPEG qualities tried in turn, best first."""


class EmbeddedPic(NamedTuple):
    """A picture as a report holds it: thumbnail and larger view as data URIs, or an error."""

    thumb: str | None = None
    large: str | None = None
    width: int = 0
    """Of the thumbnail, in pixels."""
    height: int = 0
    error: str = "no image URL"


def fitted(data: bytes, size: int, budget: int) -> bytes:
    """A JPEG of at most ``size`` px at the best quality that stays within ``budget`` bytes.

    A picture too busy to fit at the lowest quality is shrunk by a quarter and tried again
    (down to 128 px, where it is kept whatever its size).
    """
    for quality in QUALITIES:
        out = images.thumbnail_bytes(data, size, quality=quality)
        if len(out) <= budget:
            return out
    return out if size < 128 else fitted(data, size * 3 // 4, budget)


def embed(store: images.ImageStore, source: images.ImageSource) -> EmbeddedPic:
    """A picture's thumbnail and larger view as data URIs; a failure becomes a placeholder."""
    try:
        thumb = store.thumbnail(source, images.THUMB_SIZE)
        if len(thumb) > THUMB_BUDGET:
            thumb = fitted(store.original(source), images.THUMB_SIZE, THUMB_BUDGET)
        large = fitted(store.original(source), images.LARGE_SIZE, LARGE_BUDGET)
        with Image.open(io.BytesIO(thumb)) as opened:
            width, height = opened.size
    except Exception as exc:  # one bad picture must not sink the report
        return EmbeddedPic(error=str(exc) or type(exc).__name__)
    return EmbeddedPic(images.data_uri(thumb), images.data_uri(large), width, height, "")


class PictureCache:
    """A report's pictures, each fetched and shrunk once however often the report shows it."""

    def __init__(self) -> None:
        self._pics: dict[str, EmbeddedPic] = {}

    def fetch(
        self, store: images.ImageStore, sources: Sequence[images.ImageSource | None]
    ) -> list[EmbeddedPic]:
        """Pictures for the sources, in order, fetched in parallel; None gives a placeholder."""
        keys = [store.key(s) if s is not None else "" for s in sources]
        todo = {
            k: s
            for k, s in zip(keys, sources, strict=True)
            if s is not None and k and k not in self._pics
        }
        if todo:
            with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
                found = pool.map(lambda source: embed(store, source), todo.values())
                self._pics.update(zip(todo, found, strict=True))
        return [self._pics[k] if k else EmbeddedPic() for k in keys]
