"""The panels in a real browser: JupyterLab in headless Chromium, clicked like a person would.

A module fixture starts JupyterLab on a free loopback port, with its config, data, runtime,
settings and workspace folders (and ``ECOMVIZ_HOME``) in a temporary directory. Each test writes
a notebook whose first cell starts a sandbox *inside the kernel*, opens it in Chromium, runs it
from the Run menu and clicks the panel's button. The progress bar and the image grid must then
update by themselves: the panels work in a task on the kernel's loop, so no other cell runs.

Chromium is Debian's (``apt-get install chromium``): without it these tests fail, they do not
skip. Chromium resolves no host name, so the page can only reach 127.0.0.1. Screenshots of
every panel, before and after its job, go to ``build/test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nbformat
import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
HOSTILE = '<img src=x onerror="window.__ev_pwned=1">'
VIEWPORT = {"width": 1280, "height": 1200}
LAB_START_SECONDS = 90
STEP_SECONDS = 60
"""Budget of one step (a page load, a kernel start, a job): generous for a 2-core CI runner."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-proxy-server",
    # Resolve no host name at all: the page can only reach loopback addresses.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
LAB_SETTINGS = {
    # No news feed and no update check: nothing leaves the machine, no toast covers a cell.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Attach every cell to the DOM, so locators see the whole notebook.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
ERROR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"

T = TypeVar("T")

# Loopback only, whatever proxy the environment names.
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------- JupyterLab


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with _LOOPBACK.open(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(no JupyterLab log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def shut_down_kernels(self) -> None:
        """End every session, so kernels (and the sandboxes inside them) do not pile up."""
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}")
        except (OSError, urllib.error.URLError) as exc:
            print(f"could not shut the kernels down: {exc}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _lab_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOMVIZ_", "JUPYTER"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "lab-workspaces"),
        IPYTHONDIR=str(base / "ipython"),
        ECOMVIZ_HOME=str(base / "ecomviz-home"),
        PYTHONUNBUFFERED="1",
        # The kernel's client talks to its sandbox on 127.0.0.1: never through a proxy.
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 and a free port, isolated in a temporary folder."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "notebooks"
    root.mkdir()
    # The kernel is this interpreter, so it imports the ecomviz_nb under test.
    _write_json(
        base / "data" / "kernels" / "python3" / "kernel.json",
        {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "metadata": {"debugger": False},
        },
    )
    for plugin, values in LAB_SETTINGS.items():
        _write_json(base / "lab-settings" / f"{plugin}.jupyterlab-settings", values)
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:  # CI containers
        command.append("--allow-root")
    log = base / "jupyterlab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=_lab_env(base),
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Lab(f"http://127.0.0.1:{port}", token, root, log, process)
    try:
        deadline = time.monotonic() + LAB_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("GET", "/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not answer in {LAB_START_SECONDS} s:\n{server.log_tail()}"
                    )
                time.sleep(0.25)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (its kernels too), then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# ---------------------------------------------------------------- Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "chromium is not on PATH: these tests drive Debian's chromium "
            "(apt-get install chromium); playwright's downloaded browsers are not used",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def poll(
    page: Page,
    what: str,
    probe: Callable[[], T | None],
    timeout: float = STEP_SECONDS,
    every: float = 0.1,
) -> T:
    """Call ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout``.

    It waits through the page, so playwright keeps delivering the page's events meanwhile.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        page.wait_for_timeout(every * 1000)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@dataclass
class Session:
    """One page on the lab, and what it saw: console messages, every URL it requested."""

    lab: Lab
    page: Page
    name: str
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    # ---- the notebook

    def run_notebook(self, cells: list[str]) -> None:
        """Write a notebook of these code cells, open it in a workspace of its own and run it
        from the menu; returns once every cell has run once."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        nbformat.write(nb, self.lab.root / f"{self.name}.ipynb")
        self.page.goto(
            f"{self.lab.url}/lab/workspaces/{self.name}/tree/{self.name}.ipynb"
            f"?reset&token={self.lab.token}"
        )
        self.page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        self.wait_for_kernel()
        self.run_all_cells()
        numbered = [f"[{i}]:" for i in range(1, len(cells) + 1)]
        poll(
            self.page,
            "every cell to run",
            lambda: self.raise_cell_error() or (self.prompts() == numbered or None),
        )

    def kernel_status(self) -> str | None:
        indicator = self.page.locator(".jp-Notebook-ExecutionIndicator").first
        return indicator.get_attribute("data-status")

    def wait_for_kernel(self) -> None:
        """Wait until the page is connected to a started kernel that stays idle a moment.

        The indicator reads "idle" even before the kernel is connected, so first wait for the
        kernel's websocket, then for five "idle" readings in a row.
        """
        poll(
            self.page,
            "the kernel's websocket",
            lambda: any(u.startswith("ws://") and "/api/kernels/" in u for u in self.requests),
        )
        idle: list[bool] = []

        def settled() -> bool:
            idle.append(self.kernel_status() == "idle")
            return len(idle) >= 5 and all(idle[-5:])

        poll(self.page, "the kernel to be idle", settled)

    def run_all_cells(self) -> None:
        """Run ▸ Run All Cells, through the menu bar (a second time if the first is lost)."""
        for attempt in range(2):
            self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
            self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            try:
                poll(
                    self.page,
                    "a cell to start",
                    lambda: any(p != "[ ]:" for p in self.prompts()),
                    timeout=10,
                )
                return
            except pytest.fail.Exception:
                if attempt:
                    raise

    def raise_cell_error(self) -> None:
        """Fail at once, with the traceback, if a cell raised."""
        for text in self.page.locator(ERROR_OUTPUT).all_inner_texts():
            if "Traceback" in text or re.search(r"^\w*(Error|Exception)\b", text, re.M):
                pytest.fail(f"a notebook cell failed:\n{text[-3000:]}")

    def prompts(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".jp-InputPrompt").all_inner_texts()]

    def output(self, cell: int, mime: str | None = None) -> Locator:
        """The outputs of a cell (those of one MIME type)."""
        kind = f"[data-mime-type='{mime}']" if mime else ""
        cells = self.page.locator(".jp-Notebook .jp-Cell")
        return cells.nth(cell).locator(f".jp-OutputArea-output{kind}")

    def panel(self) -> Locator:
        """The first cell's panel (its root carries the ``ev-panel`` class)."""
        return self.output(0).locator(".ev-panel").first

    # ---- evidence

    def screenshot(self, target: Locator | None, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        if target is None:
            self.page.screenshot(path=path, full_page=True)
        else:
            target.scroll_into_view_if_needed()
            target.screenshot(path=path)
        return path

    def assert_only_loopback_traffic(self) -> None:
        outside = [u for u in self.requests if not _is_loopback(u)]
        assert not outside, f"the page tried to reach other hosts: {outside}"

    def diagnostics(self) -> str:
        outputs = "\n".join(
            f"  {text[:400]!r}"
            for text in self.page.locator(".jp-OutputArea-output").all_inner_texts()
        )
        return (
            f"---- kernel status: {self.kernel_status()}; prompts: {self.prompts()}\n"
            f"---- cell outputs\n{outputs or '  (none)'}\n"
            f"---- browser console (last 40)\n" + ("\n".join(self.console[-40:]) or "(none)")
        )


def _is_loopback(url: str) -> bool:
    return url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:"))


@pytest.fixture
def session(browser: Browser, lab: Lab, request: pytest.FixtureRequest) -> Iterator[Session]:
    """A fresh browser context on the lab (the browser first: no chromium, no lab started);
    prints what it saw, which pytest shows if the test fails."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(STEP_SECONDS * 1000)
    page = context.new_page()
    here = Session(lab, page, re.sub(r"\W+", "-", request.node.name).strip("-"))
    page.on("console", lambda msg: here.console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: here.console.append(f"[pageerror] {exc}"))
    page.on("request", lambda req: here.requests.append(req.url))
    page.on("websocket", lambda ws: here.requests.append(ws.url))
    try:
        yield here
    finally:
        try:
            here.screenshot(None, "page")
            print(here.diagnostics())
        except Exception as exc:  # diagnostics must not hide the test's own failure
            print(f"(no page diagnostics: {exc})")
        context.close()
        lab.shut_down_kernels()
        print(f"---- JupyterLab log (tail)\n{lab.log_tail()}")


# ---------------------------------------------------------------- panels


def sandbox_cell(*lines: str) -> str:
    """A first cell: a sandbox inside the kernel (jobs take 3 s), a product on it, ``lines``."""
    return "\n".join(
        [
            "import sys",
            "import ecomviz_nb as ev",
            "print('kernel prefix:', sys.prefix)",
            "sb = ev.Sandbox(port=0, job_seconds=3).start()",
            "client = sb.client()",
            "product = client.create_product([f'{sb.url}/samples/products/tshirt-red.jpg'])",
            *lines,
        ]
    )


def bar_state(panel: Locator) -> dict[str, Any]:
    """The panel's progress bar as drawn: shown or not, its CSS width, its classes."""
    state: dict[str, Any] = panel.locator(".widget-hprogress").first.evaluate(
        """el => {
            const bar = el.querySelector('.progress-bar');
            return {shown: el.offsetParent !== null, width: bar.style.width,
                    classes: bar.className};
        }"""
    )
    return state


def click_and_follow(session: Session, panel: Locator, button: str) -> list[str]:
    """Click ``button`` and watch the bar reach 100 %; returns the widths it showed.

    No cell is run meanwhile: the prompts must read the same before and after.
    """
    prompts = session.prompts()
    assert not bar_state(panel)["shown"], "the progress bar shows before any job"
    session.screenshot(panel, "before")
    panel.locator("button", has_text=button).click()
    widths: list[str] = []

    def complete() -> bool:
        state = bar_state(panel)
        if state["shown"] and (not widths or widths[-1] != state["width"]):
            widths.append(state["width"])
            if state["width"] != "100%":
                session.screenshot(panel, "running")  # the last partial bar wins
        return state["width"] == "100%" and "progress-bar-success" in state["classes"]

    poll(session.page, "the progress bar to reach 100 %", complete, every=0.05)
    assert widths[0] != "100%", f"the bar never showed a job in progress: {widths}"
    assert session.prompts() == prompts, "a cell ran while the job was followed"
    print("progress bar widths seen:", widths)
    return widths


def wait_for_images(panel: Locator, count: int) -> list[dict[str, Any]]:
    """Wait until the panel holds ``count`` <img> (its run history's thumbnails aside), all
    loaded; returns their src and size."""
    images = panel.locator("img")

    def loaded() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = images.evaluate_all(
            """els => els.filter(e => !e.closest('.ev-history'))
                .map(e => ({src: e.getAttribute('src'), complete: e.complete,
                            width: e.naturalWidth, height: e.naturalHeight}))"""
        )
        if len(found) == count and all(i["complete"] and i["width"] > 0 for i in found):
            return found
        return None

    found = poll(panel.page, f"{count} loaded images in the panel", loaded)
    assert all(i["src"].startswith("data:image/jpeg;base64,") for i in found), [
        i["src"][:60] for i in found
    ]
    return found


# ---------------------------------------------------------------- tests


def test_generate_panel_clicked_in_the_browser_fills_its_bar_and_grid(session: Session) -> None:
    session.run_notebook(
        [
            sandbox_cell(
                "panel = ev.GeneratePanel(client, product)",
                "panel.rows['main'].count.value = 2",
                "panel.rows['detail'].enabled.value = True",
                "panel",
            )
        ]
    )
    # The kernel is this interpreter (it imported the ecomviz_nb under test).
    assert f"kernel prefix: {sys.prefix}" in session.output(0).first.inner_text()
    panel = session.panel()
    assert "3 images will be generated." in panel.inner_text()

    click_and_follow(session, panel, "Generate")

    wait_for_images(panel, 3)  # two main, one detail
    text = panel.inner_text()
    assert "3 of 3 images · completed" in text
    assert "Done: 3 images." in text
    session.screenshot(panel, "after")
    session.assert_only_loopback_traffic()


def test_try_on_panel_clicked_in_the_browser_shows_person_clothing_and_result(
    session: Session,
) -> None:
    session.run_notebook(
        [
            sandbox_cell(
                "panel = ev.TryOnPanel(",
                "    client,",
                "    person_url=f'{sb.url}/samples/people/person-a.jpg',",
                "    clothing=[(f'{sb.url}/samples/garments/dress-green.png', 'price US9.9')],",
                ")",
                "panel",
            )
        ]
    )
    panel = session.panel()

    click_and_follow(session, panel, "Try on")

    wait_for_images(panel, 3)  # person | clothing | result
    text = panel.inner_text()
    assert "1 of 1 images · completed" in text
    assert "price US9.9" in text
    assert re.search(r"Done: try-on \w+ is completed\.", text), text
    session.screenshot(panel, "after")
    session.assert_only_loopback_traffic()


def test_hostile_product_name_shows_as_text_and_runs_no_script(session: Session) -> None:
    session.run_notebook(
        [
            sandbox_cell(
                f"hostile = {HOSTILE!r}",
                "product = ev.Product(id=product.id, name=hostile, colors=[hostile])",
                "panel = ev.GeneratePanel(client, product)",
                "panel.vto_enabled.value = True  # a VTO image in the hostile colour",
                "panel",
            ),
            # The product's rich display: importing ecomviz_nb registers a card for it.
            "product",
            # Controls: this page does run such markup when it is not escaped, in a widget and in
            # a cell's HTML output alike, so the checks below can fail.
            "import ipywidgets\n"
            "ipywidgets.HTML('<img src=y1 onerror=\"window.__ev_control_widget=1\">')",
            "from IPython.display import HTML\n"
            "HTML('<img src=y2 onerror=\"window.__ev_control_output=1\">')",
        ]
    )
    page = session.page
    poll(
        page,
        "the control payloads to run",
        lambda: page.evaluate(
            "window.__ev_control_widget === 1 && window.__ev_control_output === 1"
        ),
    )
    assert page.evaluate("typeof window.__ev_pwned") == "undefined", "the name ran as script"
    panel = session.panel()
    card = session.output(1, mime="text/html").first

    click_and_follow(session, panel, "Generate")
    wait_for_images(panel, 2)  # one main, one VTO
    session.screenshot(panel, "after")
    session.screenshot(card, "card")

    assert page.evaluate("typeof window.__ev_pwned") == "undefined", "the name ran as script"
    assert page.locator('img[src="x"]').count() == 0
    assert not [u for u in session.requests if re.search(r"/x(\?|$)", u)]
    # Shown as text: the heading, the colour tag, the colour hint and the VTO caption...
    assert panel.locator("h4").inner_text() == f"Generate images for {HOSTILE}"
    assert panel.inner_text().count(HOSTILE) >= 4, panel.inner_text()
    # ... and the card.
    assert card.is_visible()
    assert HOSTILE in card.inner_text(), card.inner_text()
    session.assert_only_loopback_traffic()
