"""The demo: ``make demo`` (JupyterLab on the quickstart, backed by a local sandbox) and
``make demo HEADLESS=1`` (every notebook executed against one sandbox, then an HTML report).

``run_headless`` needs nbclient, nbconvert and ipykernel; ``serve`` needs JupyterLab. Both
remove ``ECOMVIZ_API_TOKEN`` from the kernels' environment: a demo never spends real credits.
"""

from __future__ import annotations

import argparse
import datetime
import html
import http.client
import importlib
import inspect
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import config

__all__ = ["DemoFailed", "NotebookRun", "main_demo", "run_headless", "serve"]

REPORT_NAME = "demo-report.html"
LEDGER_REPORT_NAME = "ledger-report.html"
QUICKSTART = "01_quickstart.ipynb"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Loopback only, whatever proxy the environment names.
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class NotebookRun:
    """How one notebook went: ``html`` is its page's path relative to the report."""

    name: str
    html: str
    ok: bool
    seconds: float
    error: str = ""


class DemoFailed(RuntimeError):
    """Some notebooks failed; the report (``.report``) was written all the same."""

    def __init__(self, report: Path, failed: Sequence[str]) -> None:
        super().__init__(f"{len(failed)} notebook(s) failed: {', '.join(failed)}; see {report}")
        self.report = report
        self.failed = list(failed)


def _kernel_env(base_url: str, home: Path | None = None) -> dict[str, str]:
    """This process's environment, pointed at a sandbox, without a token, never via a proxy."""
    env = {k: v for k, v in os.environ.items() if k != config.ENV_TOKEN}
    env[config.ENV_BASE_URL] = base_url
    if home is not None:
        env[config.ENV_HOME] = str(home)
    no_proxy = [p for p in env.get("NO_PROXY", env.get("no_proxy", "")).split(",") if p]
    env["NO_PROXY"] = env["no_proxy"] = ",".join([*no_proxy, "127.0.0.1", "localhost"])
    return env


def _error_text(exc: BaseException) -> str:
    """A one-line reason: the cell's exception name and value, without terminal colours."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    lines = _ANSI.sub("", text).strip().splitlines()
    return lines[0][:500] if lines else type(exc).__name__


def _execute(notebook: Path, env: dict[str, str], timeout: int) -> tuple[Any, str]:
    """Run a notebook in place (cwd = its folder); returns it executed and the error, if any.

    An unreadable file gives a one-cell notebook that says so.
    """
    import nbclient
    import nbformat as _nbformat

    nbformat: Any = _nbformat  # untyped functions
    try:
        nb: Any = nbformat.read(notebook, as_version=4)
    except Exception as exc:
        error = f"unreadable notebook: {_error_text(exc)}"
        cell = nbformat.v4.new_markdown_cell(f"**{html.escape(error)}**")
        return nbformat.v4.new_notebook(cells=[cell]), error
    client: Any = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=120,
        store_widget_state=True,
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    error = ""
    try:
        client.execute(env=env)
    except Exception as exc:  # a failed cell, a dead kernel, a kernel that never started
        error = _error_text(exc)
    nbformat.write(nb, notebook)
    return nb, error


def _to_html(nb: Any, notebook: Path, target: Path) -> None:
    """Export with pictures embedded (outputs already hold data URIs) and widget state kept."""
    import nbconvert as _nbconvert

    nbconvert: Any = _nbconvert  # untyped
    exporter = nbconvert.HTMLExporter(template_name="lab", embed_images=True)
    resources = {"metadata": {"name": notebook.stem, "path": str(notebook.parent)}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    target.write_text(body, encoding="utf-8")


def _ledger_report(client: Any, out_dir: Path) -> tuple[str | None, str]:
    """Write ``ev.Report`` of the run's ledger if ``ecomviz_nb.report`` exists: (link, note)."""
    name = f"{__package__}.report"
    try:
        build = getattr(importlib.import_module(name), "report_from_ledger", None)
        if build is None:
            return None, f"no ledger report: {name} has no report_from_ledger"
        kwargs: dict[str, Any] = {}
        params = inspect.signature(build).parameters
        if "title" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            kwargs["title"] = "EcomViz demo: the jobs of this run"
        build(client, **kwargs).save(out_dir / LEDGER_REPORT_NAME)
    except Exception as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == name:
            return None, f"no ledger report: {name} is not installed"
        print(f"ecomviz-nb demo: the ledger report failed: {exc!r}", file=sys.stderr)
        return None, f"the ledger report failed: {_error_text(exc)}"
    return LEDGER_REPORT_NAME, "the ledger report: every job of this run, with its images"


