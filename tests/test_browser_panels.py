"""The request panels as a person meets them, in JupyterLab in headless Chromium.

JupyterLab, Chromium and the notebook session come from :mod:`test_browser` (its fixtures are
imported here). A number out of range is named, not clamped, and turns the button off; a second
run dims the first one's results at once; an empty panel opens with a grey hint; no label is
cut. Screenshots go to ``build/test-artifacts/`` (``panels-*.png``).
"""

from __future__ import annotations

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

TRY_ON = (
    "ev.TryOnPanel(client, person_url='/samples/people/person-a.jpg', "
    "clothing=[('/samples/garments/dress-green.png', '')])"
)

# Text that does not fit its box: a label, a button, a checkbox's text, a dropdown's choice.
CLIPPED_JS = """
root => {
    const canvas = document.createElement('canvas').getContext('2d');
    const cut = [];
    for (const el of root.querySelectorAll('label, span, button, .widget-label')) {
        if (el.offsetParent === null || !el.textContent.trim()) continue;
        if (el.closest('.ev-results')) continue;  // the pictures' captions: not the form's
        if (el.scrollWidth > el.clientWidth + 1) cut.push(el.textContent.trim());
    }
    for (const select of root.querySelectorAll('select')) {
        if (select.offsetParent === null) continue;
        const style = getComputedStyle(select);
        canvas.font = `${style.fontSize} ${style.fontFamily}`;
        const text = select.options[select.selectedIndex]?.text ?? '';
        const room = select.clientWidth - parseFloat(style.paddingLeft)
            - parseFloat(style.paddingRight);
        if (canvas.measureText(text).width > room) cut.push(text);
    }
    return cut;
}
"""

# Where the parts sit, top to bottom.
BOXES_JS = """
(root, button) => {
    const box = (el) => el ? el.getBoundingClientRect() : null;
    const top = (el) => box(el) && box(el).height ? box(el).top : null;
    const status = root.querySelector('.ev-status');
    return {
        button: box([...root.querySelectorAll('button')].find(b => b.textContent.trim() === button))
            .bottom,
        status: top(status),
        progress: top(root.querySelector('.widget-hprogress')),
        results: top(root.querySelector('.ev-results')),
    };
}
"""


def status_line(panel: Locator) -> Locator:
    return panel.locator(".ev-status").first


def colour_of(panel: Locator, css: str) -> str:
    """The computed colour of ``css`` (a colour or a CSS variable) inside ``panel``."""
    colour: str = panel.evaluate(
        """(root, css) => {
            const probe = document.createElement('span');
            probe.style.color = css;
            root.appendChild(probe);
            const colour = getComputedStyle(probe).color;
            probe.remove();
            return colour;
        }""",
        css,
    )
    return colour


def press(field: Locator, text: str) -> None:
    """Type ``text`` into a field as a person does, then Enter."""
    field.click()
    field.fill(text)
    field.press("Enter")


def test_height_300_is_named_not_clamped_and_turns_try_on_off(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 1600})
    session.name = "panels-height"
    session.run_notebook([sandbox_cell(TRY_ON)])
    panel = session.panel()
    button = panel.locator("button", has_text="Try on")
    height = panel.locator("input[type=number]").first
    assert height.is_disabled(), "the height is greyed out while its box is unticked"
    panel.get_by_role("checkbox", name="height (cm)").click()
    poll(session.page, "the height field to turn on", height.is_enabled)

    press(height, "300")

    said = poll(
        session.page,
        "the height message",
        lambda: "height" in (t := status_line(panel).inner_text()) and "300" in t and t,
    )
    session.screenshot(panel, "300")
    assert "from 50 to 250" in said, said
    assert height.input_value() == "300", "the value stays as typed"
    assert button.is_disabled()
    status = status_line(panel).locator("div[style*=color]").first
    error = colour_of(panel, "var(--jp-error-color1)")
    assert status.evaluate("el => getComputedStyle(el).color") == error

    press(height, "180")
    poll(session.page, "the panel to be ready", lambda: "Ready." in status_line(panel).inner_text())
    assert button.is_enabled()
    session.screenshot(panel, "180")
    session.assert_only_loopback_traffic()


