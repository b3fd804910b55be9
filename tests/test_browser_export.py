"""An exported notebook, opened from disk in Chromium with the network cut, shows every panel.

A notebook of panels (product, generate, try-on, sweep, jobs, and a plain ipywidgets box) is
executed in a real kernel the way ``test_notebooks`` runs the demo notebooks (no token, a
sandbox inside the kernel), written to one page by ``ecomviz-nb export``, and loaded as
``file://`` with every request that is not ``file:`` or ``data:`` aborted and recorded. The
committed panel notebook (``02_generate_panel``) goes the same way. Chromium is Debian's.

Then JupyterLab itself (``test_browser``'s server): a notebook the user trusts (one they saved)
prefers the widget to the snapshot. Reopened with a fresh kernel, a live panel is drawn only
from saved widget state, and without it JupyterLab says "model not found"; a panel that was
closed left only its snapshot, which shows either way.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.sign import NotebookNotary
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from playwright.sync_api import Browser, Route, sync_playwright
from test_browser import VIEWPORT, Lab, lab, poll  # noqa: F401  (lab: a module fixture)
from test_demo import CHROMIUM_ARGS
from test_notebooks import CELL_TIMEOUT, NOTEBOOK_DIR, kernel_env

from ecomviz_nb.cli import main

PANELS = [
    "import ecomviz_nb as ev\nclient = ev.connect(quiet=True)",
    "products = ev.ProductPanel(client, ['/samples/products/sneaker-white.jpg'])\nproducts",
    "products.show_sources()\nawait products.task\n"
    "products.create()\nawait products.task\nproduct = products.product",
    "generate = ev.GeneratePanel(client, product, sources=['/samples/products/sneaker-white.jpg'])"
    "\ngenerate",
    "generate.rows['main'].count.value = 2\n"
    "generate.vto_enabled.value = True\n"
    "generate.vto_colors.value = ['blue']\n"
    "generate.region.value = 'eu'\n"
    "generate.generate()\n"
    "await generate.task",
    "try_on = ev.TryOnPanel(client, person_url='/samples/people/person-a.jpg',\n"
    "    clothing=[('/samples/garments/dress-green.png', 'price US9.9')])\n"
    "try_on.aspect_ratio.value = '3:2'\n"
    "try_on",
    "try_on.try_on()\nawait try_on.task",
    "sweep = ev.SweepPanel(client, product)\nsweep.axes['platform'].value = ('amazon', 'etsy')\n"
    "sweep.axes['aspect_ratio'].value = ('1:1',)\nsweep",
    "sweep.start()\nawait sweep.task",
    "ev.JobsPanel(client)",
    "import ipywidgets as w\n"
    "w.VBox([w.IntProgress(value=3, max=4, bar_style='success'), w.Label('3 of 4 runs <b>')])",
]
# What each panel's snapshot must say: its form values, and how many pictures at least.
EXPECTED: dict[str, tuple[list[str], int]] = {
    "ProductPanel": (["sneaker-white.jpg", "Created product"], 1),
    "GeneratePanel": (["2 x 1:1", "eu", "blue", "Done: 3 images"], 4),
    "TryOnPanel": (["person-a.jpg", "price US9.9", "3:2", "completed"], 3),
    "SweepPanel": (["amazon, etsy", "2 of 2 runs completed"], 2),
    "JobsPanel": (["generate", "completed"], 0),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not on PATH (apt-get install chromium)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def _execute(path: Path) -> Any:
    """Run a notebook in place in a real kernel (no token: a sandbox inside the kernel)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=kernel_env(path.parent / "ecomviz-home"))
    nbformat.write(notebook, path)
    return notebook


