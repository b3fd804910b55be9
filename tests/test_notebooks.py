"""The demo notebooks: each runs top to bottom against a sandbox, and what it would save leaks
nothing.

Each notebook is executed once per module, in a copy in a temporary folder, by a kernel whose
environment has no token and no server (so ``ev.connect()`` starts a sandbox inside it) and an
``ECOMVIZ_HOME`` of its own. nbclient keeps the widget state, as it does by default and as a
saved notebook would. The executed notebook is then scanned: no token, no filled-in Password
widget, no address of the sandbox in any output or widget state, and every picture embedded as
a data URI. The committed notebooks themselves must hold no outputs at all.

Each notebook has one cell tagged ``parameters``; one runs under papermill with overrides, from
another folder, and must write its file beside the output notebook (papermill's ``cwd``).
"""

from __future__ import annotations

import ast
import base64
import binascii
import html
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from ecomviz_nb import config
from ecomviz_nb.local import SANDBOX_TOKEN

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = [
    "01_quickstart.ipynb",
    "02_generate_panel.ipynb",
    "03_virtual_try_on.ipynb",
    "04_report.ipynb",
    "05_explore.ipynb",
    "06_catalogue.ipynb",
]
NOTEBOOKS = sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))
REPORT_NOTEBOOK = "04_report.ipynb"
REPORT_FILE = Path("build") / "report.html"
"""Where the report notebook saves its page, relative to the notebook's folder."""
EXPLORE_NOTEBOOK = "05_explore.ipynb"
SWEEP_REPORT_FILE = Path("build") / "sweep-report.html"
"""Where the explore notebook saves its report of two sweeps."""
CATALOGUE_NOTEBOOK = "06_catalogue.ipynb"
CATALOGUE_REPORT_FILE = Path("build") / "catalogue-report.html"
"""Where the catalogue notebook saves the report of its resumed batch."""
CELL_TIMEOUT = 180
PARAMETERS = "parameters"
"""The tag papermill looks for: the cell whose assignments ``-p NAME VALUE`` overrides."""

