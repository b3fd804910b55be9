"""Sandbox renders: deterministic JPEGs of the right size, real analysis, safe decoding."""

from __future__ import annotations

import io
import json
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageChops, ImageStat

from ecomviz_nb.sandbox import analysis, codec, colors, lettering, render, samples

TSHIRT = "products/tshirt-red.jpg"
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "A" * 5000,
    "Sale 🔥👗🏽‍♀️ now 🎉",
    "فستان أخضر جميل — שמלה ירוקה",
    "tab\tnew\nline\x00null\x1b[31m",
    "lone \ud800 surrogate",
    "Z̸̢̛a̷̗͠l̴̞̾g̸̱̈o̵̟͝" * 40,
]


@pytest.fixture(scope="module")
def sources() -> dict[str, Image.Image]:
    return {name: codec.decode(samples.sample_bytes(name)) for name in samples.SAMPLE_NAMES}


def product(
    kind: str,
    source: Image.Image,
    *,
    ratio: str = "1:1",
    index: int = 0,
    seed: int = 7,
    name: str = "Tshirt Red",
) -> bytes:
    return render.render_product_image(
        kind,
        source,
        aspect_ratio=ratio,
        index=index,
        seed=seed,
        product_name=name,
        colors=["red", "maroon"],
    )


def try_on(
    sources: dict[str, Image.Image],
    *,
    watermark: bool = True,
    ratio: str = "2:3",
    info: str | None = "price US9.9",
    seed: int = 7,
) -> bytes:
    return render.render_try_on(
        sources["people/person-a.jpg"],
        [(sources["garments/jacket-navy.png"], info)],
        aspect_ratio=ratio,
        watermark=watermark,
        seed=seed,
    )


def every_kind(sources: dict[str, Image.Image]) -> dict[str, bytes]:
    shirt = sources[TSHIRT]
    return {
        "main": product("main", shirt),
        "detail": product("detail", shirt, ratio="4:3"),
        "facebook": product("facebook", shirt, ratio="16:9"),
        "vto": render.render_vto_color(shirt, color="blue", aspect_ratio=None, seed=7),
        "try-on": try_on(sources),
    }


def open_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    image.load()
    return image


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def test_same_request_renders_identical_bytes(sources: dict[str, Image.Image]) -> None:
    assert every_kind(sources) == every_kind(sources)


def test_concurrent_renders_match_serial_ones(sources: dict[str, Image.Image]) -> None:
    serial = every_kind(sources)
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = list(pool.map(lambda _: every_kind(sources), range(2)))
    assert parallel == [serial, serial]


def test_seed_and_index_change_the_image(sources: dict[str, Image.Image]) -> None:
    shirt = sources[TSHIRT]
    for kind in render.PRODUCT_KINDS:
        base = product(kind, shirt)
        assert product(kind, shirt, seed=8) != base, kind
        assert product(kind, shirt, index=1) != base, kind
    vto = render.render_vto_color(shirt, color="blue", aspect_ratio=None, seed=1)
    assert render.render_vto_color(shirt, color="blue", aspect_ratio=None, seed=2) != vto
    assert try_on(sources, seed=1) != try_on(sources, seed=2)


def test_detail_index_picks_a_different_region(sources: dict[str, Image.Image]) -> None:
    first = open_jpeg(product("detail", sources[TSHIRT], index=0))
    second = open_jpeg(product("detail", sources[TSHIRT], index=1))
    assert mean_diff(first, second) > 20


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("16:9", (1024, 576)),
        ("9:16", (576, 1024)),
        ("4:3", (1024, 768)),
        ("3:4", (768, 1024)),
        ("2:1", (1024, 512)),
    ],
)
def test_product_images_follow_the_aspect_ratio(
    sources: dict[str, Image.Image], ratio: str, size: tuple[int, int]
) -> None:
    for kind in render.PRODUCT_KINDS:
        assert open_jpeg(product(kind, sources[TSHIRT], ratio=ratio)).size == size, kind
    vto = render.render_vto_color(sources[TSHIRT], color="red", aspect_ratio=ratio, seed=1)
    assert open_jpeg(vto).size == size


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("3:2", (1024, 683)),
        ("2:3", (683, 1024)),
        ("16:9", (1024, 576)),
        ("9:16", (576, 1024)),
        ("21:9", (1024, 439)),
        ("9:21", (439, 1024)),
    ],
)
def test_try_on_follows_every_vto_ratio(
    sources: dict[str, Image.Image], ratio: str, size: tuple[int, int]
) -> None:
    assert open_jpeg(try_on(sources, ratio=ratio)).size == size


