"""Product image generation jobs: when a generation is done, and waiting for it.

The API has no status for a generation: a job is done when the product holds ``expected``
images of the job's own, new since submission and matching its params
(:mod:`ecomviz_nb.attribution`), or when its webhook says so.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, TypeVar

from .attribution import RunKey, own_images
from .errors import JobFailedError
from .job_base import Job
from .models import TERMINAL_FAILED_STATUSES, GeneratedImage, GenerateRequest, JobKind, Product
from .polling import Progress, ProgressEvent

__all__ = ["AsyncGenerationJob", "AsyncProductSource", "GenerationJob", "ProductSource"]

S = TypeVar("S")


class ProductSource(Protocol):
    """What a :class:`GenerationJob` polls with (``ev.Client`` is one)."""

    def get_product(self, product_id: str) -> Product: ...


class AsyncProductSource(Protocol):
    """What an :class:`AsyncGenerationJob` polls with (``ev.AsyncClient`` is one)."""

    async def get_product(self, product_id: str) -> Product: ...


class _GenerationJobBase(Job[S, Product]):
    kind: JobKind = "generate"
    noun = "generation"
    _target_name = "product"
    event_kind = "product.generation"

    @property
    def product_id(self) -> str:
        """The product the images are generated for."""
        return self.record.remote_id or ""

    @property
    def request(self) -> GenerateRequest:
        """The submitted request (a webhook token is not kept)."""
        return GenerateRequest.from_wire(self.record.request)

    _key: RunKey | None = None

    @property
    def key(self) -> RunKey:
        """What this run's images are recognised by (:mod:`ecomviz_nb.attribution`)."""
        if self._key is None:
            self._key = RunKey.of(self.record.request)
        return self._key

    def _observe(self, snapshot: Product) -> tuple[ProgressEvent, bool, Exception | None]:
        self.images = own_images(
            self.key, snapshot.generated_images, self.record.baseline, self.expected
        )
        done = len(self.images)
        finished = done >= self.expected
        status = "completed" if finished else ("generating" if done else "submitted")
        self._save(done=done, status=status, **({"state": "completed"} if finished else {}))
        event = ProgressEvent(
            self.id, done, self.expected, status, self._elapsed(), tuple(self.images)
        )
        return event, finished, None

    def _read_delivery(self, payload: dict[str, Any]) -> Product | None:
        # A delivery names the product, not the run: it is this job's only if it holds some of
        # the job's own images (not another run's on the same product, nor an earlier one's).
        raw = payload.get("generatedImages")
        delivered = [
            GeneratedImage.from_wire(item, base_url=self.record.base_url)
            for item in (raw if isinstance(raw, list) else [])
        ]
        own = own_images(self.key, delivered, self.record.baseline, self.expected)
        if not own:
            return None
        last = self._last or Product(id=self.product_id)
        known = {key for img in last.generated_images for key in (img.file_path, img.url)}
        new = [img for img in own if img.file_path not in known and img.url not in known]
        return dataclasses.replace(last, generated_images=[*last.generated_images, *new])

    def _conclude(
        self, payload: dict[str, Any], result: Product
    ) -> tuple[ProgressEvent, Exception | None]:
        status = str(payload.get("status"))
        failed = status.lower() in TERMINAL_FAILED_STATUSES
        self.images = own_images(
            self.key, result.generated_images, self.record.baseline, self.expected
        )
        self._save(done=len(self.images), status=status, state="failed" if failed else "completed")
        error = None
        if failed:
            error = JobFailedError(
                f"generation for product {self.product_id} ended with status {status!r} "
                f"({len(self.images)} of {self.expected} images made)",
                job=self,
                status=status,
            )
        return self._event(status), error


class GenerationJob(_GenerationJobBase[ProductSource]):
    """A product image generation; ``wait()`` returns the product once all images are there."""

    def wait(self, timeout: float | None = 600, on_progress: Progress | None = None) -> Product:
        """Poll until the product holds every expected new image.

        Args:
            timeout: seconds to wait at most (None: no limit).
            on_progress: called with a :class:`ProgressEvent` after each poll.

        Returns:
            The product; the new images are in ``job.images``.

        Raises:
            JobTimeoutError: the deadline passed; ``exc.images`` holds what arrived and
                ``exc.last_error`` the last failed poll, if polls were failing.
            AuthenticationError, NotFoundError: the token or the product id is wrong (errors
                that pass, such as 503 or a dropped connection, are polled through).
        """
        return self._wait(lambda: self._source.get_product(self.product_id), timeout, on_progress)


class AsyncGenerationJob(_GenerationJobBase[AsyncProductSource]):
    """The async twin of :class:`GenerationJob`: ``await job.wait()``."""

    async def wait(
        self, timeout: float | None = 600, on_progress: Progress | None = None
    ) -> Product:
        """Like :meth:`GenerationJob.wait`, without blocking the event loop."""
        return await self._await(
            lambda: self._source.get_product(self.product_id), timeout, on_progress
        )
