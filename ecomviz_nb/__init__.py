"""ecomviz_nb: a Jupyter toolkit for the EcomViz image-generation API.

>>> import ecomviz_nb as ev
>>> client = ev.Client()                      # token from $ECOMVIZ_API_TOKEN
>>> product = client.create_product(["https://example.com/shirt.jpg"])
>>> job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=2)]))
>>> product = job.wait(on_progress=ev.print_progress)
"""

import importlib
import sys
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .client import AsyncClient, Client
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
from .runs import (
    AdaptiveLimiter,
    BatchItem,
    BatchResult,
    SweepPlan,
    SweepResult,
    SweepRun,
    batch,
    batch_async,
    resume_batch,
    resume_batch_async,
    sweep,
    sweep_async,
    sweep_try_on,
    sweep_try_on_async,
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
    "Sandbox",
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
    "image_card",
    "job_card",
    "poll_delay",
    "print_progress",
    "product_card",
    "resume_batch",
    "resume_batch_async",
    "show_images",
    "sweep",
    "sweep_async",
    "sweep_try_on",
    "sweep_try_on_async",
    "try_on_card",
]

if TYPE_CHECKING:
    from .cards import image_card, job_card, product_card, try_on_card
    from .comparison import compare, compare_product, compare_slider
    from .display import show_images
    from .inbox import WebhookInbox
    from .local import Sandbox, connect
    from .report import Report
    from .widgets import (
        BatchPanel,
        ConnectPanel,
        GeneratePanel,
        JobsPanel,
        ProductPanel,
        SweepPanel,
        TryOnPanel,
    )

# These pull in FastAPI, uvicorn, Pillow or ipywidgets: each loads when first asked for, so a
# script that only uses the client never imports them.
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
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *(name for name in globals() if name.startswith("_"))})


def _register_formatters() -> None:
    """In IPython, show products, images, try-ons and jobs as cards (a bare ``product`` shows
    its pictures). Outside IPython nothing is imported."""
    if "IPython" not in sys.modules:
        return
    from .cards import register_formatters

    register_formatters()


_register_formatters()
