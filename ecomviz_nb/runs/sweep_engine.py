"""How a sweep runs: the ticks, the shared snapshot, and which runs are in flight."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from ..attribution import RunKey
from ..errors import EcomVizError, RateLimitError, describe, is_transient
from ..jobs import poll_delay, retry_pause, retry_status
from ..models import GenerateRequest, Product
from .plan import SweepRun
from .result import SweepResult

__all__ = [
    "TICK_GROWTH",
    "TICK_INITIAL",
    "GenerateSweepEngine",
    "OnUpdate",
    "SweepEngine",
    "TryOnSweepEngine",
]

TICK_INITIAL = 0.25
"""The first pause between a sweep's polls (s); it grows by :data:`TICK_GROWTH` of the age."""
TICK_GROWTH = 0.05
OnUpdate = Callable[[SweepRun], Any]
"""Called with each run as it changes (a progress view's ``update``)."""


class SweepEngine:
    """Submits and watches the runs of one sweep on one event loop.

    A generate sweep reads its product once per tick and hands that one snapshot to every run
    in flight, so a sweep of twelve runs costs one GET per tick, not twelve. Runs whose images
    could mix take turns (:mod:`ecomviz_nb.scheduler`); the rest go at once, at most
    ``concurrency`` in flight. A run that fails records its reason and the others go on.
    """

    def __init__(
        self,
        client: Any,
        result: SweepResult,
        *,
        concurrency: int,
        timeout: float,
        on_update: OnUpdate | None,
    ) -> None:
        self.client = client
        self.result = result
        self.concurrency = concurrency
        self.timeout = timeout
        self.on_update = on_update
        self.queue = [r for r in result.runs if not r.finished]
        self.flying: list[SweepRun] = []
        self.posting: dict[asyncio.Task[Any], SweepRun] = {}
        self.retry_after: float | None = None
        self.started = time.monotonic()
        self.submitted_at: dict[int, float] = {}
        self.failures = 0

    # ---- bookkeeping

    def _set(self, run: SweepRun, state: str, status: str = "", error: str | None = None) -> None:
        run.state = state
        run.status = status or state
        if error is not None:
            run.error = error
        if self.on_update is not None:
            self.on_update(run)

    def _fail(self, run: SweepRun, why: str) -> None:
        self._set(run, "failed", "failed", why)

    # ---- the loop

    async def run(self) -> SweepResult:
        for run in self.queue:
            self._set(run, "queued")
        try:
            while self.queue or self.flying or self.posting:
                snapshot = await self._poll()
                if snapshot is not None:
                    self._observe(snapshot)
                    self._start(snapshot)
                if not (self.queue or self.flying or self.posting):
                    break
                await self._pause()
        finally:
            for task in self.posting:
                task.cancel()
        self.result.seconds = time.monotonic() - self.started
        return self.result

    async def _poll(self) -> Any:
        try:
            snapshot = await self._read()
        except EcomVizError as exc:
            if not is_transient(exc):
                for run in [*self.queue, *self.flying]:
                    self._fail(run, describe(exc))
                self.queue.clear()
                self.flying.clear()
                return None
            self.failures += 1
            self.retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
            for run in self.flying:
                run.status = retry_status(exc, self.failures)
                if self.on_update is not None:
                    self.on_update(run)
            self._expire()
            return None
        self.failures = 0
        return snapshot

    async def _pause(self) -> None:
        now = time.monotonic()
        ages = [now - self.submitted_at[id(run)] for run in self.flying]
        age = max(0.0, max(ages, default=0.0))  # the oldest run in flight sets the pace
        if self.failures:
            delay = retry_pause(self.failures, age, random.random(), self.retry_after)
        else:
            delay = poll_delay(age, random.random(), initial=TICK_INITIAL, growth=TICK_GROWTH)
        if self.posting:
            await asyncio.wait(set(self.posting), timeout=delay)
            self._collect()
        else:
            await asyncio.sleep(delay)

    def _expire(self) -> None:
        now = time.monotonic()
        for run in list(self.flying):
            if now - self.submitted_at[id(run)] > self.timeout:
                self.flying.remove(run)
                why = (
                    f"timed out after {self.timeout:g} s with {len(run.images)} of "
                    f"{run.expected} images; it may still finish: run.job.wait()"
                )
                run.job.give_up(why)  # it no longer holds its product's turn
                self._fail(run, why)
        for run in list(self.queue):
            if now - self.started > self.timeout:
                self.queue.remove(run)
                self._fail(run, f"did not get its turn within {self.timeout:g} s; not sent")

    def _collect(self) -> None:
        for task in [t for t in self.posting if t.done()]:
            run = self.posting.pop(task)
            exc = task.exception() if not task.cancelled() else asyncio.CancelledError()
            if exc is None and task.result() is None:  # someone else's run holds the turn
                self.queue.insert(0, run)
                self._set(run, "queued", "waiting for its turn")
            elif exc is None:
                run.job = task.result()
                self.submitted_at[id(run)] = time.monotonic()
                self.flying.append(run)
                self._set(run, "submitted", f"0 of {run.expected} images")
            else:
                run.job = getattr(exc, "job", None)
                if run.job is not None and isinstance(run.request, GenerateRequest):
                    # The answer was lost but the job may run: watch for its images anyway.
                    self.submitted_at[id(run)] = time.monotonic()
                    self.flying.append(run)
                    self._set(run, "submitted", "answer lost; watching for its images")
                else:
                    self._fail(run, describe(exc))

    # ---- what differs between generate and try-on sweeps

    async def _read(self) -> Any:
        raise NotImplementedError

    def _observe(self, snapshot: Any) -> None:
        raise NotImplementedError

    def _start(self, snapshot: Any) -> None:
        raise NotImplementedError

    def _progress(self, run: SweepRun, done: int, images: list[Any], status: str) -> None:
        changed = done != run.done or status != run.status
        run.done, run.images = done, images
        if status == "completed":
            self.flying.remove(run)
            self._set(run, "completed", f"{done} of {run.expected} images")
        elif changed:
            self._set(run, "running" if done else run.state, status)


