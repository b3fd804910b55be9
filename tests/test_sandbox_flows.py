"""End-to-end flows against a real sandbox socket: the client, faults, webhooks, fetching,
determinism, restarts, ``ev.connect()`` and the ``ecomviz-nb sandbox`` command."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import json
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import ecomviz_nb as ev
from ecomviz_nb import local
from ecomviz_nb.sandbox import Settings

TSHIRT = "products/tshirt-red.jpg"
SNEAKER = "products/sneaker-white.jpg"
DRESS = "garments/dress-green.png"
PERSON = "people/person-a.jpg"
AUTH = {"Authorization": "Bearer test-token"}


# ---------------------------------------------------------------- helpers


def sample(sb: ev.Sandbox, name: str) -> str:
    return f"{sb.url}/samples/{name}"


def fast_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.05))


async def fast_async_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.05))


def quick(job: Any) -> Any:
    """Poll every 50 ms instead of the production schedule (2 s and up)."""
    job._sleep = fast_async_sleep if inspect.iscoroutinefunction(job.wait) else fast_sleep
    return job


def wait_until(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


def sandbox_get(sb: ev.Sandbox, path: str) -> Any:
    response = httpx.get(sb.url + path, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def set_faults(sb: ev.Sandbox, **switches: Any) -> None:
    response = httpx.put(f"{sb.url}/_sandbox/config", json=switches, timeout=10)
    assert response.status_code == 200, response.text


def post_api(sb: ev.Sandbox, path: str, body: Any, timeout: float = 30) -> httpx.Response:
    return httpx.post(sb.url + path, json=body, headers=AUTH, timeout=timeout)


def download(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code)
    return response


def jpeg_size(url: str) -> tuple[int, int]:
    response = download(url)
    assert response.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "JPEG"
        return image.size


def sha(url: str) -> str:
    return hashlib.sha256(download(url).content).hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/hook"


def small_png(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(out, "PNG")
    return out.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of the given size whose zero rows compress to a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row * 500) for _ in range(height // 500)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


GENERATE = ev.GenerateRequest(
    image_types=[
        ev.ImageSpec("main", count=2, aspect_ratio="1:1"),
        ev.ImageSpec("detail", count=1, aspect_ratio="4:3"),
        ev.ImageSpec("facebook", count=1, aspect_ratio="16:9"),
        ev.ImageSpec("vto", colors=["red", "blue"]),
    ]
)
EXPECTED_TYPES = ["main", "main", "detail", "facebook", "vto", "vto"]


def try_on_request(sb: ev.Sandbox, webhook: ev.Webhook | None = None) -> ev.TryOnRequest:
    return ev.TryOnRequest(
        person_image_url=sample(sb, PERSON),
        clothing=[ev.Clothing(sample(sb, DRESS), info="price US9.9")],
        aspect_ratio="2:3",
        webhook=webhook,
    )


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Receiver:
    """A webhook receiver recording every request; answers 500 to the first ``fail_first``."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    parsed: Any = json.loads(body)
                except ValueError:
                    parsed = None
                with receiver._lock:
                    receiver.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "json": parsed,
                        }
                    )
                    failing = len(receiver.requests) <= receiver.fail_first
                reply = b'{"ok": false}' if failing else b'{"ok": true}'
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        with http_server(self.handler()) as server:
            self.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            yield self

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        wait_until(lambda: len(self.requests) >= count, timeout)
        return list(self.requests)


