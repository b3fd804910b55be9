"""``WebhookInbox``: a local server that receives EcomViz webhooks, keeps them and tells jobs.

It is the standard library's ``ThreadingHTTPServer`` in a daemon thread (no sandbox stack
needed). A delivery is a POST of a JSON object to ``/webhook``, with the inbox's token as
``Authorization: Bearer <token>`` or ``X-Webhook-Token`` when the inbox has one. Answers:
200 ``{"ok": true}``, 401 (token), 404 (path), 405 (not a POST), 411 / 413 (no length / too
large) and 400 (not a JSON object); none of them ever repeats a token.

While running, the inbox is registered in :data:`ecomviz_nb.jobs.webhook_listeners` under its
URL: a job whose request's webhook has that URL ends as soon as its delivery arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import logging
import re
import socket
import socketserver
import threading
import time
import weakref
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import config
from .errors import ValidationError
from .jobs import register_listener, unregister_listener
from .models import Webhook

__all__ = ["WebhookInbox"]

logger = logging.getLogger("ecomviz_nb.inbox")

PATH = "/webhook"
"""The path deliveries are POSTed to."""
_KINDS = (("vto.generation", "vtoId"), ("product.generation", "productId"))
_DIGITS = re.compile(r"[0-9]{1,15}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


class WebhookInbox:
    """Receives EcomViz webhooks on a local port; jobs that name its URL stop polling early.

    >>> with ev.WebhookInbox(token="s3cret") as inbox:
    ...     job = client.generate(pid, ev.GenerateRequest(..., webhook=inbox.webhook()))
    ...     job.wait()          # ends when the delivery arrives, polling only as a fallback
    ...     inbox               # the deliveries as a table, newest first

    Args:
        port: 0 picks a free port.
        host: the interface; the API must be able to reach it (the sandbox reaches loopback).
        token: if set, deliveries must carry it; never shown in reprs, logs or tables.
        max_body: larger bodies are refused with 413.
        keep: how many deliveries are kept (the oldest go first).

    Raises:
        ValidationError: the token is empty or not a single printable ASCII word; ``max_body``
            or ``keep`` is below 1.
        OSError: the port is taken.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        token: str | None = None,
        *,
        max_body: int = 1_000_000,
        keep: int = 1000,
    ) -> None:
        if token is not None:
            if not (token.isascii() and token.isprintable() and token and " " not in token):
                raise ValidationError("token", config.MASK, "a single printable ASCII word")
            config.remember_secret(token)
        for name, value in (("max_body", max_body), ("keep", keep)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(name, value, "a whole number >= 1")
        self.host = host
        self.port = port
        self.max_body = max_body
        self._token = token
        self._log: deque[dict[str, Any]] = deque(maxlen=keep)
        self._received = 0
        self._cond = threading.Condition()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self._widgets: weakref.WeakSet[Any] = weakref.WeakSet()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.start()

    # ---- running

    @property
    def url(self) -> str:
        """Where deliveries go, e.g. ``http://127.0.0.1:49152/webhook``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{PATH}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def webhook(self) -> Webhook:
        """The ``ev.Webhook`` to put in a request: this inbox's URL and token."""
        return Webhook(self.url, self._token)

    def start(self) -> WebhookInbox:
        """Serve (done by ``__init__``; again after :meth:`close`, on the same port)."""
        if self._server is not None:
            return self
        server = (_Server6 if ":" in self.host else _Server)((self.host, self.port), _Handler)
        server.inbox = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how soon close() returns
            name=f"ecomviz-inbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        register_listener(self.url, self)
        return self

    def close(self) -> None:
        """Stop serving, free the port and stop telling jobs (the deliveries are kept)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        unregister_listener(self.url, self)
        server.shutdown()
        server.server_close()
        server.hang_up()
        if thread is not None:
            thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> WebhookInbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "closed"
        token = "set" if self._token else "None"
        # The port only: a loopback address does not belong in a saved notebook (inbox.url has it).
        return f"WebhookInbox(port={self.port}, token={token}, {_count(len(self))}, {state})"

    # ---- receiving (called by the handler threads)

    def _authorized(self, headers: Any) -> bool:
        if self._token is None:
            return True
        scheme, _, bearer = str(headers.get("Authorization", "")).strip().partition(" ")
        given = [bearer.strip()] if scheme.lower() == "bearer" else []
        given.append(str(headers.get("X-Webhook-Token", "")).strip())
        expected = self._token.encode()
        # Compare every candidate, in constant time each, so timing tells nothing.
        matches = [hmac.compare_digest(g.encode("latin-1", "replace"), expected) for g in given]
        return any(matches)

    def _accept(self, payload: dict[str, Any]) -> None:
        kind, remote_id = "unknown", None
        for name, key in _KINDS:
            value = payload.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                kind, remote_id = name, str(value)
                break
        status, images = payload.get("status"), payload.get("generatedImages")
        with self._cond:
            now = time.time()  # under the lock: received_at follows seq
            self._received += 1
            self._log.appendleft(
                {
                    "seq": self._received,
                    "received_at": now,
                    "time": datetime.fromtimestamp(now, timezone.utc).isoformat(
                        timespec="milliseconds"
                    ),
                    "kind": kind,
                    "id": remote_id,
                    "status": status if isinstance(status, str) else None,
                    "images": len(images) if isinstance(images, list) else 0,
                    "payload": payload,
                }
            )
            self._cond.notify_all()
            waiters, self._waiters = self._waiters, set()
            widgets = list(self._widgets)
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there now
                loop.call_soon_threadsafe(_resolve, future)
        if widgets:
            table = self._repr_html_()
            for widget in widgets:
                try:
                    widget.value = table
                except Exception:  # a closed widget must not cost the sender its 200
                    logger.debug("webhook inbox: a widget could not be updated", exc_info=True)

    # ---- what jobs and people read

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Accepted deliveries, newest first: ``seq``, ``received_at`` (Unix time), ``time``
        (ISO), ``kind`` (``product.generation`` / ``vto.generation`` / ``unknown``), ``id``,
        ``status``, ``images`` (how many) and ``payload`` (as received)."""
        with self._cond:
            return [dict(entry) for entry in self._log]

    def __len__(self) -> int:
        with self._cond:
            return len(self._log)

    @property
    def received(self) -> int:
        """How many deliveries were accepted since the start (more than ``len`` once full)."""
        with self._cond:
            return self._received

    def payloads(self, kind: str, remote_id: str, since: float = 0.0) -> list[dict[str, Any]]:
        """Payloads of ``kind`` about ``remote_id`` received at or after Unix time ``since``,
        newest first."""
        with self._cond:
            return [
                e["payload"]
                for e in self._log
                if e["kind"] == kind and e["id"] == remote_id and e["received_at"] >= since
            ]

    def latest(self, kind: str, remote_id: str) -> dict[str, Any] | None:
        """The newest payload of ``kind`` about ``remote_id``, or None."""
        found = self.payloads(kind, remote_id)
        return found[0] if found else None

    def wait(self, received: int, timeout: float) -> int:
        """Block until more than ``received`` deliveries were accepted, or for ``timeout``
        seconds.

        Returns:
            :attr:`received` at that moment.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._received > received, max(0.0, timeout))
            return self._received

    async def async_wait(self, received: int, timeout: float) -> int:
        """:meth:`wait` for asyncio code: the event loop runs on meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._received > received:
                return self._received
            self._waiters.add((loop, future))
        try:
            await asyncio.wait({future}, timeout=max(0.0, timeout))
        finally:
            with self._cond:
                self._waiters.discard((loop, future))
        return self.received

    def _repr_html_(self) -> str:
        rows = []
        for entry in self.deliveries:
            payload = json.dumps(entry["payload"], default=str)
            cells = (
                entry["time"],
                entry["kind"],
                entry["id"] or "",
                entry["status"] or "",
                entry["images"],
                payload if len(payload) <= 300 else payload[:300] + "…",
            )
            rows.append("<tr>" + "".join(f"<td>{_text(c)}</td>" for c in cells) + "</tr>")
        head = "".join(
            f"<th>{h}</th>" for h in ("time", "event", "id", "status", "images", "payload")
        )
        title = (
            f"<b>Webhook inbox</b> on port {self.port} "
            f"({'running' if self.running else 'closed'}): {_count(len(rows))}, newest first"
        )
        return f"<div><p>{title}</p><table><tr>{head}</tr>{''.join(rows)}</table></div>"

    def widget(self) -> Any:
        """An ``ipywidgets.HTML`` showing the table, refreshed as deliveries arrive."""
        import ipywidgets

        view = ipywidgets.HTML(value=self._repr_html_())
        with self._cond:
            self._widgets.add(view)
        return view


def _count(n: int) -> str:
    return f"{n} delivery" if n == 1 else f"{n} deliveries"


def _text(value: object) -> str:
    """A value as table text: secrets hidden, then HTML-escaped."""
    return html.escape(config.redact(str(value)), quote=True)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of deliveries wait in the backlog, not in SYN retries
    inbox: WebhookInbox

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


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
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
        budget = 4 * max(self.server.inbox.max_body, 1 << 16)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            while budget > 0 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                data = self.connection.recv(1 << 16)
                if not data:
                    break
                budget -= len(data)

    def do_POST(self) -> None:
        inbox = self.server.inbox
        if urlsplit(self.path).path != PATH:
            self._answer(404, f"deliveries go to {PATH}")
        elif not inbox._authorized(self.headers):
            self._answer(401, "missing or wrong webhook token")
        else:
            body = self._body(inbox.max_body)
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
            inbox._accept(payload)
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
