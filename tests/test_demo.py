"""The demo entry points: ``binder/start``, ``run_headless`` (pages checked in Chromium) and
the ``make demo`` recipe.

``binder/start`` is run for real with a dummy command: it must start a sandbox that answers,
hand the command ``ECOMVIZ_BASE_URL`` and leave its process id next to its log, so the test can
stop it. ``run_headless`` executes small notebooks in real kernels; its pages are opened from
disk in Chromium with every request but ``file:`` and ``data:`` refused. The Makefile is only
dry-run (``make -n -B``): a real ``make demo HEADLESS=1`` from a fresh clone creates a venv
and installs JupyterLab, which CI does separately. Chromium is Debian's, as in ``test_browser.py``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from playwright.sync_api import Browser, Route, sync_playwright

from ecomviz_nb import config
from ecomviz_nb.cli import main
from ecomviz_nb.demo import DemoFailed, run_headless, serve
from ecomviz_nb.export import not_embedded
from ecomviz_nb.ledger import JobLedger

ROOT = Path(__file__).resolve().parents[1]
START = ROOT / "binder" / "start"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
    # Resolve no host, so nothing leaves the machine even if a page asked (the tests check
    # that none does).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
PRINT_HEALTH = (
    "import os, urllib.request; print(os.environ['ECOMVIZ_BASE_URL']); "
    "print(urllib.request.urlopen(os.environ['ECOMVIZ_BASE_URL'] + '/_sandbox/health')"
    ".read().decode())"
)
GENERATE = """\
import os
import ecomviz_nb as ev
assert "ECOMVIZ_API_TOKEN" not in os.environ, "the demo must never send a real token"
client = ev.connect(quiet=True)
assert client.base_url == os.environ["ECOMVIZ_BASE_URL"], client.base_url
print("home:", os.environ["ECOMVIZ_HOME"])
product = client.create_product([client.base_url + "/samples/products/tshirt-red.jpg"])
job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=1)]))
product = job.wait(timeout=60)
assert len(job.images) == 1
ev.show_images(job.images)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that never reaps it (containers)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMVIZ_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        ECOMVIZ_SANDBOX_PORT=str(port),
        ECOMVIZ_SANDBOX_LOG=str(tmp_path / "logs" / "sandbox.log"),
        ECOMVIZ_SANDBOX_WAIT="30",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@pytest.fixture
def stop_started_sandbox(tmp_path: Path) -> Iterator[Path]:
    """The pid file binder/start writes; whatever it names is stopped after the test."""
    pid_file = tmp_path / "logs" / "sandbox.log.pid"
    yield pid_file
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if _alive(pid) else b""
    if b"ecomviz_nb.cli" not in cmdline:
        return  # gone already (or the id was reused): nothing of ours to stop
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _alive(pid):
            return
    pytest.fail(f"the sandbox {pid} started by binder/start would not stop")


# ---------------------------------------------------------------- Binder


def test_binder_files_are_what_repo2docker_expects() -> None:
    requirements = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    lines = [line.strip() for line in requirements if line.strip() and not line.startswith("#")]
    project = [line for line in lines if line == "." or line.startswith(".[")]
    assert project, "the project itself (repo2docker installs from the repository root)"
    assert any(line.startswith("jupyterlab") for line in lines)
    assert (ROOT / "binder" / "runtime.txt").read_text().strip().startswith("python-3.")
    assert os.access(START, os.X_OK), "binder/start must be executable"
    text = START.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert text.rstrip().endswith('exec "$@"')


