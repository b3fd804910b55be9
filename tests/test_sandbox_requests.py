"""``GET /_sandbox/requests``: the sandbox counts the /api/ requests it answers, by route
template and status class; ``DELETE /_sandbox/requests`` and ``/_sandbox/reset`` clear it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import ecomviz_nb as ev

AUTH = {"Authorization": "Bearer test-token"}
TSHIRT = "/samples/products/tshirt-red.jpg"


@pytest.fixture
def http(fresh_sandbox: ev.Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh_sandbox.url, timeout=30) as client:
        yield client


def counts(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/_sandbox/requests")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def test_starts_at_zero(http: httpx.Client) -> None:
    assert counts(http) == {"total": 0, "by_route": {}, "by_status": {}, "by_route_status": {}}


def test_counts_the_product_flow_by_route_template(
    http: httpx.Client, fresh_sandbox: ev.Sandbox
) -> None:
    client = ev.Client("test-token", base_url=fresh_sandbox.url)
    product = client.create_product([fresh_sandbox.url + TSHIRT])
    client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=1)])).wait()
    client.get_product(product.id)
    client.close()

    seen = counts(http)
    polls = seen["by_route"]["GET /api/products/{id}"]
    assert polls >= 2  # at least one poll by wait() and the explicit read
    assert seen["by_route"] == {
        "POST /api/products/url": 1,
        "POST /api/products/{id}/generate": 1,
        "GET /api/products/{id}": polls,
    }
    assert seen["total"] == 2 + polls
    assert seen["by_status"] == {"2xx": seen["total"]}
    assert seen["by_route_status"]["POST /api/products/url"] == {"2xx": 1}


def test_counts_try_on_routes_and_status_classes(http: httpx.Client) -> None:
    assert http.get("/api/vto/nope", headers=AUTH).status_code == 404
    assert http.get("/api/products/abc").status_code == 401
    assert http.post("/api/vto/generate-url", json={}, headers=AUTH).status_code == 422
    assert http.delete("/api/products/abc", headers=AUTH).status_code == 405
    assert http.get("/api/no/such/route", headers=AUTH).status_code == 404

    seen = counts(http)
    assert seen["by_route_status"] == {
        "GET /api/vto/{id}": {"4xx": 1},
        "GET /api/products/{id}": {"4xx": 1},
        "POST /api/vto/generate-url": {"4xx": 1},
        "DELETE /api/products/{id}": {"4xx": 1},
        "GET /api/(no route)": {"4xx": 1},
    }
    assert seen["total"] == 5
    assert seen["by_status"] == {"4xx": 5}


def test_only_api_routes_are_counted(http: httpx.Client) -> None:
    for path in ("/_sandbox/health", TSHIRT, "/openapi.json", "/_sandbox/requests"):
        assert http.get(path).status_code == 200
    assert counts(http)["total"] == 0


def test_injected_faults_are_counted_under_their_route(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"error_rate": 1.0}).raise_for_status()
    assert http.get("/api/products/abc", headers=AUTH).status_code == 500
    http.post("/_sandbox/config", json={"error_rate": 0.0, "rate_limit_rate": 1.0})
    assert http.get("/api/products/abc", headers=AUTH).status_code == 429
    http.post("/_sandbox/config", json={"rate_limit_rate": 0.0, "drop_rate": 1.0})
    with pytest.raises(httpx.HTTPError):
        http.get("/api/products/abc", headers=AUTH)
    http.post("/_sandbox/config", json={"drop_rate": 0.0})

    assert counts(http)["by_route_status"] == {
        "GET /api/products/{id}": {"5xx": 1, "4xx": 1, "dropped": 1}
    }


def test_delete_and_reset_clear_the_counts(http: httpx.Client) -> None:
    http.get("/api/products/abc", headers=AUTH)
    assert counts(http)["total"] == 1
    assert http.delete("/_sandbox/requests").json() == {"success": True}
    assert counts(http)["total"] == 0

    http.get("/api/products/abc", headers=AUTH)
    assert counts(http)["total"] == 1
    http.post("/_sandbox/reset").raise_for_status()
    assert counts(http)["total"] == 0


def test_concurrent_requests_are_all_counted(http: httpx.Client, fresh_sandbox: ev.Sandbox) -> None:
    def hammer() -> None:
        with httpx.Client(base_url=fresh_sandbox.url, headers=AUTH) as mine:
            for _ in range(25):
                mine.get("/api/vto/x")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts(http)["by_route"] == {"GET /api/vto/{id}": 200}
