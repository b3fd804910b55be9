"""``show_images``: image grids as self-contained HTML (inline thumbnails, CSS only), or ipyplot."""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

from PIL import Image

from .htmlkit import HTML, aspect_label, safe_css_color, shareable, uid
from .images import LARGE_SIZE, THUMB_SIZE, ImageStore, default_store
from .tiles import Item, Pic, caption_of, fetch_pics, grid_css, items_of, tabs_css, tile_html

__all__ = ["HTML", "aspect_label", "safe_css_color", "show_images"]

_ATTRS = ("image_type", "color", "platform", "region")
_CAPTURE = threading.Lock()


def _group_key(group_by: str | Callable[[Any], Any], item: Item, pic: Pic) -> str:
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


def show_images(
    images: Any,
    group_by: str | Callable[[Any], Any] | None = None,
    *,
    size: int = 160,
    layout: Literal["sections", "tabs"] = "sections",
    engine: Literal["html", "ipyplot"] = "html",
    large: bool = True,
    store: ImageStore | None = None,
    title: str | None = None,
) -> HTML:
    """A grid of thumbnails with captions (type and aspect ratio first, then colour, platform,
    region), which wrap under the tile rather than being cut.

    Every picture is fetched by the kernel and embedded once, as a 768 px JPEG data URI (about
    25 KB of notebook output for a sandbox picture), drawn at ``size`` px. Clicking a picture
    opens it at up to 768 px (or the width available), sharp; a second click closes it. It is
    a ``<details>`` element, no script, so it works alike in a cell's output and in a panel's
    ``ipywidgets.HTML``.

    Args:
        images: GeneratedImage objects, URLs, paths, bytes, PIL images, ``(source, caption)``
            tuples; or a Product (its generated images), a TryOnResult or a job (their images).
        group_by: None, an attribute (``"image_type"``, ``"color"``, ``"platform"``,
            ``"region"``, ``"aspect_ratio"``), a key of ``GeneratedImage.params``, or a
            function of each image.
        size: the tile's side in CSS pixels.
        layout: groups as ``"sections"`` (headed blocks) or ``"tabs"`` (CSS-only tabs).
        engine: ``"html"`` returns our markup; ``"ipyplot"`` feeds the same thumbnails and
            escaped captions to ipyplot. In a Jupyter kernel ipyplot displays them itself
            (about 13 KB per image as a notebook stores it: ipyplot emits its markup twice)
            and the return value is an empty :class:`HTML`; elsewhere ipyplot's markup is
            returned as :class:`HTML`.
        large: ``False`` embeds 256 px thumbnails instead (about 8 KB each), for grids of
            hundreds of pictures; a click then opens a picture at twice the tile's size.
            ``engine="ipyplot"`` always gets thumbnails (it has no enlarged view).
        store: where images come from; default :func:`~ecomviz_nb.images.default_store`.
        title: a heading above the grid.

    Returns:
        :class:`HTML` (empty with ``engine="ipyplot"`` in a kernel, which has displayed its
        own output).

    Raises:
        ValueError: a bad ``size``, ``layout``, ``engine`` or ``large``; TypeError: an unknown
            input.
    """
    if not (isinstance(size, int) and 24 <= size <= 1024):
        raise ValueError(f"size={size!r} must be a whole number of pixels from 24 to 1024")
    if layout not in ("sections", "tabs"):
        raise ValueError(f"layout={layout!r} must be 'sections' or 'tabs'")
    if engine not in ("html", "ipyplot"):
        raise ValueError(f"engine={engine!r} must be 'html' or 'ipyplot'")
    if not isinstance(large, bool):
        raise ValueError(f"large={large!r} must be True or False")
    items = items_of(images)
    opens = large and engine == "html"
    pixels = LARGE_SIZE if opens or size > THUMB_SIZE else THUMB_SIZE
    pics = fetch_pics(store or default_store(), items, pixels)
    groups: dict[str, list[int]] = {}
    for i, (item, pic) in enumerate(zip(items, pics, strict=True)):
        key = "" if group_by is None else _group_key(group_by, item, pic)
        groups.setdefault(key, []).append(i)
    tabbed = group_by is not None and layout == "tabs"
    if engine == "ipyplot":
        return _show_ipyplot(items, pics, groups, size, tabbed=tabbed) if items else HTML("")
    root = uid("grid")
    zoom = max(LARGE_SIZE, size) if opens else 2 * size
    css = grid_css(root, size, zoom)
    head = f'<div class="ev-title">{shareable(title)}</div>' if title else ""
    if not items:
        return HTML(f'<div class="{root}"><style>{css}</style>{head}<i>no images</i></div>')

    def grid(indexes: list[int]) -> str:
        tiles = "".join(tile_html(items[i], pics[i], size, i, zoom=zoom) for i in indexes)
        return f'<div class="ev-g">{tiles}</div>'

    what = (group_by if isinstance(group_by, str) else "group").replace("_", " ")
    if group_by is None:
        body = grid(groups[""])
    elif not tabbed:
        body = "".join(
            f'<div class="ev-h">{shareable(key)}<small>{shareable(what)} · {len(ix)}</small></div>'
            + grid(ix)
            for key, ix in groups.items()
        )
    else:
        css += tabs_css(root, len(groups))
        tabs = "".join(
            f'<input type="radio" name="{root}" id="{root}-{n}"{" checked" if n == 0 else ""}>'
            f'<label for="{root}-{n}">{shareable(key)}<small>{len(ix)}</small></label>'
            for n, (key, ix) in enumerate(groups.items())
        )
        panels = "".join(
            f'<div class="ev-p ev-p{n}">{grid(ix)}</div>' for n, ix in enumerate(groups.values())
        )
        body = tabs + panels
    return HTML(f'<div class="{root}"><style>{css}</style>{head}{body}</div>')


