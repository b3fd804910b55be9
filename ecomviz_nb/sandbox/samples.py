"""Sample product, garment and person images for the sandbox, drawn with Pillow on first use."""

from __future__ import annotations

import functools
import io
import itertools
import math
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageFont

__all__ = ["SAMPLE_NAMES", "sample_bytes", "sample_content_type"]

# Shapes are drawn at twice the final size and scaled down: ImageDraw does not anti-alias.
_SS = 2

Color = tuple[int, ...]
Point = tuple[float, float]
Box = tuple[float, float, float, float]
# Outlines are written like SVG points, "x,y x,y ...", in unit coordinates.
Shape = str | Sequence[Point]


def _xy(shape: Shape) -> list[Point]:
    if isinstance(shape, str):
        return [(float(x), float(y)) for x, y in (p.split(",") for p in shape.split())]
    return list(shape)


def _mirror(shape: Shape) -> list[Point]:
    """The shape reflected about the vertical centre line (for left/right pairs)."""
    return [(1 - x, y) for x, y in _xy(shape)]


class _Pen:
    """Draws in unit coordinates (0..1 across each side) on a supersampled canvas."""

    def __init__(self, width: int, height: int, background: Color, mode: str = "RGB") -> None:
        self.size = (width, height)
        self.w, self.h = width * _SS, height * _SS
        self.image = Image.new(mode, (self.w, self.h), background)
        self.draw = ImageDraw.Draw(self.image)

    def pts(self, shape: Shape) -> list[Point]:
        return [(x * self.w, y * self.h) for x, y in _xy(shape)]

    def box(self, box: Box) -> Box:
        return (box[0] * self.w, box[1] * self.h, box[2] * self.w, box[3] * self.h)

    def px(self, v: float) -> int:
        """A stroke width given as a fraction of the canvas width."""
        return max(1, round(v * self.w))

    def polygon(
        self, shape: Shape, fill: Color, outline: Color | None = None, w: float = 0
    ) -> None:
        self.draw.polygon(self.pts(shape), fill=fill, outline=outline, width=self.px(w))

    def ellipse(
        self, box: Box, fill: Color | None = None, outline: Color | None = None, w: float = 0.01
    ) -> None:
        self.draw.ellipse(self.box(box), fill=fill, outline=outline, width=self.px(w))

    def rect(
        self, box: Box, fill: Color | None, radius: float = 0, outline: Color | None = None
    ) -> None:
        width = self.px(0.002) if outline else 0
        self.draw.rounded_rectangle(self.box(box), self.px(radius), fill, outline, width)

    def line(self, shape: Shape, fill: Color, width: float) -> None:
        self.draw.line(self.pts(shape), fill=fill, width=self.px(width), joint="curve")

    def dashed(self, shape: Shape, fill: Color, dash: float = 0.014, gap: float = 0.009) -> None:
        """A stitching line: short dashes along a polyline (loops over dashes, not pixels)."""
        for (x0, y0), (x1, y1) in itertools.pairwise(_xy(shape)):
            length = math.hypot(x1 - x0, y1 - y0)
            for i in range(int(length / (dash + gap))):
                a, b = i * (dash + gap) / length, (i * (dash + gap) + dash) / length
                ends = [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for t in (a, b)]
                self.line(ends, fill, 0.003)

    def arc(self, box: Box, start: float, end: float, fill: Color, width: float) -> None:
        self.draw.arc(self.box(box), start, end, fill=fill, width=self.px(width))

    def text(self, at: Point, text: str, fill: Color, size: float) -> None:
        font = ImageFont.load_default(size=self.px(size))
        self.draw.text(self.pts([at])[0], text, fill=fill, font=font, anchor="mm")

    def finish(self) -> Image.Image:
        return self.image.resize(self.size, Image.Resampling.LANCZOS)


