"""Sandbox restarts: ``ecomviz-nb sandbox --data-dir`` killed with SIGKILL mid-job and started
again keeps every product and finishes (or fails) every job it had accepted, and clients that
were waiting meanwhile recover on their own.

The sandbox runs in a process of its own, so that it can be killed like a crashed server; it
comes back on the same port, which is what lets waiting clients reconnect without being told.
``wait()`` polls through connection errors until its deadline, so the deadlines here are
generous (60 s) while the outage lasts a few seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import SandboxProcess, sample, wait_until

import ecomviz_nb as ev

TOKEN = "restart-test-token"
JOB_SECONDS = 4.0
DOWN_SECONDS = 3.0
"""How long the sandbox stays dead before it is started again."""
WAIT_TIMEOUT = 60.0
TERMINAL = {"completed", "failed"}

TSHIRT = "products/tshirt-red.jpg"
SNEAKER = "products/sneaker-white.jpg"
DRESS = "garments/dress-green.png"
PERSON = "people/person-a.jpg"


# ---------------------------------------------------------------- helpers


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The sandbox's data folder: it keeps products and jobs across a kill and a restart."""
    return tmp_path / "sandbox-data"


@pytest.fixture
def server(sandbox_process: Callable[..., SandboxProcess], data_dir: Path) -> SandboxProcess:
    """``ecomviz-nb sandbox --data-dir`` on a port it keeps: to kill with SIGKILL and restart."""
    return sandbox_process(
        "--data-dir",
        str(data_dir),
        "--job-seconds",
        str(JOB_SECONDS),
        "--log-level",
        "warning",
        token=TOKEN,
    )


def try_on_request(sb: SandboxProcess, info: str) -> ev.TryOnRequest:
    return ev.TryOnRequest(
        person_image_url=sample(sb, PERSON), clothing=[ev.Clothing(sample(sb, DRESS), info=info)]
    )


def sha(url: str) -> str:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code)
    assert response.headers["content-type"] == "image/jpeg"
    return hashlib.sha256(response.content).hexdigest()


@dataclass
class Waiter:
    """One client waiting on one job, in a thread or an asyncio task."""

    job_id: str
    kind: str
    expected: int
    statuses: list[str] = field(default_factory=list)
    images: list[ev.GeneratedImage] = field(default_factory=list)
    result: Any = None
    error: BaseException | None = None
    finished_at: float | None = None

    def progress(self, event: ev.ProgressEvent) -> None:
        self.statuses.append(event.status)

    def end(self, job: Any) -> None:
        self.images = list(job.images)
        self.finished_at = time.monotonic()


def wait_in_thread(url: str, waiter: Waiter) -> threading.Thread:
    """A sync client of its own finds the job in the ledger and waits for it."""

    def run() -> None:
        with ev.Client(TOKEN, base_url=url) as client:
            job = client.jobs.get(waiter.job_id)
            try:
                waiter.result = job.wait(timeout=WAIT_TIMEOUT, on_progress=waiter.progress)
            except BaseException as exc:  # reported by the test
                waiter.error = exc
            finally:
                waiter.end(job)

    thread = threading.Thread(target=run, name=f"waiter-{waiter.job_id}", daemon=True)
    thread.start()
    return thread


def wait_in_tasks(url: str, waiters: list[Waiter]) -> threading.Thread:
    """One async client waits for all of ``waiters`` in asyncio tasks, on a loop of its own."""

    async def one(client: ev.AsyncClient, waiter: Waiter) -> None:
        job = client.jobs.get(waiter.job_id)
        try:
            waiter.result = await job.wait(timeout=WAIT_TIMEOUT, on_progress=waiter.progress)
        except BaseException as exc:
            waiter.error = exc
        finally:
            waiter.end(job)

    async def main() -> None:
        async with ev.AsyncClient(TOKEN, base_url=url) as client:
            await asyncio.gather(*(one(client, w) for w in waiters))

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="async-waiters", daemon=True)
    thread.start()
    return thread


