"""Every view in JupyterLab's light and dark themes: screenshots, and the contrast of its text.

JupyterLab, Chromium and the notebook session come from :mod:`test_browser` (its fixtures are
imported here). One notebook shows a generate panel after a run, an image grid (sections and
tabs), a product card, a job card, a comparison, a sweep matrix with a failed row and a report
(its inline view). Each view is screenshotted in the light theme, then JupyterLab is switched
to "JupyterLab Dark" from its Settings menu and each view is screenshotted again, as
``build/test-artifacts/theme-<view>-<theme>.png``.

In both themes the page measures, for every piece of text in those views, the WCAG 2 contrast
ratio between its computed colour and the background it is drawn on (the first opaque
``background-color`` among its ancestors, with the translucent ones above it composited in).
Body text needs 4.5:1; large text (24 px, or 18.66 px bold) needs 3:1, as WCAG AA says.
Disabled controls are exempt, as WCAG says. The table of the lowest ratio per kind of text is
printed and saved as ``build/test-artifacts/theme-contrast.json``.
"""

from __future__ import annotations

import json
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
    wait_for_images,
)

BODY_RATIO = 4.5
LARGE_RATIO = 3.0
SOURCE = "f'{sb.url}/samples/products/tshirt-red.jpg'"
MISSING = "f'{sb.url}/samples/products/no-such-picture.jpg'"

CELLS = [
    sandbox_cell(
        "panel = ev.GeneratePanel(client, product)",
        "panel.rows['detail'].enabled.value = True",
        "panel",
    ),
    "job = client.generate(product.id, ev.GenerateRequest("
    "[ev.ImageSpec('main', count=2), ev.ImageSpec('detail', count=1, aspect_ratio='4:3')]))\n"
    "job.wait(timeout=60)\n"
    "ev.show_images(job.images, group_by='image_type', title='Images of one job')",
    "ev.show_images(job.images, group_by='image_type', layout='tabs')",
    "product = client.get_product(product.id)\nproduct",
    "job",
    # A source that cannot be fetched: its placeholder's text is checked too.
    f"ev.compare_product(product, sources=[{SOURCE}, {MISSING}], images=job.images)",
    # One run at a time; once the first completes the sandbox's jobs take 10 min, so the
    # second one runs out of time (8 s) and the matrix shows a failed row.
    "import httpx\n"
    "def slow_after_first(run):\n"
    "    if run.state == 'completed':\n"
    "        httpx.post(f'{sb.url}/_sandbox/config', json={'job_seconds': 600})\n"
    "result = ev.sweep(client, product, ev.GenerateRequest([ev.ImageSpec('main', count=1)]),\n"
    "                  vary={'platform': ['amazon', 'shopee']}, concurrency=1, timeout=8,\n"
    f"                  sources=[{SOURCE}], progress=slow_after_first)\n"
    "httpx.post(f'{sb.url}/_sandbox/config', json={'job_seconds': 3})\n"
    "result",
    f"ev.Report('Theme check').add(job, sources=[{SOURCE}, {MISSING}], note='One job.')",
]

