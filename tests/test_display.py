"""Grids, comparisons, the slider and cards: inline JPEG data URIs only, every string escaped."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from support import free_port, short_sleep

import ecomviz_nb as ev
from ecomviz_nb import cards, comparison, config, display, htmlkit, report_safety
from ecomviz_nb.images import LARGE_SIZE, ImageStore
from ecomviz_nb.jobs import GenerationJob, TryOnJob
from ecomviz_nb.ledger import JobRecord
from ecomviz_nb.runs.matrix import matrix_html, plan_html

HOSTILE_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_ATTR = '"><script>alert(2)</script>'
GENERATE = ev.GenerateRequest(
    image_types=[
        ev.ImageSpec("main", count=2, aspect_ratio="1:1"),
        ev.ImageSpec("detail", count=1, aspect_ratio="4:3"),
        ev.ImageSpec("facebook", count=1, aspect_ratio="16:9"),
        ev.ImageSpec("vto", colors=["red", "navy"]),
    ]
)


# ---------------------------------------------------------------- helpers


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    return parser.tags


def srcs(markup: str) -> list[str]:
    return [str(attrs.get("src")) for tag, attrs in tags(markup) if tag == "img"]


def decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/jpeg;base64,"), uri[:60]
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "JPEG"
    return image


def assert_inert(markup: str) -> None:
    """No script, no event handler, no hostile text outside escaping, images inline only."""
    assert HOSTILE_IMG not in markup
    assert "<script" not in markup.lower()
    for tag, attrs in tags(markup):
        assert tag != "script"
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "img":
            assert str(attrs["src"]).startswith("data:image/jpeg;base64,")
        style = attrs.get("style") or ""
        assert "<" not in style and "url(" not in style and "alert" not in style


def jpeg_file(folder: Path, name: str, size: tuple[int, int], color: str = "teal") -> Path:
    path = folder / name
    Image.new("RGB", size, color).save(path, "JPEG")
    return path


@pytest.fixture(scope="module")
def generated(
    sandbox: ev.Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ev.Product, list[str]]]:
    """A sandbox product with 6 generated images (main x2, detail, facebook, vto x2)."""
    with pytest.MonkeyPatch.context() as patch:  # the client's ledger goes to a temporary home
        patch.setenv(config.ENV_HOME, str(tmp_path_factory.mktemp("home")))
        client = sandbox.client(sleep=short_sleep)  # its jobs poll every 50 ms at the most
        sources = [f"{sandbox.url}/samples/products/tshirt-red.jpg"]
        product = client.create_product(sources)
        done = client.generate(product.id, GENERATE).wait(timeout=60)
        yield done, sources
        client.close()


def hostile_product(folder: Path) -> ev.Product:
    path = str(jpeg_file(folder, "shirt.jpg", (400, 300)))
    image = ev.GeneratedImage(
        url=path,
        file_path=HOSTILE_IMG,
        image_type=HOSTILE_IMG,
        platform=HOSTILE_ATTR,
        region=HOSTILE_IMG,
        color=HOSTILE_ATTR,
        params={"imageType": HOSTILE_IMG, HOSTILE_ATTR: HOSTILE_IMG},
    )
    return ev.Product(
        id=HOSTILE_ATTR,
        name=HOSTILE_IMG,
        colors=[HOSTILE_IMG, HOSTILE_ATTR, "red;background:url(http://x)"],
        ai_analysis={HOSTILE_ATTR: HOSTILE_IMG, "notes": [HOSTILE_IMG, HOSTILE_ATTR]},
        generated_images=[image, image],
        raw={"imageUrls": [path]},
    )


# ---------------------------------------------------------------- grids


def test_sandbox_product_grid_embeds_each_picture_once_at_768_px(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, _ = generated
    markup = ev_display(product)
    found = srcs(markup)
    assert len(found) == len(product.generated_images) == 6
    for uri in found:
        assert "http" not in uri
        assert max(decoded(uri).size) == LARGE_SIZE  # sandbox pictures are 1024 px
        assert markup.count(uri) == 1
    assert "http" not in "".join(found)
    assert [m in markup for m in ("<b>main</b> · 1:1", "<b>detail</b> · 4:3", "16:9")] == [True] * 3
    assert "navy · general · global" in markup


def ev_display(images: Any, **kwargs: Any) -> display.HTML:
    html = display.show_images(images, **kwargs)
    assert isinstance(html, display.HTML) and isinstance(html, str)
    assert_inert(html)
    return html


def test_grid_output_per_image_stays_under_32_kb_or_8_kb_with_large_false(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, _ = generated
    per_image = {}
    for large in (True, False):
        markup = display.show_images(product.generated_images * 5, large=large)
        # What a notebook stores: the JSON-encoded mime bundle (text/html and text/plain).
        bundle = {"text/html": markup._repr_html_(), "text/plain": repr(markup)}
        per_image[large] = len(json.dumps(bundle)) / 30
    assert per_image[True] <= 32 * 1024 and per_image[False] <= 8 * 1024, per_image


def test_group_by_image_type_gives_one_headed_section_per_type_in_order(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, _ = generated
    markup = ev_display(product, group_by="image_type")
    heads = [
        markup.index(f'<div class="ev-h">{kind}<small>')
        for kind in ("main", "detail", "facebook", "vto")
    ]
    assert heads == sorted(heads)
    assert "image type · 2" in markup and "image type · 1" in markup


def test_tabs_are_css_radio_buttons_with_ids_unique_per_call(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, _ = generated
    first = ev_display(product, group_by="color", layout="tabs")
    second = ev_display(product, group_by="color", layout="tabs")
    radios = [a for t, a in tags(first) if t == "input"]
    assert [a["type"] for a in radios] == ["radio", "radio"]
    assert "checked" in radios[0] and "checked" not in radios[1]
    ids = {a["id"] for a in radios}
    assert not ids & {a["id"] for t, a in tags(second) if t == "input"}
    assert first.count('class="ev-p ev-p') == 2
    assert "<script" not in first


def test_group_by_a_params_key_aspect_ratio_or_a_function(tmp_path: Path) -> None:
    wide = ev.GeneratedImage(
        url=str(jpeg_file(tmp_path, "w.jpg", (1600, 900))), file_path="w.jpg", params={"seed": 1}
    )
    tall = ev.GeneratedImage(
        url=str(jpeg_file(tmp_path, "t.jpg", (600, 900))), file_path="t.jpg", params={"seed": 2}
    )
    by_ratio = ev_display([wide, tall, wide], group_by="aspect_ratio")
    assert '<div class="ev-h">16:9<small>aspect ratio · 2</small>' in by_ratio
    assert '<div class="ev-h">2:3<small>aspect ratio · 1</small>' in by_ratio
    by_seed = ev_display([wide, tall], group_by="seed")
    assert '<div class="ev-h">1<small>seed · 1</small>' in by_seed
    by_func = ev_display([wide, tall], group_by=lambda img: f"file {img.file_path}")
    assert '<div class="ev-h">file t.jpg<small>' in by_func
    missing = ev_display([wide], group_by="platform")
    assert '<div class="ev-h">(none)<small>' in missing


def test_urls_paths_bytes_pil_images_and_captioned_tuples_all_render(tmp_path: Path) -> None:
    path = jpeg_file(tmp_path, "a.jpg", (300, 300))
    pil = Image.new("RGBA", (120, 60), (255, 0, 0, 128))
    markup = ev_display([path, str(path), path.read_bytes(), pil, (path, "my caption")])
    assert len(srcs(markup)) == 5
    assert "<b>my caption</b> · 1:1" in markup
    assert "<b>a.jpg</b>" in markup
    assert "2:1" in markup


def test_a_failed_image_becomes_a_placeholder_with_its_reason_escaped(
    sandbox: ev.Sandbox, tmp_path: Path
) -> None:
    bad = f"{sandbox.url}/samples/<script>x</script>.jpg"
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("hello")
    empty = ev.GeneratedImage(url="", file_path="", image_type="main")
    markup = ev_display([bad, not_image, empty, jpeg_file(tmp_path, "ok.jpg", (50, 50))])
    assert markup.count("image unavailable") == 3
    assert "HTTP 404" in markup
    assert "&lt;script&gt;x&lt;/script&gt;" in markup
    assert "not a readable image" in markup and "no image URL" in markup
    assert len(srcs(markup)) == 1


def test_malformed_urls_become_placeholders_not_exceptions(tmp_path: Path) -> None:
    urls = ["http://\u00b2e\u00fc/x.jpg", "http://[::1/x.jpg", "bad\x00path"]
    good = jpeg_file(tmp_path, "ok.jpg", (50, 50))
    markup = ev_display([*urls, good])
    assert markup.count("image unavailable") == 3
    assert len(srcs(markup)) == 1


def unreachable_views(url: str, store: ImageStore) -> dict[str, str]:
    """A grid (plain, tabbed, ipyplot), cards and comparisons of one image nobody serves, whose
    URL is also its file path, a parameter, a caption, a group and a title."""
    image = ev.GeneratedImage(
        url=url, file_path=url, image_type="main", color="red", params={"sourceUrl": url}
    )
    product = ev.Product(
        id="prod_u", name="Lamp", generated_images=[image], raw={"imageUrls": [url]}
    )
    origin = url.rsplit("/", 2)[0]  # scheme://host:port, no path
    return {
        "grid": display.show_images([image, url, origin, (url, f"from {url}")], store=store),
        "tabs": display.show_images(
            [image], group_by=lambda _: url, layout="tabs", title=url, store=store
        ),
        "ipyplot": display.show_images([image, url], engine="ipyplot", store=store),
        "image card": cards.image_card(image, store=store),
        "product card": cards.product_card(product, store=store),
        "try-on card": cards.try_on_card(
            ev.TryOnResult(id="vto_u", status="completed", images=[image], person_image=url),
            store=store,
        ),
        "comparison": comparison.compare([url, origin], [image], store=store),
        "labelled comparison": comparison.compare(url, [image], labels=[url], store=store),
        "product comparison": comparison.compare_product(product, store=store),
    }


def test_an_unreachable_local_image_shows_its_path_but_never_the_loopback_address(
    tmp_path: Path,
) -> None:
    port = free_port()  # nobody listens: the fetch is refused at once
    url = f"http://127.0.0.1:{port}/samples/gone.jpg"
    address = re.compile(rf"127\.0\.0\.1|\b{port}\b")
    for name, markup in unreachable_views(url, ImageStore(tmp_path / "cache")).items():
        if name != "ipyplot":  # ipyplot's own markup carries its script
            assert_inert(markup)
        assert "image unavailable" in markup or name == "ipyplot", name
        assert "(local server)/samples/gone.jpg" in markup, name
        assert srcs(markup) == [] or name == "ipyplot", name
        found = address.findall(markup)  # text, alt and title attributes alike
        assert found == [], (name, found, markup[markup.find(found[0]) - 200 :][:400])


def test_an_unreachable_remote_image_keeps_its_host_in_the_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolve = socket.getaddrinfo

    def offline(host: Any, *args: Any, **kwargs: Any) -> Any:
        # .invalid never resolves (RFC 6761); answer at once instead of asking a resolver.
        if isinstance(host, (str, bytes)) and str(host).rstrip(".").endswith("invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    url = "http://example.invalid/x.jpg"
    for name, markup in unreachable_views(url, ImageStore(tmp_path / "cache")).items():
        assert "local server" not in markup, name
        if name != "ipyplot":
            assert_inert(markup)
            assert f"could not fetch {url}: ConnectError" in markup, name
        assert url in markup, name


@pytest.mark.parametrize(
    "text",
    [
        "see http://127.1:8787/samples/a.png.",
        "(http://user:pw@localhost.:8787)",
        "http://[::ffff:127.0.0.1]:80/a and https://ecomviz.cloud/b <i>",
        "http://10.0.0.5:8787/x",
        "http://:80/x",
    ],
)
def test_the_display_masks_local_servers_by_the_reports_rule(text: str) -> None:
    assert htmlkit.shareable(text) == report_safety.shareable(text)
    assert htmlkit.shareable(text) == htmlkit.esc(htmlkit.mask_local(text))


def opened_widths(markup: str) -> list[str]:
    """The width each picture takes when its tile is open (its ``--ev-zw``)."""
    return [
        str(attrs.get("style")).removeprefix("--ev-zw:")
        for tag, attrs in tags(markup)
        if tag == "img"
    ]


def test_a_click_opens_a_tile_to_its_768_px_picture_without_script(tmp_path: Path) -> None:
    paths = [jpeg_file(tmp_path, f"{i}.jpg", (800, 600), c) for i, c in enumerate(["red", "blue"])]
    paths.append(jpeg_file(tmp_path, "tall.jpg", (600, 1200)))
    markup = ev_display(paths, size=120)
    assert markup.count("<details") == 3 and markup.count("<summary") == 3
    assert len(srcs(markup)) == 3, "one <img> per picture: the open view is the same image"
    for uri in srcs(markup):
        assert markup.count(uri) == 1
    assert {decoded(u).size for u in srcs(markup)} == {(768, 576), (384, 768)}
    assert opened_widths(markup) == ["768px", "768px", "384px"]  # tall: 768 px high
    assert "ev-t[open]{width:auto;max-width:min(100%,768px)}" in markup
    assert 'width="120" height="90"' in markup  # drawn at the tile's size while closed
    small = ev_display(paths, size=120, large=False)
    assert {decoded(u).size for u in srcs(small)} == {(256, 192), (128, 256)}
    assert opened_widths(small) == ["240px", "240px", "120px"]  # twice the tile


def test_captions_wrap_and_start_with_the_type_and_ratio(tmp_path: Path) -> None:
    image = ev.GeneratedImage(
        url=str(jpeg_file(tmp_path, "w.jpg", (1600, 900))),
        file_path="w.jpg",
        image_type="detail",
        color="white",
        platform="general",
        region="global",
    )
    markup = ev_display([image, (image, "result 1"), (tmp_path / "w.jpg", "source")], size=64)
    assert "<span><b>detail</b> · 16:9</span>" in markup
    assert "<span><b>detail</b> · 16:9 · result 1</span>" in markup
    assert "<span><b>source</b> · 16:9</span>" in markup
    assert "white · general · global" in markup
    for cut in ("ellipsis", "nowrap"):
        assert cut not in markup
    assert "overflow-wrap:anywhere" in markup
    card = cards.product_card(ev.Product(id="p", generated_images=[image]))
    assert "<b>detail</b> · 16:9" in card and "ellipsis" not in card


def test_figures_open_on_a_click_and_their_captions_wrap(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, sources = generated
    assert htmlkit.ZOOM_MAX == LARGE_SIZE
    one = htmlkit.figure('<img src="data:image/jpeg;base64,AA==">', 90, "<span>a</span>")
    assert one.startswith('<figure style="width:90px"><details class="ev-z"><summary')
    assert one.index("<img") < one.index("</summary>") < one.index("<figcaption>")
    css = htmlkit.base_css(".x")
    assert ".x figure:has(>.ev-z[open]){width:auto!important" in css
    assert ".x .ev-z[open] img{width:auto;height:auto;max-width:min(100%,768px)" in css
    assert ".x figure figcaption>span{white-space:normal" in css
    markup = comparison.compare_product(product, sources=sources)
    assert_inert(markup)
    assert markup.count('<details class="ev-z">') == len(srcs(markup)) == 7
    assert ":has(>.ev-z[open])" in markup


def test_html_is_a_string_for_plain_python_and_renders_in_jupyter(tmp_path: Path) -> None:
    markup = display.show_images([jpeg_file(tmp_path, "a.jpg", (64, 64))], title=HOSTILE_IMG)
    assert markup._repr_html_() == str(markup)
    assert repr(markup).startswith("<ecomviz_nb HTML: 1 images")
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    page = markup.save(tmp_path / "page.html")
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_bad_arguments_raise_before_any_fetch() -> None:
    with pytest.raises(ValueError, match="size"):
        display.show_images([], size=0)
    with pytest.raises(ValueError, match="large='yes' must be True or False"):
        display.show_images([], large="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layout"):
        display.show_images([], layout="grid")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="engine"):
        display.show_images([], engine="matplotlib")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        display.show_images([42])
    assert "no images" in display.show_images([])


def test_ipyplot_engine_in_a_kernel_displays_data_uris_and_escaped_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ipyplot._html_helpers
    import IPython
    import IPython.display

    shown: list[str] = []
    capture = lambda obj: shown.append(obj.data)  # noqa: E731
    monkeypatch.setattr(ipyplot._html_helpers, "display", capture)
    monkeypatch.setattr(IPython.display, "display", capture)
    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(kernel=object()))
    product = hostile_product(tmp_path)
    for layout in ("sections", "tabs"):
        shown.clear()
        result = display.show_images(product, "color", engine="ipyplot", layout=layout)
        assert result == ""
        markup = "".join(shown)
        assert "data:image/jpeg;base64," in markup
        assert HOSTILE_IMG not in markup and "<script>" not in markup


def test_ipyplot_engine_outside_a_kernel_returns_its_markup_and_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ipyplot._html_helpers

    before = ipyplot._html_helpers.display
    product = hostile_product(tmp_path)
    for layout in ("sections", "tabs"):
        result = display.show_images(product, "color", engine="ipyplot", layout=layout)
        assert isinstance(result, display.HTML)
        assert "ipyplot" in result and len(srcs(result)) >= len(product.generated_images)
        assert all(src.startswith("data:image/jpeg;base64,") for src in srcs(result))
        assert HOSTILE_IMG not in result and "<script>" not in result
        assert "&lt;img src=x onerror=alert(1)&gt;" in result
    assert capsys.readouterr().out == ""  # no "<IPython.core.display.HTML object>"
    assert ipyplot._html_helpers.display is before  # ipyplot is left as it was


# ---------------------------------------------------------------- escaping and colours


def test_hostile_server_strings_are_escaped_in_every_view(tmp_path: Path) -> None:
    product = hostile_product(tmp_path)
    image = product.generated_images[0]
    path = image.url
    result = ev.TryOnResult(
        id=HOSTILE_ATTR,
        status=HOSTILE_IMG,
        images=[image],
        person_image=path,
        clothing_images=[path],
        raw={"clothingImages": [{"filePath": path, "info": HOSTILE_IMG}]},
    )
    views = [
        display.show_images(product, group_by="color"),
        display.show_images(product, group_by="image_type", layout="tabs"),
        display.show_images([(path, HOSTILE_ATTR)], title=HOSTILE_IMG),
        comparison.compare([(path, HOSTILE_IMG)], product, labels=[HOSTILE_IMG, HOSTILE_ATTR]),
        comparison.compare_product(product),
        cards.product_card(product),
        cards.image_card(image),
        cards.try_on_card(result),
        cards.job_card(try_on_job(tmp_path, clothing_info=HOSTILE_IMG, images=[image])),
    ]
    for markup in views:
        assert_inert(markup)
        assert "&lt;img src=x onerror=alert(1)&gt;" in markup


def test_only_plain_colour_words_and_hex_reach_css() -> None:
    assert display.safe_css_color("navy") == "navy"
    assert display.safe_css_color("#a0B1c2") == "#a0B1c2"
    for bad in ("red;x:y", "url(x)", "rgb(1,2,3)", "navy\n", "", "#12", "a" * 21, None, 3):
        assert display.safe_css_color(bad) is None
    product = ev.Product(id="p1", colors=["navy", "red;background:url(http://x)"])
    markup = cards.product_card(product)
    styles = [str(a.get("style")) for t, a in tags(markup) if t == "i"]
    assert styles == ["background:#d4d4d8;background:navy", "None"]
    assert "red;background:url(http://x)</span>" in markup


def test_analysis_rgb_becomes_the_swatch_colour_only_when_valid() -> None:
    analysis = {
        "dominant_colors": [
            {"name": "red", "rgb": [204, 43, 53]},
            {"name": "blue", "rgb": [1, 2, "3);x:url(y"]},
        ]
    }
    markup = cards.product_card(ev.Product(id="p", colors=["red", "blue"], ai_analysis=analysis))
    assert 'style="background:rgb(204,43,53)"' in markup
    assert 'style="background:#d4d4d8;background:blue"' in markup


def test_aspect_labels_snap_to_the_nearest_common_ratio() -> None:
    cases = {
        (256, 256): "1:1",
        (256, 192): "4:3",
        (256, 144): "16:9",
        (144, 256): "9:16",
        (171, 256): "2:3",
        (256, 110): "21:9",
        (256, 205): "5:4",
        (205, 256): "4:5",
        (256, 128): "2:1",
        (256, 90): "2.84:1",
        (90, 256): "1:2.84",
    }
    assert {size: display.aspect_label(*size) for size in cases} == cases


# ---------------------------------------------------------------- comparisons


def test_compare_puts_sources_beside_generated_images_at_one_height(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, sources = generated
    markup = comparison.compare(sources, product.generated_images[:4], height=200)
    assert_inert(markup)
    imgs = [a for t, a in tags(markup) if t == "img"]
    assert len(imgs) == 5
    assert {a["height"] for a in imgs} == {"200"}
    assert markup.index("tshirt-red.jpg") < markup.index("<b>main</b>")
    # Every picture, source included, is the 768 px one: sharp at any height, and what a
    # click opens; embedded once.
    assert decoded(str(imgs[4]["src"])).size == (768, 432)
    assert {max(decoded(str(a["src"])).size) for a in imgs} == {768}
    assert decoded(str(imgs[1]["src"])).size == (768, 768)
    assert markup.count('<details class="ev-z">') == len(imgs)
    assert all(markup.count(str(a["src"])) == 1 for a in imgs)
    # Captions wrap (nothing cuts them) and a source's says its ratio too.
    assert "<span><b>tshirt-red.jpg</b> · 1:1</span>" in markup
    assert "<span><b>facebook</b> · 16:9</span>" in markup
    for cut in ("ellipsis", "nowrap"):
        assert cut not in markup
    labelled = comparison.compare(sources[0], product.generated_images[:2], labels=["A", "B"])
    assert "<b>A</b>" in labelled and "<b>B</b>" in labelled
    with pytest.raises(ValueError, match="1 labels for 2"):
        comparison.compare(sources, product.generated_images[:2], labels=["A"])


def test_compare_product_has_one_row_per_image_type(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, sources = generated
    markup = comparison.compare_product(product, sources=sources)
    assert_inert(markup)
    rows = [
        markup.index(f'<div class="ev-k">{kind}<small>')
        for kind in ("main", "detail", "facebook", "vto")
    ]
    assert rows == sorted(rows)
    assert len(srcs(markup)) == 7
    bare = comparison.compare_product(product)
    assert "pass sources=[...]" in bare and len(srcs(bare)) == 6


def test_slider_recomposites_the_image_when_it_moves(tmp_path: Path) -> None:
    red = jpeg_file(tmp_path, "red.jpg", (400, 300), "red")
    blue = jpeg_file(tmp_path, "blue.jpg", (800, 600), "blue")
    view = comparison.compare_slider(red, blue, width=200)
    assert isinstance(view, comparison.SliderComparison)

    def pixel(x: int) -> tuple[int, ...]:
        image = Image.open(io.BytesIO(view.image.value)).convert("RGB")
        assert image.size == (200, 150)
        r, _, b = image.getpixel((x, 10))  # type: ignore[misc]
        return (r > 150, b > 150)

    assert (pixel(40), pixel(160)) == ((True, False), (False, True))
    before = view.image.value
    view.slider.value = 90
    assert view.image.value != before
    assert pixel(160) == (True, False)
    view.slider.value = 5
    assert pixel(40) == (False, True)


def test_slider_bundle_carries_the_widget_and_a_static_composite(tmp_path: Path) -> None:
    a = jpeg_file(tmp_path, "a.jpg", (300, 300), "white")
    view = comparison.compare_slider(a, tmp_path / "missing.jpg", labels=(HOSTILE_IMG, "after"))
    assert isinstance(view, comparison.SliderComparison)
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert_inert(bundle["text/html"])
    assert [decoded(u).size for u in srcs(bundle["text/html"])] == [(512, 512)]


def test_slider_without_ipywidgets_returns_the_static_composite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    a = jpeg_file(tmp_path, "a.jpg", (300, 200))
    view = comparison.compare_slider(a, a, width=300)
    assert isinstance(view, display.HTML)
    assert [decoded(u).size for u in srcs(view)] == [(300, 200)]


def test_slider_outside_jupyter_prints_and_renders_as_its_static_composite(
    tmp_path: Path,
) -> None:
    a = jpeg_file(tmp_path, "a.jpg", (300, 200), "red")
    b = jpeg_file(tmp_path, "b.jpg", (300, 200), "blue")
    view = comparison.compare_slider(a, b, width=240, labels=(HOSTILE_IMG, "after"))
    assert isinstance(view, comparison.SliderComparison)
    text = str(view)
    assert text == view._repr_html_() == str(view.static_html())
    assert_inert(text)
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    (uri,) = srcs(text)
    composite = decoded(uri).convert("RGB")
    assert composite.size == (240, 160)
    left, right = composite.getpixel((30, 80)), composite.getpixel((210, 80))
    assert left[0] > 150 > left[2] and right[2] > 150 > right[0]  # type: ignore[index]


def test_importing_the_package_loads_no_ipython_ipywidgets_or_ipyplot() -> None:
    code = (
        "import sys, ecomviz_nb, ecomviz_nb.display, ecomviz_nb.cards; "
        "print([m for m in ('IPython', 'ipywidgets', 'ipyplot') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- cards


def test_product_card_shows_name_id_swatches_facts_and_thumbnails(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, _ = generated
    markup = cards.product_card(product)
    assert_inert(markup)
    assert product.name and product.name in markup and product.id in markup
    assert markup.count('class="ev-chip"') == len(product.colors)
    assert "<dt>category guess</dt><dd>apparel</dd>" in markup
    assert len(srcs(markup)) == 6 and 'class="ev-more"' not in markup
    many = ev.Product(id="p", generated_images=product.generated_images * 3)
    crowded = cards.product_card(many)
    assert len(srcs(crowded)) == 12 and "+6 more" in crowded
    # A click opens a thumbnail to its 768 px picture, embedded once.
    assert {max(decoded(u).size) for u in srcs(markup)} == {LARGE_SIZE}
    assert markup.count("<details") == 6 and "ev-t[open]" in markup


def test_image_card_lists_type_ratio_colour_and_params(
    generated: tuple[ev.Product, list[str]],
) -> None:
    product, _ = generated
    markup = cards.image_card(product.generated_images[3])
    assert_inert(markup)
    assert "<dt>aspect ratio</dt><dd>16:9</dd>" in markup
    assert "facebook" in markup and "background:red" in markup


def test_try_on_card_shows_person_clothing_and_result(sandbox: ev.Sandbox) -> None:
    client = sandbox.client(sleep=short_sleep)
    request = ev.TryOnRequest(
        person_image_url=f"{sandbox.url}/samples/people/person-a.jpg",
        clothing=[ev.Clothing(f"{sandbox.url}/samples/garments/dress-green.png", "US9.9")],
    )
    job = client.try_on(request)
    result = job.wait(timeout=60)
    markup = cards.try_on_card(result)
    assert_inert(markup)
    assert len(srcs(markup)) == 3
    assert "ev-badge ev-ok" in markup and ">completed<" in markup
    job_markup = cards.job_card(job)
    assert "clothing 1: US9.9" in job_markup and "1 / 1 images" in job_markup
    client.close()


def try_on_job(folder: Path, *, clothing_info: str, images: list[ev.GeneratedImage]) -> TryOnJob:
    request = {
        "personImageUrl": "https://x.test/p.jpg",
        "aspectRatio": "2:3",
        "clothingImageUrls": [{"url": "https://x.test/c.jpg", "info": clothing_info}],
    }
    now = time.time()
    record = JobRecord(
        "job_t",
        "tryon",
        "https://x.test",
        HOSTILE_ATTR,
        request,
        1,
        "submitted",
        now - 75,
        now - 75,
        status=HOSTILE_IMG,
    )
    job = TryOnJob(record, source=None)
    job.images = images
    return job


def test_job_card_shows_progress_bar_elapsed_and_images_so_far(tmp_path: Path) -> None:
    image = ev.GeneratedImage(url=str(jpeg_file(tmp_path, "a.jpg", (90, 90))), file_path="a")
    now = time.time()
    record = JobRecord(
        "job_g",
        "generate",
        "https://x.test",
        "prod1",
        GENERATE.to_wire(),
        6,
        "submitted",
        now - 125,
        now - 125,
        status="generating",
    )
    job = GenerationJob(record, source=None)
    job.images = [image, image]
    markup = cards.job_card(job)
    assert_inert(markup)
    assert "Generation job" in markup and "job_g" in markup and "prod1" in markup
    assert 'style="width:33%"' in markup and "2 / 6 images · submitted · 2 min 05 s" in markup
    assert "main x2 1:1 · detail x1 4:3 · facebook x1 16:9 · vto red, navy" in markup
    assert len(srcs(markup)) == 2


# ---------------------------------------------------------------- theme colours

_HEX = re.compile(r"#[0-9a-fA-F]{3,8}\b")
_VAR_FALLBACK = re.compile(r"var\(--[a-z0-9-]+,\s*#[0-9a-fA-F]{3,8}\)")
_COLOUR_WORDS = re.compile(r"(?<![\w-])(?:white|black|grey|gray|silver)(?![\w-])")


def theme_problems(markup: str) -> list[str]:
    """Colours in the markup's style sheets that a JupyterLab theme cannot restyle."""
    sheets = re.findall(r"<style>(.*?)</style>", markup, flags=re.S)
    assert sheets, "no style sheet"
    problems = []
    for css in sheets:
        bare = _VAR_FALLBACK.sub("", css)
        problems += _HEX.findall(bare) + _COLOUR_WORDS.findall(bare)
        for name in ("color", "background", "border-color"):
            for value in re.findall(rf"(?<![\w-]){name}:([^;}}]+)", bare):
                if value.strip() not in ("none", "inherit", "transparent") and "var(" not in value:
                    problems.append(f"{name}:{value}")
    return problems


def test_every_view_takes_its_colours_from_the_jupyterlab_theme(
    generated: tuple[ev.Product, list[str]], tmp_path: Path
) -> None:
    product, sources = generated
    job = try_on_job(tmp_path, clothing_info="fits", images=product.generated_images[:1])
    views = {
        "grid": display.show_images(product, "image_type"),
        "tabs": display.show_images(product, "color", layout="tabs"),
        "product card": cards.product_card(product),
        "image card": cards.image_card(product.generated_images[0]),
        "job card": cards.job_card(job),
        "compare": comparison.compare(sources, product),
        "compare product": comparison.compare_product(product, sources=sources),
        "sweep matrix": matrix_html([], ["aspect_ratio"], [("source", sources[0])]),
        "sweep plan": plan_html([], ["aspect_ratio"], "generate"),
    }
    found = {name: theme_problems(markup) for name, markup in views.items()}
    assert found == {name: [] for name in views}
    assert "var(--jp-ui-font-color1,#1f2328)" in views["grid"]
    assert "var(--jp-layout-color1,#fff)" in views["product card"]