def _curve(
    cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 16
) -> list[Point]:
    """Points along an elliptical arc, angles in degrees (0 = right, 90 = down)."""
    angles = (math.radians(a0 + (a1 - a0) * i / n) for i in range(n + 1))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _shade(color: Color, factor: float) -> Color:
    """Darker (factor < 1) or lighter (factor > 1, towards white) variant of a colour."""
    if factor <= 1:
        return tuple(round(c * factor) for c in color[:3]) + tuple(color[3:])
    t = min(1.0, factor - 1)
    return tuple(round(c + (255 - c) * t) for c in color[:3]) + tuple(color[3:])


def _tshirt() -> Image.Image:
    red = (200, 30, 42)
    stitch, neck = _shade(red, 1.45), _curve(0.5, 0.16, 0.11, 0.07, 0, 180)
    pen = _Pen(1000, 1000, (242, 240, 236))
    pen.ellipse((0.39, 0.13, 0.61, 0.22), fill=_shade(red, 0.55))  # inside of the back neck
    body = _xy(".39,.16 .27,.20 .11,.34 .19,.46 .30,.40 .30,.87 .70,.87 .70,.40 .81,.46 .89,.34")
    pen.polygon([*body, (0.73, 0.20), (0.61, 0.16), *neck[1:-1]], red)
    pen.polygon(".62,.40 .70,.40 .70,.87 .64,.87", _shade(red, 0.88))  # the shaded side
    pen.line(neck, _shade(red, 0.7), 0.018)
    pen.dashed(_curve(0.5, 0.16, 0.125, 0.085, 5, 175), stitch)
    for hem in (".31,.845 .69,.845", ".135,.365 .205,.435", ".865,.365 .795,.435"):
        pen.dashed(hem, stitch)
    for y in (0.62, 0.66, 0.70):  # a band of thin chest stripes
        pen.line([(0.30, y), (0.70, y)], _shade(red, 0.75), 0.006)
    pen.rect((0.55, 0.27, 0.65, 0.36), (250, 250, 248), radius=0.012)  # logo patch
    pen.rect((0.56, 0.28, 0.64, 0.35), None, radius=0.008, outline=red)
    pen.text((0.60, 0.315), "EV", red, 0.045)
    pen.line(".36,.50 .42,.56", _shade(red, 0.9), 0.004)  # fabric folds
    pen.line(".58,.76 .52,.82", _shade(red, 0.9), 0.004)
    return pen.finish()


def _sneaker() -> Image.Image:
    white, grey, ink = (250, 250, 250), (150, 156, 164), (70, 72, 78)
    pen = _Pen(1200, 900, (204, 213, 226))
    pen.rect((0.07, 0.70, 0.93, 0.78), ink, radius=0.02)
    for i in range(28):  # outsole tread
        x = 0.09 + i * 0.03
        pen.line([(x, 0.75), (x + 0.012, 0.775)], (40, 42, 46), 0.003)
    upper = ".09,.70 .10,.45 .14,.37 .26,.35 .36,.40 .40,.29 .47,.27 .58,.37 .72,.45 .85,.50"
    pen.polygon(upper + " .93,.59 .93,.70", white, outline=grey, w=0.004)
    pen.polygon(".09,.62 .93,.62 .93,.71 .09,.71", (236, 236, 232), outline=grey, w=0.003)
    pen.dashed(".10,.60 .92,.60", grey)
    pen.polygon(".09,.62 .10,.45 .14,.37 .19,.36 .20,.62", (200, 40, 48))  # heel tab
    pen.arc((0.74, 0.54, 1.00, 0.76), 205, 268, grey, 0.003)  # toe cap seam
    pen.dashed(_curve(0.87, 0.65, 0.115, 0.095, 210, 262, 6), grey)
    for i, j in itertools.product(range(4), range(3)):  # toe perforations
        x, y = 0.80 + i * 0.022, 0.57 + j * 0.02
        pen.ellipse((x, y, x + 0.006, y + 0.008), fill=grey)
    pen.polygon(".24,.47 .30,.54 .40,.57 .52,.55 .69,.465 .52,.51 .40,.52 .31,.50", (36, 92, 196))
    for k in range(5):  # eyelets along the vamp, laces crossing between them
        x0, y0 = 0.44 + k * 0.035, 0.325 + k * 0.024
        if k:
            pen.line([(x0 - 0.035, y0 - 0.024), (x0 + 0.004, y0 - 0.045)], (214, 216, 222), 0.007)
        pen.ellipse((x0 - 0.007, y0 - 0.009, x0 + 0.007, y0 + 0.009), fill=ink)
    pen.arc((0.40, 0.22, 0.46, 0.29), 180, 360, grey, 0.004)  # lace bow
    pen.arc((0.45, 0.22, 0.51, 0.29), 180, 360, grey, 0.004)
    pen.dashed(".12,.47 .18,.40 .27,.39 .36,.44", grey)
    return pen.finish()


