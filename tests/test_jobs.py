"""Jobs: the polling schedule, waiting (sync and async), progress events, timeouts and resuming.

Jobs are built straight from ledger rows and tiny fake sources: no HTTP, no real sleeping. A fake
clock advances only when the job calls the fake sleep, so deadlines are tested exactly.
"""

from __future__ import annotations

import dataclasses
import inspect
import sqlite3
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import ecomviz_nb as ev
from ecomviz_nb import generation_job, job_base, polling, tryon_job, webhook_listeners
from ecomviz_nb import jobs as jobs_module
from ecomviz_nb.jobs import AsyncJobs, Jobs
from ecomviz_nb.ledger import JobLedger, JobRecord

BASE_URL = "https://api.test"
BASELINE = ["old/1.jpg", "old/2.jpg"]

GENERATE_REQUEST = ev.GenerateRequest(
    image_types=[
        ev.ImageSpec("main", count=2, aspect_ratio="1:1"),
        ev.ImageSpec("vto", colors=["red"]),
    ],
    region="eu",
    platform="amazon",
    webhook=ev.Webhook("https://hooks.test/done", token="whsec-1"),
)
TRY_ON_REQUEST = ev.TryOnRequest(
    person_image_url="https://img.test/person.jpg",
    clothing=[ev.Clothing("https://img.test/shirt.jpg", info="price US9.9")],
    height=170,
    weight=60,
    aspect_ratio="3:2",
    watermark=False,
)


# ---------------------------------------------------------------- fakes