def test_vto_without_ratio_is_square_and_size_is_the_longest_side(
    sources: dict[str, Image.Image],
) -> None:
    data = render.render_vto_color(
        sources[TSHIRT], color="red", aspect_ratio=None, seed=1, size=512
    )
    assert open_jpeg(data).size == (512, 512)
    assert open_jpeg(product("main", sources[TSHIRT], ratio="16:9")).size == (1024, 576)


@pytest.mark.parametrize("ratio", ["", "abc", "0:1", "1:0", "-1:2", "1:2:3", "1.5:1", "16/9"])
def test_malformed_aspect_ratio_raises_value_error(ratio: str) -> None:
    with pytest.raises(ValueError, match="aspect ratio"):
        render.canvas_size(ratio, 1024)


def test_unknown_kind_raises_value_error(sources: dict[str, Image.Image]) -> None:
    with pytest.raises(ValueError, match="kind"):
        product("vto", sources[TSHIRT])


def test_every_kind_is_a_plain_rgb_jpeg_without_metadata(sources: dict[str, Image.Image]) -> None:
    for kind, data in every_kind(sources).items():
        image = open_jpeg(data)
        assert image.mode == "RGB", kind
        assert not image.getexif(), kind
        assert b"Exif" not in data[:64], kind


def test_every_image_carries_the_sandbox_mark(sources: dict[str, Image.Image]) -> None:
    for kind, data in every_kind(sources).items():
        image = open_jpeg(data)
        x0, y0, x1, y1 = lettering.sandbox_mark_box(*image.size)
        assert x1 - x0 > 20 and y1 - y0 > 8, kind
        mark = image.crop((x0, y0, x1, y1))
        beside = image.crop((x0, y1 + 4, x1, y1 + 4 + (y1 - y0)))
        assert mean_diff(mark, beside) > 40, kind
        darkest, lightest = ImageStat.Stat(mark.convert("L")).extrema[0]
        assert darkest < 60 and lightest > 150, kind  # light letters on a dark pill


def test_main_puts_the_product_on_a_clean_canvas(sources: dict[str, Image.Image]) -> None:
    image = open_jpeg(product("main", sources[TSHIRT])).convert("RGB")
    corner = ImageStat.Stat(image.crop((0, 900, 120, 1024)))
    assert min(corner.mean) > 200 and max(corner.stddev) < 6
    r, g, b = ImageStat.Stat(image.crop((462, 562, 562, 662))).mean
    assert r > 150 and g < 80 and b < 80


