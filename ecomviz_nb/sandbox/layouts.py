"""How each kind of generated image is laid out: canvases, shadows, and the garments on a figure."""

from __future__ import annotations

import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from .colors import RGB, ink_for, shade
from .lettering import fit_line, font, wrap_lines
from .subject import Box, Cutout, Subject, cut_out, find_subject

__all__ = [
    "background",
    "caption_strip",
    "dress_up",
    "layout_detail",
    "layout_facebook",
    "layout_main",
    "layout_recolor",
    "paste_with_shadow",
]

Size = tuple[int, int]
Point = tuple[float, float]
Rng = random.Random


def background(size: tuple[int, int], tint: RGB) -> Image.Image:
    """A clean studio canvas: `tint` at the top fading to a slightly darker shade below."""
    # Blend one column, then widen it: a full-size composite costs several times more.
    column = (1, size[1])
    ramp = Image.linear_gradient("L").resize(column, Image.Resampling.BILINEAR)
    strip = Image.composite(
        Image.new("RGB", column, shade(tint, 0.93)), Image.new("RGB", column, tint), ramp
    )
    return strip.resize(size, Image.Resampling.NEAREST)


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
