"""``ev.BatchPanel`` driven from code against a real sandbox: a CSV, Start, Pause, Resume."""

from __future__ import annotations

import asyncio
import html
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from support import async_wait_until, sandbox_jobs, walk, widget_state

import ecomviz_nb as ev
from ecomviz_nb import config
from ecomviz_nb.runs import BatchResult
from ecomviz_nb.widgets import batch as batch_panel

HOSTILE = "<img src=x onerror=alert(1)>"
TOKEN = "sk-batch-never-stored-9"
SAMPLES = ("tshirt-red", "sneaker-white", "handbag-black", "mug-blue")
BAD_ROW = "bad-row,not-a-url"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ev.Sandbox]:
    """A sandbox of this module's own, whose jobs take a moment (so a batch can be caught)."""
    with ev.Sandbox(port=0, job_seconds=0.3) as sb:
        yield sb


@pytest.fixture
def client(sandbox: ev.Sandbox) -> ev.Client:
    return sandbox.client(token=TOKEN)


def catalogue(sb: ev.Sandbox, count: int = 6, *, label: str = "sku") -> str:
    """A CSV of ``count`` sample items and one bad row (the last line)."""
    lines = ["label,image_urls"]
    for i in range(count):
        lines.append(f"{label}-{i},{sb.url}/samples/products/{SAMPLES[i % len(SAMPLES)]}.jpg")
    lines.append(BAD_ROW)
    return "\n".join(lines) + "\n"


@pytest.fixture
def csv_path(sandbox: ev.Sandbox, tmp_path: Path) -> Path:
    path = tmp_path / "catalogue.csv"
    path.write_text(catalogue(sandbox), encoding="utf-8")
    return path


async def finish(panel: ev.BatchPanel) -> BatchResult:
    assert panel.task is not None, panel.plan_line.value
    await asyncio.wait_for(panel.task, 60)
    assert panel.result is not None, panel.status.value
    return panel.result


def markup(panel: ev.BatchPanel) -> str:
    return "".join(w.value for w in walk(panel) if isinstance(getattr(w, "value", None), str))


def srcs(text: str) -> list[str]:
    return re.findall(r"<img[^>]*\ssrc=['\"]([^'\"]+)['\"]", text)


def in_flight(panel: ev.BatchPanel) -> int:
    return panel.result.in_flight if panel.result is not None else 0


# ---------------------------------------------------------------- before anything is sent


def test_the_source_line_counts_rows_and_refused_ones_and_sends_nothing(
    client: ev.Client, sandbox: ev.Sandbox, csv_path: Path
) -> None:
    before = len(sandbox_jobs(sandbox, kind="generate"))
    panel = ev.BatchPanel(client, name="preview")
    assert panel.start_button.disabled
    assert "CSV: type the path of a file, or upload one" in panel.plan_line.value
    panel.csv_path.value = str(csv_path)
    line = html.unescape(panel.source_line.value)
    assert "catalogue.csv · 7 rows · 1 refused (line 8: image_urls[0]='not-a-url'" in line
    assert "Start sends batch <b>preview</b>: 6 items, 1 image each (6 images)" in (
        panel.plan_line.value
    )
    assert not panel.start_button.disabled
    # The request comes from the generate panel's controls.
    panel.rows["main"].count.value = 2
    panel.rows["detail"].enabled.value = True
    assert "3 images each (18 images)" in panel.plan_line.value
    assert '"detail": 1' in html.unescape(panel.request_controls.preview.value)
    panel.rows["main"].enabled.value = False
    panel.rows["detail"].enabled.value = False
    assert panel.start_button.disabled
    assert "image_types: at least one image type switched on" in panel.plan_line.value
    panel.rows["main"].enabled.value = True
    assert not panel.start_button.disabled

    panel.csv_path.value = str(csv_path.with_name("missing.csv"))
    assert "missing.csv: items: a CSV file" in panel.source_line.value
    assert panel.start_button.disabled
    assert len(sandbox_jobs(sandbox, kind="generate")) == before


