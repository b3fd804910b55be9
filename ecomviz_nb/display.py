"""Image grids and comparisons as self-contained HTML: inline thumbnails, CSS only, no scripts."""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import os
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from .images import LARGE_SIZE, THUMB_SIZE, ImageError, ImageSource, ImageStore, default_store
from .models import GeneratedImage, Product, TryOnResult

__all__ = ["HTML", "aspect_label", "safe_css_color", "show_images"]

COMMON_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "2:3", "3:2", "21:9", "9:21")
"""Ratios a caption snaps to when the pixel size is within 5 % of one."""
_ATTRS = ("image_type", "color", "platform", "region")
# No double quotes: the slider's labels use it inside a style="..." attribute.
_FONT = "font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328"


class HTML(str):
    """Markup that Jupyter renders and plain Python treats as a string.

    ``print(html)`` or ``str(html)`` give the markup; :meth:`save` writes a standalone page.
    """

    __slots__ = ()

    def _repr_html_(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __repr__(self) -> str:
        return f"<ecomviz_nb HTML: {self.count('<img ')} images, {len(self) / 1024:.0f} KB>"

    def save(self, path: str | os.PathLike[str], *, title: str = "ecomviz_nb") -> Path:
        """Write a standalone HTML page holding this markup; returns the path."""
        page = (
            f'<!doctype html><html><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f'</head><body style="margin:24px">{self}</body></html>'
        )
        out = Path(path)
        out.write_text(page, encoding="utf-8")
        return out


# ---------------------------------------------------------------- small helpers


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _uid(kind: str) -> str:
    return f"ev-{kind}-{uuid.uuid4().hex[:8]}"


def safe_css_color(value: object) -> str | None:
    """The value if it can go into CSS as is (a plain colour word or ``#hex``), else None."""
    if isinstance(value, str) and (
        re.fullmatch(r"[a-zA-Z]{1,20}", value) or re.fullmatch(r"#[0-9a-fA-F]{3,8}", value)
    ):
        return value
    return None


def _swatch(color: object, rgb: object = None) -> str:
    """A colour dot; grey (from the stylesheet) unless the colour is provably safe CSS."""
    if (
        isinstance(rgb, (list, tuple))
        and len(rgb) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb)
    ):
        return f'<i class="ev-sw" style="background:rgb({rgb[0]},{rgb[1]},{rgb[2]})"></i>'
    css = safe_css_color(color)
    if css is None:
        return '<i class="ev-sw"></i>'
    # An unknown colour word is an invalid declaration: the browser keeps the grey before it.
    return f'<i class="ev-sw" style="background:#d4d4d8;background:{css}"></i>'


def aspect_label(width: int, height: int) -> str:
    """``"16:9"`` for a 256x144 thumbnail: the nearest common ratio (within 5 %), else a
    simple fraction (``"2:1"``, ``"5:4"``, within 1.5 %), else ``"2.41:1"``."""
    if width <= 0 or height <= 0:
        return "?"
    ratio = width / height
    best = min(COMMON_RATIOS, key=lambda r: abs(math.log(ratio / _ratio(r))))
    if abs(math.log(ratio / _ratio(best))) <= math.log(1.05):
        return best
    for denominator in range(1, 6):
        numerator = round(ratio * denominator)
        if numerator and abs(math.log(ratio * denominator / numerator)) <= math.log(1.015):
            return f"{numerator}:{denominator}"
    return f"{ratio:.2f}:1" if ratio >= 1 else f"1:{1 / ratio:.2f}"


def _ratio(label: str) -> float:
    w, h = label.split(":")
    return int(w) / int(h)


def _jpeg_size(uri: str) -> tuple[int, int]:
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


def _fit(width: int, height: int, box: int) -> tuple[int, int]:
    scale = box / max(width, height, 1)
    return max(1, round(width * scale)), max(1, round(height * scale))


# ---------------------------------------------------------------- what to show


@dataclass
class _Item:
    source: ImageSource | None
    image: GeneratedImage | None = None
    caption: str | None = None
    origin: object = None


@dataclass
class _Pic:
    uri: str | None
    width: int = 0
    height: int = 0
    error: str = ""


def _items(images: Any) -> list[_Item]:
    """Normalise what a caller passes into one item per picture."""
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
    return [_item(entry) for entry in images]


