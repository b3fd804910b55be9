"""Faults: 60 jobs (30 generate, 30 try-on) through ``ev.AsyncClient`` against a sandbox that
injects ~20 % request faults (500s, 429 with ``Retry-After``, connections dropped before or
after the request ran, slow answers) and fails 5 % of its jobs; answers lost after the work
started; and an outage in the middle of a job. ``make soak`` runs the full version (300 jobs,
a 60 s outage in a 120 s job) and prints its tables.

How "submitted twice", "lost" and "ends with its reason" are told apart, and every property
checked, is in ``faults_harness`` (its module docstring and ``FaultReport.problems``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import FAULTS_OFF, sandbox_jobs, set_faults

import ecomviz_nb as ev
from ecomviz_nb.jobs import POLL_JITTER, POLL_MAXIMUM

from .faults_harness import (
    GENERATE,
    FaultMix,
    clear_request_counts,
    request_counts,
    run_faults,
    run_outage,
    tryon_request,
)

CI_JOBS = 60
SEED = 20240601


@pytest.fixture
def faulty() -> Iterator[ev.Sandbox]:
    """A sandbox of the test's own (its fault switches change); injected drops make uvicorn
    log an error each, so its log is kept to critical messages."""
    with ev.Sandbox(port=0, job_seconds=0.6, log_level="critical") as sb:
        yield sb


async def test_sixty_jobs_under_faults_end_once_each_with_their_reason(
    faulty: ev.Sandbox,
) -> None:
    """Every call ends completed or failed with its reason; no generate or try-on ran twice for
    one intended call, none was resent after an attempt that may have started it, and every
    server job is in the ledger (see ``FaultReport.problems`` for the full list)."""
    report = await run_faults(faulty, jobs=CI_JOBS, mix=FaultMix(seed=SEED), concurrency=16)
    table = report.table()
    print(table)
    assert report.problems() == [], table

    assert len(report.calls) == CI_JOBS
    assert {c.outcome for c in report.calls} <= {"completed", "failed"}
    assert all(c.reason for c in report.failed)
    assert report.duplicates == {}
    assert report.lost == []
    # The faults did happen, of every kind, and most calls still got through.
    faults = report.faults()
    assert all(faults[kind] > 0 for kind in ("500", "429", "dropped", "slow")), faults
    assert len(report.completed) >= CI_JOBS * 0.6, table
    # A call whose submission's answer was lost completes only by following err.job.
    assert all(c.unknown for c in report.recovered)


async def test_answers_lost_after_the_job_started_are_not_resent_and_are_followed(
    faulty: ev.Sandbox,
) -> None:
    """Each generate and try-on POST runs, then its connection drops: nothing is sent again
    (the request log counts one POST per call, the server one job per call); the generations
    are followed to their images through ``err.job``; the try-ons stay ``unknown`` in the
    ledger, with their request, since their vtoId never arrived."""
    set_faults(faulty, **FAULTS_OFF, job_seconds=0.3)
    async with faulty.async_client() as client:
        products = [
            await client.create_product([f"{faulty.url}/samples/products/{name}.jpg"])
            for name in ("tshirt-red", "mug-blue")
        ]
        tags = ["lost-answer-a", "lost-answer-b"]
        clear_request_counts(faulty)
        set_faults(faulty, drop_answer_rate=1.0)
        errors: list[ev.APIConnectionError] = []
        try:
            for product in products:  # try_generate: no product read first, only the POST
                with pytest.raises(ev.APIConnectionError) as caught:
                    await client.try_generate(product, GENERATE)
                errors.append(caught.value)
            for tag in tags:
                with pytest.raises(ev.APIConnectionError) as caught:
                    await client.try_on(tryon_request(faulty, tag))
                errors.append(caught.value)
        finally:
            set_faults(faulty, drop_answer_rate=0.0)

        assert request_counts(faulty)["by_route_status"] == {
            "POST /api/products/{id}/generate": {"dropped": 2},
            "POST /api/vto/generate-url": {"dropped": 2},
        }
        for error in errors:
            assert error.maybe_sent
            assert error.job is not None and error.job.state == "unknown", error

        for product, error in zip(products, errors[:2], strict=True):
            found = await error.job.wait(timeout=20)
            assert found.id == product.id
            assert len(error.job.images) == GENERATE.expected_images
            assert all(f"/products/{product.id}/" in i.file_path for i in error.job.images)
            assert client.ledger.get(error.job.id).state == "completed"
        for tag, error in zip(tags, errors[2:], strict=True):
            with pytest.raises(ev.JobFailedError, match="no vtoId"):
                await error.job.wait(timeout=5)
            row = client.ledger.get(error.job.id)
            assert row.state == "unknown" and row.remote_id is None, row
            assert row.request["clothingImageUrls"][0]["info"] == tag

    jobs = sandbox_jobs(faulty)
    assert sorted(j["target"] for j in jobs if j["kind"] == "generate") == sorted(
        p.id for p in products
    )
    infos = [j["request"]["clothingImageUrls"][0]["info"] for j in jobs if j["kind"] == "tryon"]
    assert sorted(infos) == tags


async def test_an_outage_in_the_middle_of_a_job_ends_with_its_images(faulty: ev.Sandbox) -> None:
    """A 6 s outage (every /api/ request answered 500) in the middle of a 12 s job: wait()
    reports 'retrying after 500 (…)' while it lasts and returns the job's images, no exception.
    ``make soak`` runs a 60 s outage in a 120 s job."""
    report = await run_outage(faulty, job_seconds=12, outage_seconds=6)
    timeline = report.timeline()
    print(timeline)
    assert report.error is None, timeline
    assert len(report.images) == 4, timeline
    assert all(f"/products/{report.product_id}/" in i.file_path for i in report.images)

    statuses = [status for _, status, _, _ in report.events]
    assert statuses[-1] == "completed", timeline
    assert any(s.startswith("retrying after 500 (") for s in statuses), timeline
    # Failures only while the outage lasted; every other attempt was answered.
    (on, _), (off, _) = report.marks
    for attempt in report.attempts:
        failed = attempt.outcome != "200"
        inside = on - 0.2 <= attempt.t <= off + 0.2
        assert not failed or inside, (attempt, timeline)
    # After the outage (or the job) ended, the next poll finds it: within one longest pause
    # (POLL_MAXIMUM with jitter) and a poll's own retries.
    assert report.ended <= max(off, report.job_seconds) + POLL_MAXIMUM * (1 + POLL_JITTER) + 4


# ---------------------------------------------------------------- bugs this suite found (fixed)


async def test_a_lost_try_on_answer_does_not_promise_what_wait_cannot_do(
    faulty: ev.Sandbox,
) -> None:
    """Found by this suite (client_base.py, ``_mark_failed``): when a try-on POST's answer was lost,
    the error said "error.job.wait() follows it", that the job "holds its product's turn" and
    to "check the product"; but ``err.job.wait()`` cannot follow it (no vtoId: it raises
    JobFailedError at once) and a try-on has neither product nor turn."""
    async with faulty.async_client() as client:
        set_faults(faulty, drop_answer_rate=1.0)
        try:
            with pytest.raises(ev.APIConnectionError) as caught:
                await client.try_on(tryon_request(faulty, "lost-message"))
        finally:
            set_faults(faulty, drop_answer_rate=0.0)
        with pytest.raises(ev.JobFailedError, match="no vtoId"):
            await caught.value.job.wait(timeout=5)
    message = str(caught.value)
    assert "wait() follows it" not in message, message
    assert "product's turn" not in message, message
    assert "check the product" not in message, message


def test_sandbox_server_app_is_the_running_app() -> None:
    """Found by this suite (sandbox/server.py): ``SandboxServer.app`` was documented as "the
    ASGI app while running (its state holds the store, for tests)", but ``start()`` never set
    it."""
    with ev.Sandbox(port=0, job_seconds=0, log_level="critical") as sb:
        assert sb.app is not None
        assert sb._server is not None
        assert sb.app is sb._server.config.app  # what uvicorn serves