class ImageHost:
    """A local web server with good and bad "images" for the fetch guard."""

    SLOW_SECONDS = 3.0

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.png = small_png()
        self.bomb = bomb_png(20_000, 20_000)
        self.too_many_pixels = bomb_png(7_000, 7_000)
        self.port = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def send(self, status: int, ctype: str, body: bytes, length: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                with suppress(OSError):  # the sandbox may hang up on a refused body
                    self.wfile.write(body)

            def redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                host.hits.append(self.path)
                if self.path == "/ok.png":
                    self.send(200, "image/png", host.png, len(host.png))
                elif self.path == "/page":
                    page = b"<html><body>not an image</body></html>"
                    self.send(200, "text/html; charset=utf-8", page, len(page))
                elif self.path == "/big":
                    self.send(200, "image/png", b"\x89PNG" + b"\x00" * 65_536, 50_000_000)
                elif self.path == "/bigstream":  # no Content-Length: the cap must stop the read
                    self.send(200, "image/png", b"\x89PNG" + b"\x00" * 300_000)
                elif self.path == "/slow":
                    time.sleep(host.SLOW_SECONDS)
                    self.send(200, "image/png", host.png, len(host.png))
                elif self.path == "/redir":
                    self.redirect("/ok.png")
                elif self.path == "/evil":
                    self.redirect("http://169.254.169.254/latest/meta-data/")
                elif self.path == "/bomb.png":
                    self.send(200, "image/png", host.bomb, len(host.bomb))
                elif self.path == "/huge.png":
                    self.send(200, "image/png", host.too_many_pixels, len(host.too_many_pixels))
                else:
                    self.send(404, "text/plain", b"no", 2)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[ImageHost]:
        with http_server(self.handler()) as server:
            self.port = int(server.server_address[1])
            yield self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def cli_sandbox(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m ecomviz_nb.cli sandbox`` on a free port; yields the process and its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "ecomviz_nb.cli", "sandbox", "--port", str(port), *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"the command exited early: {proc.communicate()}"
            try:
                if httpx.get(url + "/_sandbox/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the sandbox did not answer within 20 s"
            time.sleep(0.05)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def stop_with_ctrl_c(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    return out, err


# ---------------------------------------------------------------- the client, end to end


def test_sync_client_creates_generates_and_tries_on(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, TSHIRT), sample(sandbox, SNEAKER)])
    assert isinstance(product, ev.Product)
    assert len(product.id) == 24
    assert product.name
    assert "red" in product.colors
    assert product.generated_images == []

    job = quick(client.generate(product.id, GENERATE))
    assert isinstance(job, ev.GenerationJob)
    assert job.expected == 6
    done = job.wait(timeout=60)
    assert isinstance(done, ev.Product)
    assert done.id == product.id
    assert [img.image_type for img in job.images] == EXPECTED_TYPES
    assert [img.color for img in job.images][-2:] == ["red", "blue"]
    assert {img.file_path for img in job.images} == {img.file_path for img in done.generated_images}
    for img in job.images:
        assert img.url.startswith(sandbox.url + "/files/")
        assert img.platform == "general"
        assert img.region == "global"
    sizes = [jpeg_size(img.url) for img in job.images]
    assert sizes[0] == sizes[1] == (1024, 1024)
    assert sizes[2] == (1024, 768)
    assert sizes[3] == (1024, 576)

    second = quick(client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("detail", 2)])))
    after = second.wait(timeout=60)
    assert [img.image_type for img in second.images] == ["detail", "detail"]
    first_paths = {img.file_path for img in job.images}
    assert not first_paths & {img.file_path for img in second.images}
    assert len(after.generated_images) == 8

    vto = quick(client.try_on(try_on_request(sandbox)))
    assert isinstance(vto, ev.TryOnJob)
    result = vto.wait(timeout=60)
    assert isinstance(result, ev.TryOnResult)
    assert result.status == "completed"
    assert len(result.images) == 1
    width, height = jpeg_size(result.images[0].url)
    assert abs(width / height - 2 / 3) < 0.01
    fetched = client.get_try_on(result.id)
    assert fetched.id == result.id == vto.vto_id
    assert fetched.is_completed
    assert [img.url for img in fetched.images] == [img.url for img in result.images]
    assert fetched.person_image == sample(sandbox, PERSON)
    assert fetched.clothing_images == [sample(sandbox, DRESS)]

    ledger = client.jobs.list()
    assert sorted((j.record.kind, j.state) for j in ledger) == [
        ("generate", "completed"),
        ("generate", "completed"),
        ("tryon", "completed"),
    ]
    assert {j.id for j in ledger} == {job.id, second.id, vto.id}
    client.close()


async def test_async_client_runs_the_same_flow(sandbox: ev.Sandbox) -> None:
    async with sandbox.async_client() as client:
        assert isinstance(client, ev.AsyncClient)
        product = await client.create_product([sample(sandbox, SNEAKER)])
        assert product.name
        assert product.colors
        job = quick(await client.generate(product.id, GENERATE))
        assert isinstance(job, ev.AsyncGenerationJob)
        done = await job.wait(timeout=60)
        assert done.id == product.id
        assert [img.image_type for img in job.images] == EXPECTED_TYPES
        assert all(img.url.startswith(sandbox.url + "/files/") for img in job.images)

        vto = quick(await client.try_on(try_on_request(sandbox)))
        result = await vto.wait(timeout=60)
        assert result.status == "completed"
        assert len(result.images) == 1
        again = await client.get_try_on(result.id)
        assert again.is_completed
        assert again.images[0].url == result.images[0].url

        ledger = client.jobs.list()
        assert sorted((j.record.kind, j.state) for j in ledger) == [
            ("generate", "completed"),
            ("tryon", "completed"),
        ]
    for img in [*job.images, *result.images]:
        jpeg_size(img.url)


