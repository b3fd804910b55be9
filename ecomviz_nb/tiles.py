"""Pictures as tiles: what a caller's images are, their data URIs, captions and tile markup."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .htmlkit import (
    ACCENT,
    BG,
    BG_SOFT,
    BORDER,
    BORDER_SOFT,
    FG,
    FG_MUTED,
    aspect_label,
    base_css,
    fit,
    mask_local,
    placeholder,
    shareable,
    swatch,
)
from .images import ImageError, ImageSource, ImageStore
from .models import GeneratedImage, Product, TryOnResult

__all__ = [
    "Item",
    "Pic",
    "caption_of",
    "data_uri_size",
    "fetch_pics",
    "grid_css",
    "item_of",
    "items_of",
    "label_of",
    "tabs_css",
    "tile_html",
]


@dataclass
class Item:
    """One picture to show: where it comes from, its metadata if any, and a caption."""

    source: ImageSource | None
    image: GeneratedImage | None = None
    caption: str | None = None
    origin: object = None
    """What the caller passed (handed to a ``group_by`` function)."""


@dataclass
class Pic:
    """A fetched picture: its data URI and pixel size, or why it could not be had."""

    uri: str | None
    width: int = 0
    height: int = 0
    error: str = ""


def items_of(images: Any) -> list[Item]:
    """Normalise what a caller passes (a Product, a TryOnResult, a job, one image or a list of
    them) into one item per picture.

    Raises:
        TypeError: something that holds no images.
    """
    if isinstance(images, Product):
        images = images.generated_images
    elif isinstance(images, TryOnResult):
        images = images.images
    elif isinstance(images, (str, bytes, os.PathLike, GeneratedImage, Image.Image)):
        images = [images]
    elif not isinstance(images, Sequence) and isinstance(getattr(images, "images", None), list):
        images = images.images  # a job or a progress event
    if not isinstance(images, Sequence) and not hasattr(images, "__iter__"):
        raise TypeError(f"expected images, a Product or a TryOnResult, not {type(images).__name__}")
    return [item_of(entry) for entry in images]


def item_of(entry: Any, caption: str | None = None) -> Item:
    """One picture: a GeneratedImage, a URL or path, bytes, a PIL image or ``(source, caption)``.

    Raises:
        TypeError: anything else.
    """
    if isinstance(entry, tuple) and len(entry) == 2 and caption is None:
        return item_of(entry[0], str(entry[1]))
    if isinstance(entry, GeneratedImage):
        return Item(entry.url or None, entry, caption, entry)
    if isinstance(entry, (str, bytes, os.PathLike, Image.Image)):
        return Item(entry, None, caption, entry)
    raise TypeError(
        "an image is a GeneratedImage, a URL or path, bytes, a PIL image or a (source, caption) "
        f"tuple, not {type(entry).__name__}"
    )


def data_uri_size(uri: str) -> tuple[int, int]:
    """Pixel size of a JPEG data URI, read from its frame header (a few hundred bytes)."""
    payload = uri.partition(",")[2]
    head = payload[:8192]
    data = base64.b64decode(head[: len(head) // 4 * 4])
    i = 2
    while i + 9 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            return int.from_bytes(data[i + 7 : i + 9], "big"), height
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    with Image.open(io.BytesIO(base64.b64decode(payload))) as image:  # unusual layout
        size: tuple[int, int] = image.size
    return size


def fetch_pics(store: ImageStore, items: Sequence[Item], size: int) -> list[Pic]:
    """Data URIs for the items, fetched in parallel; a failure becomes a placeholder."""
    sources = [it.source for it in items if it.source is not None]
    try:
        found: list[str | ImageError | Exception] = list(store.data_uris(sources, size))
    except Exception:  # one odd source must not sink the rest: retry one by one
        found = []
        for source in sources:
            try:
                found.append(store.data_uri(source, size))
            except Exception as exc:
                found.append(exc)
    results = iter(found)
    pics = []
    for it in items:
        got = next(results) if it.source is not None else ImageError("no image URL")
        if isinstance(got, str):
            try:
                pics.append(Pic(got, *data_uri_size(got)))
                continue
            except Exception as exc:
                got = exc
        pics.append(Pic(None, error=str(got) or type(got).__name__))
    return pics


def label_of(item: Item, index: int) -> str:
    """A short plain-text name for a picture without metadata (not escaped; show it through
    :func:`~ecomviz_nb.htmlkit.shareable`, which masks a local server's origin)."""
    if item.caption is not None:
        return item.caption
    if isinstance(item.source, (str, os.PathLike)):
        text = os.fspath(item.source).rstrip("/")
        name = text.rsplit("/", 1)[-1]
        if "://" in text and text.partition("://")[2] == name:  # a bare origin: all, masked
            return text
        return name.split("?", 1)[0] or f"image {index + 1}"
    return f"image {index + 1}"


def caption_of(item: Item, pic: Pic, index: int) -> tuple[str, str, str]:
    """(first line, second line, hover title) of a picture, all escaped, local servers masked.

    The first line starts with what is being explored: the image type (or the caller's caption,
    or the file name) in bold, then the aspect ratio, then a caller's caption if there is a
    type too: ``main · 1:1 · result 1``. The second: colour, platform, region.
    """
    img = item.image
    ratio = aspect_label(pic.width, pic.height) if pic.uri else ""
    kind = img.image_type if img is not None and img.image_type else None
    head = kind if kind else (item.caption if item.caption is not None else label_of(item, index))
    parts = [f"<b>{shareable(head)}</b>"] + ([ratio] if ratio else [])
    if kind and item.caption is not None:
        parts.append(shareable(item.caption))
    first = " · ".join(parts)
    second, title = "", shareable(label_of(item, index))
    if img is not None:
        more = [f"{swatch(img.color)}{shareable(img.color)}"] if img.color else []
        more += [shareable(v) for v in (img.platform, img.region) if v]
        second = " · ".join(more)
        params = ", ".join(f"{k}: {v}" for k, v in img.params.items())
        # Masked before it is cut: a cut could leave half an address the mask cannot read.
        title = shareable(mask_local(params)[:300]) if params else title
    return first, second, title


def tile_html(
    item: Item, pic: Pic, size: int, index: int, *, details: bool = True, zoom: int = 0
) -> str:
    """A ``size`` px tile, captioned below, that a click opens to ``zoom`` px (CSS only).

    The tile is a ``<details>`` element: its one ``<img>`` (the embedded picture) is drawn
    within ``size`` px while closed and within ``zoom`` px (and the width available) while
    open, so the open view is as sharp as the data URI is large. A second click closes it.
    The sizes come from :func:`grid_css`; ``zoom`` here only sets the open picture's box.

    Args:
        details: show the second caption line (colour, platform, region).
        zoom: the longest side of the open picture, px (default ``2 * size``).
    """
    first, second, title = caption_of(item, pic, index)
    second = second if details else ""
    if pic.uri:
        w, h = fit(pic.width, pic.height, size)
        zw, _ = fit(pic.width, pic.height, max(zoom or 2 * size, size))
        alt = shareable(item.caption or (item.image and item.image.image_type) or "image")
        opened = f"--ev-zw:{zw}px"
        media = f'<img src="{pic.uri}" width="{w}" height="{h}" alt="{alt}" style="{opened}">'
    else:
        media = placeholder(pic.error)
    lines = f"<span>{first}</span>" + (f"<span>{second}</span>" if second else "")
    return (
        f'<details class="ev-t"><summary title="{title}"><span class="ev-f">{media}</span>'
        f'<span class="ev-c">{lines}</span></summary></details>'
    )


def grid_css(root: str, size: int, zoom: int) -> str:
    """Tiles of ``size`` px whose picture opens up to ``zoom`` px when clicked (a <details>
    element, no script); captions wrap under the tile, never cut."""
    r = f".{root}"
    return base_css(r) + (
        f"{r} .ev-g{{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}}"
        f"{r} .ev-t{{width:{size}px;margin:0}}"
        f"{r} .ev-t[open]{{width:auto;max-width:min(100%,{max(zoom, size)}px)}}"
        f"{r} .ev-t summary{{display:block;list-style:none;cursor:zoom-in}}"
        f"{r} .ev-t summary::-webkit-details-marker{{display:none}}"
        f"{r} .ev-t[open] summary{{cursor:zoom-out}}"
        f"{r} .ev-f{{display:flex;align-items:center;justify-content:center;width:{size}px;"
        f"height:{size}px;background:{BG_SOFT};border:1px solid {BORDER_SOFT};border-radius:8px;"
        f"overflow:hidden;box-sizing:border-box}}"
        f"{r} .ev-t[open] .ev-f{{width:auto;height:auto;max-width:100%}}"
        f"{r} .ev-f>.ev-x{{width:100%;height:100%;border-radius:7px}}"
        f"{r} .ev-f img{{display:block;max-width:100%;max-height:100%;margin:0}}"
        f"{r} .ev-t[open] .ev-f img{{width:var(--ev-zw,{zoom}px);height:auto;max-height:none}}"
        f"{r} .ev-c{{display:block;padding:6px 2px 0;font-size:12px;color:{FG_MUTED};"
        f"overflow-wrap:anywhere}}"
        f"{r} .ev-c>span{{display:block}}{r} .ev-c b{{color:{FG};font-weight:600}}"
        f"{r} .ev-h{{font-size:14px;font-weight:600;margin:14px 0 8px}}"
        f"{r} .ev-h small,{r}>label small{{font-weight:400;color:{FG_MUTED};margin-left:6px}}"
        f"{r} .ev-title{{font-size:16px;font-weight:600;margin:0 0 6px}}"
    )


def tabs_css(root: str, count: int) -> str:
    """CSS-only tabs: ``count`` radio buttons named ``root`` that each show one panel."""
    r = f".{root}"
    shown = ",".join(f"#{root}-{i}:checked~.ev-p{i}" for i in range(count))
    return (
        f"{r}>input{{position:absolute;opacity:0;pointer-events:none}}"
        f"{r}>label{{display:inline-block;padding:6px 14px;margin:0 2px -1px 0;cursor:pointer;"
        f"border:1px solid transparent;border-radius:8px 8px 0 0;color:{FG_MUTED};"
        f"font-weight:500}}{r}>input:checked+label{{background:{BG};border-color:{BORDER};"
        f"border-bottom-color:{BG};color:{FG}}}"
        f"{r}>input:focus-visible+label{{outline:2px solid {ACCENT}}}"
        f"{r}>.ev-p{{display:none;border-top:1px solid {BORDER};padding-top:14px}}"
        f"{shown}{{display:block}}"
    )
