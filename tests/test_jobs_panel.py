"""``ev.JobsPanel`` driven from code against a real sandbox: it keeps up while it follows a job."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from support import async_wait_until, sample, set_faults, short_async_sleep

import ecomviz_nb as ev
from ecomviz_nb.widgets import JobsPanel
from ecomviz_nb.widgets.jobs import Pace


def srcs(markup: str) -> list[str]:
    return re.findall(r"<img[^>]*\ssrc=['\"]([^'\"]+)['\"]", markup)


def counts(table: str) -> list[str]:
    """The "done / expected" cells of the table."""
    return re.findall(r"<td[^>]*>(\d+ / \d+)</td>", table)


async def finish(panel: JobsPanel) -> None:
    assert panel.task is not None, panel.status.value
    await asyncio.wait_for(panel.task, 60)


@pytest.fixture
def slow_sandbox(fresh_sandbox: ev.Sandbox) -> ev.Sandbox:
    """A sandbox of the test's own whose jobs spread their images over 3 s."""
    set_faults(fresh_sandbox, job_seconds=3)
    return fresh_sandbox


def submit(sandbox: ev.Sandbox, count: int) -> Any:
    """A generate job of ``count`` main images, submitted and left running (in the ledger)."""
    with sandbox.client() as client:
        product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
        return client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=count)]))


def test_pace_lets_one_redraw_through_per_interval() -> None:
    now = [100.0]
    pace = Pace(0.5, clock=lambda: now[0])
    seen = []
    for step in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.2, 1.3):
        now[0] = 100.0 + step
        seen.append(pace.due())
    assert seen == [True, False, False, False, False, True, False, True, False]


async def test_following_a_job_redraws_its_row_as_images_come_and_shows_them_at_the_end(
    slow_sandbox: ev.Sandbox,
) -> None:
    job = submit(slow_sandbox, 4)
    panel = JobsPanel(slow_sandbox.async_client(sleep=short_async_sleep))
    assert counts(panel.table.value) == ["0 / 4"] and panel.pending.value == job.id
    tables: list[str] = []
    panel.table.observe(lambda change: tables.append(change["new"]), names="value")
    events: list[int] = []
    update = panel.progress.update
    panel.progress.update = lambda event: (events.append(event.done), update(event))  # type: ignore[method-assign]

    panel.resume_button.click()
    await async_wait_until(lambda: panel.following == job.id, what="the panel to follow the job")
    assert panel.resume_button.disabled, "a second Resume while one is followed"
    await finish(panel)

    seen = [c for table in tables for c in counts(table)]
    assert [c for c in seen if c not in ("0 / 4", "4 / 4")], f"the row never moved: {seen}"
    assert seen[-1] == "4 / 4" and "completed" in panel.table.value
    assert len(tables) < len(events), "the table is redrawn for every progress event"
    assert seen == sorted(seen), "the count went backwards"
    images = srcs(panel.results.value)
    assert len(images) == 4 and all(s.startswith("data:image/jpeg;base64,") for s in images)
    assert f"Images of job {job.id}" in panel.results.value
    assert panel.results.value.count("<details") == 4, "each picture opens larger on a click"
    assert "is complete: 4 images" in panel.status.value
    assert panel.following is None and panel.pending.options == ()
    assert panel.resume_button.disabled  # no open job left
    assert images[0] in panel.snapshot_html()


async def test_resuming_another_job_marks_the_shown_images_as_the_previous_jobs(
    fresh_sandbox: ev.Sandbox,
) -> None:
    first = submit(fresh_sandbox, 1)
    panel = JobsPanel(fresh_sandbox.async_client(sleep=short_async_sleep))
    panel.resume_button.click()
    await finish(panel)
    assert len(srcs(panel.results.value)) == 1 and "ev-previous" not in panel.results.value

    set_faults(fresh_sandbox, job_seconds=2)
    second = submit(fresh_sandbox, 2)
    panel.refresh()
    assert panel.pending.value == second.id
    panel.resume_button.click()
    await async_wait_until(lambda: panel.following == second.id, what="the second job followed")
    assert "ev-previous" in panel.results.value and "the job before" in panel.results.value
    await finish(panel)
    assert "ev-previous" not in panel.results.value
    assert len(srcs(panel.results.value)) == 2 and second.id in panel.results.value
    assert first.id not in panel.results.value


async def test_the_open_job_menu_is_wide_enough_for_the_whole_name(
    fresh_sandbox: ev.Sandbox,
) -> None:
    job = submit(fresh_sandbox, 1)
    panel = JobsPanel(fresh_sandbox.async_client())
    (label, value), *_ = panel.pending.options
    assert value == job.id and label == f"{job.id} · generate · 0/1"  # the id whole, not "job_…"
    assert panel.pending.layout.width == f"calc({len(label)}ch + 100px)"
    assert panel.pending.style.description_width == "initial"


async def test_a_try_on_job_resumed_shows_its_result(fresh_sandbox: ev.Sandbox) -> None:
    with fresh_sandbox.client() as client:
        job = client.try_on(
            ev.TryOnRequest(
                person_image_url=sample(fresh_sandbox, "people/person-a.jpg"),
                clothing=[ev.Clothing(sample(fresh_sandbox, "garments/dress-green.png"))],
            )
        )
    panel = JobsPanel(fresh_sandbox.async_client(sleep=short_async_sleep))
    assert panel.pending.value == job.id
    panel.resume_button.click()
    await finish(panel)
    assert len(srcs(panel.results.value)) == 1
    assert "tryon" in panel.table.value and "1 / 1" in panel.table.value
