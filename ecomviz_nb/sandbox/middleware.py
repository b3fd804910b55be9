"""An ASGI middleware for what every response shares: the sandbox header, the body size limit,
and injected faults (500, 429, connections dropped before or after the request ran, slow
answers) on ``/api/`` routes; and ``RequestCounter``, which counts the ``/api/`` requests
answered (``GET /_sandbox/requests``)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import Faults

__all__ = ["RequestCounter", "RequestStats", "SandboxMiddleware"]

HEADER = (b"x-ecomviz-sandbox", b"1")


def _replay(body: bytes, then: Receive) -> Receive:
    """A receive that hands over a body read in advance, then goes back to the real one."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _cut_short(send: Send) -> Send:
    """A send that passes on the answer's start and half its body, then nothing more: the
    request was handled in full, the client sees the connection drop (``drop_answer_rate``)."""
    cut = False

    async def cut_send(message: Message) -> None:
        nonlocal cut
        if message["type"] != "http.response.body":
            await send(message)
        elif not cut:
            cut = True
            body = message.get("body", b"")
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )

    return cut_send


async def _send_error(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"success": False, "message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        HEADER,
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SandboxMiddleware:
    """Wraps the app; see the module docstring."""

    def __init__(self, app: ASGIApp, *, faults: Faults, max_body: int, origins: set[str]) -> None:
        self.app = app
        self.faults = faults
        self.max_body = max_body
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        if server and server[1] is not None:
            port = server[1]
            self.origins.update({f"{server[0]}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"})
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body:
            await _send_error(send, 413, f"the body is larger than {self.max_body} bytes")
            return
        if scope["path"].startswith("/api/") and await self._fault(send):
            return
        if scope["path"].startswith("/api/") and self.faults.roll(self.faults.drop_answer_rate):
            send = _cut_short(send)

        if not declared and scope["method"] in ("POST", "PUT", "PATCH"):
            # No declared length (chunked): read the body here, so an oversized one gets a
            # clean 413 rather than a parse error from the framework.
            body = await self._read_limited(receive)
            if body is None:
                await _send_error(send, 413, f"the body is larger than {self.max_body} bytes")
                return
            receive = _replay(body, receive)

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), HEADER]
            await send(message)

        await self.app(scope, receive, tagged_send)

    async def _read_limited(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _fault(self, send: Send) -> bool:
        """Apply injected faults; True when the response was already sent (or dropped)."""
        f = self.faults
        if f.roll(f.slow_rate):
            await asyncio.sleep(f.slow_seconds)
        if f.roll(f.drop_rate):
            # Promise a body and stop half-way: the client sees the connection drop.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000"), HEADER],
                }
            )
            await send({"type": "http.response.body", "body": b'{"success": tr', "more_body": True})
            return True
        if f.roll(f.rate_limit_rate):
            await _send_error(
                send,
                429,
                "too many requests (injected by the sandbox)",
                [(b"retry-after", str(f.retry_after).encode())],
            )
            return True
        if f.roll(f.error_rate):
            await _send_error(send, 500, "internal error (injected by the sandbox)")
            return True
        return False


class RequestStats:
    """Thread-safe counts of answered ``/api/`` requests by ``METHOD /route/{id}`` and status
    class (``2xx`` … ``5xx``; ``dropped`` for an injected drop, ``none`` if nothing was sent)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, route: str, status: str) -> None:
        with self._lock:
            self._counts[route, status] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def snapshot(self) -> dict[str, Any]:
        """``{"total", "by_route", "by_status", "by_route_status"}`` as JSON-ready dicts."""
        with self._lock:
            counts = dict(self._counts)
        by_route: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        detail: dict[str, dict[str, int]] = {}
        for (route, status), n in sorted(counts.items()):
            by_route[route] += n
            by_status[status] += n
            detail.setdefault(route, {})[status] = n
        return {
            "total": sum(counts.values()),
            "by_route": dict(by_route),
            "by_status": dict(by_status),
            "by_route_status": detail,
        }


_PARAM = re.compile(r"\{[^}]*\}")


class RequestCounter:
    """Counts every ``/api/`` request into ``stats`` once it is answered (outermost middleware,
    so injected faults and 413s count too). ``routes`` are the ``/api/`` routes whose path
    templates name the requests (read from the routers: an app may hold included routers lazily,
    not as a flat list)."""

    def __init__(self, app: ASGIApp, *, stats: RequestStats, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.stats = stats
        self.routes = routes

    def _template(self, scope: Scope) -> str:
        partial = None
        for route in self.routes:
            if isinstance(route, Route) and route.path.startswith("/api/"):
                match, _ = route.matches(scope)
                if match is Match.FULL:
                    return _PARAM.sub("{id}", route.path)
                if match is Match.PARTIAL and partial is None:
                    partial = _PARAM.sub("{id}", route.path)
        return partial or "/api/(no route)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        status, ended = "none", False

        async def counted_send(message: Message) -> None:
            nonlocal status, ended
            if message["type"] == "http.response.start":
                status = f"{int(message['status']) // 100}xx"
            elif message["type"] == "http.response.body":
                ended = not message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive, counted_send)
        except Exception:
            status, ended = "5xx", True  # the server error middleware outside answers 500
            raise
        finally:
            if status != "none" and not ended:
                status = "dropped"  # a body promised and never finished
            self.stats.add(f"{scope['method']} {self._template(scope)}", status)
