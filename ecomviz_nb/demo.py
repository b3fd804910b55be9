"""The demo: ``make demo`` (JupyterLab on the quickstart with a local sandbox) and ``make demo
HEADLESS=1`` (every notebook run against one sandbox, then one page: the run's report).

``run_headless`` needs nbclient, nbconvert and ipykernel; ``serve`` needs JupyterLab. Both
remove ``ECOMVIZ_API_TOKEN`` from the kernels' environment: a demo never spends real credits.
``ecomviz-nb demo`` (in ``cli``) parses the command line.
"""

from __future__ import annotations

import datetime
import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import config
from .sandbox import probe

__all__ = ["DemoFailed", "NotebookRun", "run_headless", "serve"]

REPORT_NAME = "demo-report.html"
QUICKSTART = "01_quickstart.ipynb"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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

    An unreadable file is replaced by a one-cell notebook that says so.
    """
    import nbclient
    import nbformat as _nbformat

    nbformat: Any = _nbformat  # untyped functions
    try:
        nb: Any = nbformat.read(notebook, as_version=4)
    except Exception as exc:
        error = f"unreadable notebook: {_error_text(exc)}"
        cell = nbformat.v4.new_markdown_cell(f"**{html.escape(error)}**")
        nb = nbformat.v4.new_notebook(cells=[cell])
        nbformat.write(nb, notebook)  # a copy: the page then says why
        return nb, error
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


def _ledger_report(client: Any) -> tuple[str, str]:
    """The run's jobs as ``ev.Report``'s inline view (products, runs, try-ons, pictures
    embedded), and a line saying what it holds or why it is missing."""
    from .report import report_from_ledger

    try:
        report = report_from_ledger(client, title="The jobs of this run", limit=None)
        markup = str(report._repr_html_())
    except Exception as exc:  # the page must still be written
        print(f"ecomviz-nb demo: the ledger report failed: {exc!r}", file=sys.stderr)
        return "", f"The report of the run's jobs failed: {_error_text(exc)}"
    count = len(report.sections)
    return markup, f"{count} job(s) of this run, newest first, with their pictures:"


def _status(run: NotebookRun) -> str:
    return "ok" if run.ok else "failed"


def _summary(runs: Sequence[NotebookRun], jobs: dict[str, int], ledger: tuple[str, str]) -> str:
    """The run's page: when, each notebook's status, time and page, then the run's jobs."""
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
    markup, note = ledger
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>EcomViz demo report</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 76rem;
  padding: 0 1rem; }}
table.runs {{ border-collapse: collapse; width: 100%; }}
table.runs td, table.runs th {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem;
  text-align: left; }}
tr.ok td:nth-child(2) {{ color: #1a7f37; }} tr.failed td:nth-child(2) {{ color: #cf222e; }}
</style></head><body>
<h1>EcomViz demo report</h1>
<p>Run {esc(when)}: {esc(verdict)}. Every notebook ran against one local sandbox (its images
are local renders, not AI), with no API token. Each notebook's page shows its outputs and
panels as they ended; it needs no kernel and no network.</p>
<table class="runs"><thead><tr><th>notebook</th><th>status</th><th>time</th><th>error</th>
</tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>The run's products, runs and try-ons</h2>
<p>Jobs in the run's ledger by state: {states}. {esc(note)}</p>
{markup}
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
    originals stay clean and relative paths still work; each executed copy is kept (with its
    widget state, so JupyterLab shows its panels without a kernel) and exported by
    :func:`~ecomviz_nb.export.export_notebook` to ``out_dir/<name>.html``, a page that needs
    no kernel and no network. The kernels get ``ECOMVIZ_BASE_URL`` (a sandbox in this process,
    1 s per job), ``ECOMVIZ_HOME=out_dir/ecomviz-home`` and no ``ECOMVIZ_API_TOKEN``.

    ``demo-report.html`` is the run's report, one self-contained file: each notebook's status,
    time and page, then every job of the run (products, runs, try-ons) with its pictures.

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
    from .export import export_notebook
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
            _, error = _execute(notebook, env, timeout)
            seconds = time.monotonic() - started
            page = out_dir / f"{notebook.stem}.html"
            try:
                export_notebook(notebook, page)
            except Exception as exc:
                error = error or f"HTML export failed: {_error_text(exc)}"
            runs.append(NotebookRun(notebook.name, page.name, not error, seconds, error))
            status = "ok" if not error else f"FAILED: {error}"
            print(f"    {status} ({seconds:.1f} s)", flush=True)
        with sandbox.client(home=str(home)) as client:
            jobs: dict[str, int] = {}
            for record in client.ledger.list(limit=None):
                jobs[record.state] = jobs.get(record.state, 0) + 1
            ledger = _ledger_report(client)
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
    """Wait until the sandbox started as ``process`` answers at ``url``; raise with the log's
    tail if it never does, or if another server answers there (its port was already taken)."""
    verdict = probe.wait_for(url, pid=process.pid, seconds=timeout)
    if verdict.ours:
        return
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"{verdict.reason}; the end of {log}:\n{tail}")


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
