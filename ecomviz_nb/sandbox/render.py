"""Deterministic sandbox renders: decoding, colour names, product analysis and generated images."""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

from . import _draw
from ._draw import encode_jpeg, find_subject, sandbox_mark_box, stamp_sandbox

__all__ = [
    "COLOR_NAMES",
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

# Extreme ratios are clamped so the short side of a canvas stays usable.
_MAX_RATIO = 8.0
PRODUCT_KINDS = ("main", "detail", "facebook")
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


class ImageRejected(ValueError):
    """The bytes are not an image the sandbox will decode (unreadable, or too large)."""


def decode(data: bytes, *, max_pixels: int = 40_000_000, max_side: int = 2048) -> Image.Image:
    """Decode untrusted image bytes into an upright RGB or RGBA image.

    Args:
        data: the encoded image (JPEG, PNG, WebP, GIF, BMP or TIFF).
        max_pixels: refuse images whose header claims more pixels than this.
        max_side: shrink the result so its longest side is at most this.

    Returns:
        A loaded image in mode ``RGB``, or ``RGBA`` when the source has transparency.

    Raises:
        ImageRejected: empty, unreadable, truncated or oversized input.
    """
    if not data:
        raise ImageRejected("empty image data")
    try:
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"image refused as a decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("not a recognised image (JPEG, PNG, WebP, GIF, BMP or TIFF)") from exc
    except Exception as exc:  # hostile headers raise many types (SyntaxError, struct.error...)
        raise ImageRejected(f"unreadable image header ({type(exc).__name__})") from exc
    with image:
        w, h = image.size
        if w <= 0 or h <= 0 or w * h > max_pixels:
            raise ImageRejected(f"image is {w}x{h} = {w * h:,} pixels; the limit is {max_pixels:,}")
        try:
            if image.format in ("JPEG", "MPO"):
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale instead of full size.
                image.draft("RGB", (max_side, max_side))
            image.load()
            upright = ImageOps.exif_transpose(image)
            alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
                "transparency" in upright.info
            )
            if upright.mode.startswith(("I", "F")):
                upright = upright.convert("L")
            result = upright.convert("RGBA" if alpha else "RGB")
        except Exception as exc:  # truncated data, bad chunks, decoder errors
            raise ImageRejected(f"image data could not be decoded ({type(exc).__name__})") from exc
    if max(result.size) > max_side:
        result.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return result


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


def clean_text(text: str, limit: int = 200) -> str:
    """Make any string drawable: controls and surrogates removed, whitespace folded, capped."""
    kept = []
    for ch in text[: limit * 4]:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif cat not in ("Cs", "Co", "Cn"):
            kept.append(ch)
    return " ".join("".join(kept).split())[:limit]


COLOR_NAMES: dict[str, tuple[int, int, int]] = {
    "black": (17, 17, 17),
    "white": (250, 250, 250),
    "gray": (128, 128, 128),
    "silver": (192, 192, 192),
    "red": (200, 30, 40),
    "maroon": (128, 0, 32),
    "coral": (250, 120, 100),
    "orange": (240, 120, 30),
    "yellow": (250, 210, 40),
    "gold": (212, 175, 55),
    "olive": (128, 128, 0),
    "green": (34, 139, 34),
    "lime": (140, 210, 40),
    "teal": (0, 128, 128),
    "cyan": (0, 190, 220),
    "blue": (30, 90, 200),
    "navy": (20, 30, 90),
    "purple": (120, 50, 160),
    "lavender": (180, 160, 220),
    "magenta": (210, 40, 160),
    "pink": (245, 160, 190),
    "brown": (120, 70, 40),
    "tan": (205, 165, 120),
    "beige": (225, 205, 170),
    "khaki": (195, 176, 130),
    "cream": (250, 240, 210),
}
"""Colour names the sandbox knows, with the RGB used to render and to name colours."""

_ALIASES = {"grey": "gray", "navy blue": "navy", "violet": "purple", "fuchsia": "magenta"}
_HEX = re.compile(r"#?([0-9a-f]{6}|[0-9a-f]{3})")


