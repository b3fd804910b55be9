"""Webhook receivers that jobs hear from: the registry by URL, and waiting on one for a delivery.

A receiver (``ev.WebhookInbox``) registers itself in :data:`webhook_listeners` under its URL. A
job whose request names that URL looks there before each poll and sleeps on the listener instead
of a plain sleep (same delays, same deadline): when the delivery that ends it arrives (status
``completed``, ``failed``, ``error`` or ``canceled``, received after submission, and for a
generation naming at least one of the job's own images), the job ends without another poll.
Polling stays the fallback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .models import TERMINAL_FAILED_STATUSES

__all__ = [
    "WebhookListener",
    "async_wait_for_delivery",
    "is_terminal_delivery",
    "listener_for",
    "register_listener",
    "unregister_listener",
    "wait_for_delivery",
    "webhook_listeners",
]


class WebhookListener(Protocol):
    """A webhook receiver that jobs can hear from (``ev.WebhookInbox`` is one).

    Event kinds are ``product.generation`` (payload ``{productId, status, generatedImages}``)
    and ``vto.generation`` (``{vtoId, status, generatedImages, createdAt, updatedAt}``).
    """

    @property
    def received(self) -> int:
        """How many deliveries were accepted so far (a counter that only grows)."""
        ...

    def payloads(self, kind: str, remote_id: str, since: float) -> list[dict[str, Any]]:
        """The payloads of ``kind`` about ``remote_id`` received at or after Unix time
        ``since``, newest first."""
        ...

    def wait(self, received: int, timeout: float) -> int:
        """Block until more than ``received`` deliveries were accepted, or for ``timeout``
        seconds; returns :attr:`received`."""
        ...

    async def async_wait(self, received: int, timeout: float) -> int:
        """:meth:`wait` without blocking the event loop."""
        ...


webhook_listeners: dict[str, WebhookListener] = {}
"""Webhook receivers by the URL they receive at; jobs look here, never import a receiver."""


def register_listener(url: str, listener: WebhookListener) -> None:
    """Let jobs whose request's webhook URL is ``url`` hear from ``listener``."""
    webhook_listeners[url] = listener


def unregister_listener(url: str, listener: WebhookListener) -> None:
    """Undo :func:`register_listener` (unless another listener took the URL since)."""
    if webhook_listeners.get(url) is listener:
        del webhook_listeners[url]


def listener_for(request: Mapping[str, Any]) -> WebhookListener | None:
    """The listener registered under the webhook URL of ``request`` (a JSON body), if any."""
    hook = request.get("webhook")
    url = hook.get("url") if isinstance(hook, dict) else None
    return webhook_listeners.get(url) if isinstance(url, str) else None


def is_terminal_delivery(payload: Mapping[str, Any]) -> bool:
    """Whether a delivery's status ends a job (``completed``, ``failed``, ``error``...)."""
    status = payload.get("status")
    return isinstance(status, str) and (
        status.lower() == "completed" or status.lower() in TERMINAL_FAILED_STATUSES
    )


def wait_for_delivery(
    listener: WebhookListener, seconds: float, arrived: Callable[[], bool]
) -> None:
    """Block up to ``seconds``; return early once ``arrived()`` holds (asked after each delivery).

    Args:
        listener: the receiver to wait on.
        seconds: the longest wait (the job's poll delay).
        arrived: whether the delivery the caller waits for is in.
    """
    end = time.monotonic() + seconds
    seen = listener.received
    while not arrived() and (left := end - time.monotonic()) > 0:
        seen = listener.wait(seen, left)


async def async_wait_for_delivery(
    listener: WebhookListener, seconds: float, arrived: Callable[[], bool]
) -> None:
    """:func:`wait_for_delivery` without blocking the event loop."""
    end = time.monotonic() + seconds
    seen = listener.received
    while not arrived() and (left := end - time.monotonic()) > 0:
        seen = await listener.async_wait(seen, left)