def store_rows(data_dir: Path, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Read (or, with an UPDATE, change) the dead sandbox's own SQLite file."""
    with closing(sqlite3.connect(data_dir / "sandbox.sqlite3", isolation_level=None)) as conn:
        return list(conn.execute(query, params).fetchall())


# ---------------------------------------------------------------- the tests


def test_clients_waiting_through_a_sandbox_crash_and_restart_recover_on_their_own(
    server: SandboxProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    client = ev.Client(TOKEN, base_url=server.url)
    products = [client.create_product([sample(server, name)]) for name in (TSHIRT, SNEAKER, TSHIRT)]
    runs = [  # two runs per product, on platforms of their own so that they go at once
        ev.GenerateRequest([ev.ImageSpec("main", count=2)], platform="web"),
        ev.GenerateRequest(
            [ev.ImageSpec("main", count=1), ev.ImageSpec("detail", aspect_ratio="4:3")],
            platform="app",
        ),
    ]
    jobs: list[Any] = [client.generate(p.id, run) for p in products for run in runs]
    jobs += [client.try_on(try_on_request(server, f"look {i}")) for i in range(3)]
    waiters = [Waiter(job.id, job.record.kind, job.expected) for job in jobs]
    # Half wait in threads with sync clients, half in asyncio tasks of one async client.
    threads = [wait_in_thread(server.url, w) for w in waiters[::2]]
    threads.append(wait_in_tasks(server.url, waiters[1::2]))

    # Kill it as soon as the first image is made: every job is then under way, none done.
    wait_until(lambda: any(j["done"] for j in server.jobs()), 30, "a first image")
    accepted = server.jobs()
    killed_at = server.kill()
    assert len(accepted) == len(jobs)
    assert [j["id"] for j in accepted if j["state"] == "completed"] == [], "the kill came late"

    time.sleep(DOWN_SECONDS)
    assert all(w.finished_at is None for w in waiters), "a client gave up while it was down"
    restarted_at = server.start()  # the same port and data folder

    for thread in threads:
        thread.join(WAIT_TIMEOUT + 15)
        assert not thread.is_alive(), "a client still waits"
    errors = {w.job_id: repr(w.error) for w in waiters if w.error is not None}
    assert errors == {}

    # Every job finished with images of its own, after the restart.
    paths: list[str] = []
    for job, waiter in zip(jobs, waiters, strict=True):
        assert waiter.finished_at is not None and waiter.finished_at > restarted_at
        assert len(waiter.images) == waiter.expected, (waiter.job_id, waiter.images)
        if waiter.kind == "generate":
            assert isinstance(waiter.result, ev.Product)
            platform = job.request.platform
            for img in waiter.images:
                assert img.file_path.startswith(f"files/products/{job.product_id}/")
                assert img.platform == platform
        else:
            assert isinstance(waiter.result, ev.TryOnResult)
            assert waiter.result.status == "completed"
            assert waiter.images[0].url.startswith(server.url + "/files/vto/")
        paths += [img.file_path for img in waiter.images]
        for img in waiter.images:
            sha(img.url)  # downloadable from the restarted sandbox
    assert len(paths) == len(set(paths)), "two jobs claimed the same image"
    # ... and they knew the server had been gone: their polls failed meanwhile.
    retried = [w.job_id for w in waiters if any("retrying after" in s for s in w.statuses)]
    assert retried, [w.statuses for w in waiters]

    # Every product is still there, with exactly its runs' images, each once.
    for product in products:
        doc = server.product(product.id)
        assert doc["productName"] == product.name
        held = sorted(img["filePath"] for img in doc["generatedImages"])
        own = sorted(
            img.file_path
            for job, w in zip(jobs, waiters, strict=True)
            if w.kind == "generate" and job.product_id == product.id
            for img in w.images
        )
        assert held == own, product.id
    # Every job the sandbox had accepted ended, none was added; the ledger agrees.
    final = server.jobs()
    assert sorted(j["id"] for j in final) == sorted(j["id"] for j in accepted)
    assert {j["state"] for j in final} <= TERMINAL
    assert Counter(j["state"] for j in final) == {"completed": len(jobs)}
    assert {(j.id, j.state) for j in client.jobs.list()} == {(j.id, "completed") for j in jobs}
    client.close()

    recovered = sorted(w.finished_at - restarted_at for w in waiters if w.finished_at)
    with capsys.disabled():
        print(
            f"\nsandbox down {restarted_at - killed_at:.1f} s; clients done "
            f"{recovered[0]:.1f}-{recovered[-1]:.1f} s after the restart; "
            f"{len(retried)}/{len(waiters)} saw failed polls"
        )


def test_a_job_accepted_before_a_crash_is_finished_after_the_restart_with_nobody_waiting(
    server: SandboxProcess,
) -> None:
    client = ev.Client(TOKEN, base_url=server.url)
    product = client.create_product([sample(server, TSHIRT)])
    job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=3)]))
    vto = client.try_on(try_on_request(server, "alone"))

    # Kill it once the generation has made its first image (of three).
    wait_until(lambda: client.get_product(product.id).generated_images, 30, "a first image")
    early = client.get_product(product.id).generated_images
    digests_before = {img.file_path: sha(img.url) for img in early}
    accepted = server.jobs()
    server.kill()
    assert {j["state"] for j in accepted} <= {"queued", "processing"}, accepted
    made_before = list(digests_before)

    time.sleep(1.0)
    server.start()
    assert server.product(product.id)["productName"] == product.name
    final = wait_until(
        lambda: (jobs := server.jobs()) and all(j["state"] in TERMINAL for j in jobs) and jobs,
        30,
        "the sandbox finishing the jobs it had accepted",
    )
    assert sorted(j["id"] for j in final) == sorted(j["id"] for j in accepted)
    assert {j["state"] for j in final} == {"completed"}

    # The product holds the three images, the one made before the crash unchanged among them.
    doc = server.product(product.id)
    held = [img["filePath"] for img in doc["generatedImages"]]
    assert len(held) == 3 == len(set(held)), held
    assert set(made_before) <= set(held)
    for path in made_before:
        assert sha(f"{server.url}/{path}") == digests_before[path]
    # A client that comes back later finds both jobs done at its first poll.
    again = ev.Client(TOKEN, base_url=server.url)
    events: list[ev.ProgressEvent] = []
    done = again.jobs.get(job.id).wait(timeout=WAIT_TIMEOUT, on_progress=events.append)
    assert isinstance(done, ev.Product)
    assert sorted(img.file_path for img in done.generated_images) == sorted(held)
    result = again.jobs.get(vto.id).wait(timeout=WAIT_TIMEOUT, on_progress=events.append)
    assert isinstance(result, ev.TryOnResult)
    assert [e.status for e in events] == ["completed", "completed"]  # one poll each
    assert result.status == "completed"
    assert len(result.images) == 1
    sha(result.images[0].url)
    assert {j.state for j in again.jobs.list()} == {"completed"}
    client.close()
    again.close()


