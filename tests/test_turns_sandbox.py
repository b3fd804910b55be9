"""Turns on a product against a real sandbox: runs whose images could mix go one after another
and keep exactly their own images; runs that cannot mix go at once; a generate POST answered
500 leaves a ledger job in state ``unknown`` that keeps the product's turn until given up.

What is observable about "in flight":

- The sandbox's ``/_sandbox/jobs`` list has each job's id, target product, state (``queued``,
  ``processing``, ``completed``...) and request, but no timestamps. A thread samples it every
  20 ms while the runs go (``watching``): it shows directly how many of the product's jobs the
  server had in flight at once, but a sample can miss a short overlap.
- So each run's in-flight interval is also measured: from its ledger row's ``submitted_at``
  (written before the POST is sent) to the server's ``generatedAt`` of its last image (the
  sandbox appends the last image and marks the job completed in the same event-loop step).
  Both clocks are this machine's. A run that waited for its turn is written to the ledger
  only after it read the product holding all of the previous run's images, so its start is
  after the previous end (``generatedAt`` is truncated to the millisecond, which only moves an
  end earlier). Disjoint intervals mean the server never ran two of them at once; a moment
  inside all of them means it ran them together.
- The sandbox names each image file after its own job (``files/products/<pid>/<gen id>-NN-
  <type>.jpg``), which gives the ground truth of which server job made which image.
"""

from __future__ import annotations

import asyncio
import functools
import io
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
from PIL import Image
from support import sample, sandbox_jobs, set_faults, short_async_sleep, short_sleep

import ecomviz_nb as ev
from ecomviz_nb.errors import QueueTimeoutError
from ecomviz_nb.sandbox import Settings

JOB_SECONDS = 1.0
"""Each sandbox job takes this long, spread over its images."""
TSHIRT = "products/tshirt-red.jpg"
IN_FLIGHT = ("queued", "processing")
TURN_TIMEOUT = 20
"""queue_timeout of every generate: a run that never gets its turn fails the test quickly."""


@pytest.fixture(scope="module")
def sb() -> Iterator[ev.Sandbox]:
    settings = Settings(image_size=256, render_workers=4)
    with ev.Sandbox(port=0, job_seconds=JOB_SECONDS, settings=settings) as sandbox:
        yield sandbox


@pytest.fixture
def home(tmp_path: Path) -> str:
    """A ledger folder of the test's own (conftest also points ECOMVIZ_HOME at one)."""
    return str(tmp_path / "turns-home")


@pytest.fixture
def faults(sb: ev.Sandbox) -> Iterator[Callable[..., Any]]:
    """Set sandbox fault switches for one test; they are put back afterwards."""
    yield functools.partial(set_faults, sb)
    set_faults(sb, error_rate=0.0, job_seconds=None)


# ---------------------------------------------------------------- helpers


