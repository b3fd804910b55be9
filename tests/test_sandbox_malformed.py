"""Malformed requests to the sandbox: each one is a 4xx with the error envelope, never a 500.

Raw HTTP only. Every case names the status it expects: 400 bad JSON or an image URL that is
refused or cannot be had, 401 authentication, 404 unknown ids and routes, 405 wrong method,
413 a body over the size limit, 422 a body that breaks the request's schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

import ecomviz_nb as ev

AUTH = {"Authorization": "Bearer test-token"}
STRICT_TOKEN = "strict-only-token"
# Placeholders, filled in per sandbox: SB is its base URL, PID an existing product's id.
TSHIRT = "SB/samples/products/tshirt-red.jpg"
PERSON = "SB/samples/people/person-a.jpg"
CLOTHING = [{"url": TSHIRT, "info": "price US9.9"}]
TRY_ON: dict[str, Any] = {"personImageUrl": PERSON, "clothingImageUrls": CLOTHING}
GENERATE = "/api/products/PID/generate"
JSON_TYPE = {"Content-Type": "application/json"}
TWO_MB = b'{"imageUrls": ["' + b"a" * 2_000_000 + b'"]}'


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: str | None = "Bearer test-token"
    server: str = "shared"
    says: str = ""
    chunked: bool = False


def create(status: int, json: Any, **kw: Any) -> Case:
    return Case("POST", "/api/products/url", status, json=json, **kw)


def gen(status: int, json: Any, **kw: Any) -> Case:
    return Case("POST", GENERATE, status, json=json, **kw)


def vto(status: int, **changes: Any) -> Case:
    return Case("POST", "/api/vto/generate-url", status, json={**TRY_ON, **changes})


def without(key: str) -> Case:
    body = {k: v for k, v in TRY_ON.items() if k != key}
    return Case("POST", "/api/vto/generate-url", 422, json=body)


def entry(item: Any) -> Case:
    return gen(422, {"imageType": [item]})


CASES: dict[str, Case] = {
    # -- bodies that are not a JSON object
    "invalid-json": create(400, None, content=b'{"imageUrls": [', headers=JSON_TYPE),
    "invalid-utf8": create(400, None, content=b'{"imageUrls": ["\xff\xfe"]}', headers=JSON_TYPE),
    "json-array": create(422, [TSHIRT]),
    "json-string": create(422, "imageUrls"),
    "json-null": create(422, None, content=b"null", headers=JSON_TYPE),
    "empty-body": create(422, None, content=b"", headers=JSON_TYPE),
    "wrong-content-type": create(
        422,
        None,
        content=b'{"imageUrls": ["https://example.com/a.jpg"]}',
        headers={"Content-Type": "text/plain"},
    ),
    "form-encoded": create(
        422,
        None,
        content=b"imageUrls=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    # -- POST /api/products/url
    "imageUrls-empty": create(422, {"imageUrls": []}),
    "imageUrls-missing": create(422, {}),
    "imageUrls-null": create(422, {"imageUrls": None}),
    "imageUrls-not-a-list": create(422, {"imageUrls": TSHIRT}),
    "imageUrls-number": create(422, {"imageUrls": 5}),
    "imageUrls-empty-string": create(422, {"imageUrls": [""]}),
    "imageUrls-ftp": create(422, {"imageUrls": ["ftp://example.com/a.jpg"]}),
    "imageUrls-javascript": create(422, {"imageUrls": ["javascript:alert(1)"]}),
    "imageUrls-eleven": create(422, {"imageUrls": [TSHIRT] * 11}),
    "unknown-top-level-field": create(422, {"imageUrls": [TSHIRT], "productName": "x"}),
    "private-address": create(400, {"imageUrls": ["http://10.0.0.1/a.jpg"]}, says="refused"),
    "cloud-metadata": create(
        400, {"imageUrls": ["http://169.254.169.254/latest/meta-data"]}, says="refused"
    ),
    "localhost": create(400, {"imageUrls": ["http://localhost:1/x.jpg"]}, says="refused"),
    "ipv6-loopback": create(400, {"imageUrls": ["http://[::1]:1/x.jpg"]}, says="refused"),
    "missing-sample": create(400, {"imageUrls": ["SB/samples/nope.jpg"]}),
    "sandbox-page-not-image": create(400, {"imageUrls": ["SB/_sandbox/health"]}),
    "unresolvable-host": create(400, {"imageUrls": ["http://no-such-host.invalid/a.jpg"]}),
    "url-bad-ipv6-host": create(400, {"imageUrls": ["http://[bad/a.jpg"]}),
    "url-port-out-of-range": create(400, {"imageUrls": ["http://example.com:99999/a.jpg"]}),
    "url-port-not-a-number": create(400, {"imageUrls": ["http://example.com:abc/a.jpg"]}),
    "url-missing-slash-after-port": create(400, {"imageUrls": ["SBsamples/products/a.jpg"]}),
    "offline-external-url": create(
        400, {"imageUrls": ["https://example.com/a.jpg"]}, server="offline", says="offline"
    ),
    "body-2mb": create(413, None, content=TWO_MB, headers=JSON_TYPE),
    "body-2mb-chunked": create(413, None, content=TWO_MB, headers=JSON_TYPE, chunked=True),
    # -- authentication
    "auth-missing": Case("GET", "/api/products/PID", 401, auth=None),
    # "Bearer " with its trailing space is what arrives as "Bearer" (header values are trimmed).
    "auth-bearer-empty-token": Case("GET", "/api/products/PID", 401, auth="Bearer"),
    "auth-basic": Case("GET", "/api/products/PID", 401, auth="Basic abc"),
    "auth-token-scheme": Case("GET", "/api/products/PID", 401, auth="Token abc"),
    "auth-bare-token": Case("GET", "/api/products/PID", 401, auth="test-token"),
    "auth-missing-before-validation": create(401, {"imageUrls": []}, auth=None),
    "auth-missing-before-404": Case("GET", "/api/vto/nope", 401, auth=None),
    "strict-wrong-token": Case("GET", "/api/vto/nope", 401, server="strict"),
    "strict-wrong-token-on-create": create(401, {"imageUrls": [TSHIRT]}, server="strict"),
    # -- GET /api/products/{id}, methods and routes
    "product-unknown-id": Case("GET", "/api/products/000000000000000000000000", 404),
    "product-very-long-id": Case("GET", "/api/products/" + "x" * 5000, 404),
    "product-delete": Case("DELETE", "/api/products/PID", 405),
    "product-post": Case("POST", "/api/products/PID", 405, json={}),
    "product-url-get": Case("GET", "/api/products/url", 404),
    "product-url-put": Case("PUT", "/api/products/url", 405, json={"imageUrls": [TSHIRT]}),
    "generate-get": Case("GET", GENERATE, 405),
    "unknown-route": Case("GET", "/api/nope", 404),
    "unknown-route-post": Case("POST", "/api/products", 404, json={}),
    # -- POST /api/products/{id}/generate
    "generate-unknown-product": Case(
        "POST", "/api/products/nope/generate", 404, json={"imageType": [{"main": 1}]}
    ),
    "generate-invalid-json": gen(400, None, content=b"{imageType: []}", headers=JSON_TYPE),
    "generate-body-2mb": gen(413, None, content=TWO_MB, headers=JSON_TYPE),
    "imageType-missing": gen(422, {"region": "global"}),
    "imageType-empty": gen(422, {"imageType": []}),
    "imageType-not-a-list": gen(422, {"imageType": {"main": 1}}),
    "imageType-entry-empty": entry({}),
    "imageType-two-keys": entry({"main": 1, "detail": 2}),
    "imageType-count-and-vto": entry({"main": 1, "vto": ["red"]}),
    "imageType-unknown-type": entry({"banner": 1}),
    "imageType-entry-not-object": entry("main"),
    "count-zero": entry({"main": 0}),
    "count-negative": entry({"main": -1}),
    "count-string": entry({"main": "3"}),
    "count-float": entry({"detail": 1.5}),
    "count-bool": entry({"facebook": True}),
    "count-21": entry({"main": 21}),
    "count-null": entry({"main": None}),
    "aspectRatio-square": entry({"main": 1, "aspectRatio": "square"}),
    "aspectRatio-zero": entry({"main": 1, "aspectRatio": "1:0"}),
    "aspectRatio-number": entry({"main": 1, "aspectRatio": 1.5}),
    "vto-empty": entry({"vto": []}),
    "vto-string": entry({"vto": "red"}),
    "vto-empty-colour": entry({"vto": [""]}),
    "vto-colour-number": entry({"vto": [1]}),
    "removeBrandLogo-string": gen(422, {"imageType": [{"main": 1}], "removeBrandLogo": "false"}),
    "changePortrait-number": gen(422, {"imageType": [{"main": 1}], "changePortrait": 0}),
    "region-empty": gen(422, {"imageType": [{"main": 1}], "region": ""}),
    "platform-number": gen(422, {"imageType": [{"main": 1}], "platform": 1}),
    "webhook-url-not-a-url": gen(
        422, {"imageType": [{"main": 1}], "webhook": {"url": "not-a-url"}}
    ),
    "webhook-not-an-object": gen(422, {"imageType": [{"main": 1}], "webhook": "https://a.b/c"}),
    "generate-unknown-field": gen(422, {"imageType": [{"main": 1}], "colour": "red"}),
    # -- POST /api/vto/generate-url
    "height-49": vto(422, height=49),
    "height-251": vto(422, height=251),
    "height-string": vto(422, height="170"),
    "height-bool": vto(422, height=True),
    "weight-9": vto(422, weight=9),
    "weight-301": vto(422, weight=301),
    "aspectRatio-4x3": vto(422, aspectRatio="4:3"),
    "aspectRatio-empty": vto(422, aspectRatio=""),
    "clothing-empty": vto(422, clothingImageUrls=[]),
    "clothing-missing": without("clothingImageUrls"),
    "clothing-without-url": vto(422, clothingImageUrls=[{"info": "x"}]),
    "clothing-six": vto(422, clothingImageUrls=CLOTHING * 6),
    "clothing-plain-strings": vto(422, clothingImageUrls=[TSHIRT]),
    "person-missing": without("personImageUrl"),
    "person-empty": vto(422, personImageUrl=""),
    "person-private-address": vto(400, personImageUrl="http://10.0.0.1/p.jpg"),
    "clothing-missing-sample": vto(400, clothingImageUrls=[{"url": "SB/samples/nope.png"}]),
    "watermark-yes": vto(422, watermark="yes"),
    "info-10000-chars": vto(422, clothingImageUrls=[{"url": TSHIRT, "info": "i" * 10_000}]),
    "vto-unknown-field": vto(422, gender="f"),
    "vto-webhook-bad-url": vto(422, webhook={"url": "ftp://x/y"}),
    "vto-body-2mb": Case("POST", "/api/vto/generate-url", 413, content=TWO_MB, headers=JSON_TYPE),
    # -- GET /api/vto/{id}
    "vto-unknown-id": Case("GET", "/api/vto/000000000000000000000000", 404),
    "vto-generate-url-get": Case("GET", "/api/vto/generate-url", 404),
    "vto-delete": Case("DELETE", "/api/vto/some-id", 405),
}


def fill(value: Any, base: str, pid: str) -> Any:
    """Replace the SB and PID placeholders anywhere in a body or path."""
    if isinstance(value, str):
        if value.startswith("SB"):
            value = base + value[2:]
        return value.replace("/PID", f"/{pid}")
    if isinstance(value, list):
        return [fill(v, base, pid) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, base, pid) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def product_id(sandbox: ev.Sandbox) -> str:
    response = httpx.post(
        f"{sandbox.url}/api/products/url",
        json={"imageUrls": [fill(TSHIRT, sandbox.url, "")]},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["_id"])


@pytest.fixture(scope="module")
def strict_sandbox() -> Iterator[ev.Sandbox]:
    with ev.Sandbox(port=0, job_seconds=0, token=STRICT_TOKEN) as sb:
        yield sb


@pytest.fixture(scope="module")
def offline_sandbox() -> Iterator[ev.Sandbox]:
    with ev.Sandbox(port=0, offline=True, job_seconds=0) as sb:
        yield sb


def send(server: ev.Sandbox, case: Case, pid: str) -> httpx.Response:
    headers = dict(case.headers)
    if case.auth is not None:
        headers["Authorization"] = case.auth
    kwargs: dict[str, Any] = {"headers": headers}
    if case.content is not None:
        content = case.content
        if case.chunked:
            kwargs["content"] = iter(
                [content[i : i + 65536] for i in range(0, len(content), 65536)]
            )
        else:
            kwargs["content"] = content
    elif case.json is not None:
        kwargs["json"] = fill(case.json, server.url, pid)
    path = fill(case.path, server.url, pid)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.request(case.method, path, **kwargs)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_malformed_request_gets_its_4xx_and_the_error_envelope(
    request: pytest.FixtureRequest, sandbox: ev.Sandbox, product_id: str, case: Case
) -> None:
    server = {
        "shared": lambda: sandbox,
        "strict": lambda: request.getfixturevalue("strict_sandbox"),
        "offline": lambda: request.getfixturevalue("offline_sandbox"),
    }[case.server]()
    response = send(server, case, product_id)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    assert response.status_code == case.status, response.text[:500]
    assert response.headers.get("content-type", "").startswith("application/json")
    assert response.headers.get("x-ecomviz-sandbox") == "1"
    body = response.json()
    assert set(body) == {"success", "message"}, body
    assert body["success"] is False
    assert isinstance(body["message"], str)
    assert body["message"].strip()
    assert case.says.lower() in body["message"].lower()
    if case.server == "strict":
        assert STRICT_TOKEN not in response.text


def test_the_table_is_large_and_covers_every_error_status() -> None:
    assert len(CASES) >= 30
    assert {c.status for c in CASES.values()} == {400, 401, 404, 405, 413, 422}


def test_a_malformed_request_changes_nothing(sandbox: ev.Sandbox, product_id: str) -> None:
    before = httpx.get(f"{sandbox.url}/api/products/{product_id}", headers=AUTH).json()
    for name in ("imageType-two-keys", "count-21", "vto-empty", "generate-invalid-json"):
        send(sandbox, CASES[name], product_id)
    after = httpx.get(f"{sandbox.url}/api/products/{product_id}", headers=AUTH).json()
    assert after == before
    jobs = httpx.get(f"{sandbox.url}/_sandbox/jobs").json()["jobs"]
    assert not [j for j in jobs if j["target"] == product_id]


HOSTILE = "<script>alert(1)</script>"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/products/url", {"imageUrls": [HOSTILE]}, 422),
        ("POST", "/api/products/url", {HOSTILE: 1, "imageUrls": [TSHIRT]}, 422),
        ("GET", f"/api/products/{HOSTILE}", None, 404),
        ("GET", f"/api/vto/{HOSTILE}", None, 404),
        ("POST", GENERATE, {"imageType": [{"vto": [HOSTILE * 20]}]}, 422),
        ("POST", "/api/vto/generate-url", {**TRY_ON, "aspectRatio": HOSTILE}, 422),
    ],
    ids=["image-url", "field-name", "product-id", "vto-id", "colour", "aspect-ratio"],
)
def test_hostile_strings_come_back_only_inside_json_strings(
    sandbox: ev.Sandbox,
    product_id: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
) -> None:
    response = httpx.request(
        method,
        sandbox.url + fill(path, sandbox.url, product_id),
        json=None if body is None else fill(body, sandbox.url, product_id),
        headers=AUTH,
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    parsed = response.json()
    assert set(parsed) == {"success", "message"}
    # Whatever of the input is echoed sits in the JSON string, not anywhere else.
    assert response.text.count("<script") <= parsed["message"].count("<script")


def test_hostile_strings_accepted_by_generate_are_stored_as_plain_strings(
    sandbox: ev.Sandbox,
) -> None:
    with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=30) as client:
        pid = client.post(
            "/api/products/url", json={"imageUrls": [fill(TSHIRT, sandbox.url, "")]}
        ).json()["data"]["_id"]
        started = client.post(
            f"/api/products/{pid}/generate",
            json={"imageType": [{"vto": [HOSTILE]}], "region": HOSTILE, "platform": HOSTILE},
        )
        assert started.status_code == 200, started.text
        product: dict[str, Any] = {}
        for _ in range(200):
            response = client.get(f"/api/products/{pid}")
            product = response.json()
            if product["data"]["generatedImages"]:
                break
    assert response.headers["content-type"] == "application/json"
    params = product["data"]["generatedImages"][0]["generationParams"]
    assert params["region"] == HOSTILE
    assert params["platform"] == HOSTILE
    assert params["color"] == HOSTILE