def _handbag() -> Image.Image:
    black, gold, seam, backdrop = (28, 28, 31), (212, 172, 60), (96, 96, 102), (240, 238, 233)
    pen = _Pen(1000, 1000, backdrop)
    pen.arc((0.30, 0.12, 0.70, 0.62), 180, 360, black, 0.028)
    pen.polygon(".22,.38 .78,.38 .85,.84 .15,.84", black)
    for i in range(-6, 8):  # diamond quilting, trimmed to the body by the backdrop below
        x = 0.15 + i * 0.08
        pen.line([(x, 0.84), (x + 0.30, 0.56)], (52, 52, 58), 0.003)
        pen.line([(x + 0.30, 0.84), (x, 0.56)], (52, 52, 58), 0.003)
    for outside in ("0,.84 1,.84 1,1 0,1", ".15,.84 0,.84 0,.4 .22,.38"):
        pen.polygon(outside, backdrop)
        pen.polygon(_mirror(outside), backdrop)
    pen.polygon(
        [*_xy(".21,.37 .79,.37 .80,.50"), *_curve(0.5, 0.50, 0.30, 0.10, 0, 180)], (42,) * 3
    )
    pen.dashed(".24,.40 .76,.40 .77,.49", seam)
    pen.dashed(_curve(0.5, 0.49, 0.27, 0.085, 0, 180, 12), seam)
    pen.rect((0.45, 0.55, 0.55, 0.63), gold, radius=0.012)  # clasp
    pen.rect((0.47, 0.57, 0.53, 0.61), _shade(gold, 0.7), radius=0.006)
    for x in (0.315, 0.685):
        pen.ellipse((x - 0.03, 0.34, x + 0.03, 0.40), outline=gold)
    for x in (0.22, 0.40, 0.60, 0.78):
        pen.ellipse((x - 0.015, 0.835, x + 0.015, 0.865), fill=gold)
    return pen.finish()


def _mug() -> Image.Image:
    blue, band = (40, 92, 190), (252, 226, 150)
    pen = _Pen(1000, 1000, (244, 242, 238))
    pen.ellipse((0.58, 0.35, 0.86, 0.68), outline=blue, w=0.05)  # handle
    pen.ellipse((0.24, 0.74, 0.68, 0.84), fill=blue)
    pen.polygon(".24,.26 .68,.26 .68,.79 .24,.79", blue)
    pen.polygon(".29,.28 .33,.28 .33,.80 .29,.80", _shade(blue, 1.25))  # highlight
    pen.polygon(".60,.26 .68,.26 .68,.79 .60,.79", _shade(blue, 0.8))
    pen.polygon(".24,.46 .68,.46 .68,.58 .24,.58", band)
    for i in range(9):  # dotted pattern above and below the band
        x = 0.27 + i * 0.048
        pen.ellipse((x, 0.43, x + 0.012, 0.442), fill=band)
        pen.ellipse((x, 0.598, x + 0.012, 0.61), fill=band)
    pen.text((0.46, 0.52), "MORNING", blue, 0.05)
    pen.ellipse((0.24, 0.21, 0.68, 0.31), fill=_shade(blue, 1.2))  # rim and inside
    pen.ellipse((0.255, 0.225, 0.665, 0.295), fill=_shade(blue, 0.45))
    return pen.finish()