# ---------------------------------------------------------------- the ipyplot engine


@functools.cache
def _placeholder_uri() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (228, 228, 231)).save(out, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _in_kernel() -> bool:
    """True inside a Jupyter kernel, where ``display()`` reaches a front end."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


class _Output:
    """Where ipyplot's markup goes: displayed in a kernel, else kept in ``parts``."""

    def __init__(self, *, live: bool) -> None:
        self.live = live
        self.parts: list[str] = []

    def show(self, markup: str) -> None:
        if not self.live:
            self.parts.append(markup)
            return
        from IPython.display import HTML as IPythonHTML
        from IPython.display import display

        display(IPythonHTML(markup))

    def keep(self, shown: Any) -> None:
        self.parts.append(str(getattr(shown, "data", None) or ""))


@contextlib.contextmanager
def _ipyplot_output() -> Iterator[_Output]:
    """Outside a kernel ipyplot's ``display()`` would print ``<IPython...HTML object>``: its
    display hook is pointed at the output for the duration, so the markup is returned."""
    out = _Output(live=_in_kernel())
    if out.live:
        yield out
        return
    from ipyplot import _html_helpers  # ipyplot displays through this module's name

    with _CAPTURE:
        original = _html_helpers.display
        _html_helpers.display = out.keep
        try:
            yield out
        finally:
            _html_helpers.display = original


def _show_ipyplot(
    items: list[Item], pics: list[Pic], groups: dict[str, list[int]], size: int, *, tabbed: bool
) -> HTML:
    """Hand our thumbnails and escaped captions to ipyplot (it escapes nothing itself)."""
    import ipyplot  # lazily: it imports IPython and numpy

    uris = [pic.uri or _placeholder_uri() for pic in pics]
    heads, texts = [], []
    for i, (item, pic) in enumerate(zip(items, pics, strict=True)):
        first, second, _ = caption_of(item, pic, i)
        heads.append(first)
        texts.append(second or (shareable(pic.error) if not pic.uri else ""))
    keys = [shareable(key) for key in groups]
    with _ipyplot_output() as out:
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
        else:
            for key, ix in zip(keys, groups.values(), strict=True):
                if key:
                    out.show(f"<b>{key}</b> ({len(ix)})")
                ipyplot.plot_images(
                    [uris[i] for i in ix],
                    [heads[i] for i in ix],
                    [texts[i] for i in ix],
                    max_images=len(ix),
                    img_width=size,
                    show_url=False,
                )
    return HTML("".join(out.parts))
