"""Side-by-side and before/after comparisons of source and generated images."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw

from .htmlkit import (
    BG_SOFT,
    BORDER,
    BORDER_SOFT,
    FG,
    FG_MUTED,
    FONT,
    HTML,
    aspect_label,
    base_css,
    figure,
    mask_local,
    placeholder,
    shareable,
    uid,
)
from .images import LARGE_SIZE, ImageError, ImageStore, default_store
from .models import GeneratedImage, Product
from .tiles import Item, Pic, caption_of, fetch_pics, item_of, items_of, label_of

__all__ = ["SliderComparison", "compare", "compare_product", "compare_slider"]


def _sharp(store: ImageStore, items: Sequence[Item]) -> list[Pic]:
    """The pictures at 768 px: sharp at any height, and what a click opens (embedded once)."""
    return fetch_pics(store, items, LARGE_SIZE)


def _figure(pic: Pic, alt: str, height: int, label: str, second: str = "") -> str:
    """An image ``height`` px high with a caption (``label``, ``second``: escaped markup)."""
    if pic.uri:
        w = max(1, round(height * pic.width / pic.height))
        media = f'<img src="{pic.uri}" width="{w}" height="{height}" alt="{shareable(alt)}">'
    else:
        w, media = height, placeholder(pic.error)
    lines = f"<span>{label}</span>" + (f"<span>{second}</span>" if second else "")
    return figure(media, w, lines)


def _source(pic: Pic, label: str, height: int) -> str:
    """A source picture captioned with its name in bold and, when it came, its ratio."""
    ratio = f" · {aspect_label(pic.width, pic.height)}" if pic.uri else ""
    return _figure(pic, label, height, f"<b>{shareable(label)}</b>{ratio}")


def _compare_html(
    store: ImageStore,
    sources: list[Item],
    rows: list[tuple[str, list[Item], list[str] | None]],
    height: int,
    head: str = "",
) -> HTML:
    every = sources + [it for _, row, _ in rows for it in row]
    pics = iter(_sharp(store, every))
    root = uid("cmp")
    src = (
        "".join(_source(next(pics), label_of(it, i), height) for i, it in enumerate(sources))
        or '<i class="ev-none">no source images: pass sources=[...]</i>'
    )
    body = ""
    for name, row, labels in rows:
        figs = ""
        for i, it in enumerate(row):
            pic = next(pics)
            first, second, _ = caption_of(it, pic, i)
            if labels is not None:
                first, second = f"<b>{shareable(labels[i])}</b>", ""
            alt = labels[i] if labels is not None else (it.image and it.image.image_type) or ""
            figs += _figure(pic, alt or label_of(it, i), height, first, second)
        label = (
            f'<div class="ev-k">{shareable(name)}<small>{len(row)}</small></div>' if name else ""
        )
        body += f'{label}<div class="ev-row">{figs}</div>'
    r = f".{root}"
    css = base_css(r) + (
        f"{r} .ev-cmp{{display:flex;gap:20px;align-items:flex-start}}"
        f"{r} .ev-src{{flex:none;max-width:40%;padding-right:20px;border-right:1px solid {BORDER}}}"
        f"{r} .ev-gen{{flex:1;min-width:0}}"
        # An opened source may take the width: the generated images then wrap below it.
        f"{r} .ev-cmp:has(.ev-src .ev-z[open]){{flex-wrap:wrap}}"
        f"{r} .ev-src:has(.ev-z[open]){{max-width:100%}}"
        f"{r} .ev-cmp:has(.ev-src .ev-z[open]) .ev-gen{{flex-basis:300px}}"
        f"{r} .ev-row{{display:flex;flex-wrap:wrap;gap:12px;"
        f"margin-bottom:12px}}{r} figure{{margin:0;flex:none}}{r} figure img,{r} .ev-x{{"
        f"display:block;height:{height}px;width:100%;margin:0;border-radius:6px}}"
        f"{r} figure img{{background:{BG_SOFT};box-shadow:0 0 0 1px {BORDER_SOFT}}}"
        f"{r} figure .ev-x{{display:flex}}"
        f"{r} figcaption{{font-size:12px;color:{FG_MUTED};padding-top:5px}}"
        f"{r} figcaption>span{{display:block}}{r} figcaption b{{color:{FG}}}"
        f"{r} .ev-k{{font-weight:600;margin:0 0 6px}}{r} .ev-k small{{font-weight:400;"
        f"color:{FG_MUTED};margin-left:6px}}{r} .ev-none{{color:{FG_MUTED}}}"
    )
    return HTML(
        f'<div class="{root}"><style>{css}</style>{head}<div class="ev-cmp"><div class="ev-src">'
        f'<div class="ev-k">Source</div><div class="ev-row">{src}</div></div>'
        f'<div class="ev-gen">{body}</div></div></div>'
    )


def compare(
    source: Any,
    generated: Any,
    *,
    height: int = 200,
    labels: Sequence[str] | None = None,
    store: ImageStore | None = None,
) -> HTML:
    """The source image(s) beside each generated image, all at the same height, labelled.

    Args:
        source: one image or a list (anything :func:`show_images` takes).
        generated: one image, a list, a Product or a TryOnResult.
        height: the common height in CSS pixels.
        labels: one caption per generated image (default: type · ratio · colour · platform).
        store: where images come from.

    Raises:
        ValueError: ``labels`` does not match the generated images.
    """
    if not (isinstance(height, int) and 24 <= height <= 2048):
        raise ValueError(f"height={height!r} must be a whole number of pixels from 24 to 2048")
    gens = items_of(generated)
    if labels is not None and len(labels) != len(gens):
        raise ValueError(f"{len(labels)} labels for {len(gens)} generated images")
    rows = [("Generated", gens, list(labels) if labels is not None else None)]
    return _compare_html(store or default_store(), items_of(source), rows, height)


def compare_product(
    product: Product,
    *,
    sources: Sequence[Any] | None = None,
    images: Sequence[GeneratedImage] | None = None,
    height: int = 160,
    store: ImageStore | None = None,
) -> HTML:
    """A product's source images against its generated images, one row per image type.

    The API's product carries no source URLs in its documented fields, so pass them as
    ``sources`` (else ``product.raw["imageUrls"]`` is used when a server sends it).
    ``images`` limits the generated side (e.g. to one job's images); default: all of them.
    """
    if sources is None:
        raw = product.raw.get("imageUrls")
        sources = [u for u in raw if isinstance(u, str)] if isinstance(raw, list) else []
    rows: dict[str, list[Item]] = {}
    for image in product.generated_images if images is None else images:
        rows.setdefault(image.image_type or "(none)", []).append(item_of(image))
    head = (
        f'<div class="ev-k" style="font-size:15px">{shareable(product.name or "Product")}'
        f"<small>{shareable(product.id)}</small></div>"
    )
    return _compare_html(
        store or default_store(),
        [item_of(s) for s in sources],
        [(kind, items, None) for kind, items in rows.items()],
        height,
        head,
    )


# ---------------------------------------------------------------- before/after slider


def _slider_image(store: ImageStore, source: Any) -> Image.Image:
    """The image as RGB (its 768 px thumbnail), or a grey card that says why it is missing."""
    item = item_of(source)
    try:
        if item.source is None:
            raise ImageError("no image URL")
        data = store.thumbnail(item.source, LARGE_SIZE)
    except Exception as exc:
        card = Image.new("RGB", (LARGE_SIZE, LARGE_SIZE), (228, 228, 231))
        ImageDraw.Draw(card).text(
            (16, 16), f"image unavailable: {mask_local(exc)}"[:90], fill=(154, 52, 18)
        )
        return card
    with Image.open(io.BytesIO(data)) as opened:
        image: Image.Image = opened.convert("RGB")
    return image


def _fitted(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` scaled to fit ``size`` and centred on white."""
    scale = min(size[0] / image.width, size[1] / image.height)
    inner = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    canvas = Image.new("RGB", size, (255, 255, 255))
    canvas.paste(
        image.resize(inner, Image.Resampling.LANCZOS),
        ((size[0] - inner[0]) // 2, (size[1] - inner[1]) // 2),
    )
    return canvas


def _composite(left: Image.Image, right: Image.Image, percent: int) -> bytes:
    """``left`` up to ``percent`` % of the width, ``right`` after it, a divider between."""
    out = right.copy()
    x = round(out.width * max(0, min(100, percent)) / 100)
    out.paste(left.crop((0, 0, x, out.height)), (0, 0))
    draw = ImageDraw.Draw(out)
    draw.rectangle((x - 2, 0, x + 1, out.height), fill=(255, 255, 255))
    for edge in (x - 3, x + 2):
        draw.line((edge, 0, edge, out.height), fill=(70, 70, 76))
    mid = out.height // 2  # a round handle on the divider
    draw.ellipse((x - 11, mid - 11, x + 11, mid + 11), fill=(255, 255, 255), outline=(70, 70, 76))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _slider_labels(labels: tuple[str, str], width: int) -> str:
    a, b = (shareable(label) for label in labels)
    return (
        f'<div style="display:flex;justify-content:space-between;width:{width}px;{FONT};'
        f'font-weight:600"><span>&#9664; {a}</span><span>{b} &#9654;</span></div>'
    )


def _slider_static(
    left: Image.Image, right: Image.Image, labels: tuple[str, str], width: int
) -> HTML:
    uri = "data:image/jpeg;base64," + base64.b64encode(_composite(left, right, 50)).decode()
    height = round(width * left.height / left.width)
    return HTML(
        f'<div>{_slider_labels(labels, width)}<img src="{uri}" width="{width}" '
        f'height="{height}" alt="{shareable(" / ".join(labels))}" style="display:block"></div>'
    )


class SliderComparison:
    """A before/after slider (ipywidgets) that saved notebooks show as a static composite.

    ``widget`` is the VBox to display; ``slider`` and ``image`` are its parts. The object's
    mime bundle carries the widget view and a ``text/html`` composite at 50 %, so JupyterLab
    shows the live slider and nbconvert or GitHub show the picture. Outside Jupyter,
    ``str(slider)`` is that composite's markup.
    """

    def __init__(
        self, left: Image.Image, right: Image.Image, labels: tuple[str, str], width: int
    ) -> None:
        import ipywidgets as widgets  # lazily: a plain Python session never needs it

        self.left, self.right, self.labels, self.width = left, right, labels, width
        self._static: HTML | None = None
        self.slider: Any = widgets.IntSlider(
            value=50,
            min=0,
            max=100,
            description="",
            readout_format="d",
            layout=widgets.Layout(width=f"{width}px"),
        )
        self.image: Any = widgets.Image(
            value=_composite(left, right, 50),
            format="jpeg",
            layout=widgets.Layout(width=f"{width}px"),
        )
        caption = widgets.HTML(_slider_labels(labels, width))
        self.widget: Any = widgets.VBox([caption, self.image, self.slider])
        self.slider.observe(self._moved, names="value")

    def _moved(self, change: dict[str, Any]) -> None:
        self.image.value = _composite(self.left, self.right, int(change["new"]))

    def static_html(self) -> HTML:
        """The composite at 50 % as self-contained HTML."""
        if self._static is None:
            self._static = _slider_static(self.left, self.right, self.labels, self.width)
        return self._static

    def __str__(self) -> str:
        """The static composite's markup: what ``print()``, a file or a template gets."""
        return str(self.static_html())

    def _repr_html_(self) -> str:
        return str(self.static_html())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = str(self.static_html())
        return bundle

    def __repr__(self) -> str:
        return f"SliderComparison(labels={self.labels!r}, width={self.width})"


def compare_slider(
    a: Any,
    b: Any,
    *,
    width: int = 512,
    labels: tuple[str, str] = ("before", "after"),
    store: ImageStore | None = None,
) -> SliderComparison | HTML:
    """A before/after slider: ``a`` left of the handle, ``b`` right of it, at ``width`` px.

    ``b`` is fitted into ``a``'s frame. Without ipywidgets the static composite (at 50 %) is
    returned as :class:`HTML`.
    """
    if not (isinstance(width, int) and 64 <= width <= 2048):
        raise ValueError(f"width={width!r} must be a whole number of pixels from 64 to 2048")
    store = store or default_store()
    first, second = _slider_image(store, a), _slider_image(store, b)
    size = (width, max(1, round(width * first.height / first.width)))
    left, right = _fitted(first, size), _fitted(second, size)
    try:
        return SliderComparison(left, right, labels, width)
    except ImportError:
        return _slider_static(left, right, labels, width)