def _load_offline(browser: Browser, page_path: Path, shot: Path) -> dict[str, Any]:
    """Open the page from disk; record (and abort) every request that is not file: or data:."""
    attempted: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})

    def local_only(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            attempted.append(url)
            route.abort()

    try:
        page.route("**/*", local_only)
        page.goto(page_path.as_uri(), wait_until="load", timeout=30_000)
        seen: dict[str, Any] = page.evaluate(
            """async () => {
                const images = Array.from(document.images);
                await Promise.all(images.map((i) => i.decode().catch(() => null)));
                const panels = Array.from(document.querySelectorAll(".ev-snapshot"));
                return {
                    images: images.map((i) => [i.src.slice(0, 30), i.naturalWidth]),
                    scripts: document.scripts.length,
                    panels: panels.map((p) => ({
                        name: p.dataset.evPanel,
                        text: p.innerText,
                        images: Array.from(p.querySelectorAll("img")).map((i) => i.naturalWidth),
                    })),
                    text: document.body.innerText,
                };
            }"""
        )
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
    seen["attempted"] = attempted
    return seen


def test_an_exported_panel_notebook_shows_every_panel_offline(
    tmp_path: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = tmp_path / "panels.ipynb"
    cells = [new_markdown_cell("# Every panel, exported"), *map(new_code_cell, PANELS)]
    nbformat.write(new_notebook(cells=cells), notebook)
    _execute(notebook)
    saved = nbformat.read(notebook, as_version=4)
    assert "widgets" in saved.metadata, "the executed notebook keeps its widget state"

    out = tmp_path / "page" / "panels.html"
    assert main(["export", str(notebook), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    seen = _load_offline(browser, out, tmp_path / "panels.png")

    assert seen["attempted"] == [], "the page asked the network for something"
    assert seen["scripts"] == 0, "no script: no widget manager, require.js or MathJax"
    assert seen["images"] and all(width > 0 for _, width in seen["images"]), seen["images"]
    assert all(src.startswith("data:image/") for src, _ in seen["images"])
    panels = {panel["name"]: panel for panel in seen["panels"]}
    assert sorted(panels) == sorted(EXPECTED), panels.keys()
    for name, (phrases, pictures) in EXPECTED.items():
        text = panels[name]["text"]
        missing = [p for p in phrases if p not in text]
        assert not missing, f"{name} snapshot lacks {missing}:\n{text}"
        assert len(panels[name]["images"]) >= pictures, (name, panels[name]["images"])
    # The plain widget box is drawn from its saved state: its bar and its label (escaped).
    assert "3 of 4 runs <b>" in seen["text"]
    assert "VBox(children" not in seen["text"], "a widget's text/plain stand-in"
    assert "Error displaying widget" not in seen["text"]


def test_the_exported_panel_notebook_of_the_demo_shows_its_panels_offline(
    tmp_path: Path, browser: Browser
) -> None:
    notebook = tmp_path / "02_generate_panel.ipynb"
    shutil.copy(NOTEBOOK_DIR / notebook.name, notebook)
    _execute(notebook)
    out = tmp_path / "02_generate_panel.html"
    assert main(["export", str(notebook), "--out", str(out)]) == 0
    seen = _load_offline(browser, out, tmp_path / "02.png")

    assert seen["attempted"] == [] and seen["scripts"] == 0
    assert seen["images"] and all(width > 0 for _, width in seen["images"]), seen["images"]
    names = [panel["name"] for panel in seen["panels"]]
    assert {"ProductPanel", "GeneratePanel", "JobsPanel"} <= set(names), names
    generate = next(p for p in seen["panels"] if p["name"] == "GeneratePanel")
    assert "detail" in generate["text"] and "4:3" in generate["text"], generate["text"]
    assert len(generate["images"]) >= 2 and all(w > 0 for w in generate["images"])


# ---------------------------------------------------------------- reopened in JupyterLab

REOPENED = [
    "import ecomviz_nb as ev\nclient = ev.connect(quiet=True)\n"
    "product = client.create_product([client.base_url + '/samples/products/mug-blue.jpg'])",
    "live = ev.GeneratePanel(client, product)\nlive",
    "live.generate()\nawait live.task",
    "done = ev.GeneratePanel(client, product)\ndone.region.value = 'eu'\ndone",
    "done.generate()\nawait done.task\ndone.close()",
]


def _reopen(server: Lab, browser: Browser, name: str, shot: Path) -> list[dict[str, Any]]:
    """Open a saved notebook in JupyterLab without running it; each cell's outputs once
    every displayed panel has settled (drawn, snapshot, or "model not found")."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    try:
        page.goto(
            f"{server.url}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token={server.token}"
        )
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()

        def settled() -> list[dict[str, Any]] | None:
            cells: list[dict[str, Any]] = page.evaluate(
                """() => Array.from(document.querySelectorAll(".jp-Notebook .jp-Cell")).map(
                    (cell) => ({
                        text: Array.from(cell.querySelectorAll(".jp-OutputArea-output"))
                            .map((o) => o.innerText).join("\\n"),
                        widget: cell.querySelector(".ev-panel") !== null,
                        images: Array.from(cell.querySelectorAll(".jp-OutputArea img"))
                            .map((i) => i.naturalWidth),
                    }))"""
            )
            if len(cells) < len(REOPENED):
                return None
            panels = [cells[1], cells[3]]
            waiting = any("Loading widget" in c["text"] or not c["text"] for c in panels)
            return None if waiting else cells

        cells = poll(page, f"the panels of {name} to settle", settled)
        page.screenshot(path=str(shot), full_page=True)
        return cells
    finally:
        context.close()
        server.shut_down_kernels()


def test_a_closed_panel_shows_its_snapshot_when_a_trusted_notebook_is_reopened(
    lab: Lab,  # noqa: F811
    browser: Browser,
    tmp_path: Path,
) -> None:
    notebook = tmp_path / "reopened.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in REOPENED]), notebook)
    executed = _execute(notebook)
    executed.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notary = NotebookNotary(data_dir=str(lab.root.parent / "data"))  # the lab's own
    notary.sign(executed)  # trusted, as a notebook the user saved in JupyterLab is
    nbformat.write(executed, lab.root / "with_state.ipynb")
    del executed.metadata["widgets"]  # what JupyterLab saves by default
    notary.sign(executed)
    nbformat.write(executed, lab.root / "without_state.ipynb")

    with_state = _reopen(lab, browser, "with_state", tmp_path / "with_state.png")
    without = _reopen(lab, browser, "without_state", tmp_path / "without_state.png")

    # With saved widget state, the live panel is drawn from it: its inputs and its picture.
    assert with_state[1]["widget"] and "Generate images for Mug Blue" in with_state[1]["text"]
    assert with_state[1]["images"] and all(w > 0 for w in with_state[1]["images"])
    # Without, JupyterLab cannot draw it: the limit the panels' docstring states.
    assert "Error displaying widget: model not found" in without[1]["text"]
    # The closed panel left its snapshot alone: shown either way, pictures and inputs.
    for cells in (with_state, without):
        closed = cells[3]
        assert not closed["widget"] and "model not found" not in closed["text"]
        assert "region\teu" in closed["text"] and "Done: 1 images." in closed["text"]
        assert closed["images"] and all(w > 0 for w in closed["images"])
