"""Reports: one self-contained page that opens from disk with every image visible."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

import ecomviz_nb as ev
from ecomviz_nb.report import main_report, report_from_ledger

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.srcs: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(name)
            if name == "src":
                self.srcs.append(value or "")
            if name == "href":
                self.hrefs.append(value or "")


def sample(sb: ev.Sandbox, name: str) -> str:
    return f"{sb.url}/samples/{name}"


@pytest.fixture(scope="module")
def page(sandbox: ev.Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    client = sandbox.client(home=str(tmp_path_factory.mktemp("home")))
    urls = [sample(sandbox, "products/tshirt-red.jpg")]
    product = client.create_product(urls)
    job = client.generate(
        product.id,
        ev.GenerateRequest(
            [ev.ImageSpec("main", count=2), ev.ImageSpec("vto", colors=["blue"])],
            webhook=ev.Webhook("https://hooks.example/x", token="whsec-report-1"),
        ),
    )
    job._sleep = lambda _s: None
    product = job.wait(timeout=60)
    vto = client.try_on(
        ev.TryOnRequest(
            sample(sandbox, "people/person-a.jpg"),
            [ev.Clothing(sample(sandbox, "garments/dress-green.png"), info=HOSTILE)],
        )
    )
    vto._sleep = lambda _s: None
    vto.wait(timeout=60)
    hostile = ev.Product(
        id=product.id, name=HOSTILE, colors=[HOSTILE], generated_images=product.generated_images[:1]
    )
    report = ev.Report(f"Catalogue {HOSTILE}")
    report.add(product, sources=urls).add(job, note=HOSTILE).add(vto).add(hostile)
    return report.save(tmp_path_factory.mktemp("report") / "out" / "report.html")


def test_saved_report_has_no_script_handlers_or_external_urls(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    scan = _Scan()
    scan.feed(text)
    assert "script" not in scan.tags
    assert scan.handlers == []
    assert scan.srcs and all(src.startswith("data:image/") for src in scan.srcs)
    assert all(href.startswith("#") for href in scan.hrefs)
    assert not re.search(r"url\(\s*['\"]?https?:", text)
    assert "http://127.0.0.1" not in text
    assert "whsec-report-1" not in text


def test_saved_report_has_thumbnails_a_larger_view_and_parameters(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    scan = _Scan()
    scan.feed(text)
    assert len(scan.srcs) >= 8  # sources, 3 generated (thumb + large), a try-on row
    assert "imageType" in text and "main=2" in text  # the request's parameters
    assert "Source" in text  # the source-versus-generated section
    assert page.stat().st_size < 3_000_000


def test_saved_report_opens_from_disk_with_every_image_visible(page: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not on PATH: install Debian's chromium package"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        tab = browser.new_page(viewport={"width": 1200, "height": 900})
        requests: list[str] = []
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(page.as_uri())
        tab.wait_for_load_state("load")
        broken = tab.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"
        )
        count = tab.evaluate("document.images.length")
        pwned = tab.evaluate("window.__pwned")
        visible = tab.inner_text("body")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert count >= 8
    assert broken == 0
    assert pwned is None
    assert 'onerror="window.__pwned=1"' in visible  # shown as text
    assert all(url.startswith(("file:", "data:")) for url in requests)


def test_report_from_ledger_and_the_command_line(
    sandbox: ev.Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/mug-blue.jpg")])
    job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main")]))
    job._sleep = lambda _s: None
    job.wait(timeout=60)
    report = report_from_ledger(client, title="ledger")
    assert any(job.id in s.title for s in report.sections)

    out = tmp_path / "cli" / "report.html"
    assert main_report(["--out", str(out), "--base-url", sandbox.url]) == 0
    text = out.read_text(encoding="utf-8")
    assert job.id in text
    assert "data:image/jpeg;base64," in text
