"""Helpers the test files share: polling, sandboxes (over HTTP, in a process), servers, markup."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeAlias

import httpx
from PIL import Image

import ecomviz_nb as ev
from ecomviz_nb.local import SANDBOX_TOKEN

SHORT_WAIT = 0.05  # what short_sleep waits at the most, for a schedule's 2 s and up


# ---------------------------------------------------------------- ports and polling


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Deadline:
    """The end of a wait: ``reached(value)`` is True once ``value`` is truthy, raises after."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout, self.what = timeout, what
        self.end = time.monotonic() + timeout

    def reached(self, value: Any) -> bool:
        if value:
            return True
        if time.monotonic() > self.end:
            raise AssertionError(f"{self.what}: not within {self.timeout:g} s (last {value!r})")
        return False


def wait_until(
    check: Callable[[], Any],
    timeout: float = 15.0,
    what: str = "the condition",
    *,
    interval: float = 0.05,
) -> Any:
    """Call ``check`` until it returns something truthy, and return that.

    Raises:
        AssertionError: naming ``what`` and the last value, once ``timeout`` seconds passed.
    """
    deadline = _Deadline(timeout, what)
    while not deadline.reached(value := check()):
        time.sleep(interval)
    return value


async def async_wait_until(
    check: Callable[[], Any],
    timeout: float = 15.0,
    what: str = "the condition",
    *,
    interval: float = 0.01,
) -> Any:
    """``wait_until`` for a coroutine: the event loop runs between the calls of ``check``."""
    deadline = _Deadline(timeout, what)
    while not deadline.reached(value := check()):
        await asyncio.sleep(interval)
    return value


def short_sleep(seconds: float) -> None:
    """``time.sleep`` cut to ``SHORT_WAIT``: pass as ``sleep=`` to make polls quick."""
    time.sleep(min(seconds, SHORT_WAIT))


async def short_async_sleep(seconds: float) -> None:
    """``asyncio.sleep`` cut to ``SHORT_WAIT``: pass as ``sleep=`` to an async client."""
    await asyncio.sleep(min(seconds, SHORT_WAIT))


# ---------------------------------------------------------------- a sandbox, over HTTP

Server: TypeAlias = "ev.Sandbox | SandboxProcess | str"
"""A sandbox in this process, one in a process of its own, or a sandbox's URL."""


def url_of(sb: Server) -> str:
    """The base URL of a sandbox (or the URL itself)."""
    return sb if isinstance(sb, str) else sb.url


def sample(sb: Server, name: str) -> str:
    """The URL of one of the sandbox's sample photos, e.g. ``products/tshirt-red.jpg``."""
    return f"{url_of(sb)}/samples/{name}"


def sandbox_get(sb: Server, path: str) -> Any:
    """The JSON a sandbox answers to ``GET path`` (a control route such as ``/_sandbox/health``)."""
    response = httpx.get(url_of(sb) + path, timeout=30)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


FAULTS_OFF: dict[str, Any] = {
    "error_rate": 0.0,
    "rate_limit_rate": 0.0,
    "drop_rate": 0.0,
    "drop_answer_rate": 0.0,
    "slow_rate": 0.0,
    "fail_job_rate": 0.0,
}
"""Every fault rate at zero, for ``set_faults(sb, **FAULTS_OFF)``."""


def set_faults(sb: Server, **switches: Any) -> dict[str, Any]:
    """Change a sandbox's fault switches (``PUT /_sandbox/config``); returns what it answered."""
    response = httpx.put(f"{url_of(sb)}/_sandbox/config", json=switches, timeout=10)
    assert response.status_code == 200, (switches, response.text)
    answer: dict[str, Any] = response.json()
    return answer


def sandbox_jobs(
    sb: Server, *, kind: str | None = None, target: str | None = None
) -> list[dict[str, Any]]:
    """The jobs a sandbox holds (``/_sandbox/jobs``), optionally one ``kind`` (``generate``,
    ``tryon``) or one ``target`` (a product id) only."""
    jobs: list[dict[str, Any]] = sandbox_get(sb, "/_sandbox/jobs")["jobs"]
    return [
        j
        for j in jobs
        if (kind is None or j["kind"] == kind) and (target is None or j["target"] == target)
    ]


# ---------------------------------------------------------------- a sandbox in a process


