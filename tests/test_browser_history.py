"""A panel's run history in a real browser, and typing that a snapshot re-send must not break.

JupyterLab, Chromium and the notebook session come from :mod:`test_browser` (its fixtures are
imported here). The history test talks to a sandbox in a process of its own (the
``sandbox_process`` fixture), so a kernel restart leaves the server and its product in place
and only the job ledger under ``ECOMVIZ_HOME`` carries the runs over. Screenshots go to
``build/test-artifacts/history-*.png`` and ``build/test-artifacts/typing-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator
from support import SandboxProcess
from test_browser import (  # noqa: F401  (lab, browser and session are fixtures)
    Session,
    browser,
    lab,
    poll,
    sandbox_cell,
    session,
)

import ecomviz_nb as ev
from ecomviz_nb.local import SANDBOX_TOKEN

PAUSE_MS = 1500
"""The pause between two bursts of typing: longer than the old one-second snapshot delay."""


def strip_state(strip: Locator) -> dict[str, Any]:
    """The history strip as drawn: its rows' text, loaded pictures, the matrix's rows."""
    state: dict[str, Any] = strip.evaluate(
        """el => {
            const imgs = [...el.querySelectorAll('img')];
            const rows = [...el.querySelectorAll('.widget-hbox')]
                .filter(r => r.querySelector('.widget-checkbox'));
            return {
                rows: rows.map(r => r.innerText.replace(/\\s+/g, ' ').trim()),
                images: imgs.length,
                loaded: imgs.every(i => i.complete && i.naturalWidth > 0),
                matrix_rows: el.querySelectorAll('.ev-matrix tbody tr').length,
                headers: [...el.querySelectorAll('.ev-matrix tbody th')].map(t => t.innerText),
            };
        }"""
    )
    return state


def rows_of(strip: Locator, count: int) -> Callable[[], dict[str, Any] | None]:
    """A probe: the strip's state once it shows ``count`` rows of loaded pictures."""

    def probe() -> dict[str, Any] | None:
        state = strip_state(strip)
        ok = len(state["rows"]) == count and state["images"] >= count and state["loaded"]
        return state if ok else None

    return probe


def generate_and_wait(here: Session, panel: Locator, images: int) -> None:
    """Click Generate and wait for the panel's final status line."""
    panel.locator("button", has_text="Generate").click()
    poll(here.page, "the run to end", lambda: f"Done: {images} images." in panel.inner_text())


def restart_kernel_and_run_all(here: Session) -> None:
    """Kernel ▸ Restart Kernel and Clear Outputs of All Cells…, confirm, then Run All Cells."""
    page = here.page
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Kernel$")).click()
    page.get_by_role("menuitem", name=re.compile(r"^Restart Kernel and Clear Outputs")).click()
    page.locator(".jp-Dialog-button.jp-mod-accept").click()
    poll(page, "the outputs cleared", lambda: page.locator(".jp-OutputArea-output").count() == 0)
    poll(page, "the restarted kernel", lambda: here.kernel_status() == "idle")
    here.run_all_cells()
    poll(
        page,
        "the cell to run again",
        lambda: here.raise_cell_error() or (here.prompts() == ["[1]:"] or None),
    )