def test_binder_start_serves_a_sandbox_then_runs_the_command(
    tmp_path: Path, stop_started_sandbox: Path
) -> None:
    port = _free_port()
    result = subprocess.run(
        [str(START), "python", "-c", PRINT_HEALTH],
        env=_start_env(tmp_path, port),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    log = tmp_path / "logs" / "sandbox.log"
    detail = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, detail
    url, health = result.stdout.strip().splitlines()
    assert url == f"http://127.0.0.1:{port}", detail
    assert json.loads(health)["status"] == "ok", detail
    assert "answers on" in result.stderr
    assert f"127.0.0.1:{port}" in log.read_text()
    # It keeps running for JupyterLab, and its id is where the fixture finds it.
    pid = int(stop_started_sandbox.read_text())
    assert _alive(pid) and _port_open(port)


def test_binder_start_runs_the_command_when_the_sandbox_cannot_start(
    tmp_path: Path, stop_started_sandbox: Path
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]  # held by something that is not a sandbox
        result = subprocess.run(
            [str(START), "python", "-c", "import os; print(os.environ.get('ECOMVIZ_BASE_URL'))"],
            env=_start_env(tmp_path, port),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None", "no URL: ev.connect() then starts its own sandbox"
    assert "warning" in result.stderr and "did not answer" in result.stderr
    assert not stop_started_sandbox.exists()


# ---------------------------------------------------------------- run_headless


def _write(folder: Path, name: str, *cells: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_markdown_cell(f"# {name}"), *map(new_code_cell, cells)])
    path = folder / name
    nbformat.write(nb, path)
    return path


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


def _open(browser: Browser, page_path: Path) -> dict[str, Any]:
    """Load a page from disk (nothing else may load: attempts are recorded) and report its
    images, links, scripts, panel snapshots and text."""
    page = browser.new_page()
    attempted: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    try:
        page.route("**/*", local_only)
        page.goto(page_path.as_uri(), wait_until="load", timeout=30_000)
        seen = dict(
            page.evaluate(
                """async () => {
                    const images = Array.from(document.images);
                    await Promise.all(images.map((i) => i.decode().catch(() => null)));
                    return {
                        images: images.map((i) => [i.src.slice(0, 40), i.naturalWidth]),
                        links: Array.from(document.links).map((a) => a.getAttribute("href")),
                        scripts: document.scripts.length,
                        panels: Array.from(document.querySelectorAll(".ev-snapshot")).map(
                            (p) => [p.dataset.evPanel, p.innerText]),
                        text: document.body.innerText,
                    };
                }"""
            )
        )
    finally:
        page.close()
    seen["attempted"] = attempted
    return seen


def test_run_headless_writes_pages_and_the_runs_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: Browser
) -> None:
    monkeypatch.setenv(config.ENV_TOKEN, "a-real-token-the-demo-must-drop")
    source = tmp_path / "notebooks"
    generate = _write(source, "01_generate.ipynb", GENERATE, "ev.JobsPanel(client)")
    _write(source, "02_trivial.ipynb", "print(6 * 7)")
    before = generate.read_bytes()
    out = tmp_path / "build"

    report = run_headless(source, out, timeout=120)

    assert report == out.resolve() / "demo-report.html"
    assert generate.read_bytes() == before, "the originals stay unexecuted"
    executed = nbformat.read(out / "notebooks" / "01_generate.ipynb", as_version=4)
    text = json.dumps(executed.cells[1].outputs)
    assert str(out.resolve() / "ecomviz-home") in text
    assert "widgets" in executed.metadata, "the executed copy keeps its widget state"
    for name in ("01_generate.html", "02_trivial.html"):
        assert (out / name).stat().st_size > 0

    # The run's report: status and time per notebook, then the run's jobs with their pictures.
    markup = report.read_text(encoding="utf-8")
    summary = _open(browser, report)
    assert summary["attempted"] == [] and summary["scripts"] == 0
    assert "all 2 ok" in summary["text"] and "failed" not in summary["text"]
    assert "completed: 1" in summary["text"], summary["text"]
    for href in ("01_generate.html", "02_trivial.html", "notebooks/01_generate.ipynb"):
        assert href in summary["links"]
        assert (out / href).exists()
    assert not [h for h in summary["links"] if "://" in h or h.startswith("//")]
    assert not_embedded(markup) == [], "every picture and style is inside the page"
    assert re.search(r"""<img[^>]*src=["']data:image/""", markup)
    assert summary["images"] and all(width > 0 for _, width in summary["images"])
    assert all(src.startswith("data:image/") for src, _ in summary["images"])
    [job] = JobLedger(out / "ecomviz-home" / "jobs.sqlite3").list(limit=None)
    assert job.id in summary["text"], "the run's job has its section, with its picture"

    # Each notebook's page stands alone: no script, nothing fetched, the panel as its snapshot.
    generated = _open(browser, out / "01_generate.html")
    assert generated["attempted"] == [] and generated["scripts"] == 0
    assert generated["images"], "the generated image is in the page"
    assert all(width > 0 for _, width in generated["images"]), generated["images"]
    assert all(src.startswith("data:") for src, _ in generated["images"])
    [(panel, panel_text)] = generated["panels"]
    assert panel == "JobsPanel" and job.id in panel_text and "completed" in panel_text
    assert "42" in _open(browser, out / "02_trivial.html")["text"]


