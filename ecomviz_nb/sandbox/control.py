"""Sandbox-only controls under ``/_sandbox/``: health, reset, faults, counters, deliveries, jobs."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from .._version import __version__
from .deps import PartsDep
from .settings import Faults

__all__ = ["FaultsBody", "router"]

# Not in the OpenAPI document (they are not the provider's API), and no token asked for: tests
# and notebooks drive a sandbox through these.
router = APIRouter(prefix="/_sandbox", include_in_schema=False)
"""Every ``/_sandbox/…`` route but ``samples`` (served with the images) and ``docs``."""


class FaultsBody(BaseModel):
    """Fault injection switches; any subset may be sent."""

    model_config = ConfigDict(extra="forbid")
    error_rate: float | None = Field(None, ge=0, le=1)
    rate_limit_rate: float | None = Field(None, ge=0, le=1)
    retry_after: int | None = Field(None, ge=0, le=3600)
    drop_rate: float | None = Field(None, ge=0, le=1)
    drop_answer_rate: float | None = Field(None, ge=0, le=1)
    slow_rate: float | None = Field(None, ge=0, le=1)
    slow_seconds: float | None = Field(None, ge=0, le=60)
    fail_job_rate: float | None = Field(None, ge=0, le=1)
    job_seconds: float | None = Field(None, ge=0, le=600)
    hostile: bool | None = None
    seed: int | None = None


@router.get("/health")
async def health(parts: PartsDep) -> dict[str, Any]:
    """Alive, and which sandbox this is: ``pid`` and ``instance`` tell two servers apart."""
    return {
        "status": "ok",
        "sandbox": True,
        "version": __version__,
        "products": parts.store.count_products(),
        "jobs_running": parts.worker.busy,
        "pid": os.getpid(),
        "instance": parts.instance,
    }


@router.post("/reset")
async def reset(parts: PartsDep) -> dict[str, Any]:
    """Forget every product, try-on, job, file, delivery and count; faults back to none."""
    parts.store.reset()
    parts.webhooks.log.clear()
    parts.requests.reset()
    faults, fresh = parts.faults, Faults(job_seconds=None)
    for name in Faults.names():
        setattr(faults, name, getattr(fresh, name))
    faults.rng.seed(faults.seed)
    return {"success": True}


@router.get("/config")
async def get_config(parts: PartsDep) -> dict[str, Any]:
    """The fault switches and the start-up settings a client may want to know."""
    return {
        "faults": parts.faults.public(),
        "job_seconds": parts.settings.job_seconds,
        "offline": parts.settings.offline,
        "strict_token": parts.settings.token is not None,
    }


@router.put("/config")
@router.post("/config")
async def set_config(body: FaultsBody, parts: PartsDep) -> dict[str, Any]:
    """Change the fault switches sent; the others keep their values."""
    faults = parts.faults
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(faults, name, value)
    if "seed" in body.model_fields_set:
        faults.rng.seed(faults.seed)
    return {"faults": faults.public()}


@router.get("/requests")
async def request_counts(parts: PartsDep) -> dict[str, Any]:
    """The /api/ requests answered since the start or the last reset."""
    return parts.requests.snapshot()


@router.delete("/requests")
async def reset_request_counts(parts: PartsDep) -> dict[str, Any]:
    """Start counting /api/ requests from zero."""
    parts.requests.reset()
    return {"success": True}


@router.get("/deliveries")
async def deliveries(parts: PartsDep) -> dict[str, Any]:
    """The webhook deliveries attempted, newest last."""
    return {"deliveries": list(parts.webhooks.log)}


@router.get("/jobs")
async def jobs(parts: PartsDep) -> dict[str, Any]:
    """Every job with its progress and request (webhook tokens masked)."""
    listed = []
    for job in parts.store.jobs():
        hook = job["request"].get("webhook")
        if isinstance(hook, dict) and hook.get("token"):
            job["request"]["webhook"] = {**hook, "token": "***"}
        listed.append(
            {k: job[k] for k in ("id", "kind", "target", "state", "done")}
            | {"total": len(job.get("plan", [])) or 1, "request": job["request"]}
        )
    return {"jobs": listed}
