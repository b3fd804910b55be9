"""Injected markup: every string a server sends shows as text, in every view, and runs nothing.

A sandbox with ``Faults.hostile`` on appends ``HOSTILE_MARKUP`` (an ``<img onerror>`` and a
``<script>``) to every string it makes up: product names, colours, analysis values and keys,
generated images' ``filePath`` (in a query, so they still load), generation params, echoed
clothing info, messages, error messages and webhook payloads. Each view the package draws from
such data (grids, cards, comparisons, panels' results and errors, sweep matrices, batch grids,
reports, the webhook inbox) is parsed with ``html.parser``: no ``<script>``, no ``on*``
attribute, no ``javascript:`` URL, every picture embedded, and the hostile text present as text.
A last test renders those views in JupyterLab in Chromium and checks that no payload ran,
against control cells proving that the same page runs such markup when it is not escaped.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import ipywidgets as widgets
import pytest
import test_browser
from support import set_faults, walk
from test_browser import Session, poll

import ecomviz_nb as ev
from ecomviz_nb.images import ImageStore
from ecomviz_nb.report import report_from_ledger
from ecomviz_nb.runs.progress import WidgetProgress
from ecomviz_nb.sandbox.settings import HOSTILE_MARKUP

# JupyterLab and Chromium as tests/test_browser.py starts them (a lab of this module's own).
lab, browser, session = test_browser.lab, test_browser.browser, test_browser.session

MARK = "<script>window.__ev_pwned=1</script>"
"""The part of the payload every view must show as text (it survives JSON encoding too)."""
MISSING_ID = "0123456789abcdef01234567"
"""A well-formed product id the sandbox does not hold: every request on it is a hostile 404."""
PRODUCT = "/samples/products/tshirt-red.jpg"
PERSON = "/samples/people/person-a.jpg"
GARMENT = "/samples/garments/dress-green.png"
MISSING_SAMPLE = "/samples/products/no-such-sample.jpg"
"""A source the sandbox cannot read: creating a product from it is a hostile 400."""
_URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href"}
_RUNNABLE = {"script", "iframe", "frame", "object", "embed", "applet", "base", "link", "form"}


# ---------------------------------------------------------------- scanning markup


class _Scan(HTMLParser):
    """What a browser would build from the markup: tags that run code, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []
        self.attr_text: list[str] = []

    def _where(self) -> str:
        line, col = self.getpos()
        return f"line {line} col {col}: {self.get_starttag_text()!r:.160}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _RUNNABLE or (tag == "meta" and any(n == "http-equiv" for n, _ in attrs)):
            self.problems.append(f"<{tag}> at {self._where()}")
        for name, value in attrs:
            text = value or ""
            self.attr_text.append(text)
            squeezed = re.sub(r"[\s\x00-\x1f]+", "", html.unescape(text)).lower()
            if name.startswith("on"):
                self.problems.append(f"{name}= at {self._where()}")
            if name in _URL_ATTRS and squeezed.startswith(("javascript:", "vbscript:")):
                self.problems.append(f"{name}={text[:40]!r} at {self._where()}")
            if tag == "img" and name == "src" and not squeezed.startswith("data:image/"):
                self.problems.append(
                    f"an <img> not embedded (src={text[:40]!r}) at {self._where()}"
                )
            if name == "style" and "javascript:" in squeezed:
                self.problems.append(f"a javascript: style at {self._where()}")

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@dataclass
class Scan:
    problems: list[str]
    text: str
    attrs: str


def scan(markup: str) -> Scan:
    parser = _Scan()
    parser.feed(markup)
    parser.close()
    return Scan(parser.problems, "".join(parser.text), "\n".join(parser.attr_text))


Shown = Literal["text", "attribute", "any"]


def assert_inert(markup: str, where: str, shown: Shown = "text") -> None:
    """No runnable markup; the hostile text shown as ``text``, in an ``attribute``, or (``any``)
    not necessarily at all (a view that shows no server string)."""
    found = scan(markup)
    assert markup.strip(), f"{where}: empty view"
    assert not found.problems, f"{where}: runnable markup: " + "; ".join(found.problems[:5])
    if shown == "text":
        assert MARK in found.text, f"{where}: the hostile string is not shown as text"
    elif shown == "attribute":
        assert MARK in found.text or MARK in found.attrs, f"{where}: the hostile string is lost"