def test_watermark_can_be_switched_off(sources: dict[str, Image.Image]) -> None:
    marked = open_jpeg(try_on(sources, watermark=True))
    plain = open_jpeg(try_on(sources, watermark=False))
    w, h = marked.size
    middle = (w // 4, h // 3, 3 * w // 4, 2 * h // 3)
    assert mean_diff(marked.crop(middle), plain.crop(middle)) > 8
    assert mean_diff(marked.crop((0, 0, 60, 60)), plain.crop((0, 0, 60, 60))) < 2


def test_try_on_draws_the_info_caption(sources: dict[str, Image.Image]) -> None:
    captioned = open_jpeg(try_on(sources, info="price US9.9"))
    bare = open_jpeg(try_on(sources, info=None))
    w, h = captioned.size
    strip = captioned.crop((0, h - 60, w, h)).convert("L")
    assert ImageStat.Stat(strip).extrema[0][0] < 80  # dark text on the light strip
    assert captioned.tobytes() != bare.tobytes()


def test_vto_recolours_the_product_to_the_requested_colour(sources: dict[str, Image.Image]) -> None:
    for color, channel in (("blue", 2), ("green", 1)):
        data = render.render_vto_color(sources[TSHIRT], color=color, aspect_ratio=None, seed=3)
        center = ImageStat.Stat(open_jpeg(data).crop((432, 560, 592, 700))).mean
        others = [v for i, v in enumerate(center) if i != channel]
        assert center[channel] > max(others) + 40, (color, center)


def test_analyse_finds_red_and_names_the_tshirt(sources: dict[str, Image.Image]) -> None:
    result = analysis.analyse([sources[TSHIRT]], ["https://sandbox.local/samples/" + TSHIRT])
    assert result.colors[0] == "red"
    assert 1 <= len(result.colors) <= 5 and len(set(result.colors)) == len(result.colors)
    assert result.product_name == "Tshirt Red"
    facts = result.ai_analysis
    assert json.loads(json.dumps(facts)) == facts
    assert facts["category_guess"] == "apparel"
    assert facts["size"] == [1000, 1000] and facts["image_count"] == 1
    assert facts["background"] == "light"
    assert facts["dominant_colors"][0]["name"] == "red"
    assert 0.5 < facts["dominant_colors"][0]["share"] <= 1
    assert result == analysis.analyse(
        [sources[TSHIRT]], ["https://sandbox.local/samples/" + TSHIRT]
    )


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("products/sneaker-white.jpg", "white"),
        ("products/handbag-black.jpg", "black"),
        ("products/mug-blue.jpg", "blue"),
        ("garments/dress-green.png", "green"),
        ("garments/jacket-navy.png", "navy"),
    ],
)
def test_analyse_finds_each_samples_main_colour(
    sources: dict[str, Image.Image], name: str, first: str
) -> None:
    assert analysis.analyse([sources[name]], [name]).colors[0] == first


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://shop.example/p/blue%20denim_jacket.PNG?v=3#top", "Blue Denim Jacket"),
        ("https://shop.example/p/summer-dress", "Summer Dress"),
        ("https://cdn.example/img/0123456789abcdef0123.jpg", "Red product"),
        ("https://cdn.example/uploads/IMG_1234.jpg", "Red product"),
        ("https://cdn.example/", "Red product"),
        ("data:image/png;base64,iVBORw0KGgo=", "Red product"),
    ],
)
def test_product_name_comes_from_the_url_or_the_colour(
    sources: dict[str, Image.Image], url: str, name: str
) -> None:
    assert analysis.analyse([sources[TSHIRT]], [url]).product_name == name


def test_known_colour_names_round_trip_and_ignore_case() -> None:
    assert 20 <= len(colors.COLOR_NAMES) <= 30
    for name, rgb in colors.COLOR_NAMES.items():
        assert colors.color_rgb(name.upper()) == rgb
        assert colors.nearest_color_name(rgb) == name
    assert colors.color_rgb("Grey") == colors.COLOR_NAMES["gray"]
    assert colors.nearest_color_name((0, 0, 255)) == "blue"
    assert colors.nearest_color_name((70, 130, 180)) == "blue"
    assert colors.color_rgb("#ff8000") == (255, 128, 0)