def _dress() -> Image.Image:
    green = (40, 140, 72, 255)
    stitch = _shade(green, 1.4)
    pen = _Pen(900, 900, (0, 0, 0, 0), mode="RGBA")
    pen.line(".375,.06 .38,.21", green, 0.012)  # straps at the bodice edges
    pen.line(".625,.06 .62,.21", green, 0.012)
    pen.polygon(".365,.20 .45,.19 .5,.24 .55,.19 .635,.20 .60,.40 .40,.40", green)
    hem = [(0.72 - 0.44 * i / 24, 0.90 + 0.012 * math.sin(i * math.pi / 2)) for i in range(25)]
    pen.polygon([(0.40, 0.42), (0.60, 0.42), *hem], green)
    for i in range(1, 8):  # pleats fan out from the waist
        t = i / 8
        pen.line([(0.40 + 0.20 * t, 0.43), (0.28 + 0.44 * t, 0.89)], _shade(green, 0.75), 0.004)
    pen.rect((0.39, 0.38, 0.61, 0.435), _shade(green, 0.6), radius=0.01)  # belt and buckle
    pen.rect((0.475, 0.385, 0.525, 0.43), (214, 178, 70, 255), radius=0.008)
    for seam in (".29,.875 .71,.875", ".38,.225 .45,.215", ".55,.215 .62,.225"):
        pen.dashed(seam, stitch)
    return pen.finish()


def _jacket() -> Image.Image:
    navy, light, badge = (30, 44, 92, 255), (52, 70, 130, 255), (214, 56, 52, 255)
    pen = _Pen(800, 800, (0, 0, 0, 0), mode="RGBA")
    sleeve, cuff = ".30,.12 .21,.19 .17,.70 .27,.71 .29,.34", ".17,.67 .27,.68 .27,.72 .17,.71"
    for shape, color in ((sleeve, navy), (_mirror(sleeve), navy), (cuff, light)):
        pen.polygon(shape, color)
    pen.polygon(_mirror(cuff), light)
    pen.polygon(".42,.07 .5,.10 .58,.07 .71,.12 .70,.66 .30,.66 .29,.12", navy)
    pen.polygon(".42,.07 .5,.10 .58,.07 .57,.03 .43,.03", light)  # collar
    pen.rect((0.30, 0.62, 0.70, 0.67), light, radius=0.01)  # ribbed hem
    for i in range(20):
        pen.line([(0.31 + i * 0.02, 0.625), (0.31 + i * 0.02, 0.665)], navy, 0.002)
    pen.line(".5,.10 .5,.66", (190, 194, 204, 255), 0.006)  # zipper, teeth and pull
    for i in range(28):
        pen.line([(0.49, 0.11 + i * 0.02), (0.51, 0.11 + i * 0.02)], (120, 126, 140, 255), 0.003)
    pen.rect((0.485, 0.13, 0.515, 0.18), (200, 204, 214, 255), radius=0.005)
    welt, seam = ".57,.50 .66,.45 .66,.47 .57,.52", ".57,.535 .66,.485"  # slanted pockets
    for flip in (_xy, _mirror):
        pen.polygon(flip(welt), light)
        pen.dashed(flip(seam), (120, 136, 184, 255), dash=0.01)
    pen.rect((0.57, 0.20, 0.65, 0.25), badge, radius=0.01)  # chest badge
    pen.text((0.61, 0.225), "EV", (250, 250, 250, 255), 0.035)
    pen.dashed(".315,.15 .31,.60", light)
    pen.dashed(".685,.15 .69,.60", light)
    return pen.finish()