def test_a_failing_notebook_raises_after_the_report_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []

    class FakeReport:
        sections = ("one", "two")

        def _repr_html_(self) -> str:
            return "<div class='evr'><p>the ledger of the run</p></div>"

    def report_from_ledger(client: Any, **kwargs: Any) -> FakeReport:
        seen.append((client, kwargs))
        return FakeReport()

    fake = types.ModuleType("ecomviz_nb.report")
    fake.report_from_ledger = report_from_ledger  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ecomviz_nb.report", fake)
    source = tmp_path / "notebooks"
    _write(source, "01_ok.ipynb", "x = 1")
    _write(source, "02_broken.ipynb", "raise ValueError('boom-7731')")
    _write(source, "03_after.ipynb", "print('still ran')")
    (source / "04_unreadable.ipynb").write_text("{not json", encoding="utf-8")
    out = tmp_path / "build"

    with pytest.raises(DemoFailed) as caught:
        run_headless(source, out, timeout=60)

    assert caught.value.failed == ["02_broken.ipynb", "04_unreadable.ipynb"]
    report = (out / "demo-report.html").read_text()
    assert caught.value.report == out.resolve() / "demo-report.html"
    assert "2 of 4 failed" in report
    assert "<tr class='failed'>" in report and "ValueError: boom-7731" in report
    assert report.count("<tr class='ok'>") == 2, "the notebooks after a failure still run"
    assert "boom-7731" in (out / "02_broken.html").read_text()
    assert "unreadable notebook" in (out / "04_unreadable.html").read_text()
    # The ledger report is built from a client of the run's sandbox and ledger, and inlined.
    [(client, kwargs)] = seen
    assert client.base_url.startswith("http://127.0.0.1:") and kwargs["limit"] is None
    assert client.ledger.path == out.resolve() / "ecomviz-home" / "jobs.sqlite3"
    assert "<p>the ledger of the run</p>" in report and "2 job(s) of this run" in report


def test_the_runs_report_is_written_when_the_ledger_report_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def report_from_ledger(client: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no <pictures> today")

    fake = types.ModuleType("ecomviz_nb.report")
    fake.report_from_ledger = report_from_ledger  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ecomviz_nb.report", fake)
    source = tmp_path / "notebooks"
    _write(source, "01_ok.ipynb", "x = 1")

    report = run_headless(source, tmp_path / "build", timeout=60).read_text()

    assert "all 1 ok" in report
    assert "failed: RuntimeError: no &lt;pictures&gt; today" in report


def test_demo_command_exit_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["demo", "--headless", "--notebooks", str(empty), "--out", str(tmp_path)]) == 2
    assert "ecomviz-nb demo: no notebooks" in capsys.readouterr().err
    missing = tmp_path / "nothing-here"
    assert main(["demo", "--notebooks", str(missing), "--out", str(tmp_path)]) == 2
    assert "no notebook" in capsys.readouterr().err


