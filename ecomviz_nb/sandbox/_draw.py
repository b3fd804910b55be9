"""Drawing helpers for the sandbox renders: canvases, cut-outs, text, marks and JPEG encoding."""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]
Size = tuple[int, int]
Point = tuple[float, float]
Rng = random.Random
Face = ImageFont.FreeTypeFont | ImageFont.ImageFont

# Masks are found on a small copy: cheap, and JPEG noise averages out.
_MASK_SIDE = 160
_ELLIPSIS = "…"


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


def background(size: tuple[int, int], tint: RGB) -> Image.Image:
    """A clean studio canvas: `tint` at the top fading to a slightly darker shade below."""
    # Blend one column, then widen it: a full-size composite costs several times more.
    column = (1, size[1])
    ramp = Image.linear_gradient("L").resize(column, Image.Resampling.BILINEAR)
    strip = Image.composite(
        Image.new("RGB", column, shade(tint, 0.93)), Image.new("RGB", column, tint), ramp
    )
    return strip.resize(size, Image.Resampling.NEAREST)


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


def paste_with_shadow(
    canvas: Image.Image, cut: Cutout, at: tuple[int, int], strength: float = 0.28
) -> None:
    """Paste a cut-out onto `canvas` with a soft drop shadow under it."""
    # The shadow is blurred at 1/8 scale, then enlarged: a full-size blur costs far more.
    # Its margin (8 small px) outreaches the blur, so the shadow fades out before its edge.
    w, h, pad = cut.mask.width, cut.mask.height, 64
    shadow = Image.new("L", (w // 8 + 17, h // 8 + 17), 0)
    shadow.paste(cut.mask.resize((max(1, w // 8), max(1, h // 8)), Image.Resampling.BOX), (8, 8))
    shadow = shadow.filter(ImageFilter.GaussianBlur(2.5)).point(lambda v: round(v * strength))
    shadow = shadow.resize((shadow.width * 8, shadow.height * 8), Image.Resampling.BILINEAR)
    canvas.paste((20, 20, 24), (at[0] - pad, at[1] - pad + round(h * 0.025)), shadow)
    canvas.paste(cut.rgb, at, cut.mask)


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


def encode_jpeg(image: Image.Image) -> bytes:
    """JPEG bytes with fixed settings and no metadata, so equal pixels give equal bytes."""
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=85, subsampling=2, progressive=False)
    return out.getvalue()


# Layouts: each returns the finished canvas; the caller stamps the mark and encodes it.

_TINTS: tuple[RGB, ...] = ((248, 248, 246), (246, 244, 240), (242, 245, 248), (248, 245, 238))
_TAGLINES = ("New arrival", "Shop now", "Limited edition", "Best seller", "Free shipping")


def layout_main(source: Image.Image, subject: Subject, size: Size, rng: Rng) -> Image.Image:
    """The product cut out and centred on a clean tinted canvas with a soft shadow."""
    w, h = size
    canvas = background(size, rng.choice(_TINTS))
    k = rng.uniform(0.72, 0.80)
    cut = cut_out(source, subject, (round(w * k), round(h * k)))
    x = (w - cut.rgb.width) // 2 + round(rng.uniform(-0.03, 0.03) * w)
    y = (h - cut.rgb.height) // 2 + round(rng.uniform(-0.03, 0.01) * h)
    paste_with_shadow(canvas, cut, (x, y))
    return canvas


def _detail_windows(cut: Cutout, aspect: float, limit: int = 6) -> list[Box]:
    """Windows of `aspect` over the product, most edge-dense first, barely overlapping."""
    k = 192 / max(cut.rgb.size)
    small = (max(1, round(cut.rgb.width * k)), max(1, round(cut.rgb.height * k)))
    edges = cut.rgb.convert("L").resize(small, Image.Resampling.BOX).filter(ImageFilter.FIND_EDGES)
    # The eroded mask drops the silhouette so texture, stitching and logos win.
    inside = cut.mask.resize(small, Image.Resampling.BOX).filter(ImageFilter.MinFilter(5))
    edges = ImageChops.multiply(edges, inside)
    base = 0.45 * min(small)
    ww, wh = (base * aspect, base) if aspect >= 1 else (base, base / aspect)
    fit = min(1.0, small[0] / ww, small[1] / wh)
    ww, wh = max(2, int(ww * fit)), max(2, int(wh * fit))
    stride = max(1, min(ww, wh) // 4)
    scored = []
    for y in range(0, small[1] - wh + 1, stride):
        for x in range(0, small[0] - ww + 1, stride):
            box = (x, y, x + ww, y + wh)
            scored.append((-ImageStat.Stat(edges.crop(box)).mean[0], y, x, box))
    scored.sort()
    chosen: list[Box] = []
    for *_, box in scored:
        if all(_overlap(box, other) < 0.25 for other in chosen):
            chosen.append(box)
        if len(chosen) == limit:
            break
    return [(round(a / k), round(b / k), round(c / k), round(d / k)) for a, b, c, d in chosen]


def _overlap(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((a[2] - a[0]) * (a[3] - a[1]))


def layout_detail(
    source: Image.Image, subject: Subject, size: Size, rng: Rng, index: int
) -> Image.Image:
    """The index-th most detailed region of the product, enlarged, with a locator inset."""
    w, h = size
    cut = cut_out(source, subject)
    product = Image.new("RGB", cut.rgb.size, rng.choice(_TINTS))
    product.paste(cut.rgb, (0, 0), cut.mask)
    windows = _detail_windows(cut, w / h) or [(0, 0, *product.size)]
    x0, y0, x1, y1 = windows[index % len(windows)]
    bw, bh = min(x1 - x0, product.width), min(y1 - y0, product.height)
    x0 = min(max(0, x0 + round(rng.uniform(-0.05, 0.05) * bw)), product.width - bw)
    y0 = min(max(0, y0 + round(rng.uniform(-0.05, 0.05) * bh)), product.height - bh)
    box = (x0, y0, x0 + bw, y0 + bh)
    canvas = product.resize(size, Image.Resampling.BICUBIC, box=box)
    side = round(min(w, h) * 0.24)
    inset = product.copy()
    inset.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    s = inset.width / product.width
    draw = ImageDraw.Draw(inset)
    draw.rectangle([round(v * s) for v in box], outline=(255, 90, 54), width=max(2, side // 60))
    margin = max(4, round(min(w, h) * 0.03))
    at = (margin, h - margin - inset.height)
    canvas.paste(
        (255, 255, 255), (at[0] - 3, at[1] - 3, at[0] + inset.width + 3, at[1] + inset.height + 3)
    )
    canvas.paste(inset, at)
    return canvas


def layout_facebook(
    source: Image.Image, subject: Subject, size: Size, rng: Rng, name: str, swatches: list[RGB]
) -> Image.Image:
    """A social post: product on a light canvas, a band in its first colour, name and swatches."""
    w, h = size
    band = swatches[0] if swatches else (52, 56, 68)
    light = ink_for(band)[0] < 128  # dark ink means a light band: darken around it instead
    canvas = background(size, shade(band, 0.94 if light else 1.9))
    side_panel = w / h > 1.3
    bx0, by0 = (round(w * 0.6), 0) if side_panel else (0, round(h * 0.74))
    area = (bx0, h) if side_panel else (w, by0)
    cut = cut_out(source, subject, (round(area[0] * 0.8), round(area[1] * 0.8)))
    paste_with_shadow(
        canvas, cut, ((area[0] - cut.rgb.width) // 2, (area[1] - cut.rgb.height) // 2)
    )
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((bx0, by0, w, h), fill=band)
    edge = max(2, round(min(w, h) * 0.008))
    accent = (bx0, by0, bx0 + edge, h) if side_panel else (0, by0, w, by0 + edge)
    draw.rectangle(accent, fill=shade(band, 0.8 if light else 1.45))
    ink = ink_for(band)
    pad = round(min(w, h) * 0.05)
    text_w = w - bx0 - 2 * pad
    name_px = round(min(w, h) * (0.062 if side_panel else 0.055))
    name_face = font(name_px)
    lines = wrap_lines(name or "Product", name_face, text_w, 3 if side_panel else 2)
    y = by0 + pad if side_panel else by0 + round(pad * 0.7)
    for line in lines:
        draw.text((bx0 + pad, y), line, font=name_face, fill=ink)
        y += round(name_px * 1.2)
    tag_face = font(round(min(w, h) * 0.032))
    draw.text((bx0 + pad, y + pad // 4), rng.choice(_TAGLINES), font=tag_face, fill=ink)
    r = max(4, round(min(w, h) * 0.018))
    for i, color in enumerate(swatches):
        cx, cy = w - pad - r - (len(swatches) - 1 - i) * 3 * r, h - pad // 2 - r
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=color, outline=ink, width=2)
    return canvas


def layout_recolor(
    source: Image.Image, subject: Subject, size: Size, rng: Rng, label: str, target: RGB
) -> Image.Image:
    """The product with its hue replaced by `target` (shading kept), and a colour label."""
    w, h = size
    canvas = background(size, rng.choice(_TINTS))
    cut = cut_out(source, subject, (round(w * 0.76), round(h * 0.76)))
    gray = cut.rgb.convert("L")
    mid = min(225, max(30, round(ImageStat.Stat(gray, cut.mask).median[0])))
    # The product's typical brightness becomes the target colour; shading stays around it.
    low, high = shade(target, 0.3), shade(target, 1.3)
    rgb = ImageOps.colorize(gray, black=low, white=high, mid=target, midpoint=mid)
    paste_with_shadow(canvas, Cutout(rgb, cut.mask), ((w - rgb.width) // 2, (h - rgb.height) // 2))
    px, m = round(min(w, h) * 0.035), round(min(w, h) * 0.03)  # label text size, margin
    face, r = font(px), round(px * 0.55)
    text = fit_line(label or "colour", face, w * 0.5)
    pill = (m, m, m + 2 * r + m // 2 + round(face.getlength(text)) + 2 * r, m + 2 * r + m // 2)
    cy = (pill[1] + pill[3]) // 2
    draw = ImageDraw.Draw(canvas)
    draw.rounded_rectangle(pill, radius=cy - m, fill=(255, 255, 255), outline=(210, 210, 214))
    draw.ellipse((cy - r, cy - r, cy + r, cy + r), fill=target, outline=(120, 120, 126))
    draw.text((cy + r + px // 2, cy), text, font=face, fill=(30, 30, 34), anchor="lm")
    return canvas


def dress_up(
    canvas: Image.Image, garment: Image.Image, top_center: Point, width: float, bottom: float
) -> None:
    """Composite a garment `width` px wide, hanging from `top_center` down to `bottom` at most."""
    center_x, top = top_center
    subject = find_subject(garment)
    x0, y0, x1, y1 = subject.mask.getbbox() or (0, 0, *subject.mask.size)
    k = min(width / (x1 - x0), max(1.0, bottom - top) / (y1 - y0))
    cut = cut_out(garment, subject, (max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k))))
    paste_with_shadow(canvas, cut, (round(center_x - cut.rgb.width / 2), round(top)), strength=0.18)


def caption_strip(
    canvas: Image.Image, items: list[tuple[Image.Image, str]], row_h: int, more: int
) -> None:
    """A white strip along the bottom: per garment a thumbnail and its ``info`` text."""
    w, h = canvas.size
    y = h - row_h * len(items) - row_h // 3
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, y, w, h), fill=(252, 252, 250))
    draw.line((0, y, w, y), fill=(220, 220, 224), width=max(1, row_h // 20))
    face = font(round(row_h * 0.42))
    pad = row_h // 6
    for i, (garment, text) in enumerate(items):
        top = y + row_h // 6 + i * row_h
        thumb = ImageOps.contain(garment, (row_h - 2 * pad,) * 2, Image.Resampling.BILINEAR)
        mask = thumb.getchannel("A") if thumb.mode == "RGBA" else None
        canvas.paste(thumb.convert("RGB"), (pad * 2, top + pad), mask)
        if i == len(items) - 1 and more > 0:
            text = f"{text} (+{more} more)"
        x = pad * 3 + row_h
        line = fit_line(text, face, w - x - pad * 2)
        draw.text((x, top + row_h // 2), line, (30, 30, 34), face, anchor="lm")