def _status(run: NotebookRun) -> str:
    return "ok" if run.ok else "failed"


def _summary(
    runs: Sequence[NotebookRun], jobs: dict[str, int], ledger: tuple[str | None, str]
) -> str:
    """The summary page: when, each notebook's status, duration and link, the ledger's jobs."""
    esc = html.escape
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    failed = sum(not r.ok for r in runs)
    verdict = f"{failed} of {len(runs)} failed" if failed else f"all {len(runs)} ok"
    rows = "\n".join(
        f"<tr class='{_status(r)}'><td><a href='{esc(quote(r.html))}'>{esc(r.name)}</a>"
        f" (<a href='notebooks/{esc(quote(r.name))}'>ipynb</a>)</td>"
        f"<td>{_status(r)}</td><td>{r.seconds:.1f} s</td>"
        f"<td>{esc(r.error)}</td></tr>"
        for r in runs
    )
    states = ", ".join(f"{esc(k)}: {v}" for k, v in sorted(jobs.items())) or "none"
    link, note = ledger
    ledger_line = f"<a href='{esc(link)}'>{esc(note)}</a>" if link else esc(note)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>EcomViz demo report</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
tr.ok td:nth-child(2) {{ color: #1a7f37; }} tr.failed td:nth-child(2) {{ color: #cf222e; }}
</style></head><body>
<h1>EcomViz demo report</h1>
<p>Run {esc(when)}: {esc(verdict)}. Every notebook ran against one local sandbox (its images
are local renders, not AI), with no API token.</p>
<table><thead><tr><th>notebook</th><th>status</th><th>time</th><th>error</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Jobs</h2>
<p>Jobs in the run's ledger by state: {states}.</p>
<p>{ledger_line}</p>
</body></html>
"""


def _copy_notebooks(source: Path, work: Path, out_dir: Path) -> None:
    """Copy the notebooks' folder (data files too), skipping checkpoints and the output."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {".ipynb_checkpoints", "__pycache__"}
        return {n for n in names if n in skip or (Path(folder) / n).resolve() == out_dir}

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work, ignore=ignore)


def run_headless(notebooks_dir: Path, out_dir: Path, *, timeout: int = 300) -> Path:
    """Execute every ``*.ipynb`` of ``notebooks_dir`` against one sandbox; write HTML and a report.

    The notebooks are copied to ``out_dir/notebooks`` and run there in sorted order, so the
    originals stay clean and relative paths still work; each executed copy is kept and exported
    to ``out_dir/<name>.html``. The kernels get ``ECOMVIZ_BASE_URL`` (a sandbox in this process,
    1 s per job), ``ECOMVIZ_HOME=out_dir/ecomviz-home`` and no ``ECOMVIZ_API_TOKEN``.

    Args:
        notebooks_dir: the folder holding the notebooks.
        out_dir: where the HTML pages and ``demo-report.html`` go (created if missing).
        timeout: seconds one cell may take.

    Returns:
        The path of ``demo-report.html``.

    Raises:
        FileNotFoundError: the folder holds no notebook.
        DemoFailed: a notebook failed (the report was written, marking it failed).
    """
    from .local import Sandbox

    source, out_dir = Path(notebooks_dir).resolve(), Path(out_dir).resolve()
    if not sorted(source.glob("*.ipynb")):
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {source}")
    out_dir.mkdir(parents=True, exist_ok=True)
    work, home = out_dir / "notebooks", out_dir / "ecomviz-home"
    shutil.rmtree(home, ignore_errors=True)
    _copy_notebooks(source, work, out_dir)
    notebooks = sorted(work.glob("*.ipynb"))
    runs: list[NotebookRun] = []
    with Sandbox(port=0, job_seconds=1) as sandbox:
        env = _kernel_env(sandbox.url, home)
        for index, notebook in enumerate(notebooks, 1):
            print(f"[{index}/{len(notebooks)}] {notebook.name} ...", flush=True)
            started = time.monotonic()
            nb, error = _execute(notebook, env, timeout)
            seconds = time.monotonic() - started
            page = out_dir / f"{notebook.stem}.html"
            try:
                _to_html(nb, notebook, page)
            except Exception as exc:
                error = error or f"HTML export failed: {_error_text(exc)}"
            runs.append(NotebookRun(notebook.name, page.name, not error, seconds, error))
            status = "ok" if not error else f"FAILED: {error}"
            print(f"    {status} ({seconds:.1f} s)", flush=True)
        with sandbox.client(home=str(home)) as client:
            jobs: dict[str, int] = {}
            for record in client.ledger.list(limit=None):
                jobs[record.state] = jobs.get(record.state, 0) + 1
            ledger = _ledger_report(client, out_dir)
    report = out_dir / REPORT_NAME
    report.write_text(_summary(runs, jobs, ledger), encoding="utf-8")
    failed = [r.name for r in runs if not r.ok]
    if failed:
        raise DemoFailed(report, failed)
    return report


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Poll ``/_sandbox/health`` until it answers; raise with the log's tail if it never does."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with _LOOPBACK.open(f"{url}/_sandbox/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"the sandbox did not answer on {url}; the end of {log}:\n{tail}")


def _stop(process: subprocess.Popen[bytes] | None, wait: float = 10) -> None:
    """Terminate a child, then kill it if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(wait)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    sys.exit(128 + signum)


def serve(notebook: Path, *, port: int = 8888, log_dir: Path = Path("build")) -> int:
    """Start a sandbox, then JupyterLab on ``notebook`` with the sandbox as default backend.

    The sandbox runs as ``ecomviz-nb sandbox`` on a free loopback port (4 s per job, its log in
    ``log_dir/sandbox.log``) and stops when JupyterLab exits. Returns JupyterLab's exit status.
    """
    notebook = Path(notebook)
    if not notebook.exists():
        raise FileNotFoundError(f"no notebook {notebook}")
    log_dir.mkdir(parents=True, exist_ok=True)
    log, url = log_dir / "sandbox.log", f"http://127.0.0.1:{_free_port()}"
    command = [sys.executable, "-m", f"{__package__}.cli", "sandbox", "--host", "127.0.0.1"]
    command += ["--port", url.rsplit(":", 1)[1], "--job-seconds", "4"]
    lab: subprocess.Popen[bytes] | None = None
    with log.open("wb") as out:
        # A session of its own: the Ctrl-C meant for JupyterLab does not reach the sandbox.
        sandbox = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    # A SIGTERM (CI, a closed terminal) still runs the clean-up below.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main else None
    try:
        _wait_healthy(url, sandbox, log, timeout=60)
        if os.environ.get(config.ENV_TOKEN):
            print("ecomviz-nb demo: ECOMVIZ_API_TOKEN is ignored here: the demo uses the sandbox.")
        lab_command = [sys.executable, "-m", "jupyterlab", str(notebook)]
        lab_command += ["--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lab_command.append("--allow-root")  # containers
        print(
            f"ecomviz-nb demo: a local sandbox answers on {url} (log: {log}); JupyterLab starts on"
            f" http://127.0.0.1:{port}/lab (or the next free port).\n"
            "ecomviz-nb demo: open the http://127.0.0.1:...?token=... URL JupyterLab prints below"
            " if no browser opens; Ctrl-C twice stops JupyterLab and the sandbox.",
            flush=True,
        )
        lab = subprocess.Popen(lab_command, env=_kernel_env(url))
        while True:
            try:
                return lab.wait()
            except KeyboardInterrupt:  # JupyterLab got it too: it asks, or shuts down
                continue
    finally:
        if main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        _stop(lab)
        _stop(sandbox)


def main_demo(argv: Sequence[str] | None = None) -> int:
    """``ecomviz-nb demo [--headless] [--notebooks DIR] [--out DIR] [--port N]``: exit status."""
    parser = argparse.ArgumentParser(
        prog="ecomviz-nb demo",
        description="JupyterLab on the quickstart notebook with a local sandbox; with "
        "--headless, execute every notebook and write an HTML report instead.",
    )
    parser.add_argument("--headless", action="store_true", help="execute, write HTML, no browser")
    parser.add_argument("--notebooks", default="notebooks", help="the notebooks' folder")
    parser.add_argument("--out", default="build", help="where the HTML (and logs) go")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab's port")
    parser.add_argument("--timeout", type=int, default=300, help="seconds one cell may take")
    args = parser.parse_args(argv)
    notebooks, out = Path(args.notebooks), Path(args.out)
    try:
        if args.headless:
            report = run_headless(notebooks, out, timeout=args.timeout)
            print(f"ecomviz-nb demo: all notebooks ran; open {report}")
            return 0
        start = notebooks / QUICKSTART
        if not start.exists():
            found = sorted(notebooks.glob("*.ipynb"))
            start = found[0] if found else start
        return serve(start, port=args.port, log_dir=out)
    except DemoFailed as exc:
        print(f"ecomviz-nb demo: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"ecomviz-nb demo: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main_demo())