def _key(run: SweepRun) -> RunKey:
    assert isinstance(run.request, GenerateRequest)
    return RunKey.of(run.request)


class GenerateSweepEngine(SweepEngine):
    """A generate sweep: one product read per tick serves every run in flight."""

    async def _read(self) -> Product:
        product: Product = await self.client.get_product(self.result.product_id)
        self.result.product = product
        return product

    def _observe(self, snapshot: Product) -> None:
        for run in list(self.flying):
            event, finished, _ = run.job.observe(snapshot)
            status = "completed" if finished else f"{event.done} of {run.expected} images"
            self._progress(run, event.done, list(run.job.images), status)
        self._expire()

    def _start(self, snapshot: Product) -> None:
        busy = [_key(r) for r in (*self.flying, *self.posting.values())]
        for run in list(self.queue):
            if len(self.flying) + len(self.posting) >= self.concurrency:
                break
            key = _key(run)
            if any(key.overlaps(k) for k in busy):
                continue
            self.queue.remove(run)
            busy.append(key)
            task = asyncio.ensure_future(self.client.try_generate(snapshot, run.request))
            self.posting[task] = run
            self._set(run, "queued", "submitting")


class TryOnSweepEngine(SweepEngine):
    """A try-on sweep: each run in flight reads its own try-on per tick."""

    async def _read(self) -> list[Any]:
        async def one(run: SweepRun) -> Any:
            try:
                return await self.client.get_try_on(run.job.vto_id)
            except EcomVizError as exc:
                return exc

        return list(await asyncio.gather(*(one(r) for r in self.flying)))

    def _observe(self, snapshots: list[Any]) -> None:
        for run, snapshot in zip(list(self.flying), snapshots, strict=True):
            if isinstance(snapshot, BaseException):
                if not is_transient(snapshot):
                    self.flying.remove(run)
                    self._fail(run, describe(snapshot))
                continue
            _, finished, error = run.job.observe(snapshot)
            if error is not None:
                self.flying.remove(run)
                self._fail(run, f"the try-on ended with status {snapshot.status!r}")
                continue
            status = "completed" if finished else snapshot.status
            self._progress(
                run, len(run.job.images) if finished else 0, list(run.job.images), status
            )
        self._expire()

    def _start(self, snapshot: Any) -> None:
        while self.queue and len(self.flying) + len(self.posting) < self.concurrency:
            run = self.queue.pop(0)
            self.posting[asyncio.ensure_future(self.client.try_on(run.request))] = run
            self._set(run, "queued", "submitting")