def test_progress_events_count_up_to_expected(fresh_sandbox: ev.Sandbox) -> None:
    set_faults(fresh_sandbox, job_seconds=1.0)
    client = fresh_sandbox.client()
    product = client.create_product([sample(fresh_sandbox, TSHIRT)])
    events: list[ev.ProgressEvent] = []
    job = quick(client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", 4)])))
    job.wait(timeout=60, on_progress=events.append)
    assert events
    assert all(e.expected == 4 and e.job_id == job.id for e in events)
    dones = [e.done for e in events]
    assert dones == sorted(dones)
    assert len(set(dones)) >= 2, dones  # the job was seen part-way
    assert dones[-1] == 4
    assert events[-1].status == "completed"
    assert events[-1].fraction == 1.0
    assert len(events[-1].images) == 4


# ---------------------------------------------------------------- client retries against faults


@contextmanager
def counting_client(
    sb: ev.Sandbox, on_request: Callable[[httpx.Request], None] | None = None
) -> Iterator[tuple[ev.Client, list[tuple[str, str]], list[float]]]:
    sent: list[tuple[str, str]] = []
    sleeps: list[float] = []

    def hook(request: httpx.Request) -> None:
        sent.append((request.method, request.url.path))
        if on_request is not None:
            on_request(request)

    with httpx.Client(event_hooks={"request": [hook]}) as http:
        client = sb.client(http_client=http, max_retries=2)
        client._sleep = sleeps.append
        yield client, sent, sleeps


def test_get_answered_500_is_retried_then_raises_server_error(fresh_sandbox: ev.Sandbox) -> None:
    set_faults(fresh_sandbox, error_rate=1.0)
    with (
        counting_client(fresh_sandbox) as (client, sent, sleeps),
        pytest.raises(ev.ServerError) as caught,
    ):
        client.get_product("0" * 24)
    assert caught.value.status_code == 500
    assert "injected" in caught.value.message
    assert sent == [("GET", "/api/products/" + "0" * 24)] * 3
    assert len(sleeps) == 2


def test_generate_answered_500_is_not_resent_and_stays_unknown(fresh_sandbox: ev.Sandbox) -> None:
    sb = fresh_sandbox
    product = sb.client().create_product([sample(sb, TSHIRT)])

    def fail_posts(request: httpx.Request) -> None:
        if request.method == "POST":  # the product GET before it still succeeds
            set_faults(sb, error_rate=1.0)

    with counting_client(sb, fail_posts) as (client, sent, sleeps):
        with pytest.raises(ev.ServerError):
            client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", 2)]))
        ledger = client.jobs.list()
    assert [m for m, _ in sent].count("POST") == 1
    assert sleeps == []
    assert [j.state for j in ledger] == ["unknown"]
    assert ledger[0].record.remote_id == product.id
    set_faults(sb, error_rate=0.0)
    time.sleep(0.2)
    assert [j for j in sandbox_get(sb, "/_sandbox/jobs")["jobs"] if j["target"] == product.id] == []
    assert sb.client().get_product(product.id).generated_images == []


def test_get_answered_429_honours_retry_after_then_raises(fresh_sandbox: ev.Sandbox) -> None:
    set_faults(fresh_sandbox, rate_limit_rate=1.0, retry_after=0)
    with (
        counting_client(fresh_sandbox) as (client, sent, sleeps),
        pytest.raises(ev.RateLimitError) as caught,
    ):
        client.get_try_on("1" * 24)
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 0
    assert len(sent) == 3
    assert sleeps == [0.0, 0.0]


# ---------------------------------------------------------------- webhooks


def deliveries_for(sb: ev.Sandbox, url: str) -> list[dict[str, Any]]:
    return [d for d in sandbox_get(sb, "/_sandbox/deliveries")["deliveries"] if d["url"] == url]


def test_generation_webhook_posts_documented_payload_with_token(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, TSHIRT)])
    with Receiver().running() as receiver:
        hook = ev.Webhook(receiver.url, token="whsec-1")
        request = ev.GenerateRequest([ev.ImageSpec("main", 2)], webhook=hook)
        job = quick(client.generate(product.id, request))
        job.wait(timeout=60)
        (got,) = receiver.wait_for(1)
        time.sleep(0.1)
        assert len(receiver.requests) == 1
    assert got["method"] == "POST"
    assert got["path"] == "/hook"
    assert got["headers"]["authorization"] == "Bearer whsec-1"
    assert got["headers"]["content-type"].startswith("application/json")
    payload = got["json"]
    assert set(payload) == {"productId", "status", "generatedImages"}
    assert payload["productId"] == product.id
    assert payload["status"] == "completed"
    assert [i["filePath"] for i in payload["generatedImages"]] == [i.file_path for i in job.images]
    assert all(i["generationParams"]["imageType"] == "main" for i in payload["generatedImages"])


