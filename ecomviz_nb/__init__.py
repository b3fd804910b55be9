"""ecomviz_nb: a Jupyter toolkit for the EcomViz image-generation API.

>>> import ecomviz_nb as ev
>>> client = ev.Client()                      # token from $ECOMVIZ_API_TOKEN
>>> product = client.create_product(["https://example.com/shirt.jpg"])
>>> job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=2)]))
>>> product = job.wait(on_progress=ev.print_progress)
"""

import importlib
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

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncGenerationJob",
    "AsyncTryOnJob",
    "AuthenticationError",
    "Client",
    "Clothing",
    "EcomVizError",
    "EcomVizWarning",
    "GenerateRequest",
    "GeneratedImage",
    "GenerationJob",
    "ImageSpec",
    "JobError",
    "JobFailedError",
    "JobLedger",
    "JobTimeoutError",
    "NotFoundError",
    "Product",
    "ProgressEvent",
    "RateLimitError",
    "Sandbox",
    "ServerError",
    "TryOnJob",
    "TryOnRequest",
    "TryOnResult",
    "ValidationError",
    "Webhook",
    "__version__",
    "connect",
    "poll_delay",
    "print_progress",
]

if TYPE_CHECKING:
    from .local import Sandbox, connect

# The sandbox pulls in FastAPI, uvicorn and Pillow: load it only when it is asked for.
_LAZY = {"Sandbox": "local", "connect": "local"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *(name for name in globals() if name.startswith("_"))})
