"""``ev.ConnectPanel`` in a real browser, under ``ECOMVIZ_BASE_URL`` naming a sandbox.

JupyterLab, Chromium and the notebook session come from :mod:`test_browser` (its fixtures are
imported here); the contrast measure and the theme switch from :mod:`test_browser_theme`. The
lab's kernel starts without ``ECOMVIZ_*`` variables, so the cell starts a sandbox in the kernel
and sets ``ECOMVIZ_BASE_URL`` to it before building the panel, as a user's environment would.
Screenshots go to ``build/test-artifacts/connect-panel-<step>.png``.
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
    session,
)
from test_browser_theme import BODY_RATIO, LARGE_RATIO, measure, use_theme

from ecomviz_nb.local import REAL_API, SANDBOX

CELL = "\n".join(
    [
        "import os",
        "import ecomviz_nb as ev",
        "sb = ev.Sandbox(port=0, job_seconds=3).start()",
        "print('sandbox at', sb.url)",
        "os.environ['ECOMVIZ_BASE_URL'] = sb.url",
        "panel = ev.ConnectPanel()",
        "panel",
    ]
)

# Text cut by its box: what an ellipsis hides ("use a local sandbox (no to…"), and the
# placeholder of an empty field wider than the field (measured in the field's own font).
CLIPPED_JS = """el => {
    const cut = [...el.querySelectorAll('*')]
        .filter(e => e.textContent.trim() && e.clientWidth > 0
                     && e.scrollWidth > e.clientWidth + 1)
        .map(e => e.tagName.toLowerCase() + ': ' + e.textContent.trim());
    const pen = document.createElement('canvas').getContext('2d');
    for (const input of el.querySelectorAll('input[placeholder]')) {
        if (input.value || input.clientWidth === 0) continue;
        const style = getComputedStyle(input);
        pen.font = style.font;
        const room = input.clientWidth - parseFloat(style.paddingLeft)
            - parseFloat(style.paddingRight);
        if (pen.measureText(input.placeholder).width > room + 1) {
            cut.push('placeholder: ' + input.placeholder);
        }
    }
    return cut;
}"""


def form(panel: Locator) -> dict[str, Any]:
    """The form as drawn: the server field, the box, the buttons, and any cut-off text."""
    state: dict[str, Any] = panel.evaluate(
        """el => {
            const seen = e => !!e && e.offsetParent !== null;
            const button = name => [...el.querySelectorAll('button')]
                .find(b => b.textContent.trim() === name);
            const server = el.querySelector('input[type=text]');
            const token = el.querySelector('input[type=password]');
            return {
                server: server.value, server_shown: seen(server),
                token: token.value, token_shown: seen(token),
                box: el.querySelector('input[type=checkbox]').checked,
                connect: seen(button('Connect')),
                connect_disabled: !!button('Connect') && button('Connect').disabled,
                disconnect: seen(button('Disconnect')),
            };
        }"""
    )
    state["clipped"] = panel.evaluate(CLIPPED_JS)
    return state


def text_of(panel: Locator) -> str:
    return " ".join(panel.inner_text().split())


def wait_for_text(here: Session, panel: Locator, what: str) -> None:
    poll(here.page, repr(what), lambda: what in text_of(panel))


def button(panel: Locator, name: str) -> Locator:
    """The panel's button labelled ``name`` exactly (its icon aside)."""
    return panel.locator("button", has_text=re.compile(rf"^\W*{name}$"))


def low_contrast(panel: Locator, theme: str) -> list[str]:
    """The panel's text below WCAG AA (4.5:1, 3:1 when large) in the current theme."""
    found = measure(panel)
    assert found, "no text measured in the panel"
    lowest = min(found, key=lambda e: e["ratio"])
    print(f"lowest contrast ({theme}): {lowest['ratio']:.2f}:1 for {lowest['text']!r}")
    return [
        f"{theme}: <{e['element']}> {e['text']!r} {e['shown']} on {e['background']}: "
        f"{e['ratio']:.2f}:1"
        for e in found
        if e["ratio"] < (LARGE_RATIO if e["large"] else BODY_RATIO)
    ]


