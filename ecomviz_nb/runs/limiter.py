"""One pace for a whole batch: fewer requests at once after a 429, more again once calm."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    """Caps the requests in flight and pauses everyone after a 429 (additive increase,
    multiplicative decrease).

    ``AsyncClient.limiter = AdaptiveLimiter(16)`` makes every request of that client take a
    slot: on a 429 the cap halves and nobody sends until the server's ``Retry-After`` has
    passed; after ``calm`` answers in a row without one the cap grows by one, up to ``maximum``.
    """

    def __init__(self, maximum: int, *, minimum: int = 1, calm: int = 20) -> None:
        if maximum < 1 or minimum < 1 or minimum > maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got {minimum} and {maximum}")
        self.maximum = maximum
        self.minimum = minimum
        self.limit = maximum
        """The current cap on requests in flight."""
        self.calm = calm
        self.in_flight = 0
        self.rate_limited = 0
        """How many 429 answers were seen."""
        self.lowest = maximum
        """The lowest cap reached."""
        self._resume_at = 0.0
        self._streak = 0
        self._changed: asyncio.Condition | None = None
        self._wake: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimiter(limit={self.limit}/{self.maximum}, in_flight={self.in_flight}, "
            f"rate_limited={self.rate_limited})"
        )

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one request slot (waiting for a free one and for any pause to pass)."""
        changed = self._condition()
        async with changed:
            while True:
                pause = self._resume_at - time.monotonic()
                if pause > 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(changed.wait(), pause)
                    continue
                if self.in_flight < self.limit:
                    break
                await changed.wait()
            self.in_flight += 1
        try:
            yield
        finally:
            async with changed:
                self.in_flight -= 1
                changed.notify_all()

    def penalize(self, retry_after: float | None) -> None:
        """A 429 arrived: halve the cap and pause everyone for ``retry_after`` (or 1 s)."""
        self.rate_limited += 1
        self._streak = 0
        self.limit = max(self.minimum, self.limit // 2)
        self.lowest = min(self.lowest, self.limit)
        pause = 1.0 if retry_after is None else max(0.0, retry_after)
        self._resume_at = max(self._resume_at, time.monotonic() + pause)

    def reward(self) -> None:
        """An answer without a 429: after ``calm`` in a row, allow one more in flight."""
        self._streak += 1
        if self._streak >= self.calm and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0
            self._wake = asyncio.ensure_future(self._notify())

    async def _notify(self) -> None:
        changed = self._condition()
        async with changed:
            changed.notify_all()
