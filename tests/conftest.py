"""Shared fixtures: every test gets its own ECOMVIZ_HOME and a clean environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomviz_nb import config


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the ledger at a fresh folder and drop any token or server the machine has set."""
    home = tmp_path / "ecomviz-home"
    monkeypatch.setenv(config.ENV_HOME, str(home))
    for name in (config.ENV_TOKEN, config.ENV_BASE_URL, config.ENV_LOG):
        monkeypatch.delenv(name, raising=False)
    return home
