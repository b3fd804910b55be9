"""``ev.batch`` and ``ev.resume_batch``: one request over a whole catalogue, resumable.

Every item's progress is written to the job ledger under the batch's name before and after
each paid request, so running the same batch again (after a kernel restart, in another process)
continues it: finished items are not redone, submitted jobs are waited on, and an item whose
paid request's answer was lost is reported as ``unknown``, never sent again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..batch_ledger import BatchBook, ItemRow
from ..errors import (
    APIConnectionError,
    APIError,
    EcomVizError,
    JobFailedError,
    JobTimeoutError,
    ValidationError,
    describe,
)
from ..ledger import scrub_request
from ..models import GenerateRequest, check_webhook_reachable
from .batch_result import BatchItem, BatchResult
from .items import read_items
from .limiter import AdaptiveLimiter
from .sweeps import run_sync

__all__ = ["batch", "batch_async", "resume_batch", "resume_batch_async"]

OnUpdate = Callable[[BatchResult], Any]
_TERMINAL = ("completed", "failed", "unknown")


def _lost(exc: BaseException) -> bool:
    """Whether a failed paid request may have started the work anyway."""
    if isinstance(exc, APIConnectionError):
        return exc.maybe_sent
    return isinstance(exc, APIError) and exc.status_code >= 500


class _BatchEngine:
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
        if state in _TERMINAL:
            self.result.finished_here += 1
        if self.on_update is not None:
            self.on_update(self.result)

    async def run(self) -> BatchResult:
        todo: asyncio.Queue[BatchItem] = asyncio.Queue()
        for item in self.result.items:
            if item.state not in _TERMINAL:
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


# ---------------------------------------------------------------- entry points


def _check_concurrency(concurrency: Any) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency", concurrency, "a whole number >= 1")


def _request(request: Any) -> GenerateRequest:
    if isinstance(request, Mapping):
        return GenerateRequest.from_wire(request)
    if not isinstance(request, GenerateRequest):
        raise ValidationError("request", request, "an ev.GenerateRequest or its JSON")
    return request


def _rows(specs: list[Any]) -> list[ItemRow]:
    return [
        ItemRow(
            i,
            spec.label,
            "failed" if spec.error else ("created" if spec.product_id else "pending"),
            product_id=spec.product_id,
            image_urls=spec.image_urls,
            error=spec.error,
        )
        for i, spec in enumerate(specs)
    ]


def _open(client: Any, items: Any, request: Any, name: str | None) -> tuple[BatchBook, BatchResult]:
    """Load the named batch, or check and write a new one; nothing is sent."""
    book = BatchBook(client.ledger, client.base_url)
    if items is None:  # resume
        assert name is not None
        found = book.load(name)
        if found is None:
            raise ValidationError("name", name, "the name of a batch in this server's ledger")
        wire, rows = found
        req = GenerateRequest.from_wire(wire)
    else:
        req = _request(request)
        check_webhook_reachable(req.webhook, client.base_url)  # before any product is made
        # Two unnamed batches in one second must not meet: a short random tail.
        name = name or f"batch-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
        new_rows = _rows(read_items(items))
        wire = scrub_request(req.to_wire())
        found = book.load(name)
        if found is None:
            book.create(name, wire, new_rows)
            rows = new_rows
        else:
            old_wire, rows = found
            # Products created by the batch fill product_id in: compare what the rows asked.
            same = old_wire == wire and [(r.label, r.image_urls) for r in rows] == [
                (r.label, r.image_urls) for r in new_rows
            ]
            same = same and all(
                new.product_id in (None, old.product_id)
                for old, new in zip(rows, new_rows, strict=True)
            )
            if not same:
                raise ValidationError(
                    "name",
                    name,
                    "a new name: a batch of that name with other items or another request is "
                    f"in the ledger (ev.resume_batch(client, {name!r}) continues it)",
                )
    return book, BatchResult(name, req, [BatchItem(row) for row in rows])


async def _run(
    client: Any,
    items: Any,
    request: Any,
    *,
    name: str | None,
    concurrency: int,
    timeout: float,
    on_update: OnUpdate | None,
    control: asyncio.Event | None = None,
    prepared: tuple[BatchBook, BatchResult] | None = None,
) -> BatchResult:
    _check_concurrency(concurrency)
    owned = not hasattr(client, "aclose")
    aclient = client.to_async() if owned else client
    if owned:
        aclient.max_retries = max(aclient.max_retries, 4)  # ride out 429s as one batch
    book, result = prepared or _open(aclient, items, request, name)
    previous = aclient.limiter
    aclient.limiter = previous or AdaptiveLimiter(concurrency)
    try:
        engine = _BatchEngine(
            aclient,
            book,
            result,
            concurrency=concurrency,
            timeout=timeout,
            on_update=on_update,
            control=control,
        )
        return await engine.run()
    finally:
        aclient.limiter = previous
        if owned:
            await aclient.aclose()


async def batch_async(
    client: Any,
    items: Any,
    request: GenerateRequest | Mapping[str, Any],
    *,
    name: str | None = None,
    concurrency: int = 16,
    timeout: float = 600,
    on_update: OnUpdate | None = None,
    control: asyncio.Event | None = None,
) -> BatchResult:
    """The awaitable :func:`batch`; ``control`` (an asyncio.Event) pauses it while cleared."""
    return await _run(
        client,
        items,
        request,
        name=name,
        concurrency=concurrency,
        timeout=timeout,
        on_update=on_update,
        control=control,
    )


async def resume_batch_async(
    client: Any,
    name: str,
    *,
    concurrency: int = 16,
    timeout: float = 600,
    on_update: OnUpdate | None = None,
    control: asyncio.Event | None = None,
) -> BatchResult:
    """The awaitable :func:`resume_batch`."""
    return await _run(
        client,
        None,
        None,
        name=name,
        concurrency=concurrency,
        timeout=timeout,
        on_update=on_update,
        control=control,
    )


def batch(
    client: Any,
    items: Any,
    request: GenerateRequest | Mapping[str, Any],
    *,
    name: str | None = None,
    concurrency: int = 16,
    timeout: float = 600,
    progress: bool | OnUpdate = True,
) -> BatchResult:
    """Generate ``request`` for every item of a catalogue; resumable by ``name``.

    Items without a product are created first. A failed item keeps its reason and the batch
    goes on; on a 429 the whole batch slows down (fewer requests at once, a pause for the
    server's ``Retry-After``) and speeds up again later. Running the same batch again, or
    :func:`resume_batch`, continues it from the ledger.

    Args:
        client: an ``ev.Client`` or ``ev.AsyncClient``.
        items: a list of dicts, a CSV path or a pandas DataFrame, with ``product_id`` or
            ``image_urls`` (several split by ``|``) and optionally ``label``. A bad row fails
            with its reason; the good rows run.
        request: the generate request every item gets.
        name: the batch's name in the ledger (default: ``batch-<date>-<time>-<4 hex>``).
        concurrency: items worked on at once.
        timeout: seconds each item's job may take.
        progress: True shows counts, items per minute and an ETA (a widget in Jupyter, one
            updating line elsewhere); False nothing; a callable gets the result as it changes.

    Returns:
        A :class:`BatchResult`.

    Raises:
        ValidationError: the request, the items as a whole, or a name already used for another
            batch; nothing was sent.
    """
    _check_concurrency(concurrency)
    prepared = _open(client, items, request, name)
    return _sync(client, prepared, concurrency, timeout, progress)


def resume_batch(
    client: Any,
    name: str,
    *,
    concurrency: int = 16,
    timeout: float = 600,
    progress: bool | OnUpdate = True,
) -> BatchResult:
    """Continue the batch ``name`` from the ledger (see :func:`batch`)."""
    _check_concurrency(concurrency)
    prepared = _open(client, None, None, name)
    return _sync(client, prepared, concurrency, timeout, progress)


def _sync(
    client: Any,
    prepared: tuple[BatchBook, BatchResult],
    concurrency: int,
    timeout: float,
    progress: bool | OnUpdate,
) -> BatchResult:
    from .progress import batch_progress_view

    view = batch_progress_view(prepared[1]) if progress is True else None
    callback = view.update if view is not None else (progress if callable(progress) else None)
    result: BatchResult = run_sync(
        lambda: _run(
            client,
            None,
            None,
            name=None,
            concurrency=concurrency,
            timeout=timeout,
            on_update=callback,
            prepared=prepared,
        )
    )
    if view is not None:
        view.close(result)
    return result
