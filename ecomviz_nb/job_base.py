"""What every job shares: its ledger row, the wait with a deadline, failed polls and webhooks.

A poll that fails for a passing reason (no answer, 408, 429, 5xx) does not end the wait: the
job reports "retrying after 503 (2nd time)" and polls again after a growing pause (at least
the server's ``Retry-After``), until its own deadline. 401/403/404 end it at once. How a job
hears a webhook instead of polling: :mod:`ecomviz_nb.webhook_listeners`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from .errors import EcomVizError, JobTimeoutError, RateLimitError, is_transient
from .ledger import JobLedger, JobRecord
from .models import GeneratedImage, JobKind
from .polling import Progress, ProgressEvent, poll_delay, retry_pause, retry_status
from .reprs import RichRepr, short_id
from .webhook_listeners import (
    WebhookListener,
    async_wait_for_delivery,
    is_terminal_delivery,
    listener_for,
    wait_for_delivery,
)

__all__ = ["Job"]

S = TypeVar("S")
R = TypeVar("R")


class Job(RichRepr, Generic[S, R]):
    """The base of every job: the ledger row, the decision after each poll, and the wait.

    ``S`` is what the job polls with (its *source*), ``R`` what one poll returns. Subclasses
    say what a poll or a webhook delivery means for them (``_observe``, ``_read_delivery``,
    ``_conclude``) and give ``wait()``. In a notebook a bare job shows as a card
    (:func:`ecomviz_nb.cards.job_card`).
    """

    _html_renderer = ("ecomviz_nb.cards", "job_card")
    kind: JobKind
    """``generate`` or ``tryon``: the ledger's kind of the job."""
    noun = ""
    """The kind in words, for messages: ``generation`` or ``try-on``."""
    _target_name = ""  # what the server id names, in the repr: ``product`` or ``vto``
    event_kind = ""
    """The webhook event that ends the job (``product.generation`` / ``vto.generation``)."""

    def __init__(
        self,
        record: JobRecord,
        source: S,
        *,
        ledger: JobLedger | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.record = record
        self._source = source
        self._ledger = ledger
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self.images: list[GeneratedImage] = []
        """The job's images so far (new product images, or the try-on's images)."""
        self._last: R | None = None

    @property
    def id(self) -> str:
        """The ledger id (``job_…``); ``client.jobs.get(id)`` finds it again."""
        return self.record.id

    @property
    def expected(self) -> int:
        """How many images the job makes."""
        return self.record.expected

    @property
    def state(self) -> str:
        """The ledger state: submitted, completed, failed, unknown…"""
        return self.record.state

    def _elapsed(self) -> float:
        return max(0.0, self._clock() - self.record.submitted_at)

    def _save(self, **changes: Any) -> None:
        if any(getattr(self.record, k) != v for k, v in changes.items()):
            for k, v in changes.items():
                setattr(self.record, k, v)
            if self._ledger is not None:
                self._ledger.update(self.record.id, **changes)

    def _observe(self, snapshot: R) -> tuple[ProgressEvent, bool, Exception | None]:
        """Digest one poll: the event to report, whether it is finished, an error to raise."""
        raise NotImplementedError

    def observe(self, snapshot: R) -> tuple[ProgressEvent, bool, Exception | None]:
        """Digest a snapshot read by someone else (a sweep reads one product for all its runs).

        Returns:
            The progress event, whether the job is finished, and the error a failed job
            raises in ``wait()`` (returned, not raised).
        """
        return self._observe(snapshot)

    def give_up(self, why: str) -> None:
        """Mark the job ``failed`` in the ledger: nobody waits for it any more.

        It no longer holds its product's turn; ``wait()`` can still follow it.
        """
        self._save(state="failed", message=why)

    def _step(
        self,
        snapshot: R,
        on_progress: Progress | None,
        origin: float,
        deadline: float | None,
        timeout: float | None,
    ) -> float | None:
        """Report one poll; None when finished, else the delay before the next poll.

        ``origin`` is the clock reading at which the job was submitted, so a job resumed long
        after submission is polled at the slow pace its age calls for.
        """
        self._last = snapshot
        event, finished, error = self._observe(snapshot)
        if on_progress is not None:
            on_progress(event)
        if error is not None:
            raise error
        if finished:
            return None
        now = self._clock()
        delay = poll_delay(max(0.0, now - origin), self._rand())  # the job's age sets the pace
        return self._until(delay, now, deadline, timeout, None)

    def _until(
        self,
        delay: float,
        now: float,
        deadline: float | None,
        timeout: float | None,
        last_error: BaseException | None,
    ) -> float:
        """``delay``, shortened to the deadline; raises once the deadline has passed."""
        if deadline is None:
            return delay
        if now >= deadline:
            failing = f"; the last poll failed: {last_error}" if last_error is not None else ""
            raise JobTimeoutError(
                f"{self.noun} job {self.id} was not finished after {timeout:g} s "
                f"({len(self.images)} of {self.expected} images){failing}; it may still finish: "
                f"call wait() again, or client.jobs.get({self.id!r}).wait() later",
                job=self,
                images=list(self.images),
                last_error=last_error,
            )
        return min(delay, deadline - now)

    def _failed_poll(
        self,
        exc: EcomVizError,
        failures: int,
        on_progress: Progress | None,
        origin: float,
        deadline: float | None,
        timeout: float | None,
    ) -> float:
        """A poll raised: re-raise what will not pass; else report it and return the pause."""
        if not is_transient(exc):
            raise exc
        now = self._clock()
        hint = exc.retry_after if isinstance(exc, RateLimitError) else None
        delay = retry_pause(failures, max(0.0, now - origin), self._rand(), hint)
        delay = self._until(delay, now, deadline, timeout, exc)
        if on_progress is not None:
            on_progress(self._event(retry_status(exc, failures)))
        return delay

    def _event(self, status: str) -> ProgressEvent:
        """An event about the job as last seen, with another status."""
        done = len(self.images)
        return ProgressEvent(
            self.id, done, max(self.expected, done), status, self._elapsed(), tuple(self.images)
        )

    def _start(self, timeout: float | None) -> tuple[float, float | None]:
        now = self._clock()
        return self.record.submitted_at, None if timeout is None else now + timeout

    # ---- webhooks: see ecomviz_nb.webhook_listeners

    def _listener(self) -> WebhookListener | None:
        return listener_for(self.record.request)

    def _read_delivery(self, payload: dict[str, Any]) -> R | None:
        """The result a terminal delivery gives, or None if it is not this job's."""
        raise NotImplementedError

    def _conclude(
        self, payload: dict[str, Any], result: R
    ) -> tuple[ProgressEvent, Exception | None]:
        """Record the delivery's outcome: the event to report and the error to raise."""
        raise NotImplementedError

    def _delivery(self, listener: WebhookListener) -> tuple[dict[str, Any], R] | None:
        """The delivery that ends this job, with its result, if it has arrived."""
        remote_id = self.record.remote_id or ""
        for payload in listener.payloads(self.event_kind, remote_id, self.record.submitted_at):
            result = self._read_delivery(payload) if is_terminal_delivery(payload) else None
            if result is not None:
                return payload, result
        return None

    def _heard(self, on_progress: Progress | None) -> R | None:
        """The job's result if its webhook has ended it (raises if that says it failed)."""
        listener = self._listener()
        found = None if listener is None else self._delivery(listener)
        if found is None:
            return None
        event, error = self._conclude(*found)
        if on_progress is not None:
            on_progress(event)
        if error is not None:
            raise error
        return found[1]

    def _nap(self, sleep: Callable[[float], Any], delay: float) -> None:
        """Sleep ``delay`` s, or only until the job's delivery arrives when a listener is there."""
        listener = self._listener()
        if listener is None:
            sleep(delay)
            return
        wait_for_delivery(listener, delay, lambda: self._delivery(listener) is not None)

    async def _anap(self, sleep: Callable[[float], Any], delay: float) -> None:
        """The async twin of :meth:`_nap`: the event loop runs on meanwhile."""
        listener = self._listener()
        if listener is None:
            await sleep(delay)
            return
        await async_wait_for_delivery(listener, delay, lambda: self._delivery(listener) is not None)

    def _head_start(self, deadline: float | None) -> float:
        """With a webhook listener, a young job waits for its webhook before the first poll
        (until the schedule's first poll time): a poll right after submission finds nothing."""
        if self._listener() is None:
            return 0.0
        now = self._clock()
        pause = self.record.submitted_at + poll_delay(0.0) - now
        if deadline is not None:
            pause = min(pause, deadline - now)
        return max(0.0, pause)

    def _wait(
        self, fetch: Callable[[], R], timeout: float | None, on_progress: Progress | None
    ) -> R:
        sleep = self._sleep or time.sleep
        origin, deadline = self._start(timeout)
        failures = 0
        if head := self._head_start(deadline):
            self._nap(sleep, head)
        while True:
            heard = self._heard(on_progress)  # also before the first poll: it may be in already
            if heard is not None:
                return heard
            try:
                snapshot = fetch()
            except EcomVizError as exc:
                failures += 1
                pause = self._failed_poll(exc, failures, on_progress, origin, deadline, timeout)
                self._nap(sleep, pause)
                continue
            failures = 0
            delay = self._step(snapshot, on_progress, origin, deadline, timeout)
            if delay is None:
                return snapshot
            self._nap(sleep, delay)

    async def _await(
        self, fetch: Callable[[], Awaitable[R]], timeout: float | None, on_progress: Progress | None
    ) -> R:
        sleep = self._sleep or asyncio.sleep
        origin, deadline = self._start(timeout)
        failures = 0
        if head := self._head_start(deadline):
            await self._anap(sleep, head)
        while True:
            heard = self._heard(on_progress)
            if heard is not None:
                return heard
            try:
                snapshot = await fetch()
            except EcomVizError as exc:
                failures += 1
                pause = self._failed_poll(exc, failures, on_progress, origin, deadline, timeout)
                await self._anap(sleep, pause)
                continue
            failures = 0
            delay = self._step(snapshot, on_progress, origin, deadline, timeout)
            if delay is None:
                return snapshot
            await self._anap(sleep, delay)

    def __repr__(self) -> str:
        # Short: ids, state and counts only (never the request, which may name a webhook).
        target = self.record.remote_id
        where = f" {self._target_name}={short_id(target)}" if target else ""
        return (
            f"<{type(self).__name__} {short_id(self.id)} {self.kind}{where} "
            f"{short_id(self.state)} {len(self.images)}/{self.expected}>"
        )
