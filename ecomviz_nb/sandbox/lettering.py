"""Text on sandbox images: any string made drawable and fitted, and the marks every image bears."""

from __future__ import annotations

import math
import unicodedata

from PIL import Image, ImageDraw, ImageFont

from .subject import Box

__all__ = [
    "Face",
    "clean_text",
    "fit_line",
    "font",
    "sandbox_mark_box",
    "stamp_sandbox",
    "stamp_watermark",
    "wrap_lines",
]

Face = ImageFont.FreeTypeFont | ImageFont.ImageFont

_ELLIPSIS = "…"


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


def font(size: int) -> Face:
    """Pillow's bundled scalable font at `size` px."""
    return ImageFont.load_default(size=max(6, size))


def fit_line(text: str, face: Face, max_width: float) -> str:
    """The longest prefix of `text` (ellipsis added when cut) drawn within `max_width`."""
    if not text or face.getlength(text) <= max_width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # binary search on the prefix length: text layout is the costly part
        mid = (lo + hi + 1) // 2
        if face.getlength(text[:mid].rstrip() + _ELLIPSIS) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + _ELLIPSIS if lo else ""


def wrap_lines(text: str, face: Face, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most `max_lines` lines, the last one truncated to fit."""
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and face.getlength(f"{line} {words[0]}") <= max_width:
            line = f"{line} {words.pop(0)}"
        if len(lines) == max_lines - 1 and words:
            line = f"{line} {' '.join(words)}"
            words = []
        lines.append(fit_line(line, face, max_width))
    return lines


def sandbox_mark_box(width: int, height: int) -> Box:
    """Where `stamp_sandbox` draws its mark on a `width` x `height` image (top right)."""
    text_px = max(9, round(min(width, height) * 0.028))
    text_w = font(text_px).getlength("SANDBOX")
    margin = max(3, round(min(width, height) * 0.02))
    pad = text_px // 2
    x1, y0 = width - margin, margin
    return (max(0, round(x1 - text_w - 2 * pad)), y0, x1, y0 + text_px + pad)


def stamp_sandbox(image: Image.Image) -> None:
    """Draw the small ``SANDBOX`` pill that tells sandbox images from real ones."""
    box = sandbox_mark_box(*image.size)
    text_px = max(9, round(min(image.size) * 0.028))
    draw, middle = ImageDraw.Draw(image), ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    # Dark pill, light rim: readable on white canvases and on dark colour bands alike.
    rim = max(1, text_px // 12)
    draw.rounded_rectangle(box, (box[3] - box[1]) // 2, (32, 32, 36), (236, 236, 236), rim)
    draw.text(middle, "SANDBOX", (255, 214, 10), font(text_px), anchor="mm")


def stamp_watermark(image: Image.Image, text: str = "EcomViz") -> None:
    """Draw a large translucent diagonal watermark across the middle of `image`."""
    w, h = image.size
    diagonal = math.hypot(w, h)
    face = font(round(diagonal * 0.09))
    layers = []
    for stroke in (max(2, round(diagonal * 0.004)), 0):  # dark outline, then light letters
        band = Image.new("L", (round(face.getlength(text) * 1.2), round(diagonal * 0.16)), 0)
        middle = (band.width / 2, band.height / 2)
        ImageDraw.Draw(band).text(middle, text, 255, face, anchor="mm", stroke_width=stroke)
        angle = math.degrees(math.atan2(h, w))
        layers.append(band.rotate(angle, Image.Resampling.BILINEAR, expand=True))
    at = ((w - layers[0].width) // 2, (h - layers[0].height) // 2)
    image.paste((0, 0, 0), at, layers[0].point(lambda v: v * 30 // 100))
    image.paste((255, 255, 255), at, layers[1].point(lambda v: v * 55 // 100))
