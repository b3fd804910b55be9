"""Shared fixtures: every test gets its own ECOMVIZ_HOME and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ecomviz_nb import Sandbox, config


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the ledger at a fresh folder and drop any token or server the machine has set."""
    home = tmp_path / "ecomviz-home"
    monkeypatch.setenv(config.ENV_HOME, str(home))
    for name in (config.ENV_TOKEN, config.ENV_BASE_URL, config.ENV_LOG):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One real sandbox (uvicorn on a loopback socket) shared by the session; jobs are instant.

    Tests that change its fault switches must use ``fresh_sandbox`` instead.
    """
    with Sandbox(port=0, job_seconds=0) as sb:
        yield sb


@pytest.fixture
def fresh_sandbox() -> Iterator[Sandbox]:
    """A sandbox of the test's own, for tests that change settings or faults."""
    with Sandbox(port=0, job_seconds=0) as sb:
        yield sb