class SandboxProcess:
    """``ecomviz-nb sandbox ARGS`` in a process of its own, to kill like a crashed server.

    It keeps its port across restarts, so clients that were waiting reconnect on their own.
    Its output goes to files in ``log_dir`` (a pipe that nobody reads while it runs could fill
    up and stall it): ``output()`` reads those of the latest start. The ``sandbox_process``
    fixture makes them and stops them after the test.
    """

    def __init__(self, *args: str, log_dir: Path, token: str = SANDBOX_TOKEN) -> None:
        self.args = args
        self.log_dir = log_dir
        self.token = token
        """The bearer token ``product()`` sends (the sandbox takes any unless run with --token)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def __repr__(self) -> str:
        return f"SandboxProcess({self.url}, args={self.args!r}, starts={self.starts})"

    def _log(self, stream: str) -> Path:
        return self.log_dir / f"sandbox-{self.port}-{self.starts}.{stream}"

    def start(self, timeout: float = 30) -> float:
        """Start it (again: same port, same arguments); returns the monotonic time it answered."""
        assert self.proc is None or self.proc.poll() is not None, f"{self} is running"
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "ecomviz_nb.cli", "sandbox", "--port", str(self.port)]
        with self._log("out").open("wb") as out, self._log("err").open("wb") as err:
            proc = self.proc = subprocess.Popen([*command, *self.args], stdout=out, stderr=err)

        def up() -> bool:
            if proc.poll() is not None:
                printed = "".join(self.output())[-3000:]
                raise AssertionError(f"the sandbox exited ({proc.returncode}):\n{printed}")
            with suppress(httpx.HTTPError):
                return httpx.get(self.url + "/_sandbox/health", timeout=1).status_code == 200
            return False

        wait_until(up, timeout, f"the sandbox answering at {self.url}")
        return time.monotonic()

    def kill(self) -> float:
        """SIGKILL, as a crash would; returns the monotonic time it was dead."""
        assert self.proc is not None and self.proc.poll() is None, f"{self} is not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.returncode == -signal.SIGKILL
        return time.monotonic()

    def interrupt(self, timeout: float = 15) -> tuple[str, str]:
        """Ctrl-C (SIGINT), then wait for it to exit; returns its stdout and stderr."""
        assert self.proc is not None and self.proc.poll() is None, f"{self} is not running"
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=timeout)
        return self.output()

    def close(self) -> None:
        """Kill it if it is running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def output(self) -> tuple[str, str]:
        """What the latest start printed so far: stdout and stderr."""
        out, err = (
            path.read_text(errors="replace") if path.exists() else ""
            for path in (self._log("out"), self._log("err"))
        )
        return out, err

    def jobs(self) -> list[dict[str, Any]]:
        """Every job it holds (``/_sandbox/jobs``)."""
        return sandbox_jobs(self)

    def product(self, product_id: str) -> dict[str, Any]:
        """The product's ``data`` as ``GET /api/products/{id}`` answers it."""
        headers = {"Authorization": f"Bearer {self.token}"}
        response = httpx.get(f"{self.url}/api/products/{product_id}", headers=headers, timeout=10)
        assert response.status_code == 200, (product_id, response.text)
        data: dict[str, Any] = response.json()["data"]
        return data


# ---------------------------------------------------------------- processes released together


@contextmanager
def python_scripts(
    code: str, *argvs: Sequence[str], env: Mapping[str, str] | None = None
) -> Iterator[list[subprocess.Popen[str]]]:
    """One ``python -c CODE ARGS...`` per argument list, with text pipes on stdin, stdout and
    stderr; those still running on exit are killed.

    Scripts that must start together print ``ready`` and read a line: ``expect_line(procs,
    "ready")`` then ``send_line(procs, "go")``.
    """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *argv],
            env=None if env is None else dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


def expect_line(procs: Sequence[subprocess.Popen[str]], line: str) -> None:
    """Read each process's next stdout line, which must be ``line``.

    Raises:
        AssertionError: with what it printed instead and its stderr (the process is killed).
    """
    for proc in procs:
        assert proc.stdout is not None
        got = proc.stdout.readline()
        if got != line + "\n":
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"expected {line!r}, got {got!r}; stderr:\n{err[-3000:]}")


def send_line(procs: Sequence[subprocess.Popen[str]], line: str) -> None:
    """Write ``line`` to each process's stdin."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()


# ---------------------------------------------------------------- servers and images to serve


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A ``ThreadingHTTPServer`` on a free loopback port, serving in a thread until exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def small_png(
    color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (48, 32)
) -> bytes:
    """A real PNG of one colour."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def _png(header: bytes, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` whose all-zero rows compress a thousandfold
    (some 100 KB for 30,000 x 30,000)."""
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row * 500) for _ in range(height // 500)) + packer.flush()
    return _png(struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0), idat)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` and whose data is a few bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _png(header, zlib.compress(b"\x00" * 64))


# ---------------------------------------------------------------- widgets and markup


def walk(widget: Any) -> list[Any]:
    """A widget and all its descendants (through ``children``), depth first."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(walk(child))
    return found


def widget_state(widget: Any) -> str:
    """The state of a widget and its descendants as a notebook would save it, as JSON text."""
    return json.dumps([w.get_state() for w in walk(widget)], default=str)


class ParsedHTML(HTMLParser):
    """A fragment's start tags, attribute names, ``<img>`` sources and text, in order."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.srcs: list[str] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]
        self.srcs += [value or "" for name, value in attrs if tag == "img" and name == "src"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(markup: str) -> ParsedHTML:
    """No ``<script>`` element and no ``on*`` event attribute: server text stayed text.

    Returns:
        The parsed markup, for the checks the caller adds.
    """
    found = ParsedHTML(markup)
    assert "script" not in found.tags, markup[:300]
    assert not [name for name in found.attrs if name.lower().startswith("on")], found.attrs
    return found
