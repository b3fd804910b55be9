"""The virtual try-on routes of the reference: submit a try-on from URLs, read its result."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from .deps import API, PartsDep, fetch_decoded, new_id
from .errors import SandboxError
from .media import store_upload
from .schemas import TryOnBody
from .worker import absolute_images, now_iso

__all__ = ["router", "webhooks"]

router = APIRouter(prefix="/api/vto", dependencies=API, tags=["vto"])
"""``POST /api/vto/generate-url`` and ``GET /api/vto/{vtoId}``."""

webhooks = APIRouter()
"""The try-on webhook, for the OpenAPI document (``app.webhooks``)."""


class TryOnWebhook(BaseModel):
    """Sent to ``webhook.url`` when a try-on ends."""

    vtoId: str
    status: str
    generatedImages: list[dict[str, Any]]
    createdAt: str
    updatedAt: str


@router.post("/generate-url")
async def try_on(body: TryOnBody, request: Request, parts: PartsDep) -> dict[str, Any]:
    """Generate virtual try-on images by providing image URLs."""
    faults = parts.faults
    person_data, _ = await fetch_decoded(parts, body.personImageUrl, "personImageUrl")
    clothing = [
        await fetch_decoded(parts, c.url, f"clothingImageUrls[{i}].url")
        for i, c in enumerate(body.clothingImageUrls)
    ]
    vid = new_id()
    uploads = [("person", person_data)]
    uploads += [(f"clothing-{i}", data) for i, (data, _) in enumerate(clothing)]
    stored = [store_upload(parts.store, f"files/vto/{vid}/{name}", data) for name, data in uploads]
    now = now_iso()
    clothing_urls = [c.url for c in body.clothingImageUrls]
    doc = {
        "_id": vid,
        "status": "queued",
        "personImage": {"filePath": body.personImageUrl},
        "clothingImages": [{"filePath": u} for u in clothing_urls],
        "generatedImages": [],
        "createdAt": now,
        "updatedAt": now,
        "_sandbox": {
            "person": stored[0],
            "clothing": [
                [p, c.info] for p, c in zip(stored[1:], body.clothingImageUrls, strict=True)
            ],
            "digests": [hashlib.sha256(data).hexdigest() for _, data in uploads],
            "base": str(request.base_url),
        },
    }
    if faults.hostile:  # the garments' info is echoed, with markup
        doc["clothingImages"] = [
            {"filePath": c.url, "info": faults.spoil(c.info or "garment")}
            for c in body.clothingImageUrls
        ]
    parts.store.put_try_on(doc)
    parts.worker.start(
        {
            "id": "vto_" + vid,
            "kind": "tryon",
            "target": vid,
            "state": "queued",
            "done": 0,
            "request": body.model_dump(),
        }
    )
    return {
        "success": True,
        "message": faults.spoil("VTO try-on image generation task has been submitted"),
        "vtoId": vid,
        "personImage": body.personImageUrl,
        "clothingImages": clothing_urls,
    }


@router.get("/{vtoId}")
async def get_try_on(vtoId: str, request: Request, parts: PartsDep) -> dict[str, Any]:
    """Get VTO task result by task ID."""
    doc = parts.store.get_try_on(vtoId)
    if doc is None:
        raise SandboxError(404, f"no try-on with id {vtoId[:100]!r}")
    data = {k: v for k, v in doc.items() if k != "_sandbox"}
    data["generatedImages"] = absolute_images(doc["generatedImages"], str(request.base_url))
    return {"success": True, "data": data}


@webhooks.post("vto-generation")
def vto_webhook(body: TryOnWebhook) -> None:
    """POSTed to ``webhook.url`` when a try-on ends (Authorization: Bearer <token>)."""
