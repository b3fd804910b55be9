"""A panel's static HTML snapshot: what it holds, how it is displayed, and when it is re-sent."""

from __future__ import annotations

import html
from typing import Any

from ..client import AsyncClient
from ..config import is_local_server

__all__ = ["SNAPSHOT_KEY", "SnapshotMixin", "mask_local", "on_off"]


SNAPSHOT_KEY = "ecomviz_nb"
"""The output-metadata key that marks a panel's output: ``{"ecomviz_nb": {"snapshot": name}}``
says its ``text/html`` is a complete static snapshot (``ecomviz_nb.export`` relies on it)."""

_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0"
_TH = "text-align:left;font-weight:600;padding:1px 12px 1px 0;vertical-align:top"
_TD = "text-align:left;padding:1px 0;white-space:pre-wrap;overflow-wrap:anywhere"


def mask_local(base_url: str, text: str) -> str:
    """``text`` with a local server's address written as ``$ECOMVIZ_BASE_URL``."""
    if not is_local_server(base_url):
        return text
    return text.replace(base_url.rstrip("/"), "$ECOMVIZ_BASE_URL")


def on_off(value: bool) -> str:
    """``yes`` or ``no``, for a checkbox in a snapshot."""
    return "yes" if value else "no"


class SnapshotMixin:
    """The static HTML snapshot a displayed panel carries beside its live widget.

    A displayed panel's output holds two things: the live widget, and a static HTML snapshot
    of its inputs, status line and latest results, images embedded. Viewers that run no
    widgets show the snapshot: GitHub, nbviewer, ``jupyter nbconvert``, pages written by
    ``ecomviz-nb export``, and JupyterLab for a notebook it does not trust.

    When it is re-sent: when a piece of work a person started ends (a run, a redraw at
    another size) and on ``close()``; never while a person edits the inputs, nor when the
    panel has read something to show in the background (its run history). JupyterLab redraws
    the whole widget when a displayed output is updated, which takes the focus (and the keys
    typed next) from the field being edited. So the saved snapshot shows the inputs as of the
    last run or the close, not edits made since. An update that would send what the output
    already holds is skipped. Work that ends with a final status line re-sends first and
    shows the line after (:meth:`Panel.finish <ecomviz_nb.widgets._base.Panel.finish>`):
    whoever sees that line in JupyterLab sees the redrawn panel.
    """

    title = "ecomviz_nb"
    empty_text = "No results yet."
    """What the snapshot says before there are results."""
    status: Any
    """The panel's status line (an ``ipywidgets.HTML``); its markup goes into the snapshot."""
    comm: Any
    _model_id: Any
    _closed: bool
    _handle: Any = None
    _sent: Any = None  # the bundle last sent through the display handle

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        """The inputs as (label, value) pairs for the snapshot (override); never a secret."""
        return []

    def snapshot_results(self) -> str:
        """Markup of the latest results, images embedded (override); "" before any."""
        return ""

    def snapshot_empty(self) -> str:
        """What the snapshot shows while there are no results (``empty_text``, escaped)."""
        return html.escape(self.empty_text)

    def snapshot_html(self) -> str:
        """Static HTML of the inputs, the status line and the latest results.

        It is what viewers without widgets show; a local server's address in an input is
        written ``$ECOMVIZ_BASE_URL``.
        """
        server = getattr(self, "_aclient", None)  # the panels that talk to one have it
        base = server.base_url if isinstance(server, AsyncClient) else None
        rows = "".join(
            f"<tr><th style='{_TH}'>{html.escape(label)}</th><td style='{_TD}'>"
            f"{html.escape(mask_local(base, value) if base else value)}</td></tr>"
            for label, value in self.snapshot_inputs()
        )
        inputs = f"<table class='ev-inputs' style='{_TABLE}'>{rows}</table>" if rows else ""
        results = self.snapshot_results() or (self.snapshot_empty() if self.empty_text else "")
        return (
            f"<div class='ev-snapshot' data-ev-panel='{type(self).__name__}'>"
            f"<div><b>{html.escape(self.title)}</b></div>{inputs}{self.status.value}{results}"
            "</div>"
        )

    def _bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        data: dict[str, Any] = {
            "text/plain": f"{type(self).__name__}()",
            "text/html": self.snapshot_html(),
        }
        if self.comm is not None and self._model_id:  # a closed panel has no live view
            data["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._model_id,
            }
        return data, {SNAPSHOT_KEY: {"snapshot": type(self).__name__}}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        data, metadata = self._sent = self._bundle()
        self._handle = display(data, raw=True, metadata=metadata, display_id=True)

    def refresh_snapshot(self) -> None:
        """Re-send the displayed output so its HTML snapshot holds the latest state.

        Nothing is sent before the panel is displayed, nor when the output already holds
        this very snapshot (a resend redraws the widget in JupyterLab).
        """
        if self._handle is None:
            return
        bundle = self._bundle()
        if bundle == self._sent:
            return
        self._sent = bundle
        data, metadata = bundle
        self._handle.update(data, raw=True, metadata=metadata)

    def refresh_snapshot_soon(self) -> None:
        """Note that the inputs changed: nothing is sent now (see the class docstring).

        Kept for the panels that call it after an edit; the snapshot is re-sent when the next
        piece of work ends or the panel is closed.
        """