def test_runs_are_kept_compared_reloaded_and_survive_a_kernel_restart(
    session: Session,  # noqa: F811  (the fixture imported above)
    sandbox_process: Callable[..., SandboxProcess],
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2400})
    session.name = "history"
    server = sandbox_process("--job-seconds", "1")
    with ev.Client(SANDBOX_TOKEN, base_url=server.url) as client:
        product = client.create_product([f"{server.url}/samples/products/tshirt-red.jpg"])
    cell = (
        "import ecomviz_nb as ev\n"
        f"client = ev.Client({SANDBOX_TOKEN!r}, base_url={server.url!r})\n"
        f"panel = ev.GeneratePanel(client, client.get_product({product.id!r}))\n"
        "panel"
    )
    session.run_notebook([cell])
    page = session.page
    panel = session.panel()
    strip = panel.locator(".ev-history").first
    ratio = panel.locator("select").first  # the main type's ratio

    generate_and_wait(session, panel, 1)
    ratio.select_option("16:9")
    assert ratio.input_value() == "16:9"
    generate_and_wait(session, panel, 1)
    session.screenshot(panel, "second-run")

    state = poll(page, "two rows of loaded thumbnails", rows_of(strip, 2))
    session.screenshot(panel, "two-runs")
    newest, oldest = state["rows"]
    assert "main ratio 1:1 → 16:9" in newest, newest
    assert "first run" in oldest and "main 1 x 1:1" in oldest, oldest

    for box in strip.get_by_role("checkbox", name="compare").all():
        box.check()
    strip.locator("button", has_text="Compare ticked").click()

    def compared() -> dict[str, Any] | None:
        found = strip_state(strip)
        return found if found["matrix_rows"] == 2 and found["loaded"] else None

    state = poll(page, "the matrix with a row per run", compared)
    assert "16:9" in state["headers"] and "1:1" in state["headers"], state["headers"]
    session.screenshot(strip, "compared")

    assert ratio.input_value() == "16:9"
    strip.locator("button", has_text="load these settings").last.click()  # the older run
    poll(page, "the older run's ratio back in the form", lambda: ratio.input_value() == "1:1")
    assert "Loaded the settings" in strip.inner_text()
    assert "1 images will be generated." in panel.inner_text()
    session.screenshot(panel, "loaded")

    restart_kernel_and_run_all(session)
    panel = session.panel()
    strip = panel.locator(".ev-history").first
    state = poll(page, "the history read back after the restart", rows_of(strip, 2))
    assert "main ratio 1:1 → 16:9" in state["rows"][0], state["rows"]
    assert "first run" in state["rows"][1], state["rows"]
    session.screenshot(panel, "after-restart")
    session.assert_only_loopback_traffic()


def test_typing_with_a_pause_keeps_the_focus_and_every_character(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.name = "typing"
    session.run_notebook([sandbox_cell("panel = ev.TryOnPanel(client)", "panel")])
    page = session.page
    panel = session.panel()
    field = panel.get_by_placeholder("https://…/person.jpg")

    field.click()
    page.keyboard.type("/samples/people/", delay=40)
    page.wait_for_timeout(PAUSE_MS)  # a person looks up the file name
    page.keyboard.type("person-a.jpg", delay=40)
    page.wait_for_timeout(PAUSE_MS)
    session.screenshot(panel, "typed")

    field = panel.get_by_placeholder("https://…/person.jpg")  # found again, if redrawn
    focused = field.evaluate("el => el === document.activeElement")
    assert field.input_value() == "/samples/people/person-a.jpg", field.input_value()
    assert focused, "the person field lost the focus while the person typed"
    poll(page, "the garment hint", lambda: "the garment" in panel.inner_text())


def test_a_colour_typed_beside_the_colour_box_is_added_on_enter(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    # The TagsInput itself takes a typed colour only on losing the focus, never on Enter.
    session.name = "typing-colour"
    session.run_notebook([sandbox_cell("panel = ev.GeneratePanel(client, product)", "panel")])
    page = session.page
    panel = session.panel()
    field = panel.get_by_placeholder("a colour, then Enter")
    assert field.is_disabled(), "greyed out while vto is off"
    panel.get_by_role("checkbox", name="vto", exact=True).click()
    poll(page, "the vto images counted", lambda: "3 images will be" in panel.inner_text())

    field.click()
    page.keyboard.type("navy", delay=40)
    page.keyboard.press("Enter")

    poll(page, "the colour added", lambda: "4 images will be generated." in panel.inner_text())
    colours = panel.locator(".jupyter-widget-tagsinput").first
    assert "navy" in colours.inner_text()
    poll(page, "the field emptied", lambda: field.input_value() == "")
    assert field.evaluate("el => el === document.activeElement"), "the field kept the focus"
    session.screenshot(panel, "added")
