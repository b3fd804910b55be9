"""What the request panels share: the JSON preview, a curl command, the submit button."""

from __future__ import annotations

import html
import json
import shlex
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as widgets

from ..config import is_local_server
from ..errors import ValidationError
from ._base import Panel, ProgressView, describe_error, mask_local

__all__ = [
    "MAX_COUNT_PER_ENTRY",
    "RequestPanel",
    "check_entry_count",
    "curl_command",
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
            self.refresh_snapshot_soon()
            return
        body = self.request.to_wire()
        base = self._aclient.base_url
        button.disabled = False
        self.preview.value = mask_local(base, request_preview(body))
        self.curl.value = curl_command(base, path, body)
        self.show_info(summary(self.request))
        self.refresh_snapshot_soon()

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

    def snapshot_results(self) -> str:
        return self._results_html
