"""A sweep's progress: one bar for the whole sweep and one status line per run.

In a Jupyter kernel it is a widget (updated from the sweep's loop); elsewhere, text lines.
"""

from __future__ import annotations

import html
import sys
import threading
import time
from typing import Any, TextIO

from .batch_result import BatchResult
from .plan import SweepRun
from .result import SweepPlan

__all__ = [
    "BatchText",
    "BatchWidget",
    "TextProgress",
    "WidgetProgress",
    "batch_progress_view",
    "progress_view",
    "status_line",
]

_COLOURS = {"completed": "#1a7f37", "failed": "#b00020"}


def status_line(run: SweepRun) -> str:
    """``queued``, ``submitted``, ``2 of 3 images``, ``completed``, ``failed: <reason>``."""
    if run.state == "failed":
        return f"failed: {run.error}"
    if run.state == "completed":
        return f"completed · {len(run.images)} of {run.expected} images"
    return run.status or run.state


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class TextProgress:
    """Prints a line each time a run changes state, then a summary."""

    def __init__(self, plan: SweepPlan, out: TextIO | None = None) -> None:
        self.plan = plan
        self.out = out or sys.stdout
        self._last: dict[int, str] = {}
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self.out.write(f"sweep: {plan.describe()}\n")

    def update(self, run: SweepRun) -> None:
        with self._lock:
            if self._last.get(id(run)) == run.state:
                return
            self._last[id(run)] = run.state
            finished = sum(r.finished for r in self.plan.runs)
            self.out.write(f"[{finished}/{self.plan.run_count}] {run.label}: {status_line(run)}\n")
            self.out.flush()

    def close(self, result: Any) -> None:
        self.out.write(f"{result!r}\n")
        self.out.flush()


class WidgetProgress:
    """An ``IntProgress`` over the runs and an HTML table of status lines."""

    def __init__(self, plan: SweepPlan) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        self.plan = plan
        self.bar = widgets.IntProgress(
            value=0,
            min=0,
            max=max(1, plan.run_count),
            bar_style="info",
            layout=widgets.Layout(width="100%"),
        )
        self.label = widgets.Label(plan.describe())
        self.table = widgets.HTML(self._table())
        self.box = widgets.VBox([self.bar, self.label, self.table])
        self._lock = threading.Lock()
        self._started = time.monotonic()
        display(self.box)  # type: ignore[no-untyped-call]

    def _table(self) -> str:
        rows = ""
        for run in self.plan.runs:
            colour = _COLOURS.get(run.state, "inherit")
            rows += (
                f"<tr><td style='padding:1px 12px 1px 0'>{html.escape(run.label)}</td>"
                f"<td style='color:{colour}'>{html.escape(status_line(run))}</td></tr>"
            )
        return f"<table style='font-size:12px;border-collapse:collapse'>{rows}</table>"

    def update(self, run: SweepRun) -> None:
        with self._lock:
            finished = sum(r.finished for r in self.plan.runs)
            failed = sum(r.state == "failed" for r in self.plan.runs)
            self.bar.value = finished
            self.label.value = (
                f"{finished} of {self.plan.run_count} runs finished"
                + (f" · {failed} failed" if failed else "")
                + f" · {time.monotonic() - self._started:.0f} s"
            )
            self.table.value = self._table()

    def close(self, result: Any) -> None:
        failed = sum(r.state == "failed" for r in self.plan.runs)
        self.bar.value = self.bar.max
        self.bar.bar_style = "warning" if failed else "success"
        self.table.value = self._table()


def progress_view(plan: SweepPlan) -> TextProgress | WidgetProgress:
    """A widget in a Jupyter kernel (when ipywidgets loads), text lines elsewhere."""
    if _in_kernel():
        try:
            return WidgetProgress(plan)
        except ImportError:
            pass
    return TextProgress(plan)


def _batch_line(result: BatchResult) -> str:
    s = result.summary()
    eta = result.eta()
    line = (
        f"{result.name}: {s['completed']} done, {s['failed']} failed, {s['unknown']} unknown, "
        f"{result.in_flight} in flight, {result.queued} queued, {result.per_minute():.1f}/min"
    )
    return line + (f", ETA {eta:.0f} s" if eta is not None and result.queued else "")


class BatchText:
    """One line, rewritten in place (at most five times a second), then a summary."""

    def __init__(self, result: BatchResult, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._shown = 0.0
        self._lock = threading.Lock()
        self.update(result)

    def update(self, result: BatchResult) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._shown < 0.2:
                return
            self._shown = now
            self.out.write("\r" + _batch_line(result).ljust(100))
            self.out.flush()

    def close(self, result: BatchResult) -> None:
        self.out.write("\r" + _batch_line(result).ljust(100) + "\n")
        self.out.flush()


class BatchWidget:
    """A bar over the items and a line of counts, items per minute and ETA."""

    def __init__(self, result: BatchResult) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        self.bar = widgets.IntProgress(
            value=0,
            min=0,
            max=max(1, len(result.items)),
            bar_style="info",
            layout=widgets.Layout(width="100%"),
        )
        self.label = widgets.HTML(result.counts_html())
        self.box = widgets.VBox([self.bar, self.label])
        self._shown = 0.0
        self._lock = threading.Lock()
        display(self.box)  # type: ignore[no-untyped-call]

    def update(self, result: BatchResult) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._shown < 0.2:
                return
            self._shown = now
            self.bar.value = result.count("completed", "failed", "unknown")
            self.label.value = result.counts_html()

    def close(self, result: BatchResult) -> None:
        self.bar.value = result.count("completed", "failed", "unknown")
        self.bar.bar_style = "success" if not (result.failed or result.unknown) else "warning"
        self.label.value = result.counts_html()


def batch_progress_view(result: BatchResult) -> BatchText | BatchWidget:
    """A widget in a Jupyter kernel, one updating text line elsewhere."""
    if _in_kernel():
        try:
            return BatchWidget(result)
        except ImportError:
            pass
    return BatchText(result)