def test_the_scan_catches_unescaped_payloads() -> None:
    """The checks can fail: raw payloads, a javascript: link, a remote picture."""
    for bad in (
        f"<div>{HOSTILE_MARKUP}</div>",
        '<a href=" JavaScript:alert(1)">x</a>',
        '<img src="https://example.com/a.jpg">',
        "<svg><g onload=alert(1)></g></svg>",
    ):
        assert scan(bad).problems, bad
    safe = f"<div title='{html.escape(HOSTILE_MARKUP)}'>{html.escape(HOSTILE_MARKUP)}</div>"
    assert not scan(safe).problems
    assert MARK in scan(safe).text


# ---------------------------------------------------------------- the hostile world


@dataclass
class World:
    """A hostile sandbox and what was made on it (module-wide: the views only read it)."""

    sandbox: ev.Sandbox
    client: ev.Client
    store: ImageStore
    inbox: ev.WebhookInbox
    product: ev.Product
    job: ev.GenerationJob
    try_on_job: ev.TryOnJob
    try_on: ev.TryOnResult
    sweep: ev.SweepResult
    failed_sweep: ev.SweepResult
    batch: ev.BatchResult
    rejected: ev.APIError

    def url(self, path: str) -> str:
        return self.sandbox.url + path


def hostile_on(sandbox: ev.Sandbox) -> None:
    assert set_faults(sandbox, hostile=True)["faults"]["hostile"] is True


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("hostile-home")
    with ev.Sandbox(port=0, job_seconds=0) as sb, ev.WebhookInbox() as inbox:
        hostile_on(sb)
        client = sb.client(home=str(home))
        store = ImageStore(home / "images")
        product = client.create_product([sb.url + PRODUCT])
        assert product.name and product.name.endswith(HOSTILE_MARKUP), product
        request = ev.GenerateRequest(
            [
                ev.ImageSpec("main"),
                ev.ImageSpec("detail"),
                ev.ImageSpec("vto", colors=product.colors[:1]),
            ],
            webhook=inbox.webhook(),
        )
        job = client.generate(product.id, request)
        job.wait(timeout=60)  # ends on its webhook
        assert len(job.images) == 3
        product = client.get_product(product.id)  # name, colours and images, as polled
        try_on_job = client.try_on(
            ev.TryOnRequest(
                sb.url + PERSON,
                [ev.Clothing(sb.url + GARMENT, "price US9.9")],
                webhook=inbox.webhook(),
            )
        )
        try_on_job.wait(timeout=60)  # ends on its webhook, which leaves the sources out
        try_on = client.get_try_on(try_on_job.vto_id)
        one_main = ev.GenerateRequest([ev.ImageSpec("main")])
        sweep = ev.sweep(
            client,
            product,
            one_main,
            vary={"platform": ["general", "amazon"]},
            sources=[sb.url + PRODUCT],
            progress=False,
        )
        failed_sweep = ev.sweep(
            client, MISSING_ID, one_main, vary={"platform": ["general", "amazon"]}, progress=False
        )
        items = [
            {"label": "good", "image_urls": sb.url + PRODUCT},
            {"label": "unreadable", "image_urls": sb.url + MISSING_SAMPLE},
        ]
        batch = ev.batch(client, items, one_main, name="hostile", progress=False)
        with pytest.raises(ev.APIError) as rejected:  # kept in the ledger as rejected
            client.try_generate(ev.Product(id=MISSING_ID), one_main)
        assert isinstance(sweep, ev.SweepResult) and isinstance(failed_sweep, ev.SweepResult)
        assert len(inbox) >= 2, inbox.deliveries
        yield World(
            sb,
            client,
            store,
            inbox,
            product,
            job,
            try_on_job,
            try_on,
            sweep,
            failed_sweep,
            batch,
            rejected.value,
        )
        client.close()
        store.close()