TOKEN_PATTERNS = [
    re.compile(re.escape(SANDBOX_TOKEN)),
    # A curl command may say "Bearer $ECOMVIZ_API_TOKEN": the variable, not its value.
    re.compile(r"Bearer\s+(?!\$)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"ECOMVIZ_API_TOKEN=[\"']?[^\s\"'$]"),
]
LOOPBACK_URL = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://(?:localhost|127(?:\.\d{1,3}){3}|0\.0\.0\.0|\[::1?\])(?![\w.-])"
)
IMG_SRC = re.compile(r"""(?i)<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
IMAGE_MIME = re.compile(r"^image/(?!svg)")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@dataclass
class Run:
    """One executed notebook."""

    name: str
    notebook: nbformat.NotebookNode = field(repr=False)
    folder: Path
    error: str | None
    """The failing cell and its traceback, if a cell raised."""


def kernel_env(home: Path) -> dict[str, str]:
    """This process's environment without a token, a server or request logging."""
    dropped = {config.ENV_TOKEN, config.ENV_BASE_URL, config.ENV_LOG}
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    env[config.ENV_HOME] = str(home)
    return env


@pytest.fixture(scope="module")
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The notebook named by the test's parameter, executed in a copy (once per module)."""
    name: str = request.param
    folder = tmp_path_factory.mktemp(Path(name).stem)
    shutil.copy(NOTEBOOK_DIR / name, folder / name)
    notebook = nbformat.read(folder / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    assert client.store_widget_state  # nbclient's default, and what a saved notebook keeps
    error = None
    try:
        client.execute(env=kernel_env(folder / "ecomviz-home"))
    except CellExecutionError as exc:
        error = ANSI.sub("", str(exc))
        client.set_widgets_metadata()  # scan what the cells before the error left
    nbformat.write(notebook, folder / name)  # kept for a look when a test fails
    return Run(name, notebook, folder, error)


def each_notebook() -> pytest.MarkDecorator:
    """Parametrize ``run`` over the notebooks."""
    params = [pytest.param(name, id=Path(name).stem) for name in NOTEBOOKS]
    return pytest.mark.parametrize("run", params, indirect=True)


# ---------------------------------------------------------------- scanning helpers


def strings(value: Any) -> Iterator[str]:
    """Every string inside nested dicts and lists, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def outputs(notebook: nbformat.NotebookNode) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, output) for every output of every code cell."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            yield f"cell {index}", output


def widget_models(notebook: nbformat.NotebookNode) -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    return models.get("state", {})


def token_leaks(text: str) -> list[str]:
    """Tokens in a piece of saved text (HTML entities decoded)."""
    plain = html.unescape(text)
    return [m.group(0) for pattern in TOKEN_PATTERNS for m in pattern.finditer(plain)]


def sandbox_addresses(text: str) -> list[str]:
    """Loopback URLs (a sandbox's address) in a piece of saved text."""
    return LOOPBACK_URL.findall(html.unescape(text))


def leaks(text: str) -> list[str]:
    return token_leaks(text) + sandbox_addresses(text)


def img_sources(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in IMG_SRC.finditer(text)]


def not_embedded(sources: list[str]) -> list[str]:
    return [src[:120] for src in sources if not src.startswith("data:image/")]


# ---------------------------------------------------------------- the committed notebooks


def test_the_demo_notebooks_are_there() -> None:
    assert NOTEBOOKS == EXPECTED


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_holds_no_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert [i for i, cell in enumerate(code) if cell.outputs] == []
    assert [i for i, cell in enumerate(code) if cell.execution_count is not None] == []
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}  # no widget state
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_holds_no_token(name: str) -> None:
    assert token_leaks((NOTEBOOK_DIR / name).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_starts_by_saying_what_it_shows(name: str) -> None:
    first = nbformat.read(NOTEBOOK_DIR / name, as_version=4).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    assert "sandbox" in first.source  # and says where it runs without a token


def parameters_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    tagged = [c for c in notebook.cells if PARAMETERS in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} cells tagged {PARAMETERS!r}"
    return tagged[0]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_one_parameters_cell_of_plain_values(name: str) -> None:
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    cell = parameters_cell(notebook)
    assert cell.cell_type == "code"
    tree = ast.parse(cell.source)
    assigned = []
    for statement in tree.body:  # papermill appends assignments: only plain values go here
        assert isinstance(statement, ast.Assign), ast.dump(statement)[:80]
        [target] = statement.targets
        assert isinstance(target, ast.Name), ast.dump(target)[:80]
        ast.literal_eval(statement.value)
        assigned.append(target.id)
    assert "MINE" in assigned
    later = "\n".join(c.source for c in notebook.cells[notebook.cells.index(cell) + 1 :])
    unused = [n for n in assigned if not re.search(rf"\b{n}\b", later)]
    assert unused == []


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_leaves_the_sandbox_guess_to_the_library(name: str) -> None:
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "ev.sample_images(client, mine=MINE)" in code
    for guess in ("127.0.0.1", "localhost", "/samples/", "def image_url", "def panel_url"):
        assert guess not in code


# ---------------------------------------------------------------- the executed notebooks


@each_notebook()
def test_notebook_runs_top_to_bottom_against_a_sandbox(run: Run) -> None:
    if run.error is not None:
        pytest.fail(run.error, pytrace=False)
    code = [cell for cell in run.notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    errors = [where for where, out in outputs(run.notebook) if out["output_type"] == "error"]
    assert errors == []
    stderr = [
        f"{where}: {out['text'][:300]}"
        for where, out in outputs(run.notebook)
        if out["output_type"] == "stream" and out["name"] == "stderr"
    ]
    assert stderr == []


@each_notebook()
def test_notebook_shows_that_it_runs_on_a_local_sandbox(run: Run) -> None:
    printed = "".join(
        out.get("text", "") for _, out in outputs(run.notebook) if out["output_type"] == "stream"
    )
    assert "local renders, not AI" in printed
    assert "sample images from the sandbox" in printed


@each_notebook()
def test_outputs_hold_no_token_and_no_sandbox_address(run: Run) -> None:
    found = [
        f"{where}: {leak}"
        for where, out in outputs(run.notebook)
        for text in strings(dict(out))
        for leak in leaks(text)
    ]
    assert found == []


@each_notebook()
def test_widget_state_holds_no_token_and_no_password(run: Run) -> None:
    models = widget_models(run.notebook)
    found = [
        f"{model_id}: {leak}"
        for model_id, model in models.items()
        for text in strings(model)
        for leak in token_leaks(text)
    ]
    assert found == []
    passwords = [
        model_id
        for model_id, model in models.items()
        if model.get("model_name") == "PasswordModel" and model["state"].get("value")
    ]
    assert passwords == []


@each_notebook()
def test_widget_state_holds_no_sandbox_address(run: Run) -> None:
    found = [
        f"{model_id} ({model.get('model_name')}): {leak}"
        for model_id, model in widget_models(run.notebook).items()
        for text in strings(model)
        for leak in sandbox_addresses(text)
    ]
    assert found == []


@each_notebook()
def test_every_picture_is_embedded(run: Run) -> None:
    bad: list[str] = []
    for where, out in outputs(run.notebook):
        for mime, data in out.get("data", {}).items():
            if IMAGE_MIME.match(mime):
                try:
                    base64.b64decode("".join(data.split()), validate=True)
                except (binascii.Error, ValueError, AttributeError):
                    bad.append(f"{where}: {mime} is not base64 data")
            elif mime == "text/html":
                bad += [f"{where}: {src}" for src in not_embedded(img_sources(str(data)))]
    for model_id, model in widget_models(run.notebook).items():
        for text in strings(model["state"]):
            bad += [f"widget {model_id}: {src}" for src in not_embedded(img_sources(text))]
    assert bad == []


@each_notebook()
def test_notebook_shows_pictures(run: Run) -> None:
    shown = [
        src
        for _, out in outputs(run.notebook)
        for src in img_sources(str(out.get("data", {}).get("text/html", "")))
    ]
    assert len(shown) >= 3


@pytest.mark.parametrize("run", [REPORT_NOTEBOOK], indirect=True, ids=["04_report"])
def test_report_notebook_saves_a_self_contained_page(run: Run) -> None:
    page = (run.folder / REPORT_FILE).read_text(encoding="utf-8")
    sources = img_sources(page)
    assert len(sources) >= 10  # three products with their sources and images, and a try-on
    assert not_embedded(sources) == []
    assert leaks(page) == []


@pytest.mark.parametrize("run", [EXPLORE_NOTEBOOK], indirect=True, ids=["05_explore"])
def test_explore_notebook_shows_its_sweeps_and_saves_them(run: Run) -> None:
    html_out = [
        str(out["data"]["text/html"])
        for _, out in outputs(run.notebook)
        if "text/html" in out.get("data", {})
    ]
    matrices = [text for text in html_out if "ev-matrix" in text]
    assert len(matrices) >= 2  # the generate sweep and the try-on sweep
    page = (run.folder / SWEEP_REPORT_FILE).read_text(encoding="utf-8")
    sources = img_sources(page)
    assert len(sources) >= 9 + 1 + 4 + 2  # both sweeps' images and their sources
    assert not_embedded(sources) == []
    assert leaks(page) == []


@pytest.mark.parametrize("run", [CATALOGUE_NOTEBOOK], indirect=True, ids=["06_catalogue"])
def test_catalogue_notebook_resumes_its_batch_and_saves_it(run: Run) -> None:
    printed = "".join(
        out.get("text", "") for _, out in outputs(run.notebook) if out["output_type"] == "stream"
    )
    assert "killed it mid-run" in printed
    assert "after the resume:" in printed
    # A kill between a paid request and its answer leaves that item unknown, never resent.
    done = re.search(r"'completed': (\d+), 'failed': 0, 'unknown': (\d+)", printed)
    assert done is not None and int(done[1]) + int(done[2]) == 24 and int(done[1]) >= 20
    assert "products generated twice: none" in printed
    page = (run.folder / CATALOGUE_REPORT_FILE).read_text(encoding="utf-8")
    sources = img_sources(page)
    assert len(sources) >= int(done[1])  # each completed item's image (and its larger view)
    assert not_embedded(sources) == []
    assert leaks(page) == []


# ---------------------------------------------------------------- papermill


def test_report_notebook_runs_under_papermill_and_writes_beside_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill  # the test extra's: CI runs this notebook through it

    elsewhere = tmp_path / "elsewhere"  # where papermill is started from
    out = tmp_path / "runs" / "04_report-papermill.ipynb"
    elsewhere.mkdir()
    out.parent.mkdir()
    monkeypatch.chdir(elsewhere)
    # The kernel inherits this environment: no token or server (a sandbox in the kernel).
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "ecomviz-home"))
    title = "Papermill run 7319 <b>"
    papermill.execute_notebook(
        NOTEBOOK_DIR / REPORT_NOTEBOOK,
        out,
        parameters={"TITLE": title, "JOB_SECONDS": 0},
        cwd=out.parent,  # papermill --cwd: the kernel's folder, so files land beside the output
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=CELL_TIMEOUT,
    )
    executed = nbformat.read(out, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "JOB_SECONDS = 0" in injected[0].source
    page = (out.parent / REPORT_FILE).read_text(encoding="utf-8")
    assert html.escape(title) in page  # the override reached the report, escaped
    assert "EcomViz demo report" not in page
    assert list(elsewhere.iterdir()) == []  # nothing written where papermill was started
    assert leaks(page) == []
