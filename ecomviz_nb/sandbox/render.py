"""The sandbox's generated images, as deterministic JPEG bytes: product shots, colours, try-ons."""

from __future__ import annotations

import random
from collections.abc import Sequence

from PIL import Image, ImageFilter, ImageOps

from . import layouts
from .analysis import Analysis, analyse
from .codec import ImageRejected, decode, encode_jpeg
from .colors import COLOR_NAMES, color_rgb, nearest_color_name
from .lettering import clean_text, sandbox_mark_box, stamp_sandbox, stamp_watermark
from .subject import find_subject

# Decoding, analysis, colour names and the mark's box moved to their own modules; they stay
# importable from here, where callers found them before.
__all__ = [
    "COLOR_NAMES",
    "PRODUCT_KINDS",
    "Analysis",
    "ImageRejected",
    "analyse",
    "canvas_size",
    "color_rgb",
    "decode",
    "nearest_color_name",
    "render_product_image",
    "render_try_on",
    "render_vto_color",
    "sandbox_mark_box",
]

PRODUCT_KINDS = ("main", "detail", "facebook")
"""The product image kinds of a generate request (``vto`` colours render separately)."""

# The drawing lives in ``layouts``; this module picks the layout, canvas and random stream
# for a request, so the same source, request and seed always give the same bytes.

# Extreme ratios are clamped so the short side of a canvas stays usable.
_MAX_RATIO = 8.0


def canvas_size(aspect_ratio: str, size: int) -> tuple[int, int]:
    """Return (width, height) for a ``"W:H"`` ratio with the longest side equal to `size`.

    Raises:
        ValueError: the ratio is not two positive integers separated by a colon, or `size`
            is below 16.
    """
    if size < 16:
        raise ValueError(f"size must be at least 16 px, got {size}")
    parts = aspect_ratio.strip().split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"aspect ratio must look like '4:3', got {aspect_ratio[:20]!r}")
    w, h = int(parts[0]), int(parts[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"aspect ratio must be positive, got {aspect_ratio[:20]!r}")
    ratio = min(max(w / h, 1 / _MAX_RATIO), _MAX_RATIO)
    if ratio >= 1:
        return size, max(1, round(size / ratio))
    return max(1, round(size * ratio)), size


def render_product_image(
    kind: str,
    source: Image.Image,
    *,
    aspect_ratio: str,
    index: int,
    seed: int,
    product_name: str,
    colors: Sequence[str],
    size: int = 1024,
) -> bytes:
    """Render one generated product image as JPEG bytes.

    Args:
        kind: ``"main"`` (cut-out on a clean canvas), ``"detail"`` (the index-th most
            detailed region) or ``"facebook"`` (product, name and a colour band).
        source: the decoded product photo.
        aspect_ratio: ``"W:H"`` of positive integers; the longest side is `size`.
        index: which image of the request this is (0, 1, ...).
        seed: request seed; together with `index` it picks tint, placement and crop.
        product_name: drawn by the ``facebook`` layout (any text, truncated to fit).
        colors: product colour names; the first one colours the ``facebook`` band.
        size: longest side in pixels.

    Raises:
        ValueError: unknown kind or malformed aspect ratio.
    """
    if kind not in PRODUCT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PRODUCT_KINDS)}; got {kind[:20]!r}")
    canvas = canvas_size(aspect_ratio, size)
    rng = random.Random(repr((kind, seed, index)))
    subject = find_subject(source)
    if kind == "main":
        image = layouts.layout_main(source, subject, canvas, rng)
    elif kind == "detail":
        image = layouts.layout_detail(source, subject, canvas, rng, index)
    else:
        swatches = [color_rgb(c) for c in colors[:5]]
        name = clean_text(product_name)
        image = layouts.layout_facebook(source, subject, canvas, rng, name, swatches)
    stamp_sandbox(image)
    return encode_jpeg(image)


