"""What an install brings: a core a notebook user needs, extras for the sandbox and ipyplot, a
wheel that carries the licence, and Binder's list of what the notebooks need."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
CORE = {"httpx", "pillow", "ipywidgets", "ipython"}
EXTRA_ONLY = {"fastapi", "uvicorn", "starlette", "pydantic", "ipyplot"}
# The sandbox's own modules; everything else (its package and ev.connect too) imports without it.
NEEDS_SANDBOX = ("ecomviz_nb.sandbox.",)


def names(requirements: list[str]) -> set[str]:
    """Distribution names (lower case) of requirement strings, extras in brackets kept."""
    found = set()
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9._-]+(?:\[[^\]]*\])?)", requirement)
        assert match is not None, requirement
        found.add(match[1].lower().replace("_", "-"))
    return found


def extra(name: str) -> set[str]:
    return names(PROJECT["optional-dependencies"][name])


def test_the_core_install_is_what_a_client_user_needs() -> None:
    assert names(PROJECT["dependencies"]) == CORE


def test_the_sandbox_and_ipyplot_are_extras() -> None:
    assert extra("sandbox") == {"fastapi", "uvicorn"}
    assert extra("ipyplot") == {"ipyplot"}
    assert "ecomviz-nb[sandbox]" in extra("demo")
    assert {"jupyterlab", "ipykernel", "nbclient", "nbconvert"} <= extra("demo")


def test_the_test_extra_pulls_everything_the_tests_use() -> None:
    test = extra("test")
    assert "papermill" in test and "hatchling" in test
    pulled = {e for e in test if e.startswith("ecomviz-nb[")}
    assert pulled == {"ecomviz-nb[demo,sandbox,ipyplot]"}
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert 'pip install --quiet -e ".[test,dev]"' in makefile


def test_modules_outside_the_sandbox_import_without_the_extras() -> None:
    """Each module of the package, in a fresh interpreter where the extras cannot be imported."""
    blocker = f"""
import importlib, pkgutil, sys
import importlib.abc

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {sorted(EXTRA_ONLY)!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Missing())
import ecomviz_nb
failed = []
for info in pkgutil.walk_packages(ecomviz_nb.__path__, "ecomviz_nb."):
    if info.name.startswith({NEEDS_SANDBOX!r}):
        continue
    try:
        importlib.import_module(info.name)
    except ImportError as exc:
        failed.append(f"{{info.name}}: {{exc}}")
client = ecomviz_nb.Client("tok-123456", base_url="http://127.0.0.1:9")
assert client.is_sandbox
print("\\n".join(failed) or "ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", blocker], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_the_wheel_carries_the_licence_and_the_extras(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder

    assert "MIT License" in (ROOT / "LICENSE").read_text("utf-8")
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    built = list(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))
    assert len(built) == 1
    with zipfile.ZipFile(built[0]) as wheel:
        files = wheel.namelist()
        licences = [name for name in files if name.endswith(".dist-info/licenses/LICENSE")]
        assert len(licences) == 1
        assert wheel.read(licences[0]) == (ROOT / "LICENSE").read_bytes()
        metadata = wheel.read(next(n for n in files if n.endswith(".dist-info/METADATA")))
    text = metadata.decode("utf-8")
    assert "License-Expression: MIT" in text and "License-File: LICENSE" in text
    for name in ("sandbox", "ipyplot", "demo"):
        assert f"Provides-Extra: {name}" in text
    plain = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)[^;\n]*$", text, re.MULTILINE)
    assert {name.lower() for name in plain} == CORE  # fastapi only ever under an extra
    assert not [name for name in files if name.startswith(("tests/", "notebooks/"))]


def test_binder_installs_what_the_notebooks_need() -> None:
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "binder" / "requirements.txt").read_text("utf-8").splitlines()
    ]
    wanted = {line for line in lines if line}
    project = [line for line in wanted if line.startswith(".")]
    assert len(project) == 1 and "sandbox" in project[0]  # binder/start runs the sandbox
    listed = names([line for line in wanted if not line.startswith(".")])
    assert {"jupyterlab", "jupyterlab-widgets"} <= listed  # widgets render in JupyterLab 4
    assert re.fullmatch(r"python-3\.1\d\s*", (ROOT / "binder" / "runtime.txt").read_text("utf-8"))


def test_readme_pictures_are_in_the_repository_and_extras_are_explained() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme)
    local = [p for p in pictures if not p.startswith(("http://", "https://"))]
    assert local, "the README shows pictures"
    assert [p for p in local if not (ROOT / p).is_file()] == []
    for text in ('"ecomviz-nb[sandbox]"', "[ipyplot]", "[demo]", "papermill", "sample_images"):
        assert text in readme, text
