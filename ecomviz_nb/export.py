"""Exports that stand alone: panels as their snapshots, one HTML page that fetches nothing."""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

try:
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import Preprocessor
    from traitlets import Bool
except ImportError as exc:  # an optional dependency: say which extra brings it
    raise ImportError(
        f"ecomviz_nb.export needs nbconvert ({exc.name} is missing): "
        "pip install 'ecomviz-nb[demo]'"
    ) from exc

__all__ = [
    "SNAPSHOT_KEY",
    "SnapshotPreprocessor",
    "export_notebook",
    "not_embedded",
    "render_widget",
]

SNAPSHOT_KEY = "ecomviz_nb"
"""Output metadata ``{"ecomviz_nb": {"snapshot": "<panel>"}}``: the output's ``text/html`` is
a complete static snapshot of a panel (the panels write it; ``widgets._base`` has the same)."""
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
_TEMPLATE = "ecomviz_static.html.j2"
# The lab template without anything it would fetch: require.js, the widget manager (both from
# a CDN), MathJax and mermaid. Outputs are static HTML here, so none of them has work to do.
_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
"""
_RESOURCE = re.compile(
    r"""(?is)<(?:img|script|link|iframe|frame|source|video|audio|track|embed|object|input)\b"""
    r"""[^>]*?\s(?:src|href|data|poster|srcset)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"""
)
_CSS_URL = re.compile(r"""(?i)(?:url\(\s*["']?|@import\s+["'])([^"')\s]+)""")


def _is_snapshot(output: Mapping[str, Any]) -> bool:
    """An output a panel wrote: marked in its metadata, with its HTML snapshot beside."""
    marker = (output.get("metadata") or {}).get(SNAPSHOT_KEY)
    data = output.get("data") or {}
    return isinstance(marker, Mapping) and bool(marker.get("snapshot")) and "text/html" in data


class SnapshotPreprocessor(Preprocessor):
    """Show the panels' saved snapshots instead of their widget views.

    For every output a panel wrote (marked ``{"ecomviz_nb": {"snapshot": ...}}`` in its
    metadata) the widget view is dropped and the ``text/html`` snapshot kept. With
    ``static_widgets`` every other widget view goes too: an output's own ``text/html`` is kept,
    or the widget is drawn as static HTML from the saved widget state (boxes, HTML, labels,
    progress bars, images, values). The notebook's widget state is dropped once no output
    needs it, so nbconvert's template loads no widget manager from a CDN.

    Use: ``jupyter nbconvert --to html
    --HTMLExporter.preprocessors=ecomviz_nb.export.SnapshotPreprocessor NOTEBOOK.ipynb``.
    """

    static_widgets = Bool(
        False, help="Also draw other widgets as static HTML from the saved widget state."
    ).tag(config=True)

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        """Rewrite the outputs in place; returns ``(nb, resources)``."""
        holder = nb.metadata.get("widgets") or {}
        state: dict[str, Any] = dict((holder.get(STATE) or {}).get("state") or {})
        needed = False
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data")
                if not data or VIEW not in data:
                    continue
                if _is_snapshot(output):
                    del data[VIEW]
                elif self.static_widgets:
                    if "text/html" not in data:
                        model_id = str((data[VIEW] or {}).get("model_id", ""))
                        drawn = render_widget(model_id, state)
                        data["text/html"] = drawn if drawn is not None else _UNSAVED
                    del data[VIEW]
                else:
                    needed = True
        if not needed and STATE in holder:
            del holder[STATE]
            if not holder:
                del nb.metadata["widgets"]
        return nb, resources


_UNSAVED = "<div style='color:#57606a'>(a widget whose state was not saved)</div>"


def export_notebook(
    path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> Path:
    """Write one self-contained HTML page of a saved notebook; nothing is executed.

    Panels show their snapshots, other widgets their saved state as static HTML, and the page
    loads no script, style sheet or font from anywhere (no require.js, widget manager, MathJax
    or mermaid); the pictures the outputs hold are data URIs already. :func:`not_embedded`
    lists anything the notebook's own content still points at (a remote picture in Markdown).

    Args:
        path: the ``.ipynb`` file.
        out: the page to write (default: beside the notebook, ``.html``); folders are created.

    Returns:
        The path of the page.

    Raises:
        FileNotFoundError: no such notebook.
        ValueError: the file is not a notebook nbformat can read.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no notebook {source}")
    untyped: Any = nbformat  # nbformat's and nbconvert's functions carry no annotations
    try:
        nb = untyped.read(source, as_version=4)
    except Exception as exc:
        raise ValueError(f"{source} is not a readable notebook: {exc}") from exc
    make: Any = HTMLExporter
    exporter = make(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({_TEMPLATE: _TEMPLATE_SOURCE})],
        template_file=_TEMPLATE,
        embed_images=True,
    )
    snapshots: Any = SnapshotPreprocessor
    exporter.register_preprocessor(snapshots(static_widgets=True), enabled=True)
    resources = {"metadata": {"name": source.stem, "path": str(source.parent)}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    target = Path(out) if out is not None else source.with_suffix(".html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target


def not_embedded(markup: str) -> list[str]:
    """The addresses a page would load that are not inside it (anything but ``data:``).

    Looks at ``src``/``href``/``srcset``… of elements that load something (links to follow
    are fine) and at CSS ``url(...)`` and ``@import``.
    """
    found = []
    for match in _RESOURCE.finditer(markup):
        found.append(html.unescape(next(g for g in match.groups() if g is not None)))
    found += [html.unescape(m.group(1)) for m in _CSS_URL.finditer(markup)]
    return [u for u in found if u.strip() and not u.strip().lower().startswith(("data:", "#"))]


# ---------------------------------------------------------------- widgets drawn from state

_BOXES = {"VBoxModel": "column", "BoxModel": "column", "GridBoxModel": "column"}
_FOLDS = {"AccordionModel", "TabModel", "StackModel"}
_SKIP = {"ButtonModel", "PasswordModel", "FileUploadModel", "LayoutModel", "StyleModel"}
_BAR = {"success": "#1a7f37", "danger": "#cf222e", "warning": "#9a6700", "info": "#0969da"}


def render_widget(model_id: str, state: Mapping[str, Any]) -> str | None:
    """Static HTML of a widget from a notebook's saved widget state (None if it is not there).

    HTML widgets keep their markup, as they showed it live; every other text is escaped.
    """
    if model_id not in state:
        return None
    return _Drawing(state).draw(model_id)


class _Drawing:
    """One widget tree drawn from the saved state (each model at most once: no cycles)."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.state = state
        self.seen: set[str] = set()

    def _model(self, ref: Any) -> tuple[str, dict[str, Any], Mapping[str, Any]] | None:
        model_id = str(ref).removeprefix("IPY_MODEL_")
        model = self.state.get(model_id)
        if not isinstance(model, Mapping) or model_id in self.seen:
            return None
        self.seen.add(model_id)
        return str(model.get("model_name", "")), dict(model.get("state") or {}), model

    def _hidden(self, fields: Mapping[str, Any]) -> bool:
        layout = self.state.get(str(fields.get("layout", "")).removeprefix("IPY_MODEL_"))
        shown = (layout or {}).get("state") or {} if isinstance(layout, Mapping) else {}
        return shown.get("display") == "none" or shown.get("visibility") == "hidden"

    def draw(self, ref: Any) -> str:
        found = self._model(ref)
        if found is None:
            return ""
        name, fields, model = found
        if name in _SKIP or self._hidden(fields):
            return ""
        label = html.escape(str(fields.get("description") or ""))
        label = f"<span style='margin-right:6px;color:#57606a'>{label}</span>" if label else ""
        if name in _BOXES or name == "HBoxModel":
            flow = "row;flex-wrap:wrap;gap:4px 12px" if name == "HBoxModel" else _BOXES[name]
            inner = "".join(self.draw(child) for child in fields.get("children", []))
            return f"<div style='display:flex;flex-direction:{flow}'>{inner}</div>"
        if name in _FOLDS:
            titles = list(fields.get("titles") or [])
            parts = []
            for i, child in enumerate(fields.get("children", [])):
                title = html.escape(str(titles[i] if i < len(titles) else "") or f"part {i + 1}")
                parts.append(f"<details><summary>{title}</summary>{self.draw(child)}</details>")
            return "".join(parts)
        if name in ("HTMLModel", "HTMLMathModel"):
            return f"<div>{label}{fields.get('value', '')}</div>"
        if name == "LabelModel":
            return f"<div>{label}{html.escape(str(fields.get('value', '')))}</div>"
        if name in ("IntProgressModel", "FloatProgressModel"):
            return _bar(label, fields)
        if name == "ImageModel":
            return _image(fields, model)
        if name == "OutputModel":
            return "".join(_output(o) for o in fields.get("outputs", []))
        return _value(label, name, fields)


def _bar(label: str, fields: Mapping[str, Any]) -> str:
    low, high = float(fields.get("min", 0) or 0), float(fields.get("max", 100) or 100)
    value = float(fields.get("value", 0) or 0)
    share = 0.0 if high <= low else max(0.0, min(1.0, (value - low) / (high - low)))
    colour = _BAR.get(str(fields.get("bar_style") or "info"), _BAR["info"])
    return (
        f"<div style='display:flex;align-items:center'>{label}<div role='progressbar' "
        f"aria-valuenow='{value:g}' aria-valuemax='{high:g}' style='flex:1;height:10px;"
        f"background:#eaeef2;border-radius:5px;overflow:hidden'><div style='width:"
        f"{share * 100:.1f}%;height:100%;background:{colour}'></div></div></div>"
    )


def _image(fields: Mapping[str, Any], model: Mapping[str, Any]) -> str:
    data = fields.get("value")
    for buffer in model.get("buffers") or []:
        if list(buffer.get("path") or []) == ["value"]:
            data = buffer.get("data")
    if isinstance(data, (bytes, bytearray)):
        data = base64.b64encode(bytes(data)).decode("ascii")
    if not isinstance(data, str) or not data:
        return ""
    kind = re.sub(r"[^a-z0-9.+-]", "", str(fields.get("format") or "png").lower()) or "png"
    size = "".join(
        f" {k}='{html.escape(str(fields[k]))}'" for k in ("width", "height") if fields.get(k)
    )
    return f"<img src='data:image/{kind};base64,{html.escape(data)}'{size} alt=''>"


def _output(output: Mapping[str, Any]) -> str:
    data = output.get("data") or {}
    if "text/html" in data:
        value = data["text/html"]
        return "".join(value) if isinstance(value, list) else str(value)
    for kind in ("image/png", "image/jpeg"):
        if kind in data:
            return f"<img src='data:{kind};base64,{html.escape(str(data[kind]).strip())}' alt=''>"
    text = output.get("text") if output.get("output_type") == "stream" else data.get("text/plain")
    text = "".join(text) if isinstance(text, list) else str(text or "")
    return f"<pre style='margin:0'>{html.escape(text)}</pre>" if text else ""


def _value(label: str, name: str, fields: Mapping[str, Any]) -> str:
    """A control as its description and current value, read-only."""
    if "index" in fields and "_options_labels" in fields:
        labels, index = list(fields["_options_labels"]), fields["index"]
        picked = index if isinstance(index, list) else [index]
        shown = ", ".join(str(labels[i]) for i in picked if isinstance(i, int) and i < len(labels))
    elif "value" in fields:
        value = fields["value"]
        if isinstance(value, bool):
            shown = ("[x] " if value else "[ ] ") + str(fields.get("description") or "")
            label = ""
        elif isinstance(value, (list, tuple)):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = "" if value is None else str(value)
    else:
        return ""
    style = "white-space:pre-wrap" if name == "TextareaModel" else ""
    return f"<div>{label}<span style='{style}'>{html.escape(shown)}</span></div>"
