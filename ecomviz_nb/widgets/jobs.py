"""``ev.JobsPanel``: the ledger's jobs, and a way to resume waiting on one and see its images."""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from .. import display
from ..client import AsyncClient, Client
from ..jobs import ProgressEvent
from ._base import (
    HINT_COLOR,
    TEXT_COLOR,
    Panel,
    ProgressView,
    describe_error,
    previous_results,
)

__all__ = ["REDRAW_EVERY", "JobsPanel", "Pace"]

_OPEN_STATES = ("submitted", "submitting", "unknown")
REDRAW_EVERY = 0.5
"""Seconds between two redraws of the table while the panel follows a job (at most 2/s)."""
_TABLE_CSS = (
    f".ev-jobs table{{border-collapse:collapse;font-size:13px;line-height:1.4;color:{TEXT_COLOR}}}"
    ".ev-jobs th,.ev-jobs td{padding:3px 12px 3px 0;text-align:left;vertical-align:top}"
    f".ev-jobs .ev-none{{color:{HINT_COLOR}}}"
)


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


class Pace:
    """Lets a redraw through at most once per ``seconds`` (by ``clock``); the first at once.

    Args:
        seconds: the shortest time between two redraws.
        clock: monotonic seconds (a test passes its own).
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        """True (and the time noted) if the last redraw let through is ``seconds`` old."""
        now = self.clock()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True


def _choice(record: Any) -> str:
    """An open job as the dropdown names it: the whole id, kind and count, never cut."""
    return f"{record.id} · {record.kind} · {record.done}/{record.expected}"


class JobsPanel(Panel):
    """The jobs this server's client submitted (from the ledger), newest first.

    Resuming an open job follows it with live progress; its row in the table is redrawn as the
    job reports (at most twice a second), and once it ends the job's images show under the
    table, a click on one enlarging it.

    Parts: ``table`` (HTML), ``pending`` (a Dropdown of jobs still open), ``resume_button``,
    ``refresh_button``, ``status``, ``progress``, ``results`` (the followed job's images).
    """

    title = "Jobs"

    def __init__(self, client: Client | AsyncClient, *, limit: int = 50) -> None:
        self.client = client
        self._aclient = self._async_of(client)
        self.limit = limit
        self.table = widgets.HTML()
        self.pending = widgets.Dropdown(
            options=[],
            description="open job",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="auto", max_width="100%"),
        )
        self.resume_button = widgets.Button(description="Resume waiting", icon="play")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.progress = ProgressView()
        self.results = widgets.HTML()
        """The images of the job followed last (a grid, each picture opens larger)."""
        self.job: Any = None
        """The job followed last."""
        self.following: str | None = None
        """The id of the job being followed, while it is."""
        self._results_html = ""
        self._pace = Pace(REDRAW_EVERY)
        controls = widgets.HBox(
            [self.pending, self.resume_button, self.refresh_button],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        super().__init__(
            [self.table, controls, self.progress, self.results], status_after=controls
        )
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.resume_button.on_click(lambda _b: self.resume())
        self.refresh()

    def refresh(self) -> None:
        """Re-read the ledger: the table and the open jobs."""
        records = self._aclient.ledger.list(base_url=self._aclient.base_url, limit=self.limit)
        self.table.value = _table(records, time.time())
        self._offer(records)
        self.refresh_snapshot_soon()

    def _offer(self, records: Sequence[Any]) -> None:
        """The open jobs in the dropdown, made wide enough for the longest name; the job being
        followed stays selected and the Resume button off until it ends."""
        open_jobs = [
            (_choice(r), r.id) for r in records if r.state in _OPEN_STATES and r.remote_id
        ]
        ids = [job_id for _, job_id in open_jobs]
        chosen = self.following if self.following in ids else self.pending.value
        self.pending.options = open_jobs
        self.pending.value = chosen if chosen in ids else (ids[0] if ids else None)
        longest = max((len(label) for label, _ in open_jobs), default=24)
        # ch is the width of a digit, wider than most letters: the name fits with room to spare.
        self.pending.layout.width = f"calc({longest}ch + 100px)"
        self.resume_button.disabled = not open_jobs or self.following is not None

    def resume(self) -> None:
        """Wait on the selected open job, with live progress (what the button does)."""
        job_id = self.pending.value
        if not job_id or self.following is not None:
            return
        self.resume_button.disabled = True
        self.run(lambda: self._resume(str(job_id)))

    async def _resume(self, job_id: str) -> None:
        self.following = job_id
        self.job = None
        self.results.value = previous_results(self._results_html, "images of the job before")
        failure: Exception | None = None
        try:
            self.job = self._aclient.jobs.get(job_id)
            self.progress.start(self.job.expected, "checking…")
            self.show_info(f"Following job {job_id}…")
            self.refresh()
            await self.job.wait(on_progress=self._on_progress)
        except Exception as exc:
            failure = exc
            self.progress.fail(describe_error(exc))
        finally:
            self.following = None
            self.refresh()
        images = list(self.job.images) if self.job is not None else []
        await self._show_images(job_id, images, ended=failure is None)
        if failure is not None:
            raise failure
        self.finish(f"Job {job_id} is complete: {len(images)} images.")

    def _on_progress(self, event: ProgressEvent) -> None:
        self.progress.update(event)
        if self._pace.due():
            self.refresh()

    async def _show_images(self, job_id: str, images: list[Any], *, ended: bool) -> None:
        """The job's images under the table (those that came, if it did not end well)."""
        if not images:
            self._results_html = ""
            self.results.value = ""
            return
        what = "Images of job" if ended else "Images that came before it stopped, job"
        kinds = {getattr(image, "image_type", None) for image in images}
        markup = await asyncio.to_thread(
            display.show_images,
            images,
            group_by="image_type" if len(kinds) > 1 else None,
            title=f"{what} {job_id}",
        )
        self._results_html = str(markup)
        self.results.value = self._results_html

    def snapshot_results(self) -> str:
        return f"{self.table.value}{self._results_html}"


def _table(records: Sequence[Any], now: float) -> str:
    """The ledger's rows (``JobRecord``) as an escaped HTML table."""
    head = "".join(
        f"<th>{name}</th>"
        for name in ("job", "kind", "server id", "state", "status", "images", "submitted")
    )
    rows = []
    for r in records:
        cells = (
            f"<code>{html.escape(r.id)}</code>",
            html.escape(r.kind),
            f"<code>{html.escape(r.remote_id or '')}</code>",
            html.escape(r.state),
            html.escape(r.status or ""),
            f"{r.done} / {r.expected}",
            f"{_age(now - r.submitted_at)} ago",
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    empty = "<tr><td colspan='7' class='ev-none'>no jobs yet</td></tr>"
    return (
        f"<div class='ev-jobs'><style>{_TABLE_CSS}</style>"
        f"<table><tr>{head}</tr>{''.join(rows) or empty}</table></div>"
    )
