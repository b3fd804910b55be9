"""``ev.SweepPanel`` in a real browser: JupyterLab in headless Chromium, Run clicked by hand.

JupyterLab, Chromium and the notebook session come from :mod:`test_browser` (its fixtures are
imported here). The panel's screenshot goes to ``build/test-artifacts/sweep-panel.png``.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator
from test_browser import (  # noqa: F401  (lab, browser and session are fixtures)
    ARTIFACTS,
    Session,
    browser,
    lab,
    poll,
    sandbox_cell,
    session,
)

SCREENSHOT = ARTIFACTS / "sweep-panel.png"


def matrix_state(panel: Locator) -> dict[str, Any]:
    """The matrix as drawn: its rows, its images (loaded or not), and what overflows."""
    state: dict[str, Any] = panel.evaluate(
        """el => {
            const matrix = el.querySelector('.ev-matrix:not(.ev-previous .ev-matrix)');
            const imgs = matrix ? [...matrix.querySelectorAll('img')] : [];
            const clipped = [...el.querySelectorAll('.ev-axis button, .ev-matrix figcaption')]
                .filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.textContent);
            return {
                rows: matrix ? matrix.querySelectorAll('tbody tr').length : 0,
                images: imgs.map(i => ({src: i.getAttribute('src').slice(0, 30),
                                        loaded: i.complete && i.naturalWidth > 0})),
                clipped: clipped,
                wider: el.scrollWidth > el.clientWidth + 1,
            };
        }"""
    )
    return state


def test_sweep_panel_clicked_in_the_browser_fills_its_matrix(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    # Tall enough for the whole panel: an element screenshot is clipped to the viewport.
    session.page.set_viewport_size({"width": 1280, "height": 2400})
    session.run_notebook(
        [
            sandbox_cell(
                "panel = ev.SweepPanel(client, product, "
                "sources=['/samples/products/tshirt-red.jpg'])",
                "panel.axes['platform'].value = ('amazon', 'shopee')",
                "panel.axes['aspect_ratio'].value = ('1:1', '16:9')",
                "panel",
            )
        ]
    )
    panel = session.panel()
    poll(session.page, "the plan line", lambda: "4 runs · 4 images" in panel.inner_text())
    assert "2 rounds" in panel.inner_text()
    before = matrix_state(panel)
    assert before["rows"] == 0 and not before["clipped"], before
    prompts = session.prompts()

    panel.locator("button", has_text="Run sweep").click()

    partial: list[int] = []  # images in a matrix drawn before the sweep ended

    def filled() -> dict[str, Any] | None:
        state = matrix_state(panel)
        done = "4 of 4 runs completed" in panel.inner_text()
        images = state["images"]
        ready = len(images) == 5 and all(i["loaded"] for i in images)
        if not done and state["rows"] == 4 and not partial:
            partial.append(len(images))
            session.screenshot(panel, "running")
        return state if done and state["rows"] == 4 and ready else None

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    state = filled() or poll(session.page, "the matrix to show 4 rows of loaded images", filled)
    assert all(i["src"].startswith("data:image/") for i in state["images"]), state
    assert session.prompts() == prompts, "a cell ran while the sweep was followed"
    assert not state["clipped"], f"labels cut off: {state['clipped']}"
    assert not state["wider"], "the panel is wider than its output area"
    text = panel.inner_text()
    for value in ("amazon", "shopee", "1:1", "16:9"):
        assert value in text
    assert partial, "the matrix was not redrawn while the sweep ran"
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=SCREENSHOT)
    session.assert_only_loopback_traffic()
