"""Submitted jobs: waiting for them, the polling schedule, progress events, and ledger views.

A job never imports the client. It is handed a *source*: any object with ``get_product`` (for
generation jobs) or ``get_try_on`` (for try-on jobs), sync or async. ``ev.Client`` and
``ev.AsyncClient`` are such sources.

When a job is done:
- generation: the product holds ``expected`` images of the job's own: new since submission and
  matching its params (the API has no status field for it; :mod:`ecomviz_nb.attribution`);
- try-on: the status is ``completed``; ``failed`` / ``error`` / ``canceled`` end it with
  :class:`~ecomviz_nb.errors.JobFailedError`; any other status is shown verbatim and waited on.

A poll that fails for a passing reason (no answer, 408, 429, 5xx) does not end the wait: the
job reports "retrying after 503 (2nd time)" and polls again after a growing pause (at least
the server's ``Retry-After``), until its own deadline. 401/403/404 end it at once.

Webhooks: a receiver (``ev.WebhookInbox``) registers itself in :data:`webhook_listeners` under
its URL. A job whose request names that URL looks there before each poll and sleeps on the
listener instead of a plain sleep (same delays, same deadline): when the delivery that ends it
arrives (status ``completed``, ``failed``, ``error`` or ``canceled``, received after submission,
and for a generation naming at least one of the job's own images), the job ends without
another poll. Polling stays the fallback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from .attribution import RunKey, own_images
from .batch_ledger import BatchBook
from .errors import APIError, EcomVizError, JobFailedError, JobTimeoutError, RateLimitError
from .errors import is_transient as is_transient
from .ledger import JobLedger, JobRecord
from .models import (
    TERMINAL_FAILED_STATUSES,
    GeneratedImage,
    GenerateRequest,
    Product,
    TryOnRequest,
    TryOnResult,
)

__all__ = [
    "AsyncGenerationJob",
    "AsyncJobs",
    "AsyncTryOnJob",
    "GenerationJob",
    "Jobs",
    "ProgressEvent",
    "TryOnJob",
    "WebhookListener",
    "poll_delay",
    "print_progress",
    "register_listener",
    "retry_pause",
    "retry_status",
    "unregister_listener",
    "webhook_listeners",
]

POLL_INITIAL = 2.0
POLL_GROWTH = 0.03
POLL_MAXIMUM = 10.0
POLL_JITTER = 0.05


def poll_delay(
    elapsed: float,
    rand: float = 0.5,
    *,
    initial: float = POLL_INITIAL,
    growth: float = POLL_GROWTH,
    maximum: float = POLL_MAXIMUM,
    jitter: float = POLL_JITTER,
) -> float:
    """Seconds to sleep before the next poll of a job that has run ``elapsed`` seconds.

    The wait grows with the job's age: ``initial + growth * elapsed``, capped at ``maximum``
    (2 s at the start, 2.9 s at 30 s, 10 s from about 4.5 min on). A job is then noticed within
    about a tenth of its duration (beyond the first seconds) while making a fraction of the
    requests of fixed polling; ``benchmarks/bench_polling.py`` measures both.

    Args:
        elapsed: seconds since the job was submitted (>= 0).
        rand: a number in [0, 1) that picks the jitter (0.5 means none); pass
            ``random.random()`` so that many notebooks do not poll in step.
        jitter: the relative spread: the delay is scaled by a factor in [1 - jitter, 1 + jitter).

    Returns:
        The delay, within ``initial * (1 - jitter)`` and ``maximum * (1 + jitter)``.
    """
    if not elapsed >= 0:  # also refuses NaN
        raise ValueError(f"elapsed={elapsed} must be >= 0")
    if not 0.0 <= rand < 1.0:
        raise ValueError(f"rand={rand} must be in [0, 1)")
    base = min(maximum, initial + growth * elapsed)
    return base * (1.0 + jitter * (2.0 * rand - 1.0))


def retry_pause(
    failures: int, elapsed: float, rand: float = 0.5, retry_after: float | None = None
) -> float:
    """Seconds to pause after the ``failures``-th poll in a row failed for a passing reason.

    The job's own schedule (:func:`poll_delay`) doubled for each further failure, capped at
    :data:`POLL_MAXIMUM` (with jitter), and never shorter than the server's ``Retry-After``.
    """
    if failures < 1:
        raise ValueError(f"failures={failures} must be >= 1")
    base = min(POLL_MAXIMUM, poll_delay(elapsed, 0.5) * 2.0 ** min(failures - 1, 10))
    delay = base * (1.0 + POLL_JITTER * (2.0 * rand - 1.0))
    return max(delay, retry_after or 0.0)


def retry_status(exc: BaseException, failures: int) -> str:
    """The progress status while polls fail: ``retrying after 503 (3rd time)``."""
    return f"retrying after {_reason(exc)} ({_ordinal(failures)} time)"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _reason(exc: BaseException) -> str:
    """A short name for a failed poll: ``503``, ``429``, ``a timeout``, ``a connection error``."""
    if isinstance(exc, APIError):
        return str(exc.status_code)
    return "a timeout" if isinstance(exc, TimeoutError) else "a connection error"


@dataclass(frozen=True)
class ProgressEvent:
    """What a job reports after each poll; widgets and text printers subscribe to it."""

    job_id: str
    done: int
    """Images ready so far."""
    expected: int
    """Images the job will make."""
    status: str
    """``submitted``, ``generating``, ``completed``, the try-on status as the server says it,
    or ``retrying after 503 (2nd time)`` while polls fail for a passing reason."""
    elapsed: float
    """Seconds since submission."""
    images: tuple[GeneratedImage, ...] = field(default=(), repr=False)
    """The images ready so far."""

    @property
    def fraction(self) -> float:
        """``done / expected`` in [0, 1]."""
        return 1.0 if self.expected <= 0 else min(1.0, self.done / self.expected)


def print_progress(event: ProgressEvent) -> None:
    """A text progress line for terminals and plain Python (rewrites itself with ``\\r``)."""
    width = 24
    filled = round(width * event.fraction)
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if event.status in ("completed", "failed", "error", "canceled") else ""
    sys.stdout.write(
        f"\r{event.job_id} [{bar}] {event.done}/{event.expected} {event.status} "
        f"{event.elapsed:5.0f}s{end}"
    )
    sys.stdout.flush()


class ProductSource(Protocol):
    def get_product(self, product_id: str) -> Product: ...


class AsyncProductSource(Protocol):
    async def get_product(self, product_id: str) -> Product: ...


class TryOnSource(Protocol):
    def get_try_on(self, vto_id: str) -> TryOnResult: ...


class AsyncTryOnSource(Protocol):
    async def get_try_on(self, vto_id: str) -> TryOnResult: ...


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


def _terminal(payload: dict[str, Any]) -> bool:
    status = payload.get("status")
    return isinstance(status, str) and (
        status.lower() == "completed" or status.lower() in TERMINAL_FAILED_STATUSES
    )


Progress = Callable[[ProgressEvent], Any]
S = TypeVar("S")
R = TypeVar("R")


class _Job(Generic[S, R]):
    """What sync and async jobs share: the ledger row and the decision after each poll."""

    kind = ""
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
                f"{self.kind} job {self.id} was not finished after {timeout:g} s "
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

    # ---- webhooks: see the module docstring

    def _listener(self) -> WebhookListener | None:
        hook = self.record.request.get("webhook")
        url = hook.get("url") if isinstance(hook, dict) else None
        return webhook_listeners.get(url) if isinstance(url, str) else None

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
            result = self._read_delivery(payload) if _terminal(payload) else None
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
        end = time.monotonic() + delay
        seen = listener.received
        while self._delivery(listener) is None and (left := end - time.monotonic()) > 0:
            seen = listener.wait(seen, left)

    async def _anap(self, sleep: Callable[[float], Any], delay: float) -> None:
        """The async twin of :meth:`_nap`: the event loop runs on meanwhile."""
        listener = self._listener()
        if listener is None:
            await sleep(delay)
            return
        end = time.monotonic() + delay
        seen = listener.received
        while self._delivery(listener) is None and (left := end - time.monotonic()) > 0:
            seen = await listener.async_wait(seen, left)

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
        return (
            f"{type(self).__name__}(id={self.id!r}, remote_id={self.record.remote_id!r}, "
            f"state={self.state!r}, done={len(self.images)}, expected={self.expected})"
        )


class _GenerationJobBase(_Job[S, Product]):
    kind = "generation"
    event_kind = "product.generation"

    @property
    def product_id(self) -> str:
        """The product the images are generated for."""
        return self.record.remote_id or ""

    @property
    def request(self) -> GenerateRequest:
        """The submitted request (a webhook token is not kept)."""
        return GenerateRequest.from_wire(self.record.request)

    _key: RunKey | None = None

    @property
    def key(self) -> RunKey:
        """What this run's images are recognised by (:mod:`ecomviz_nb.attribution`)."""
        if self._key is None:
            self._key = RunKey.of(self.record.request)
        return self._key

    def _observe(self, snapshot: Product) -> tuple[ProgressEvent, bool, Exception | None]:
        self.images = own_images(
            self.key, snapshot.generated_images, self.record.baseline, self.expected
        )
        done = len(self.images)
        finished = done >= self.expected
        status = "completed" if finished else ("generating" if done else "submitted")
        self._save(done=done, status=status, **({"state": "completed"} if finished else {}))
        event = ProgressEvent(
            self.id, done, self.expected, status, self._elapsed(), tuple(self.images)
        )
        return event, finished, None

    def _read_delivery(self, payload: dict[str, Any]) -> Product | None:
        # A delivery names the product, not the run: it is this job's only if it holds some of
        # the job's own images (not another run's on the same product, nor an earlier one's).
        raw = payload.get("generatedImages")
        delivered = [
            GeneratedImage.from_wire(item, base_url=self.record.base_url)
            for item in (raw if isinstance(raw, list) else [])
        ]
        own = own_images(self.key, delivered, self.record.baseline, self.expected)
        if not own:
            return None
        last = self._last or Product(id=self.product_id)
        known = {key for img in last.generated_images for key in (img.file_path, img.url)}
        new = [img for img in own if img.file_path not in known and img.url not in known]
        return dataclasses.replace(last, generated_images=[*last.generated_images, *new])

    def _conclude(
        self, payload: dict[str, Any], result: Product
    ) -> tuple[ProgressEvent, Exception | None]:
        status = str(payload.get("status"))
        failed = status.lower() in TERMINAL_FAILED_STATUSES
        self.images = own_images(
            self.key, result.generated_images, self.record.baseline, self.expected
        )
        self._save(done=len(self.images), status=status, state="failed" if failed else "completed")
        error = None
        if failed:
            error = JobFailedError(
                f"generation for product {self.product_id} ended with status {status!r} "
                f"({len(self.images)} of {self.expected} images made)",
                job=self,
                status=status,
            )
        return self._event(status), error