def _item(entry: Any, caption: str | None = None) -> _Item:
    if isinstance(entry, tuple) and len(entry) == 2 and caption is None:
        return _item(entry[0], str(entry[1]))
    if isinstance(entry, GeneratedImage):
        return _Item(entry.url or None, entry, caption, entry)
    if isinstance(entry, (str, bytes, os.PathLike, Image.Image)):
        return _Item(entry, None, caption, entry)
    raise TypeError(
        "an image is a GeneratedImage, a URL or path, bytes, a PIL image or a (source, caption) "
        f"tuple, not {type(entry).__name__}"
    )


def _fetch(store: ImageStore, items: Sequence[_Item], size: int) -> list[_Pic]:
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
                pics.append(_Pic(got, *_jpeg_size(got)))
                continue
            except Exception as exc:
                got = exc
        pics.append(_Pic(None, error=str(got) or type(got).__name__))
    return pics


def _label(item: _Item, index: int) -> str:
    """A short plain-text name for a picture without metadata."""
    if item.caption is not None:
        return item.caption
    if isinstance(item.source, (str, os.PathLike)):
        name = os.fspath(item.source).rstrip("/").rsplit("/", 1)[-1]
        return name.split("?", 1)[0] or f"image {index + 1}"
    return f"image {index + 1}"


def _caption(item: _Item, pic: _Pic, index: int) -> tuple[str, str, str]:
    """(first line, second line, hover title) of a tile, all escaped."""
    img = item.image
    ratio = aspect_label(pic.width, pic.height) if pic.uri else ""
    head = item.caption if item.caption is not None else (img and img.image_type)
    first = f"<b>{_esc(head or _label(item, index))}</b>" + (f" · {ratio}" if ratio else "")
    second, title = "", _esc(_label(item, index))
    if img is not None:
        parts = [f"{_swatch(img.color)}{_esc(img.color)}"] if img.color else []
        parts += [_esc(v) for v in (img.platform, img.region) if v]
        second = " · ".join(parts)
        title = _esc(", ".join(f"{k}: {v}" for k, v in img.params.items())[:300] or title)
    return first, second, title


def _tile(item: _Item, pic: _Pic, size: int, index: int, *, details: bool = True) -> str:
    first, second, title = _caption(item, pic, index)
    second = second if details else ""
    if pic.uri:
        w, h = _fit(pic.width, pic.height, size)
        alt = _esc(item.caption or (item.image and item.image.image_type) or "image")
        media = f'<img src="{pic.uri}" width="{w}" height="{h}" alt="{alt}">'
    else:
        media = f'<span class="ev-x">image unavailable<small>{_esc(pic.error)}</small></span>'
    lines = f"<span>{first}</span>" + (f"<span>{second}</span>" if second else "")
    return (
        f'<details class="ev-t"><summary title="{title}"><span class="ev-f">{media}</span>'
        f'<span class="ev-c">{lines}</span></summary></details>'
    )


def _base_css(r: str) -> str:
    """Font, colour swatches and the placeholder box, for the element matching selector ``r``."""
    return (
        f"{r}{{{_FONT}}}{r} .ev-sw{{display:inline-block;width:10px;height:10px;"
        f"border-radius:50%;background:#d4d4d8;box-shadow:inset 0 0 0 1px rgba(0,0,0,.18);"
        f"margin-right:4px;vertical-align:-1px}}{r} .ev-x{{display:flex;flex-direction:column;"
        f"justify-content:center;gap:4px;padding:10px;color:#9a3412;font-size:12px;"
        f"text-align:center;overflow-wrap:anywhere;box-sizing:border-box}}"
        f"{r} .ev-x small{{color:#57606a;font-size:11px}}"
    )


