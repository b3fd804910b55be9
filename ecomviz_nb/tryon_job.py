"""Virtual try-on jobs: following a try-on's status until it ends.

Status ``completed`` ends a try-on with its images; ``failed`` / ``error`` / ``canceled`` end
it with :class:`~ecomviz_nb.errors.JobFailedError`; any other status is shown verbatim and
waited on.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from .errors import JobFailedError
from .job_base import Job
from .models import JobKind, TryOnRequest, TryOnResult
from .polling import Progress, ProgressEvent

__all__ = ["AsyncTryOnJob", "AsyncTryOnSource", "TryOnJob", "TryOnSource"]

S = TypeVar("S")


class TryOnSource(Protocol):
    """What a :class:`TryOnJob` polls with (``ev.Client`` is one)."""

    def get_try_on(self, vto_id: str) -> TryOnResult: ...


class AsyncTryOnSource(Protocol):
    """What an :class:`AsyncTryOnJob` polls with (``ev.AsyncClient`` is one)."""

    async def get_try_on(self, vto_id: str) -> TryOnResult: ...


class _TryOnJobBase(Job[S, TryOnResult]):
    kind: JobKind = "tryon"
    noun = "try-on"
    _target_name = "vto"
    event_kind = "vto.generation"
    result: TryOnResult | None = None
    """The latest :class:`TryOnResult` seen."""

    @property
    def vto_id(self) -> str:
        """The server's try-on id."""
        return self.record.remote_id or ""

    def _followable(self) -> None:
        if not self.vto_id:
            raise JobFailedError(
                f"try-on job {self.id} has no vtoId: the server's answer to the submission was "
                "lost, so it cannot be followed from here; look for it in your EcomViz account "
                "before submitting it again",
                job=self,
                status=self.record.state,
            )

    @property
    def request(self) -> TryOnRequest:
        """The submitted request (a webhook token is not kept)."""
        return TryOnRequest.from_wire(self.record.request)

    def _observe(self, snapshot: TryOnResult) -> tuple[ProgressEvent, bool, Exception | None]:
        self.result = snapshot
        self.images = list(snapshot.images)
        finished = snapshot.is_completed
        changes: dict[str, Any] = {"done": len(self.images), "status": snapshot.status}
        if finished:
            changes["state"] = "completed"
        elif snapshot.is_failed:
            changes["state"] = "failed"
        self._save(**changes)
        event = ProgressEvent(
            self.id,
            len(self.images) if finished else 0,
            max(self.expected, len(self.images)),
            snapshot.status,
            self._elapsed(),
            tuple(self.images),
        )
        error = None
        if snapshot.is_failed:
            error = JobFailedError(
                f"try-on {self.vto_id} ended with status {snapshot.status!r}",
                job=self,
                status=snapshot.status,
            )
        return event, finished, error

    def _read_delivery(self, payload: dict[str, Any]) -> TryOnResult:
        result = TryOnResult.from_wire(payload, base_url=self.record.base_url)
        if self.result is not None:  # the webhook leaves out the source images a poll gave
            result.person_image = result.person_image or self.result.person_image
            result.clothing_images = result.clothing_images or self.result.clothing_images
        return result

    def _conclude(
        self, payload: dict[str, Any], result: TryOnResult
    ) -> tuple[ProgressEvent, Exception | None]:
        event, _, error = self._observe(result)
        return event, error


class TryOnJob(_TryOnJobBase[TryOnSource]):
    """A virtual try-on; ``wait()`` returns the :class:`TryOnResult` once it is completed."""

    def wait(self, timeout: float | None = 600, on_progress: Progress | None = None) -> TryOnResult:
        """Poll until the status is terminal.

        Raises:
            JobFailedError: the status is failed, error or canceled.
            JobTimeoutError: the deadline passed first.
        """
        self._followable()
        return self._wait(lambda: self._source.get_try_on(self.vto_id), timeout, on_progress)


class AsyncTryOnJob(_TryOnJobBase[AsyncTryOnSource]):
    """The async twin of :class:`TryOnJob`."""

    async def wait(
        self, timeout: float | None = 600, on_progress: Progress | None = None
    ) -> TryOnResult:
        """Like :meth:`TryOnJob.wait`, without blocking the event loop."""
        self._followable()
        return await self._await(lambda: self._source.get_try_on(self.vto_id), timeout, on_progress)