def color_rgb(name: str) -> tuple[int, int, int]:
    """Return the RGB of a colour name (case-insensitive) or ``#rrggbb`` string.

    Unknown names get a stable colour derived from a SHA-256 of the name, so the same
    name always renders the same way.
    """
    key = " ".join(name.lower().split())
    key = _ALIASES.get(key, key)
    if key in COLOR_NAMES:
        return COLOR_NAMES[key]
    match = _HEX.fullmatch(key)
    if match:
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    r, g, b = colorsys.hsv_to_rgb(hue, 0.45 + 0.35 * digest[2] / 255, 0.55 + 0.35 * digest[3] / 255)
    return round(r * 255), round(g * 255), round(b * 255)


def _lab(rgb: Sequence[int]) -> tuple[float, float, float]:
    """CIE L*a*b* of an sRGB colour: distances there match what people call 'the same'."""

    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def f(t: float) -> float:
        return float(t ** (1 / 3)) if t > 0.008856 else 7.787 * t + 16 / 116

    r, g, b = (linear(float(c)) for c in rgb[:3])
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


# Extra prototypes, so saturated or muted variants land on the name people would use.
_EXTRA = (
    ("blue", (0, 0, 255)),
    ("blue", (70, 130, 180)),
    ("blue", (100, 149, 237)),
    ("navy", (0, 0, 128)),
    ("purple", (128, 0, 128)),
)
_LAB = [(name, _lab(rgb)) for name, rgb in (*COLOR_NAMES.items(), *_EXTRA)]


def nearest_color_name(rgb: Sequence[int]) -> str:
    """Return the name in `COLOR_NAMES` closest to `rgb` (CIE76 distance in L*a*b*)."""
    lab = _lab(rgb)
    best = min(_LAB, key=lambda item: sum((p - q) ** 2 for p, q in zip(lab, item[1], strict=True)))
    return best[0]


@dataclass(frozen=True)
class Analysis:
    """What the sandbox's product analysis found."""

    product_name: str
    """Name from the first URL's file name, else ``"<Colour> product"``."""
    colors: list[str]
    """1-5 distinct colour names, most dominant first."""
    ai_analysis: dict[str, Any]
    """JSON-ready facts: category guess, dominant colours with shares, sizes, edge density."""


# File names that say nothing about the product.
_GENERIC = (
    "image img photo picture pic file download default index upload product original large"
    " thumb thumbnail dsc screenshot"
)
_CATEGORIES = {
    "apparel": "shirt tshirt tee dress jacket coat hoodie sweater skirt pants jeans top blouse",
    "footwear": "sneaker sneakers shoe shoes boot boots sandal sandals heels",
    "bags": "bag handbag backpack purse tote wallet clutch",
    "drinkware": "mug cup bottle glass tumbler",
    "accessories": "watch ring necklace earrings bracelet hat cap scarf",
}


