"""``WebhookInbox``: a local server that receives EcomViz webhooks, keeps them and tells jobs.

The server runs in a daemon thread; what it accepts and how it answers is
:mod:`ecomviz_nb.inbox_server`. This module keeps the deliveries, lets code wait for them and
shows them as a table.

While running, the inbox is registered in :data:`ecomviz_nb.jobs.webhook_listeners` under its
URL: a job whose request's webhook has that URL ends as soon as its delivery arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import threading
import time
import weakref
from collections import deque
from datetime import datetime, timezone
from typing import Any

from . import config
from .errors import ValidationError
from .inbox_server import PATH, InboxServer, open_server
from .jobs import register_listener, unregister_listener
from .models import Webhook

__all__ = ["WebhookInbox"]

logger = logging.getLogger("ecomviz_nb.inbox")

_KINDS = (("vto.generation", "vtoId"), ("product.generation", "productId"))


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
        self._server: InboxServer | None = None
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
        server = open_server(
            self.host,
            self.port,
            token=self._token,
            max_body=lambda: self.max_body,  # asked per request: a new value applies at once
            deliver=self._accept,
        )
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