def _grid_css(root: str, size: int, zoom: int) -> str:
    """Tiles of ``size`` px that open to ``zoom`` px when clicked (a <details> element)."""
    r = f".{root}"
    return _base_css(r) + (
        f"{r} .ev-g{{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}}"
        f"{r} .ev-t{{width:{size}px;margin:0}}{r} .ev-t[open]{{width:{zoom}px}}"
        f"{r} .ev-t summary{{display:block;list-style:none;cursor:zoom-in}}"
        f"{r} .ev-t summary::-webkit-details-marker{{display:none}}"
        f"{r} .ev-t[open] summary{{cursor:zoom-out}}"
        f"{r} .ev-f{{display:flex;align-items:center;justify-content:center;width:{size}px;"
        f"height:{size}px;background:#f4f4f5;border:1px solid #e4e4e7;border-radius:8px;"
        f"overflow:hidden;box-sizing:border-box}}"
        f"{r} .ev-t[open] .ev-f{{width:{zoom}px;height:{zoom}px}}"
        f"{r} .ev-f img{{display:block;max-width:100%;max-height:100%;margin:0}}"
        f"{r} .ev-t[open] .ev-f img{{width:100%;height:100%;object-fit:contain}}"
        f"{r} .ev-c{{display:block;padding:6px 2px 0;font-size:12px;color:#57606a}}"
        f"{r} .ev-c>span{{display:block;overflow:hidden;white-space:nowrap;"
        f"text-overflow:ellipsis}}{r} .ev-c b{{color:#1f2328;font-weight:600}}"
        f"{r} .ev-h{{font-size:14px;font-weight:600;margin:14px 0 8px}}"
        f"{r} .ev-h small,{r}>label small{{font-weight:400;color:#57606a;margin-left:6px}}"
        f"{r} .ev-title{{font-size:16px;font-weight:600;margin:0 0 6px}}"
    )


def _tabs_css(root: str, count: int) -> str:
    r = f".{root}"
    shown = ",".join(f"#{root}-{i}:checked~.ev-p{i}" for i in range(count))
    return (
        f"{r}>input{{position:absolute;opacity:0;pointer-events:none}}"
        f"{r}>label{{display:inline-block;padding:6px 14px;margin:0 2px -1px 0;cursor:pointer;"
        f"border:1px solid transparent;border-radius:8px 8px 0 0;color:#57606a;font-weight:500}}"
        f"{r}>input:checked+label{{background:#fff;border-color:#d0d7de #d0d7de #fff;"
        f"color:#1f2328}}{r}>input:focus-visible+label{{outline:2px solid #0969da}}"
        f"{r}>.ev-p{{display:none;border-top:1px solid #d0d7de;padding-top:14px}}"
        f"{shown}{{display:block}}"
    )


def _group_key(group_by: str | Callable[[Any], Any], item: _Item, pic: _Pic) -> str:
    if callable(group_by):
        value = group_by(item.origin)
    elif group_by == "aspect_ratio":
        value = aspect_label(pic.width, pic.height) if pic.uri else None
    elif item.image is None:
        value = None
    elif group_by in _ATTRS:
        value = getattr(item.image, group_by)
    else:
        value = item.image.params.get(group_by)
    return "(none)" if value is None or value == "" else str(value)


# ---------------------------------------------------------------- grids


