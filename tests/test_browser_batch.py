"""``ev.BatchPanel`` in a real browser: JupyterLab in headless Chromium, Start / Pause / Resume
clicked by hand.

JupyterLab, Chromium and the notebook session come from :mod:`test_browser` (its fixtures are
imported here). The finished panel's screenshot goes to ``build/test-artifacts/batch-panel.png``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator
from test_browser import (  # noqa: F401  (lab, browser and session are fixtures)
    Session,
    browser,
    lab,
    poll,
    sandbox_cell,
    session,
)

SCREENSHOT = Path(__file__).resolve().parents[1] / "build" / "test-artifacts" / "batch-panel.png"
CATALOGUE = [
    "rows = [('label', 'image_urls')]",
    "for i, name in enumerate(['tshirt-red', 'sneaker-white', 'handbag-black', 'mug-blue'] * 2):",
    "    rows.append((f'sku-{i}', f'{sb.url}/samples/products/{name}.jpg'))",
    "rows = rows[:7] + [('bad-row', 'not-a-url')]",
    "open('catalogue.csv', 'w').write(''.join(f'{a},{b}\\n' for a, b in rows))",
]


def grid_state(panel: Locator) -> dict[str, Any]:
    """The panel's images (loaded or not) and whether anything overflows it."""
    state: dict[str, Any] = panel.evaluate(
        """el => {
            const imgs = [...el.querySelectorAll('img')];
            return {
                images: imgs.map(i => ({src: i.getAttribute('src').slice(0, 30),
                                        loaded: i.complete && i.naturalWidth > 0})),
                wider: el.scrollWidth > el.clientWidth + 1,
            };
        }"""
    )
    return state


def counts(panel: Locator) -> dict[str, int]:
    text = panel.locator(".ev-counters").inner_text()
    found = re.findall(r"(\d+) (completed|failed|unknown|in flight|queued)", text)
    return {word: int(n) for n, word in found}


def test_batch_panel_clicked_in_the_browser_pauses_resumes_and_fills_its_grid(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2400})
    session.run_notebook(
        [
            sandbox_cell(
                *CATALOGUE,
                "panel = ev.BatchPanel(client, name='spring-catalogue')",
                "panel.csv_path.value = 'catalogue.csv'",
                "panel.concurrency.value = 2",
                "panel",
            )
        ]
    )
    panel = session.panel()
    poll(session.page, "the source line", lambda: "7 rows · 1 refused" in panel.inner_text())
    assert "6 items, 1 image each (6 images) · 2 at once" in panel.inner_text()
    prompts = session.prompts()

    panel.locator("button", has_text="Start").click()
    poll(session.page, "two items in flight", lambda: counts(panel).get("in flight") == 2)
    panel.locator("button", has_text="Pause").click()
    poll(session.page, "the pause", lambda: "Paused" in panel.inner_text())
    held = poll(
        session.page,
        "the items in flight to finish",
        lambda: counts(panel) if counts(panel).get("in flight") == 0 else None,
    )
    assert held["queued"] == 4, held
    session.page.wait_for_timeout(1500)
    assert counts(panel) == held, "the batch went on while paused"
    session.screenshot(panel, "paused")

    panel.locator("button", has_text="Resume").click()

    def finished() -> dict[str, Any] | None:
        state = grid_state(panel)
        ready = len(state["images"]) == 6 and all(i["loaded"] for i in state["images"])
        done = counts(panel).get("completed") == 6 and "Batch spring-catalogue:" in (
            panel.inner_text()
        )
        return state if ready and done else None

    state = poll(session.page, "6 completed and 6 loaded images", finished)
    assert all(i["src"].startswith("data:image/") for i in state["images"]), state
    assert not state["wider"], "the panel is wider than its output area"
    assert counts(panel)["failed"] == 1
    assert "bad-row: line 8: image_urls[0]='not-a-url'" in panel.inner_text()
    assert session.prompts() == prompts, "a cell ran while the batch was followed"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=SCREENSHOT)
    session.assert_only_loopback_traffic()


def test_batch_panel_takes_a_csv_uploaded_in_the_browser(
    session: Session,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    session.run_notebook(
        [sandbox_cell("print('sandbox at', sb.url)", "ev.BatchPanel(client, name='uploaded')")]
    )
    found = re.search(r"sandbox at (http://127\.0\.0\.1:\d+)", session.output(0).first.inner_text())
    assert found, session.output(0).first.inner_text()
    url = found.group(1)
    upload = tmp_path / "shop.csv"
    upload.write_text(
        "label,image_urls\n"
        + "".join(
            f"up-{i},{url}/samples/products/{n}.jpg\n" for i, n in enumerate(["mug-blue"] * 3)
        ),
        encoding="utf-8",
    )
    panel = session.panel()
    # The widget's file input is never in the page: its button clicks it, a chooser opens.
    with session.page.expect_file_chooser() as chooser:
        panel.locator(".widget-upload").click()
    chooser.value.set_files(str(upload))
    poll(
        session.page,
        "the upload's rows",
        lambda: "uploaded shop.csv · 3 rows" in panel.inner_text(),
    )
    panel.locator("button", has_text="Start").click()
    poll(
        session.page,
        "3 completed and 3 loaded images",
        lambda: (
            counts(panel).get("completed") == 3
            and len(grid_state(panel)["images"]) == 3
            and all(i["loaded"] for i in grid_state(panel)["images"])
        ),
    )
    kept = session.lab.root.parent / "ecomviz-home" / "batches" / "uploaded.csv"
    assert kept.read_text(encoding="utf-8") == upload.read_text(encoding="utf-8")
    session.assert_only_loopback_traffic()
