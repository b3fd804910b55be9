"""What importing the sandbox loads, and what it says when its optional server stack is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# The client side of the package: the sandbox must never pull these in.
CLIENT_SIDE = {
    "ecomviz_nb.client",
    "ecomviz_nb.client_base",
    "ecomviz_nb.api_call",
    "ecomviz_nb.jobs",
    "ecomviz_nb.ledger",
    "ecomviz_nb.local",
    "ecomviz_nb.runs",
    "ecomviz_nb.scheduler",
    "ecomviz_nb.widgets",
    "ecomviz_nb.display",
    "ecomviz_nb.report",
}
SERVER_STACK = {"fastapi", "uvicorn", "starlette"}
HINT = "pip install 'ecomviz-nb[sandbox]'"

# Stands in a bare package for ecomviz_nb/__init__.py, so what loads is the sandbox's own doing.
BARE_PARENT = """
import importlib.util, sys, types
spec = importlib.util.find_spec("ecomviz_nb")
parent = types.ModuleType("ecomviz_nb")
parent.__path__ = list(spec.submodule_search_locations)
parent.__spec__ = spec
sys.modules["ecomviz_nb"] = parent
"""
# Makes the optional extra unimportable, as if it were not installed.
WITHOUT_FASTAPI = "import sys\nsys.modules['fastapi'] = None\n"
WITHOUT_STACK = "import sys\nsys.modules['fastapi'] = None\nsys.modules['uvicorn'] = None\n"
REPORT_MODULES = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMVIZ_")}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def modules_loaded_by(code: str) -> set[str]:
    result = run_python(code + REPORT_MODULES)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_importing_the_sandbox_loads_no_client_jobs_or_ledger() -> None:
    loaded = modules_loaded_by("import ecomviz_nb.sandbox")
    assert "ecomviz_nb.sandbox" in loaded
    assert loaded & CLIENT_SIDE == set()


def test_the_whole_sandbox_imports_nothing_of_the_client_side() -> None:
    code = BARE_PARENT + (
        "import pkgutil, importlib, ecomviz_nb.sandbox as sandbox\n"
        "for info in pkgutil.iter_modules(sandbox.__path__):\n"
        "    importlib.import_module('ecomviz_nb.sandbox.' + info.name)\n"
        "sandbox.create_app(sandbox.Settings())\n"
    )
    loaded = modules_loaded_by(code)
    for module in ("app", "products", "vto", "media", "control", "render", "probe"):
        assert f"ecomviz_nb.sandbox.{module}" in loaded  # it really loaded the sandbox
    assert loaded & CLIENT_SIDE == set()


def test_importing_the_sandbox_or_ev_sandbox_loads_no_server_stack() -> None:
    loaded = modules_loaded_by("import ecomviz_nb.sandbox, ecomviz_nb as ev\nev.Sandbox")
    assert "ecomviz_nb.local" in loaded
    assert top_level(loaded) & SERVER_STACK == set()


def test_building_an_app_loads_the_server_stack() -> None:
    loaded = modules_loaded_by("from ecomviz_nb.sandbox import create_app\ncreate_app()")
    assert {"fastapi", "starlette"} <= top_level(loaded)


def test_without_the_extra_the_client_and_the_real_api_still_work() -> None:
    code = WITHOUT_STACK + (
        "import ecomviz_nb as ev\n"
        "client = ev.connect('tok-1234567890')\n"
        "print(type(client).__name__, client.base_url)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "the real EcomViz API (billed)" in result.stdout
    assert result.stdout.splitlines()[-1] == "Client https://ecomviz.cloud"


def test_without_the_extra_job_seconds_for_the_real_api_is_a_validation_error() -> None:
    code = WITHOUT_STACK + (
        "import ecomviz_nb as ev\n"
        "try:\n"
        "    ev.connect('tok-1234567890', job_seconds=1)\n"
        "except ev.ValidationError as exc:\n"
        "    print(exc.field, '|', exc)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    field, message = result.stdout.strip().split(" | ", 1)
    assert field == "job_seconds"
    assert "applies only to a local sandbox" in message


@pytest.mark.parametrize(
    "call",
    [
        "ev.connect()",
        "ev.connect(job_seconds=0.2)",
        "ev.Sandbox(port=0)",
        "from ecomviz_nb.sandbox import create_app",
        "import ecomviz_nb.sandbox.app",
    ],
)
def test_without_the_extra_the_sandbox_says_what_to_install(call: str) -> None:
    code = WITHOUT_STACK + (
        "import json\n"
        "import ecomviz_nb as ev\n"
        "from ecomviz_nb.sandbox import SandboxNotInstalled\n"
        "try:\n"
        f"    {call}\n"
        "except SandboxNotInstalled as exc:\n"
        "    print(json.dumps([isinstance(exc, ModuleNotFoundError), exc.name, str(exc)]))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    is_module_error, name, message = json.loads(result.stdout.splitlines()[-1])
    assert is_module_error and name == "fastapi"
    assert HINT in message
    assert "fastapi cannot be imported" in message and "uvicorn cannot be imported" in message


def test_without_uvicorn_alone_the_message_names_uvicorn_only() -> None:
    code = (
        "import sys\nsys.modules['uvicorn'] = None\n"
        "import ecomviz_nb as ev\n"
        "try:\n    ev.Sandbox()\nexcept ImportError as exc:\n    print(exc.name, '|', exc)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    name, message = result.stdout.strip().split(" | ", 1)
    assert name == "uvicorn"
    assert "uvicorn cannot be imported" in message
    assert "fastapi cannot be imported" not in message
    assert HINT in message


def test_the_sandbox_command_without_the_extra_fails_before_announcing_a_server() -> None:
    code = WITHOUT_FASTAPI + (
        "from ecomviz_nb.cli import main\nsys.exit(main(['sandbox', '--port', '0']))\n"
    )
    result = run_python(code)
    assert result.returncode != 0
    assert HINT in result.stderr
    assert "EcomViz sandbox on" not in result.stdout


def test_names_split_out_of_render_stay_importable_from_it() -> None:
    from ecomviz_nb.sandbox import analysis, codec, colors, lettering, render

    assert render.decode is codec.decode and render.ImageRejected is codec.ImageRejected
    assert render.analyse is analysis.analyse and render.Analysis is analysis.Analysis
    assert render.color_rgb is colors.color_rgb and render.COLOR_NAMES is colors.COLOR_NAMES
    assert render.nearest_color_name is colors.nearest_color_name
    assert render.sandbox_mark_box is lettering.sandbox_mark_box
    assert all(hasattr(render, name) for name in render.__all__)