def render_vto_color(
    source: Image.Image, *, color: str, aspect_ratio: str | None, seed: int, size: int = 1024
) -> bytes:
    """Render the product recoloured to `color` (luminance kept), labelled, as JPEG bytes.

    Args:
        source: the decoded product photo.
        color: a colour name (see `color_rgb`); drawn as the label.
        aspect_ratio: ``"W:H"``; None means ``"1:1"``.
        seed: request seed (picks the canvas tint).
        size: longest side in pixels.
    """
    canvas = canvas_size(aspect_ratio or "1:1", size)
    rng = random.Random(repr(("vto", seed, color)))
    image = layouts.layout_recolor(
        source, find_subject(source), canvas, rng, clean_text(color, 60), color_rgb(color)
    )
    stamp_sandbox(image)
    return encode_jpeg(image)


def render_try_on(
    person: Image.Image,
    clothing: Sequence[tuple[Image.Image, str | None]],
    *,
    aspect_ratio: str,
    watermark: bool,
    seed: int,
    size: int = 1024,
) -> bytes:
    """Render a virtual try-on: the clothing composited onto the person, as JPEG bytes.

    Args:
        person: the decoded person photo.
        clothing: (garment image, ``info`` text or None) pairs, layered in order.
        aspect_ratio: one of the VTO ratios (1:1, 3:2, 2:3, 16:9, 9:16, 21:9, 9:21); other
            ``"W:H"`` strings are accepted too.
        watermark: draw the diagonal ``EcomViz`` watermark.
        seed: request seed (varies the backdrop shade).
        size: longest side in pixels.
    """
    w, h = canvas_size(aspect_ratio, size)
    rng = random.Random(repr(("try-on", seed)))
    if person.mode == "RGBA":  # a cut-out person stands on white, not on black
        person = Image.alpha_composite(Image.new("RGBA", person.size, "white"), person)
    person = person.convert("RGB")
    captions = [
        (img, text)
        for img, text in ((img, clean_text(info or "", 120)) for img, info in clothing)
        if text
    ]
    row_h = max(14, round(min(w, h) * 0.08))
    strip_h = row_h * min(3, len(captions)) + (row_h // 3 if captions else 0)
    figure = find_subject(person)
    if figure.backdrop:  # a studio photo: extend its own backdrop, seamlessly
        canvas = Image.new("RGB", (w, h), figure.backdrop)
    else:  # a scene: the photo blurred to cover the frame (cheap: blurred while tiny)
        tiny = ImageOps.fit(person, (max(1, w // 40), max(1, h // 40)), Image.Resampling.BOX)
        canvas = tiny.filter(ImageFilter.GaussianBlur(2)).resize((w, h), Image.Resampling.BILINEAR)
        canvas = Image.blend(canvas, Image.new("RGB", (w, h), "white"), rng.uniform(0.3, 0.5))
    k = min(w / person.width, (h - strip_h) / person.height)
    shown = person.resize(
        (max(1, round(person.width * k)), max(1, round(person.height * k))),
        Image.Resampling.BICUBIC,
        reducing_gap=2.0,
    )
    ox = (w - shown.width) // 2 + round(rng.uniform(-0.02, 0.02) * w)
    oy = (h - strip_h - shown.height) // 2
    canvas.paste(shown, (ox, oy))
    fx0, fy0, fx1, fy1 = (round(v * k) for v in figure.box())
    fh = fy1 - fy0
    top_center = (ox + (fx0 + fx1) / 2, oy + fy0 + 0.15 * fh)  # at the neck, for the figures
    for garment, _ in clothing[:6]:
        layouts.dress_up(canvas, garment, top_center, 0.34 * fh, oy + fy1)
    if captions:
        layouts.caption_strip(canvas, captions[:3], row_h, len(captions) - 3)
    if watermark:
        stamp_watermark(canvas)
    stamp_sandbox(canvas)
    return encode_jpeg(canvas)