def _person(palette: tuple[Color, ...], long_hair: bool) -> Image.Image:
    skin, hair, top, legs, shoes, backdrop = palette
    pen = _Pen(800, 1200, backdrop)
    if long_hair:
        pen.rect((0.40, 0.09, 0.60, 0.27), hair, radius=0.06)
    pen.polygon(
        ".365,.42 .635,.42 .645,.52 .625,.88 .51,.88 .5,.56 .49,.88 .375,.88 .355,.52", legs
    )
    pen.dashed(".5,.43 .5,.55", _shade(legs, 1.4), dash=0.01)
    for x in (0.43, 0.57):
        pen.ellipse((x - 0.08, 0.87, x + 0.08, 0.91), fill=shoes)
    arm = ".35,.21 .305,.23 .295,.47 .335,.475 .36,.27"  # arms hang beside the torso
    pen.polygon(arm, skin)
    pen.polygon(_mirror(arm), skin)
    for x in (0.315, 0.685):
        pen.ellipse((x - 0.027, 0.46, x + 0.027, 0.50), fill=skin)  # hands
    pen.rect((0.47, 0.16, 0.53, 0.20), skin)  # neck
    shirt = ".36,.20 .44,.185 .5,.20 .56,.185 .64,.20 .675,.26 .645,.28 .64,.44 .36,.44 .355,.28"
    pen.polygon(shirt + " .325,.26", top)
    pen.ellipse((0.435, 0.05, 0.565, 0.175), fill=skin)
    pen.ellipse((0.43, 0.04, 0.57, 0.11), fill=hair)
    pen.ellipse((0.47, 0.105, 0.48, 0.112), fill=(40, 36, 34))
    pen.ellipse((0.52, 0.105, 0.53, 0.112), fill=(40, 36, 34))
    pen.arc((0.48, 0.12, 0.52, 0.145), 20, 160, (150, 70, 70), 0.003)
    return pen.finish()


_PERSON_A = (
    (224, 178, 142),
    (52, 36, 28),
    (150, 152, 158),
    (52, 72, 112),
    (30,) * 3,
    (236, 233, 228),
)
_PERSON_B = (
    (150, 100, 70),
    (120, 52, 30),
    (236, 220, 196),
    (70, 70, 76),
    (240,) * 3,
    (228, 234, 240),
)
_DRAWINGS: dict[str, Callable[[], Image.Image]] = {
    "products/tshirt-red.jpg": _tshirt,
    "products/sneaker-white.jpg": _sneaker,
    "products/handbag-black.jpg": _handbag,
    "products/mug-blue.jpg": _mug,
    "garments/dress-green.png": _dress,
    "garments/jacket-navy.png": _jacket,
    "people/person-a.jpg": lambda: _person(_PERSON_A, long_hair=False),
    "people/person-b.jpg": lambda: _person(_PERSON_B, long_hair=True),
}

SAMPLE_NAMES: tuple[str, ...] = tuple(_DRAWINGS)
"""Names of the sample images, served by the sandbox under ``/samples/<name>``."""


@functools.cache
def sample_bytes(name: str) -> bytes:
    """Return the encoded bytes of a sample image, drawing it on first use.

    Args:
        name: one of `SAMPLE_NAMES`, e.g. ``"products/tshirt-red.jpg"``.

    Returns:
        JPEG or PNG bytes; the same bytes on every call.

    Raises:
        KeyError: the name is not a sample.
    """
    image = _DRAWINGS[name]()
    out = io.BytesIO()
    if name.endswith(".png"):
        image.save(out, "PNG")
    else:
        image.save(out, "JPEG", quality=90, subsampling=0)
    return out.getvalue()


def sample_content_type(name: str) -> str:
    """Return the MIME type of a sample (``image/jpeg`` or ``image/png``).

    Raises:
        KeyError: the name is not a sample.
    """
    if name not in _DRAWINGS:
        raise KeyError(name)
    return "image/png" if name.endswith(".png") else "image/jpeg"