def test_a_bad_concurrency_or_name_is_named_and_turns_start_off(
    client: ev.Client, csv_path: Path
) -> None:
    panel = ev.BatchPanel(client, name="limits")
    panel.csv_path.value = str(csv_path)
    assert not panel.start_button.disabled
    for bad in (0, -3, 65):
        panel.concurrency.value = bad
        assert panel.start_button.disabled
        assert f"concurrency: a whole number from 1 to 64 (got {bad})" in panel.plan_line.value
        assert panel.concurrency.value == bad  # said, not silently clamped
    panel.start_button.click()  # a disabled button's click sends nothing
    panel.start()
    assert panel.task is None and panel.result is None
    panel.concurrency.value = 64
    assert not panel.start_button.disabled
    assert "64 at once" in panel.plan_line.value

    panel.batch_name.value = "a/b"
    assert panel.start_button.disabled
    assert "name: up to 100 characters" in html.unescape(panel.plan_line.value)
    panel.batch_name.value = "  "
    assert panel.start_button.disabled
    panel.batch_name.value = "spring"
    assert not panel.start_button.disabled


async def test_the_default_name_is_the_time_and_skips_names_in_the_ledger(
    client: ev.Client, csv_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FrozenClock:
        @staticmethod
        def now(tz: Any = None) -> datetime:
            return datetime(2030, 1, 2, 3, 4, 5)

    monkeypatch.setattr(batch_panel, "datetime", FrozenClock)
    first = ev.BatchPanel(client)
    assert first.batch_name.value == "batch-20300102-030405"
    first.csv_path.value = str(csv_path)
    first.rows["main"].enabled.value = False
    first.rows["detail"].enabled.value = True
    first.start_button.click()
    await finish(first)
    # Made in the same second, after the first one started: a name of its own.
    assert ev.BatchPanel(client).batch_name.value == "batch-20300102-030405-2"


# ---------------------------------------------------------------- running


async def test_start_runs_the_batch_with_live_counters_and_a_grid(
    client: ev.Client,
    sandbox: ev.Sandbox,
    csv_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = len(sandbox_jobs(sandbox, kind="generate"))
    drawn_in: list[bool] = []
    draw = batch_panel._draw_grid

    def spy(latest: Any) -> str:
        drawn_in.append(threading.current_thread() is threading.main_thread())
        return draw(latest)

    monkeypatch.setattr(batch_panel, "_draw_grid", spy)
    panel = ev.BatchPanel(client, name="spring")
    panel.csv_path.value = str(csv_path)
    panel.concurrency.value = 2  # so the batch takes a few grid intervals
    counted: list[float] = []
    panel.counters.observe(lambda _c: counted.append(time.monotonic()), names="value")

    panel.start_button.click()
    first = panel.task
    assert first is not None
    assert panel.start_button.disabled and not panel.pause_button.disabled
    assert panel.resume_button.disabled
    panel.start_button.click()  # while it runs: ignored
    panel.start()
    assert panel.task is first
    started = time.monotonic()
    result = await finish(panel)
    seconds = time.monotonic() - started

    s = result.summary()
    assert (s["items"], s["completed"], s["failed"], s["unknown"]) == (7, 6, 1, 0)
    # One batch, one POST per good item.
    assert len(sandbox_jobs(sandbox, kind="generate")) - before == 6
    assert "6 completed" in panel.counters.value and "1 failed" in panel.counters.value
    assert "0 in flight" in panel.counters.value and "0 queued" in panel.counters.value
    assert "items/min" in panel.counters.value
    assert panel.progress.bar.value == panel.progress.bar.max == 7
    assert panel.progress.bar.bar_style == "warning"  # one failed
    images = srcs(panel.results.value)
    assert len(images) == 6
    assert all(src.startswith("data:image/") for src in images)
    assert "bad-row: line 8: image_urls[0]=" in html.unescape(panel.results.value)
    assert "Batch spring: 6 of 7 completed · 1 failed · 0 unknown · 6 images" in (
        panel.status.value
    )
    # Redrawn while it ran, never more often than the throttles allow for the time it took (a
    # bound from the run's own duration, not a speed target), the grid always in a thread.
    assert 2 <= len(counted) <= 4 * seconds + 2, (len(counted), seconds)
    assert drawn_in and not any(drawn_in)
    assert 1 <= len(drawn_in) <= seconds / batch_panel.GRID_EVERY + 2, (len(drawn_in), seconds)
    # Buttons: Start again, Pause and Resume off; the plan line knows the batch now.
    assert not panel.start_button.disabled
    assert panel.pause_button.disabled and panel.resume_button.disabled
    assert "A finished batch of this name is in the ledger (7 items)" in panel.plan_line.value
    # The status line sits right under the buttons.
    children = list(panel.children)
    buttons = next(c for c in children if panel.start_button in getattr(c, "children", ()))
    assert children.index(panel.status) == children.index(buttons) + 1
    snapshot = panel.snapshot_html()
    assert "6 completed" in snapshot and "1 failed" in snapshot
    assert len(srcs(snapshot)) == 6
    state = widget_state(panel)
    assert TOKEN not in state
    assert sandbox.url not in state


async def test_pause_holds_the_batch_and_resume_finishes_it(
    client: ev.Client, sandbox: ev.Sandbox, csv_path: Path
) -> None:
    before = len(sandbox_jobs(sandbox, kind="generate"))
    panel = ev.BatchPanel(client, name="held")
    panel.csv_path.value = str(csv_path)
    panel.concurrency.value = 2
    panel.start_button.click()
    await async_wait_until(lambda: in_flight(panel) == 2, 30, "two items in flight")
    panel.pause_button.click()
    assert panel.paused
    assert panel.pause_button.disabled and not panel.resume_button.disabled
    assert panel.start_button.disabled
    assert "Paused" in panel.status.value
    assert "paused: the rate and ETA" in panel.counters.value
    await async_wait_until(lambda: in_flight(panel) == 0, 30, "the items in flight to finish")
    held = len(sandbox_jobs(sandbox, kind="generate")) - before
    assert held <= 2
    await asyncio.sleep(1.0)
    sent = len(sandbox_jobs(sandbox, kind="generate")) - before
    assert sent == held, "a generate POST while paused"
    assert panel.result is not None and panel.result.queued == 6 - held
    assert panel.result.count("completed") == held
    assert panel.task is not None and not panel.task.done()

    panel.resume_button.click()
    assert not panel.paused and not panel.pause_button.disabled
    assert "paused:" not in panel.counters.value
    result = await finish(panel)
    assert result.summary()["completed"] == 6
    assert len(sandbox_jobs(sandbox, kind="generate")) - before == 6
    assert "6 completed" in panel.counters.value


async def test_start_with_the_same_name_continues_the_batch_after_a_restart(
    client: ev.Client, sandbox: ev.Sandbox, csv_path: Path
) -> None:
    before = len(sandbox_jobs(sandbox, kind="generate"))
    first = ev.BatchPanel(client, name="restarted")
    first.csv_path.value = str(csv_path)
    first.concurrency.value = 2
    first.start_button.click()
    await async_wait_until(lambda: in_flight(first) == 2, 30, "two items in flight")
    first.pause_button.click()
    await async_wait_until(lambda: in_flight(first) == 0, 30, "the items in flight to finish")
    assert first.task is not None
    first.task.cancel()  # the kernel dies while the batch is paused
    with pytest.raises(asyncio.CancelledError):
        await first.task
    done = len(sandbox_jobs(sandbox, kind="generate")) - before
    assert 1 <= done <= 2

    # A new kernel: the same cell again (same name, CSV and request).
    again = ev.BatchPanel(client, name="restarted")
    again.csv_path.value = str(csv_path)
    assert f"(7 items, {done + 1} finished): Start continues it" in again.plan_line.value
    again.start_button.click()
    result = await finish(again)
    assert result.summary()["completed"] == 6
    assert len(srcs(again.results.value)) == 6  # earlier images are shown too
    assert len(sandbox_jobs(sandbox, kind="generate")) - before == 6  # nothing was generated twice

    # The name alone continues it as the ledger holds it (here: nothing left to do).
    alone = ev.BatchPanel(client, name="restarted")
    assert "Start continues batch <b>restarted</b> from the ledger: 7 items, 7 finished" in (
        alone.plan_line.value
    )
    alone.start_button.click()
    assert (await finish(alone)).summary()["completed"] == 6
    assert len(sandbox_jobs(sandbox, kind="generate")) - before == 6

    # Another CSV under that name is refused, as a sentence.
    other = ev.BatchPanel(client, name="restarted")
    other.csv_path.value = str(csv_path)
    other.rows["main"].count.value = 2  # another request
    other.start_button.click()
    assert other.task is not None
    await other.task
    assert "name: a new name: a batch of that name" in html.unescape(other.status.value)
    assert other.progress.bar.bar_style == "danger"
    assert not other.start_button.disabled
    assert len(sandbox_jobs(sandbox, kind="generate")) - before == 6


async def test_an_uploaded_csv_runs_and_is_kept_for_a_resume(
    client: ev.Client, sandbox: ev.Sandbox, csv_path: Path, isolated_env: Path
) -> None:
    content = catalogue(sandbox, 3, label="up").encode()
    panel = ev.BatchPanel(client, name="uploaded")
    panel.csv_path.value = str(csv_path)
    panel.upload.value = (
        {
            "name": "shop.csv",
            "type": "text/csv",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime(2024, 5, 1, tzinfo=timezone.utc),
        },
    )
    assert panel.csv_path.value == ""  # the last source chosen wins
    assert panel.upload.value == ()  # the catalogue is not kept in the widget's state
    assert "uploaded shop.csv · 4 rows · 1 refused (line 5:" in panel.source_line.value
    assert "3 items, 1 image each" in panel.plan_line.value
    panel.start_button.click()
    result = await finish(panel)
    assert result.summary()["completed"] == 3
    assert [item.label for item in result.items[:3]] == ["up-0", "up-1", "up-2"]
    kept = config.resolve_home() / "batches" / "uploaded.csv"
    assert kept.parent.parent == isolated_env
    assert kept.read_bytes() == content
    assert sandbox.url not in widget_state(panel)

    # Typing a path drops the upload.
    panel.csv_path.value = str(csv_path)
    assert "catalogue.csv · 7 rows" in panel.source_line.value


async def test_hostile_labels_are_shown_as_text(
    client: ev.Client, sandbox: ev.Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "hostile.csv"
    good = f"{sandbox.url}/samples/products/mug-blue.jpg"
    path.write_text(
        f'label,image_urls\n"{HOSTILE}",{good}\n"{HOSTILE} 2",{HOSTILE}\n', encoding="utf-8"
    )
    panel = ev.BatchPanel(client, name="hostile")
    panel.csv_path.value = str(path)
    assert "2 rows · 1 refused" in panel.source_line.value
    panel.start_button.click()
    result = await finish(panel)
    assert result.summary()["completed"] == 1 and result.summary()["failed"] == 1
    shown = markup(panel) + panel.snapshot_html()
    assert HOSTILE not in shown
    # The failed item's label and reason, and the completed item's caption.
    assert f"{html.escape(HOSTILE)} 2: line 3:" in panel.results.value
    assert panel.results.value.count(html.escape(HOSTILE)) >= 3
    assert len(srcs(panel.results.value)) == 1


async def test_resume_with_fewer_items_queued_than_workers_waiting_finishes(
    client: ev.Client, sandbox: ev.Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "short.csv"
    path.write_text(catalogue(sandbox, 5).replace(BAD_ROW + "\n", ""), encoding="utf-8")
    panel = ev.BatchPanel(client, name="short")
    panel.csv_path.value = str(path)
    panel.concurrency.value = 4
    panel.start_button.click()
    await async_wait_until(lambda: in_flight(panel) == 4, 30, "four items in flight")
    panel.pause_button.click()  # four workers finish theirs, then wait; one item is queued
    await async_wait_until(lambda: in_flight(panel) == 0, 30, "the items in flight to finish")
    assert panel.result is not None and panel.result.queued == 1
    panel.resume_button.click()  # only one of the four workers can take it
    result = await finish(panel)
    assert "QueueEmpty" not in panel.status.value
    assert result.summary()["completed"] == 5
    assert "Batch short: 5 of 5 completed" in panel.status.value
