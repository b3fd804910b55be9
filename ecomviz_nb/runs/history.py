"""A panel's finished runs, read back from the job ledger: parameters, images, what changed."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..attribution import RunKey, own_images
from ..client import AsyncClient
from ..errors import EcomVizError, EcomVizWarning, ValidationError
from ..ledger import JobRecord
from ..models import GeneratedImage, GenerateRequest, JobKind, TryOnRequest
from .history_params import change_text, differs, form_url, param_text, request_params, summary_text
from .plan import SweepRun
from .result import SweepResult

__all__ = [
    "FINISHED_STATES",
    "HistoryRun",
    "RunComparison",
    "RunHistory",
    "change_text",
    "compare",
    "differs",
    "param_text",
    "summary_text",
]

FINISHED_STATES = ("completed", "failed")
"""The ledger states of a run the history keeps: it ended, with its images or without."""


@dataclass(eq=False)
class HistoryRun:
    """One finished run of a panel, as the ledger remembers it and the server shows it."""

    job_id: str
    """The ledger id (``job_…``): ``client.jobs.get(job_id)`` finds the job again."""
    kind: JobKind
    """``generate`` or ``tryon``."""
    request: GenerateRequest | TryOnRequest
    """The request the run sent (a webhook token is never kept)."""
    params: dict[str, Any]
    """The request as the panel's form holds it (see :mod:`ecomviz_nb.runs.history_params`)."""
    state: str
    """``completed`` or ``failed``."""
    submitted_at: float
    """Unix time of submission."""
    expected: int
    """How many images the run asked for."""
    remote_id: str | None = None
    """The product id (generate) or the try-on id."""
    images: list[GeneratedImage] = field(default_factory=list)
    """The run's own images, in the order they were made."""
    error: str | None = None
    """Why it failed, or why its images could not be read; None when all went well."""

    @property
    def when(self) -> str:
        """Local time of submission: ``14:03:05`` today, ``12 Mar 14:03`` before."""
        moment = datetime.fromtimestamp(self.submitted_at)
        if moment.date() == datetime.now().date():
            return moment.strftime("%H:%M:%S")
        return moment.strftime("%d %b %H:%M")

    @classmethod
    def of(
        cls, record: JobRecord, images: Sequence[GeneratedImage] = (), *, error: str | None = None
    ) -> HistoryRun:
        """The run of a ledger row, with the images found for it.

        Raises:
            ValidationError: the row's request cannot be read back.
        """
        request: GenerateRequest | TryOnRequest
        with warnings.catch_warnings():  # a ratio off the list warned when the run was sent
            warnings.simplefilter("ignore", EcomVizWarning)
            if record.kind == "generate":
                request = GenerateRequest.from_wire(record.request)
            else:
                request = TryOnRequest.from_wire(record.request)
        # A completed row's message is the server's answer to the submission, not a problem.
        failure = (record.message or record.status) if record.state == "failed" else None
        return cls(
            job_id=record.id,
            kind=record.kind,
            request=request,
            params=request_params(request, base_url=record.base_url),
            state=record.state,
            submitted_at=record.submitted_at,
            expected=record.expected,
            remote_id=record.remote_id,
            images=list(images),
            error=error or failure,
        )

    @classmethod
    def of_job(cls, job: Any) -> HistoryRun:
        """The run of a job that has just ended (its images are already at hand, none fetched).

        Args:
            job: a generation or try-on job (sync or async) after its ``wait()``.
        """
        return cls.of(job.record, list(job.images))

    def __repr__(self) -> str:
        return (
            f"<HistoryRun {self.kind} {self.when} {self.state}, "
            f"{len(self.images)} of {self.expected} images>"
        )