def test_unknown_colour_names_map_to_a_stable_colour() -> None:
    blurple = colors.color_rgb("Blurple")
    assert blurple == colors.color_rgb("  BLURPLE ")
    # Fixed value: derived from SHA-256, so it is the same in every process and release.
    assert blurple == (86, 59, 145)
    assert colors.color_rgb("zorblax") != blurple
    assert all(0 <= c <= 255 for c in colors.color_rgb("🦄" * 300))


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk claiming `width` x `height`, with no pixel data."""
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    iend = b"IEND"
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + ihdr
        + struct.pack(">I", zlib.crc32(ihdr))
        + struct.pack(">I", 0)
        + iend
        + struct.pack(">I", zlib.crc32(iend))
    )


@pytest.mark.parametrize("size", [(100_000, 100_000), (7_000, 7_000)])
def test_decode_rejects_a_decompression_bomb(size: tuple[int, int]) -> None:
    with pytest.raises(codec.ImageRejected):
        codec.decode(png_header(*size))


def test_decode_rejects_an_image_over_max_pixels() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 300), "red").save(out, "PNG")
    with pytest.raises(codec.ImageRejected, match="90,000 pixels"):
        codec.decode(out.getvalue(), max_pixels=10_000)
    assert codec.decode(out.getvalue(), max_pixels=90_000).size == (300, 300)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"\xff\xd8\xff\xe0" + b"\0" * 40,
        b"%PDF-1.7\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
)
def test_decode_rejects_garbage(data: bytes) -> None:
    with pytest.raises(codec.ImageRejected):
        codec.decode(data)
    assert issubclass(codec.ImageRejected, ValueError)


def test_decode_rejects_a_truncated_image() -> None:
    data = samples.sample_bytes(TSHIRT)
    with pytest.raises(codec.ImageRejected):
        codec.decode(data[: len(data) // 3])


def test_decode_applies_exif_orientation() -> None:
    image = Image.new("RGB", (200, 100), (220, 20, 20))
    image.paste((20, 20, 220), (100, 0, 200, 100))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    upright = codec.decode(out.getvalue())
    assert upright.size == (100, 200)
    r, _, b = upright.getpixel((50, 40))  # type: ignore[misc]
    assert r > 150 and b < 80  # the left (red) half is now on top
    r, _, b = upright.getpixel((50, 160))  # type: ignore[misc]
    assert b > 150 and r < 80


def test_decode_downsizes_and_normalises_modes() -> None:
    def encoded(image: Image.Image, fmt: str) -> bytes:
        out = io.BytesIO()
        image.save(out, fmt)
        return out.getvalue()

    big = codec.decode(encoded(Image.new("RGBA", (3000, 1000), (0, 0, 0, 0)), "PNG"))
    assert big.size == (2048, 683) and big.mode == "RGBA"
    assert codec.decode(encoded(Image.new("L", (64, 64), 128), "PNG")).mode == "RGB"
    assert codec.decode(encoded(Image.new("CMYK", (64, 64)), "JPEG")).mode == "RGB"
    assert codec.decode(encoded(Image.new("P", (64, 64)), "GIF")).mode == "RGB"
    small = codec.decode(encoded(Image.new("RGB", (4000, 3000), "white"), "JPEG"), max_side=1000)
    assert small.size == (1000, 750) and small.mode == "RGB"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_without_error(sources: dict[str, Image.Image], text: str) -> None:
    shirt = sources[TSHIRT]
    for ratio in ("1:1", "16:9"):
        open_jpeg(product("facebook", shirt, ratio=ratio, name=text))
    open_jpeg(render.render_vto_color(shirt, color=text, aspect_ratio=None, seed=1))
    open_jpeg(try_on(sources, info=text, ratio="9:21"))
    assert analysis.analyse([shirt], [f"https://x.example/{text}.jpg"]).product_name


@pytest.mark.parametrize(
    "source",
    [
        Image.new("RGB", (1, 1), "red"),
        Image.new("RGB", (2, 500), "blue"),
        Image.new("RGB", (600, 600), "white"),
        Image.new("RGBA", (300, 300), (0, 0, 0, 0)),
    ],
    ids=["1x1", "2x500", "blank", "transparent"],
)
def test_degenerate_sources_still_render(source: Image.Image) -> None:
    for kind in render.PRODUCT_KINDS:
        for ratio in ("1:1", "21:9", "1:50"):
            open_jpeg(product(kind, source, ratio=ratio))
    open_jpeg(render.render_vto_color(source, color="teal", aspect_ratio="9:16", seed=1))
    open_jpeg(
        render.render_try_on(source, [(source, "x")], aspect_ratio="21:9", watermark=True, seed=1)
    )
    assert analysis.analyse([source], []).product_name


def test_renders_leave_the_source_untouched(sources: dict[str, Image.Image]) -> None:
    before = {name: image.tobytes() for name, image in sources.items()}
    every_kind(sources)
    assert {name: image.tobytes() for name, image in sources.items()} == before


def test_samples_decode_with_the_expected_modes() -> None:
    assert {
        "products/tshirt-red.jpg",
        "products/sneaker-white.jpg",
        "products/handbag-black.jpg",
        "products/mug-blue.jpg",
        "garments/dress-green.png",
        "garments/jacket-navy.png",
        "people/person-a.jpg",
        "people/person-b.jpg",
    } <= set(samples.SAMPLE_NAMES)
    for name in samples.SAMPLE_NAMES:
        data = samples.sample_bytes(name)
        image = codec.decode(data)
        garment = name.startswith("garments/")
        assert image.mode == ("RGBA" if garment else "RGB"), name
        assert 800 <= max(image.size) <= 1200, name
        assert samples.sample_content_type(name) == ("image/png" if garment else "image/jpeg")
        if garment:
            assert image.getpixel((0, 0))[3] == 0, name  # type: ignore[index]


def test_samples_are_drawn_deterministically() -> None:
    redraw = samples.sample_bytes.__wrapped__
    assert redraw(TSHIRT) == samples.sample_bytes(TSHIRT)


def test_unknown_sample_raises_key_error() -> None:
    with pytest.raises(KeyError):
        samples.sample_bytes("products/nope.jpg")
    with pytest.raises(KeyError):
        samples.sample_content_type("../etc/passwd")