# The views (cell, the root inside its output) and what to call the text in them: each piece
# of text takes the first name whose selector it sits in.
VIEWS: dict[str, tuple[int, str]] = {
    "panel": (0, ".ev-panel"),
    "grid": (1, "[class^='ev-grid-']"),
    "tabs": (2, "[class^='ev-grid-']"),
    "product-card": (3, "[class^='ev-card-']"),
    "job-card": (4, "[class^='ev-card-']"),
    "comparison": (5, "[class^='ev-cmp-']"),
    "matrix": (6, ".ev-matrix"),
    "report": (7, ".evr"),
}
ROLES: list[tuple[str, str]] = [
    ("panel status line", ".ev-status"),
    ("panel progress line", ".widget-hprogress ~ .widget-label"),
    ("panel heading", ".ev-panel h4"),
    ("panel section title", ".jupyter-widget-Collapse-header"),
    ("placeholder text", ".ev-x, .evr-x"),
    ("report header", ".evr-head"),
    ("report contents", ".evr-toc"),
    ("report facts", ".evr-facts"),
    ("report note", ".evr-note, .evr-err"),
    ("report section title", ".evr-sec h2, .evr-col h3, .evr-group"),
    ("report caption", ".evr-t figcaption"),
    ("report parameters", ".evr-p"),
    ("tile caption", ".ev-c"),
    ("grid group heading", ".ev-h"),
    ("grid title", ".ev-title:not(.ev-matrix .ev-title)"),
    ("tab label", "[class^='ev-grid-'] > label"),
    ("card status badge", ".ev-badge"),
    ("card title", ".ev-name"),
    ("card id line", ".ev-sub"),
    ("card section label", "[class^='ev-card-'] .ev-k"),
    ("card fact label", "dt"),
    ("card fact value", "dd"),
    ("card colour chip", ".ev-chip"),
    ("card note", ".ev-note, .ev-more"),
    ("card progress line", ".ev-bar + div"),
    ("comparison caption", "[class^='ev-cmp-'] figcaption"),
    ("comparison label", "[class^='ev-cmp-'] .ev-k, .ev-none"),
    ("matrix title", ".ev-matrix .ev-title"),
    ("matrix column header", ".ev-matrix thead th"),
    ("matrix row header", ".ev-matrix tbody th"),
    ("matrix caption", ".ev-matrix figcaption"),
    ("matrix run state", ".ev-state"),
    ("panel input", "input, textarea, select, .jupyter-widget-tagsinput"),
    ("panel hint", ".ev-panel small"),
    ("panel button", "button"),
    ("panel label", ".widget-label, .widget-label-basic, label, .lm-AccordionPanel-title"),
    ("panel request preview", ".ev-preview"),
]

CONTRAST_JS = """
([roles, root]) => {
    const parse = (text) => {
        const m = text.match(/rgba?\\(([^)]+)\\)/);
        if (!m) return null;
        const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const over = (top, below) => {  // top composited onto an opaque colour
        const a = top[3];
        return [0, 1, 2].map(i => top[i] * a + below[i] * (1 - a)).concat([1]);
    };
    const channel = (c) => {
        c /= 255;
        return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    const luminance = (c) =>
        0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
    const hex = (c) => '#' + c.slice(0, 3).map(v => Math.round(v).toString(16).padStart(2, '0'))
        .join('');
    const background = (el) => {
        const layers = [];
        let opacity = 1;
        for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
            const style = getComputedStyle(node);
            opacity *= Number(style.opacity);
            const bg = parse(style.backgroundColor);
            if (bg && bg[3] > 0) {
                layers.push(bg);
                if (bg[3] >= 1) break;
            }
        }
        let colour = [255, 255, 255, 1];  // the canvas, if nothing is opaque
        for (const layer of layers.reverse()) colour = over(layer, colour);
        return [colour, opacity];
    };
    const ownText = (el) => {
        if (['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName)) {
            return ['checkbox', 'radio', 'range', 'hidden'].includes(el.type) ? '' : el.value;
        }
        return [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent)
            .join(' ').replace(/\\s+/g, ' ').trim();
    };
    const found = [];
    for (const el of [root, ...root.querySelectorAll('*')]) {
        const text = ownText(el);
        if (!text || el.closest('style, script')) continue;
        const style = getComputedStyle(el);
        const box = el.getBoundingClientRect();
        if (style.visibility !== 'visible' || box.width === 0 || box.height === 0) continue;
        if (el.closest(':disabled, [disabled], .mod-disabled')) continue;  // exempt in WCAG
        const [bg, opacity] = background(el);
        const fg = parse(style.color);
        const text_colour = over([fg[0], fg[1], fg[2], fg[3] * opacity], bg);
        const [a, b] = [luminance(text_colour), luminance(bg)];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        const size = parseFloat(style.fontSize);
        const bold = Number(style.fontWeight) >= 700;
        const role = roles.find(([, selector]) => el.closest(selector));
        found.push({
            role: role ? role[0] : 'other text',
            element: el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
                ? '.' + el.className.trim().split(/\\s+/).join('.') : ''),
            text: text.slice(0, 60),
            color: style.color,
            shown: hex(text_colour),
            background: hex(bg),
            ratio: ratio,
            large: size >= 24 || (size >= 18.66 && bold),
        });
    }
    return found;
}
"""


