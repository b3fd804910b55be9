"""Webhook delivery: POST the documented payload, retry with backoff, log every attempt."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any

import httpx

from .settings import Settings

__all__ = ["WebhookSender"]

_RETRY_STATUSES = frozenset({408, 429})


class WebhookSender:
    """Sends webhooks and keeps the log served at ``/_sandbox/deliveries``.

    The log holds the URL, attempt, status or error and timing of each attempt, and whether an
    ``Authorization`` header was sent, never the token itself.
    """

    def __init__(self, settings: Settings, *, log_size: int = 1000) -> None:
        self.settings = settings
        self.log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(settings.webhook_timeout))
        self._count = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, url: str, token: str | None, event: str, payload: dict[str, Any]) -> bool:
        """Deliver ``payload``; True once a 2xx arrives, False after the last retry."""
        self._count += 1
        delivery = f"dlv_{self._count:06d}"
        headers = {"Content-Type": "application/json", "User-Agent": "ecomviz-sandbox-webhooks"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        attempts = 1 + max(0, self.settings.webhook_retries)
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            entry: dict[str, Any] = {
                "id": delivery,
                "event": event,
                "url": url,
                "attempt": attempt,
                "authorization": bool(token),
                "payload": payload,
                "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            }
            retry = False
            try:
                response = await self._http.post(url, json=payload, headers=headers)
            except httpx.TransportError as exc:  # timeouts, refused, dropped: worth a retry
                entry.update(status_code=None, error=type(exc).__name__, ok=False)
                retry = True
            except Exception as exc:  # a URL or token httpx cannot send: retrying won't help
                entry.update(status_code=None, error=type(exc).__name__, ok=False)
            else:
                ok = 200 <= response.status_code < 300
                entry.update(status_code=response.status_code, error=None, ok=ok)
                retry = response.status_code in _RETRY_STATUSES or response.status_code >= 500
            entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
            self.log.append(entry)
            if entry["ok"]:
                return True
            if not retry or attempt == attempts:
                return False
            await asyncio.sleep(self.settings.webhook_backoff * 2 ** (attempt - 1))
        return False
