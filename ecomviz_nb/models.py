"""The API's wire models and input rules under one import, and the job-kind vocabulary.

Requests (:class:`GenerateRequest`, :class:`TryOnRequest` and their parts) live in
:mod:`ecomviz_nb.wire_requests` and validate themselves when built, by the rules of
:mod:`ecomviz_nb.wire_rules` (the home of :class:`Webhook` too); answers (:class:`Product`,
:class:`GeneratedImage`, :class:`TryOnResult`) live in :mod:`ecomviz_nb.wire_results`.
``from ecomviz_nb.models import X`` reaches all of them.
"""

from __future__ import annotations

from typing import Literal, TypeGuard

from .wire_requests import (
    Clothing,
    CreateProductRequest,
    GenerateRequest,
    ImageSpec,
    TryOnRequest,
)
from .wire_results import (
    TERMINAL_FAILED_STATUSES,
    GeneratedImage,
    Product,
    TryOnResult,
)
from .wire_results import parse_time as parse_time
from .wire_results import resolve_url as resolve_url
from .wire_rules import (
    GENERATE_IMAGE_TYPES,
    HEIGHT_RANGE_CM,
    IMAGE_TYPES,
    RECOMMENDED_ASPECT_RATIOS,
    VTO_ASPECT_RATIOS,
    WEIGHT_RANGE_KG,
    Webhook,
    check_id,
    check_webhook_reachable,
)

__all__ = [
    "GENERATE_IMAGE_TYPES",
    "HEIGHT_RANGE_CM",
    "IMAGE_TYPES",
    "JOB_KINDS",
    "RECOMMENDED_ASPECT_RATIOS",
    "TERMINAL_FAILED_STATUSES",
    "VTO_ASPECT_RATIOS",
    "WEIGHT_RANGE_KG",
    "Clothing",
    "CreateProductRequest",
    "GenerateRequest",
    "GeneratedImage",
    "ImageSpec",
    "JobKind",
    "Product",
    "TryOnRequest",
    "TryOnResult",
    "Webhook",
    "check_id",
    "check_webhook_reachable",
    "is_job_kind",
]

JobKind = Literal["generate", "tryon"]
"""What a job, a ledger row, a sweep or a plan does: ``generate`` product images, or a virtual
``tryon``. People read "generation" and "try-on"; code, the ledger and the sandbox use these."""
JOB_KINDS: tuple[JobKind, ...] = ("generate", "tryon")
"""Every :data:`JobKind`, in the order the ledger's schema lists them."""


def is_job_kind(value: object) -> TypeGuard[JobKind]:
    """Whether ``value`` is one of :data:`JOB_KINDS`."""
    return value in JOB_KINDS