def test_try_on_webhook_posts_documented_payload(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    with Receiver().running() as receiver:
        vto = quick(client.try_on(try_on_request(sandbox, ev.Webhook(receiver.url, "whsec-2"))))
        result = vto.wait(timeout=60)
        (got,) = receiver.wait_for(1)
    assert got["headers"]["authorization"] == "Bearer whsec-2"
    payload = got["json"]
    assert set(payload) == {"vtoId", "status", "generatedImages", "createdAt", "updatedAt"}
    assert payload["vtoId"] == vto.vto_id == result.id
    assert payload["status"] == "completed"
    assert payload["generatedImages"] == [{"filePath": result.images[0].file_path}]
    for key in ("createdAt", "updatedAt"):
        assert payload[key].endswith("Z")
        datetime.fromisoformat(payload[key][:-1] + "+00:00")
    assert payload["createdAt"] <= payload["updatedAt"]


def test_webhook_without_token_sends_no_authorization(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, TSHIRT)])
    with Receiver().running() as receiver:
        request = ev.GenerateRequest([ev.ImageSpec("main", 1)], webhook=ev.Webhook(receiver.url))
        quick(client.generate(product.id, request)).wait(timeout=60)
        (got,) = receiver.wait_for(1)
    assert "authorization" not in got["headers"]
    assert got["json"]["status"] == "completed"
    (logged,) = deliveries_for(sandbox, receiver.url)
    assert logged["authorization"] is False
    assert logged["status_code"] == 200


def test_webhook_is_retried_after_500_and_every_attempt_logged_without_token() -> None:
    settings = Settings(webhook_backoff=0.01)
    with ev.Sandbox(port=0, job_seconds=0, settings=settings) as sb, Receiver(2).running() as rx:
        client = sb.client()
        product = client.create_product([sample(sb, TSHIRT)])
        hook = ev.Webhook(rx.url, token="whsec-secret-777")
        request = ev.GenerateRequest([ev.ImageSpec("main", 1)], webhook=hook)
        quick(client.generate(product.id, request)).wait(timeout=60)
        received = rx.wait_for(3)
        logged = wait_until(
            lambda: len(deliveries_for(sb, rx.url)) >= 3 and deliveries_for(sb, rx.url)
        )
        time.sleep(0.2)
        assert len(rx.requests) == 3
        raw_log = httpx.get(sb.url + "/_sandbox/deliveries").text
        raw_jobs = httpx.get(sb.url + "/_sandbox/jobs").text
    assert all(r["headers"]["authorization"] == "Bearer whsec-secret-777" for r in received)
    assert received[0]["json"] == received[1]["json"] == received[2]["json"]
    assert [d["attempt"] for d in logged] == [1, 2, 3]
    assert [d["status_code"] for d in logged] == [500, 500, 200]
    assert [d["ok"] for d in logged] == [False, False, True]
    assert len({d["id"] for d in logged}) == 1
    assert all(d["authorization"] is True for d in logged)
    assert "whsec-secret-777" not in raw_log
    assert "whsec-secret-777" not in raw_jobs


def test_webhook_to_a_closed_port_is_tried_1_plus_retries_times_and_job_completes() -> None:
    settings = Settings(webhook_backoff=0.01, webhook_retries=4)
    url = closed_port_url()
    with ev.Sandbox(port=0, job_seconds=0, settings=settings) as sb:
        client = sb.client()
        product = client.create_product([sample(sb, TSHIRT)])
        request = ev.GenerateRequest([ev.ImageSpec("main", 1)], webhook=ev.Webhook(url, "t0k"))
        job = quick(client.generate(product.id, request))
        job.wait(timeout=60)
        logged = wait_until(lambda: len(deliveries_for(sb, url)) >= 5 and deliveries_for(sb, url))
        time.sleep(0.3)
        logged = deliveries_for(sb, url)
        (server_job,) = [
            j for j in sandbox_get(sb, "/_sandbox/jobs")["jobs"] if j["target"] == product.id
        ]
    assert job.state == "completed"
    assert server_job["state"] == "completed"
    assert [d["attempt"] for d in logged] == [1, 2, 3, 4, 5]
    assert all(d["status_code"] is None and d["error"] and d["ok"] is False for d in logged)


