"""What the sandbox's product analysis reports: a name, the real colours, and honest facts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageFilter, ImageStat

from .colors import nearest_color_name
from .lettering import clean_text
from .subject import find_subject

__all__ = ["Analysis", "analyse"]


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
