"""Contract tests of the sandbox over raw HTTP: every route and example of the provider reference.

Only ``httpx`` speaks to the server here, never the ecomviz_nb client, so these tests pin the
wire format itself: the documented envelopes, field names and types, the images behind
``filePath``, the webhooks, and the sandbox's own controls (faults, reset, config, OpenAPI).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image

import ecomviz_nb as ev

TOKEN_HEADERS = {"Authorization": "Bearer test-token"}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TSHIRT = "samples/products/tshirt-red.jpg"
SNEAKER = "samples/products/sneaker-white.jpg"
DRESS = "samples/garments/dress-green.png"
PERSON = "samples/people/person-a.jpg"
WEBHOOK_TOKEN = "optional-verification-token"
VTO_WEBHOOK_TOKEN = "optional_secret_token"

# The reference's generate example, key for key (its webhook URL is replaced per test).
GENERATE_EXAMPLE: dict[str, Any] = {
    "imageType": [
        {"main": 3, "aspectRatio": "1:1"},
        {"detail": 2, "aspectRatio": "4:3"},
        {"vto": ["red", "blue"]},
    ],
    "region": "global",
    "platform": "general",
    "removeBrandLogo": False,
    "changePortrait": False,
    "language": "org_text",
    "webhook": {"url": "https://your-server.com/webhook", "token": WEBHOOK_TOKEN},
}
EXPECTED_IMAGES = 3 + 2 + 2
FIVE_ROUTES = {
    "/api/products/url": {"post"},
    "/api/products/{productId}": {"get"},
    "/api/products/{productId}/generate": {"post"},
    "/api/vto/generate-url": {"post"},
    "/api/vto/{vtoId}": {"get"},
}


def try_on_example(base: str, webhook_url: str | None = None) -> dict[str, Any]:
    """The reference's try-on example, its URLs pointing at the sandbox's samples."""
    body: dict[str, Any] = {
        "personImageUrl": f"{base}/{PERSON}",
        "clothingImageUrls": [
            {"url": f"{base}/{TSHIRT}", "info": "price US9.9"},
            {"url": f"{base}/{DRESS}", "info": "price US7.9, only for kids"},
        ],
        "height": 170,
        "weight": 60,
        "aspectRatio": "2:3",
        "watermark": True,
    }
    if webhook_url is not None:
        body["webhook"] = {"url": webhook_url, "token": VTO_WEBHOOK_TOKEN}
    return body


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0) -> Any:
    """Call ``fetch`` until ``done`` says so or the deadline passes; returns the last value."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = fetch()
    return value


