"""The webhook inbox: a real server on a loopback port, real HTTP, and jobs that hear from it.

Poll counts are measured on the wire: an httpx event hook counts the GETs a job sends.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from support import assert_inert, sample, sandbox_get, set_faults, wait_until

import ecomviz_nb as ev
from ecomviz_nb import jobs
from ecomviz_nb.inbox import WebhookInbox
from ecomviz_nb.ledger import JobLedger

TOKEN = "inbox-secret-4242"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
BEARER_LINE = f"Authorization: Bearer {TOKEN}\r\n".encode()
PERSON = "people/person-a.jpg"
DRESS = "garments/dress-green.png"
TSHIRT = "products/tshirt-red.jpg"


@pytest.fixture
def inbox() -> Iterator[WebhookInbox]:
    with WebhookInbox(token=TOKEN, max_body=1000) as box:
        yield box


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[ev.Sandbox]:
    """Jobs take about a second: shorter than the first 2 s pause between polls."""
    with ev.Sandbox(port=0, job_seconds=1) as sb:
        yield sb


def post(url: str, body: Any = None, *, content: Any = None, **headers: str) -> httpx.Response:
    return httpx.post(url, json=body, content=content, headers=headers, timeout=10)


def raw_request(inbox: WebhookInbox, data: bytes) -> bytes:
    """Send bytes on a socket and return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", inbox.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- the HTTP contract


def test_a_good_delivery_is_answered_ok_and_kept(inbox: WebhookInbox) -> None:
    payload = {"productId": "p1", "status": "completed", "generatedImages": [{"filePath": "a"}]}
    response = post(inbox.url, payload, **BEARER)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert len(inbox) == 1
    [entry] = inbox.deliveries
    assert entry["kind"] == "product.generation"
    assert (entry["id"], entry["status"], entry["images"]) == ("p1", "completed", 1)
    assert entry["payload"] == payload
    assert inbox.latest("product.generation", "p1") == payload


def test_a_wrong_token_is_refused_and_never_echoed(inbox: WebhookInbox) -> None:
    response = post(inbox.url, {"vtoId": "v1"}, Authorization="Bearer not-the-token")
    assert response.status_code == 401
    everything = response.text + json.dumps(dict(response.headers))
    assert TOKEN not in everything
    assert "not-the-token" not in everything
    assert TOKEN not in repr(inbox)
    assert TOKEN not in repr(inbox.webhook())
    assert len(inbox) == 0


def test_no_token_header_is_refused(inbox: WebhookInbox) -> None:
    assert post(inbox.url, {"vtoId": "v1"}).status_code == 401
    assert post(inbox.url, {"vtoId": "v1"}, Authorization=TOKEN).status_code == 401  # no scheme
    assert len(inbox) == 0


def test_the_token_is_also_accepted_as_x_webhook_token(inbox: WebhookInbox) -> None:
    assert post(inbox.url, {"vtoId": "v1"}, **{"X-Webhook-Token": TOKEN}).status_code == 200
    assert post(inbox.url, {"vtoId": "v2"}, Authorization=f"bearer {TOKEN}").status_code == 200
    assert [d["id"] for d in inbox.deliveries] == ["v2", "v1"]


def test_an_inbox_without_token_takes_any_delivery() -> None:
    with WebhookInbox() as box:
        assert post(box.url, {"vtoId": "v1"}).status_code == 200
        assert box.webhook() == ev.Webhook(box.url)


