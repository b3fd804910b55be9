"""``ecomviz_nb.export``: panels as their snapshots, other widgets drawn from saved state, and
one page that loads nothing from anywhere.

Notebooks are built here with nbformat the way a kernel saves them (outputs, output metadata,
widget state), so no kernel runs; ``test_browser_export`` runs real ones. nbconvert is real,
and ``jupyter nbconvert`` is run once as a user would.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from PIL import Image

from ecomviz_nb.export import (
    SNAPSHOT_KEY,
    STATE,
    VIEW,
    SnapshotPreprocessor,
    export_notebook,
    not_embedded,
    render_widget,
)
from ecomviz_nb.widgets import _base

HOSTILE = "<img src=x onerror=alert(1)>"


def _png(colour: str = "red") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _model(name: str, **state: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "model_module": "@jupyter-widgets/controls",
        "model_module_version": "2.0.0",
        "state": state,
    }


def _view(model_id: str) -> dict[str, Any]:
    return {"version_major": 2, "version_minor": 0, "model_id": model_id}


def _panel_output(model_id: str, name: str = "GeneratePanel") -> Any:
    snapshot = (
        f"<div class='ev-snapshot' data-ev-panel='{name}'><b>Generate images</b>"
        f"<img src='data:image/png;base64,{_png()}'></div>"
    )
    return new_output(
        "display_data",
        data={"text/plain": f"{name}()", "text/html": snapshot, VIEW: _view(model_id)},
        metadata={SNAPSHOT_KEY: {"snapshot": name}},
    )


def _foreign_output(model_id: str) -> Any:
    return new_output(
        "execute_result",
        data={"text/plain": "VBox(children=(IntProgress(value=3),))", VIEW: _view(model_id)},
        execution_count=2,
    )


STATE_MODELS = {
    "panel": _model("VBoxModel", children=[]),
    "box": _model("VBoxModel", children=["IPY_MODEL_bar", "IPY_MODEL_label", "IPY_MODEL_gone"]),
    "bar": _model("IntProgressModel", value=3, max=4, bar_style="success", description="runs"),
    "label": _model("LabelModel", value=HOSTILE),
    "gone": _model("HTMLModel", value="<b>laid out away</b>", layout="IPY_MODEL_hidden"),
    "hidden": {"model_name": "LayoutModel", "state": {"display": "none"}},
}


def _notebook(*outputs: Any, models: dict[str, Any] | None = None) -> Any:
    nb = new_notebook(cells=[new_code_cell("panel", outputs=list(outputs))])
    nb.metadata["widgets"] = {
        STATE: {"version_major": 2, "version_minor": 0, "state": copy.deepcopy(models or {})}
    }
    return nb


def _preprocess(nb: Any, **options: Any) -> Any:
    processed, _ = SnapshotPreprocessor(**options).preprocess(nb, {})
    return processed


# ---------------------------------------------------------------- the preprocessor


def test_the_marker_is_the_one_the_panels_write() -> None:
    assert SNAPSHOT_KEY == _base.SNAPSHOT_KEY


def test_a_panel_keeps_its_snapshot_and_loses_its_widget_view() -> None:
    nb = _preprocess(_notebook(_panel_output("panel"), models=STATE_MODELS))
    [output] = nb.cells[0].outputs
    assert VIEW not in output.data and "ev-snapshot" in output.data["text/html"]
    assert "widgets" not in nb.metadata, "nothing needs the widget state any more"


def test_other_widgets_keep_their_views_and_the_state_they_need_by_default() -> None:
    nb = _preprocess(_notebook(_panel_output("panel"), _foreign_output("box"), models=STATE_MODELS))
    panel, other = nb.cells[0].outputs
    assert VIEW not in panel.data
    assert other.data[VIEW]["model_id"] == "box"
    assert set(nb.metadata["widgets"][STATE]["state"]) == set(STATE_MODELS)


def test_an_output_without_the_marker_is_not_taken_for_a_panel() -> None:
    output = _panel_output("panel")
    output.metadata = {}
    nb = _preprocess(_notebook(output, models=STATE_MODELS))
    assert VIEW in nb.cells[0].outputs[0].data


def test_static_widgets_draws_other_widgets_from_their_saved_state() -> None:
    nb = _preprocess(
        _notebook(_foreign_output("box"), _foreign_output("missing"), models=STATE_MODELS),
        static_widgets=True,
    )
    box, missing = nb.cells[0].outputs
    drawn = box.data["text/html"]
    assert VIEW not in box.data and "widgets" not in nb.metadata
    assert "aria-valuenow='3'" in drawn and "width:75.0%" in drawn and "#1a7f37" in drawn
    assert "runs" in drawn
    assert HOSTILE not in drawn and "&lt;img src=x onerror=alert(1)&gt;" in drawn
    assert "laid out away" not in drawn, "a widget laid out with display:none stays hidden"
    assert "was not saved" in missing.data["text/html"]


def test_static_widgets_keeps_an_html_fallback_a_widget_already_has() -> None:
    output = _foreign_output("box")
    output.data["text/html"] = "<p>the slider at 50 %</p>"
    nb = _preprocess(_notebook(output, models=STATE_MODELS), static_widgets=True)
    assert nb.cells[0].outputs[0].data["text/html"] == "<p>the slider at 50 %</p>"


# ---------------------------------------------------------------- widgets drawn from state


def test_render_widget_draws_images_values_and_folds() -> None:
    models = {
        "root": _model(
            "HBoxModel",
            children=[
                "IPY_MODEL_img",
                "IPY_MODEL_check",
                "IPY_MODEL_pick",
                "IPY_MODEL_tags",
                "IPY_MODEL_secret",
                "IPY_MODEL_button",
                "IPY_MODEL_fold",
                "IPY_MODEL_root",  # a cycle is drawn once
            ],
        ),
        "img": {
            **_model("ImageModel", format="png", width="40"),
            "buffers": [{"path": ["value"], "data": _png("blue"), "encoding": "base64"}],
        },
        "check": _model("CheckboxModel", value=True, description="watermark"),
        "pick": _model("DropdownModel", index=1, _options_labels=["1:1", "4:3"], description="r"),
        "tags": _model("TagsInputModel", value=["blue", HOSTILE]),
        "secret": _model("PasswordModel", value="sk-should-never-show"),
        "button": _model("ButtonModel", description="Generate"),
        "fold": _model("AccordionModel", children=["IPY_MODEL_out"], titles=["Request JSON"]),
        "out": _model(
            "OutputModel",
            outputs=[{"output_type": "stream", "name": "stdout", "text": "printed <here>"}],
        ),
    }
    drawn = render_widget("root", models)
    assert drawn is not None
    assert f"data:image/png;base64,{_png('blue')}" in drawn and "width='40'" in drawn
    assert "[x] watermark" in drawn and "4:3" in drawn and "1:1" not in drawn
    assert "blue, &lt;img src=x" in drawn and HOSTILE not in drawn
    assert "sk-should-never-show" not in drawn and "Generate" not in drawn
    assert "<summary>Request JSON</summary>" in drawn and "printed &lt;here&gt;" in drawn
    assert render_widget("nowhere", models) is None


# ---------------------------------------------------------------- one self-contained page


def test_not_embedded_finds_what_a_page_would_load() -> None:
    page = (
        "<a href='https://example.com/read-me'>a link is fine</a>"
        "<img src='data:image/png;base64,AAAA'><img src=\"https://cdn.example/x.png\">"
        "<script src='//unpkg.com/x.js'></script><link rel=stylesheet href=theme.css>"
        "<style>body{background:url('https://f.example/bg.png')}"
        "@import 'https://f.example/font.css';</style><div style='background:url(#a)'>"
    )
    assert not_embedded(page) == [
        "https://cdn.example/x.png",
        "//unpkg.com/x.js",
        "theme.css",
        "https://f.example/bg.png",
        "https://f.example/font.css",
    ]


def test_export_notebook_writes_one_page_that_loads_nothing(tmp_path: Path) -> None:
    source = tmp_path / "panels.ipynb"
    nb = _notebook(_panel_output("panel"), _foreign_output("box"), models=STATE_MODELS)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# Panels <b>kept</b>\n\n$x^2$"))
    nbformat.write(nb, source)
    before = source.read_bytes()

    page = export_notebook(source, tmp_path / "out" / "page.html")

    assert page == tmp_path / "out" / "page.html"
    assert source.read_bytes() == before, "the notebook itself is not changed"
    text = page.read_text(encoding="utf-8")
    assert not_embedded(text) == []
    assert "<script" not in text, "no require.js, widget manager, MathJax or mermaid"
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?(https?:)?//", text)
    assert "ev-snapshot" in text and "aria-valuenow" in text
    assert "application/vnd.jupyter.widget" not in text
    assert export_notebook(source) == source.with_suffix(".html")


def test_export_notebook_names_a_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no notebook"):
        export_notebook(tmp_path / "nope.ipynb")
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.ipynb is not a readable notebook"):
        export_notebook(broken)


def test_jupyter_nbconvert_takes_the_preprocessor(tmp_path: Path) -> None:
    source = tmp_path / "panels.ipynb"
    nbformat.write(_notebook(_panel_output("panel"), models=STATE_MODELS), source)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "html",
            "--HTMLExporter.preprocessors=ecomviz_nb.export.SnapshotPreprocessor",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = source.with_suffix(".html").read_text(encoding="utf-8")
    assert "ev-snapshot" in text
    assert "application/vnd.jupyter.widget" not in text
    assert "html-manager" not in text and "unpkg.com" not in text, "no widget manager CDN"


def test_importing_without_nbconvert_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['nbconvert'] = None\n"
        "try:\n    import ecomviz_nb.export\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert "pip install 'ecomviz-nb[demo]'" in result.stdout, result.stdout + result.stderr
    assert "nbconvert" in result.stdout


def test_widget_state_json_survives_a_round_trip(tmp_path: Path) -> None:
    # The state as nbformat writes and reads it (NotebookNode, not dict) is what is drawn.
    path = tmp_path / "n.ipynb"
    nbformat.write(_notebook(_foreign_output("box"), models=STATE_MODELS), path)
    nb = _preprocess(nbformat.read(path, as_version=4), static_widgets=True)
    assert "aria-valuenow='3'" in json.dumps(nb.cells[0].outputs[0].data)
