"""The product routes of the reference: create a product from URLs, read it, generate images."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from .analysis import analyse
from .deps import API, Parts, PartsDep, fetch_decoded, new_id
from .errors import SandboxError
from .media import store_upload
from .render import PRODUCT_KINDS
from .schemas import CreateProductBody, GenerateBody
from .settings import HOSTILE_MARKUP
from .worker import now_iso

__all__ = ["router", "webhooks"]

router = APIRouter(prefix="/api/products", dependencies=API, tags=["products"])
"""``POST /api/products/url``, ``GET /api/products/{id}``, ``POST …/{id}/generate``."""

webhooks = APIRouter()
"""The product-generation webhook, for the OpenAPI document (``app.webhooks``)."""

_PUBLIC_FIELDS = ("_id", "productName", "generatedImages", "aiAnalysis", "colors", "createdAt")


class ProductWebhook(BaseModel):
    """Sent to ``webhook.url`` when a product generation ends."""

    productId: str
    status: str
    generatedImages: list[dict[str, Any]]


def _product_or_404(parts: Parts, product_id: str) -> dict[str, Any]:
    doc = parts.store.get_product(product_id)
    if doc is None:
        raise SandboxError(404, f"no product with id {product_id[:100]!r}")
    return doc


def _plan(request: dict[str, Any], first_color: str | None) -> list[dict[str, Any]]:
    """One step per image to render, in the order of the request's ``imageType`` entries."""
    plan: list[dict[str, Any]] = []
    for entry in request["imageType"]:
        if entry.get("vto") is not None:
            for i, color in enumerate(entry["vto"]):
                step = {"type": "vto", "aspect": entry.get("aspectRatio"), "color": color}
                plan.append({**step, "index": i})
            continue
        kind = next(k for k in PRODUCT_KINDS if entry.get(k) is not None)
        for i in range(entry[kind]):
            step = {"type": kind, "aspect": entry["aspectRatio"], "color": first_color}
            plan.append({**step, "index": i})
    return plan


@router.post("/url")
async def create_product(body: CreateProductBody, parts: PartsDep) -> dict[str, Any]:
    """Create a new product by providing image URLs for AI analysis."""
    faults = parts.faults
    urls = list(body.imageUrls)
    fetched = [await fetch_decoded(parts, u, f"imageUrls[{i}]") for i, u in enumerate(urls)]
    analysis = await parts.worker.run_in_pool(analyse, [img for _, img in fetched], urls)
    pid = new_id()
    sources = [
        store_upload(parts.store, f"files/products/{pid}/source-{i}", data)
        for i, (data, _img) in enumerate(fetched)
    ]
    digest = hashlib.sha256(b"".join(d for d, _ in fetched)).hexdigest()
    # Faults.hostile: markup in every string made up here (and in a key of the analysis).
    ai_analysis = faults.spoil(analysis.ai_analysis)
    if faults.hostile:
        ai_analysis[HOSTILE_MARKUP] = faults.spoil("a key")
    doc = {
        "_id": pid,
        "productName": faults.spoil(analysis.product_name),
        "aiAnalysis": ai_analysis,
        "colors": faults.spoil(list(analysis.colors)),
        "createdAt": now_iso(),
        "generatedImages": [],
        "_sandbox": {"sources": sources, "digest": digest, "imageUrls": urls},
    }
    parts.store.put_product(doc)
    created = {k: doc[k] for k in ("_id", "productName", "aiAnalysis", "colors", "createdAt")}
    return {"success": True, "data": created}


@router.get("/{productId}")
async def get_product(productId: str, parts: PartsDep) -> dict[str, Any]:
    """Retrieve product details including generated images and AI analysis."""
    doc = _product_or_404(parts, productId)
    return {"success": True, "data": {k: doc.get(k) for k in _PUBLIC_FIELDS}}


@router.post("/{productId}/generate")
async def generate(productId: str, body: GenerateBody, parts: PartsDep) -> dict[str, Any]:
    """Generate images for a product; asynchronous, results arrive on the product."""
    doc = _product_or_404(parts, productId)
    request = body.model_dump(exclude_none=False)
    first_color = (doc.get("colors") or [None])[0]
    parts.worker.start(
        {
            "id": "gen_" + new_id(),
            "kind": "generate",
            "target": productId,
            "state": "queued",
            "plan": _plan(request, first_color),
            "done": 0,
            "request": request,
        }
    )
    message = parts.faults.spoil("Image generation task started")
    return {"success": True, "message": message, "productId": productId}


@webhooks.post("product-generation")
def product_webhook(body: ProductWebhook) -> None:
    """POSTed to ``webhook.url`` when a generation ends (Authorization: Bearer <token>)."""
