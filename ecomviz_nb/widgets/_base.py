"""What every panel shares: a status line, a progress bar, background work, a saved snapshot."""

from __future__ import annotations

import asyncio
import html
import json
import shlex
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import ipywidgets as widgets

from ..errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    JobFailedError,
    JobTimeoutError,
    ValidationError,
)
from ..jobs import ProgressEvent

__all__ = [
    "Panel",
    "ProgressView",
    "RequestPanel",
    "check_entry_count",
    "curl_command",
    "describe_error",
    "mask_local",
    "on_server",
    "request_preview",
]


MAX_COUNT_PER_ENTRY = 20
"""The most images of one type a panel asks for in one request (the sandbox's limit too;
the models take any count >= 1)."""


def check_entry_count(name: str, value: int) -> int:
    """``value`` (already a whole number >= 1) if a panel may send it as the count ``name``.

    Raises:
        ValidationError: more than :data:`MAX_COUNT_PER_ENTRY`.
    """
    if value > MAX_COUNT_PER_ENTRY:
        raise ValidationError(
            name, value, f"at most {MAX_COUNT_PER_ENTRY} per entry in one request"
        )
    return value


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


def request_preview(body: dict[str, Any]) -> str:
    """The request JSON, pretty-printed, as escaped HTML."""
    text = json.dumps(body, indent=2, ensure_ascii=False)
    return f"<pre class='ev-preview' style='margin:0;font-size:12px'>{html.escape(text)}</pre>"


def _is_local(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def on_server(base_url: str, value: str) -> str:
    """An input URL; a path such as ``/samples/people/person-a.jpg`` means one on the server.

    Panels talking to a sandbox are given such paths, so a saved notebook's widget state never
    holds the sandbox's loopback address (its port changes every run, too).
    """
    value = value.strip()
    return base_url.rstrip("/") + value if value.startswith("/") else value


def mask_local(base_url: str, text: str) -> str:
    """``text`` with a local server's address written as ``$ECOMVIZ_BASE_URL``."""
    return text.replace(base_url.rstrip("/"), "$ECOMVIZ_BASE_URL") if _is_local(base_url) else text


def curl_command(base_url: str, path: str, body: dict[str, Any]) -> str:
    """A copyable curl command; the token is read from the environment, never written out.

    A local server (a sandbox) is written as ``$ECOMVIZ_BASE_URL``: its port changes from run
    to run, and a loopback address must not end up in a saved notebook.
    """
    target = shlex.quote(base_url + path)
    data = shlex.quote(json.dumps(body, ensure_ascii=False))
    if _is_local(base_url):
        target = f'"$ECOMVIZ_BASE_URL"{shlex.quote(path)}'
        data = mask_local(base_url, data)  # stays inside single quotes: copy, then edit
    return (
        f"curl -X POST {target} \\\n"
        '  -H "Authorization: Bearer $ECOMVIZ_API_TOKEN" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d {data}"
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


class Panel(widgets.VBox):
    """Base of the panels: a status line, background tasks, and a static HTML snapshot.

    A displayed panel sends two things: the live widget, and an HTML snapshot of its latest
    results with the images embedded. JupyterLab shows the widget; GitHub, nbconvert and a
    notebook reopened without a kernel show the snapshot, refreshed after each result.
    """

    title = "ecomviz_nb"

    def __init__(self, children: list[widgets.Widget], **kwargs: Any) -> None:
        self.status = widgets.HTML("")
        """Messages and errors, escaped."""
        self.task: asyncio.Task[None] | None = None
        """The running background job, if any (``await panel.task`` in tests)."""
        self._handle: Any = None
        super().__init__([*children, self.status], **kwargs)
        self.add_class("ev-panel")

    # ---- messages

    def show_error(self, message: str) -> None:
        self.status.value = (
            f"<div style='color:#b00020;white-space:pre-wrap'>{html.escape(message)}</div>"
        )

    def show_info(self, message: str) -> None:
        self.status.value = f"<div style='color:#333'>{html.escape(message)}</div>"

    # ---- background work

    def run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` as a task on the kernel's running loop, so the kernel stays free.

        Without a running loop (plain Python) it runs to completion before returning.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self._guarded(work))
            return
        self.task = loop.create_task(self._guarded(work))

    async def _guarded(self, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except Exception as exc:  # shown in the panel: a notebook user wants a sentence
            self.on_error(exc)
        finally:
            self.refresh_snapshot()

    def on_error(self, exc: BaseException) -> None:
        self.show_error(describe_error(exc))

    # ---- the saved snapshot

    def snapshot_html(self) -> str:
        """Static HTML of the latest results (override); shown where widgets cannot run."""
        return f"<div><b>{html.escape(self.title)}</b>: no results yet.</div>"

    def _bundle(self) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "text/plain": f"{type(self).__name__}()",
            "text/html": self.snapshot_html(),
        }
        if self._model_id:
            bundle["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._model_id,
            }
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        self._handle = display(self._bundle(), raw=True, display_id=True)

    def refresh_snapshot(self) -> None:
        """Re-send the displayed output so its HTML snapshot holds the latest results."""
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)


class RequestPanel(Panel):
    """A panel that builds one request: webhook, live JSON preview, curl, a submit button,
    progress and results (the generate and try-on panels)."""

    request: Any = None
    """The request the inputs make now (None while they are invalid)."""

    def _request_widgets(self, label: str) -> widgets.Button:
        """Make the shared parts; returns the submit button."""
        self.webhook_url = widgets.Text(
            value="",
            placeholder="https://… (optional)",
            description="webhook",
            layout=widgets.Layout(width="80%"),
        )
        self.preview = widgets.HTML()
        self.curl = widgets.Textarea(layout=widgets.Layout(width="100%", height="110px"))
        self.request_box = widgets.Accordion(
            children=[self.preview, self.curl], titles=("Request JSON", "curl")
        )
        self.progress = ProgressView()
        self.results = widgets.HTML()
        self._results_html = ""
        return widgets.Button(description=label, button_style="primary", icon="magic")

    def build_request(self) -> Any:
        raise NotImplementedError

    def _refresh_request(
        self, button: widgets.Button, path: str, summary: Callable[[Any], str]
    ) -> None:
        """Rebuild the request from the inputs: preview and curl, or the reason it is invalid."""
        try:
            self.request = self.build_request()
        except ValidationError as exc:
            self.request = None
            button.disabled = True
            self.preview.value = self.curl.value = ""
            self.show_error(describe_error(exc))
            return
        body = self.request.to_wire()
        base = self._aclient.base_url
        button.disabled = False
        self.preview.value = mask_local(base, request_preview(body))
        self.curl.value = curl_command(base, path, body)
        self.show_info(summary(self.request))

    def _submit(self, button: widgets.Button, work: Callable[[Any], Awaitable[None]]) -> None:
        """Start ``work(request)`` in the background, the button off while it runs."""
        request = self.request
        if request is None:
            return
        button.disabled = True
        self.show_info("Submitting…")
        self.progress.start(request.expected_images)
        self.run(lambda: work(request))

    def _show_results(self, markup: str) -> None:
        self._results_html = markup
        self.results.value = markup

    def snapshot_html(self) -> str:
        if not self._results_html:
            return super().snapshot_html()
        return f"<div><b>{html.escape(self.title)}</b></div>{self._results_html}"
