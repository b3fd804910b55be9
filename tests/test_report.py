"""Reports: one self-contained page that opens from disk with every image visible."""

from __future__ import annotations

import base64
import html
import io
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFilter

import ecomviz_nb as ev
from ecomviz_nb.display import HTML, show_images
from ecomviz_nb.images import ImageStore
from ecomviz_nb.report import Report, report_from_ledger
from ecomviz_nb.report_safety import shareable

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://(?:localhost|127(?:\.\d{1,3}){3}|\[::1?\])")


class Scan(HTMLParser):
    """Every tag and attribute of a page, and each figure's pictures, caption and table."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.figures: list[dict[str, Any]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(name, value or "") for name, value in attrs]
        if tag == "figure":
            self.figures.append({"imgs": [], "caption": [], "cells": []})
        elif self.figures and tag == "img":
            self.figures[-1]["imgs"].append(dict(attrs)["src"])
        elif self.figures and tag in ("th", "td"):
            self._cell = self.figures[-1]["cells"]
        elif self.figures and tag == "figcaption":
            self._cell = self.figures[-1]["caption"]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td", "figcaption"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def params(self, figure: dict[str, Any]) -> dict[str, str]:
        cells = figure["cells"]
        return dict(zip(cells[::2], cells[1::2], strict=True))


def sample(sb: ev.Sandbox, name: str) -> str:
    return f"{sb.url}/samples/{name}"


def decode(uri: str) -> Image.Image:
    assert uri.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.partition(",")[2])))
    image.load()
    return image


@dataclass
class Built:
    path: Path
    report: Report


@pytest.fixture(scope="module")
def built(sandbox: ev.Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Built:
    home = tmp_path_factory.mktemp("home")
    client = sandbox.client(home=str(home))
    sources = [sample(sandbox, "products/tshirt-red.jpg")]
    product = client.create_product(sources)
    request = ev.GenerateRequest(
        [ev.ImageSpec("main", count=2, aspect_ratio="4:3"), ev.ImageSpec("vto", colors=["blue"])],
        region="eu",
        remove_brand_logo=True,
    )
    job = client.generate(product.id, request)
    job._sleep = lambda _s: None
    product = job.wait(timeout=60)
    vto = client.try_on(
        ev.TryOnRequest(
            sample(sandbox, "people/person-a.jpg"),
            [ev.Clothing(sample(sandbox, "garments/dress-green.png"), info=HOSTILE)],
            height=172,
        )
    )
    vto._sleep = lambda _s: None
    vto.wait(timeout=60)
    hostile = ev.Product(
        id=product.id, name=HOSTILE, colors=[HOSTILE], generated_images=product.generated_images
    )
    report = ev.Report(f"Spring catalogue {HOSTILE}", store=ImageStore(home / "cache"))
    report.add(product, sources=sources).add(job, note="Two main images and a blue VTO")
    report.add(vto).add(hostile, note=HOSTILE)
    report.add(HTML("<p>Checked by the catalogue team.</p>"), title=HOSTILE, note=HOSTILE)
    path = report.save(tmp_path_factory.mktemp("report") / "out" / "report.html")
    return Built(path, report)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not on PATH: install Debian's chromium package", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_saved_report_holds_no_script_handler_or_external_url(built: Built) -> None:
    text = built.path.read_text(encoding="utf-8")
    scan = Scan(text)
    assert text.startswith("<!doctype html>") and '<meta charset="utf-8">' in text
    assert not {"script", "iframe", "object", "embed", "link", "base"} & set(scan.tags)
    assert [name for name, _ in scan.attrs if name.startswith("on")] == []
    srcs = [value for name, value in scan.attrs if name == "src"]
    assert srcs and all(src.startswith("data:image/") for src in srcs)
    assert all(value.startswith("#") for name, value in scan.attrs if name == "href")
    assert not re.search(r"url\(", text), "no CSS url() at all"
    assert LOOPBACK_URL.findall(text) == [], "a sandbox address means nothing once shared"
    assert "sandbox-local" not in text


def test_each_picture_has_a_thumbnail_a_larger_view_and_its_request_parameters(
    built: Built,
) -> None:
    text = built.path.read_text(encoding="utf-8")
    scan = Scan(text)
    assert len(scan.figures) == 13  # 1 source + 3, 3, person + clothing + result, 3
    for figure in scan.figures:
        thumb, large = (decode(uri) for uri in figure["imgs"])
        assert max(thumb.size) <= 256 < max(large.size) <= 768
    _, product, job, try_on, *_ = (Scan(part) for part in text.split('<section class="evr-sec"'))
    shown = {"".join(f["caption"]): product.params(f) for f in product.figures}
    assert shown["main · red"] == {  # without a request: what the image says, ratio measured
        "type": "main",
        "aspect ratio": "4:3 (measured)",
        "colour": "red",
        "platform": "general",
        "region": "eu",
    }
    shown = {"".join(f["caption"]): job.params(f) for f in job.figures + try_on.figures}
    assert shown["main · red"] == {
        "type": "main",
        "aspect ratio": "4:3",
        "colour": "red",
        "platform": "general",
        "region": "eu",
        "language": "org_text",
        "flags": "remove logo",
    }
    assert shown["vto · blue"]["colour"] == "blue"
    assert shown["vto · blue"]["aspect ratio"].endswith("(measured)")
    assert shown["Clothing 1"]["info"] == HOSTILE
    result = shown["Result"]
    assert result["aspect ratio"] == "2:3" and result["height"] == "172 cm"
    assert result["watermark"] == "yes"


def test_sources_sit_beside_the_generated_images(built: Built) -> None:
    text = built.path.read_text(encoding="utf-8")
    product = text.split('<section class="evr-sec"')[1]
    assert product.index("<h3>Source<small>1</small></h3>") < product.index(
        "<h3>Generated<small>3</small></h3>"
    )
    assert "tshirt-red.jpg</figcaption>" in product
    try_on = text.split('<section class="evr-sec"')[3]
    heads = re.findall(r"<h3>(\w+)<small>(\d+)</small></h3>", try_on)
    assert heads == [("Person", "1"), ("Clothing", "1"), ("Result", "1")]


def test_hostile_strings_stay_text_in_the_file(built: Built) -> None:
    text = built.path.read_text(encoding="utf-8")
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = escaped.replace('"', "&quot;")
    assert "<script" not in text and "<img src=x" not in text
    assert text.count(escaped) >= 8  # titles, contents, notes, colours, clothing info


def test_saved_report_opens_from_disk_with_every_image_visible(built: Built, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(built.path.as_uri(), wait_until="load")
    state = page.evaluate(
        """() => ({
            count: document.images.length,
            broken: Array.from(document.images)
                .filter((i) => !(i.complete && i.naturalWidth > 0)).length,
            pwned: typeof window.__pwned,
            text: document.body.innerText,
        })"""
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    page.locator("summary").first.click()
    zoom = page.locator("details[open] .evr-z img")
    zoom.wait_for(state="visible")
    box = zoom.bounding_box()
    page.screenshot(path=str(ARTIFACTS / "report-enlarged.png"))
    page.close()
    assert state["count"] == 26 and state["broken"] == 0
    assert state["pwned"] == "undefined"
    assert HOSTILE in state["text"], "the hostile strings show as text"
    assert all(url.startswith(("file:", "data:")) for url in requests)
    assert box is not None and box["width"] > 400, "a click opens the larger view"


def test_inline_view_shows_the_thumbnails_only(built: Built) -> None:
    inline = built.report._repr_html_()
    scan = Scan(inline)
    assert len(scan.figures) == 13 and all(len(f["imgs"]) == 1 for f in scan.figures)
    assert "<details" not in inline and "script" not in scan.tags
    assert len(inline) < len(built.path.read_text(encoding="utf-8")) / 2


def test_an_html_fragment_that_could_run_or_load_anything_is_refused(tmp_path: Path) -> None:
    report = Report("fragments", store=ImageStore(tmp_path))
    for markup in (
        "<script>alert(1)</script>",
        '<img src="https://example.com/a.png">',
        '<a href="http://example.com/">more</a>',
        '<div onclick="alert(1)">x</div>',
        '<div style="background:url(https://example.com/a.png)">x</div>',
        '<a href="javascript:alert(1)">x</a>',
        '<iframe srcdoc="x"></iframe>',
    ):
        with pytest.raises(ValueError, match="no script and no external URL"):
            report.add(HTML(markup))
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(picture, "PNG")
    grid = show_images([(picture.getvalue(), HOSTILE)], store=ImageStore(tmp_path))
    assert report.add(grid, title="A grid") is report  # escaped text is no threat
    assert report.sections[0].fragment == str(grid)


def test_add_refuses_an_unknown_item(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot add a int"):
        Report("x", store=ImageStore(tmp_path)).add(42)


def test_an_unreachable_image_becomes_a_placeholder(tmp_path: Path) -> None:
    report = Report("offline", store=ImageStore(tmp_path / "cache"))
    report.add(["http://127.0.0.1:9/missing.jpg"], note="the server is gone")
    text = report.save(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "image unavailable" in text and "missing.jpg" in text
    assert "<img" not in text
    assert LOOPBACK_URL.findall(text) == []


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("see http://127.1:8787/samples/a.png.", "see (local server)/samples/a.png."),
        ("http://app.localhost:9/x.jpg", "(local server)/x.jpg"),
        ("http://[::ffff:127.0.0.1]:80/a", "(local server)/a"),
        ("ws://2130706433/feed", "(local server)/feed"),
        ("HTTP://0x7f.1/a", "(local server)/a"),
        ("http://[::]:1/ and http://0.0.0.0:2/", "(local server)/ and (local server)/"),
        ("(http://user:pw@localhost.:8787)", "((local server))"),
    ],
)
def test_every_address_is_local_server_calls_local_is_masked(text: str, shown: str) -> None:
    assert shareable(text) == html.escape(shown, quote=True)


@pytest.mark.parametrize(
    "text",
    [
        "https://ecomviz.cloud/a.png",
        "http://10.0.0.5:8787/x",
        "http://192.168.1.2/x",
        "http://127.0.0.1.nip.io/x",
        "http://sandbox/x",
        "http://:80/x",
        "http://[zz/x",
    ],
)
def test_other_urls_stay_whole_in_report_text(text: str) -> None:
    assert shareable(text) == html.escape(text, quote=True)


def test_a_saved_report_shows_no_local_server_the_loopback_regex_would_miss(
    tmp_path: Path,
) -> None:
    hosts = ("127.1:8787", "app.localhost:8787", "[::ffff:127.0.0.1]:8787")
    report = Report("local names", store=ImageStore(tmp_path / "cache"))
    report.add(
        [f"http://{hosts[0]}/gone.jpg"], note=f"from http://{hosts[1]}/ and http://{hosts[2]}/"
    )
    text = report.save(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "gone.jpg" in text and "(local server)" in text
    assert [host for host in hosts if host in text] == []


def _photo(seed: int) -> bytes:
    """A busy 1200 px photo-like JPEG: coloured shapes on a gradient, with grain."""
    rnd = random.Random(seed)
    image = Image.linear_gradient("L").resize((1200, 1200)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, r = rnd.randrange(1200), rnd.randrange(1200), rnd.randrange(20, 300)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rnd.randrange(256), 90, 160))
    grain = Image.effect_noise((1200, 1200), 60).convert("RGB")
    image = Image.blend(image.filter(ImageFilter.GaussianBlur(3)), grain, 0.25)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def test_a_twenty_image_report_stays_under_two_megabytes(tmp_path: Path) -> None:
    photos = [_photo(seed) for seed in range(20)]
    assert sum(map(len, photos)) > 8_000_000
    report = Report("twenty photos", store=ImageStore(tmp_path / "cache")).add(photos)
    path = report.save(tmp_path / "twenty.html")
    assert report.sections[0].image_count == 20
    assert path.stat().st_size < 2_000_000
    sizes = [decode(uri).size for f in Scan(path.read_text()).figures for uri in f["imgs"][1:]]
    assert len(sizes) == 20 and all(max(size) >= 500 for size in sizes)


def _run_jobs(sandbox: ev.Sandbox) -> tuple[Any, Any, Any]:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/mug-blue.jpg")])
    job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=1)]))
    job._sleep = lambda _s: None
    job.wait(timeout=60)
    vto = client.try_on(
        ev.TryOnRequest(
            sample(sandbox, "people/person-a.jpg"),
            [ev.Clothing(sample(sandbox, "garments/dress-green.png"))],
        )
    )
    vto._sleep = lambda _s: None
    vto.wait(timeout=60)
    return client, job, vto


def test_report_from_ledger_shows_each_job_and_says_why_one_cannot_be_fetched(
    sandbox: ev.Sandbox, tmp_path: Path
) -> None:
    client, job, vto = _run_jobs(sandbox)
    ledger = client.jobs.ledger
    gone = ledger.add(
        kind="generate", base_url=client.base_url, request={}, expected=1, remote_id="no-such-1"
    )
    ledger.update(gone.id, state="submitted")
    rejected = ledger.add(kind="tryon", base_url=client.base_url, request={}, expected=1)
    ledger.update(rejected.id, state="rejected", message=HOSTILE)

    report = report_from_ledger(client, title="Ledger")

    titles = [s.title for s in report.sections]
    assert titles == [
        f"Try-on {rejected.id}",
        f"Generation {gone.id}",
        f"Try-on {vto.id}",
        f"Generation {job.id}",
    ]
    assert report.sections[0].error and HOSTILE in report.sections[0].error
    assert report.sections[1].error and "Could not be fetched" in report.sections[1].error
    assert [s.image_count for s in report.sections] == [0, 0, 3, 1]
    text = report.save(tmp_path / "ledger.html").read_text(encoding="utf-8")
    assert "<script" not in text and "window.__pwned" in text


def test_report_from_ledger_takes_a_title_and_the_newest_jobs_and_keeps_the_token_out(
    sandbox: ev.Sandbox, tmp_path: Path
) -> None:
    client, job, vto = _run_jobs(sandbox)
    newest = report_from_ledger(client, title="Nightly <jobs>", limit=1)
    assert [s.title for s in newest.sections] == [f"Try-on {vto.id}"]
    every = report_from_ledger(client, limit=None)
    titles = [s.title for s in every.sections]
    assert titles.index(f"Try-on {vto.id}") < titles.index(f"Generation {job.id}")
    assert every.title == "EcomViz jobs"
    out = newest.save(tmp_path / "nightly" / "report.html")
    text = out.read_text(encoding="utf-8")
    assert "Nightly &lt;jobs&gt;" in text and "Nightly <jobs>" not in text
    assert "data:image/jpeg;base64," in text
    assert "sandbox-local" not in text and "sandbox-local" not in newest._repr_html_()


def test_report_from_ledger_of_another_server_needs_all_servers(
    sandbox: ev.Sandbox, tmp_path: Path
) -> None:
    client, job, _ = _run_jobs(sandbox)
    elsewhere = client.jobs.ledger.add(
        kind="generate", base_url="https://elsewhere.test", request={}, expected=1
    )
    client.jobs.ledger.update(elsewhere.id, state="rejected", message="refused there")
    mine = [s.title for s in report_from_ledger(client, limit=None).sections]
    assert f"Generation {job.id}" in mine and f"Generation {elsewhere.id}" not in mine
    every = report_from_ledger(client, limit=None, all_servers=True)
    (section,) = [s for s in every.sections if s.title == f"Generation {elsewhere.id}"]
    assert section.error and "refused there" in section.error and section.image_count == 0


# ---------------------------------------------------------------- theme colours

_HEX = re.compile(r"#[0-9a-fA-F]{3,8}\b")
_VAR_FALLBACK = re.compile(r"var\(--[a-z0-9-]+,\s*#[0-9a-fA-F]{3,8}\)")


def test_report_colours_are_theme_variables_with_light_fallbacks(built: Built) -> None:
    page = built.path.read_text(encoding="utf-8")
    inline = built.report._repr_html_()
    for markup in (page, inline):
        (css,) = re.findall(r"<style>(.*?)</style>", markup, flags=re.S)[:1]
        assert _HEX.findall(_VAR_FALLBACK.sub("", css)) == []
        declared = re.findall(r"(?<![\w-])color:([^;}]+)", css)
        assert declared and all("var(--" in v or v == "inherit" for v in declared), declared
    assert "color:var(--jp-ui-font-color1,#1f2328)" in page
    assert "background:var(--jp-layout-color1,#fff)" in page
