"""Is the server answering at a URL the very sandbox a given process started (``binder/start``)?"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.request import ProxyHandler, build_opener

from .settings import INSTANCE_ENV

__all__ = ["Verdict", "check", "main", "process_alive", "read_health", "wait_for"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one look at the server."""

    ours: bool
    """The sandbox of the given process answers."""
    final: bool
    """Waiting longer cannot change the outcome (ours, or another server holds the port)."""
    reason: str
    """One sentence for a person: what answered, or what did not."""


def read_health(url: str, *, timeout: float = 2.0) -> dict[str, Any] | None:
    """``GET {url}/_sandbox/health``, never through a proxy.

    Returns:
        The JSON object answered; ``{}`` when something answered that is not a JSON object
        (an HTML page, an HTTP error, garbage); None when nothing answered (connection
        refused, timed out or dropped).
    """
    opener = build_opener(ProxyHandler({}))  # a loopback URL must never go through a proxy
    try:
        with opener.open(url.rstrip("/") + "/_sandbox/health", timeout=timeout) as response:
            body = response.read(65536)
    except HTTPException:
        return {}  # something speaks on the port, but not HTTP
    except OSError as exc:
        status = getattr(exc, "code", None)  # an HTTPError is an answer, just not a sandbox's
        return {} if isinstance(status, int) else None
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def process_alive(pid: int) -> bool:
    """True while process `pid` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: the signal test is all there is
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def check(url: str, *, pid: int, instance: str | None = None) -> Verdict:
    """Look once: does the sandbox started as process `pid` answer at `url`?

    Args:
        url: the sandbox's base URL.
        pid: the process that was started to serve it.
        instance: the id that process was given (``$ECOMVIZ_SANDBOX_INSTANCE``), if any.
    """
    health = read_health(url)
    if health is None:
        if not process_alive(pid):
            return Verdict(False, True, f"the sandbox process {pid} exited and nothing answers")
        return Verdict(False, False, f"nothing answers on {url} yet")
    if health.get("status") != "ok" or health.get("sandbox") is not True:
        return Verdict(False, True, f"a server that is not an EcomViz sandbox answers on {url}")
    other_pid, other_instance = health.get("pid"), health.get("instance")
    if other_pid != pid or (instance is not None and other_instance != instance):
        gone = "" if process_alive(pid) else ", which exited"
        return Verdict(
            False,
            True,
            f"another sandbox answers on {url} (process {str(other_pid)[:20]}), not the one "
            f"started as process {pid}{gone}: the port was already in use",
        )
    if not process_alive(pid):
        return Verdict(False, True, f"the sandbox process {pid} exited")
    return Verdict(True, True, f"the sandbox started as process {pid} answers on {url}")


def wait_for(
    url: str, *, pid: int, instance: str | None = None, seconds: float = 30.0, every: float = 0.25
) -> Verdict:
    """Look until the outcome is final or `seconds` have passed; the last verdict."""
    deadline = time.monotonic() + seconds
    while True:
        verdict = check(url, pid=pid, instance=instance)
        if verdict.final or time.monotonic() >= deadline:
            return verdict
        time.sleep(every)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ecomviz_nb.sandbox.probe --url U --pid P [--instance I] [--wait S]``.

    ``binder/start`` starts ``ecomviz-nb sandbox`` in the background and must not take another
    server's answer for its own: when the port is already in use, its sandbox exits while
    whatever holds the port answers. This waits until the sandbox of process P answers at U.

    Returns:
        0 when it does; 1 otherwise, with the reason on stderr.
    """
    parser = argparse.ArgumentParser(prog="python -m ecomviz_nb.sandbox.probe")
    parser.add_argument("--url", required=True, help="the sandbox's base URL")
    parser.add_argument("--pid", required=True, type=int, help="the process started to serve it")
    parser.add_argument("--instance", help=f"the ${INSTANCE_ENV} it was started with")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait (default 30)")
    args = parser.parse_args(argv)
    verdict = wait_for(args.url, pid=args.pid, instance=args.instance, seconds=args.wait)
    print(verdict.reason, file=sys.stderr)
    return 0 if verdict.ours else 1


if __name__ == "__main__":
    sys.exit(main())