def test_a_declared_oversize_body_is_refused_before_it_is_read(inbox: WebhookInbox) -> None:
    assert post(inbox.url, content=b"{" + b" " * 1000 + b"}", **BEARER).status_code == 413
    # A huge declared length with no body at all: answered at once, nothing is awaited.
    answer = raw_request(
        inbox,
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Length: 99999999999\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413")
    assert len(inbox) == 0


def test_a_chunked_body_that_grows_too_large_is_refused(inbox: WebhookInbox) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"vtoId": "' + b"x" * 600
        yield b"y" * 600 + b'"}'

    response = post(inbox.url, content=chunks(), **BEARER)
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 413
    small = post(inbox.url, content=iter([b'{"vtoId":', b' "v1"}']), **BEARER)
    assert small.status_code == 200
    assert [d["id"] for d in inbox.deliveries] == ["v1"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"', b"null", b"42", b"[" * 900],
    ids=["text", "empty", "bad-utf8", "array", "string", "null", "number", "deep"],
)
def test_bodies_that_are_not_json_objects_are_refused(inbox: WebhookInbox, body: bytes) -> None:
    response = post(inbox.url, content=body, **BEARER)
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert len(inbox) == 0


def test_methods_other_than_post_are_refused(inbox: WebhookInbox) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"):
        response = httpx.request(method, inbox.url, headers=BEARER, timeout=10)
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "POST"
    assert httpx.head(inbox.url, timeout=10).status_code == 405
    assert post(inbox.url.replace("/webhook", "/other"), {}, **BEARER).status_code == 404


def test_garbage_on_the_socket_does_not_stop_the_server(inbox: WebhookInbox) -> None:
    garbage = [
        b"\x00\x01\x02 garbage\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
        b"POST /webhook HTTP/1.1\r\nContent-Length: -5\r\n" + BEARER_LINE + b"\r\n",
        b"POST /webhook HTTP/1.1\r\nContent-Length: 50\r\n" + BEARER_LINE + b"\r\n{",
        b"POST /webhook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + BEARER_LINE + b"\r\nzz\r\n",
        b"POST /webhook HTTP/1.1\r\n" + BEARER_LINE + b"\r\n",
    ]
    for data in garbage:
        with socket.create_connection(("127.0.0.1", inbox.port), timeout=10) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            answer = sock.recv(65536)
        assert TOKEN.encode() not in answer
    assert post(inbox.url, {"vtoId": "after"}, **BEARER).status_code == 200
    assert [d["id"] for d in inbox.deliveries] == ["after"]


def test_json_nested_too_deep_to_parse_is_refused() -> None:
    with WebhookInbox() as box:
        deep = b"[" * 200_000 + b"]" * 200_000
        assert post(box.url, content=b'{"a": ' + deep + b"}").status_code == 400
        assert post(box.url, {"vtoId": "v1"}).status_code == 200


def test_200_concurrent_deliveries_are_all_kept_newest_first() -> None:
    async def send_all(url: str) -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.post(url, json={"vtoId": f"v{n}", "status": "completed"}, headers=BEARER)
                    for n in range(200)
                )
            )
        return [a.status_code for a in answers]

    with WebhookInbox(token=TOKEN) as box:
        assert asyncio.run(send_all(box.url)) == [200] * 200
        deliveries = box.deliveries
        assert len(box) == box.received == 200
        assert {d["id"] for d in deliveries} == {f"v{n}" for n in range(200)}
        seqs = [d["seq"] for d in deliveries]
        assert seqs == sorted(seqs, reverse=True) == list(range(200, 0, -1))
        times = [d["received_at"] for d in deliveries]
        assert times == sorted(times, reverse=True)


def test_keep_bounds_the_deliveries_kept() -> None:
    with WebhookInbox(keep=3) as box:
        for n in range(5):
            post(box.url, {"productId": f"p{n}"})
        assert [d["id"] for d in box.deliveries] == ["p4", "p3", "p2"]
        assert (len(box), box.received) == (3, 5)


def test_hostile_strings_are_escaped_in_the_table(inbox: WebhookInbox) -> None:
    hostile = {
        "vtoId": "<script>alert(1)</script>",
        "status": '"><img src=x onerror=alert(2)>',
        "generatedImages": [{"filePath": "javascript:alert(3)'><svg onload=alert(4)>"}],
        "note": f"the token {TOKEN} must not show",
    }
    assert post(inbox.url, hostile, **BEARER).status_code == 200
    table = inbox._repr_html_()
    parsed = assert_inert(table)
    assert not {"img", "svg"} & set(parsed.tags)
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text
    assert TOKEN not in table
    assert table.index("<tr><td>") > table.index("<th>time</th>")


def test_the_widget_refreshes_as_deliveries_arrive(inbox: WebhookInbox) -> None:
    pytest.importorskip("ipywidgets")
    view = inbox.widget()
    assert "0 deliveries" in view.value
    post(inbox.url, {"productId": "p-widget", "status": "completed"}, **BEARER)
    assert "p-widget" in view.value
    assert "1 delivery," in view.value


def test_close_unregisters_and_frees_the_port() -> None:
    box = WebhookInbox(token=TOKEN)
    url, port = box.url, box.port
    assert jobs.webhook_listeners[url] is box
    post(url, {"vtoId": "v1"}, **BEARER)
    box.close()
    assert url not in jobs.webhook_listeners
    assert not box.running
    assert "closed" in repr(box)
    with pytest.raises(httpx.ConnectError):
        post(url, {"vtoId": "v2"}, **BEARER)
    with WebhookInbox(port=port) as again:  # the port is free for a new server
        assert again.url == url
        assert jobs.webhook_listeners[url] is again
    box.close()  # twice is fine
    assert [d["id"] for d in box.deliveries] == ["v1"]  # kept after closing