# ---------------------------------------------------------------- serve (make demo)


def _children(pid: int) -> dict[int, str]:
    """The child processes of ``pid``, with their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(stat.parent.name)] = cmdline.decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_serve_runs_jupyterlab_against_a_sandbox_and_stops_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    jupyter = tmp_path / "jupyter"
    for name, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
    ):
        monkeypatch.setenv(name, str(jupyter / sub))
    (jupyter / "config").mkdir(parents=True)
    quiet = {  # no browser, no news, no update check: nothing leaves the machine
        "ServerApp": {"open_browser": False},
        "LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            "extension_manager": "readonly",
        },
    }
    (jupyter / "config" / "jupyter_server_config.json").write_text(json.dumps(quiet))
    monkeypatch.setenv(config.ENV_TOKEN, "a-real-token-the-demo-must-drop")
    notebook = _write(tmp_path / "notebooks", "01_quickstart.ipynb", "1 + 1")
    port = _free_port()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["status"] = serve(notebook, port=port, log_dir=tmp_path / "build")
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    lab = sandbox = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "error" not in outcome:
            children = _children(os.getpid())
            lab = next((p for p, c in children.items() if " -m jupyterlab " in c), 0)
            sandbox = next((p for p, c in children.items() if "ecomviz_nb.cli sandbox" in c), 0)
            if lab and _port_open(port):
                break
            time.sleep(0.25)
        assert lab and sandbox, (outcome, _children(os.getpid()))
        assert _port_open(port), "JupyterLab is not listening on the port asked for"
        env = dict(
            item.split("=", 1)
            for item in Path(f"/proc/{lab}/environ").read_bytes().decode().split("\0")
            if "=" in item
        )
        assert config.ENV_TOKEN not in env, "JupyterLab's kernels must not see the token"
        base_url = env[config.ENV_BASE_URL]
        assert base_url.startswith("http://127.0.0.1:")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(base_url + "/_sandbox/health", timeout=5) as response:
            assert json.load(response)["status"] == "ok"
        printed = capsys.readouterr().out
        assert f"http://127.0.0.1:{port}/lab" in printed and "token=" in printed
    finally:
        for pid in (lab, sandbox):
            if pid and _alive(pid):
                os.kill(pid, signal.SIGTERM)  # JupyterLab exiting ends serve()
        thread.join(30)
    assert not thread.is_alive(), "serve() did not return after JupyterLab exited"
    assert "error" not in outcome, outcome
    assert not _alive(sandbox), "the sandbox outlived JupyterLab"
    with pytest.raises(urllib.error.URLError):
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(base_url, timeout=2)


# ---------------------------------------------------------------- make demo


def _dry_run(*variables: str) -> list[list[str]]:
    """The commands ``make demo`` would run on a fresh clone (``-B``: as if nothing existed)."""
    make = shutil.which("make")
    assert make is not None, "make is not installed"
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        [make, "--no-print-directory", "-n", "-B", "demo", *variables],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("variables", "headless"),
    [((), False), (("HEADLESS=1",), True), (("HEADLESS=0",), False)],
)
def test_make_demo_installs_then_runs_the_demo(variables: tuple[str, ...], headless: bool) -> None:
    commands = _dry_run(*variables)
    venv = next(i for i, c in enumerate(commands) if c[1:4] == ["-m", "venv", ".venv"])
    install = next(
        i for i, c in enumerate(commands) if "install" in c and any("[demo]" in a for a in c)
    )
    demo = commands[-1]
    assert venv < install < len(commands) - 1, commands
    assert Path(demo[0]) == Path(".venv/bin/ecomviz-nb") and demo[1] == "demo", demo
    assert ("--headless" in demo) is headless, demo