def keys_anywhere(value: Any) -> Iterator[str]:
    """Every dict key in a JSON document, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from keys_anywhere(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_anywhere(item)


def assert_error_envelope(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "message"}, body
    assert body["success"] is False
    assert isinstance(body["message"], str)
    assert body["message"].strip()
    assert response.headers.get("x-ecomviz-sandbox") == "1"
    return str(body["message"])


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


# ---- a local webhook receiver


@dataclass
class Receiver:
    url: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, path: str, timeout: float = 20.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [c for c in self.calls if c["path"] == path]
            if found:
                return found[0]
            time.sleep(0.05)
        return None


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """An HTTP server on loopback that records every POST it gets and answers 200."""
    calls: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                calls.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": raw,
                    }
                )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}", calls, lock)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ---- one product generation and one try-on per module, from the reference's examples


@dataclass
class Generation:
    created: httpx.Response
    product_id: str
    started: httpx.Response
    product: dict[str, Any]


@dataclass
class TryOn:
    submitted: httpx.Response
    vto_id: str
    body: dict[str, Any]
    result: dict[str, Any]


@pytest.fixture
def api(sandbox: ev.Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers=TOKEN_HEADERS, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def generation(sandbox: ev.Sandbox, receiver: Receiver) -> Generation:
    with httpx.Client(base_url=sandbox.url, headers=TOKEN_HEADERS, timeout=30) as client:
        created = client.post(
            "/api/products/url",
            json={"imageUrls": [f"{sandbox.url}/{TSHIRT}", f"{sandbox.url}/{SNEAKER}"]},
        )
        assert created.status_code == 200, created.text
        pid = created.json()["data"]["_id"]
        body = json.loads(json.dumps(GENERATE_EXAMPLE))
        body["webhook"]["url"] = f"{receiver.url}/product-hook"
        started = client.post(f"/api/products/{pid}/generate", json=body)
        product = poll(
            lambda: client.get(f"/api/products/{pid}").json(),
            lambda doc: len(doc.get("data", {}).get("generatedImages") or []) >= EXPECTED_IMAGES,
        )
    return Generation(created, pid, started, product)


@pytest.fixture(scope="module")
def try_on(sandbox: ev.Sandbox, receiver: Receiver) -> TryOn:
    body = try_on_example(sandbox.url, f"{receiver.url}/vto-hook")
    with httpx.Client(base_url=sandbox.url, headers=TOKEN_HEADERS, timeout=30) as client:
        submitted = client.post("/api/vto/generate-url", json=body)
        assert submitted.status_code == 200, submitted.text
        vid = submitted.json()["vtoId"]
        result = poll(
            lambda: client.get(f"/api/vto/{vid}").json(),
            lambda doc: doc.get("data", {}).get("status") in ("completed", "failed"),
        )
    return TryOn(submitted, vid, body, result)


# ---- POST /api/products/url


def test_create_product_answers_exactly_the_documented_envelope(generation: Generation) -> None:
    response = generation.created
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "data"}
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"_id", "productName", "aiAnalysis", "colors", "createdAt"}
    assert isinstance(data["_id"], str)
    assert data["_id"]
    assert isinstance(data["productName"], str)
    assert data["productName"].strip()
    assert isinstance(data["aiAnalysis"], dict)
    assert isinstance(data["colors"], list)
    assert data["colors"]
    assert all(isinstance(c, str) and c for c in data["colors"])
    assert ISO_Z.match(data["createdAt"]), data["createdAt"]


def test_create_product_names_the_red_tshirt_colour_first(
    api: httpx.Client, sandbox: ev.Sandbox
) -> None:
    response = api.post("/api/products/url", json={"imageUrls": [f"{sandbox.url}/{TSHIRT}"]})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["colors"][0] == "red"


def test_created_products_get_distinct_ids(api: httpx.Client, sandbox: ev.Sandbox) -> None:
    body = {"imageUrls": [f"{sandbox.url}/{SNEAKER}"]}
    first = api.post("/api/products/url", json=body).json()["data"]["_id"]
    second = api.post("/api/products/url", json=body).json()["data"]["_id"]
    assert first != second


# ---- GET /api/products/{productId}


def test_get_product_answers_documented_fields_and_nothing_internal(
    api: httpx.Client, generation: Generation
) -> None:
    response = api.get(f"/api/products/{generation.product_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data"}
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {
        "_id",
        "productName",
        "generatedImages",
        "aiAnalysis",
        "colors",
        "createdAt",
    }
    assert not [k for k in keys_anywhere(body) if k.startswith("_sandbox")]
    created = generation.created.json()["data"]
    for key in ("_id", "productName", "aiAnalysis", "colors", "createdAt"):
        assert data[key] == created[key], key
    assert isinstance(data["generatedImages"], list)


def test_a_new_product_has_no_generated_images(api: httpx.Client, sandbox: ev.Sandbox) -> None:
    created = api.post("/api/products/url", json={"imageUrls": [f"{sandbox.url}/{TSHIRT}"]})
    pid = created.json()["data"]["_id"]
    data = api.get(f"/api/products/{pid}").json()["data"]
    assert data["generatedImages"] == []


# ---- POST /api/products/{productId}/generate and the images it makes


def test_generate_with_the_reference_example_starts_a_task(generation: Generation) -> None:
    assert generation.started.status_code == 200, generation.started.text
    assert generation.started.json() == {
        "success": True,
        "message": "Image generation task started",
        "productId": generation.product_id,
    }


def test_generation_adds_one_image_per_count_and_vto_colour(generation: Generation) -> None:
    images = generation.product["data"]["generatedImages"]
    assert len(images) == EXPECTED_IMAGES
    types = [image["generationParams"]["imageType"] for image in images]
    assert sorted(types) == sorted(["main"] * 3 + ["detail"] * 2 + ["vto"] * 2)
    vto_colors = [
        i["generationParams"]["color"]
        for i in images
        if i["generationParams"]["imageType"] == "vto"
    ]
    assert sorted(vto_colors) == ["blue", "red"]


def test_generated_images_have_the_documented_fields(generation: Generation) -> None:
    for image in generation.product["data"]["generatedImages"]:
        assert set(image) == {"filePath", "generatedAt", "generationParams"}, image
        path = image["filePath"]
        assert isinstance(path, str)
        assert path
        assert not path.startswith(("/", "http://", "https://")), path
        assert ISO_Z.match(image["generatedAt"]), image["generatedAt"]
        params = image["generationParams"]
        assert set(params) == {"platform", "region", "imageType", "color"}, params
        assert params["platform"] == "general"
        assert params["region"] == "global"
        assert params["imageType"] in ("main", "detail", "vto")
        assert isinstance(params["color"], str)
        assert params["color"]


@pytest.mark.parametrize(
    ("image_type", "size"),
    [("main", (1024, 1024)), ("detail", (1024, 768))],
    ids=["main-1x1", "detail-4x3"],
)
def test_generated_files_are_jpegs_sized_by_their_aspect_ratio(
    sandbox: ev.Sandbox, generation: Generation, image_type: str, size: tuple[int, int]
) -> None:
    images = [
        i
        for i in generation.product["data"]["generatedImages"]
        if i["generationParams"]["imageType"] == image_type
    ]
    assert images
    for image in images:
        response = httpx.get(f"{sandbox.url}/{image['filePath']}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers.get("x-ecomviz-sandbox") == "1"
        assert jpeg_size(response.content) == size


def test_generated_vto_colour_files_are_downloadable_jpegs(
    sandbox: ev.Sandbox, generation: Generation
) -> None:
    images = [
        i
        for i in generation.product["data"]["generatedImages"]
        if i["generationParams"]["imageType"] == "vto"
    ]
    assert len(images) == 2
    for image in images:
        response = httpx.get(f"{sandbox.url}/{image['filePath']}")
        assert response.status_code == 200
        assert max(jpeg_size(response.content)) == 1024


def test_generation_webhook_posts_the_documented_payload(
    generation: Generation, receiver: Receiver
) -> None:
    call = receiver.wait_for("/product-hook")
    assert call is not None, "no webhook arrived"
    assert call["headers"].get("authorization") == f"Bearer {WEBHOOK_TOKEN}"
    assert call["headers"].get("content-type", "").startswith("application/json")
    payload = json.loads(call["body"])
    assert set(payload) == {"productId", "status", "generatedImages"}
    assert payload["productId"] == generation.product_id
    assert payload["status"] == "completed"
    assert payload["generatedImages"] == generation.product["data"]["generatedImages"]


def test_webhook_tokens_are_never_shown_by_the_sandbox_controls(
    api: httpx.Client, generation: Generation, try_on: TryOn, receiver: Receiver
) -> None:
    assert receiver.wait_for("/product-hook") is not None
    assert receiver.wait_for("/vto-hook") is not None
    for path in ("/_sandbox/jobs", "/_sandbox/deliveries", "/_sandbox/config"):
        response = api.get(path)
        assert response.status_code == 200
        assert WEBHOOK_TOKEN not in response.text, path
        assert VTO_WEBHOOK_TOKEN not in response.text, path
    deliveries = api.get("/_sandbox/deliveries").json()["deliveries"]
    assert {d["url"] for d in deliveries} >= {f"{receiver.url}/product-hook"}


# ---- POST /api/vto/generate-url and GET /api/vto/{vtoId}


def test_try_on_submit_answers_exactly_the_documented_envelope(try_on: TryOn) -> None:
    body = try_on.submitted.json()
    assert set(body) == {"success", "message", "vtoId", "personImage", "clothingImages"}
    assert body["success"] is True
    assert body["message"] == "VTO try-on image generation task has been submitted"
    assert isinstance(body["vtoId"], str)
    assert body["vtoId"]
    assert body["personImage"] == try_on.body["personImageUrl"]
    assert body["clothingImages"] == [c["url"] for c in try_on.body["clothingImageUrls"]]


def test_try_on_result_has_the_documented_fields(try_on: TryOn) -> None:
    body = try_on.result
    assert set(body) == {"success", "data"}
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {
        "_id",
        "status",
        "personImage",
        "clothingImages",
        "generatedImages",
        "createdAt",
        "updatedAt",
    }
    assert data["_id"] == try_on.vto_id
    assert data["status"] == "completed"
    assert data["personImage"] == {"filePath": try_on.body["personImageUrl"]}
    assert data["clothingImages"] == [
        {"filePath": c["url"]} for c in try_on.body["clothingImageUrls"]
    ]
    assert len(data["generatedImages"]) == 1
    for image in data["generatedImages"]:
        assert set(image) == {"filePath"}
        assert image["filePath"].startswith(("http://", "https://"))
    assert ISO_Z.match(data["createdAt"])
    assert ISO_Z.match(data["updatedAt"])
    assert data["updatedAt"] >= data["createdAt"]


def test_try_on_image_is_a_two_by_three_jpeg(try_on: TryOn) -> None:
    url = try_on.result["data"]["generatedImages"][0]["filePath"]
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    width, height = jpeg_size(response.content)
    assert max(width, height) == 1024
    assert abs(width / height - 2 / 3) < 0.01


def test_try_on_webhook_posts_the_documented_payload(try_on: TryOn, receiver: Receiver) -> None:
    call = receiver.wait_for("/vto-hook")
    assert call is not None, "no webhook arrived"
    assert call["headers"].get("authorization") == f"Bearer {VTO_WEBHOOK_TOKEN}"
    payload = json.loads(call["body"])
    assert set(payload) == {"vtoId", "status", "generatedImages", "createdAt", "updatedAt"}
    assert payload["vtoId"] == try_on.vto_id
    assert payload["status"] == "completed"
    data = try_on.result["data"]
    assert payload["generatedImages"] == data["generatedImages"]
    assert payload["createdAt"] == data["createdAt"]
    assert payload["updatedAt"] == data["updatedAt"]


# ---- progress is visible while a job runs


def test_polling_sees_the_image_count_grow(fresh_sandbox: ev.Sandbox) -> None:
    with httpx.Client(base_url=fresh_sandbox.url, headers=TOKEN_HEADERS, timeout=30) as client:
        assert client.put("/_sandbox/config", json={"job_seconds": 2}).status_code == 200
        pid = client.post(
            "/api/products/url", json={"imageUrls": [f"{fresh_sandbox.url}/{TSHIRT}"]}
        ).json()["data"]["_id"]
        body = {k: v for k, v in GENERATE_EXAMPLE.items() if k != "webhook"}
        assert client.post(f"/api/products/{pid}/generate", json=body).status_code == 200
        counts: list[int] = []

        def count() -> int:
            counts.append(len(client.get(f"/api/products/{pid}").json()["data"]["generatedImages"]))
            return counts[-1]

        poll(count, lambda n: n >= EXPECTED_IMAGES)
    assert counts[-1] == EXPECTED_IMAGES
    assert counts == sorted(counts)
    assert {n for n in counts if 0 < n < EXPECTED_IMAGES}, counts


def test_try_on_passes_through_queued_and_processing(fresh_sandbox: ev.Sandbox) -> None:
    with httpx.Client(base_url=fresh_sandbox.url, headers=TOKEN_HEADERS, timeout=30) as client:
        assert client.put("/_sandbox/config", json={"job_seconds": 2}).status_code == 200
        submitted = client.post("/api/vto/generate-url", json=try_on_example(fresh_sandbox.url))
        vid = submitted.json()["vtoId"]
        seen: list[str] = []

        def status() -> str:
            value = client.get(f"/api/vto/{vid}").json()["data"]["status"]
            if not seen or seen[-1] != value:
                seen.append(value)
            return value

        poll(status, lambda s: s in ("completed", "failed"))
    assert seen == ["queued", "processing", "completed"]


# ---- fault injection


def configure(sandbox: ev.Sandbox, **switches: Any) -> None:
    response = httpx.put(f"{sandbox.url}/_sandbox/config", json=switches)
    assert response.status_code == 200, response.text
    faults = response.json()["faults"]
    for name, value in switches.items():
        assert faults[name] == value


def test_error_rate_answers_500_envelope_on_api_routes_only(fresh_sandbox: ev.Sandbox) -> None:
    configure(fresh_sandbox, error_rate=1.0)
    url = fresh_sandbox.url
    create = httpx.post(
        f"{url}/api/products/url", json={"imageUrls": [f"{url}/{TSHIRT}"]}, headers=TOKEN_HEADERS
    )
    assert_error_envelope(create, 500)
    assert_error_envelope(httpx.get(f"{url}/api/vto/anything", headers=TOKEN_HEADERS), 500)
    health = httpx.get(f"{url}/_sandbox/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert httpx.get(f"{url}/{TSHIRT}").status_code == 200


def test_rate_limit_answers_429_with_retry_after(fresh_sandbox: ev.Sandbox) -> None:
    configure(fresh_sandbox, rate_limit_rate=1.0, retry_after=7)
    response = httpx.get(f"{fresh_sandbox.url}/api/products/anything", headers=TOKEN_HEADERS)
    assert_error_envelope(response, 429)
    assert response.headers.get("retry-after") == "7"


def test_drop_rate_cuts_the_connection(fresh_sandbox: ev.Sandbox) -> None:
    configure(fresh_sandbox, drop_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.get(f"{fresh_sandbox.url}/api/products/anything", headers=TOKEN_HEADERS)
    assert httpx.get(f"{fresh_sandbox.url}/_sandbox/health").status_code == 200


def test_slow_rate_delays_the_answer(fresh_sandbox: ev.Sandbox) -> None:
    configure(fresh_sandbox, slow_rate=1.0, slow_seconds=0.5)
    started = time.perf_counter()
    response = httpx.get(f"{fresh_sandbox.url}/api/products/anything", headers=TOKEN_HEADERS)
    elapsed = time.perf_counter() - started
    assert_error_envelope(response, 404)
    assert elapsed >= 0.5


def test_fail_job_rate_ends_a_try_on_as_failed(fresh_sandbox: ev.Sandbox) -> None:
    configure(fresh_sandbox, fail_job_rate=1.0)
    with httpx.Client(base_url=fresh_sandbox.url, headers=TOKEN_HEADERS, timeout=30) as client:
        submitted = client.post("/api/vto/generate-url", json=try_on_example(fresh_sandbox.url))
        assert submitted.status_code == 200, submitted.text
        vid = submitted.json()["vtoId"]
        result = poll(
            lambda: client.get(f"/api/vto/{vid}").json(),
            lambda doc: doc["data"]["status"] in ("completed", "failed"),
        )
    assert result["data"]["status"] == "failed"
    assert result["data"]["generatedImages"] == []


@pytest.mark.parametrize(
    "switches",
    [
        {"error_rate": 2},
        {"drop_rate": -0.1},
        {"retry_after": -1},
        {"slow_seconds": "slow"},
        {"no_such_switch": 1},
    ],
    ids=["rate-above-one", "negative-rate", "negative-retry-after", "wrong-type", "unknown"],
)
def test_invalid_fault_config_is_refused_and_changes_nothing(
    fresh_sandbox: ev.Sandbox, switches: dict[str, Any]
) -> None:
    before = httpx.get(f"{fresh_sandbox.url}/_sandbox/config").json()
    response = httpx.put(f"{fresh_sandbox.url}/_sandbox/config", json=switches)
    assert_error_envelope(response, 422)
    assert httpx.get(f"{fresh_sandbox.url}/_sandbox/config").json() == before


def test_config_reports_switches_and_start_up_settings(sandbox: ev.Sandbox) -> None:
    config = httpx.get(f"{sandbox.url}/_sandbox/config").json()
    assert config["strict_token"] is False
    assert config["job_seconds"] == 0
    assert {
        "error_rate",
        "rate_limit_rate",
        "retry_after",
        "drop_rate",
        "slow_rate",
        "slow_seconds",
        "fail_job_rate",
        "job_seconds",
        "seed",
    } <= set(config["faults"])


# ---- sandbox controls


def test_reset_forgets_products_and_faults(fresh_sandbox: ev.Sandbox) -> None:
    url = fresh_sandbox.url
    with httpx.Client(base_url=url, headers=TOKEN_HEADERS, timeout=30) as client:
        pid = client.post("/api/products/url", json={"imageUrls": [f"{url}/{TSHIRT}"]}).json()[
            "data"
        ]["_id"]
        assert client.get(f"/api/products/{pid}").status_code == 200
        configure(fresh_sandbox, slow_rate=0.5)
        reset = client.post("/_sandbox/reset")
        assert reset.status_code == 200
        assert reset.json() == {"success": True}
        assert_error_envelope(client.get(f"/api/products/{pid}"), 404)
        assert client.get("/_sandbox/health").json()["products"] == 0
        assert client.get("/_sandbox/config").json()["faults"]["slow_rate"] == 0


def test_health_says_ok(sandbox: ev.Sandbox) -> None:
    response = httpx.get(f"{sandbox.url}/_sandbox/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["sandbox"] is True
    assert isinstance(body["products"], int)


def test_samples_list_names_the_bundled_images(sandbox: ev.Sandbox) -> None:
    listed = httpx.get(f"{sandbox.url}/_sandbox/samples").json()["samples"]
    for path in (TSHIRT, SNEAKER, DRESS, PERSON):
        name = path.removeprefix("samples/")
        assert listed[name] == f"{sandbox.url}/{path}"
        assert httpx.get(listed[name]).status_code == 200


# ---- OpenAPI


@pytest.fixture(scope="module")
def openapi(sandbox: ev.Sandbox) -> dict[str, Any]:
    response = httpx.get(f"{sandbox.url}/openapi.json")
    assert response.status_code == 200
    assert response.headers.get("x-ecomviz-sandbox") == "1"
    return dict(response.json())


def test_openapi_lists_the_five_routes_with_their_methods(openapi: dict[str, Any]) -> None:
    listed = {path: set(item) for path, item in openapi["paths"].items()}
    assert listed == FIVE_ROUTES


def test_openapi_declares_bearer_auth_on_every_route(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    bearer = [
        name for name, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"
    ]
    assert bearer
    for path, methods in FIVE_ROUTES.items():
        for method in methods:
            security = openapi["paths"][path][method].get("security") or []
            assert any(set(req) & set(bearer) for req in security), (path, method)


def test_openapi_lists_the_webhooks(openapi: dict[str, Any]) -> None:
    assert openapi["webhooks"]
    assert len(openapi["webhooks"]) >= 2


# ---- the sandbox header on every kind of response


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/_sandbox/health", {}, 200),
        ("GET", f"/{TSHIRT}", {}, 200),
        ("POST", "/api/products/url", {"json": {"imageUrls": []}}, 422),
        ("GET", "/api/products/no-such-id", {}, 404),
        ("GET", "/api/nope", {}, 404),
        ("GET", "/files/no/such/file.jpg", {}, 404),
        ("DELETE", "/api/products/x", {}, 405),
        ("GET", "/api/products/x", {"headers": {"Authorization": "Basic abc"}}, 401),
        ("GET", "/openapi.json", {}, 200),
    ],
    ids=["health", "sample", "422", "404-id", "404-route", "404-file", "405", "401", "openapi"],
)
def test_every_response_carries_the_sandbox_header(
    api: httpx.Client, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = api.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers.get("x-ecomviz-sandbox") == "1"


def test_generated_files_carry_the_sandbox_header(
    sandbox: ev.Sandbox, generation: Generation
) -> None:
    path = generation.product["data"]["generatedImages"][0]["filePath"]
    response = httpx.get(f"{sandbox.url}/{path}")
    assert response.status_code == 200
    assert response.headers.get("x-ecomviz-sandbox") == "1"


# ---- authentication


def test_any_non_empty_bearer_token_is_accepted_by_default(sandbox: ev.Sandbox) -> None:
    for token in ("a", "test-token", "x" * 500):
        response = httpx.get(
            f"{sandbox.url}/api/products/none", headers={"Authorization": f"Bearer {token}"}
        )
        assert_error_envelope(response, 404)


def test_strict_token_accepts_only_its_own_token_and_never_shows_it() -> None:
    secret = "s3cret"
    bodies: list[str] = []
    with ev.Sandbox(port=0, job_seconds=0, token=secret) as sb:
        good = {"Authorization": f"Bearer {secret}"}
        created = httpx.post(
            f"{sb.url}/api/products/url", json={"imageUrls": [f"{sb.url}/{TSHIRT}"]}, headers=good
        )
        assert created.status_code == 200, created.text
        pid = created.json()["data"]["_id"]
        fetched = httpx.get(f"{sb.url}/api/products/{pid}", headers=good)
        assert fetched.status_code == 200
        bodies += [created.text, fetched.text]
        for wrong in ("Bearer other", "Bearer S3CRET", "Bearer s3cre", "Bearer s3cretX"):
            refused = httpx.get(f"{sb.url}/api/products/{pid}", headers={"Authorization": wrong})
            assert_error_envelope(refused, 401)
            assert wrong.split(" ", 1)[1] not in refused.text
            bodies.append(refused.text)
        bodies.append(assert_error_envelope(httpx.get(f"{sb.url}/api/products/{pid}"), 401))
        config = httpx.get(f"{sb.url}/_sandbox/config")
        assert config.json()["strict_token"] is True
        for path in ("/_sandbox/config", "/_sandbox/health", "/_sandbox/jobs", "/openapi.json"):
            bodies.append(httpx.get(f"{sb.url}{path}").text)
    for text in bodies:
        assert secret not in text
