"""The ledger's jobs as waitable objects (``client.jobs``), and the job family under one import.

A job never imports the client. It is handed a *source*: any object with ``get_product`` (for
generation jobs) or ``get_try_on`` (for try-on jobs), sync or async. ``ev.Client`` and
``ev.AsyncClient`` are such sources. The parts: the polling schedule and progress events
(:mod:`ecomviz_nb.polling`), webhook listeners (:mod:`ecomviz_nb.webhook_listeners`), what every
job shares (:mod:`ecomviz_nb.job_base`), generation and try-on jobs
(:mod:`ecomviz_nb.generation_job`, :mod:`ecomviz_nb.tryon_job`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .batch_ledger import BatchBook
from .errors import is_transient as is_transient
from .generation_job import AsyncGenerationJob, GenerationJob
from .generation_job import AsyncProductSource as AsyncProductSource
from .generation_job import ProductSource as ProductSource
from .ledger import JobLedger, JobRecord
from .polling import POLL_GROWTH as POLL_GROWTH
from .polling import POLL_INITIAL as POLL_INITIAL
from .polling import POLL_JITTER as POLL_JITTER
from .polling import POLL_MAXIMUM as POLL_MAXIMUM
from .polling import Progress as Progress
from .polling import ProgressEvent, poll_delay, print_progress, retry_pause, retry_status
from .tryon_job import AsyncTryOnJob, TryOnJob
from .tryon_job import AsyncTryOnSource as AsyncTryOnSource
from .tryon_job import TryOnSource as TryOnSource
from .webhook_listeners import (
    WebhookListener,
    register_listener,
    unregister_listener,
    webhook_listeners,
)

__all__ = [
    "AsyncGenerationJob",
    "AsyncJobs",
    "AsyncTryOnJob",
    "GenerationJob",
    "Jobs",
    "ProgressEvent",
    "TryOnJob",
    "WebhookListener",
    "poll_delay",
    "print_progress",
    "register_listener",
    "retry_pause",
    "retry_status",
    "unregister_listener",
    "webhook_listeners",
]


@runtime_checkable
class _JobOptionsSource(Protocol):
    """A source that says what the jobs it is polled for are built with (a client does)."""

    def _job_options(self) -> dict[str, Any]:
        """Keyword arguments for a job: ``ledger``, ``sleep`` and ``rand``."""
        ...


class _JobsBase:
    def __init__(self, ledger: JobLedger, source: Any, base_url: str) -> None:
        self.ledger = ledger
        self._source = source
        self._base_url = base_url

    def _records(self, limit: int | None, all_servers: bool) -> list[JobRecord]:
        return self.ledger.list(base_url=None if all_servers else self._base_url, limit=limit)

    def batches(self) -> list[dict[str, Any]]:
        """This server's catalogue batches, newest first, with their items counted by state
        (``ev.resume_batch(client, name)`` continues one)."""
        return BatchBook(self.ledger, self._base_url).list()

    def _options(self) -> dict[str, Any]:
        """What a job from the ledger is built with: the source's ledger, sleep and jitter when
        it says (a client's jobs wait as those it returns do), else this ledger."""
        if isinstance(self._source, _JobOptionsSource):
            return self._source._job_options()
        return {"ledger": self.ledger}

    def _record(self, job_id: str) -> JobRecord:
        record = self.ledger.get(job_id, base_url=self._base_url)
        if record is None:
            raise KeyError(f"no job {job_id!r} in the ledger at {self.ledger.path}")
        return record


class Jobs(_JobsBase):
    """``client.jobs``: the ledger's jobs as waitable objects, for this client's server."""

    def list(
        self, *, limit: int | None = 100, all_servers: bool = False
    ) -> list[GenerationJob | TryOnJob]:
        """Jobs newest first; ``all_servers=True`` includes other base URLs (e.g. old sandboxes)."""
        return [self._job(r) for r in self._records(limit, all_servers)]

    def get(self, job_id: str) -> GenerationJob | TryOnJob:
        """The job with this ledger id, product id or try-on id.

        Raises:
            KeyError: no such job in the ledger.
        """
        return self._job(self._record(job_id))

    def _job(self, record: JobRecord) -> GenerationJob | TryOnJob:
        cls = GenerationJob if record.kind == "generate" else TryOnJob
        return cls(record, self._source, **self._options())


class AsyncJobs(_JobsBase):
    """``aclient.jobs``: like :class:`Jobs`, with async jobs."""

    def list(
        self, *, limit: int | None = 100, all_servers: bool = False
    ) -> list[AsyncGenerationJob | AsyncTryOnJob]:
        """Jobs newest first."""
        return [self._job(r) for r in self._records(limit, all_servers)]

    def get(self, job_id: str) -> AsyncGenerationJob | AsyncTryOnJob:
        """The job with this ledger id, product id or try-on id."""
        return self._job(self._record(job_id))

    def _job(self, record: JobRecord) -> AsyncGenerationJob | AsyncTryOnJob:
        cls = AsyncGenerationJob if record.kind == "generate" else AsyncTryOnJob
        return cls(record, self._source, **self._options())
