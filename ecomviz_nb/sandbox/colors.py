"""Colour names the sandbox knows: a name's RGB, the name nearest an RGB, and shade arithmetic."""

from __future__ import annotations

import colorsys
import hashlib
import re
from collections.abc import Sequence

__all__ = ["COLOR_NAMES", "RGB", "color_rgb", "ink_for", "nearest_color_name", "shade"]

RGB = tuple[int, int, int]

COLOR_NAMES: dict[str, RGB] = {
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


def color_rgb(name: str) -> RGB:
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


def shade(color: RGB, factor: float) -> RGB:
    """Darken (factor < 1) towards black or lighten (factor > 1) towards white."""
    if factor <= 1:
        r, g, b = (round(c * factor) for c in color)
    else:
        t = min(1.0, factor - 1)
        r, g, b = (round(c + (255 - c) * t) for c in color)
    return r, g, b


def ink_for(color: RGB) -> RGB:
    """A readable text colour on top of `color` (by ITU-R 601 luminance, as Pillow's ``L``)."""
    light = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 150
    return (24, 24, 27) if light else (250, 250, 250)
