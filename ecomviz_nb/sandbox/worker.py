"""The job worker: moves generate and try-on jobs along, rendering in a bounded thread pool.

A job is an asyncio task on the server's loop. It sleeps to imitate the API's pace
(``job_seconds`` spread over its images), hands each render to the thread pool (so no request
handler ever waits on Pillow), appends each finished image to the product so that polling sees
progress, and finally sends the webhook. Jobs are written to the store as they go, so a sandbox
with a data folder resumes unfinished jobs after a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from functools import partial
from typing import Any, TypeVar

from PIL import Image

from . import render
from .codec import decode
from .settings import HOSTILE_MARKUP, Faults, Settings
from .store import Store
from .webhooks import WebhookSender

__all__ = ["Worker", "absolute_images", "now_iso"]

logger = logging.getLogger("ecomviz_nb.sandbox")
T = TypeVar("T")


def now_iso() -> str:
    """The time as the reference writes it: ``2024-01-01T00:00:00.000Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def absolute_images(images: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    """Try-on images with absolute ``filePath`` URLs, as the reference shows them."""
    out = []
    for image in images:
        path = image.get("filePath", "")
        if isinstance(path, str) and not path.startswith(("http://", "https://")):
            image = {**image, "filePath": base.rstrip("/") + "/" + path.lstrip("/")}
        out.append(image)
    return out


def seed_of(*parts: Any) -> int:
    """A stable seed from the request's content (never from ids or clocks)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big")


class Worker:
    """Runs jobs; owns the render thread pool and a small cache of decoded source images."""

    def __init__(
        self, store: Store, settings: Settings, faults: Faults, webhooks: WebhookSender
    ) -> None:
        self.store = store
        self.settings = settings
        self.faults = faults
        self.webhooks = webhooks
        self.pool = ThreadPoolExecutor(
            max_workers=settings.render_workers, thread_name_prefix="sandbox-render"
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._decoded: OrderedDict[str, Image.Image] = OrderedDict()

    async def run_in_pool(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run CPU work (decode, analyse, render) in the bounded pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, partial(fn, *args, **kwargs))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.pool.shutdown(wait=True, cancel_futures=True)

    @property
    def busy(self) -> int:
        """Jobs still running."""
        return len(self._tasks)

    def start(self, job: dict[str, Any]) -> None:
        """Save the job and run it in the background."""
        self.store.put_job(job)
        runner = self._generate if job["kind"] == "generate" else self._try_on
        task = asyncio.get_running_loop().create_task(self._guard(job, runner))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def resume_unfinished(self) -> int:
        """Restart the jobs a previous run left unfinished; returns how many."""
        jobs = self.store.jobs(unfinished=True)
        for job in jobs:
            self.start(job)
        return len(jobs)

    async def _guard(self, job: dict[str, Any], runner: Callable[[dict[str, Any]], Any]) -> None:
        try:
            await runner(job)
        except asyncio.CancelledError:
            raise
        except Exception:  # a render bug must end the job, not the server
            logger.exception("sandbox job %s failed", job["id"])
            job["state"] = "failed"
            self.store.put_job(job)
            if job["kind"] == "tryon":
                doc = self.store.get_try_on(job["target"])
                if doc is not None:
                    doc.update(status="failed", updatedAt=now_iso())
                    self.store.put_try_on(doc)

    def _job_seconds(self) -> float:
        override = self.faults.job_seconds
        return max(0.0, self.settings.job_seconds if override is None else override)

    async def source(self, path: str) -> Image.Image:
        """A stored source image, decoded once and kept in a small cache."""
        image = self._decoded.get(path)
        if image is None:
            found = self.store.get_file(path)
            if found is None:
                raise FileNotFoundError(path)
            image = await self.run_in_pool(decode, found[0])
            self._decoded[path] = image
            while len(self._decoded) > 32:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(path)
        return image

    # ---- product generation

    async def _generate(self, job: dict[str, Any]) -> None:
        pid = job["target"]
        product = self.store.get_product(pid)
        if product is None:
            return
        inner = product["_sandbox"]
        source = await self.source(inner["sources"][0])
        plan: list[dict[str, Any]] = job["plan"]
        fail_at = len(plan) // 2 if self.faults.roll(self.faults.fail_job_rate) else None
        job["state"] = "processing"
        self.store.put_job(job)
        pace = self._job_seconds() / max(1, len(plan))
        made: list[dict[str, Any]] = []
        for n in range(job["done"], len(plan)):
            if n == fail_at:
                job["state"] = "failed"
                self.store.put_job(job)
                await self._notify(
                    job, {"productId": pid, "status": "failed", "generatedImages": made}
                )
                return
            step = plan[n]
            if pace:
                await asyncio.sleep(pace)
            data = await self.run_in_pool(
                self._render_step,
                step,
                source,
                product.get("productName") or "",
                list(product.get("colors") or []),
                inner["digest"],
                job["request"],
            )
            path = f"files/products/{pid}/{job['id']}-{n:02d}-{step['type']}.jpg"
            self.store.put_file(path, data, "image/jpeg")
            entry: dict[str, Any] = {
                "filePath": self.faults.spoil_path(path),
                "generatedAt": now_iso(),
                "generationParams": {
                    "platform": job["request"].get("platform", "general"),
                    "region": job["request"].get("region", "global"),
                    "imageType": step["type"],
                    "color": step.get("color"),
                },
            }
            if self.faults.hostile:  # params the client never asked for, markup in both
                entry["generationParams"] |= {
                    "model": self.faults.spoil("sandbox-render"),
                    HOSTILE_MARKUP: self.faults.spoil("a key"),
                }
            # Re-read: another job may have appended to the same product meanwhile.
            product = self.store.get_product(pid) or product
            images = product.setdefault("generatedImages", [])
            # A crash between saving the product and the job re-renders image n after a
            # restart: it replaces its earlier entry instead of being listed twice.
            images[:] = [i for i in images if i.get("filePath") != path]
            images.append(entry)
            self.store.put_product(product)
            made.append(entry)
            job["done"] = n + 1
            self.store.put_job(job)
        job["state"] = "completed"
        self.store.put_job(job)
        await self._notify(job, {"productId": pid, "status": "completed", "generatedImages": made})

    def _render_step(
        self,
        step: dict[str, Any],
        source: Image.Image,
        name: str,
        colors: list[str],
        digest: str,
        request: dict[str, Any],
    ) -> bytes:
        options = {
            k: request.get(k)
            for k in ("region", "platform", "language", "removeBrandLogo", "changePortrait")
        }
        seed = seed_of(digest, step, options)
        size = self.settings.image_size
        if step["type"] == "vto":
            return render.render_vto_color(
                source, color=step["color"], aspect_ratio=step.get("aspect"), seed=seed, size=size
            )
        return render.render_product_image(
            step["type"],
            source,
            aspect_ratio=step["aspect"],
            index=step["index"],
            seed=seed,
            product_name=name,
            colors=colors,
            size=size,
        )

    # ---- try-on

    async def _try_on(self, job: dict[str, Any]) -> None:
        vid = job["target"]
        doc = self.store.get_try_on(vid)
        if doc is None:
            return
        inner = doc["_sandbox"]
        pace = self._job_seconds() / 3
        if pace and doc["status"] == "queued":
            await asyncio.sleep(pace)
        doc.update(status="processing", updatedAt=now_iso())
        self.store.put_try_on(doc)
        job["state"] = "processing"
        self.store.put_job(job)
        if pace:
            await asyncio.sleep(pace)
        if self.faults.roll(self.faults.fail_job_rate):
            doc.update(status="failed", updatedAt=now_iso())
            status = "failed"
        else:
            person = await self.source(inner["person"])
            clothing = [(await self.source(p), info) for p, info in inner["clothing"]]
            request = job["request"]
            seed = seed_of(
                inner["digests"],
                request.get("aspectRatio"),
                request.get("watermark"),
                [info for _, info in inner["clothing"]],
            )
            data = await self.run_in_pool(
                render.render_try_on,
                person,
                clothing,
                aspect_ratio=request.get("aspectRatio", "2:3"),
                watermark=request.get("watermark", True),
                seed=seed,
                size=self.settings.image_size,
            )
            path = f"files/vto/{vid}/result-0.jpg"
            self.store.put_file(path, data, "image/jpeg")
            if pace:
                await asyncio.sleep(pace)
            # Kept relative: answers make it absolute for the address asked (ports change).
            doc["generatedImages"] = [{"filePath": self.faults.spoil_path(path)}]
            doc.update(status="completed", updatedAt=now_iso())
            status = "completed"
            job["done"] = 1
        self.store.put_try_on(doc)
        job["state"] = status
        self.store.put_job(job)
        await self._notify(
            job,
            {
                "vtoId": vid,
                "status": status,
                "generatedImages": absolute_images(doc["generatedImages"], inner["base"]),
                "createdAt": doc["createdAt"],
                "updatedAt": doc["updatedAt"],
            },
        )

    async def _notify(self, job: dict[str, Any], payload: dict[str, Any]) -> None:
        hook = job["request"].get("webhook")
        if isinstance(hook, dict) and hook.get("url"):
            event = "product.generation" if job["kind"] == "generate" else "vto.generation"
            if self.faults.hostile:
                payload = {**payload, "message": self.faults.spoil("delivered by the sandbox")}
            try:
                await self.webhooks.send(hook["url"], hook.get("token"), event, payload)
            except Exception:  # the job's work is done; a webhook problem must not undo it
                logger.exception("webhook for sandbox job %s could not be sent", job["id"])