def test_the_hostile_sandbox_spoils_every_string_it_makes_up(world: World) -> None:
    product = world.client.get_product(world.product.id)
    assert product.name and HOSTILE_MARKUP in product.name
    assert all(HOSTILE_MARKUP in c for c in product.colors)
    assert HOSTILE_MARKUP in product.ai_analysis  # a key
    assert HOSTILE_MARKUP in str(product.ai_analysis["category_guess"])
    image = product.generated_images[0]
    assert image.file_path.endswith("?note=" + HOSTILE_MARKUP)
    assert HOSTILE_MARKUP in str(image.params["model"])
    assert HOSTILE_MARKUP in world.try_on.raw["clothingImages"][0]["info"]
    assert world.try_on.images[0].file_path.endswith(HOSTILE_MARKUP)
    assert HOSTILE_MARKUP in (world.job.record.message or "")
    assert HOSTILE_MARKUP in world.rejected.message
    assert all(HOSTILE_MARKUP in d["payload"]["message"] for d in world.inbox.deliveries)
    assert all(HOSTILE_MARKUP in (run.error or "") for run in world.failed_sweep.runs)
    [unreadable] = world.batch.failed
    assert HOSTILE_MARKUP in (unreadable.error or "")
    # The pictures still load: the markup sits in a query string.
    pics = world.store.data_uris([i.url for i in world.job.images] + [world.try_on.images[0].url])
    assert all(isinstance(p, str) and p.startswith("data:image/jpeg") for p in pics), pics


# ---------------------------------------------------------------- views drawn from data


def _ipyplot(w: World, **options: Any) -> str:
    """What ``show_images(engine="ipyplot")`` returns outside a kernel: ipyplot's own markup."""
    return str(ev.show_images(w.job.images, engine="ipyplot", store=w.store, **options))


def _sweep_progress(w: World) -> str:
    """The progress table a sweep shows in a kernel, for runs that failed with hostile errors."""
    with mock.patch("IPython.display.display"):
        view = WidgetProgress(w.failed_sweep)
    view.close(w.failed_sweep)
    return str(view.table.value)


def _report(w: World) -> ev.Report:
    report = ev.Report(f"Hostile {w.product.name}", store=w.store)
    report.add(w.product, sources=[w.url(PRODUCT)])
    report.add(w.job).add(w.try_on_job).add(w.try_on).add(w.sweep).add(w.failed_sweep)
    report.add(w.batch).add(w.product.generated_images[0])
    return report


