"""Pictures in JupyterLab: a click enlarges any of them, captions wrap, JobsPanel keeps up.

JupyterLab, Chromium and the notebook session come from :mod:`test_browser` (its fixtures are
imported here). Each test clicks like a person would and keeps screenshots of what it saw in
``build/test-artifacts/pictures-<test>-<moment>.png``: a panel's results before and after a
thumbnail is clicked, the same for a grid in a cell's output and for a comparison beside the
sources, a sweep matrix's source and wide pictures, and a JobsPanel while it follows a job and
once the job's images are in.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator
from test_browser import (  # noqa: F401  (lab, browser and session are fixtures)
    Session,
    browser,
    lab,
    poll,
    sandbox_cell,
    session,
    wait_for_images,
)

TYPE_AND_RATIO = re.compile(r"^(main|detail|facebook|vto) · (\d+:\d+)")

PICTURES_JS = """el => [...el.querySelectorAll('img')].map(i => {
    const box = i.getBoundingClientRect();
    const style = getComputedStyle(i);
    return {width: box.width, height: box.height, natural: i.naturalWidth,
            shown: box.width > 0 && style.visibility === 'visible' && i.offsetParent !== null};
})"""

CAPTIONS_JS = """el => [...el.querySelectorAll('.ev-c, figcaption')].map(c => {
    const parts = [c, ...c.querySelectorAll('*')];
    return {
        text: c.innerText,
        cut: parts.filter(p => p.scrollWidth > p.clientWidth + 1
                               || getComputedStyle(p).textOverflow === 'ellipsis'
                               || (getComputedStyle(p).whiteSpace === 'nowrap'
                                   && getComputedStyle(p).overflow === 'hidden'))
                  .map(p => p.tagName + '.' + p.className),
    };
})"""


def pictures(view: Locator) -> list[dict[str, Any]]:
    """Every <img> in ``view`` as drawn: its box, its embedded width, whether it shows."""
    found: list[dict[str, Any]] = view.evaluate(PICTURES_JS)
    return found


def captions(view: Locator) -> list[dict[str, Any]]:
    """Every caption in ``view``: its text, and the parts of it that cut text off."""
    found: list[dict[str, Any]] = view.evaluate(CAPTIONS_JS)
    return found


def click_to_enlarge(
    here: Session, view: Locator, name: str, *, index: int = 0
) -> tuple[dict[str, Any], ...]:
    """Click picture ``index`` in ``view``; returns it as drawn before and after, after
    screenshots of both moments."""
    here.screenshot(view, f"{name}-before")
    before = pictures(view)[index]
    view.locator("img").nth(index).click()
    poll(
        here.page,
        f"the {name} picture to grow",
        lambda: pictures(view)[index]["width"] > 1.5 * before["width"],
    )
    here.page.wait_for_timeout(300)  # let the layout settle before the screenshot
    here.screenshot(view, f"{name}-after")
    after = pictures(view)[index]
    print(f"{name}: {before} -> {after}")
    return before, after


def assert_captions_whole(view: Locator, *, typed: int) -> list[str]:
    """No caption is cut, and ``typed`` of them start with the image type and ratio."""
    found = captions(view)
    assert found, "no captions"
    assert not [c for c in found if c["cut"]], [c for c in found if c["cut"]]
    texts = [c["text"].replace("\n", " · ") for c in found]
    assert len([t for t in texts if TYPE_AND_RATIO.match(t)]) >= typed, texts
    return texts


def test_a_generate_panel_thumbnail_opens_larger_and_captions_wrap(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2000})
    session.name = "pictures-generate-panel"
    session.run_notebook(
        [
            sandbox_cell(
                "panel = ev.GeneratePanel(client, product)",
                "panel.rows['main'].count.value = 2",
                "panel.rows['detail'].enabled.value = True",
                "panel.rows['detail'].aspect_ratio.value = '16:9'",
                "panel.vto_enabled.value = True",
                "panel.vto_colors.value = ['white']",
                "panel",
            )
        ]
    )
    panel = session.panel()
    panel.locator("button", has_text="Generate").click()
    wait_for_images(panel, 4)
    poll(session.page, "the status line", lambda: "Done: 4 images." in panel.inner_text())
    results = panel.locator("[class^='ev-grid-']").first

    before, after = click_to_enlarge(session, results, "thumbnail")

    assert after["shown"] and after["width"] >= 2.5 * before["width"], (before, after)
    assert after["natural"] >= 700, "the enlarged view is the 768 px version, embedded"
    texts = assert_captions_whole(results, typed=4)
    assert any(t.startswith("vto · 1:1") and "white" in t for t in texts), texts
    # A second click closes it again.
    results.locator("img").first.click()
    poll(session.page, "the picture to close", lambda: pictures(results)[0]["width"] < 200)
    session.assert_only_loopback_traffic()


def test_a_grid_in_a_cell_output_and_a_comparison_enlarge_the_same_way(
    session: Session,  # noqa: F811
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2000})
    session.name = "pictures-outputs"
    session.run_notebook(
        [
            sandbox_cell(
                "job = client.generate(product.id, ev.GenerateRequest(["
                "ev.ImageSpec('main', count=2), ev.ImageSpec('facebook', aspect_ratio='9:16')]))",
                "job.wait(timeout=60)",
                "ev.show_images(job.images, size=120)",
            ),
            "panel = ev.GeneratePanel(client, product, "
            "sources=['/samples/products/tshirt-red.jpg'])\npanel",
        ]
    )
    grid = session.output(0).locator("[class^='ev-grid-']").first
    poll(session.page, "the grid's pictures", lambda: len(pictures(grid)) == 3)

    grid_before, grid_after = click_to_enlarge(session, grid, "grid")

    panel = session.output(1).locator(".ev-panel").first
    panel.locator("button", has_text="Generate").click()
    wait_for_images(panel, 2)  # the source and one new main image
    comparison = panel.locator("[class^='ev-cmp-']").first
    poll(session.page, "the status line", lambda: "Done: 1 images." in panel.inner_text())

    before, after = click_to_enlarge(session, comparison, "comparison")

    assert grid_after["shown"] and grid_after["width"] >= 2.5 * grid_before["width"]
    assert grid_after["natural"] >= 700, "the enlarged view is the 768 px version, embedded"
    assert_captions_whole(grid, typed=3)
    assert after["shown"] and after["width"] >= 1.5 * before["width"], (before, after)
    # Opened, a comparison picture is the 768 px one, not its 256 px thumbnail stretched.
    assert after["natural"] >= 700 and after["width"] > 256, (before, after)
    assert_captions_whole(comparison, typed=1)
    session.assert_only_loopback_traffic()


def test_a_sweep_matrix_picture_opens_larger_on_a_click(
    session: Session,  # noqa: F811
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2000})
    session.name = "pictures-matrix"
    session.run_notebook(
        [
            sandbox_cell(
                "result = ev.sweep(client, product, "
                "ev.GenerateRequest([ev.ImageSpec('main', count=1)]), "
                "vary={'aspect_ratio': ['1:1', '16:9']}, progress=False, "
                "sources=[f'{sb.url}/samples/products/tshirt-red.jpg'])",
                "result",
            )
        ]
    )
    matrix = session.output(0).locator(".ev-matrix").first
    found = poll(session.page, "the matrix's pictures", lambda: len(pictures(matrix)) == 3)
    drawn = pictures(matrix)
    assert found and {round(p["height"]) for p in drawn} == {128}, drawn
    wide = next(i for i, p in enumerate(drawn) if p["width"] > 1.5 * p["height"])

    source_before, source_after = click_to_enlarge(session, matrix, "source")
    matrix.locator("img").first.click()  # closed again
    poll(session.page, "the source to close", lambda: pictures(matrix)[0]["height"] < 130)
    before, after = click_to_enlarge(session, matrix, "wide", index=wide)

    assert source_after["shown"] and source_after["width"] >= 1.9 * source_before["width"]
    # A wide picture opens to at least twice its drawn width too: it is embedded larger.
    assert after["shown"] and after["width"] >= 1.9 * before["width"], (before, after)
    assert after["natural"] >= 2 * before["width"], (before, after)
    assert_captions_whole(matrix, typed=2)
    session.assert_only_loopback_traffic()


DROPDOWN_FITS_JS = """el => {
    const select = el.querySelector('select');
    const style = getComputedStyle(select);
    const canvas = document.createElement('canvas').getContext('2d');
    canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const text = select.options[select.selectedIndex].text;
    const room = select.clientWidth - parseFloat(style.paddingLeft)
                 - parseFloat(style.paddingRight);
    return {text: text, needed: canvas.measureText(text).width, room: room};
}"""


def table_counts(panel: Locator) -> list[str]:
    """The "done / expected" cells of the JobsPanel's table."""
    found: list[str] = panel.locator("table td").evaluate_all(
        "tds => tds.map(td => td.innerText.trim()).filter(t => /^\\d+ \\/ \\d+$/.test(t))"
    )
    return found