class FakeTime:
    """A clock that only moves when the job sleeps; every sleep is recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"asked to sleep {seconds} s"
        assert len(self.slept) < 10_000, "still polling after 10,000 sleeps"
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def image(path: str) -> ev.GeneratedImage:
    return ev.GeneratedImage(url=f"{BASE_URL}/{path}", file_path=path)


class ProductFeed:
    """Serves product ``p1``: poll n shows ``counts[n]`` new images (the last count repeats)."""

    def __init__(self, counts: Sequence[int], baseline: Sequence[str] = BASELINE) -> None:
        self.counts = list(counts)
        self.baseline = list(baseline)
        self.polls = 0
        self.fail_with: Exception | None = None

    def _next(self, product_id: str) -> ev.Product:
        assert product_id == "p1"
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        count = self.counts[min(self.polls, len(self.counts) - 1)]
        self.polls += 1
        new = [f"gen/{i}.jpg" for i in range(count)]
        # Old and new images interleaved: the job must tell them apart by filePath, not order.
        paths = [*new[:1], *self.baseline, *new[1:]]
        return ev.Product(id=product_id, generated_images=[image(p) for p in paths])


class SyncProductFeed(ProductFeed):
    def get_product(self, product_id: str) -> ev.Product:
        return self._next(product_id)


class AsyncProductFeed(ProductFeed):
    async def get_product(self, product_id: str) -> ev.Product:
        return self._next(product_id)


class TryOnFeed:
    """Serves try-on ``vto1``: poll n shows ``statuses[n]`` (the last status repeats)."""

    def __init__(self, statuses: Sequence[str]) -> None:
        self.statuses = list(statuses)
        self.polls = 0
        self.fail_with: Exception | None = None

    def _next(self, vto_id: str) -> ev.TryOnResult:
        assert vto_id == "vto1"
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        status = self.statuses[min(self.polls, len(self.statuses) - 1)]
        self.polls += 1
        images = [image("vto/vto1.jpg")] if status == "completed" else []
        return ev.TryOnResult(id=vto_id, status=status, images=images)


class SyncTryOnFeed(TryOnFeed):
    def get_try_on(self, vto_id: str) -> ev.TryOnResult:
        return self._next(vto_id)


class AsyncTryOnFeed(TryOnFeed):
    async def get_try_on(self, vto_id: str) -> ev.TryOnResult:
        return self._next(vto_id)


class ConfiguredSource:
    """A feed that also says what its jobs are built with, as a client does."""

    def __init__(self, feed: ProductFeed, options: dict[str, Any]) -> None:
        self.feed = feed
        self.options = options

    def __getattr__(self, name: str) -> Any:
        return getattr(self.feed, name)  # get_product, sync or async as the feed has it

    def _job_options(self) -> dict[str, Any]:
        return self.options


def submitted(ledger: JobLedger, kind: str, **fields: Any) -> JobRecord:
    """A ledger row as the client leaves it after a successful submission."""
    if kind == "generate":
        defaults: dict[str, Any] = {
            "request": GENERATE_REQUEST.to_wire(),
            "expected": GENERATE_REQUEST.expected_images,
            "remote_id": "p1",
            "baseline": BASELINE,
        }
    else:
        defaults = {"request": TRY_ON_REQUEST.to_wire(), "expected": 1, "remote_id": "vto1"}
    defaults.update(fields)
    base_url = defaults.pop("base_url", BASE_URL)
    record = ledger.add(kind=kind, base_url=base_url, **defaults)
    ledger.update(record.id, state="submitted")
    fresh = ledger.get(record.id)
    assert fresh is not None
    return fresh


@dataclasses.dataclass
class Harness:
    """Builds sync or async jobs over fake sources and a fake clock; ``wait`` runs either."""

    is_async: bool
    ledger: JobLedger
    time: FakeTime

    def generation(
        self, counts: Sequence[int], **fields: Any
    ) -> tuple[ev.GenerationJob | ev.AsyncGenerationJob, ProductFeed]:
        record = submitted(self.ledger, "generate", **fields)
        record.submitted_at = self.time.now  # submitted just now, on the fake clock
        source: ProductFeed = AsyncProductFeed(counts) if self.is_async else SyncProductFeed(counts)
        cls = ev.AsyncGenerationJob if self.is_async else ev.GenerationJob
        return cls(record, source, **self._job_options()), source

    def try_on(self, statuses: Sequence[str]) -> tuple[ev.TryOnJob | ev.AsyncTryOnJob, TryOnFeed]:
        record = submitted(self.ledger, "tryon")
        record.submitted_at = self.time.now
        source: TryOnFeed = AsyncTryOnFeed(statuses) if self.is_async else SyncTryOnFeed(statuses)
        cls = ev.AsyncTryOnJob if self.is_async else ev.TryOnJob
        return cls(record, source, **self._job_options()), source

    def _job_options(self) -> dict[str, Any]:
        sleep = self.time.async_sleep if self.is_async else self.time.sleep
        return {
            "ledger": self.ledger,
            "clock": self.time.clock,
            "sleep": sleep,
            "rand": lambda: 0.5,
        }

    async def wait(self, job: Any, **kwargs: Any) -> Any:
        result = job.wait(**kwargs)
        assert inspect.isawaitable(result) == self.is_async
        if inspect.isawaitable(result):
            result = await result
        return result

    def row(self, job: Any) -> JobRecord:
        record = self.ledger.get(job.id)
        assert record is not None
        return record


@pytest.fixture
def ledger(tmp_path: Path) -> JobLedger:
    return JobLedger(tmp_path / "jobs.sqlite3")


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def harness(request: pytest.FixtureRequest, ledger: JobLedger) -> Harness:
    return Harness(is_async=request.param, ledger=ledger, time=FakeTime())


# ---------------------------------------------------------------- poll_delay


def test_poll_delay_starts_at_two_seconds() -> None:
    assert ev.poll_delay(0.0, 0.5) == pytest.approx(2.0)
    assert ev.poll_delay(0.0) == pytest.approx(2.0)


def test_poll_delay_grows_with_the_jobs_age_until_the_cap() -> None:
    delays = [ev.poll_delay(float(t), 0.5) for t in range(0, 600, 5)]
    assert all(later >= earlier for earlier, later in pairwise(delays))
    below_cap = [d for d in delays if d < 10.0 - 1e-9]
    assert len(below_cap) > 5
    assert all(b > a for a, b in pairwise(below_cap))
    assert ev.poll_delay(30.0, 0.5) == pytest.approx(2.9)


@pytest.mark.parametrize("elapsed", [267.0, 300.0, 1_000.0, 10**9, float("inf")])
def test_poll_delay_is_capped_at_ten_seconds(elapsed: float) -> None:
    assert ev.poll_delay(elapsed, 0.5) == pytest.approx(10.0)
    for rand in (0.0, 0.5, 0.999):
        assert 10.0 * 0.95 - 1e-9 <= ev.poll_delay(elapsed, rand) <= 10.0 * 1.05


def test_poll_delay_never_exceeds_maximum_plus_jitter() -> None:
    for elapsed in range(0, 4000, 7):
        for rand in (0.0, 0.25, 0.5, 0.75, 0.999999):
            assert ev.poll_delay(float(elapsed), rand, maximum=5.0, jitter=0.2) <= 5.0 * 1.2


def test_poll_delay_jitter_spreads_five_percent_either_way() -> None:
    assert ev.poll_delay(0.0, 0.0) == pytest.approx(1.9)
    assert 2.09 < ev.poll_delay(0.0, 0.999) < 2.1
    assert ev.poll_delay(10_000.0, 0.0) == pytest.approx(9.5)
    assert 10.49 < ev.poll_delay(10_000.0, 0.999) < 10.5
    assert ev.poll_delay(3.0, 0.25) < ev.poll_delay(3.0, 0.5) < ev.poll_delay(3.0, 0.75)


@pytest.mark.parametrize(
    ("elapsed", "rand"), [(-1.0, 0.5), (float("nan"), 0.5), (0.0, 1.0), (0.0, -0.01), (0.0, 1.5)]
)
def test_poll_delay_rejects_bad_elapsed_or_rand(elapsed: float, rand: float) -> None:
    with pytest.raises(ValueError):
        ev.poll_delay(elapsed, rand)


def test_a_thirty_second_job_takes_at_most_fifteen_polls_and_is_seen_within_three() -> None:
    for rand in (0.0, 0.5, 0.999):
        t, polls = 0.0, 1  # wait() polls once at once
        while t < 30.0:
            t += ev.poll_delay(t, rand)
            polls += 1
        assert polls <= 15
        assert t - 30.0 <= 3.0
    # Still polling reasonably often at the start: not a handful of long sleeps.
    assert polls >= 8


# ---------------------------------------------------------------- generation: finishing


async def test_generation_wait_returns_product_once_expected_images_arrived(
    harness: Harness,
) -> None:
    job, source = harness.generation([0, 1, 3])
    product = await harness.wait(job, timeout=600)
    assert isinstance(product, ev.Product)
    assert product.id == "p1"
    assert len(product.generated_images) == len(BASELINE) + 3
    assert source.polls == 3
    assert [img.file_path for img in job.images] == ["gen/0.jpg", "gen/1.jpg", "gen/2.jpg"]
    assert harness.time.slept == pytest.approx([2.0, 2.06])


async def test_generation_images_exclude_what_the_product_held_before(harness: Harness) -> None:
    job, _ = harness.generation([2], expected=2)
    await harness.wait(job, timeout=60)
    paths = [img.file_path for img in job.images]
    assert paths == ["gen/0.jpg", "gen/1.jpg"]
    assert not set(paths) & set(BASELINE)
    assert all(img.url.startswith(BASE_URL) for img in job.images)


async def test_generation_progress_events_count_new_images(harness: Harness) -> None:
    job, _ = harness.generation([0, 1, 3])
    events: list[ev.ProgressEvent] = []
    await harness.wait(job, timeout=600, on_progress=events.append)
    assert [e.done for e in events] == [0, 1, 3]
    assert [e.expected for e in events] == [3, 3, 3]
    assert [e.status for e in events] == ["submitted", "generating", "completed"]
    assert all(e.job_id == job.id for e in events)
    assert all(e.elapsed >= 0 for e in events)
    assert [e.fraction for e in events] == pytest.approx([0.0, 1 / 3, 1.0])
    assert [len(e.images) for e in events] == [0, 1, 3]


async def test_generation_completion_is_written_to_the_ledger(harness: Harness) -> None:
    job, _ = harness.generation([0, 1, 3])
    await harness.wait(job, timeout=600)
    row = harness.row(job)
    assert (row.state, row.done, row.status) == ("completed", 3, "completed")
    assert job.state == "completed"


async def test_generation_already_complete_returns_after_one_poll_without_sleeping(
    harness: Harness,
) -> None:
    job, source = harness.generation([5])
    await harness.wait(job, timeout=600)
    assert source.polls == 1
    assert harness.time.slept == []
    # Five new images, three expected: the first three are the job's own; any after them
    # belong to a later run that its images could not be told apart from.
    assert [img.file_path for img in job.images] == ["gen/0.jpg", "gen/1.jpg", "gen/2.jpg"]


# ---------------------------------------------------------------- generation: deadlines


async def test_generation_timeout_raises_with_partial_images(harness: Harness) -> None:
    job, _ = harness.generation([0, 1, 2])
    with pytest.raises(ev.JobTimeoutError) as caught:
        await harness.wait(job, timeout=30)
    exc = caught.value
    assert isinstance(exc, TimeoutError)
    assert isinstance(exc, ev.EcomVizError)
    assert exc.job is job
    assert [img.file_path for img in exc.images] == ["gen/0.jpg", "gen/1.jpg"]
    assert job.id in str(exc)
    assert str(exc).startswith("generation job ")  # the kind in words, not its code


async def test_generation_timeout_never_sleeps_past_the_deadline(harness: Harness) -> None:
    job, source = harness.generation([0])
    start = harness.time.now
    with pytest.raises(ev.JobTimeoutError):
        await harness.wait(job, timeout=5)
    assert sum(harness.time.slept) <= 5 + 1e-9
    assert harness.time.now - start <= 5 + 1e-9
    # The schedule with rand 0.5: polls at 0, 2, 4.06 s, then a last one at the deadline.
    assert harness.time.slept == pytest.approx([2.0, 2.06, 0.94])
    assert source.polls == 4


async def test_generation_timeout_polls_match_the_backoff_schedule(harness: Harness) -> None:
    timeout = 120.0
    job, source = harness.generation([1])
    with pytest.raises(ev.JobTimeoutError):
        await harness.wait(job, timeout=timeout)
    # Independently: sleep poll_delay(age) while it fits, then once more up to the deadline.
    expected_sleeps: list[float] = []
    while sum(expected_sleeps) + ev.poll_delay(sum(expected_sleeps)) < timeout:
        expected_sleeps.append(ev.poll_delay(sum(expected_sleeps)))
    expected_sleeps.append(timeout - sum(expected_sleeps))
    assert harness.time.slept == pytest.approx(expected_sleeps)
    assert source.polls == len(expected_sleeps) + 1
    assert sum(harness.time.slept) <= timeout + 1e-9


async def test_generation_timeout_keeps_the_ledger_row_resumable(harness: Harness) -> None:
    job, _ = harness.generation([0, 2])
    with pytest.raises(ev.JobTimeoutError):
        await harness.wait(job, timeout=10)
    row = harness.row(job)
    assert row.state == "submitted"
    assert row.done == 2
    assert job.state == "submitted"


async def test_generation_zero_timeout_polls_exactly_once(harness: Harness) -> None:
    job, source = harness.generation([1])
    events: list[ev.ProgressEvent] = []
    with pytest.raises(ev.JobTimeoutError) as caught:
        await harness.wait(job, timeout=0, on_progress=events.append)
    assert source.polls == 1
    assert harness.time.slept == []
    assert len(events) == 1
    assert len(caught.value.images) == 1


async def test_generation_zero_timeout_returns_when_already_complete(harness: Harness) -> None:
    job, source = harness.generation([3])
    product = await harness.wait(job, timeout=0)
    assert product.id == "p1"
    assert source.polls == 1


async def test_generation_wait_again_after_a_timeout_finishes(harness: Harness) -> None:
    job, source = harness.generation([0, 0, 1, 1, 1, 3])
    with pytest.raises(ev.JobTimeoutError):
        await harness.wait(job, timeout=3)  # polls at 0, 2 and 3 s
    assert source.polls == 3
    product = await harness.wait(job, timeout=600)
    assert product.id == "p1"
    assert len(job.images) == 3
    assert harness.row(job).state == "completed"


# ---------------------------------------------------------------- source errors


async def test_generation_wait_polls_through_a_503_and_finishes(harness: Harness) -> None:
    job, source = harness.generation([0, 3])
    source.fail_with = ev.ServerError(503, "busy", method="GET", path="/api/products/p1")
    events: list[ev.ProgressEvent] = []
    product = await harness.wait(job, timeout=600, on_progress=events.append)
    assert product.id == "p1"
    assert events[0].status == "retrying after 503 (1st time)"
    assert [e.status for e in events[1:]] == ["submitted", "completed"]
    assert harness.row(job).state == "completed"


async def test_generation_not_found_ends_the_wait_at_once(harness: Harness) -> None:
    job, source = harness.generation([0, 3])
    source.fail_with = ev.NotFoundError(404, "no such product", path="/api/products/p1")
    with pytest.raises(ev.NotFoundError):
        await harness.wait(job, timeout=600)
    assert harness.time.slept == []
    assert harness.row(job).state == "submitted"
    product = await harness.wait(job, timeout=600)  # the job can still be waited on
    assert product.id == "p1"


@pytest.mark.parametrize(
    "error",
    [
        ev.AuthenticationError(401, "bad token"),
        ev.AuthenticationError(403, "forbidden"),
        ev.APIError(400, "bad request"),
        ev.APIError(422, "unprocessable"),
    ],
    ids=["401", "403", "400", "422"],
)
async def test_generation_errors_that_will_not_pass_are_raised(
    harness: Harness, error: ev.APIError
) -> None:
    job, source = harness.generation([3])
    source.fail_with = error
    with pytest.raises(type(error)):
        await harness.wait(job, timeout=600)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ev.ServerError(500, "boom"), "500"),
        (ev.ServerError(502, "bad gateway"), "502"),
        (ev.APIError(408, "request timeout"), "408"),
        (ev.RateLimitError(429, "slow down", retry_after=None), "429"),
        (ev.APIConnectionError("RemoteProtocolError", maybe_sent=True), "a connection error"),
        (ev.APITimeoutError("ReadTimeout", maybe_sent=True), "a timeout"),
    ],
    ids=["500", "502", "408", "429", "dropped", "timeout"],
)
async def test_generation_errors_that_pass_are_polled_through(
    harness: Harness, error: Exception, reason: str
) -> None:
    job, source = harness.generation([3])
    source.fail_with = error
    events: list[ev.ProgressEvent] = []
    await harness.wait(job, timeout=600, on_progress=events.append)
    assert events[0].status == f"retrying after {reason} (1st time)"
    assert events[-1].status == "completed"


class Outage:
    """Fails every poll between ``start`` and ``end`` (fake-clock seconds after submission)."""

    def __init__(self, feed: ProductFeed, clock: FakeTime, start: float, end: float) -> None:
        self.feed, self.clock = feed, clock
        self.origin = clock.now
        self.start, self.end = start, end
        self.failed = 0

    def check(self) -> None:
        age = self.clock.now - self.origin
        if self.start <= age < self.end:
            self.failed += 1
            raise ev.ServerError(503, "down for maintenance", path="/api/products/p1")


async def test_a_sixty_second_outage_in_a_two_minute_job_ends_with_its_images(
    harness: Harness,
) -> None:
    """Point 1 of the reliability issue: the outage is ridden out and nothing is raised."""
    job, feed = harness.generation([0])
    outage = Outage(feed, harness.time, start=30, end=90)
    ready_at = harness.time.now + 120
    original = feed._next

    def next_product(product_id: str) -> ev.Product:
        outage.check()
        feed.counts = [3 if harness.time.now >= ready_at else 0]
        return original(product_id)

    feed._next = next_product  # type: ignore[method-assign]
    events: list[ev.ProgressEvent] = []
    product = await harness.wait(job, timeout=600, on_progress=events.append)
    assert product.id == "p1"
    assert len(job.images) == 3
    retries = [e.status for e in events if e.status.startswith("retrying")]
    assert outage.failed == len(retries) >= 5
    assert retries[2] == "retrying after 503 (3rd time)"
    assert events[-1].status == "completed"
    # Seen within one capped pause after the job ended.
    assert events[-1].elapsed - 120 <= ev.jobs.POLL_MAXIMUM * 1.05


async def test_polls_failing_at_the_deadline_raise_a_timeout_with_the_last_error(
    harness: Harness,
) -> None:
    job, feed = harness.generation([1])
    original = feed._next
    calls = 0

    def next_product(product_id: str) -> ev.Product:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ev.ServerError(503, "still down", path="/api/products/p1")
        return original(product_id)

    feed._next = next_product  # type: ignore[method-assign]
    with pytest.raises(ev.JobTimeoutError) as caught:
        await harness.wait(job, timeout=60)
    assert isinstance(caught.value.last_error, ev.ServerError)
    assert "still down" in str(caught.value)
    assert len(caught.value.images) == 1
    assert sum(harness.time.slept) == pytest.approx(60)


async def test_retry_pauses_grow_and_honour_retry_after(harness: Harness) -> None:
    job, feed = harness.generation([3])
    original = feed._next
    errors = [
        ev.ServerError(500, "a"),
        ev.ServerError(500, "b"),
        ev.RateLimitError(429, "c", retry_after=30),
    ]

    def next_product(product_id: str) -> ev.Product:
        if errors:
            raise errors.pop(0)
        return original(product_id)

    feed._next = next_product  # type: ignore[method-assign]
    await harness.wait(job, timeout=600)
    first, second, third = harness.time.slept
    assert first == pytest.approx(ev.poll_delay(0))
    assert second > first
    assert third == pytest.approx(30)


def test_retry_pause_is_capped_and_refuses_zero_failures() -> None:
    assert ev.jobs.retry_pause(50, 0) <= ev.jobs.POLL_MAXIMUM * 1.05
    assert ev.jobs.retry_pause(1, 0, retry_after=45) == 45
    with pytest.raises(ValueError):
        ev.jobs.retry_pause(0, 0)


async def test_try_on_source_error_propagates_and_job_can_wait_again(harness: Harness) -> None:
    job, source = harness.try_on(["processing", "completed"])
    source.fail_with = ev.NotFoundError(404, "no such try-on")
    with pytest.raises(ev.NotFoundError):
        await harness.wait(job, timeout=600)
    result = await harness.wait(job, timeout=600)
    assert result.status == "completed"


async def test_try_on_wait_polls_through_a_dropped_connection(harness: Harness) -> None:
    job, source = harness.try_on(["processing", "completed"])
    source.fail_with = ev.APIConnectionError("RemoteProtocolError", maybe_sent=True)
    events: list[ev.ProgressEvent] = []
    result = await harness.wait(job, timeout=600, on_progress=events.append)
    assert result.status == "completed"
    assert events[0].status == "retrying after a connection error (1st time)"


# ---------------------------------------------------------------- try-on


async def test_try_on_wait_returns_the_completed_result(harness: Harness) -> None:
    job, source = harness.try_on(["queued", "processing", "completed"])
    events: list[ev.ProgressEvent] = []
    result = await harness.wait(job, timeout=600, on_progress=events.append)
    assert isinstance(result, ev.TryOnResult)
    assert result.status == "completed"
    assert [img.file_path for img in result.images] == ["vto/vto1.jpg"]
    assert job.images == result.images
    assert job.result is result
    assert source.polls == 3
    assert [e.status for e in events] == ["queued", "processing", "completed"]
    assert events[-1].done == 1
    assert events[-1].fraction == 1.0
    assert [e.fraction for e in events[:-1]] == [0.0, 0.0]
    row = harness.row(job)
    assert (row.state, row.status, row.done) == ("completed", "completed", 1)


async def test_try_on_unknown_status_is_reported_verbatim_and_waited_on(harness: Harness) -> None:
    job, source = harness.try_on(["queued", "Rendering step 2/3", "completed"])
    events: list[ev.ProgressEvent] = []
    seen_in_ledger: list[str | None] = []

    def record(event: ev.ProgressEvent) -> None:
        events.append(event)
        seen_in_ledger.append(harness.row(job).status)

    result = await harness.wait(job, timeout=600, on_progress=record)
    assert result.status == "completed"
    assert [e.status for e in events] == ["queued", "Rendering step 2/3", "completed"]
    assert seen_in_ledger == ["queued", "Rendering step 2/3", "completed"]
    assert source.polls == 3


@pytest.mark.parametrize("status", ["failed", "error", "canceled"])
async def test_try_on_failure_status_raises_job_failed_error(harness: Harness, status: str) -> None:
    job, source = harness.try_on(["queued", status, "completed"])
    events: list[ev.ProgressEvent] = []
    with pytest.raises(ev.JobFailedError) as caught:
        await harness.wait(job, timeout=600, on_progress=events.append)
    exc = caught.value
    assert exc.status == status
    assert exc.job is job
    assert isinstance(exc, ev.JobError)
    assert not isinstance(exc, TimeoutError)
    assert status in str(exc)
    assert [e.status for e in events] == ["queued", status]
    assert source.polls == 2  # a terminal status is not polled again
    row = harness.row(job)
    assert (row.state, row.status) == ("failed", status)
    assert job.state == "failed"


async def test_try_on_stuck_processing_times_out(harness: Harness) -> None:
    job, source = harness.try_on(["queued", "processing"])
    events: list[ev.ProgressEvent] = []
    with pytest.raises(ev.JobTimeoutError) as caught:
        await harness.wait(job, timeout=20, on_progress=events.append)
    exc = caught.value
    assert exc.job is job
    assert exc.images == []
    assert job.id in str(exc)
    assert sum(harness.time.slept) <= 20 + 1e-9
    assert source.polls == len(harness.time.slept) + 1
    assert {e.status for e in events[1:]} == {"processing"}
    assert harness.row(job).state == "submitted"


# ---------------------------------------------------------------- print_progress


def test_print_progress_writes_count_and_status(capsys: pytest.CaptureFixture[str]) -> None:
    ev.print_progress(ev.ProgressEvent("job_abc", 2, 5, "generating", 3.0))
    out = capsys.readouterr().out
    assert "2/5" in out
    assert "generating" in out
    assert "job_abc" in out
    assert not out.endswith("\n")


def test_print_progress_ends_the_line_when_completed(capsys: pytest.CaptureFixture[str]) -> None:
    ev.print_progress(ev.ProgressEvent("job_abc", 5, 5, "completed", 12.0))
    out = capsys.readouterr().out
    assert "5/5" in out
    assert "completed" in out
    assert out.endswith("\n")


async def test_print_progress_works_as_a_wait_callback(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    job, _ = harness.generation([0, 3])
    await harness.wait(job, timeout=60, on_progress=ev.print_progress)
    out = capsys.readouterr().out
    assert "0/3 submitted" in out
    assert "3/3 completed" in out


# ---------------------------------------------------------------- client.jobs: resuming


def test_jobs_list_is_newest_first_for_this_server_only(ledger: JobLedger) -> None:
    first = submitted(ledger, "generate")
    elsewhere = submitted(ledger, "generate", base_url="https://other.test")
    second = submitted(ledger, "tryon")
    third = submitted(ledger, "generate", remote_id="p2")
    jobs = Jobs(ledger, SyncProductFeed([0]), BASE_URL)
    listed = jobs.list()
    assert [job.id for job in listed] == [third.id, second.id, first.id]
    assert elsewhere.id not in {job.id for job in jobs.list()}
    assert [job.id for job in jobs.list(limit=2)] == [third.id, second.id]


def test_jobs_list_all_servers_includes_other_base_urls(ledger: JobLedger) -> None:
    mine = submitted(ledger, "generate")
    other = submitted(ledger, "tryon", base_url="http://127.0.0.1:5123")
    jobs = Jobs(ledger, SyncProductFeed([0]), BASE_URL)
    assert [job.id for job in jobs.list(all_servers=True)] == [other.id, mine.id]
    assert Jobs(ledger, None, "https://nobody.test").list() == []


def test_jobs_get_finds_by_ledger_id_and_remote_id(ledger: JobLedger) -> None:
    gen = submitted(ledger, "generate")
    vto = submitted(ledger, "tryon")
    jobs = Jobs(ledger, SyncProductFeed([0]), BASE_URL)
    assert jobs.get(gen.id).id == gen.id
    assert jobs.get(vto.id).id == vto.id
    assert jobs.get("p1").id == gen.id
    assert jobs.get("vto1").id == vto.id


def test_jobs_get_by_remote_id_returns_the_newest_job(ledger: JobLedger) -> None:
    submitted(ledger, "generate")
    newer = submitted(ledger, "generate", baseline=[*BASELINE, "gen/0.jpg"])
    assert Jobs(ledger, None, BASE_URL).get("p1").id == newer.id


def test_jobs_get_by_remote_id_prefers_this_servers_job(ledger: JobLedger) -> None:
    # The same product id on another server (an old sandbox) submitted later must not be
    # polled against this client's server.
    mine = submitted(ledger, "generate")
    submitted(ledger, "generate", base_url="https://other.test")
    job = Jobs(ledger, None, BASE_URL).get("p1")
    assert job.record.base_url == BASE_URL
    assert job.id == mine.id


@pytest.mark.parametrize("jobs_cls", [Jobs, AsyncJobs])
def test_jobs_get_unknown_id_raises_key_error(ledger: JobLedger, jobs_cls: type) -> None:
    submitted(ledger, "generate")
    with pytest.raises(KeyError, match="job_nope"):
        jobs_cls(ledger, None, BASE_URL).get("job_nope")


def test_jobs_returns_sync_job_classes(ledger: JobLedger) -> None:
    gen = submitted(ledger, "generate")
    vto = submitted(ledger, "tryon")
    jobs = Jobs(ledger, None, BASE_URL)
    assert type(jobs.get(gen.id)) is ev.GenerationJob
    assert type(jobs.get(vto.id)) is ev.TryOnJob
    assert [type(j) for j in jobs.list()] == [ev.TryOnJob, ev.GenerationJob]


def test_async_jobs_returns_async_job_classes(ledger: JobLedger) -> None:
    gen = submitted(ledger, "generate")
    vto = submitted(ledger, "tryon")
    jobs = AsyncJobs(ledger, None, BASE_URL)
    assert type(jobs.get(gen.id)) is ev.AsyncGenerationJob
    assert type(jobs.get(vto.id)) is ev.AsyncTryOnJob
    assert [type(j) for j in jobs.list()] == [ev.AsyncTryOnJob, ev.AsyncGenerationJob]


async def test_a_job_from_the_ledger_waits_with_its_sources_sleep_and_jitter(
    harness: Harness,
) -> None:
    record = submitted(harness.ledger, "generate")
    feed = AsyncProductFeed([0, 1, 3]) if harness.is_async else SyncProductFeed([0, 1, 3])
    draws: list[float] = []

    def rand() -> float:
        draws.append(0.25)
        return 0.25

    sleep = harness.time.async_sleep if harness.is_async else harness.time.sleep
    source = ConfiguredSource(feed, {"ledger": harness.ledger, "sleep": sleep, "rand": rand})
    jobs = (AsyncJobs if harness.is_async else Jobs)(harness.ledger, source, BASE_URL)

    job = jobs.get(record.id)
    await harness.wait(job, timeout=None)

    assert feed.polls == 3
    assert len(harness.time.slept) == 2  # the source's sleep between the polls, not time.sleep
    assert len(draws) == 2  # and its jitter, once per pause
    assert harness.row(job).state == "completed"


@pytest.mark.parametrize("jobs_cls", [Jobs, AsyncJobs])
async def test_a_job_from_the_ledger_of_a_plain_source_records_into_that_ledger(
    ledger: JobLedger, jobs_cls: type
) -> None:
    record = submitted(ledger, "generate")
    feed = AsyncProductFeed([3]) if jobs_cls is AsyncJobs else SyncProductFeed([3])
    job = jobs_cls(ledger, feed, BASE_URL).get(record.id)

    result = job.wait(timeout=None)  # done at the first poll: nothing to sleep
    if inspect.isawaitable(result):
        await result

    row = ledger.get(record.id)
    assert row is not None and row.state == "completed" and row.done == 3


@pytest.mark.parametrize("jobs_cls", [Jobs, AsyncJobs])
def test_resumed_jobs_rebuild_their_requests_without_the_webhook_token(
    ledger: JobLedger, jobs_cls: type
) -> None:
    gen = submitted(ledger, "generate")
    vto = submitted(ledger, "tryon")
    jobs = jobs_cls(ledger, None, BASE_URL)
    rebuilt = jobs.get(gen.id).request
    assert isinstance(rebuilt, ev.GenerateRequest)
    assert rebuilt == dataclasses.replace(
        GENERATE_REQUEST, webhook=ev.Webhook("https://hooks.test/done")
    )
    assert rebuilt.expected_images == 3
    assert jobs.get(vto.id).request == TRY_ON_REQUEST


def test_resumed_generation_job_waits_and_updates_the_ledger(ledger: JobLedger) -> None:
    record = submitted(ledger, "generate")
    job = Jobs(ledger, SyncProductFeed([3]), BASE_URL).get(record.id)
    product = job.wait(timeout=5)
    assert product.id == "p1"
    assert job.product_id == "p1"
    assert [img.file_path for img in job.images] == ["gen/0.jpg", "gen/1.jpg", "gen/2.jpg"]
    row = ledger.get(record.id)
    assert row is not None
    assert (row.state, row.done) == ("completed", 3)


def test_resumed_try_on_job_waits_and_updates_the_ledger(ledger: JobLedger) -> None:
    record = submitted(ledger, "tryon")
    job = Jobs(ledger, SyncTryOnFeed(["completed"]), BASE_URL).get("vto1")
    result = job.wait(timeout=5)
    assert result.status == "completed"
    row = ledger.get(record.id)
    assert row is not None
    assert row.state == "completed"


async def test_resumed_async_jobs_wait_and_update_the_ledger(ledger: JobLedger) -> None:
    gen = submitted(ledger, "generate")
    vto = submitted(ledger, "tryon")

    class Source:
        async def get_product(self, product_id: str) -> ev.Product:
            return await AsyncProductFeed([3]).get_product(product_id)

        async def get_try_on(self, vto_id: str) -> ev.TryOnResult:
            return await AsyncTryOnFeed(["completed"]).get_try_on(vto_id)

    jobs = AsyncJobs(ledger, Source(), BASE_URL)
    product = await jobs.get(gen.id).wait(timeout=5)
    result = await jobs.get(vto.id).wait(timeout=5)
    assert product.id == "p1"
    assert result.status == "completed"
    states = {r.id: r.state for r in ledger.list()}
    assert states == {gen.id: "completed", vto.id: "completed"}


# ---------------------------------------------------------------- one kind vocabulary, reprs


def test_every_job_kind_is_its_ledger_rows_kind(ledger: JobLedger) -> None:
    gen = submitted(ledger, "generate")
    vto = submitted(ledger, "tryon")
    for jobs in (Jobs(ledger, None, BASE_URL), AsyncJobs(ledger, None, BASE_URL)):
        listed = {job.id: job for job in jobs.list()}
        assert {job.kind for job in listed.values()} == {"generate", "tryon"}
        for job in listed.values():
            assert job.kind == job.record.kind
        assert "Generation" in type(listed[gen.id]).__name__
        assert "TryOn" in type(listed[vto.id]).__name__


@pytest.mark.parametrize("kind", ["generation", "try-on", "Generate", ""])
def test_the_ledger_refuses_a_kind_outside_the_vocabulary_naming_it(
    ledger: JobLedger, kind: str
) -> None:
    with pytest.raises(sqlite3.IntegrityError) as info:
        ledger.add(kind=kind, base_url=BASE_URL, request={}, expected=1)
    assert repr(kind) in str(info.value) and "'generate' or 'tryon'" in str(info.value)
    assert ledger.list() == []


def test_job_reprs_are_short_and_name_kind_state_and_counts(ledger: JobLedger) -> None:
    gen = submitted(ledger, "generate")
    vto = submitted(ledger, "tryon")
    job = ev.GenerationJob(gen, None)
    job.images = [image("gen/0.jpg")]
    text = repr(job)
    assert text == f"<GenerationJob {gen.id} generate product=p1 submitted 1/3>"
    assert "hooks.test" not in text and "whsec" not in text  # never the request or its webhook
    assert (
        repr(ev.AsyncTryOnJob(vto, None))
        == f"<AsyncTryOnJob {vto.id} tryon vto=vto1 submitted 0/1>"
    )


def test_job_repr_quotes_a_hostile_server_id(ledger: JobLedger) -> None:
    record = submitted(ledger, "tryon", remote_id="v1\x1b[31m <b>")
    text = repr(ev.TryOnJob(record, None))
    assert "\x1b" not in text and "<b>" in text  # text: escapes control codes, not markup
    assert "vto='v1\\x1b[31m <b>'" in text


# The names `from ecomviz_nb.jobs import X` reached before the module was split.
JOBS_NAMES = (
    "AsyncGenerationJob",
    "AsyncJobs",
    "AsyncTryOnJob",
    "GenerationJob",
    "Jobs",
    "ProgressEvent",
    "TryOnJob",
    "WebhookListener",
    "poll_delay",
    "print_progress",
    "register_listener",
    "retry_pause",
    "retry_status",
    "unregister_listener",
    "webhook_listeners",
    "POLL_INITIAL",
    "POLL_GROWTH",
    "POLL_MAXIMUM",
    "POLL_JITTER",
    "Progress",
    "ProductSource",
    "AsyncProductSource",
    "TryOnSource",
    "AsyncTryOnSource",
    "is_transient",
)


def test_the_jobs_import_path_still_reaches_every_name_it_did() -> None:
    missing = [name for name in JOBS_NAMES if not hasattr(jobs_module, name)]
    assert not missing
    assert set(jobs_module.__all__) <= set(JOBS_NAMES)


def test_jobs_and_the_split_modules_share_one_object_per_name() -> None:
    # One registry: an inbox registering through one path is found by jobs through the other.
    assert jobs_module.webhook_listeners is webhook_listeners.webhook_listeners
    assert jobs_module.register_listener is webhook_listeners.register_listener
    assert jobs_module.poll_delay is polling.poll_delay is ev.poll_delay
    assert jobs_module.GenerationJob is generation_job.GenerationJob is ev.GenerationJob
    assert jobs_module.AsyncTryOnJob is tryon_job.AsyncTryOnJob is ev.AsyncTryOnJob
    assert issubclass(ev.GenerationJob, job_base.Job) and issubclass(ev.AsyncTryOnJob, job_base.Job)