UNSENDABLE_WEBHOOKS = [
    # Each passes the request schema, yet no POST can be built from it.
    pytest.param("generate", "http://\u00b2e\u00fc/hook", None, id="generate-bad-idna-host"),
    pytest.param("generate", "http://a\x06b/hook", None, id="generate-control-character"),
    pytest.param("generate", "http://[/hook", None, id="generate-open-bracket"),
    pytest.param("generate", closed_port_url(), "caf\u00e9", id="generate-non-ascii-token"),
    pytest.param("tryon", closed_port_url(), "\u2603", id="tryon-non-ascii-token"),
]


@pytest.mark.parametrize(("kind", "url", "token"), UNSENDABLE_WEBHOOKS)
def test_webhook_that_cannot_be_sent_does_not_fail_the_job(
    kind: str, url: str, token: str | None
) -> None:
    hook = {"url": url} if token is None else {"url": url, "token": token}
    settings = Settings(webhook_backoff=0.01, webhook_retries=1)
    with ev.Sandbox(port=0, job_seconds=0, settings=settings) as sb:
        if kind == "generate":
            product = sb.client().create_product([sample(sb, TSHIRT)])
            body: dict[str, Any] = {"imageType": [{"main": 1}], "webhook": hook}
            response = post_api(sb, f"/api/products/{product.id}/generate", body)
        else:
            body = {
                "personImageUrl": sample(sb, PERSON),
                "clothingImageUrls": [{"url": sample(sb, DRESS)}],
                "webhook": hook,
            }
            response = post_api(sb, "/api/vto/generate-url", body)
        if response.status_code != 200:  # refusing the webhook up front is fine too
            assert response.status_code in (400, 422), response.text
            assert response.json()["success"] is False
            return

        def ended() -> list[dict[str, Any]]:
            jobs = sandbox_get(sb, "/_sandbox/jobs")["jobs"]
            return [j for j in jobs if j["state"] not in ("queued", "processing")]

        (job,) = wait_until(ended)
        time.sleep(0.2)
        logged = deliveries_for(sb, url)
        if kind == "tryon":
            vto_id = response.json()["vtoId"]
            try_on = httpx.get(f"{sb.url}/api/vto/{vto_id}", headers=AUTH).json()["data"]
    # The images were made: a webhook that cannot be sent is a failed delivery, not a failed job.
    assert job["state"] == "completed", job
    if kind == "tryon":
        assert try_on["status"] == "completed", try_on
    else:
        assert job["done"] == 1
    assert logged, "the failed delivery was not logged"
    assert all(d["ok"] is False and d["error"] for d in logged)
    if token is not None:
        assert token not in json.dumps(logged, ensure_ascii=False)


# ---------------------------------------------------------------- fetching remote images


def test_fetch_guard_allows_good_images_and_refuses_bad_ones() -> None:
    with ImageHost().running() as host:
        settings = Settings(
            fetch_allow=(f"127.0.0.1:{host.port}",), fetch_timeout=1, fetch_max_bytes=100_000
        )
        with ev.Sandbox(port=0, job_seconds=0, settings=settings) as sb:
            product = sb.client().create_product([host.url("/ok.png")])
            assert product.id and product.colors

            def refused(path: str) -> str:
                response = post_api(sb, "/api/products/url", {"imageUrls": [host.url(path)]})
                assert response.status_code == 400, (path, response.text)
                body = response.json()
                assert body["success"] is False
                return str(body["message"])

            assert "not an image" in refused("/page")
            assert "text/html" in refused("/page")
            assert "100000-byte limit" in refused("/big")
            assert "100000-byte limit" in refused("/bigstream")
            started = time.monotonic()
            assert "could not fetch" in refused("/slow")
            assert time.monotonic() - started < ImageHost.SLOW_SECONDS - 0.5
            evil = refused("/evil")
            assert "refused" in evil
            assert "link-local" in evil
            assert "169.254.169.254" in evil
            assert "bomb" in refused("/bomb.png")
            assert "pixels" in refused("/huge.png")

            response = post_api(sb, "/api/products/url", {"imageUrls": [host.url("/redir")]})
            assert response.status_code == 200, response.text
            assert response.json()["data"]["colors"] == product.colors
        assert "/evil" in host.hits