def test_waiting_for_a_delivery_from_threads_and_asyncio(inbox: WebhookInbox) -> None:
    seen = inbox.received
    started = time.monotonic()
    assert inbox.wait(seen, 0.2) == seen
    assert time.monotonic() - started >= 0.15
    timer = threading.Timer(0.2, post, (inbox.url, {"vtoId": "v1"}), BEARER)
    timer.start()
    assert inbox.wait(seen, 10) == seen + 1

    async def main() -> tuple[int, int]:
        ticks = 0

        async def ticker() -> None:  # the loop keeps running while the inbox is awaited
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        sender = asyncio.get_running_loop().run_in_executor(
            None, lambda: time.sleep(0.3) or post(inbox.url, {"vtoId": "v2"}, **BEARER)
        )
        count = await inbox.async_wait(seen + 1, 10)
        await sender
        task.cancel()
        return count, ticks

    count, ticks = asyncio.run(main())
    assert count == seen + 2
    assert ticks >= 10


# ---------------------------------------------------------------- jobs hear from the inbox


def counting_client(sb: ev.Sandbox) -> tuple[ev.Client, list[str]]:
    """A client whose GETs on /api/ are recorded."""
    gets: list[str] = []

    def record(request: httpx.Request) -> None:
        if request.method == "GET" and request.url.path.startswith("/api/"):
            gets.append(request.url.path)

    return sb.client(http_client=httpx.Client(event_hooks={"request": [record]})), gets


def async_counting_client(sb: ev.Sandbox) -> tuple[ev.AsyncClient, list[str]]:
    gets: list[str] = []

    async def record(request: httpx.Request) -> None:
        if request.method == "GET" and request.url.path.startswith("/api/"):
            gets.append(request.url.path)

    http = httpx.AsyncClient(event_hooks={"request": [record]})
    return sb.async_client(http_client=http), gets


def generate_request(webhook: ev.Webhook | None) -> ev.GenerateRequest:
    return ev.GenerateRequest([ev.ImageSpec("main", count=2, aspect_ratio="1:1")], webhook=webhook)


def try_on_request(sb: ev.Sandbox, webhook: ev.Webhook | None) -> ev.TryOnRequest:
    return ev.TryOnRequest(
        person_image_url=sample(sb, PERSON),
        clothing=[ev.Clothing(sample(sb, DRESS))],
        webhook=webhook,
    )


def polls_while(wait: Callable[[], Any], gets: list[str]) -> tuple[Any, int]:
    """The job's result and the GETs it sent while waiting."""
    before = len(gets)
    result = wait()
    return result, len(gets) - before


