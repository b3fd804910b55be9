"""What every panel shares: a status line, a progress bar, background work, closing."""

from __future__ import annotations

import asyncio
import contextlib
import html
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as widgets

from ..client import AsyncClient, Client
from ..errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    JobFailedError,
    JobTimeoutError,
    ValidationError,
)
from ..jobs import ProgressEvent
from ._snapshot import SNAPSHOT_KEY, SnapshotMixin, mask_local, on_off

__all__ = [
    "ERROR_COLOR",
    "HINT_COLOR",
    "SNAPSHOT_KEY",
    "TEXT_COLOR",
    "Panel",
    "ProgressView",
    "describe_error",
    "mask_local",
    "on_off",
    "on_server",
    "previous_results",
]


_CLOSING: set[asyncio.Task[None]] = set()  # strong references until the clean-ups finish

TEXT_COLOR = "var(--jp-ui-font-color1,#1f2328)"
HINT_COLOR = "var(--jp-ui-font-color2,#57606a)"
ERROR_COLOR = "var(--jp-error-color1,#b00020)"
"""Panel text colours: JupyterLab's theme variables with light fallbacks."""


def describe_error(exc: BaseException) -> str:
    """One readable sentence for an error, never a traceback (the text is not yet escaped)."""
    if isinstance(exc, ValidationError):
        return f"{exc.field}: {exc.allowed} (got {exc.value!r})"
    if isinstance(exc, AuthenticationError):
        return f"The API refused the token (HTTP {exc.status_code}): {exc.message}"
    if isinstance(exc, APIError):
        return f"The API answered HTTP {exc.status_code}: {exc.message}"
    if isinstance(exc, APIConnectionError):
        return f"No answer from the server: {exc}"
    if isinstance(exc, (JobTimeoutError, JobFailedError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def on_server(base_url: str, value: str) -> str:
    """An input URL; a path such as ``/samples/people/person-a.jpg`` means one on the server.

    Panels talking to a sandbox are given such paths, so a saved notebook's widget state never
    holds the sandbox's loopback address (its port changes every run, too).
    """
    value = value.strip()
    return base_url.rstrip("/") + value if value.startswith("/") else value


def previous_results(markup: str, label: str = "previous run") -> str:
    """``markup`` dimmed under a ``label`` line: results a new run is about to replace."""
    if not markup:
        return ""
    return (
        f"<div class='ev-previous-label' style='font-size:12px;color:{HINT_COLOR};"
        f"margin:6px 0 2px'>{html.escape(label)}</div>"
        f"<div class='ev-previous' style='opacity:.45;filter:grayscale(1)'>{markup}</div>"
    )


class ProgressView(widgets.VBox):
    """A progress bar with a line under it: ``3 of 7 images · generating · 12 s``."""

    def __init__(self) -> None:
        self.bar = widgets.IntProgress(
            value=0, min=0, max=1, bar_style="info", layout=widgets.Layout(width="100%")
        )
        self.label = widgets.Label("")
        super().__init__([self.bar, self.label], layout=widgets.Layout(display="none"))

    def start(self, expected: int, text: str = "submitting…") -> None:
        self.layout.display = ""
        self.bar.max = max(1, expected)
        self.bar.value = 0
        self.bar.bar_style = "info"
        self.label.value = text

    def update(self, event: ProgressEvent) -> None:
        """Show one :class:`ProgressEvent` (safe to pass as ``on_progress``)."""
        self.bar.max = max(1, event.expected)
        self.bar.value = min(event.done, self.bar.max)
        if event.status == "completed":
            self.bar.bar_style = "success"
        self.label.value = (
            f"{event.done} of {event.expected} images · {event.status} · {event.elapsed:.0f} s"
        )

    def fail(self, text: str) -> None:
        self.bar.bar_style = "danger"
        self.label.value = text


_PANEL_STYLE = (
    "<style>.ev-panel .jupyter-widget-Collapse-header"
    "{color:var(--jp-ui-font-color1,#1f2328)}"
    # An input that is off (its row unticked) and has no disabled state of its own.
    ".ev-panel .ev-off{opacity:.45;pointer-events:none}</style>"
)


class Panel(SnapshotMixin, widgets.VBox):
    """Base of the panels: a status line, background tasks, and a static HTML snapshot.

    A displayed panel's output holds the live widget and a static HTML snapshot of its
    inputs, status and latest results (:class:`~ecomviz_nb.widgets._snapshot.SnapshotMixin`
    says what it holds and when it is re-sent: after each piece of work and on close).

    A notebook the user saved is trusted, and JupyterLab then prefers the widget. Reopened
    without the kernel that made it, the panel is drawn from the widget state saved in the
    notebook (nbclient and the headless demo save it; in JupyterLab tick Settings > Save
    Widget State Automatically); with none saved, JupyterLab shows "Error displaying widget:
    model not found". :meth:`close` avoids that for a panel whose work is done: its output
    then holds the snapshot alone, which every viewer shows.
    """

    _twin: AsyncClient | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _closed = False
    _finished = False
    """The running work ended with :meth:`finish` (its snapshot is sent already)."""

    def __init__(
        self,
        children: list[widgets.Widget],
        *,
        status_after: widgets.Widget | None = None,
        **kwargs: Any,
    ) -> None:
        """Lay out ``children`` top to bottom, the status line right under ``status_after``
        (the panel's button row; default: the status line comes last)."""
        self.status = widgets.HTML("")
        """Messages and errors, escaped."""
        self.status.add_class("ev-status")
        self.task: asyncio.Task[None] | None = None
        """The running background job, if any (``await panel.task`` in tests)."""
        self.closing: asyncio.Task[None] | None = None
        """The clean-up :meth:`close` started on the kernel's loop, if it did."""
        self._aside: set[asyncio.Task[None]] = set()  # work started by run_aside, until done
        self._handle: Any = None
        try:  # the loop of the cell that made the panel: its work runs there (see run())
            self._home: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._home = None
        parts = list(children)
        at = parts.index(status_after) + 1 if status_after is not None else len(parts)
        parts.insert(at, self.status)
        # ipywidgets draws accordion titles grey on grey (under 4.5:1 in both themes).
        style = widgets.HTML(_PANEL_STYLE, layout=widgets.Layout(display="none"))
        super().__init__([style, *parts], **kwargs)
        self.add_class("ev-panel")

    def _async_of(self, client: Client | AsyncClient) -> AsyncClient:
        """What the work runs on: ``client`` itself, or an async twin of a sync client that
        this panel owns and :meth:`close` closes."""
        if isinstance(client, AsyncClient):
            return client
        self._twin = client.to_async()
        return self._twin

    # ---- messages

    def show_error(self, message: str) -> None:
        self.status.value = (
            f"<div style='color:{ERROR_COLOR};white-space:pre-wrap'>{html.escape(message)}</div>"
        )

    def show_info(self, message: str) -> None:
        self.status.value = f"<div style='color:{TEXT_COLOR}'>{html.escape(message)}</div>"

    def show_hint(self, message: str) -> None:
        """A neutral, grey line: what to fill in next (not an error)."""
        self.status.value = (
            f"<div class='ev-hint' style='color:{HINT_COLOR};white-space:pre-wrap'>"
            f"{html.escape(message)}</div>"
        )

    def finish(self, message: str, *, error: bool = False) -> None:
        """End a piece of work with ``message``: the snapshot is re-sent first, then it shows.

        The snapshot sent already holds the line; the live status line changes after the
        output update, which redraws the panel in JupyterLab, so whoever sees the line sees
        the panel as it stays.
        """
        with self.status.hold_sync():  # the new value reaches the page after the update
            if error:
                self.show_error(message)
            else:
                self.show_info(message)
            self.refresh_snapshot()
        # The work's own end sends nothing more: a later resend (a table's "6 s ago" has moved
        # on) would redraw the panel under the line just shown.
        self._finished = True

    def snapshot_empty(self) -> str:
        """``empty_text`` in the theme's hint colour."""
        return f"<div style='color:{HINT_COLOR}'>{html.escape(self.empty_text)}</div>"

    # ---- background work

    def run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` as a task on the kernel's running loop, so the kernel stays free.

        Without a running loop (plain Python) it runs to completion before returning, on a
        loop of the panel's own (the twin's connections belong to it). A closed panel says so
        and runs nothing.

        Work always runs on the panel's home loop (the cell's that made it, else the first
        work's): JupyterLab may deliver a click on a kernel subshell, a thread with a loop of its
        own, where the twin's connections fail ("bound to a different event loop").
        """
        if self._closed:
            self.show_error("This panel is closed: make a new one.")
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._guarded(work))
            return
        if self._home is None or self._home.is_closed() or not self._home.is_running():
            self._home = loop
        if self._home is loop:
            self.task = loop.create_task(self._guarded(work))
        else:
            self._home.call_soon_threadsafe(self._start_on, self._home, work)

    def _start_on(
        self, loop: asyncio.AbstractEventLoop, work: Callable[[], Awaitable[None]]
    ) -> None:
        self.task = loop.create_task(self._guarded(work))

    def run_aside(self, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None] | None:
        """Start ``work`` beside the panel's :attr:`task` (reading what to show, not a run).

        It does not replace :attr:`task`, so a click's run neither waits for it nor hides
        it; :meth:`close` cancels it. Its end re-sends no snapshot: it may end while a
        person types in the form, and a re-send would take the focus. Without a running loop
        it runs to completion first, as :meth:`run` does.

        Returns:
            The task on the kernel's loop (await it to know the work is done); None when
            the work already ran (no running loop) or the panel is closed.
        """
        if self._closed:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.run(work)
            return None
        if self._home is None or self._home.is_closed() or not self._home.is_running():
            self._home = loop
        task = loop.create_task(self._guarded(work, resend=False))
        self._aside.add(task)
        task.add_done_callback(self._aside.discard)
        return task

    async def _guarded(
        self, work: Callable[[], Awaitable[None]], *, resend: bool = True
    ) -> None:
        """Run ``work``, show what it raised as a sentence; then (``resend``) re-send the
        snapshot, before the error line shows, as :meth:`finish` does."""
        self._finished = False
        try:
            await work()
        except Exception as exc:  # shown in the panel: a notebook user wants a sentence
            with self.status.hold_sync():
                self.on_error(exc)
                if resend:
                    self.refresh_snapshot()
            self._finished = True
        finally:
            if resend and not self._finished:
                self.refresh_snapshot()  # skipped when the output holds this snapshot already

    def on_error(self, exc: BaseException) -> None:
        self.show_error(describe_error(exc))

    # ---- closing

    def close(self) -> None:
        """Close the panel and its parts; the output keeps the static snapshot alone.

        Work still running is cancelled (a job already submitted stays in the job ledger), and
        the async twin the panel made of a sync client is closed: at once without a running
        loop, else in :attr:`closing` on the kernel's loop. A client handed to the panel stays
        open: it is the caller's. Closing twice does nothing more.
        """
        if self._closed:
            return
        self._closed = True
        for aside in list(self._aside):
            with contextlib.suppress(RuntimeError):  # its loop is closed: nothing runs it
                aside.get_loop().call_soon_threadsafe(aside.cancel)
        task, twin, self._twin = self.task, self._twin, None
        if task is not None and not task.done():
            self.show_info("Closed before the work ended: a submitted job is in the job ledger.")
        parts = _descendants(self)
        super().close()  # the output written next names no widget any more
        for part in parts:
            part.close()
        self.refresh_snapshot()
        self._dispose(task, twin)

    def _dispose(self, task: asyncio.Task[None] | None, twin: AsyncClient | None) -> None:
        """Cancel ``task``, then close ``twin`` on the loop its connections belong to."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        home = self._home
        if self._loop is None and running not in (None, home) and home and home.is_running():
            home.call_soon_threadsafe(self._close_on, home, task, twin)  # closed on a subshell
            return
        if task is not None:
            task.cancel()  # a no-op once it is done
        own, self._loop = self._loop, None
        if own is not None:  # the work ran without a running loop, on the panel's own
            if twin is not None and running is None:
                own.run_until_complete(twin.aclose())
            elif twin is not None:  # this thread's loop is busy: run the panel's elsewhere
                worker = threading.Thread(target=own.run_until_complete, args=(twin.aclose(),))
                worker.start()
                worker.join()
            own.close()
        elif running is None:
            if twin is not None:
                asyncio.run(twin.aclose())
        else:
            self._close_on(running, task, twin)

    def _close_on(
        self,
        loop: asyncio.AbstractEventLoop,
        task: asyncio.Task[None] | None,
        twin: AsyncClient | None,
    ) -> None:
        if task is not None:
            task.cancel()
        self.closing = loop.create_task(_close_after(task, twin))
        _CLOSING.add(self.closing)
        self.closing.add_done_callback(_CLOSING.discard)

    def __del__(self) -> None:
        # Collected without close(): only the comm goes, no output is sent and no loop runs.
        widgets.VBox.close(self)


async def _close_after(task: asyncio.Task[None] | None, twin: AsyncClient | None) -> None:
    """Let a cancelled task end (it may be in a request on the twin), then close the twin."""
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if twin is not None:
        await twin.aclose()


def _descendants(widget: widgets.Widget) -> list[widgets.Widget]:
    """Every widget below ``widget`` (its children's children too)."""
    found: list[widgets.Widget] = []
    for child in getattr(widget, "children", ()):
        found.append(child)
        found.extend(_descendants(child))
    return found
