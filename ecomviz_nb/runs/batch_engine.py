"""How a batch runs: each item created, submitted and waited on, its state saved at every step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ..batch_ledger import BatchBook
from ..errors import (
    APIConnectionError,
    APIError,
    EcomVizError,
    JobFailedError,
    JobTimeoutError,
    describe,
)
from ..ledger import scrub_request
from .batch_result import BatchItem, BatchResult

__all__ = ["TERMINAL", "BatchEngine", "OnUpdate"]

OnUpdate = Callable[[BatchResult], Any]
"""Called with the whole result as any item changes (a progress view's ``update``)."""
TERMINAL = ("completed", "failed", "unknown")
"""The item states a batch does not work on again."""


def _lost(exc: BaseException) -> bool:
    """Whether a failed paid request may have started the work anyway."""
    if isinstance(exc, APIConnectionError):
        return exc.maybe_sent
    return isinstance(exc, APIError) and exc.status_code >= 500


class BatchEngine:
    """Works through one batch's unfinished items, ``concurrency`` at a time, on one loop.

    Each item's state is saved to the ledger before and after every paid request, so a later
    run of the same batch can tell what was sent; a crash mid-request is recovered from the
    job ledger (:meth:`_recover`), never by sending again.
    """

    def __init__(
        self,
        client: Any,
        book: BatchBook,
        result: BatchResult,
        *,
        concurrency: int,
        timeout: float,
        on_update: OnUpdate | None,
        control: asyncio.Event | None,
    ) -> None:
        self.client = client
        self.book = book
        self.result = result
        self.concurrency = concurrency
        self.timeout = timeout
        self.on_update = on_update
        self.control = control

    def _save(self, item: BatchItem, state: str, error: str | None = None) -> None:
        item.row.state = state
        if error is not None:
            item.row.error = error
        item.row.images = len(item.images)
        self.book.save(self.result.name, item.row)
        if state in TERMINAL:
            self.result.finished_here += 1
        if self.on_update is not None:
            self.on_update(self.result)

    async def run(self) -> BatchResult:
        todo: asyncio.Queue[BatchItem] = asyncio.Queue()
        for item in self.result.items:
            if item.state not in TERMINAL:
                todo.put_nowait(item)
        workers = [
            asyncio.ensure_future(self._worker(todo))
            for _ in range(min(self.concurrency, todo.qsize()))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
        await self._load_earlier()
        self.result.seconds = time.monotonic() - self.result.started
        if self.on_update is not None:
            self.on_update(self.result)
        return self.result

    async def _worker(self, todo: asyncio.Queue[BatchItem]) -> None:
        while not todo.empty():
            if self.control is not None:
                await self.control.wait()  # cleared while paused
            try:
                item = todo.get_nowait()
            except asyncio.QueueEmpty:  # another worker took the last one during a pause
                return
            item.busy = True
            try:
                await self._advance(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one item's surprise must not stop the batch
                self._save(item, "failed", f"{type(exc).__name__}: {exc}")
            finally:
                item.busy = False
            if self.on_update is not None:
                self.on_update(self.result)

    async def _advance(self, item: BatchItem) -> None:
        row = item.row
        if row.state == "creating":
            self._save(item, "unknown", "the product may have been created: its answer was lost")
            return
        if row.state == "submitting" and not self._recover(item):
            return
        if row.state == "pending":
            self._save(item, "creating")
            try:
                item.product = await self.client.create_product(row.image_urls)
            except (APIError, APIConnectionError) as exc:
                lost = _lost(exc)
                self._save(
                    item, "unknown" if lost else "failed", "create product: " + describe(exc)
                )
                return
            row.product_id = item.product.id
            self._save(item, "created")
        if row.state == "created":
            await self._submit(item)
        if row.state == "submitted":
            await self._wait(item)

    def _recover(self, item: BatchItem) -> bool:
        """A crash between the job's ledger row and the item's: find the job again.

        The item's row is saved ``submitting`` before its job is written, on the same clock,
        so its job is the first one on its product written after that, with the batch's
        request, that no other item of the batch holds.
        """
        row = item.row
        held = {other.row.job_id for other in self.result.items if other is not item}
        wire = scrub_request(self.result.request.to_wire())
        mine = [
            record
            for record in self.client.ledger.for_remote(
                row.product_id or "", base_url=self.client.base_url
            )
            if record.submitted_at >= row.updated_at
            and record.id not in held
            and record.request == wire
        ]
        if not mine:
            row.state = "created"  # its generate request was never written, so never sent
            return True
        record = mine[0]
        if record.state in ("submitted", "completed"):
            row.job_id = record.id
            self._save(item, "submitted")
            return True
        if record.state == "rejected":
            row.state = "created"
            return True
        row.job_id = record.id
        why = "the generate request's answer was lost"
        if record.state == "submitting":  # its sender died mid-request: say so in its row too
            self.client.ledger.update(record.id, state="unknown", message=why)
        self._save(item, "unknown", why)
        return False

    async def _submit(self, item: BatchItem) -> None:
        row = item.row
        try:
            product = item.product
            if product is None:
                product = item.product = await self.client.get_product(row.product_id)
            self._save(item, "submitting")
            job = await self.client.try_generate(product, self.result.request)
            if job is None:  # another run on this product holds the turn
                job = await self.client.generate(
                    product.id, self.result.request, queue_timeout=self.timeout
                )
        except (APIError, APIConnectionError) as exc:
            found = getattr(exc, "job", None)
            if found is not None:
                item.job, row.job_id = found, found.id
            state = "unknown" if found is not None else "failed"
            self._save(item, state, "generate: " + describe(exc))
            return
        except EcomVizError as exc:  # a queue timeout
            self._save(item, "failed", "generate: " + describe(exc))
            return
        item.job, row.job_id = job, job.id
        self._save(item, "submitted")

    async def _wait(self, item: BatchItem) -> None:
        row = item.row
        if item.job is None:
            item.job = self.client.jobs.get(row.job_id)
        try:
            item.product = await item.job.wait(timeout=self.timeout)
        except JobTimeoutError as exc:
            item.images = list(exc.images)
            item.job.give_up(str(exc))
            self._save(item, "failed", f"timed out after {self.timeout:g} s")
            return
        except (JobFailedError, APIError, APIConnectionError) as exc:
            self._save(item, "failed", describe(exc))
            return
        item.images = list(item.job.images)
        self._save(item, "completed")

    async def _load_earlier(self) -> None:
        """Images of items completed in an earlier session (one product read each)."""
        missing = [i for i in self.result.items if i.state == "completed" and not i.images]

        async def one(item: BatchItem) -> None:
            try:
                job = self.client.jobs.get(item.row.job_id)
                job.observe(await self.client.get_product(job.product_id))
                item.images = list(job.images)
            except (EcomVizError, KeyError):
                pass

        for start in range(0, len(missing), self.concurrency):
            await asyncio.gather(*(one(i) for i in missing[start : start + self.concurrency]))
