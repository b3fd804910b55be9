"""``ev.sweep`` and ``ev.sweep_try_on``: many runs of one request, submitted and watched together.

The runs are planned and checked here, then handed to the engine of
:mod:`ecomviz_nb.runs.sweep_engine`, which submits and watches them on one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import ValidationError
from ..models import GenerateRequest, Product, TryOnRequest, check_webhook_reachable
from .plan import SweepRun, plan_generate, plan_try_on
from .result import SweepPlan, SweepResult
from .sweep_engine import TICK_GROWTH as TICK_GROWTH  # the benchmark reads the pace here
from .sweep_engine import TICK_INITIAL as TICK_INITIAL
from .sweep_engine import GenerateSweepEngine, OnUpdate, TryOnSweepEngine

__all__ = [
    "resume_async",
    "run_sync",
    "run_with_progress",
    "sweep",
    "sweep_async",
    "sweep_try_on",
    "sweep_try_on_async",
]


@contextlib.asynccontextmanager
async def _async_client(client: Any) -> Any:
    """``client`` if it is async; else its async twin, closed afterwards."""
    if hasattr(client, "aclose"):
        yield client
        return
    twin = client.to_async()
    try:
        yield twin
    finally:
        await twin.aclose()


def _check_concurrency(concurrency: Any) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency", concurrency, "a whole number >= 1")
    return concurrency


def _generate_result(
    product: Product | str,
    runs: list[SweepRun],
    vary: Mapping[str, Any],
    sources: Sequence[str] | None,
) -> SweepResult:
    pid = product.id if isinstance(product, Product) else str(product)
    result = SweepResult("generate", runs, dict(vary), product_id=pid)
    result.source_urls = list(sources or [])
    if isinstance(product, Product):
        result.product = product
    return result


async def resume_async(
    client: Any,
    result: SweepResult,
    *,
    concurrency: int = 8,
    timeout: float = 600,
    on_update: OnUpdate | None = None,
) -> SweepResult:
    """Send and watch the unfinished runs of ``result`` (used by sweeps and reruns)."""
    _check_concurrency(concurrency)
    if client is None:
        raise ValidationError("client", client, "an ev.Client or ev.AsyncClient")
    if result.client is None:
        result.client = client
    for run in result.runs:  # before anything is read or sent
        check_webhook_reachable(run.request.webhook, client.base_url)
    engine_cls = GenerateSweepEngine if result.kind == "generate" else TryOnSweepEngine
    async with _async_client(client) as aclient:
        engine = engine_cls(
            aclient, result, concurrency=concurrency, timeout=timeout, on_update=on_update
        )
        return await engine.run()


async def sweep_async(
    client: Any,
    product: Product | str,
    base_request: GenerateRequest,
    *,
    vary: Mapping[str, Any],
    concurrency: int = 8,
    timeout: float = 600,
    dry_run: bool = False,
    sources: Sequence[str] | None = None,
    on_update: OnUpdate | None = None,
) -> SweepResult | SweepPlan:
    """The awaitable :func:`sweep`, for a running event loop (widgets, top-level ``await``)."""
    runs = plan_generate(base_request, vary)
    _check_concurrency(concurrency)
    if dry_run:
        return SweepPlan("generate", runs, dict(vary))
    result = _generate_result(product, runs, vary, sources)
    return await resume_async(
        client, result, concurrency=concurrency, timeout=timeout, on_update=on_update
    )


async def sweep_try_on_async(
    client: Any,
    base_request: TryOnRequest,
    *,
    vary: Mapping[str, Any],
    concurrency: int = 8,
    timeout: float = 600,
    dry_run: bool = False,
    on_update: OnUpdate | None = None,
) -> SweepResult | SweepPlan:
    """The awaitable :func:`sweep_try_on`."""
    runs = plan_try_on(base_request, vary)
    _check_concurrency(concurrency)
    if dry_run:
        return SweepPlan("tryon", runs, dict(vary))
    result = SweepResult("tryon", runs, dict(vary))
    return await resume_async(
        client, result, concurrency=concurrency, timeout=timeout, on_update=on_update
    )


def run_sync(work: Callable[[], Any]) -> Any:
    """Run a coroutine factory to the end from sync code, even under a running loop (Jupyter).

    With no loop in this thread, ``asyncio.run``; under one (a notebook cell), a helper thread
    with its own loop, joined. Never patches the running loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(work())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="ecomviz-sweep", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def sweep(
    client: Any,
    product: Product | str,
    base_request: GenerateRequest,
    *,
    vary: Mapping[str, Any],
    concurrency: int = 8,
    timeout: float = 600,
    dry_run: bool = False,
    sources: Sequence[str] | None = None,
    progress: bool | OnUpdate = True,
) -> SweepResult | SweepPlan:
    """Generate every combination of ``vary`` for one product and compare them.

    Every combination is validated and counted before anything is sent: the plan says how many
    runs and images it will create (``dry_run=True`` returns just that plan). Runs whose images
    could be mixed up (same platform, region and a shared type or colour) go one after another;
    the others go at once, at most ``concurrency`` in flight. A failed run records its reason;
    the others go on.

    Args:
        client: an ``ev.Client`` or ``ev.AsyncClient``.
        product: the product, or its id.
        base_request: what every run asks for, before the varied fields are applied.
        vary: field -> list of values; fields: platform, region, aspect_ratio (applied to every
            main/detail/facebook entry), language, image_type (a type name, an ImageSpec or a
            list of them), remove_brand_logo, change_portrait.
        concurrency: runs in flight at most.
        timeout: seconds each run may take after it was submitted (and that a run may wait
            for its turn).
        sources: the product's source image URLs, shown in the matrix's first column (the
            API does not send them back).
        progress: True shows a bar and a line per run (a widget in Jupyter, text elsewhere);
            False nothing; a callable gets each :class:`SweepRun` as it changes.

    Returns:
        A :class:`SweepResult` (or the :class:`SweepPlan` with ``dry_run=True``).

    Raises:
        ValidationError: a combination the API refuses, an unknown field; nothing was sent.
    """
    runs = plan_generate(base_request, vary)
    _check_concurrency(concurrency)
    if dry_run:
        return SweepPlan("generate", runs, dict(vary))
    result = _generate_result(product, runs, vary, sources)
    return run_with_progress(client, result, progress, concurrency, timeout)


