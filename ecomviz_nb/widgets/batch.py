"""``ev.BatchPanel``: a CSV of items, one request for all, Start / Pause / Resume, live counts."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .. import config
from ..batch_ledger import BatchBook
from ..client import AsyncClient, Client
from ..display import show_images
from ..errors import ValidationError
from ..models import GeneratedImage, GenerateRequest, Product
from ..runs import BatchResult, batch_async, resume_batch_async
from ..runs.items import ItemSpec, read_items
from ._base import Panel, ProgressView, describe_error, mask_local
from .generate import GeneratePanel

__all__ = ["BatchPanel"]

MAX_CONCURRENCY = 64
"""The most items a panel's batch works on at once."""
GRID_IMAGES = 24
"""The grid shows the first image of this many most recently finished items."""
GRID_SIZE = 128
"""Side of a grid tile, px."""
COUNTERS_EVERY = 0.25
"""Seconds between redraws of the counters (at most four a second)."""
GRID_EVERY = 1.0
"""Seconds between drawings of the grid (at most one a second)."""
_TERMINAL = ("completed", "failed", "unknown")
_GREY = "var(--jp-ui-font-color2,#57606a)"
_RED = "var(--jp-error-color1,#b00020)"
_AMBER = "var(--jp-ui-font-color1,#1f2328)"  # no JupyterLab orange reads in both themes
_NOT_IN_NAME = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')  # the name is a file name, too


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _check_name(name: str) -> str:
    """The batch name, stripped; it also names the uploaded CSV's file.

    Raises:
        ValidationError: empty, too long, or a character no file name may hold (bidi
            controls and other invisible format characters, too: they disguise the name).
    """
    name = name.strip()
    format_chars = any(unicodedata.category(ch) == "Cf" for ch in name)  # U+202E and the like
    if (
        not name
        or len(name) > 100
        or _NOT_IN_NAME.search(name)
        or name.startswith(".")
        or format_chars
    ):
        raise ValidationError(
            "name",
            name,
            'up to 100 characters, no < > : " / \\ | ? *, control characters or invisible '
            "format characters (such as the bidi override U+202E)",
        )
    return name


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What Start sends; ``request`` None continues the named batch as the ledger holds it."""

    name: str
    request: GenerateRequest | None
    concurrency: int
    path: Path | None
    upload: tuple[str, bytes] | None


@dataclasses.dataclass(eq=False)
class _Live:
    """The batch in flight, as its updates report it."""

    control: asyncio.Event
    result: BatchResult | None = None
    changed: bool = False
    finished: int = -1
    grid_due: bool = False
    closed: bool = False
    drawing: asyncio.Task[None] | None = None


class BatchPanel(Panel):
    """Generate one request for every item of a CSV catalogue, resumable by the batch's name.

    The CSV (a path, or a file uploaded with the button) has a ``label`` and an ``image_urls``
    (several split by ``|``) or ``product_id`` column; the line under it counts the rows and
    the refused ones, sending nothing. The request controls are the :class:`GeneratePanel`'s.
    Start runs ``ev.runs.batch_async`` in a task on the kernel's loop: Pause lets the items in
    flight finish and starts no new one until Resume. The bar and counters (done, failed,
    unknown, in flight, queued, items per minute, ETA) follow it at most four times a second,
    and the grid of the latest images (drawn off the loop) at most once a second. Failed
    items are listed with their reasons. ``panel.result`` holds the ``BatchResult``.

    Every item's progress is in the job ledger under the batch's name: Start with the same
    name, CSV and request (after a kernel restart, say) continues the batch, and Start with
    the name alone (no CSV) continues it with the request it was started with. An uploaded
    file is kept as ``$ECOMVIZ_HOME/batches/<name>.csv``.

    Args:
        client: an ``ev.Client`` or ``ev.AsyncClient`` (an ``ev.Client``'s async twin, made
            by the panel, is closed by ``panel.close()``).
        name: the batch's name (default ``batch-<date>-<time>``).

    Parts: ``csv_path``, ``upload``, ``source_line``, ``request_controls`` (a GeneratePanel
    whose inputs are shown here: ``rows``, ``vto_enabled``, ``vto_colors``, ``region``,
    ``platform``, ``language``, ``remove_brand_logo``, ``change_portrait``, ``webhook_url``),
    ``batch_name``, ``concurrency``, ``plan_line``, ``start_button``, ``pause_button``,
    ``resume_button``, ``status``, ``progress``, ``counters``, ``results``.
    """

    title = "Batch"

    def __init__(self, client: Client | AsyncClient, *, name: str | None = None) -> None:
        self.client = client
        self._aclient = self._async_of(client)
        self.result: BatchResult | None = None
        """The batch as it runs, then as it ended."""
        self.control: asyncio.Event | None = None
        """Set while the batch runs, cleared while it is paused."""
        self._book = BatchBook(self._aclient.ledger, self._aclient.base_url)
        self._plan: _Plan | None = None
        self._live: _Live | None = None
        self._specs: list[ItemSpec] | None = None
        self._uploaded: tuple[str, bytes] | None = None
        self._stored_for: tuple[str, tuple[int, int] | None] | None = None
        self._results_html = ""

        self.csv_path = widgets.Text(
            placeholder="catalogue.csv",
            description="CSV",
            continuous_update=False,
            layout=widgets.Layout(width="60%"),
        )
        self.upload = widgets.FileUpload(accept=".csv", multiple=False, description="Upload CSV")
        self.source_line = widgets.HTML()
        """Rows and refused rows of the CSV (nothing is sent), or why it cannot be read."""
        # The generate panel's own inputs and request builder, shown here (never displayed).
        self.request_controls = GeneratePanel(self._aclient, Product(id="batch"))
        gp = self.request_controls
        self.rows = gp.rows
        self.vto_enabled, self.vto_colors = gp.vto_enabled, gp.vto_colors
        self.region, self.platform, self.language = gp.region, gp.platform, gp.language
        self.remove_brand_logo, self.change_portrait = gp.remove_brand_logo, gp.change_portrait
        self.webhook_url = gp.webhook_url
        request_json = widgets.Accordion(
            children=[gp.preview], titles=("Request JSON (the same for every item)",)
        )
        self.batch_name = widgets.Text(
            value=name or self._new_name(),
            description="name",
            layout=widgets.Layout(width="360px"),
        )
        self.concurrency = widgets.IntText(
            value=16, description="at once", layout=widgets.Layout(width="160px")
        )
        self.plan_line = widgets.HTML()
        """What Start will send, or why it cannot."""
        self.start_button = widgets.Button(description="Start", button_style="primary", icon="play")
        self.pause_button = widgets.Button(description="Pause", icon="pause", disabled=True)
        self.resume_button = widgets.Button(description="Resume", icon="play", disabled=True)
        self.progress = ProgressView()
        self.progress.label.layout.display = "none"  # the counters say more
        self.counters = widgets.HTML()
        """Done, failed, unknown, in flight, queued, items per minute and ETA."""
        self.counters.add_class("ev-counters")
        self.results = widgets.HTML(layout=widgets.Layout(margin="6px 2px 2px 2px"))
        """Failed and unknown items with their reasons, then the latest images."""
        super().__init__([])
        self.children = (
            widgets.HTML("<h4 style='margin:4px 0'>Batch: one request for every item</h4>"),
            widgets.HBox([self.csv_path, self.upload]),
            self.source_line,
            *self.rows.values(),
            widgets.HBox([self.vto_enabled, self.vto_colors]),
            widgets.HBox([self.region, self.platform, self.language]),
            widgets.HBox([self.remove_brand_logo, self.change_portrait]),
            self.webhook_url,
            request_json,
            widgets.HBox([self.batch_name, self.concurrency]),
            self.plan_line,
            widgets.HBox([self.start_button, self.pause_button, self.resume_button]),
            self.status,
            self.progress,
            self.counters,
            self.results,
        )
        self.start_button.on_click(lambda _b: self.start())
        self.pause_button.on_click(lambda _b: self.pause())
        self.resume_button.on_click(lambda _b: self.resume())
        self.csv_path.observe(self._path_changed, names="value")
        self.upload.observe(self._uploaded_file, names="value")
        for control in (*gp._controls(), self.batch_name, self.concurrency):
            control.observe(lambda _change: self._refresh(), names="value")
        self._read_source()

    def _new_name(self) -> str:
        """``batch-<date>-<time>``, with ``-2``, ``-3`` … when the ledger has that one."""
        base = "batch-" + datetime.now().strftime("%Y%m%d-%H%M%S")
        name, n = base, 1
        while self._book.load(name) is not None:
            n += 1
            name = f"{base}-{n}"
        return name

    # ---- state

    @property
    def running(self) -> bool:
        """Whether a batch is in flight (paused or not)."""
        return self._live is not None and not self._live.closed

    @property
    def paused(self) -> bool:
        """Whether the batch in flight is paused (its items in flight may still finish)."""
        return self.running and self.control is not None and not self.control.is_set()

    def _buttons(self) -> None:
        self.start_button.disabled = self.running or self._plan is None
        self.pause_button.disabled = not self.running or self.paused
        self.resume_button.disabled = not self.paused

    # ---- the source

    def _path_changed(self, change: dict[str, Any]) -> None:
        if change["new"].strip():
            self._uploaded = None  # the last one chosen wins
        self._read_source()

    def _uploaded_file(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        first = files[0]
        self._uploaded = (str(first.get("name") or "upload.csv"), bytes(first["content"]))
        # Kept here, not in the widget: its state would carry the catalogue into the notebook.
        self.upload.value = ()
        if self.csv_path.value:
            self.csv_path.value = ""  # reads the source again
        else:
            self._read_source()

    def _read_source(self) -> None:
        """Check the CSV's rows (nothing is sent), then what Start would do."""
        self._specs, where = None, ""
        try:
            if self._uploaded is not None:
                where = f"uploaded {self._uploaded[0]}"
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / "upload.csv"
                    path.write_bytes(self._uploaded[1])
                    self._specs = read_items(path)
            elif self.csv_path.value.strip():
                path = Path(self.csv_path.value.strip()).expanduser()
                where = path.name
                self._specs = read_items(path)
        except ValidationError as exc:
            self._source_line(f"{where}: {describe_error(exc)}", _RED)
        except (OSError, UnicodeDecodeError) as exc:
            self._source_line(f"{where}: cannot read it as UTF-8 CSV text ({exc})", _RED)
        else:
            if self._specs is None:
                self._source_line(
                    "a CSV with label and image_urls (URLs split by |) or product_id columns",
                    _GREY,
                )
            else:
                refused = [s for s in self._specs if s.error]
                line = f"{where} · {_plural(len(self._specs), 'row')}"
                if refused:
                    why = refused[0].error or ""
                    why = why if len(why) <= 120 else why[:119] + "…"
                    line += f" · {len(refused)} refused ({why})"
                self._source_line(line, "inherit")
        self._refresh()

    def _source_line(self, text: str, colour: str) -> None:
        text = mask_local(self._aclient.base_url, text)
        self.source_line.value = (
            f"<div class='ev-source' style='color:{colour};font-size:12px;margin:0 0 4px 90px'>"
            f"{html.escape(text)}</div>"
        )

    # ---- the plan

    def _stored(self, name: str) -> tuple[int, int] | None:
        """Items and finished items of the batch ``name`` in the ledger, if there is one.

        Read once per name (a batch's rows can be many), again after each run.
        """
        if self._stored_for is None or self._stored_for[0] != name:
            found = self._book.load(name)
            rows = found[1] if found is not None else None
            counted = None if rows is None else (len(rows), sum(r.state in _TERMINAL for r in rows))
            self._stored_for = (name, counted)
        return self._stored_for[1]

    def _refresh(self) -> None:
        """Work out what Start would send; show it, or every reason it cannot."""
        problems: list[str] = []
        name = ""
        try:
            name = _check_name(self.batch_name.value)
        except ValidationError as exc:
            problems.append(describe_error(exc))
        stored = self._stored(name) if name else None
        count = self.concurrency.value
        if not 1 <= count <= MAX_CONCURRENCY:
            problems.append(
                describe_error(
                    ValidationError(
                        "concurrency", count, f"a whole number from 1 to {MAX_CONCURRENCY}"
                    )
                )
            )
        has_source = self._uploaded is not None or bool(self.csv_path.value.strip())
        request: GenerateRequest | None = None
        if has_source:
            if self._specs is None:
                problems.append("CSV: see the line under it")
            elif not any(not s.error for s in self._specs):
                first = next((s.error for s in self._specs if s.error), "")
                why = f" ({first if len(first) <= 120 else first[:119] + '…'})" if first else ""
                problems.append(f"CSV: 0 items to send{why}")
            try:
                request = self.request_controls.build_request()
            except ValidationError as exc:
                problems.append(describe_error(exc))
        elif stored is None:
            problems.append("CSV: type the path of a file, or upload one")
        if problems:
            self._plan = None
            self.plan_line.value = "".join(
                f"<div style='color:{_RED};white-space:pre-wrap'>Cannot start: "
                f"{html.escape(p)}</div>"
                for p in problems
            )
            self._buttons()
            self.refresh_snapshot_soon()
            return
        path = None
        if self._uploaded is None and has_source:
            path = Path(self.csv_path.value.strip()).expanduser()
        self._plan = _Plan(name, request, count, path, self._uploaded)
        self.plan_line.value = self._describe(self._plan, stored)
        self._buttons()
        self.refresh_snapshot_soon()

    def _describe(self, plan: _Plan, stored: tuple[int, int] | None) -> str:
        name = f"<b>{html.escape(plan.name)}</b>"
        at_once = f"{plan.concurrency} at once"
        if plan.request is None:
            assert stored is not None
            line = (
                f"Start continues batch {name} from the ledger: {_plural(stored[0], 'item')}, "
                f"{stored[1]} finished, with the request it was started with · {at_once}"
            )
            return f"<div class='ev-plan'>{line}</div>"
        specs = self._specs or []
        good = sum(not s.error for s in specs)
        each = plan.request.expected_images
        line = (
            f"Start sends batch {name}: {_plural(good, 'item')}, {_plural(each, 'image')} each "
            f"({_plural(good * each, 'image')}) · {at_once}"
        )
        refused = len(specs) - good
        if refused:
            line += f" <span style='color:{_GREY}'>({refused} refused: failed at once)</span>"
        if stored is not None and stored[1] >= stored[0]:
            line += (
                f"<div style='color:{_AMBER}'>A finished batch of this name is in the ledger "
                f"({_plural(stored[0], 'item')}): Start shows it again; a new name starts a new "
                "batch.</div>"
            )
        elif stored is not None:
            line += (
                f"<div style='color:{_AMBER}'>A batch of this name is in the ledger "
                f"({_plural(stored[0], 'item')}, {stored[1]} finished): Start continues it if "
                "the CSV and the request are the same; with the CSV field empty, as it was "
                "started.</div>"
            )
        return f"<div class='ev-plan'>{line}</div>"

    # ---- running

    def _materialise(self, plan: _Plan) -> Path | None:
        """The CSV to send: an upload is first kept as ``$ECOMVIZ_HOME/batches/<name>.csv``.

        Raises:
            ValidationError: that file holds another CSV of a batch still in the ledger.
        """
        if plan.upload is None:
            return plan.path
        target = config.resolve_home() / "batches" / f"{plan.name}.csv"
        content = plan.upload[1]
        if target.is_file() and target.read_bytes() != content and self._stored(plan.name):
            raise ValidationError(
                "name",
                plan.name,
                f"a new name: {target} holds the CSV of the batch of that name in the ledger",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return target

    def start(self) -> None:
        """Start (or continue) the batch (what Start does); ignored while one runs."""
        plan = self._plan
        if self.running or plan is None:
            return
        try:
            source = self._materialise(plan)
        except (ValidationError, OSError) as exc:
            self.show_error(describe_error(exc))
            return
        control = asyncio.Event()
        control.set()
        live = _Live(control)
        self.control, self._live = control, live
        self._buttons()
        self.progress.start(max(1, len(self._specs or [])))
        self.counters.value = ""
        if self._results_html:
            self.results.value = (
                f"<div style='font-size:12px;color:{_GREY}'>previous batch</div>"
                f"<div style='opacity:.4;filter:grayscale(1)'>{self._results_html}</div>"
            )
        self.show_info(f"Running batch {plan.name}…")
        self.run(lambda: self._batch(plan, source, live))

    def pause(self) -> None:
        """Let the items in flight finish and start no new one (what Pause does)."""
        if self.running and self.control is not None and self.control.is_set():
            self.control.clear()
            self._buttons()
            if self.result is not None:
                self._show_counters(self.result)
            self.show_info("Paused: the items in flight finish, no new one starts until Resume.")

    def resume(self) -> None:
        """Go on after a pause (what Resume does)."""
        if self.paused and self.control is not None:
            self.control.set()
            self._buttons()
            if self.result is not None:
                self._show_counters(self.result)
            self.show_info("Running again…")

    async def _batch(self, plan: _Plan, source: Path | None, live: _Live) -> None:
        def on_update(result: BatchResult) -> None:
            # Called at every step of every item: no counting here, the follower counts.
            live.result = self.result = result
            live.changed = True

        follower = asyncio.get_running_loop().create_task(self._follow(live))
        try:
            options: dict[str, Any] = {
                "concurrency": plan.concurrency,
                "on_update": on_update,
                "control": live.control,
            }
            if plan.request is None:
                result = await resume_batch_async(self.client, plan.name, **options)
            else:
                result = await batch_async(
                    self.client, source, plan.request, name=plan.name, **options
                )
            live.result = self.result = result
            follower.cancel()
            if live.drawing is not None:
                live.drawing.cancel()
            self._show_counters(result)
            self._show_results(result, await self._grid(result))
            self._report(result)
        except Exception as exc:
            self.progress.fail(describe_error(exc))
            raise
        finally:
            follower.cancel()
            live.closed = True
            self._stored_for = None
            if live.drawing is not None:
                live.drawing.cancel()
            self._refresh()

    async def _follow(self, live: _Live) -> None:
        """Redraw the counters (4 a second at most) and start grid drawings (1 a second)."""
        loop = asyncio.get_running_loop()
        counted = drawn = 0.0
        while True:
            now = loop.time()
            if live.result is not None and (live.changed or now - counted >= 1.0):
                live.changed, counted = False, now  # once a second anyway: rate and ETA move
                self._show_counters(live.result)
                finished = live.result.count(*_TERMINAL)
                if finished != live.finished:
                    live.finished, live.grid_due = finished, True
            drawing = live.drawing
            due = live.grid_due and now - drawn >= GRID_EVERY
            if due and live.result is not None and (drawing is None or drawing.done()):
                live.grid_due, drawn = False, now
                live.drawing = loop.create_task(self._redraw(live, live.result))
            await asyncio.sleep(COUNTERS_EVERY)

    async def _redraw(self, live: _Live, result: BatchResult) -> None:
        grid = await self._grid(result)
        if not live.closed:
            self._show_results(result, grid)

    async def _grid(self, result: BatchResult) -> str:
        """The latest images as a grid, fetched and drawn in a thread (the loop runs on)."""
        latest = result.latest(GRID_IMAGES)  # read here: the batch changes its items
        if not latest:
            return ""
        try:
            return str(await asyncio.to_thread(_draw_grid, latest))
        except Exception as exc:  # a grid is a view: the counts and the result stand
            return (
                f"<div style='color:{_RED}'>The images could not be drawn: "
                f"{html.escape(describe_error(exc))}</div>"
            )

    def _show_counters(self, result: BatchResult) -> None:
        self.progress.bar.max = max(1, len(result.items))
        self.progress.bar.value = min(result.count(*_TERMINAL), self.progress.bar.max)
        held = (
            f"<div style='color:{_AMBER}'>paused: the rate and ETA count the pause</div>"
            if self.paused
            else ""
        )
        self.counters.value = result.counts_html() + held

    def _show_results(self, result: BatchResult, grid: str) -> None:
        self._results_html = self._problems(result) + grid
        self.results.value = self._results_html

    def _problems(self, result: BatchResult) -> str:
        """Failed and unknown items with their reasons (escaped, a local server's address
        masked)."""
        base = self._aclient.base_url
        parts = ""
        for items, word, note in (
            (result.failed, "failed", ""),
            (result.unknown, "unknown", ": the answer to a paid request was lost; check them"),
        ):
            if not items:
                continue
            shown = "".join(
                f"<li>{html.escape(i.label)}: {html.escape(mask_local(base, i.error or word))}</li>"
                for i in items[:20]
            )
            more = f"<li>and {len(items) - 20} more</li>" if len(items) > 20 else ""
            parts += (
                f"<div class='ev-failures' style='color:{_RED};font-size:12px'>"
                f"<b>{len(items)} {word}</b>{html.escape(note)}"
                f"<ul style='margin:2px 0'>{shown}{more}</ul></div>"
            )
        return parts

    def _report(self, result: BatchResult) -> None:
        s = result.summary()
        self.progress.bar.value = self.progress.bar.max
        bad = s["failed"] + s["unknown"]
        self.progress.bar.bar_style = (
            "success" if not bad else ("warning" if s["completed"] else "danger")
        )
        text = (
            f"Batch {result.name}: {s['completed']} of {s['items']} completed · "
            f"{s['failed']} failed · {s['unknown']} unknown · {_plural(s['images'], 'image')} · "
            f"{s['seconds']:g} s"
        )
        if not bad:
            self.finish(text)
            return
        self.status.value = f"<div style='color:{_AMBER}'>{html.escape(text)}: see below</div>"

    # ---- the saved snapshot

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        if self._uploaded is not None:
            source = f"uploaded {self._uploaded[0]}"
        else:
            source = self.csv_path.value.strip() or "none (continue from the ledger)"
        request = [p for p in self.request_controls.snapshot_inputs() if p[0] != "product"]
        return [
            ("CSV", source),
            ("name", self.batch_name.value),
            ("at once", str(self.concurrency.value)),
            *request,
        ]

    def snapshot_results(self) -> str:
        if self.result is None:
            return ""
        return f"{self.result.counts_html()}{self._results_html}"

    def close(self) -> None:
        """Close the panel (see ``Panel.close``) and the request controls it shows."""
        super().close()
        self.request_controls.close()


def _draw_grid(latest: list[tuple[GeneratedImage, str]]) -> str:
    return str(show_images(latest, size=GRID_SIZE))
