"""``ev.connect(job_seconds=…)``: a sandbox's time per job is set by connecting, never by hand.

Every test runs against real sandboxes (uvicorn on a loopback socket); none relies on timing:
what a sandbox does is read back from its ``/_sandbox/config``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from support import http_server, sample, sandbox_get

import ecomviz_nb as ev
from ecomviz_nb import local

TSHIRT = "products/tshirt-red.jpg"
REAL_TOKEN = "tok-real-5f0c2a9d81"


def sandbox_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("ecomviz-sandbox-")}


def job_seconds_of(url: str) -> tuple[float, float | None]:
    """What a sandbox reports: (its start-up seconds per job, the run-time override or None)."""
    config = sandbox_get(url, "/_sandbox/config")
    return config["job_seconds"], config["faults"]["job_seconds"]


@pytest.fixture
def no_shared_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No process-wide sandbox yet; whichever a test starts is stopped after it."""
    monkeypatch.setattr(local, "_shared", None)
    yield
    if local._shared is not None:
        local._shared.stop()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request any httpx client sends during the test (each then fails)."""
    requests: list[str] = []

    def record(self: Any, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        requests.append(f"{request.method} {request.url}")
        raise AssertionError(f"a request was sent: {request.method} {request.url}")

    async def arecord(self: Any, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        return record(self, request)

    monkeypatch.setattr(httpx.Client, "send", record)
    monkeypatch.setattr(httpx.AsyncClient, "send", arecord)
    return requests


def test_connect_starts_its_sandbox_with_the_job_seconds_given(
    no_shared_sandbox: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with ev.connect(job_seconds=0.2) as client:
        assert isinstance(client, ev.Client)
        assert job_seconds_of(client.base_url) == (0.2, None)
        out = capsys.readouterr().out
        assert local.SANDBOX in out and "Its jobs take 0.2 s each." in out
        product = client.create_product([sample(client.base_url, TSHIRT)])
        request = ev.GenerateRequest([ev.ImageSpec("main", count=1, aspect_ratio="1:1")])
        done = client.generate(product.id, request).wait(timeout=120)
        assert len(done.generated_images) == 1


def test_a_second_connect_switches_the_running_sandbox_without_a_restart(
    no_shared_sandbox: None, capsys: pytest.CaptureFixture[str]
) -> None:
    first = ev.connect(job_seconds=0.2, quiet=True)
    instance = sandbox_get(first.base_url, "/_sandbox/health")["instance"]
    product = first.create_product([sample(first.base_url, TSHIRT)])
    threads = sandbox_threads()

    second = ev.connect(job_seconds=0.5)
    assert second.base_url == first.base_url
    assert sandbox_threads() == threads
    assert sandbox_get(second.base_url, "/_sandbox/health")["instance"] == instance
    assert second.get_product(product.id).id == product.id  # its store was kept
    assert job_seconds_of(second.base_url) == (0.2, 0.5)
    assert "Its jobs take 0.5 s each." in capsys.readouterr().out

    third = ev.connect(quiet=True)  # None keeps what the sandbox has
    assert job_seconds_of(third.base_url) == (0.2, 0.5)
    fourth = ev.connect(job_seconds=0, quiet=True)
    assert job_seconds_of(fourth.base_url) == (0.2, 0.0)
    for client in (first, second, third, fourth):
        client.close()


@pytest.mark.parametrize("token", [None, "tok-local-7d3e"], ids=["no-token", "token"])
def test_connect_to_a_local_server_sets_its_job_seconds(
    fresh_sandbox: ev.Sandbox, token: str | None
) -> None:
    with ev.connect(token, base_url=fresh_sandbox.url, job_seconds=1.5, quiet=True) as client:
        assert client.base_url == fresh_sandbox.url
    assert job_seconds_of(fresh_sandbox.url) == (0, 1.5)


@pytest.mark.parametrize(
    ("token", "base_url"),
    [(REAL_TOKEN, "https://example.invalid"), (None, None)],
    ids=["base-url", "env-token"],
)
def test_connect_to_the_real_api_refuses_job_seconds_before_anything(
    no_shared_sandbox: None,
    sent: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str | None,
    base_url: str | None,
) -> None:
    if token is None:
        monkeypatch.setenv("ECOMVIZ_API_TOKEN", REAL_TOKEN)
    threads = sandbox_threads()
    with pytest.raises(ev.ValidationError) as caught:
        ev.connect(token, base_url=base_url, job_seconds=0.2)
    assert caught.value.field == "job_seconds"
    assert caught.value.value == 0.2
    message = str(caught.value)
    assert "applies only to a local sandbox" in message
    assert "nothing was sent" in message
    assert REAL_TOKEN not in message
    assert sent == []
    assert local._shared is None and sandbox_threads() == threads
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "value",
    [-1, 601, float("nan"), float("inf"), "fast", True, [1]],
    ids=["negative", "above-600", "nan", "inf", "text", "bool", "list"],
)
def test_job_seconds_out_of_range_is_refused_before_a_sandbox_starts(
    no_shared_sandbox: None, sent: list[str], value: Any
) -> None:
    threads = sandbox_threads()
    with pytest.raises(ev.ValidationError) as caught:
        ev.connect(job_seconds=value)
    assert caught.value.field == "job_seconds"
    assert "from 0 to 600" in str(caught.value)
    assert local._shared is None and sandbox_threads() == threads
    assert sent == []


class NotASandbox(BaseHTTPRequestHandler):
    """A local server that knows no ``/_sandbox/`` routes."""

    def do_PUT(self) -> None:
        body = b'{"success": false, "message": "<b>no such route</b>"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_local_server_that_is_no_sandbox_refuses_job_seconds() -> None:
    with http_server(NotASandbox) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(ev.APIError) as caught:
            ev.connect(base_url=url, job_seconds=0.2, quiet=True)
    assert caught.value.status_code == 404
    assert caught.value.path == local.CONFIG_PATH
    assert "applies only to an EcomViz sandbox" in str(caught.value)
    assert "<b>" not in str(caught.value)  # the server's own words are left out
