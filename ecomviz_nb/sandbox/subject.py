"""Where the product or person in a photo is, and how it is cut out of its backdrop."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter, ImageStat

from .colors import RGB

__all__ = ["Box", "Cutout", "Subject", "cut_out", "find_subject"]

Box = tuple[int, int, int, int]

# Masks are found on a small copy: cheap, and JPEG noise averages out.
_MASK_SIDE = 160


def _border_color(small: Image.Image) -> RGB:
    """Median colour of the outermost pixels: the backdrop of a product photo."""
    w, h = small.size
    strip = Image.new("RGB", (2 * (w + h), 1))
    strip.paste(small.crop((0, 0, w, 1)), (0, 0))
    strip.paste(small.crop((0, h - 1, w, h)), (w, 0))
    strip.paste(small.crop((0, 0, 1, h)).rotate(90, expand=True), (2 * w, 0))
    strip.paste(small.crop((w - 1, 0, w, h)).rotate(90, expand=True), (2 * w + h, 0))
    r, g, b = (int(v) for v in ImageStat.Stat(strip).median)
    return r, g, b


def _distance(image: Image.Image, color: RGB) -> Image.Image:
    """Per-pixel largest channel difference from `color`, as an ``L`` image."""
    r, g, b = ImageChops.difference(image, Image.new("RGB", image.size, color)).split()
    return ImageChops.lighter(ImageChops.lighter(r, g), b)


@dataclass(frozen=True)
class Subject:
    """Where the subject of a photo is, found by difference from its border colour."""

    mask: Image.Image
    """``L`` mask on a copy whose longest side is at most 160 px (255 = subject)."""
    scale: float
    """Size of the source divided by size of `mask`."""
    backdrop: RGB | None
    """Border colour; None when the alpha channel or the whole frame is the subject."""

    def box(self) -> Box:
        """Bounding box of the subject in source pixels (the whole image if none was found)."""
        w, h, s = *self.mask.size, self.scale
        x0, y0, x1, y1 = self.mask.getbbox() or (0, 0, w, h)
        return (
            max(0, math.floor((x0 - 1) * s)),
            max(0, math.floor((y0 - 1) * s)),
            math.ceil(min(w, x1 + 1) * s),
            math.ceil(min(h, y1 + 1) * s),
        )


def find_subject(source: Image.Image) -> Subject:
    """Locate the product or person in `source` (RGB or RGBA)."""
    k = min(1.0, _MASK_SIDE / max(source.size))
    small = source.resize(
        (max(1, round(source.width * k)), max(1, round(source.height * k))),
        Image.Resampling.BILINEAR,
        reducing_gap=2.0,
    )
    scale = source.width / small.width
    if small.mode == "RGBA":
        alpha = small.getchannel("A")
        low = alpha.getextrema()[0]
        if isinstance(low, int | float) and low < 250:
            return Subject(alpha.point(lambda v: 255 if v > 24 else 0), scale, None)
    small = small.convert("RGB")
    backdrop = _border_color(small)
    mask = _distance(small, backdrop).point(lambda v: 255 if v > 26 else 0)
    # A closing fills stitching-sized gaps where the product matches its backdrop.
    mask = mask.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.MinFilter(5))
    coverage = ImageStat.Stat(mask).mean[0] / 255
    if coverage < 0.01 or coverage > 0.97:
        # No separable backdrop (a lifestyle photo, a blank image): keep the whole frame.
        return Subject(Image.new("L", small.size, 255), scale, None)
    return Subject(mask, scale, backdrop)


@dataclass(frozen=True)
class Cutout:
    """A product cropped to its bounding box, with a soft-edged mask of the same size."""

    rgb: Image.Image
    mask: Image.Image


def cut_out(source: Image.Image, subject: Subject, fit: tuple[int, int] | None = None) -> Cutout:
    """Crop the subject out of `source`, scaled to fit `fit` when given, with a soft mask."""
    box = subject.box()
    crop = source.crop(box)
    if fit is not None:
        k = min(fit[0] / crop.width, fit[1] / crop.height)
        new = (max(1, round(crop.width * k)), max(1, round(crop.height * k)))
        crop = crop.resize(new, Image.Resampling.BILINEAR, reducing_gap=2.0)
    rgb = crop.convert("RGB")
    if subject.backdrop is None:
        alpha = crop.getchannel("A") if crop.mode == "RGBA" else Image.new("L", crop.size, 255)
        return Cutout(rgb, alpha)
    s = subject.scale
    small_box = (round(box[0] / s), round(box[1] / s), round(box[2] / s), round(box[3] / s))

    def coarse(mask: Image.Image) -> Image.Image:
        return mask.crop(small_box).resize(crop.size, Image.Resampling.BILINEAR)

    # Soft edge from the full-size difference (anti-aliased), kept near the coarse subject;
    # the coarse mask, shrunk, fills holes where the product matches its backdrop.
    edge = _distance(rgb, subject.backdrop).point(lambda v: max(0, min(255, (v - 14) * 16)))
    near = coarse(subject.mask.filter(ImageFilter.MaxFilter(5)))
    inner = coarse(subject.mask.filter(ImageFilter.MinFilter(5)))
    return Cutout(rgb, ImageChops.lighter(ImageChops.multiply(edge, near), inner))
