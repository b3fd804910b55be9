"""ecomviz_nb: a Jupyter toolkit for the EcomViz image-generation API.

>>> import ecomviz_nb as ev
>>> client = ev.Client()                      # token from $ECOMVIZ_API_TOKEN
>>> product = client.create_product(["https://example.com/shirt.jpg"])
>>> job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=2)]))
>>> product = job.wait(on_progress=ev.print_progress)
"""

from __future__ import annotations

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
    "ServerError",
    "TryOnJob",
    "TryOnRequest",
    "TryOnResult",
    "ValidationError",
    "Webhook",
    "__version__",
    "poll_delay",
    "print_progress",
]