@contextmanager
def watching(sb: ev.Sandbox, product_id: str) -> Iterator[list[frozenset[str]]]:
    """Sample ``/_sandbox/jobs`` every 20 ms; each sample: the product's jobs in flight."""
    samples: list[frozenset[str]] = []
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=sb.url, timeout=10) as http:
            while not stop.is_set():
                jobs = http.get("/_sandbox/jobs").json()["jobs"]
                samples.append(
                    frozenset(
                        j["id"]
                        for j in jobs
                        if j["target"] == product_id and j["state"] in IN_FLIGHT
                    )
                )
                stop.wait(0.02)

    thread = threading.Thread(target=run, name="watch-sandbox-jobs", daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(10)
    assert len(samples) >= 5, "the sandbox's job list was hardly sampled"


def server_job_of(img: ev.GeneratedImage) -> str:
    """The sandbox job that rendered an image (its file is named after that job)."""
    return PurePosixPath(img.file_path).name.rsplit("-", 2)[0]


def pixel_ratio(img: ev.GeneratedImage) -> float:
    response = httpx.get(img.url, timeout=10)
    assert response.status_code == 200, (img.url, response.status_code)
    with Image.open(io.BytesIO(response.content)) as picture:
        width, height = picture.size
    return width / height


def ratio_of(text: str) -> float:
    width, height = text.split(":")
    return int(width) / int(height)


def made_for(sb: ev.Sandbox, product: ev.Product, jobs: list[Any]) -> dict[str, list[Any]]:
    """The ground truth: for each ledger job, the images the sandbox rendered for it.

    A ledger job is matched to the sandbox job with the same ``imageType`` list and platform
    (each test makes these unique), and an image to the sandbox job its file is named after.
    """
    server = {j["id"]: j for j in sandbox_jobs(sb, target=product.id)}
    assert len(server) == len(jobs), sorted(server)
    truth: dict[str, list[Any]] = {}
    for job in jobs:
        wire = job.record.request
        (origin,) = [
            sid
            for sid, s in server.items()
            if s["request"]["imageType"] == wire["imageType"]
            and s["request"]["platform"] == wire["platform"]
        ]
        truth[job.id] = [img for img in product.generated_images if server_job_of(img) == origin]
    return truth


def in_flight(ledger: ev.JobLedger, job_id: str, images: list[Any]) -> tuple[float, float]:
    """From the ledger row's ``submitted_at`` to the ``generatedAt`` of the run's last image."""
    row = ledger.get(job_id)
    assert row is not None
    stamps = [img.generated_at for img in images]
    assert stamps, f"{job_id} has no images"
    assert all(s is not None for s in stamps), "an image has no generatedAt"
    return row.submitted_at, max(s.timestamp() for s in stamps if s is not None)


def assert_own_images(jobs: list[Any], truth: dict[str, list[Any]], asked: list[int]) -> None:
    """Each job ended holding exactly the images the sandbox made for it, as many as it asked."""
    for job, count in zip(jobs, asked, strict=True):
        assert job.state == "completed", job
        made = [img.file_path for img in truth[job.id]]
        assert len(made) == count, (job.id, made)
        claimed = [img.file_path for img in job.images]
        assert claimed == made, (
            f"{job.id} asked for {count} image(s) and claims {len(claimed)}: "
            f"{sorted(set(claimed) - set(made))} were made for other runs"
        )


# ---------------------------------------------------------------- overlapping runs take turns

RATIO_RUNS = [("1:1", 2), ("4:3", 1), ("16:9", 2), ("9:16", 1)]


async def test_four_runs_differing_only_in_aspect_ratio_take_turns_and_keep_their_own_images(
    sb: ev.Sandbox, home: str
) -> None:
    pauses: list[float] = []

    async def pause(seconds: float) -> None:  # for turns and, once submitted, the jobs' polls
        pauses.append(seconds)
        await short_async_sleep(seconds)

    requests = [
        ev.GenerateRequest([ev.ImageSpec("main", count=n, aspect_ratio=r)]) for r, n in RATIO_RUNS
    ]
    async with sb.async_client(home=home, sleep=pause) as aclient:
        product = await aclient.create_product([sample(sb, TSHIRT)])
        with watching(sb, product.id) as samples:
            jobs = await asyncio.gather(
                *(aclient.generate(product.id, req, queue_timeout=TURN_TIMEOUT) for req in requests)
            )
            turn_pauses = list(pauses)
            await asyncio.gather(*(job.wait(timeout=60) for job in jobs))
        final = await aclient.get_product(product.id)
        ledger = aclient.ledger

    assert turn_pauses, "no run waited for its turn"
    truth = made_for(sb, final, list(jobs))
    # The server never had two of them in flight: in submission order, each run was sent
    # only after the previous one's last image had arrived.
    spans = sorted(in_flight(ledger, job.id, truth[job.id]) for job in jobs)
    for (_, earlier_end), (later_start, _) in itertools.pairwise(spans):
        assert later_start >= earlier_end, spans
    assert max(len(s) for s in samples) == 1, [sorted(s) for s in samples if len(s) > 1]
    assert len(set().union(*samples)) == len(jobs), "the watcher did not see every run"
    assert {r.state for r in ledger.list()} == {"completed"}
    for job, (ratio, _) in zip(jobs, RATIO_RUNS, strict=True):
        for img in truth[job.id]:
            assert img.image_type == "main"
            assert pixel_ratio(img) == pytest.approx(ratio_of(ratio), abs=0.01), (ratio, img.url)
    # Each job, waited on once all runs were submitted, holds exactly its own images.
    assert_own_images(list(jobs), truth, [n for _, n in RATIO_RUNS])


async def test_runs_differing_in_platform_are_in_flight_together(sb: ev.Sandbox, home: str) -> None:
    platforms = ["amazon", "shopify", "ebay"]
    pauses: list[float] = []

    async def pause(seconds: float) -> None:  # for turns and, once submitted, the jobs' polls
        pauses.append(seconds)
        await short_async_sleep(seconds)

    async with sb.async_client(home=home, sleep=pause) as aclient:
        product = await aclient.create_product([sample(sb, TSHIRT)])
        with watching(sb, product.id) as samples:
            jobs = await asyncio.gather(
                *(
                    aclient.generate(
                        product.id,
                        ev.GenerateRequest([ev.ImageSpec("main", count=2)], platform=platform),
                        queue_timeout=TURN_TIMEOUT,
                    )
                    for platform in platforms
                )
            )
            turn_pauses = list(pauses)
            await asyncio.gather(*(job.wait(timeout=60) for job in jobs))
        final = await aclient.get_product(product.id)
        ledger = aclient.ledger

    assert turn_pauses == [], "a run waited although no other run could take its images"
    truth = made_for(sb, final, list(jobs))
    assert_own_images(list(jobs), truth, [2, 2, 2])
    for job, platform in zip(jobs, platforms, strict=True):
        assert {img.platform for img in job.images} == {platform}
    spans = [in_flight(ledger, job.id, truth[job.id]) for job in jobs]
    latest_start = max(start for start, _ in spans)
    earliest_end = min(end for _, end in spans)
    assert latest_start < earliest_end, spans  # one moment when all three were in flight
    assert max(len(s) for s in samples) == len(platforms)


def test_sync_generate_waits_for_the_overlapping_run_in_flight_then_submits(
    sb: ev.Sandbox, home: str
) -> None:
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # for turns and, once submitted, the jobs' polls
        pauses.append(seconds)
        short_sleep(seconds)

    with sb.client(home=home, sleep=pause) as client:
        product = client.create_product([sample(sb, TSHIRT)])
        first = client.generate(
            product.id, ev.GenerateRequest([ev.ImageSpec("main", count=2)]), queue_timeout=0
        )
        assert pauses == []
        second = client.generate(
            product.id,
            ev.GenerateRequest([ev.ImageSpec("main", count=1, aspect_ratio="16:9")]),
            queue_timeout=TURN_TIMEOUT,
        )
        assert pauses, "the second run was sent without waiting for its turn"
        # Nobody waited on the first job: the scheduler saw all its images and closed it.
        closed = client.ledger.get(first.id)
        assert closed is not None
        assert (closed.state, closed.done) == ("completed", 2)

        final = second.wait(timeout=30)
        ledger = client.ledger

    truth = made_for(sb, final, [first, second])
    # The second run's baseline is the product as it took its turn: the first run's images.
    assert sorted(second.record.baseline) == sorted(i.file_path for i in truth[first.id])
    assert_own_images([second], truth, [1])
    assert pixel_ratio(second.images[0]) == pytest.approx(16 / 9, abs=0.01)
    _, first_end = in_flight(ledger, first.id, truth[first.id])
    second_start, _ = in_flight(ledger, second.id, truth[second.id])
    assert second_start >= first_end


def test_earlier_run_waited_on_after_a_later_overlapping_run_keeps_only_its_own_images(
    sb: ev.Sandbox, home: str
) -> None:
    # The turn order keeps the runs apart on the server; the earlier job must then not count
    # the later run's images (same platform, region and type, new since its own baseline).
    with sb.client(home=home, sleep=short_sleep) as client:
        product = client.create_product([sample(sb, TSHIRT)])
        first = client.generate(
            product.id, ev.GenerateRequest([ev.ImageSpec("main", count=2)]), queue_timeout=0
        )
        second = client.generate(
            product.id,
            ev.GenerateRequest([ev.ImageSpec("main", aspect_ratio="4:3")]),
            queue_timeout=TURN_TIMEOUT,
        )
        second.wait(timeout=30)
        final = first.wait(timeout=30)
        again = client.jobs.get(first.id)
        # jobs from the ledger get the client's sleep once Jobs passes it
        again._sleep = short_sleep
        again.wait(timeout=30)

    truth = made_for(sb, final, [first, second])
    assert_own_images([first, second], truth, [2, 1])
    assert [img.file_path for img in again.images] == [i.file_path for i in truth[first.id]]
    row = client.ledger.get(first.id)
    assert row is not None
    assert row.done == 2


def test_overlapping_run_is_not_sent_while_another_is_in_flight(
    sb: ev.Sandbox, home: str, faults: Callable[..., Any]
) -> None:
    faults(job_seconds=4)  # the first run must still be in flight after the checks below
    posts: list[str] = []

    def count_posts(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/generate"):
            posts.append(request.url.path)

    with httpx.Client(event_hooks={"request": [count_posts]}) as http:
        client = sb.client(http_client=http, home=home)
        product = client.create_product([sample(sb, TSHIRT)])
        first = client.generate(
            product.id, ev.GenerateRequest([ev.ImageSpec("main", count=2)]), queue_timeout=0
        )
        overlapping = ev.GenerateRequest([ev.ImageSpec("main", aspect_ratio="4:3")])

        assert client.try_generate(client.get_product(product.id), overlapping) is None
        started = time.monotonic()
        with pytest.raises(QueueTimeoutError) as caught:
            client.generate(product.id, overlapping, queue_timeout=0.3)
        waited = time.monotonic() - started
        assert len(posts) == 1, posts

        other = client.try_generate(
            client.get_product(product.id),
            ev.GenerateRequest([ev.ImageSpec("main")], platform="amazon"),
        )
        assert isinstance(other, ev.GenerationJob)
        assert len(posts) == 2
        rows = {r.id: r.state for r in client.ledger.list()}

    assert caught.value.blockers == [first.id]
    assert first.id in str(caught.value)
    assert 0.3 <= waited < 3.0
    assert rows == {first.id: "submitted", other.id: "submitted"}
    assert len(sandbox_jobs(sb, target=product.id)) == 2


# ---------------------------------------------------------------- a 500 on the generate POST


def test_generate_answered_500_raises_server_error_with_its_unknown_ledger_job(
    sb: ev.Sandbox, home: str, faults: Callable[..., Any]
) -> None:
    posts: list[str] = []

    def fail_this_post(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/generate"):
            posts.append(request.url.path)
            if len(posts) == 1:
                faults(error_rate=1.0)

    def restore(response: httpx.Response) -> None:
        if response.request.method == "POST":
            faults(error_rate=0.0)

    request = ev.GenerateRequest([ev.ImageSpec("main", count=2)])
    hooks = {"request": [fail_this_post], "response": [restore]}
    with httpx.Client(event_hooks=hooks) as http:
        client = sb.client(http_client=http, home=home, max_retries=2, sleep=short_sleep)
        product = client.create_product([sample(sb, TSHIRT)])
        with pytest.raises(ev.ServerError) as caught:
            client.generate(product.id, request, queue_timeout=0)
        err = caught.value
        assert len(posts) == 1, "a POST that may have started paid work was sent again"

        assert err.status_code == 500
        assert "injected" in err.message
        assert isinstance(err.job, ev.GenerationJob)
        assert err.job.state == "unknown"
        assert err.job.product_id == product.id
        assert err.job.expected == 2
        assert "state 'unknown'" in str(err)
        assert err.job.id in str(err)
        found = client.jobs.get(err.job.id)
        assert isinstance(found, ev.GenerationJob)
        assert (found.id, found.state, found.record.remote_id) == (
            err.job.id,
            "unknown",
            product.id,
        )
        assert found.record.request == request.to_wire()
        assert found.record.message is not None
        assert "500" in found.record.message

        # The sandbox answers an injected 500 before the route runs: no job was started.
        assert sandbox_jobs(sb, target=product.id) == []
        assert client.get_product(product.id).generated_images == []

        # The 'unknown' run keeps the product's turn (it may be running): an overlapping
        # retry is not sent, while a run that cannot mix with it goes.
        with pytest.raises(QueueTimeoutError) as blocked:
            client.generate(product.id, request, queue_timeout=0)
        assert blocked.value.blockers == [err.job.id]
        assert len(posts) == 1
        detail = client.generate(
            product.id, ev.GenerateRequest([ev.ImageSpec("detail")]), queue_timeout=0
        )
        assert len(posts) == 2
        # Giving the unknown job up releases the turn: the retry is sent.
        err.job.give_up("the sandbox started no job")
        retry = client.generate(product.id, request, queue_timeout=0)
        assert len(posts) == 3
        detail.wait(timeout=30)
        done = retry.wait(timeout=30)
        given_up = client.ledger.get(err.job.id)

    assert given_up is not None
    assert given_up.state == "failed"
    truth = made_for(sb, done, [detail, retry])
    assert_own_images([detail, retry], truth, [1, 2])
    assert [img.image_type for img in detail.images] == ["detail"]