class GenerationJob(_GenerationJobBase[ProductSource]):
    """A product image generation; ``wait()`` returns the product once all images are there."""

    def wait(self, timeout: float | None = 600, on_progress: Progress | None = None) -> Product:
        """Poll until the product holds every expected new image.

        Args:
            timeout: seconds to wait at most (None: no limit).
            on_progress: called with a :class:`ProgressEvent` after each poll.

        Returns:
            The product; the new images are in ``job.images``.

        Raises:
            JobTimeoutError: the deadline passed; ``exc.images`` holds what arrived and
                ``exc.last_error`` the last failed poll, if polls were failing.
            AuthenticationError, NotFoundError: the token or the product id is wrong (errors
                that pass, such as 503 or a dropped connection, are polled through).
        """
        return self._wait(lambda: self._source.get_product(self.product_id), timeout, on_progress)


class AsyncGenerationJob(_GenerationJobBase[AsyncProductSource]):
    """The async twin of :class:`GenerationJob`: ``await job.wait()``."""

    async def wait(
        self, timeout: float | None = 600, on_progress: Progress | None = None
    ) -> Product:
        """Like :meth:`GenerationJob.wait`, without blocking the event loop."""
        return await self._await(
            lambda: self._source.get_product(self.product_id), timeout, on_progress
        )


