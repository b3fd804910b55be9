"""What the input panels share: hints and URL errors, JSON preview, curl, results, history."""

from __future__ import annotations

import asyncio
import html
import json
import re
import shlex
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets

from ..config import is_local_server
from ..errors import ValidationError
from ..runs.history import FINISHED_STATES, HistoryRun, RunHistory
from ._base import Panel, ProgressView, describe_error, mask_local, previous_results
from .history import HistoryStrip

__all__ = [
    "MAX_COUNT_PER_ENTRY",
    "RESULT_SIZES",
    "RequestPanel",
    "check_entry_count",
    "curl_command",
    "is_blank",
    "request_preview",
    "url_forms",
    "with_url_forms",
]


MAX_COUNT_PER_ENTRY = 20
"""The most images of one type a panel asks for in one request (the sandbox's limit too;
the models take any count >= 1)."""


RESULT_SIZES = (("small", 160), ("medium", 256), ("large", 384))
"""The result sizes a panel offers: (label, CSS pixels of a picture's side or height)."""


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


def url_forms(base_url: str) -> str:
    """What a panel's image-URL input takes, in words (a sandbox also takes its paths)."""
    if is_local_server(base_url):
        return "an http(s) URL or a /samples/... path of the sandbox"
    return "an http(s) URL"


_IMAGE_URL_FIELD = re.compile(r"^(person_image_url|clothing\[\d+\]\.url|image_urls(\[\d+\])?)$")


def with_url_forms(exc: ValidationError, base_url: str) -> ValidationError:
    """``exc`` saying which forms an image-URL input takes; other fields' errors unchanged."""
    if not _IMAGE_URL_FIELD.match(exc.field):
        return exc
    forms = url_forms(base_url)
    if exc.field == "image_urls":
        forms = f"one image per line, each {forms}"
    detail = exc.allowed.partition(" with a host")[2].strip().removeprefix("and ")
    if detail and not detail.startswith("("):
        detail = f"({detail})"
    return ValidationError(exc.field, exc.value, f"{forms} {detail}".strip())


def is_blank(value: object) -> bool:
    """True for an input not filled in yet: "", whitespace, an empty list."""
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, tuple)) and not value


def request_preview(body: dict[str, Any]) -> str:
    """The request JSON, pretty-printed, as escaped HTML."""
    text = json.dumps(body, indent=2, ensure_ascii=False)
    return f"<pre class='ev-preview' style='margin:0;font-size:12px'>{html.escape(text)}</pre>"


def curl_command(base_url: str, path: str, body: dict[str, Any]) -> str:
    """A copyable curl command; the token is read from the environment, never written out.

    A local server (a sandbox) is written as ``$ECOMVIZ_BASE_URL``: its port changes from run
    to run, and a loopback address must not end up in a saved notebook.
    """
    target = shlex.quote(base_url + path)
    data = shlex.quote(json.dumps(body, ensure_ascii=False))
    if is_local_server(base_url):
        target = f'"$ECOMVIZ_BASE_URL"{shlex.quote(path)}'
        data = mask_local(base_url, data)  # stays inside single quotes: copy, then edit
    return (
        f"curl -X POST {target} \\\n"
        '  -H "Authorization: Bearer $ECOMVIZ_API_TOKEN" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d {data}"
    )