def test_connect_panel_under_a_sandbox_base_url_connects_disconnects_and_connects_again(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.name = "connect-panel"
    session.run_notebook([CELL])
    page = session.page
    printed = session.output(0).first.inner_text()
    address = re.search(r"sandbox at http://(127\.0\.0\.1:\d+)", printed)
    assert address, printed
    panel = session.panel()

    # Before connecting: the panel starts from the environment and names a sandbox.
    wait_for_text(session, panel, f"Will connect to an {SANDBOX} at $ECOMVIZ_BASE_URL.")
    session.screenshot(panel, "start")
    start = form(panel)
    assert start["server"] == "$ECOMVIZ_BASE_URL" and start["box"], start
    assert start["connect"] and not start["disconnect"], start
    assert not start["clipped"], f"labels cut off: {start['clipped']}"
    assert "use a local sandbox (no token, not billed)" in text_of(panel)
    assert address.group(1) not in text_of(panel)

    # Connect: the form gives way to a line naming the sandbox, and a Disconnect button.
    button(panel, "Connect").click()
    wait_for_text(session, panel, f"Connected to an {SANDBOX} at $ECOMVIZ_BASE_URL.")
    session.screenshot(panel, "connected")
    connected = form(panel)
    assert not connected["server_shown"] and not connected["token_shown"], connected
    assert connected["disconnect"] and not connected["connect"], connected
    assert not connected["clipped"], f"labels cut off: {connected['clipped']}"
    assert "Nothing is billed" in text_of(panel)

    # Disconnect: the form is back, empty of any token.
    button(panel, "Disconnect").click()
    wait_for_text(session, panel, "Disconnected from the sandbox at $ECOMVIZ_BASE_URL")
    session.screenshot(panel, "disconnected")
    back = form(panel)
    assert back["server_shown"] and back["connect"] and not back["disconnect"], back
    assert back["server"] == "$ECOMVIZ_BASE_URL" and back["token"] == "", back
    assert "the token is forgotten" in text_of(panel)
    failures = low_contrast(panel, "light")

    # Untick the box: the server is the public API, and the line says it is billed.
    panel.locator("input[type=checkbox]").uncheck()
    wait_for_text(session, panel, f"Will connect to {REAL_API} at https://ecomviz.cloud")
    session.screenshot(panel, "billed")
    billed = form(panel)
    assert billed["server"] == "https://ecomviz.cloud" and not billed["box"], billed
    assert "Billed API" in text_of(panel) and "each generation is billed" in text_of(panel)

    # A server that is no URL: the line names the field and what it takes; no click possible.
    server = panel.locator("input[type=text]")
    server.fill("ftp://example.com")
    server.press("Enter")
    wait_for_text(session, panel, "server: an http:// or https:// URL with a host")
    session.screenshot(panel, "bad-server")
    bad = form(panel)
    assert bad["connect_disabled"], bad
    assert "'ftp://example.com'" in text_of(panel)
    failures += low_contrast(panel, "light")

    # Tick the box again: back to the sandbox, and connect to it a second time.
    panel.locator("input[type=checkbox]").check()
    poll(
        page,
        "the server field back on the variable",
        lambda: form(panel)["server"] == "$ECOMVIZ_BASE_URL",
    )
    button(panel, "Connect").click()
    wait_for_text(session, panel, f"Connected to an {SANDBOX} at $ECOMVIZ_BASE_URL.")
    session.screenshot(panel, "connected-again")

    # The dark theme: the form, the line and an error still read well.
    use_theme(session, "JupyterLab Dark")
    button(panel, "Disconnect").click()
    wait_for_text(session, panel, "Disconnected from the sandbox")
    panel.locator("input[type=checkbox]").uncheck()
    button(panel, "Connect").click()  # no token: refused at once, no request
    wait_for_text(session, panel, "Enter an API token")
    session.screenshot(panel, "dark")
    failures += low_contrast(panel, "dark")
    assert not failures, "text below the WCAG AA contrast:\n" + "\n".join(failures)
    assert address.group(1) not in text_of(panel)
    session.assert_only_loopback_traffic()