class _TryOnJobBase(_Job[S, TryOnResult]):
    kind = "try-on"
    event_kind = "vto.generation"
    result: TryOnResult | None = None
    """The latest :class:`TryOnResult` seen."""

    @property
    def vto_id(self) -> str:
        """The server's try-on id."""
        return self.record.remote_id or ""

    def _followable(self) -> None:
        if not self.vto_id:
            raise JobFailedError(
                f"try-on job {self.id} has no vtoId: the server's answer to the submission was "
                "lost, so it cannot be followed from here; look for it in your EcomViz account "
                "before submitting it again",
                job=self,
                status=self.record.state,
            )

    @property
    def request(self) -> TryOnRequest:
        """The submitted request (a webhook token is not kept)."""
        return TryOnRequest.from_wire(self.record.request)

    def _observe(self, snapshot: TryOnResult) -> tuple[ProgressEvent, bool, Exception | None]:
        self.result = snapshot
        self.images = list(snapshot.images)
        finished = snapshot.is_completed
        changes: dict[str, Any] = {"done": len(self.images), "status": snapshot.status}
        if finished:
            changes["state"] = "completed"
        elif snapshot.is_failed:
            changes["state"] = "failed"
        self._save(**changes)
        event = ProgressEvent(
            self.id,
            len(self.images) if finished else 0,
            max(self.expected, len(self.images)),
            snapshot.status,
            self._elapsed(),
            tuple(self.images),
        )
        error = None
        if snapshot.is_failed:
            error = JobFailedError(
                f"try-on {self.vto_id} ended with status {snapshot.status!r}",
                job=self,
                status=snapshot.status,
            )
        return event, finished, error

    def _read_delivery(self, payload: dict[str, Any]) -> TryOnResult:
        result = TryOnResult.from_wire(payload, base_url=self.record.base_url)
        if self.result is not None:  # the webhook leaves out the source images a poll gave
            result.person_image = result.person_image or self.result.person_image
            result.clothing_images = result.clothing_images or self.result.clothing_images
        return result

    def _conclude(
        self, payload: dict[str, Any], result: TryOnResult
    ) -> tuple[ProgressEvent, Exception | None]:
        event, _, error = self._observe(result)
        return event, error