def test_fetch_guard_refuses_loopback_unless_allowed(sandbox: ev.Sandbox) -> None:
    with ImageHost().running() as host:
        response = post_api(sandbox, "/api/products/url", {"imageUrls": [host.url("/ok.png")]})
        assert response.status_code == 400
        assert "loopback" in response.json()["message"]
        with pytest.raises(ev.APIError) as caught:
            sandbox.client().try_on(
                ev.TryOnRequest(host.url("/ok.png"), [ev.Clothing(sample(sandbox, DRESS))])
            )
        assert caught.value.status_code == 400
    assert host.hits == []


# ---------------------------------------------------------------- determinism and restarts


def rendered_hashes(sb: ev.Sandbox) -> tuple[list[str], str]:
    client = sb.client()
    product = client.create_product([sample(sb, TSHIRT)])
    job = quick(client.generate(product.id, GENERATE))
    job.wait(timeout=60)
    vto = quick(client.try_on(try_on_request(sb)))
    result = vto.wait(timeout=60)
    return [sha(img.url) for img in job.images], sha(result.images[0].url)


def test_two_sandboxes_render_identical_bytes_for_the_same_requests(
    sandbox: ev.Sandbox, fresh_sandbox: ev.Sandbox
) -> None:
    first_images, first_try_on = rendered_hashes(sandbox)
    second_images, second_try_on = rendered_hashes(fresh_sandbox)
    assert len(first_images) == 6
    assert len(set(first_images)) == 6  # every image is its own render
    assert first_images == second_images
    assert first_try_on == second_try_on


def test_data_dir_keeps_products_and_images_across_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ev.Sandbox(port=0, job_seconds=0, data_dir=data) as sb:
        client = sb.client()
        product = client.create_product([sample(sb, TSHIRT)])
        job = quick(client.generate(product.id, GENERATE))
        before = job.wait(timeout=60)
        hashes = [sha(img.url) for img in before.generated_images]
    assert (data / "sandbox.sqlite3").exists()
    with ev.Sandbox(port=0, job_seconds=0, data_dir=data) as sb:
        after = sb.client().get_product(product.id)
        assert after.id == product.id
        assert after.name == before.name
        assert after.colors == before.colors
        assert [i.file_path for i in after.generated_images] == [
            i.file_path for i in before.generated_images
        ]
        assert all(i.url.startswith(sb.url) for i in after.generated_images)
        assert [sha(img.url) for img in after.generated_images] == hashes


def test_data_dir_keeps_try_on_images_downloadable_across_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ev.Sandbox(port=0, job_seconds=0, data_dir=data) as sb:
        result = quick(sb.client().try_on(try_on_request(sb))).wait(timeout=60)
        digest = sha(result.images[0].url)
    with ev.Sandbox(port=0, job_seconds=0, data_dir=data) as sb:
        again = sb.client().get_try_on(result.id)
        assert again.is_completed
        assert len(again.images) == 1
        # The image must come from the running sandbox, not the stopped one's address.
        assert again.images[0].url.startswith(sb.url + "/files/"), again.images[0].url
        assert sha(again.images[0].url) == digest


def test_job_interrupted_by_stop_resumes_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ev.Sandbox(port=0, job_seconds=30, data_dir=data) as sb:
        client = sb.client()
        product = client.create_product([sample(sb, TSHIRT)])
        client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", 2)]))
        (running,) = sandbox_get(sb, "/_sandbox/jobs")["jobs"]
        assert running["state"] in ("queued", "processing")
        started = time.monotonic()
    assert time.monotonic() - started < 10  # stopping does not wait for the job
    with ev.Sandbox(port=0, job_seconds=0, data_dir=data) as sb:
        client = sb.client()

        def finished() -> ev.Product | None:
            found = client.get_product(product.id)
            return found if len(found.generated_images) == 2 else None

        product = wait_until(finished)
        (job,) = sandbox_get(sb, "/_sandbox/jobs")["jobs"]
        assert job["id"] == running["id"]
        wait_until(lambda: sandbox_get(sb, "/_sandbox/jobs")["jobs"][0]["state"] == "completed")
        for img in product.generated_images:
            assert jpeg_size(img.url) == (1024, 1024)


