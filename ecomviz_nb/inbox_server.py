"""The webhook inbox's HTTP side: a threaded server that reads, checks and answers deliveries.

It is the standard library's ``ThreadingHTTPServer`` (no sandbox stack needed). A delivery is a
POST of a JSON object to ``/webhook``, with the inbox's token as ``Authorization: Bearer
<token>`` or ``X-Webhook-Token`` when the inbox has one. Answers: 200 ``{"ok": true}``, 401
(token), 404 (path), 405 (not a POST), 411 / 413 (no length / too large) and 400 (not a JSON
object); none of them ever repeats a token. What is kept of a delivery, and who hears of it, is
:class:`ecomviz_nb.inbox.WebhookInbox`'s business: the server hands each one to ``deliver``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import config

__all__ = ["PATH", "InboxServer", "open_server", "token_matches"]

# The inbox's own logger: what the server logs belongs to the inbox.
logger = logging.getLogger("ecomviz_nb.inbox")

PATH = "/webhook"
"""The path deliveries are POSTed to."""
_DIGITS = re.compile(r"[0-9]{1,15}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


def open_server(
    host: str,
    port: int,
    *,
    token: str | None,
    max_body: Callable[[], int],
    deliver: Callable[[dict[str, Any]], None],
) -> InboxServer:
    """Bind ``host:port`` (port 0: a free one) and return the server, not serving yet.

    Args:
        token: deliveries must carry it, unless None.
        max_body: the largest body taken, asked at each request (larger ones get 413).
        deliver: called with each accepted payload, on the handler's thread.

    Raises:
        OSError: the port is taken.
    """
    server = (_InboxServer6 if ":" in host else InboxServer)((host, port), _Handler)
    server.token = token
    server.max_body = max_body
    server.deliver = deliver
    return server


def token_matches(headers: Any, token: str | None) -> bool:
    """Whether a request's headers carry ``token`` (always True when ``token`` is None)."""
    if token is None:
        return True
    scheme, _, bearer = str(headers.get("Authorization", "")).strip().partition(" ")
    given = [bearer.strip()] if scheme.lower() == "bearer" else []
    given.append(str(headers.get("X-Webhook-Token", "")).strip())
    expected = token.encode()
    # Compare every candidate, in constant time each, so timing tells nothing.
    matches = [hmac.compare_digest(g.encode("latin-1", "replace"), expected) for g in given]
    return any(matches)


class InboxServer(ThreadingHTTPServer):
    """Serves deliveries, one thread each; made by :func:`open_server`."""

    daemon_threads = True
    request_queue_size = 128  # bursts of deliveries wait in the backlog, not in SYN retries
    token: str | None
    max_body: Callable[[], int]
    deliver: Callable[[dict[str, Any]], None]

    def server_activate(self) -> None:
        super().server_activate()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def hang_up(self) -> None:
        """End open (keep-alive) connections, so that nothing is received after close()."""
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up in DNS (slow offline); not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("webhook inbox: a request failed", exc_info=True)


class _InboxServer6(InboxServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: InboxServer
    protocol_version = "HTTP/1.1"
    server_version = "ecomviz-inbox"
    sys_version = ""
    timeout = 15  # a silent sender holds its thread this long at most
    refused = False
    """Set once an error was answered: the body may be unread, and the connection ends."""

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        super().finish()
        if self.refused:
            self._linger()
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)

    def _linger(self) -> None:
        """Read what the sender still sends (briefly): closing on unread data would reset the
        connection, and the sender might lose the answer it is owed (401, 413...)."""
        deadline = time.monotonic() + 2.0
        budget = 4 * max(self.server.max_body(), 1 << 16)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            while budget > 0 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                data = self.connection.recv(1 << 16)
                if not data:
                    break
                budget -= len(data)

    def do_POST(self) -> None:
        server = self.server
        if urlsplit(self.path).path != PATH:
            self._answer(404, f"deliveries go to {PATH}")
        elif not token_matches(self.headers, server.token):
            self._answer(401, "missing or wrong webhook token")
        else:
            body = self._body(server.max_body())
            if isinstance(body, int):
                self._answer(body, _WHY[body])
                return
            try:
                payload = json.loads(body)
            except (ValueError, RecursionError):
                self._answer(400, "the body is not JSON")
                return
            if not isinstance(payload, dict):
                self._answer(400, "the body is not a JSON object")
                return
            server.deliver(payload)
            self._answer(200)

    def _not_allowed(self) -> None:
        self._answer(405, "only POST is accepted")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every other method (GET, PUT, BREW...) gets 405
            return self._not_allowed
        raise AttributeError(name)

    def _body(self, limit: int) -> bytes | int:
        """The request body, or the status to refuse it with."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._chunked(limit)
            length = self.headers.get("Content-Length")
            if length is None:
                return 411
            if not _DIGITS.fullmatch(length.strip()):
                return 400
            size = int(length)
            if size > limit:
                return 413
            body = self.rfile.read(size)
            return body if len(body) == size else 400
        except OSError:  # timed out or dropped mid-body
            return 400

    def _chunked(self, limit: int) -> bytes | int:
        body = bytearray()
        while True:
            line = self.rfile.readline(1026)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _HEX.fullmatch(size_text):
                return 400
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > limit:
                return 413
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(3).strip():
                return 400
            body += chunk
        for _ in range(100):  # trailers, up to the blank line
            if self.rfile.readline(8194).strip() == b"":
                return bytes(body)
        return 400

    def _answer(self, status: int, error: str | None = None) -> None:
        body = json.dumps({"ok": True} if error is None else {"ok": False, "error": error})
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 405:
            self.send_header("Allow", "POST")
        if status != 200:  # the body may be unread: do not read it as the next request
            self.refused = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("webhook inbox: %s", config.redact(format % args))


_WHY = {
    400: "the body is malformed or incomplete",
    411: "a Content-Length is required",
    413: "the body is too large",
}
