"""``binder/start`` trusts only its own sandbox: the probe that tells it apart from any other
server on the port, and the script run against a port another sandbox already holds."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import httpx
import pytest

from ecomviz_nb.sandbox import SandboxServer, probe

ROOT = Path(__file__).resolve().parents[1]
START = ROOT / "binder" / "start"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alive(pid: int) -> bool:
    return probe.process_alive(pid)


@pytest.fixture(scope="module")
def other_sandbox() -> Iterator[SandboxServer]:
    """A sandbox of this test process: it answers with this process's id, not a child's."""
    with SandboxServer(port=0, job_seconds=0) as sb:
        yield sb


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that serves nothing (stands for a sandbox that is still starting)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the id names no process now
    return proc.pid


class NotASandbox(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>Jupyter</html>"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


# ---------------------------------------------------------------- the probe


def test_health_reports_the_process_and_the_instance(other_sandbox: SandboxServer) -> None:
    health = httpx.get(f"{other_sandbox.url}/_sandbox/health").json()
    assert health["pid"] == os.getpid()
    assert health["instance"] == other_sandbox.settings.instance
    assert re.fullmatch(r"[0-9a-f]{16}", health["instance"])
    with SandboxServer(port=0, job_seconds=0) as second:
        assert second.settings.instance != other_sandbox.settings.instance


def test_the_instance_comes_from_the_environment_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECOMVIZ_SANDBOX_INSTANCE", "start-42")
    with SandboxServer(port=0, job_seconds=0) as sb:
        assert httpx.get(f"{sb.url}/_sandbox/health").json()["instance"] == "start-42"


def test_probe_accepts_the_sandbox_of_the_given_process(other_sandbox: SandboxServer) -> None:
    instance = other_sandbox.settings.instance
    verdict = probe.check(other_sandbox.url, pid=os.getpid(), instance=instance)
    assert verdict.ours and verdict.final
    assert probe.check(other_sandbox.url, pid=os.getpid()).ours  # the id alone suffices


def test_probe_refuses_a_sandbox_started_by_another_process(
    other_sandbox: SandboxServer, child: subprocess.Popen[bytes]
) -> None:
    verdict = probe.check(other_sandbox.url, pid=child.pid)
    assert not verdict.ours and verdict.final  # waiting cannot make it ours
    assert f"process {os.getpid()}" in verdict.reason
    assert f"started as process {child.pid}" in verdict.reason
    assert "already in use" in verdict.reason


def test_probe_refuses_the_same_process_id_with_another_instance(
    other_sandbox: SandboxServer,
) -> None:
    verdict = probe.check(other_sandbox.url, pid=os.getpid(), instance="someone-else")
    assert not verdict.ours and verdict.final


def test_probe_refuses_a_server_that_is_not_a_sandbox(child: subprocess.Popen[bytes]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotASandbox)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        verdict = probe.check(url, pid=child.pid)
    finally:
        server.shutdown()
        server.server_close()
    assert not verdict.ours and verdict.final
    assert "not an EcomViz sandbox" in verdict.reason


def test_probe_keeps_waiting_while_its_process_starts(child: subprocess.Popen[bytes]) -> None:
    verdict = probe.check(f"http://127.0.0.1:{free_port()}", pid=child.pid)
    assert not verdict.ours and not verdict.final


def test_probe_gives_up_when_its_process_exited() -> None:
    pid = dead_pid()
    verdict = probe.wait_for(f"http://127.0.0.1:{free_port()}", pid=pid, seconds=30)
    assert not verdict.ours and verdict.final
    assert f"process {pid} exited" in verdict.reason


def test_probe_command_exits_1_with_the_reason(
    other_sandbox: SandboxServer,
    child: subprocess.Popen[bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--url", other_sandbox.url, "--pid", str(child.pid), "--wait", "5"]
    assert probe.main(argv) == 1
    assert "another sandbox answers" in capsys.readouterr().err
    assert probe.main([*argv[:3], str(os.getpid())]) == 0


# ---------------------------------------------------------------- binder/start


def start_env(tmp_path: Path, port: int) -> dict[str, str]:
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


def run_start(tmp_path: Path, port: int) -> subprocess.CompletedProcess[str]:
    report = "import os; print(os.environ.get('ECOMVIZ_BASE_URL'))"
    return subprocess.run(
        [str(START), sys.executable, "-c", report],
        env=start_env(tmp_path, port),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_binder_start_fails_loudly_when_another_sandbox_holds_the_port(
    tmp_path: Path, other_sandbox: SandboxServer
) -> None:
    result = run_start(tmp_path, other_sandbox.port)
    detail = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, detail  # JupyterLab still starts...
    assert result.stdout.strip() == "None", detail  # ...but is not pointed at a stranger
    assert "warning" in result.stderr and "did not answer" in result.stderr, detail
    assert "another sandbox answers" in result.stderr, detail
    assert f"process {os.getpid()}" in result.stderr, detail
    assert not (tmp_path / "logs" / "sandbox.log.pid").exists()
    found = re.search(r"started as process (\d+)", result.stderr)
    assert found, detail
    started = int(found.group(1))
    deadline = time.monotonic() + 15
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(started), "binder/start left its own sandbox process running"
    assert httpx.get(f"{other_sandbox.url}/_sandbox/health").json()["status"] == "ok"


def test_binder_start_points_the_notebooks_at_the_sandbox_it_started(tmp_path: Path) -> None:
    port = free_port()
    result = run_start(tmp_path, port)
    pid_file = tmp_path / "logs" / "sandbox.log.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    try:
        detail = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        assert result.returncode == 0, detail
        assert result.stdout.strip() == f"http://127.0.0.1:{port}", detail
        assert pid is not None and alive(pid), detail
        health = json.loads(httpx.get(f"http://127.0.0.1:{port}/_sandbox/health").text)
        assert health["pid"] == pid  # the answer comes from the process it started
        assert probe.check(f"http://127.0.0.1:{port}", pid=pid).ours
    finally:
        if pid is not None and alive(pid):
            os.kill(pid, 15)
            deadline = time.monotonic() + 15
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