def _name_from_url(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() == "data":
        return None
    segment = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    stem = segment.rsplit(".", 1)[0] if "." in segment[1:] else segment
    text = clean_text(re.sub(r"[-_+.\s]+", " ", stem), limit=80)
    words = text.lower().split()
    if sum(ch.isalpha() for ch in text) < 2 or all(
        w in _GENERIC.split() or w.isdigit() for w in words
    ):
        return None
    if re.fullmatch(r"[0-9a-f]{16,}", "".join(words)):
        return None  # a content hash or id, not a name
    return text.title()


def _dominant(images: Sequence[Image.Image]) -> list[dict[str, Any]]:
    """Colour clusters of the product pixels (backdrop excluded), merged by colour name."""
    shares: dict[str, float] = {}
    sums: dict[str, list[float]] = {}
    for image in images:
        subject = find_subject(image)
        small = image.convert("RGB").resize(subject.mask.size, Image.Resampling.BOX)
        # Backdrop pixels take the product's mean colour so they claim no palette slot.
        mean = tuple(round(v) for v in ImageStat.Stat(small, subject.mask).mean)
        small = Image.composite(small, Image.new("RGB", small.size, mean), subject.mask)
        # Max-coverage keeps small accent colours apart instead of blending them to grey.
        quantized = small.quantize(colors=8, method=Image.Quantize.MAXCOVERAGE)
        palette = quantized.getpalette() or []
        # Count inside an eroded mask: edge pixels are blends with the backdrop.
        inner = subject.mask.filter(ImageFilter.MinFilter(3))
        counts = quantized.histogram(mask=inner if inner.getbbox() else subject.mask)
        counts = counts[: len(palette) // 3]
        total = sum(counts) or 1
        for i, count in enumerate(counts):
            if not count:
                continue
            rgb = palette[3 * i : 3 * i + 3]
            name = nearest_color_name(rgb)
            share = count / total / len(images)
            shares[name] = shares.get(name, 0.0) + share
            acc = sums.setdefault(name, [0.0, 0.0, 0.0])
            for c in range(3):
                acc[c] += rgb[c] * share
    ranked = sorted(shares, key=lambda n: (-shares[n], n))
    kept = [n for i, n in enumerate(ranked) if i == 0 or shares[n] >= 0.025][:5]
    return [
        {"name": n, "rgb": [round(v / shares[n]) for v in sums[n]], "share": round(shares[n], 3)}
        for n in kept
    ]


def analyse(images: Sequence[Image.Image], urls: Sequence[str]) -> Analysis:
    """Analyse product photos the way the sandbox reports it: real colours, honest facts.

    Args:
        images: decoded product images (the first four are examined).
        urls: the URLs they came from; the first one names the product.

    Returns:
        An `Analysis` whose `ai_analysis` is JSON-serialisable and deterministic.
    """
    examined = list(images[:4])
    dominant = _dominant(examined) if examined else []
    colors = [d["name"] for d in dominant]
    name = _name_from_url(urls[0]) if urls else None
    if not name:
        name = f"{colors[0].title()} product" if colors else "Product"
    words = set(re.split(r"[^a-z]+", name.lower()))
    category = next((c for c, k in _CATEGORIES.items() if words.intersection(k.split())), "unknown")
    facts: dict[str, Any] = {
        "analysed_by": "ecomviz-sandbox",
        "category_guess": category,
        "dominant_colors": dominant,
        "image_count": len(images),
    }
    if examined:
        first = examined[0]
        subject = find_subject(first)
        gray = first.convert("L").resize(subject.mask.size, Image.Resampling.BOX)
        edges = gray.filter(ImageFilter.FIND_EDGES)
        backdrop = sum(subject.backdrop) / 3 if subject.backdrop else ImageStat.Stat(gray).mean[0]
        alpha = ImageStat.Stat(first.getchannel("A")).extrema[0][0] if first.mode == "RGBA" else 255
        w, h = first.size
        shape = "landscape" if w > h else "portrait"
        facts.update(
            size=[w, h],
            aspect=round(w / h, 3),
            orientation="square" if abs(w - h) <= 0.02 * max(w, h) else shape,
            background="transparent" if alpha < 250 else "light" if backdrop >= 128 else "dark",
            product_coverage=round(ImageStat.Stat(subject.mask).mean[0] / 255, 3),
            edge_density=round(ImageStat.Stat(edges, subject.mask).mean[0] / 255, 4),
        )
    return Analysis(product_name=name, colors=colors, ai_analysis=facts)


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
        image = _draw.layout_main(source, subject, canvas, rng)
    elif kind == "detail":
        image = _draw.layout_detail(source, subject, canvas, rng, index)
    else:
        swatches = [color_rgb(c) for c in colors[:5]]
        name = clean_text(product_name)
        image = _draw.layout_facebook(source, subject, canvas, rng, name, swatches)
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
    image = _draw.layout_recolor(
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
        _draw.dress_up(canvas, garment, top_center, 0.34 * fh, oy + fy1)
    if captions:
        _draw.caption_strip(canvas, captions[:3], row_h, len(captions) - 3)
    if watermark:
        _draw.stamp_watermark(canvas)
    stamp_sandbox(canvas)
    return encode_jpeg(canvas)