_NOTEBOOK_BACKGROUND = "getComputedStyle(document.querySelector('.jp-Notebook')).backgroundColor"


def measure(view: Locator) -> list[dict[str, Any]]:
    """The contrast of every piece of visible text in ``view``, as the page computes it."""
    found: list[dict[str, Any]] = view.evaluate(
        "(root, roles) => (" + CONTRAST_JS + ")([roles, root])", ROLES
    )
    return found


def use_theme(here: Session, name: str) -> None:
    """Settings ▸ Theme ▸ ``name``, as a person would; returns once the theme is applied."""
    page = here.page
    before = page.evaluate(_NOTEBOOK_BACKGROUND)
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    # Menu items by their label: a theme's item is a checkbox item, not a plain menuitem.
    item = ".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('{}'))"
    page.locator(item.format("Theme")).hover()
    page.locator(item.format(name)).click()
    poll(
        page,
        f"the {name} theme",
        lambda: page.evaluate("document.body.dataset.jpThemeName") == name,
    )
    # The theme's stylesheet is in once its variables reach the notebook's background.
    poll(page, f"the {name} stylesheet", lambda: page.evaluate(_NOTEBOOK_BACKGROUND) != before)


def images_loaded(view: Locator) -> bool:
    loaded: bool = view.evaluate(
        "el => [...el.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    return loaded


def check_theme(here: Session, theme: str, table: dict[str, dict[str, float]]) -> list[str]:
    """Screenshot every view and measure its text; returns the failures, fills ``table``."""
    failures: list[str] = []
    for view_name, (cell, selector) in VIEWS.items():
        view = here.output(cell).locator(selector).first
        poll(here.page, f"the {view_name}'s images", lambda v=view: images_loaded(v))
        here.screenshot(view, f"{view_name}-{theme}")
        found = measure(view)
        assert found, f"no text measured in the {view_name}"
        for entry in found:
            row = table.setdefault(f"{entry['role']} ({view_name})", {})
            row[theme] = min(row.get(theme, 99.0), entry["ratio"])
            needed = LARGE_RATIO if entry["large"] else BODY_RATIO
            if entry["ratio"] < needed:
                failures.append(
                    f"{theme}: {view_name} {entry['role']} <{entry['element']}> "
                    f"{entry['text']!r}: {entry['shown']} (color {entry['color']}) on "
                    f"{entry['background']} is {entry['ratio']:.2f}:1, below {needed}:1"
                )
    return failures


def test_every_view_reads_well_in_the_light_and_dark_themes(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    # Tall enough for the panel: an element screenshot is clipped to the viewport.
    session.page.set_viewport_size({"width": 1280, "height": 2000})
    session.name = "theme"
    session.run_notebook(CELLS)
    page = session.page
    panel = session.panel()
    panel.locator("button", has_text="Generate").click()
    wait_for_images(panel, 2)  # one main, one detail
    poll(page, "the panel's status line", lambda: "Done: 2 images." in panel.inner_text())
    matrix = session.output(6).locator(".ev-matrix").first.inner_text()
    assert "completed" in matrix and "failed" in matrix, matrix
    assert "image unavailable" in session.output(5).first.inner_text()

    assert page.evaluate("document.body.dataset.jpThemeLight") == "true"
    table: dict[str, dict[str, float]] = {}
    failures = check_theme(session, "light", table)
    use_theme(session, "JupyterLab Dark")
    assert page.evaluate("document.body.dataset.jpThemeLight") == "false"
    failures += check_theme(session, "dark", table)

    lines = [f"{'text':<48} {'light':>6} {'dark':>6}"] + [
        f"{role:<48} {ratios.get('light', 0):>6.2f} {ratios.get('dark', 0):>6.2f}"
        for role, ratios in sorted(table.items())
    ]
    print("lowest contrast ratio per kind of text\n" + "\n".join(lines))
    rounded = {role: {t: round(r, 2) for t, r in ratios.items()} for role, ratios in table.items()}
    (ARTIFACTS / "theme-contrast.json").write_text(json.dumps(rounded, indent=1), encoding="utf-8")
    assert not failures, "text below the WCAG AA contrast:\n" + "\n".join(failures)
    session.assert_only_loopback_traffic()
