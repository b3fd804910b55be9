"""``HistoryStrip``: a panel's finished runs, one compact row each, to reload or compare."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from ..htmlkit import esc, shareable
from ..images import ImageError, ImageStore, default_store
from ..runs.history import HistoryRun, RunComparison, RunHistory, change_text, compare
from ._base import ERROR_COLOR, HINT_COLOR, TEXT_COLOR, describe_error

__all__ = ["HistoryRow", "HistoryStrip"]

THUMB_HEIGHT = 48
"""Height of a row's thumbnails, px."""
MATRIX_HEIGHT = 128
"""Height of the comparison matrix's pictures, px."""
_THUMB_SIZE = 96  # the longest side fetched: sharp at 48 px on a high-density screen
_EMPTY = "No finished runs yet: each run will be kept here, to reload or compare."
_HINT = "Tick two or more runs to compare them."

LoadCallback = Callable[[HistoryRun], Any]
"""What ``on_load`` registers: called with the run whose settings are to be loaded."""


def _thumbs_html(run: HistoryRun, uris: Sequence[str | ImageError], more: int) -> str:
    """A row's pictures: escaped captions; a picture that failed is a small grey box."""
    shown = []
    for image, uri in zip(run.images, uris, strict=False):
        caption = " · ".join(str(p) for p in (image.image_type, image.color) if p)
        if isinstance(uri, ImageError):
            shown.append(
                f"<span title='{shareable(uri)}' style='display:inline-block;"
                f"width:{THUMB_HEIGHT}px;height:{THUMB_HEIGHT}px;"
                f"border:1px dashed {HINT_COLOR};border-radius:4px'></span>"
            )
            continue
        shown.append(
            f"<img src='{uri}' alt='{shareable(caption)}' title='{shareable(caption)}' "
            f"style='height:{THUMB_HEIGHT}px;width:auto;border-radius:4px;margin-right:4px;"
            f"vertical-align:middle'>"
        )
    if more > 0:
        shown.append(f"<span style='color:{HINT_COLOR};font-size:12px'>+{more}</span>")
    return f"<div style='white-space:nowrap'>{''.join(shown)}</div>"


def _info_html(run: HistoryRun, change: str) -> str:
    """Time and state on the first line, what changed on the next; every string escaped."""
    state = f"{len(run.images)} of {run.expected} images"
    colour = HINT_COLOR
    if run.state != "completed" or run.error:
        state = f"{run.state}: {run.error}" if run.error else run.state
        colour = ERROR_COLOR
    return (
        f"<div style='color:{TEXT_COLOR};font-size:12px;line-height:1.4;overflow-wrap:anywhere'>"
        f"<b>{esc(run.when)}</b> <span style='color:{colour}'>{shareable(state)}</span><br>"
        f"{shareable(change)}</div>"
    )


class HistoryRow(widgets.HBox):
    """One past run: a ``compare`` tick, its time and changes, thumbnails, a load button."""

    def __init__(self, run: HistoryRun, *, change: str, thumbs: str) -> None:
        self.run = run
        self.tick = widgets.Checkbox(
            value=False, description="compare", indent=False, layout=widgets.Layout(width="auto")
        )
        self.info = widgets.HTML(layout=widgets.Layout(flex="1 1 auto", min_width="180px"))
        self.thumbs = widgets.HTML(thumbs, layout=widgets.Layout(flex="0 0 auto"))
        self.load_button = widgets.Button(
            description="load these settings",
            icon="undo",
            tooltip="put this run's parameters back into the form",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),
        )
        super().__init__(
            [self.tick, self.info, self.thumbs, self.load_button],
            layout=widgets.Layout(align_items="center", grid_gap="8px", margin="2px 0"),
        )
        self.set_change(change)

    def set_change(self, change: str) -> None:
        """Say what changed since the run before (the neighbours change when runs are added)."""
        self.info.value = _info_html(self.run, change)