class TryOnJob(_TryOnJobBase[TryOnSource]):
    """A virtual try-on; ``wait()`` returns the :class:`TryOnResult` once it is completed."""

    def wait(self, timeout: float | None = 600, on_progress: Progress | None = None) -> TryOnResult:
        """Poll until the status is terminal.

        Raises:
            JobFailedError: the status is failed, error or canceled.
            JobTimeoutError: the deadline passed first.
        """
        self._followable()
        return self._wait(lambda: self._source.get_try_on(self.vto_id), timeout, on_progress)


class AsyncTryOnJob(_TryOnJobBase[AsyncTryOnSource]):
    """The async twin of :class:`TryOnJob`."""

    async def wait(
        self, timeout: float | None = 600, on_progress: Progress | None = None
    ) -> TryOnResult:
        """Like :meth:`TryOnJob.wait`, without blocking the event loop."""
        self._followable()
        return await self._await(lambda: self._source.get_try_on(self.vto_id), timeout, on_progress)


class _JobsBase:
    def __init__(self, ledger: JobLedger, source: Any, base_url: str) -> None:
        self.ledger = ledger
        self._source = source
        self._base_url = base_url

    def _records(self, limit: int | None, all_servers: bool) -> list[JobRecord]:
        return self.ledger.list(base_url=None if all_servers else self._base_url, limit=limit)

    def batches(self) -> list[dict[str, Any]]:
        """This server's catalogue batches, newest first, with their items counted by state
        (``ev.resume_batch(client, name)`` continues one)."""
        return BatchBook(self.ledger, self._base_url).list()

    def _record(self, job_id: str) -> JobRecord:
        record = self.ledger.get(job_id, base_url=self._base_url)
        if record is None:
            raise KeyError(f"no job {job_id!r} in the ledger at {self.ledger.path}")
        return record


class Jobs(_JobsBase):
    """``client.jobs``: the ledger's jobs as waitable objects, for this client's server."""

    def list(
        self, *, limit: int | None = 100, all_servers: bool = False
    ) -> list[GenerationJob | TryOnJob]:
        """Jobs newest first; ``all_servers=True`` includes other base URLs (e.g. old sandboxes)."""
        return [self._job(r) for r in self._records(limit, all_servers)]

    def get(self, job_id: str) -> GenerationJob | TryOnJob:
        """The job with this ledger id, product id or try-on id.

        Raises:
            KeyError: no such job in the ledger.
        """
        return self._job(self._record(job_id))

    def _job(self, record: JobRecord) -> GenerationJob | TryOnJob:
        cls = GenerationJob if record.kind == "generate" else TryOnJob
        return cls(record, self._source, ledger=self.ledger)


class AsyncJobs(_JobsBase):
    """``aclient.jobs``: like :class:`Jobs`, with async jobs."""

    def list(
        self, *, limit: int | None = 100, all_servers: bool = False
    ) -> list[AsyncGenerationJob | AsyncTryOnJob]:
        """Jobs newest first."""
        return [self._job(r) for r in self._records(limit, all_servers)]

    def get(self, job_id: str) -> AsyncGenerationJob | AsyncTryOnJob:
        """The job with this ledger id, product id or try-on id."""
        return self._job(self._record(job_id))

    def _job(self, record: JobRecord) -> AsyncGenerationJob | AsyncTryOnJob:
        cls = AsyncGenerationJob if record.kind == "generate" else AsyncTryOnJob
        return cls(record, self._source, ledger=self.ledger)
