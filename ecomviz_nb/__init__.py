"""ecomviz_nb: a Jupyter toolkit for the EcomViz image-generation API.

>>> import ecomviz_nb as ev
>>> client = ev.Client()                      # token from $ECOMVIZ_API_TOKEN
>>> product = client.create_product(["https://example.com/shirt.jpg"])
>>> job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=2)]))
>>> product = job.wait(on_progress=ev.print_progress)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    EcomVizError,
    EcomVizWarning,
    JobError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    QueueTimeoutError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from .models import (
    Clothing,
    GeneratedImage,
    GenerateRequest,
    ImageSpec,
    Product,
    TryOnRequest,
    TryOnResult,
    Webhook,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AdaptiveLimiter",
    "AsyncClient",
    "AsyncGenerationJob",
    "AsyncTryOnJob",
    "AuthenticationError",
    "BatchItem",
    "BatchPanel",
    "BatchResult",
    "Client",
    "Clothing",
    "ConnectPanel",
    "EcomVizError",
    "EcomVizWarning",
    "GeneratePanel",
    "GenerateRequest",
    "GeneratedImage",
    "GenerationJob",
    "HistoryRun",
    "HistoryStrip",
    "ImageSpec",
    "JobError",
    "JobFailedError",
    "JobLedger",
    "JobTimeoutError",
    "JobsPanel",
    "NotFoundError",
    "Product",
    "ProductPanel",
    "ProgressEvent",
    "QueueTimeoutError",
    "RateLimitError",
    "Report",
    "RunComparison",
    "RunHistory",
    "Sandbox",
    "SandboxNotInstalled",
    "ServerError",
    "SweepPanel",
    "SweepPlan",
    "SweepResult",
    "SweepRun",
    "TryOnJob",
    "TryOnPanel",
    "TryOnRequest",
    "TryOnResult",
    "ValidationError",
    "Webhook",
    "WebhookInbox",
    "__version__",
    "batch",
    "batch_async",
    "compare",
    "compare_product",
    "compare_slider",
    "connect",
    "export_notebook",
    "image_card",
    "job_card",
    "poll_delay",
    "print_progress",
    "product_card",
    "resume_batch",
    "resume_batch_async",
    "sample_images",
    "show_images",
    "sweep",
    "sweep_async",
    "sweep_try_on",
    "sweep_try_on_async",
    "try_on_card",
]

if TYPE_CHECKING:
    from .cards import image_card, job_card, product_card, try_on_card
    from .client import AsyncClient, Client
    from .comparison import compare, compare_product, compare_slider
    from .display import show_images
    from .export import export_notebook
    from .inbox import WebhookInbox
    from .jobs import (
        AsyncGenerationJob,
        AsyncTryOnJob,
        GenerationJob,
        ProgressEvent,
        TryOnJob,
        poll_delay,
        print_progress,
    )
    from .ledger import JobLedger
    from .local import Sandbox, connect
    from .report import Report
    from .runs import (
        AdaptiveLimiter,
        BatchItem,
        BatchResult,
        HistoryRun,
        RunComparison,
        RunHistory,
        SweepPlan,
        SweepResult,
        SweepRun,
        sweep,
        sweep_async,
        sweep_try_on,
        sweep_try_on_async,
    )
    from .runs.batch import batch, batch_async, resume_batch, resume_batch_async
    from .samples import sample_images
    from .sandbox import SandboxNotInstalled
    from .widgets import (
        BatchPanel,
        ConnectPanel,
        GeneratePanel,
        HistoryStrip,
        JobsPanel,
        ProductPanel,
        SweepPanel,
        TryOnPanel,
    )

# Each loads when first asked for: a script that only uses the client never imports FastAPI,
# Pillow or ipywidgets, and `import ecomviz_nb.sandbox` never loads the client, jobs or ledger.
_LAZY = {
    "Sandbox": "local",
    "connect": "local",
    "show_images": "display",
    "Report": "report",
    "compare": "comparison",
    "compare_product": "comparison",
    "compare_slider": "comparison",
    "product_card": "cards",
    "image_card": "cards",
    "try_on_card": "cards",
    "job_card": "cards",
    "ConnectPanel": "widgets",
    "ProductPanel": "widgets",
    "GeneratePanel": "widgets",
    "TryOnPanel": "widgets",
    "JobsPanel": "widgets",
    "SweepPanel": "widgets",
    "WebhookInbox": "inbox",
    "BatchPanel": "widgets",
    "HistoryStrip": "widgets",
    "sample_images": "samples",
    "export_notebook": "export",
    "AsyncClient": "client",
    "Client": "client",
    "AsyncGenerationJob": "jobs",
    "AsyncTryOnJob": "jobs",
    "GenerationJob": "jobs",
    "ProgressEvent": "jobs",
    "TryOnJob": "jobs",
    "poll_delay": "jobs",
    "print_progress": "jobs",
    "JobLedger": "ledger",
    "AdaptiveLimiter": "runs",
    "BatchItem": "runs",
    "BatchResult": "runs",
    "HistoryRun": "runs",
    "RunComparison": "runs",
    "RunHistory": "runs",
    "SweepPlan": "runs",
    "SweepResult": "runs",
    "SweepRun": "runs",
    "batch": "runs",
    "batch_async": "runs",
    "resume_batch": "runs",
    "resume_batch_async": "runs",
    "sweep": "runs",
    "sweep_async": "runs",
    "sweep_try_on": "runs",
    "sweep_try_on_async": "runs",
    "SandboxNotInstalled": "sandbox",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *(name for name in globals() if name.startswith("_"))})