def test_typing_a_colour_and_enter_adds_it(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.name = "panels-colour"
    session.run_notebook([sandbox_cell("panel = ev.GeneratePanel(client, product)", "panel")])
    panel = session.panel()
    colours = panel.locator(".jupyter-widget-tagsinput").first
    assert "ev-off" in (colours.get_attribute("class") or ""), "greyed out while vto is off"
    detail_count = panel.locator("input[type=number]").nth(1)
    assert detail_count.is_disabled(), "an unticked type greys out its count"
    panel.get_by_role("checkbox", name="vto", exact=True).click()
    poll(session.page, "the vto images counted", lambda: "3 images" in panel.inner_text())

    # The TagsInput takes a typed colour only on losing the focus: the field beside it adds
    # one on Enter.
    field = panel.get_by_placeholder("a colour, then Enter")
    field.click()
    field.type("navy")
    field.press("Enter")

    poll(session.page, "the colour added", lambda: "4 images" in status_line(panel).inner_text())
    assert "navy" in colours.inner_text()
    session.screenshot(panel, "navy")


def test_a_second_run_marks_the_first_runs_results_as_previous_at_once(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2000})
    session.name = "panels-rerun"
    session.run_notebook([sandbox_cell("panel = ev.GeneratePanel(client, product)", "panel")])
    panel = session.panel()
    button = panel.locator("button", has_text="Generate")
    button.click()
    wait_for_images(panel, 1)
    poll(session.page, "the first run", lambda: "Done: 1 images." in panel.inner_text())
    boxes: dict[str, Any] = panel.evaluate(BOXES_JS, "Generate")
    assert boxes["button"] <= boxes["status"] < boxes["progress"] < boxes["results"], boxes
    session.screenshot(panel, "first")
    press(panel.locator("input[type=number]").first, "2")
    poll(session.page, "the new count", lambda: "2 images will" in panel.inner_text())

    button.click()

    previous = panel.locator(".ev-previous").first
    poll(session.page, "the first results dimmed", previous.is_visible)
    text = panel.inner_text()
    session.screenshot(panel, "second-started")
    assert "previous run" in text and "Done: 2 images." not in text, text
    assert float(previous.evaluate("el => getComputedStyle(el).opacity")) < 0.5
    assert previous.locator("img").count() == 1

    poll(session.page, "the second run", lambda: "Done: 2 images." in panel.inner_text())
    wait_for_images(panel, 2)
    assert panel.locator(".ev-previous").count() == 0
    assert "previous run" not in panel.inner_text()
    session.screenshot(panel, "second-done")
    session.assert_only_loopback_traffic()


def test_empty_panels_open_with_a_grey_hint(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.name = "panels-empty"
    session.run_notebook([sandbox_cell("ev.TryOnPanel(client)"), "ev.ProductPanel(client)"])
    hint = colour_of(session.panel(), "var(--jp-ui-font-color2)")
    for cell, words in ((0, "the person and the garment"), (1, "one per line")):
        panel = session.output(cell).locator(".ev-panel").first
        line = status_line(panel)
        poll(session.page, "the hint", lambda line=line: line.inner_text().strip())
        session.screenshot(panel, f"cell{cell}")
        text = line.inner_text()
        assert words in text and "/samples/... path of the sandbox" in text, text
        assert "clothing[0]" not in text, text
        shown = line.locator("div[style*=color]").first.evaluate("el => getComputedStyle(el).color")
        assert shown == hint, (shown, hint)


def test_no_label_is_cut_in_the_generate_try_on_and_product_panels(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2400})
    session.name = "panels-labels"
    session.run_notebook(
        [
            sandbox_cell("ev.GeneratePanel(client, product)"),
            TRY_ON,
            "ev.ProductPanel(client, ['/samples/products/tshirt-red.jpg'])",
        ]
    )
    for cell, name in enumerate(("generate", "try-on", "product")):
        panel = session.output(cell).locator(".ev-panel").first
        poll(session.page, f"the {name} panel", lambda panel=panel: panel.is_visible())
        session.screenshot(panel, name)
        cut: list[str] = panel.evaluate(CLIPPED_JS)
        assert not cut, f"text cut off in the {name} panel: {cut}"
        wider = panel.evaluate("el => el.scrollWidth > el.clientWidth + 1")
        assert not wider, f"the {name} panel is wider than its output area"