class RequestPanel(Panel):
    """A panel that builds one request: webhook, live JSON preview, curl, a submit button,
    a results size, progress, results and the history of its runs (the generate and try-on
    panels).

    The output area reads top to bottom: the form, the button row, the status line, the
    progress, the results, the history. A run that starts dims the results of the one before
    (labelled "previous run") until its own arrive; a run that fails clears them. Every run
    that ends, completed or failed, goes to the top of the history (``history``), which is
    read from the job ledger when the panel is made (``history_loading``).
    """

    request: Any = None
    """The request the inputs make now (None while they are invalid)."""
    history: HistoryStrip
    """The panel's finished runs: tick two to compare, or load one's settings back."""
    history_loading: asyncio.Task[None] | None = None
    """The first reading of the history, on the kernel's loop (``await`` it to know it is
    shown); None when it was read before the panel was returned (no running loop)."""
    _render: Callable[[int], str] | None = None
    """Draws the latest results at a size (kept so a new size redraws them)."""
    _busy = False
    _filling = False

    def _request_widgets(self, label: str, *, size: int = 160) -> widgets.Button:
        """Make the shared parts; returns the submit button."""
        self.webhook_url = widgets.Text(
            value="",
            placeholder="https://… (optional)",
            description="webhook",
            layout=widgets.Layout(width="80%"),
        )
        self.preview = widgets.HTML()
        self.curl = widgets.Textarea(layout=widgets.Layout(width="auto", height="110px"))
        self.request_box = widgets.Accordion(
            children=[self.preview, self.curl], titles=("Request JSON", "curl")
        )
        self.progress = ProgressView()
        self.results = widgets.HTML()
        self.results.add_class("ev-results")
        self._results_html = ""
        self.size = widgets.Dropdown(
            options=RESULT_SIZES,
            value=size,
            description="result size",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="max-content"),
        )
        self.size.observe(lambda _change: self._redraw(), names="value")
        return widgets.Button(description=label, button_style="primary", icon="magic")

    def _history_widgets(self, history: RunHistory) -> HistoryStrip:
        """Make the history strip; :meth:`_read_history` fills it once the panel is built."""
        self.history = HistoryStrip(history)
        self.history.on_load(self._load_run)
        return self.history

    def _read_history(self) -> None:
        """Read the history from the ledger (and its pictures from the server) in the
        background: the panel is shown at once."""
        self.history_loading = self.run_aside(self._read_history_now)

    async def _read_history_now(self) -> None:
        try:
            await self.history.refresh_async()
        except Exception as exc:  # the history is an extra: the form works without it
            self.history.say(
                f"The run history could not be read: {describe_error(exc)}", error=True
            )

    async def _keep_run(self, job: Any) -> None:
        """Put a run that has just ended at the top of the history (if it is finished)."""
        if job is None or job.state not in FINISHED_STATES:
            return  # not submitted, or still open (it timed out): the ledger keeps it
        try:  # (a first reading of the history still going keeps it on top)
            await self.history.add_async(job)
        except Exception as exc:  # the run itself went well: say so, and what went wrong
            said = describe_error(exc)
            self.history.say(f"This run could not be added to the history: {said}", error=True)

    def _load_run(self, run: HistoryRun) -> None:
        """Put ``run``'s parameters back into the form (override); nothing is sent."""
        raise NotImplementedError

    @contextmanager
    def _filling_form(self) -> Iterator[None]:
        """Set many inputs at once: the request is rebuilt once, at the end."""
        self._filling = True
        try:
            yield
        finally:
            self._filling = False
            self._update_preview()

    def _update_preview(self) -> None:
        raise NotImplementedError

    def build_request(self) -> Any:
        raise NotImplementedError

    def missing(self) -> str | None:
        """What is still to fill in before a request can be made, as a hint (override)."""
        return None

    def _refresh_request(
        self, button: widgets.Button, path: str, summary: Callable[[Any], str]
    ) -> None:
        """Rebuild the request from the inputs: preview and curl, or the reason it is invalid.

        Inputs not filled in yet get a grey hint; a value that breaks a rule gets the error
        (field, value, what is allowed). Either way the button is off until it is fixed.
        """
        if self._filling:
            return
        hint = self.missing()
        problem: ValidationError | None = None
        if hint is None:
            try:
                self.request = self.build_request()
            except ValidationError as exc:
                problem = exc
        base = self._aclient.base_url
        if hint is not None or problem is not None:
            self.request = None
            button.disabled = True
            self.preview.value = self.curl.value = ""
            if problem is not None:
                problem = with_url_forms(problem, base)
            if problem is None:
                self.show_hint(hint or "")
            elif is_blank(problem.value):
                self.show_hint(f"To fill in: {problem.field}, {problem.allowed}.")
            else:
                self.show_error(describe_error(problem))
            return
        body = self.request.to_wire()
        self.preview.value = mask_local(base, request_preview(body))
        self.curl.value = curl_command(base, path, body)
        if self.running:  # the run's own lines stay; its end turns the button on again
            button.disabled = True
        else:
            button.disabled = False
            self.show_info(summary(self.request))

    @property
    def running(self) -> bool:
        """True from the click that starts a run until the run ends."""
        return self._busy

    def _submit(self, button: widgets.Button, work: Callable[[Any], Awaitable[None]]) -> None:
        """Start ``work(request)`` in the background, the button off while it runs.

        The previous results are dimmed at once; if the run fails they are dropped.
        """
        request = self.request
        if request is None or self._busy:
            return
        if self._closed:
            self.run(lambda: work(request))  # says that the panel is closed; runs nothing
            return

        async def run() -> None:
            try:
                await work(request)
            except Exception:
                self._drop_results()
                raise
            finally:
                self._busy = False
                button.disabled = self.request is None

        self._busy = True
        button.disabled = True
        self.show_info("Submitting…")
        self.results.value = previous_results(self._results_html)
        self.progress.start(request.expected_images)
        self.run(run)

    async def _show_results(self, render: Callable[[int], str]) -> None:
        """Draw the new results (``render(size)``, in a thread) in place of the previous."""
        self._render = render
        markup = await asyncio.to_thread(render, self.size.value)
        self._results_html = self.results.value = markup

    def _drop_results(self) -> None:
        """A failed run: the previous run's results go, they are not this run's."""
        self._render = None
        self._results_html = self.results.value = ""

    def _redraw(self) -> None:
        """Draw the latest results again at the chosen size (not while a run is going)."""
        render = self._render
        if render is None or self._busy:
            return
        self.run(lambda: self._show_results(render))

    def snapshot_results(self) -> str:
        """The latest results, then the history (the empty hint first while there are none)."""
        results = str(self.results.value) or self.snapshot_empty()
        return results + self.history.snapshot_html()