class HistoryStrip(widgets.VBox):
    """The finished runs of a panel, newest first: tick some to compare, or reload one.

    Args:
        history: where the runs come from (:class:`~ecomviz_nb.runs.history.RunHistory`).
        thumbnails: pictures shown per row (the rest are counted).
        store: the image store for thumbnails (default: the one of ``ECOMVIZ_HOME``).

    Parts: ``title``, ``rows`` (a list of :class:`HistoryRow`, newest first),
    ``compare_button``, ``message``, ``matrix``. A panel calls :meth:`refresh` (or
    ``await strip.refresh_async()``) once, :meth:`add` after each run, and registers with
    :meth:`on_load` what puts a run's parameters back into its form.
    """

    def __init__(
        self, history: RunHistory, *, thumbnails: int = 4, store: ImageStore | None = None
    ) -> None:
        self.history = history
        self.thumbnails = thumbnails
        self._store = store
        self.title = widgets.HTML()
        self.rows_box = widgets.VBox()
        self.rows: list[HistoryRow] = []
        self.compare_button = widgets.Button(
            description="Compare ticked",
            icon="columns",
            disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self.message = widgets.HTML()
        self.matrix = widgets.HTML()
        self.comparison: RunComparison | None = None
        """The runs last compared, as a sweep-like result (``ev.Report().add(...)`` takes it)."""
        self._callbacks: list[LoadCallback] = []
        self._added: list[HistoryRun] = []  # what add() put on top, oldest first
        self._thumbs: dict[str, str] = {}  # job id -> thumbnails markup, made once per run
        bar = widgets.HBox(
            [self.compare_button, self.message], layout=widgets.Layout(align_items="center")
        )
        super().__init__([self.title, self.rows_box, bar, self.matrix])
        self.add_class("ev-history")
        self.compare_button.on_click(lambda _b: self.compare())
        self._redraw()

    # ---- what a panel calls

    def on_load(self, callback: LoadCallback) -> None:
        """Call ``callback(run)`` when a row's "load these settings" is clicked.

        ``run.params`` holds the parameters as the form holds them and ``run.request`` the
        whole request (:class:`~ecomviz_nb.runs.history.HistoryRun`).
        """
        self._callbacks.append(callback)

    def refresh(self) -> None:
        """Read the history again from the ledger (and the images from the server)."""
        runs = self.history.runs()
        self.show(runs, self._make_thumbs(runs))

    async def refresh_async(self) -> None:
        """:meth:`refresh` without blocking the kernel (for an ``ev.AsyncClient``).

        A run :meth:`add_async` puts on top while the ledger is being read stays on top.
        """
        added = len(self._added)
        runs = await self.history.runs_async()
        thumbs = await asyncio.to_thread(self._make_thumbs, runs)
        self.show(self._on_top(self._added[added:], runs), thumbs)

    def add(self, run: HistoryRun | Any) -> HistoryRun:
        """Put a run that has just ended at the top (a run or its job); returns the run."""
        found = run if isinstance(run, HistoryRun) else HistoryRun.of_job(run)
        self._put_on_top(found, self._make_thumbs([found]))
        return found

    async def add_async(self, run: HistoryRun | Any) -> HistoryRun:
        """:meth:`add` with the thumbnails fetched off the kernel's loop."""
        found = run if isinstance(run, HistoryRun) else HistoryRun.of_job(run)
        self._put_on_top(found, await asyncio.to_thread(self._make_thumbs, [found]))
        return found

    def _put_on_top(self, run: HistoryRun, thumbs: dict[str, str]) -> None:
        self._added = [*self._added[-self.history.limit + 1 :], run]
        self.show(self._on_top([run], self.runs), thumbs)

    def _on_top(self, added: Sequence[HistoryRun], runs: Sequence[HistoryRun]) -> list[HistoryRun]:
        """``runs`` under the ``added`` ones (oldest first), newest first, each once."""
        ids = {run.job_id for run in added}
        top = [*reversed(added), *(r for r in runs if r.job_id not in ids)]
        return top[: self.history.limit]

    # ---- state

    @property
    def runs(self) -> list[HistoryRun]:
        """The runs shown, newest first."""
        return [row.run for row in self.rows]

    @property
    def ticked(self) -> list[HistoryRun]:
        """The runs ticked for comparison, newest first."""
        return [row.run for row in self.rows if row.tick.value]

    def show(self, runs: Sequence[HistoryRun], thumbs: dict[str, str] | None = None) -> None:
        """Show these runs (newest first); a run shown before keeps its row and its tick."""
        self._thumbs.update(thumbs or {})
        old = {row.run.job_id: row for row in self.rows}
        rows = []
        for i, run in enumerate(runs):
            previous = runs[i + 1] if i + 1 < len(runs) else None
            change = change_text(run, previous)
            row = old.pop(run.job_id, None)
            if row is None:
                row = self._row(run, change)
            else:
                row.run = run
                row.thumbs.value = self._thumbs.get(run.job_id, row.thumbs.value)
                row.set_change(change)
            rows.append(row)
        for gone in old.values():
            for part in (gone.tick, gone.info, gone.thumbs, gone.load_button, gone):
                part.close()
        self.rows = rows
        self.rows_box.children = tuple(rows)
        self._redraw()

    def _row(self, run: HistoryRun, change: str) -> HistoryRow:
        row = HistoryRow(run, change=change, thumbs=self._thumbs.get(run.job_id, ""))
        row.tick.observe(lambda _c: self._redraw(), names="value")
        row.load_button.on_click(lambda _b: self.load(row.run))
        return row

    def _make_thumbs(self, runs: Sequence[HistoryRun]) -> dict[str, str]:
        """Thumbnail markup for the runs that have none yet (fetches; safe in a thread)."""
        todo = [run for run in runs if run.job_id not in self._thumbs]
        urls = [img.url for run in todo for img in run.images[: self.thumbnails]]
        store = self._store or default_store()
        uris = iter(store.data_uris(urls, _THUMB_SIZE) if urls else [])
        made = {}
        for run in todo:
            shown = run.images[: self.thumbnails]
            mine = [next(uris) for _ in shown]
            made[run.job_id] = _thumbs_html(run, mine, len(run.images) - len(shown))
        return made

    def _redraw(self) -> None:
        count = len(self.rows)
        noun = "run" if count == 1 else "runs"
        kind = "Try-on" if self.history.kind == "tryon" else "Generate"
        self.title.value = (
            f"<div style='color:{TEXT_COLOR};font-weight:600;margin:6px 0 2px'>"
            f"{kind} history <span style='color:{HINT_COLOR};font-weight:400'>"
            f"{f'{count} {noun}, newest first' if count else 'none yet'}</span></div>"
        )
        ticked = len(self.ticked)
        self.compare_button.disabled = ticked < 2
        if not count:
            self.say(_EMPTY)
        elif ticked < 2:
            self.say(_HINT if ticked == 0 else "Tick one more run to compare.")
        else:
            self.say(f"{ticked} runs ticked.")

    def say(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` (escaped) on the line beside the Compare button, red if an ``error``."""
        colour = ERROR_COLOR if error else HINT_COLOR
        self.message.value = f"<span style='color:{colour};font-size:12px'>{esc(text)}</span>"

    # ---- what the buttons do

    def load(self, run: HistoryRun) -> None:
        """Hand ``run`` to every :meth:`on_load` callback (what "load these settings" does)."""
        if not self._callbacks:
            self.say("Nothing to load these settings into.", error=True)
            return
        try:
            for callback in self._callbacks:
                callback(run)
        except Exception as exc:  # shown here: a notebook user wants a sentence
            self.say(
                f"Could not load the settings of {run.when}: {describe_error(exc)}", error=True
            )
            return
        self.say(f"Loaded the settings of the run of {run.when}.")

    def compare(self) -> RunComparison | None:
        """Show the ticked runs side by side in the matrix (what "Compare ticked" does)."""
        ticked = self.ticked
        if len(ticked) < 2:
            self.say(_HINT, error=True)
            return None
        self.comparison = compare(ticked)
        markup = self.comparison.matrix_html(height=MATRIX_HEIGHT)
        self.matrix.value = f"<div style='overflow-x:auto;max-width:100%'>{markup}</div>"
        self.say(f"{len(ticked)} runs side by side below.")
        return self.comparison

    def snapshot_html(self) -> str:
        """Static HTML of the strip (rows and matrix) for a panel's saved snapshot."""
        rows = "".join(
            f"<div style='display:flex;gap:8px;align-items:center;margin:2px 0'>"
            f"<div style='flex:1 1 auto'>{row.info.value}</div>{row.thumbs.value}</div>"
            for row in self.rows
        )
        return f"<div class='ev-history'>{self.title.value}{rows}{self.matrix.value}</div>"
