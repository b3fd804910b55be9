"""An ASGI middleware for what every response shares: the sandbox header, the body size limit,
and injected faults (500, 429, dropped connections, slow answers) on ``/api/`` routes."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import Faults

__all__ = ["SandboxMiddleware"]

HEADER = (b"x-ecomviz-sandbox", b"1")


class _TooLarge(Exception):
    pass


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

        started = False
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), HEADER]
            await send(message)

        try:
            await self.app(scope, limited_receive, tagged_send)
        except _TooLarge:
            if not started:
                await _send_error(send, 413, f"the body is larger than {self.max_body} bytes")

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