def show_images(
    images: Any,
    group_by: str | Callable[[Any], Any] | None = None,
    *,
    size: int = 160,
    layout: Literal["sections", "tabs"] = "sections",
    engine: Literal["html", "ipyplot"] = "html",
    large: bool = False,
    store: ImageStore | None = None,
    title: str | None = None,
) -> HTML:
    """A grid of thumbnails with captions (type, colour, aspect ratio, platform).

    Every picture is fetched by the kernel and embedded as a 256 px JPEG data URI (about 6 KB
    of notebook output each). Clicking a thumbnail shows it twice as large, without scripts.

    Args:
        images: GeneratedImage objects, URLs, paths, bytes, PIL images, ``(source, caption)``
            tuples; or a Product (its generated images), a TryOnResult or a job (their images).
        group_by: None, an attribute (``"image_type"``, ``"color"``, ``"platform"``,
            ``"region"``, ``"aspect_ratio"``), a key of ``GeneratedImage.params``, or a
            function of each image.
        size: the tile's side in CSS pixels.
        layout: groups as ``"sections"`` (headed blocks) or ``"tabs"`` (CSS-only tabs).
        engine: ``"html"`` returns our markup; ``"ipyplot"`` feeds the same thumbnails and
            escaped captions to ipyplot, which displays them itself (about 13 KB per image as
            a notebook stores it: ipyplot emits its markup twice); the return value is then
            an empty :class:`HTML`.
        large: embed 768 px versions, so the opened view is sharp (about 6x the bytes).
        store: where images come from; default :func:`~ecomviz_nb.images.default_store`.
        title: a heading above the grid.

    Returns:
        :class:`HTML` (empty with ``engine="ipyplot"``, which has displayed its own output).

    Raises:
        ValueError: a bad ``size``, ``layout`` or ``engine``; TypeError: an unknown input.
    """
    if not (isinstance(size, int) and 24 <= size <= 1024):
        raise ValueError(f"size={size!r} must be a whole number of pixels from 24 to 1024")
    if layout not in ("sections", "tabs"):
        raise ValueError(f"layout={layout!r} must be 'sections' or 'tabs'")
    if engine not in ("html", "ipyplot"):
        raise ValueError(f"engine={engine!r} must be 'html' or 'ipyplot'")
    items = _items(images)
    pixels = LARGE_SIZE if large or size > THUMB_SIZE else THUMB_SIZE
    pics = _fetch(store or default_store(), items, pixels)
    groups: dict[str, list[int]] = {}
    for i, (item, pic) in enumerate(zip(items, pics, strict=True)):
        key = "" if group_by is None else _group_key(group_by, item, pic)
        groups.setdefault(key, []).append(i)
    tabbed = group_by is not None and layout == "tabs"
    if engine == "ipyplot":
        if items:
            _show_ipyplot(items, pics, groups, size, tabbed=tabbed)
        return HTML("")
    root = _uid("grid")
    zoom = min(LARGE_SIZE, 2 * size) if large else 2 * size
    css = _grid_css(root, size, zoom)
    head = f'<div class="ev-title">{_esc(title)}</div>' if title else ""
    if not items:
        return HTML(f'<div class="{root}"><style>{css}</style>{head}<i>no images</i></div>')

    def grid(indexes: list[int]) -> str:
        tiles = "".join(_tile(items[i], pics[i], size, i) for i in indexes)
        return f'<div class="ev-g">{tiles}</div>'

    what = (group_by if isinstance(group_by, str) else "group").replace("_", " ")
    if group_by is None:
        body = grid(groups[""])
    elif not tabbed:
        body = "".join(
            f'<div class="ev-h">{_esc(key)}<small>{_esc(what)} · {len(ix)}</small></div>' + grid(ix)
            for key, ix in groups.items()
        )
    else:
        css += _tabs_css(root, len(groups))
        tabs = "".join(
            f'<input type="radio" name="{root}" id="{root}-{n}"{" checked" if n == 0 else ""}>'
            f'<label for="{root}-{n}">{_esc(key)}<small>{len(ix)}</small></label>'
            for n, (key, ix) in enumerate(groups.items())
        )
        panels = "".join(
            f'<div class="ev-p ev-p{n}">{grid(ix)}</div>' for n, ix in enumerate(groups.values())
        )
        body = tabs + panels
    return HTML(f'<div class="{root}"><style>{css}</style>{head}{body}</div>')


@functools.cache
def _placeholder_uri() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (228, 228, 231)).save(out, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _show_ipyplot(
    items: list[_Item], pics: list[_Pic], groups: dict[str, list[int]], size: int, *, tabbed: bool
) -> None:
    """Hand our thumbnails and escaped captions to ipyplot (it displays, and escapes nothing)."""
    import ipyplot  # lazily: it imports IPython and numpy

    uris = [pic.uri or _placeholder_uri() for pic in pics]
    heads, texts = [], []
    for i, (item, pic) in enumerate(zip(items, pics, strict=True)):
        first, second, _ = _caption(item, pic, i)
        heads.append(first)
        texts.append(second or (_esc(pic.error) if not pic.uri else ""))
    keys = [_esc(key) for key in groups]
    if tabbed:
        labels = [""] * len(items)
        for key, ix in zip(keys, groups.values(), strict=True):
            for i in ix:
                labels[i] = key
        ipyplot.plot_class_tabs(
            uris,
            labels,
            custom_texts=[f"{head}<br>{text}" for head, text in zip(heads, texts, strict=True)],
            max_imgs_per_tab=max(map(len, groups.values())),
            img_width=size,
            show_url=False,
            tabs_order=keys,
        )
        return
    from IPython.display import HTML as IPythonHTML
    from IPython.display import display

    for key, ix in zip(keys, groups.values(), strict=True):
        if key:
            display(IPythonHTML(f"<b>{key}</b> ({len(ix)})"))
        ipyplot.plot_images(
            [uris[i] for i in ix],
            [heads[i] for i in ix],
            [texts[i] for i in ix],
            max_images=len(ix),
            img_width=size,
            show_url=False,
        )