# ---------------------------------------------------------------- ev.connect()


def sandbox_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("ecomviz-sandbox-")}


def test_connect_without_token_starts_one_local_sandbox_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = ev.connect()
    out = capsys.readouterr().out
    assert isinstance(client, ev.Client)
    assert client.base_url.startswith("http://127.0.0.1:")
    assert out.count("\n") == 1
    assert "127.0.0.1" not in out  # saved notebooks must not hold a loopback address
    assert str(client.base_url.rsplit(":", 1)[1]) not in out  # nor its port
    assert local.SANDBOX in out and "local renders, not AI" in out
    assert "no ECOMVIZ_API_TOKEN is set" in out and local.REAL_API not in out
    health = httpx.get(client.base_url + "/_sandbox/health", timeout=10).json()
    assert health["sandbox"] is True
    product = client.create_product([f"{client.base_url}/samples/{TSHIRT}"])
    assert product.name

    threads = sandbox_threads()
    again = ev.connect()
    assert again.base_url == client.base_url
    assert sandbox_threads() == threads
    assert capsys.readouterr().out.count("\n") == 1
    quiet = ev.connect(quiet=True)
    assert quiet.base_url == client.base_url
    assert capsys.readouterr().out == ""
    for c in (client, again, quiet):
        c.close()


async def test_connect_asynchronous_returns_an_async_client(sandbox: ev.Sandbox) -> None:
    client = ev.connect(base_url=sandbox.url, asynchronous=True, quiet=True)
    assert isinstance(client, ev.AsyncClient)
    async with client:
        product = await client.create_product([sample(sandbox, TSHIRT)])
        assert (await client.get_product(product.id)).id == product.id


def test_connect_with_token_targets_the_real_api_without_a_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ECOMVIZ_API_TOKEN", "tok-real-1234567890")

    def no_sandbox(**kwargs: Any) -> None:
        raise AssertionError("connect() started a sandbox although a token is set")

    monkeypatch.setattr(local, "shared_sandbox", no_sandbox)
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(599)

    threads = sandbox_threads()
    with httpx.Client(transport=httpx.MockTransport(record)) as http:
        client = ev.connect(http_client=http)
        assert isinstance(client, ev.Client)
        assert client.base_url == "https://ecomviz.cloud"
        assert client.has_token
        assert client._token == "tok-real-1234567890"
    assert requests == []
    assert sandbox_threads() == threads
    out = capsys.readouterr().out
    assert local.REAL_API in out and "at https://ecomviz.cloud" in out
    assert "because ECOMVIZ_API_TOKEN is set" in out
    assert "sandbox" not in out
    assert "tok-real-1234567890" not in out


