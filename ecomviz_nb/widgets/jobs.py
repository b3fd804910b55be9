"""``ev.JobsPanel``: the ledger's jobs, and a way to resume waiting on one."""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets

from ..client import AsyncClient, Client
from ._base import Panel, ProgressView, describe_error

__all__ = ["JobsPanel"]

_OPEN_STATES = ("submitted", "submitting", "unknown")


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


class JobsPanel(Panel):
    """The jobs this server's client submitted (from the ledger), newest first.

    Parts: ``table`` (HTML), ``pending`` (a Dropdown of jobs still open), ``resume_button``,
    ``refresh_button``, ``progress``, ``status``.
    """

    title = "Jobs"

    def __init__(self, client: Client | AsyncClient, *, limit: int = 50) -> None:
        self.client = client
        self._aclient = self._async_of(client)
        self.limit = limit
        self.table = widgets.HTML()
        self.pending = widgets.Dropdown(options=[], description="open job")
        self.resume_button = widgets.Button(description="Resume waiting", icon="play")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.progress = ProgressView()
        self.job: Any = None
        super().__init__(
            [
                self.table,
                widgets.HBox([self.pending, self.resume_button, self.refresh_button]),
                self.progress,
            ]
        )
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.resume_button.on_click(lambda _b: self.resume())
        self.refresh()

    def refresh(self) -> None:
        """Re-read the ledger."""
        records = self._aclient.ledger.list(base_url=self._aclient.base_url, limit=self.limit)
        now = time.time()
        rows = []
        for r in records:
            remote = html.escape(r.remote_id or "")
            rows.append(
                f"<tr><td><code>{html.escape(r.id)}</code></td><td>{html.escape(r.kind)}</td>"
                f"<td><code>{remote}</code></td><td>{html.escape(r.state)}</td>"
                f"<td>{html.escape(r.status or '')}</td><td>{r.done} / {r.expected}</td>"
                f"<td>{_age(now - r.submitted_at)} ago</td></tr>"
            )
        head = (
            "<tr><th>job</th><th>kind</th><th>server id</th><th>state</th><th>status</th>"
            "<th>images</th><th>submitted</th></tr>"
        )
        body = "".join(rows) or "<tr><td colspan='7'>no jobs yet</td></tr>"
        self.table.value = (
            "<table style='border-collapse:collapse;font-size:13px' cellpadding='4'>"
            f"{head}{body}</table>"
        )
        open_jobs = [
            (f"{r.id} · {r.kind} · {r.done}/{r.expected}", r.id)
            for r in records
            if r.state in _OPEN_STATES and r.remote_id
        ]
        self.pending.options = open_jobs
        self.pending.value = open_jobs[0][1] if open_jobs else None
        self.resume_button.disabled = not open_jobs
        self.refresh_snapshot_soon()

    def resume(self) -> None:
        """Wait on the selected open job, with live progress (what the button does)."""
        job_id = self.pending.value
        if not job_id:
            return
        self.resume_button.disabled = True
        self.run(lambda: self._resume(str(job_id)))

    async def _resume(self, job_id: str) -> None:
        try:
            self.job = self._aclient.jobs.get(job_id)
            self.progress.start(self.job.expected, "checking…")
            await self.job.wait(on_progress=self.progress.update)
            self.show_info(f"Job {job_id} is complete.")
        except Exception as exc:
            self.progress.fail(describe_error(exc))
            raise
        finally:
            self.refresh()

    def snapshot_results(self) -> str:
        return str(self.table.value)
