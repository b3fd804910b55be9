"""``ev.batch`` and ``ev.resume_batch``: one request over a whole catalogue, resumable.

Every item's progress is written to the job ledger under the batch's name before and after
each paid request, so running the same batch again (after a kernel restart, in another process)
continues it: finished items are not redone, submitted jobs are waited on, and an item whose
paid request's answer was lost is reported as ``unknown``, never sent again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..batch_ledger import BatchBook, ItemRow
from ..errors import ValidationError
from ..ledger import scrub_request
from ..models import GenerateRequest, check_webhook_reachable
from .batch_engine import BatchEngine, OnUpdate
from .batch_result import BatchItem, BatchResult
from .items import read_items
from .limiter import AdaptiveLimiter
from .sweeps import run_sync

__all__ = ["batch", "batch_async", "resume_batch", "resume_batch_async"]


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
        engine = BatchEngine(
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