class RunComparison(SweepResult):
    """Past runs side by side: the sweep's comparison matrix, one row per run.

    The row headers are the submission time and every parameter that differs among the runs.
    """

    def __init__(self, kind: str, runs: list[SweepRun], vary: dict[str, Any]) -> None:
        super().__init__(kind, runs, vary)

    @property
    def sources(self) -> list[tuple[str, str]]:
        """The try-on's person and garments when every compared run used the same; else none
        (they are then row headers)."""
        if self.kind != "tryon" or not self.runs:
            return []
        request = self.runs[0].request
        assert isinstance(request, TryOnRequest)
        found = [] if "person" in self.vary else [("person", request.person_image_url)]
        if "garments" not in self.vary:
            found += [
                (c.info or f"clothing {i + 1}", c.url) for i, c in enumerate(request.clothing)
            ]
        return found

    def matrix_html(self, *, height: int = 128, title: str | None = None) -> str:
        """The comparison matrix: a row per run, what differs as row headers."""
        if title is None:
            title = f"{self.kind_label.capitalize()} runs compared"
        return super().matrix_html(height=height, title=title)

    def __repr__(self) -> str:
        return f"<RunComparison {self.kind}: {len(self.runs)} runs, varied: {', '.join(self.axes)}>"


def compare(runs: Sequence[HistoryRun]) -> RunComparison:
    """Put past runs side by side: a :class:`RunComparison` whose matrix has a row per run.

    Its axes are ``time`` and every parameter whose value is not the same in all the runs;
    the values are shown as in the history strip.

    Raises:
        ValidationError: fewer than two runs, or runs of both kinds.
    """
    chosen = list(runs)
    if len(chosen) < 2:
        raise ValidationError("runs", len(chosen), "at least two runs to compare")
    kinds = {run.kind for run in chosen}
    if len(kinds) > 1:
        raise ValidationError("runs", sorted(kinds), "runs of one kind: generate or tryon")
    keys = list(dict.fromkeys(key for run in chosen for key in run.params))
    varied = [k for k in keys if len({repr(run.params.get(k)) for run in chosen}) > 1]
    axes = ["time", *varied]
    rows = []
    for run in chosen:
        shown = {"time": run.when, **{k: param_text(k, run.params.get(k)) for k in varied}}
        rows.append(
            SweepRun(
                shown,
                run.request,
                state=run.state,
                images=list(run.images),
                error=run.error,
                done=len(run.images),
            )
        )
    vary = {axis: [row.params[axis] for row in rows] for axis in axes}
    return RunComparison(chosen[0].kind, rows, vary)