def test_connect_to_a_given_server_without_token(
    sandbox: ev.Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    threads = sandbox_threads()
    client = ev.connect(base_url=sandbox.url)
    assert client.base_url == sandbox.url
    assert client.has_token  # the sandbox token, so the server accepts it
    product = client.create_product([sample(sandbox, TSHIRT)])
    assert client.get_product(product.id).id == product.id
    out = capsys.readouterr().out
    assert local.SANDBOX in out
    assert "the base_url argument names a local server" in out
    assert "127.0.0.1" not in out and str(sandbox.port) not in out
    assert sandbox_threads() == threads
    client.close()


def test_connect_names_the_sandbox_that_ecomviz_base_url_points_at(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What Binder does: binder/start exports the address of the sandbox it started.
    monkeypatch.setenv("ECOMVIZ_BASE_URL", sandbox.url.replace("127.0.0.1", "localhost"))
    threads = sandbox_threads()
    with ev.connect() as client:
        product = client.create_product([sample(sandbox, TSHIRT)])
        assert client.get_product(product.id).id == product.id
    out = capsys.readouterr().out
    line = f"using an {local.SANDBOX}, because ECOMVIZ_BASE_URL names a local server."
    assert out == f"ecomviz_nb: {line}\n"
    assert sandbox_threads() == threads  # it started no sandbox of its own


def test_connect_with_a_token_and_a_local_server_says_the_token_goes_there(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ECOMVIZ_API_TOKEN", "tok-local-1234567890")
    with ev.connect(base_url=sandbox.url) as client:
        product = client.create_product([sample(sandbox, TSHIRT)])
        assert product.name
    out = capsys.readouterr().out
    assert local.SANDBOX in out and local.REAL_API not in out
    assert "ECOMVIZ_API_TOKEN is set; the token is sent to it" in out
    assert "tok-local-1234567890" not in out and str(sandbox.port) not in out


@pytest.mark.parametrize(
    ("token", "server", "expected"),
    [
        (
            "tok-real-1234567890",
            "https://user:pw@api.example.com:8443/v1",
            f"using {local.REAL_API} at https://api.example.com:8443 (named by the base_url "
            "argument), because a token was passed.",
        ),
        (
            None,
            "https://staging.example.com",
            "using https://staging.example.com (named by the base_url argument) as an EcomViz "
            f"sandbox, because no ECOMVIZ_API_TOKEN is set; {local.REAL_API} refuses requests "
            "without one.",
        ),
    ],
    ids=["token-remote", "no-token-remote"],
)
def test_connect_to_a_remote_server_names_it_without_credentials_or_a_request(
    token: str | None, server: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(599)

    with httpx.Client(transport=httpx.MockTransport(record)) as http:
        client = ev.connect(token, base_url=server, http_client=http)
        assert client.has_token
    assert requests == []
    out = capsys.readouterr().out
    assert out == f"ecomviz_nb: {expected}\n"
    assert "pw" not in out and "/v1" not in out


# ---------------------------------------------------------------- the command line


def test_cli_serves_a_sandbox_until_ctrl_c() -> None:
    with cli_sandbox("--job-seconds", "0") as (proc, url):
        product = ev.Client("any", base_url=url).create_product([f"{url}/samples/{TSHIRT}"])
        assert product.name
        out, err = stop_with_ctrl_c(proc)
    first = out.splitlines()[0]
    assert url in first
    assert "not AI" in first
    assert proc.returncode == 0
    assert "Traceback" not in err


def test_cli_data_dir_keeps_state_between_runs(tmp_path: Path) -> None:
    data = tmp_path / "cli-data"
    with cli_sandbox("--job-seconds", "0", "--data-dir", str(data)) as (proc, url):
        product = ev.Client("any", base_url=url).create_product([f"{url}/samples/{TSHIRT}"])
        stop_with_ctrl_c(proc)
    assert (data / "sandbox.sqlite3").exists()
    with cli_sandbox("--job-seconds", "0", "--data-dir", str(data)) as (proc, url):
        again = ev.Client("any", base_url=url).get_product(product.id)
        assert again.name == product.name
        stop_with_ctrl_c(proc)
    assert proc.returncode == 0


# ---------------------------------------------------------------- serving


def test_samples_are_served_with_their_content_type(sandbox: ev.Sandbox) -> None:
    listed = sandbox_get(sandbox, "/_sandbox/samples")["samples"]
    assert {TSHIRT, SNEAKER, DRESS, PERSON} <= set(listed)
    expected = {".jpg": ("image/jpeg", "JPEG"), ".png": ("image/png", "PNG")}
    for name, url in listed.items():
        assert url == sample(sandbox, name)
        response = download(url)
        ctype, fmt = expected[Path(name).suffix]
        assert response.headers["content-type"] == ctype, name
        with Image.open(io.BytesIO(response.content)) as image:
            assert image.format == fmt
    missing = httpx.get(sample(sandbox, "products/nope.jpg"))
    assert missing.status_code == 404
    assert missing.json()["success"] is False


def test_health_answers_quickly_while_jobs_render(fresh_sandbox: ev.Sandbox) -> None:
    # job_seconds 0: the renders run back to back with no pacing sleeps, so a server that
    # rendered on its event loop would hold /_sandbox/health up until the jobs end.
    sb = fresh_sandbox
    client = sb.client()
    product = client.create_product([sample(sb, TSHIRT)])
    request = ev.GenerateRequest(
        [ev.ImageSpec("main", 20), ev.ImageSpec("detail", 20, aspect_ratio="16:9")]
    )
    for _ in range(3):
        client.generate(product.id, request)
    busy_timings: list[float] = []
    with httpx.Client(base_url=sb.url, timeout=30) as http:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = http.get("/_sandbox/health")
            elapsed = time.perf_counter() - started
            assert response.status_code == 200
            if not response.json()["jobs_running"]:
                break
            busy_timings.append(elapsed)
            time.sleep(0.02)
    assert len(busy_timings) >= 5, "too few answers while the jobs ran"
    assert max(busy_timings) < 0.5, max(busy_timings)
    assert len(client.get_product(product.id).generated_images) == 120