def sweep_try_on(
    client: Any,
    base_request: TryOnRequest,
    *,
    vary: Mapping[str, Any],
    concurrency: int = 8,
    timeout: float = 600,
    dry_run: bool = False,
    progress: bool | OnUpdate = True,
) -> SweepResult | SweepPlan:
    """Try on every combination of ``vary`` (height, weight, aspect_ratio, clothing, watermark,
    person_image_url); see :func:`sweep` for the rest. Try-ons never mix, so all may go at once.
    """
    runs = plan_try_on(base_request, vary)
    _check_concurrency(concurrency)
    if dry_run:
        return SweepPlan("tryon", runs, dict(vary))
    result = SweepResult("tryon", runs, dict(vary))
    return run_with_progress(client, result, progress, concurrency, timeout)


def run_with_progress(
    client: Any, result: SweepResult, progress: bool | OnUpdate, concurrency: int, timeout: float
) -> SweepResult:
    """Send and watch ``result``'s unfinished runs from sync code, showing the chosen progress."""
    from .progress import progress_view

    view = progress_view(result) if progress is True else None
    callback = view.update if view is not None else (progress if callable(progress) else None)
    done: SweepResult = run_sync(
        lambda: resume_async(
            client, result, concurrency=concurrency, timeout=timeout, on_update=callback
        )
    )
    if view is not None:
        view.close(done)
    return done