def in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        results[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_a_generation_job_with_the_inbox_polls_less(slow_sandbox: ev.Sandbox) -> None:
    sb = slow_sandbox
    with WebhookInbox(token=TOKEN) as box:
        client, gets = counting_client(sb)
        other, other_gets = counting_client(sb)
        source = sample(sb, TSHIRT)
        with_hook = client.generate(
            client.create_product([source]).id, generate_request(box.webhook())
        )
        without = other.generate(other.create_product([source]).id, generate_request(None))
        (heard, heard_polls), (polled, polled_polls) = in_parallel(
            lambda: polls_while(lambda: with_hook.wait(timeout=30), gets),
            lambda: polls_while(lambda: without.wait(timeout=30), other_gets),
        )
    print(f"generation: {heard_polls} poll(s) with the inbox, {polled_polls} without")
    assert heard_polls < polled_polls
    assert heard_polls <= 1
    assert len(with_hook.images) == len(without.images) == 2
    assert with_hook.state == "completed"
    assert [img.url for img in with_hook.images] == [img.url for img in heard.generated_images[-2:]]
    assert all(img.url.startswith(sb.url + "/files/") for img in with_hook.images)
    assert httpx.get(with_hook.images[0].url).status_code == 200
    stored = client.jobs.get(with_hook.id)
    assert (stored.state, stored.record.done, stored.record.status) == ("completed", 2, "completed")
    assert len(polled.generated_images) == 2


def test_a_try_on_job_with_the_inbox_polls_less(slow_sandbox: ev.Sandbox) -> None:
    sb = slow_sandbox
    with WebhookInbox(token=TOKEN) as box:
        client, gets = counting_client(sb)
        other, other_gets = counting_client(sb)
        with_hook = client.try_on(try_on_request(sb, box.webhook()))
        without = other.try_on(try_on_request(sb, None))
        (heard, heard_polls), (polled, polled_polls) = in_parallel(
            lambda: polls_while(lambda: with_hook.wait(timeout=30), gets),
            lambda: polls_while(lambda: without.wait(timeout=30), other_gets),
        )
    print(f"try-on: {heard_polls} poll(s) with the inbox, {polled_polls} without")
    assert heard_polls < polled_polls
    assert heard_polls <= 1
    assert heard.is_completed and polled.is_completed
    assert heard.id == with_hook.vto_id
    assert len(heard.images) == 1
    assert httpx.get(heard.images[0].url).status_code == 200
    assert client.jobs.get(with_hook.id).state == "completed"


def test_async_jobs_with_the_inbox_poll_less(slow_sandbox: ev.Sandbox) -> None:
    sb = slow_sandbox

    async def main(box: WebhookInbox) -> dict[str, int]:
        clients = {name: async_counting_client(sb) for name in ("gen+", "gen-", "vto+", "vto-")}
        source = sample(sb, TSHIRT)
        waits = {}
        for name, (client, gets) in clients.items():
            hook = box.webhook() if name.endswith("+") else None
            if name.startswith("gen"):
                product = await client.create_product([source])
                job: Any = await client.generate(product.id, generate_request(hook))
            else:
                job = await client.try_on(try_on_request(sb, hook))
            waits[name] = (job, len(gets))
        results = await asyncio.gather(*(job.wait(timeout=30) for job, _ in waits.values()))
        assert all(len(job.images) >= 1 for job, _ in waits.values())
        assert results[2].is_completed
        return {name: len(clients[name][1]) - before for name, (_, before) in waits.items()}

    with WebhookInbox(token=TOKEN) as box:
        polls = asyncio.run(main(box))
    print(f"async polls: {polls}")
    assert polls["gen+"] < polls["gen-"]
    assert polls["vto+"] < polls["vto-"]
    assert polls["gen+"] <= 1 and polls["vto+"] <= 1


def test_a_job_whose_webhook_already_arrived_sends_no_poll(slow_sandbox: ev.Sandbox) -> None:
    sb = slow_sandbox
    with WebhookInbox(token=TOKEN) as box:
        client, gets = counting_client(sb)
        product = client.create_product([sample(sb, TSHIRT)])
        seen = box.received
        job = client.generate(product.id, generate_request(box.webhook()))
        vto = client.try_on(try_on_request(sb, box.webhook()))
        wait_until(lambda: box.received >= seen + 2, 20, "both webhooks arriving")
        events: list[ev.ProgressEvent] = []
        result, polls = polls_while(lambda: job.wait(timeout=30, on_progress=events.append), gets)
        vto_result, vto_polls = polls_while(lambda: vto.wait(timeout=30), gets)
    assert (polls, vto_polls) == (0, 0)
    assert len(job.images) == 2 and result.id == product.id
    assert [(e.status, e.done) for e in events] == [("completed", 2)]
    assert vto_result.is_completed and len(vto_result.images) == 1


def test_a_job_whose_webhook_never_comes_finishes_by_polling(slow_sandbox: ev.Sandbox) -> None:
    sb = slow_sandbox
    with WebhookInbox(token=TOKEN) as box:
        client, gets = counting_client(sb)
        product = client.create_product([sample(sb, TSHIRT)])
        wrong = ev.Webhook(box.url, token="not-the-inbox-token")  # the inbox answers 401
        job = client.generate(product.id, generate_request(wrong))
        vto = client.try_on(try_on_request(sb, wrong))
        started = time.monotonic()
        result, polls = polls_while(lambda: job.wait(timeout=20), gets)
        vto_result, vto_polls = polls_while(lambda: vto.wait(timeout=20), gets)
        assert time.monotonic() - started < 20
        assert len(box) == 0
    assert polls >= 1 and vto_polls >= 1  # finished by polling: the inbox refused the hooks
    assert len(job.images) == 2 and len(result.generated_images) == 2
    assert vto_result.is_completed
    sent = sandbox_get(sb, "/_sandbox/deliveries")["deliveries"]
    refused = [d for d in sent if d["url"] == box.url]
    assert refused and all(d["status_code"] == 401 for d in refused)


def test_a_failed_webhook_fails_the_job_without_waiting_for_the_deadline() -> None:
    with ev.Sandbox(port=0, job_seconds=1) as sb, WebhookInbox(token=TOKEN) as box:
        set_faults(sb, fail_job_rate=1.0)
        client = sb.client()
        product = client.create_product([sample(sb, TSHIRT)])
        job = client.generate(product.id, generate_request(box.webhook()))
        vto = client.try_on(try_on_request(sb, box.webhook()))
        started = time.monotonic()
        with pytest.raises(ev.JobFailedError) as failed:
            job.wait(timeout=30)
        with pytest.raises(ev.JobFailedError) as vto_failed:
            vto.wait(timeout=30)
        assert time.monotonic() - started < 10  # polling alone would wait 30 s for images
    assert failed.value.status == vto_failed.value.status == "failed"
    assert len(job.images) == 1  # the sandbox fails halfway: one of two images was made
    assert client.jobs.get(job.id).state == "failed"
    assert client.jobs.get(vto.id).state == "failed"


# ---------------------------------------------------------------- attribution, no sandbox


class FakeProducts:
    """Serves one product holding ``images`` (paths) and counts reads."""

    def __init__(self, images: list[str]) -> None:
        self.images = images
        self.reads = 0

    def get_product(self, product_id: str) -> ev.Product:
        self.reads += 1
        return ev.Product.from_wire(
            {"_id": product_id, "generatedImages": [entry(p) for p in self.images]},
            base_url="https://api.test",
        )


def entry(path: str, image_type: str = "main") -> dict[str, Any]:
    return {
        "filePath": path,
        "generationParams": {"platform": "general", "region": "global", "imageType": image_type},
    }


def make_job(box: WebhookInbox, source: FakeProducts, tmp_path: Any) -> ev.GenerationJob:
    ledger = JobLedger(tmp_path / "jobs.sqlite3")
    wire = ev.GenerateRequest([ev.ImageSpec("main", count=2)], webhook=box.webhook()).to_wire()
    record = ledger.add(
        kind="generate",
        base_url="https://api.test",
        request=wire,
        expected=2,
        remote_id="p1",
        baseline=["old.jpg"],
    )
    ledger.update(record.id, state="submitted")
    return ev.GenerationJob(record, source, ledger=ledger)


def test_a_generation_delivery_counts_only_the_jobs_own_images(
    inbox: WebhookInbox, tmp_path: Any
) -> None:
    source = FakeProducts(["old.jpg", "new-1.jpg"])
    job = make_job(inbox, source, tmp_path)
    # Another run on the same product (detail images) reports first: not this job's.
    other = {
        "productId": "p1",
        "status": "completed",
        "generatedImages": [entry("d.jpg", "detail")],
    }
    post(inbox.url, other, **BEARER)
    mine = {
        "productId": "p1",
        "status": "completed",
        "generatedImages": [entry("old.jpg"), entry("new-1.jpg"), entry("new-2.jpg")],
    }
    threading.Timer(0.3, post, (inbox.url, mine), BEARER).start()
    started = time.monotonic()
    product = job.wait(timeout=30)
    assert time.monotonic() - started < 1.5  # woken by the delivery, not after the 2 s pause
    assert source.reads == 0  # a young job waits for its webhook before its first poll
    assert [img.file_path for img in job.images] == ["new-1.jpg", "new-2.jpg"]
    # No poll was made: the product returned holds what the webhook told, the job's images.
    assert product.id == "p1"
    assert [img.file_path for img in product.generated_images] == ["new-1.jpg", "new-2.jpg"]
    assert job.images[1].url == "https://api.test/new-2.jpg"
    assert (job.state, job.record.done, job.record.status) == ("completed", 2, "completed")


def test_a_delivery_from_before_the_job_was_submitted_is_ignored(
    inbox: WebhookInbox, tmp_path: Any
) -> None:
    old = {"productId": "p1", "status": "completed", "generatedImages": [entry("new-1.jpg")]}
    post(inbox.url, old, **BEARER)
    time.sleep(0.01)
    source = FakeProducts(["old.jpg", "new-1.jpg", "new-2.jpg"])
    job = make_job(inbox, source, tmp_path)
    job.wait(timeout=30)
    assert source.reads == 1  # finished by its poll, not by the stale delivery