def test_a_jobs_panel_following_a_job_updates_its_row_and_shows_the_images(
    session: Session,  # noqa: F811
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2000})
    session.name = "pictures-jobs-panel"
    session.run_notebook(
        [
            sandbox_cell(
                "import httpx",
                # Six images over 12 s: the table has time to show the count rise.
                "httpx.post(f'{sb.url}/_sandbox/config', json={'job_seconds': 12})",
                "job = client.generate(product.id, ev.GenerateRequest("
                "[ev.ImageSpec('main', count=6)]))",
                "panel = ev.JobsPanel(client)",
                "panel",
            )
        ]
    )
    panel = session.panel()
    poll(session.page, "the job's row", lambda: table_counts(panel) == ["0 / 6"])
    label = panel.locator(".widget-dropdown").first.evaluate(DROPDOWN_FITS_JS)
    prompts = session.prompts()

    panel.locator("button", has_text="Resume").click()

    seen: list[str] = []

    def finished() -> bool:
        counts = table_counts(panel)
        if counts and (not seen or seen[-1] != counts[0]):
            seen.append(counts[0])
            if counts[0] not in ("0 / 6", "6 / 6"):
                session.screenshot(panel, "following")  # the last partial count wins
        return "6 / 6" in counts and "completed" in panel.locator("table").inner_text()

    poll(session.page, "the row to reach 6 / 6", finished, every=0.2)
    print("table counts seen while following:", seen)
    assert label["needed"] <= label["room"], f"the open job's label is cut: {label}"
    # The panel's last snapshot re-send redraws it just before its final line shows: wait for
    # the line, so no locator holds a node that is about to be replaced.
    poll(session.page, "the status line", lambda: "is complete" in panel.inner_text())
    session.screenshot(panel, "ended")
    found = wait_for_images(panel, 6)
    session.screenshot(panel, "done")
    assert [c for c in seen if c not in ("0 / 6", "6 / 6")], f"the row never moved: {seen}"
    assert len(found) == 6
    grid = panel.locator("[class^='ev-grid-']").first
    assert_captions_whole(grid, typed=6)
    assert session.prompts() == prompts, "a cell ran while the job was followed"
    session.assert_only_loopback_traffic()
