"""Shared fixtures: a clean environment per test, sandboxes, and the fake API with its clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_api import FakeAPI, Flavour
from support import SandboxProcess

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


@pytest.fixture
def fake_api() -> FakeAPI:
    """The in-memory EcomViz API (``fake_api.FakeAPI``) holding product ``p1`` and try-on
    ``vto_a``; its ``requests`` are what the clients sent."""
    api = FakeAPI()
    api.add_product("p1")
    api.add_vto("vto_a")
    return api


@pytest.fixture(params=["sync", "async"])
async def flavour(request: pytest.FixtureRequest, fake_api: FakeAPI) -> AsyncIterator[Flavour]:
    """Each client flavour in turn over ``fake_api``: ``ev.Client`` then ``ev.AsyncClient``.

    ``flavour.client(...)`` builds clients that send through an ``httpx.MockTransport`` and
    never really wait; every client it built is closed afterwards.
    """
    chosen = Flavour(request.param, fake_api)
    yield chosen
    for client in chosen.clients:
        await chosen.close(client)


@pytest.fixture
def api_client(flavour: Flavour) -> Any:
    """A client of the current flavour on ``fake_api`` with the test token (``fake_api.TOKEN``)."""
    return flavour.client()


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[Callable[..., SandboxProcess]]:
    """Start ``ecomviz-nb sandbox ARGS`` in processes of their own: ``sandbox_process(*args)``
    returns a started ``support.SandboxProcess`` logging under ``tmp_path``; each is killed
    after the test."""
    started: list[SandboxProcess] = []

    def start(*args: str, **options: str) -> SandboxProcess:
        server = SandboxProcess(*args, log_dir=tmp_path / "sandbox-logs", **options)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.close()