VIEWS: dict[str, tuple[Callable[[World], str], Shown]] = {
    "show_images-tabs-by-colour": (
        lambda w: ev.show_images(w.product, group_by="color", layout="tabs", store=w.store),
        "text",
    ),
    "show_images-sections-by-model": (
        lambda w: ev.show_images(w.job.images, group_by="model", store=w.store),
        "text",
    ),
    "show_images-try-on": (lambda w: ev.show_images(w.try_on, store=w.store), "any"),
    "show_images-ipyplot": (lambda w: _ipyplot(w), "text"),
    "show_images-ipyplot-tabs": (lambda w: _ipyplot(w, group_by="color", layout="tabs"), "text"),
    "product_card": (lambda w: ev.product_card(w.product, store=w.store), "text"),
    "image_card": (lambda w: ev.image_card(w.product.generated_images[0], store=w.store), "text"),
    "image_card-vto": (lambda w: ev.image_card(w.job.images[-1], store=w.store), "text"),
    "try_on_card": (lambda w: ev.try_on_card(w.try_on, store=w.store), "text"),
    "try_on_card-hostile-status": (  # (statuses stay plain in the sandbox: jobs end on them)
        lambda w: ev.try_on_card(
            dataclasses.replace(w.try_on, status="failed" + HOSTILE_MARKUP), store=w.store
        ),
        "text",
    ),
    "job_card-generation": (lambda w: ev.job_card(w.job, store=w.store), "attribute"),
    "job_card-try-on": (lambda w: ev.job_card(w.try_on_job, store=w.store), "any"),
    "compare": (
        lambda w: ev.compare(w.url(PRODUCT), w.product.generated_images, store=w.store),
        "text",
    ),
    "compare_product": (
        lambda w: ev.compare_product(w.product, sources=[w.url(PRODUCT)], store=w.store),
        "text",
    ),
    "sweep-matrix": (lambda w: w.sweep.matrix_html(), "text"),
    "sweep-matrix-failed-runs": (lambda w: w.failed_sweep.matrix_html(), "text"),
    "sweep-progress-widget": (_sweep_progress, "text"),
    "batch-result": (lambda w: w.batch._repr_html_(), "text"),
    "report-page": (lambda w: _report(w).to_html(), "text"),
    "report-inline": (lambda w: _report(w)._repr_html_(), "text"),
    "report-from-ledger": (lambda w: report_from_ledger(w.client).to_html(), "text"),
    "webhook-inbox": (lambda w: w.inbox._repr_html_(), "text"),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_show_server_strings_as_text(world: World, name: str) -> None:
    draw, shown = VIEWS[name]
    assert_inert(str(draw(world)), name, shown)


def test_a_report_shows_a_sweep_whose_server_errors_mention_javascript(world: World) -> None:
    sweep = ev.sweep(
        world.client,
        MISSING_ID,
        ev.GenerateRequest([ev.ImageSpec("main")]),
        vary={"platform": ["general", "amazon"]},
        progress=False,
    )
    assert isinstance(sweep, ev.SweepResult)
    for run in sweep.runs:  # as a server could word it
        run.error = f"{run.error} (see javascript: links and url( in our docs)"
    assert_inert(sweep.matrix_html(), "the matrix itself")  # escaped: fine

    page = ev.Report("Sweep", store=world.store).add(sweep).to_html()

    assert_inert(page, "report of a sweep whose errors mention javascript:")
    assert "see javascript: links" in html.unescape(page)


# ---------------------------------------------------------------- panels: results and errors


def panel_markup(panel: ev.GeneratePanel | Any) -> str:
    """What the panel renders as HTML: its HTML widgets and its saved snapshot."""
    parts = [w.value for w in walk(panel) if isinstance(w, widgets.HTML)]
    return "\n".join([*parts, panel.snapshot_html()])


async def finish(panel: Any) -> None:
    assert panel.task is not None, panel.status.value
    await panel.task


async def test_generate_panel_results_and_errors(world: World) -> None:
    panel = ev.GeneratePanel(world.client, world.product, sources=[PRODUCT])
    panel.vto_enabled.value = True  # the product's hostile colours, sent back as VTO colours
    panel.generate()
    await finish(panel)
    assert "Done: 3 images." in panel.status.value, panel.status.value  # main, 2 colours
    assert_inert(panel_markup(panel), "GeneratePanel results")

    failing = ev.GeneratePanel(world.client, MISSING_ID)
    failing.generate()
    await finish(failing)
    assert "HTTP 404" in failing.status.value
    assert_inert(panel_markup(failing), "GeneratePanel error")


async def test_try_on_panel_results_and_errors(world: World) -> None:
    panel = ev.TryOnPanel(world.client, person_url=PERSON, clothing=[(GARMENT, "price US9.9")])
    panel.try_on()
    await finish(panel)
    assert "is completed" in panel.status.value, panel.status.value
    assert_inert(panel_markup(panel), "TryOnPanel results", shown="any")

    failing = ev.TryOnPanel(world.client, person_url=MISSING_SAMPLE, clothing=[(GARMENT, "")])
    failing.try_on()
    await finish(failing)
    assert "HTTP 400" in failing.status.value, failing.status.value
    assert_inert(panel_markup(failing), "TryOnPanel error")


async def test_product_panel_results_and_errors(world: World) -> None:
    panel = ev.ProductPanel(world.client, [PRODUCT])
    panel.create()
    await finish(panel)
    assert panel.product is not None
    assert_inert(panel_markup(panel), "ProductPanel card")

    failing = ev.ProductPanel(world.client, [MISSING_SAMPLE])
    failing.create()
    await finish(failing)
    assert "HTTP 400" in failing.status.value, failing.status.value
    assert_inert(panel_markup(failing), "ProductPanel error")


async def test_jobs_panel_lists_hostile_jobs(world: World, tmp_path: Path) -> None:
    panel = ev.JobsPanel(world.client)
    assert "<tr><td>" in panel.table.value
    assert_inert(panel_markup(panel), "JobsPanel table", shown="any")

    # The sandbox keeps statuses plain (jobs end on them); a server could send any status.
    client = world.sandbox.client(home=str(tmp_path))
    job = client.try_on(ev.TryOnRequest(world.url(PERSON), [world.url(GARMENT)]))
    job.wait(timeout=60)
    client.ledger.update(job.id, status="completed" + HOSTILE_MARKUP)
    assert_inert(panel_markup(ev.JobsPanel(client)), "JobsPanel with a hostile status")
    client.close()


async def test_sweep_panel_results_and_errors(world: World) -> None:
    panel = ev.SweepPanel(world.client, world.product, sources=[PRODUCT])
    panel.axes["aspect_ratio"].value = ("1:1",)  # two runs: general, amazon
    panel.start()
    await finish(panel)
    assert "2 of 2 runs completed" in panel.status.value, panel.status.value
    assert_inert(panel_markup(panel), "SweepPanel matrix")

    failing = ev.SweepPanel(world.client, MISSING_ID)
    failing.axes["aspect_ratio"].value = ("1:1",)
    failing.start()
    await finish(failing)
    assert "2 failed" in failing.status.value, failing.status.value
    assert_inert(panel_markup(failing), "SweepPanel errors")


async def test_batch_panel_grid_and_failures(world: World, tmp_path: Path) -> None:
    csv = tmp_path / "catalogue.csv"
    csv.write_text(
        f"label,image_urls\ngood,{world.url(PRODUCT)}\nunreadable,{world.url(MISSING_SAMPLE)}\n",
        encoding="utf-8",
    )
    panel = ev.BatchPanel(world.client, name="hostile-panel")
    panel.csv_path.value = str(csv)
    panel.start()
    await finish(panel)
    assert panel.result is not None and len(panel.result.failed) == 1, panel.status.value
    assert_inert(panel_markup(panel), "BatchPanel grid and failures")


# ---------------------------------------------------------------- in a browser

SETUP_CELL = f"""
import pathlib
import httpx
import ecomviz_nb as ev
sb = ev.Sandbox(port=0, job_seconds=0).start()
httpx.put(f"{{sb.url}}/_sandbox/config", json={{"hostile": True}}).raise_for_status()
client = sb.client()
inbox = ev.WebhookInbox()
SRC = sb.url + {PRODUCT!r}
product = client.create_product([SRC])
request = ev.GenerateRequest(
    [ev.ImageSpec("main"), ev.ImageSpec("vto", colors=product.colors[:1])], webhook=inbox.webhook()
)
job = client.generate(product.id, request)
job.wait(timeout=60)
product = client.get_product(product.id)
vto = client.try_on(ev.TryOnRequest(sb.url + {PERSON!r}, [ev.Clothing(sb.url + {GARMENT!r}, "x")]))
vto.wait(timeout=60)
tryon = client.get_try_on(vto.vto_id)
one = ev.GenerateRequest([ev.ImageSpec("main")])
# Progress widgets (sweeps, batch) show under this cell, the failed runs' hostile errors too.
sweep = ev.sweep(client, product, one, vary={{"platform": ["general", "amazon"]}}, sources=[SRC])
failed = ev.sweep(client, {MISSING_ID!r}, one, vary={{"platform": ["general", "amazon"]}})
bad = sb.url + {MISSING_SAMPLE!r}
batch = ev.batch(client, [dict(label="ok", image_urls=SRC), dict(label="bad", image_urls=bad)], one)
report = ev.Report("Hostile").add(product, sources=[SRC]).add(job).add(vto).add(sweep)
report.add(failed).add(batch).save("hostile-report.html")
pathlib.Path("hostile.csv").write_text(f"label,image_urls\\nok,{{SRC}}\\nbad,{{bad}}\\n")
"""


def _panel(make: str, *lines: str) -> str:
    return "\n".join([f"p = {make}", *lines, "p.task is not None and await p.task", "p"])


VIEW_CELLS: list[tuple[str, bool]] = [
    # (cell, whether its output must show the hostile text)
    ("ev.show_images(product, group_by='color', layout='tabs')", True),
    ("ev.show_images(job.images, group_by='model')", True),
    ("product", True),  # the cards: importing ecomviz_nb registered them
    ("product.generated_images[0]", True),
    ("tryon", True),
    ("job", False),  # thumbnails: the hostile params are in their hover titles
    ("ev.compare(SRC, product.generated_images)", True),
    ("ev.compare_product(product, sources=[SRC])", True),
    ("sweep", True),
    ("failed", True),
    ("batch", True),
    ("report", True),
    ("inbox", True),
    (
        _panel(
            "ev.GeneratePanel(client, product, sources=[SRC])",
            "p.vto_enabled.value = True",
            "p.generate()",
        ),
        True,
    ),
    (_panel(f"ev.GeneratePanel(client, {MISSING_ID!r})", "p.generate()"), True),
    (
        _panel(
            f"ev.TryOnPanel(client, person_url={PERSON!r}, clothing=[({GARMENT!r}, 'x')])",
            "p.try_on()",
        ),
        False,
    ),
    (
        _panel(
            f"ev.TryOnPanel(client, person_url={MISSING_SAMPLE!r}, clothing=[({GARMENT!r}, '')])",
            "p.try_on()",
        ),
        True,
    ),
    (_panel(f"ev.ProductPanel(client, [{PRODUCT!r}])", "p.create()"), True),
    (_panel(f"ev.ProductPanel(client, [{MISSING_SAMPLE!r}])", "p.create()"), True),
    ("ev.JobsPanel(client)", False),
    (
        _panel(
            "ev.SweepPanel(client, product)", "p.axes['aspect_ratio'].value = ('1:1',)", "p.start()"
        ),
        True,
    ),
    (
        _panel(
            f"ev.SweepPanel(client, {MISSING_ID!r})",
            "p.axes['aspect_ratio'].value = ('1:1',)",
            "p.start()",
        ),
        True,
    ),
    (
        _panel(
            "ev.BatchPanel(client, name='hostile-panel')",
            "p.csv_path.value = 'hostile.csv'",
            "p.start()",
        ),
        True,
    ),
]
# The same page runs such markup when it is not escaped: in a widget, in an output, as a script.
CONTROL_CELLS = [
    "import ipywidgets\nipywidgets.HTML('<img src=y1 onerror=\"window.__ev_control_widget=1\">')",
    "from IPython.display import HTML\n"
    "HTML('<img src=y2 onerror=\"window.__ev_control_output=1\">')",
    "HTML('<script>window.__ev_control_script=1</script>')",
    "pathlib.Path('control.html').write_text('<img src=y3 onerror=\"window.__ev_control=1\">')",
]
CONTROLS = "['widget', 'output', 'script'].every(k => window['__ev_control_' + k] === 1)"


def test_no_payload_runs_in_jupyterlab(session: Session) -> None:
    session.run_notebook([SETUP_CELL, *(cell for cell, _ in VIEW_CELLS), *CONTROL_CELLS])
    page = session.page
    poll(page, "the control payloads to run", lambda: page.evaluate(CONTROLS))
    page.wait_for_timeout(500)  # injected <img>s would have failed to load by now too

    assert page.evaluate("typeof window.__ev_pwned") == "undefined", "a payload ran"
    assert page.locator('img[src="x"]').count() == 0, "an injected <img> is in the page"
    scripts = page.evaluate(
        "[...document.scripts].filter(s => s.textContent.includes('__ev_pwned')).length"
    )
    assert scripts == 0, "an injected <script> is in the page"
    cells = page.locator(".jp-Notebook .jp-Cell")
    assert MARK in cells.nth(0).locator(".jp-OutputArea").inner_text()  # progress widgets
    for index, (cell, shows) in enumerate(VIEW_CELLS, start=1):
        text = cells.nth(index).locator(".jp-OutputArea").inner_text()
        assert text.strip(), f"cell {index} ({cell.splitlines()[0]}) shows nothing"
        assert not shows or MARK in text, f"cell {index} ({cell.splitlines()[0]}): no hostile text"
    session.screenshot(None, "hostile-notebook")

    # The saved report as a page of its own; a control page proves such a page runs markup.
    other = page.context.new_page()
    other.goto(f"{session.lab.url}/files/control.html?token={session.lab.token}")
    poll(other, "the control page's payload", lambda: other.evaluate("window.__ev_control === 1"))
    other.goto(f"{session.lab.url}/files/hostile-report.html?token={session.lab.token}")
    other.wait_for_timeout(500)
    assert other.evaluate("typeof window.__ev_pwned") == "undefined", "the report ran a payload"
    assert other.locator('img[src="x"]').count() == 0
    assert MARK in other.locator("body").inner_text()
    session.assert_only_loopback_traffic()