def test_a_crash_between_saving_an_image_and_saving_the_job_does_not_duplicate_the_image(
    server: SandboxProcess, data_dir: Path
) -> None:
    """The worker saves each image in two writes: the product (image appended), then the job
    (``done`` counted up). SIGKILL can land between them; timing cannot aim at that instant,
    so the test kills the sandbox after the first image and puts its data folder in exactly
    the state such a kill leaves: the product holds image 0, the job still says ``done = 0``.
    """
    client = ev.Client(TOKEN, base_url=server.url)
    product = client.create_product([sample(server, SNEAKER)])
    job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=3)]))
    wait_until(lambda: client.get_product(product.id).generated_images, 30, "a first image")
    server.kill()

    ((job_id, done),) = store_rows(data_dir, "SELECT id, json_extract(doc, '$.done') FROM jobs")
    assert done >= 1
    store_rows(  # as if killed right after the product write of image ``done - 1``
        data_dir,
        "UPDATE jobs SET doc = json_set(doc, '$.done', ?) WHERE id = ?",
        (done - 1, job_id),
    )

    server.start()
    wait_until(lambda: {j["state"] for j in server.jobs()} <= TERMINAL, 30, "the job finishing")
    held = [img["filePath"] for img in server.product(product.id)["generatedImages"]]
    assert len(held) == len(set(held)), f"an image was appended twice: {held}"
    assert len(held) == 3, held
    resumed = client.jobs.get(job.id)
    resumed.wait(timeout=WAIT_TIMEOUT)
    own = [img.file_path for img in resumed.images]
    assert len(own) == len(set(own)) == 3, f"the job's images: {own}"
    client.close()