class RunHistory:
    """The finished runs of one panel's context on a client's server, newest first.

    Everything but the images comes from the client's job ledger (SQLite under
    ``ECOMVIZ_HOME``), so a new kernel with a new client sees the same history. The images
    are read from the server: one product read for all runs of a generate history, one
    try-on read per try-on run (kept once completed).

    A generate history holds the runs on one product: what a ``GeneratePanel`` shows. A
    try-on history holds every try-on on the server, whatever the person and garments: a
    ``TryOnPanel`` explores those too, so they are parameters that differ, not separate
    histories; pass ``person_url`` to keep one person's runs only.

    Args:
        client: an ``ev.Client`` (use :meth:`runs`) or ``ev.AsyncClient`` (use
            :meth:`runs_async`).
        kind: ``generate`` or ``tryon``.
        product_id: the product (generate histories: required).
        person_url: only try-ons of this person (a ``/samples/…`` path means one on the server).
        limit: the most runs kept, newest first.
    """

    def __init__(
        self,
        client: Any,
        *,
        kind: str,
        product_id: str | None = None,
        person_url: str | None = None,
        limit: int = 30,
    ) -> None:
        if kind not in ("generate", "tryon"):
            raise ValidationError("kind", kind, "'generate' or 'tryon'")
        if kind == "generate" and not product_id:
            raise ValidationError(
                "product_id", product_id, "the product's id for a generate history"
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit", limit, "a whole number >= 1")
        self.client = client
        self.kind: JobKind = "generate" if kind == "generate" else "tryon"
        self.product_id = product_id
        self.person_url = person_url
        self.limit = limit
        self._done_try_ons: dict[str, list[GeneratedImage]] = {}

    @classmethod
    def for_product(cls, client: Any, product_id: str, *, limit: int = 30) -> RunHistory:
        """The generate runs on one product (a ``GeneratePanel``'s history)."""
        return cls(client, kind="generate", product_id=product_id, limit=limit)

    @classmethod
    def for_try_on(
        cls, client: Any, *, person_url: str | None = None, limit: int = 30
    ) -> RunHistory:
        """The try-on runs on the client's server (a ``TryOnPanel``'s history)."""
        return cls(client, kind="tryon", person_url=person_url, limit=limit)

    def __repr__(self) -> str:
        target = f" product={self.product_id}" if self.product_id else ""
        return f"<RunHistory {self.kind}{target}>"

    @property
    def base_url(self) -> str:
        """The server whose runs these are."""
        return str(self.client.base_url)

    def records(self) -> list[JobRecord]:
        """The ledger rows of the history's finished runs, newest first (nothing is fetched)."""
        ledger = self.client.ledger
        if self.kind == "generate":
            rows = ledger.for_remote(self.product_id, base_url=self.base_url)[::-1]
        else:
            rows = ledger.list(base_url=self.base_url, limit=None)
        person = (
            form_url(self._absolute(self.person_url), self.base_url) if self.person_url else None
        )
        chosen = []
        for row in rows:
            if row.kind != self.kind or row.state not in FINISHED_STATES:
                continue
            if person is not None and _person_of(row) != person:
                continue
            chosen.append(row)
            if len(chosen) >= self.limit:
                break
        return chosen

    def runs(self) -> list[HistoryRun]:
        """The finished runs, newest first, with their images (read from the server).

        Raises:
            TypeError: the client is an ``ev.AsyncClient``: ``await history.runs_async()``.
        """
        if isinstance(self.client, AsyncClient):
            raise TypeError("this history's client is async: use `await history.runs_async()`")
        records = self.records()
        found: dict[str, Any] = {}
        for key in self._wanted(records):
            try:
                found[key] = self._read(key)
            except EcomVizError as exc:
                found[key] = exc
        return self._assemble(records, found)

    async def runs_async(self) -> list[HistoryRun]:
        """:meth:`runs` for an ``ev.AsyncClient`` (or a sync client, read the same way)."""
        if not isinstance(self.client, AsyncClient):
            return self.runs()
        records = self.records()
        found: dict[str, Any] = {}
        for key in self._wanted(records):
            try:
                found[key] = await self._read_async(key)
            except EcomVizError as exc:
                found[key] = exc
        return self._assemble(records, found)

    # ---- one read per product or try-on, then the runs

    def _absolute(self, url: str) -> str:
        url = url.strip()
        return self.base_url.rstrip("/") + url if url.startswith("/") else url

    def _wanted(self, records: list[JobRecord]) -> list[str]:
        if self.kind == "generate":
            return [self.product_id or ""] if records else []
        return [
            r.remote_id for r in records if r.remote_id and r.remote_id not in self._done_try_ons
        ]

    def _read(self, key: str) -> Any:
        if self.kind == "generate":
            return self.client.get_product(key)
        return self.client.get_try_on(key)

    async def _read_async(self, key: str) -> Any:
        if self.kind == "generate":
            return await self.client.get_product(key)
        return await self.client.get_try_on(key)

    def _assemble(self, records: list[JobRecord], found: dict[str, Any]) -> list[HistoryRun]:
        runs = []
        for record in records:
            images: list[GeneratedImage] = []
            error = None
            answer = found.get(record.remote_id or "")
            if isinstance(answer, EcomVizError):
                error = f"its images could not be read: {answer}"
            elif self.kind == "generate" and answer is not None:
                with warnings.catch_warnings():  # warned when the run was sent
                    warnings.simplefilter("ignore", EcomVizWarning)
                    key = RunKey.of(record.request)
                images = own_images(key, answer.generated_images, record.baseline, record.expected)
            elif self.kind == "tryon":
                if answer is not None and answer.is_completed and record.remote_id:
                    self._done_try_ons[record.remote_id] = list(answer.images)
                images = self._done_try_ons.get(record.remote_id or "") or (
                    list(answer.images) if answer is not None else []
                )
            try:
                runs.append(HistoryRun.of(record, images, error=error))
            except ValidationError:  # a row written by another version: not a run to reload
                continue
        return runs


def _person_of(record: JobRecord) -> Any:
    try:
        request = TryOnRequest.from_wire(record.request)
    except ValidationError:
        return None
    return request_params(request, base_url=record.base_url)["person"]
