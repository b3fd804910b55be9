"""Catalogue batches (``ecomviz_nb.runs.batch``): every item ends completed, failed or unknown
with its reason, nothing is created or generated twice (under injected faults and across a
SIGKILL and a resume), bad rows fail alone, 429s slow the whole batch, and the result exports.

Against real sandboxes. "Nothing twice" is counted at the server:

- generate jobs per product: ``/_sandbox/jobs`` lists every job with its ``target`` (the
  product id); each product must have at most one.
- products per item: every item's image URL is unique (a sample's path plus ``?item=<label>``,
  which the sandbox ignores when it reads the sample), and a sandbox started with a data folder
  keeps each product's source URLs in its SQLite file; so the products created from one item's
  URL are counted directly (at most one each), and matched with the item's ledger product id.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support import (
    FAULTS_OFF,
    assert_inert,
    async_wait_until,
    sandbox_get,
    sandbox_jobs,
    set_faults,
    wait_until,
)

import ecomviz_nb as ev
from ecomviz_nb.batch_ledger import BatchBook
from ecomviz_nb.ledger import JobLedger
from ecomviz_nb.runs import (
    AdaptiveLimiter,
    BatchResult,
    batch,
    batch_async,
    resume_batch,
    resume_batch_async,
)

# ``ecomviz_nb.runs.batch`` is shadowed by the function of that name in the package.
batch_module = importlib.import_module("ecomviz_nb.runs.batch")

REQUEST = ev.GenerateRequest([ev.ImageSpec("main", count=1, aspect_ratio="1:1")])
SAMPLES = ("tshirt-red.jpg", "sneaker-white.jpg", "handbag-black.jpg", "mug-blue.jpg")
WORKER = Path(__file__).with_name("batch_worker.py")
TERMINAL = {"completed", "failed", "unknown"}


# ---------------------------------------------------------------- helpers


def sample_url(sb: ev.Sandbox, i: int, tag: str) -> str:
    """A sample photo under a URL of its own (the query makes it unique per item)."""
    return f"{sb.url}/samples/products/{SAMPLES[i % len(SAMPLES)]}?item={tag}"


def catalogue(sb: ev.Sandbox, count: int, prefix: str = "sku") -> list[dict[str, str]]:
    return [
        {"label": f"{prefix}-{i:02d}", "image_urls": sample_url(sb, i, f"{prefix}-{i:02d}")}
        for i in range(count)
    ]


def generate_targets(sb: ev.Sandbox) -> Counter[str]:
    """Generate jobs the server holds, counted per product."""
    return Counter(j["target"] for j in sandbox_jobs(sb, kind="generate"))


def product_count(sb: ev.Sandbox) -> int:
    return int(sandbox_get(sb, "/_sandbox/health")["products"])


def stored_products(sb: ev.Sandbox) -> dict[str, list[str]]:
    """Every product of a sandbox started with a data folder: id -> the URLs it was made from."""
    assert sb.settings.data_dir is not None
    with closing(sqlite3.connect(sb.settings.data_dir / "sandbox.sqlite3", timeout=10)) as conn:
        docs = [json.loads(doc) for (doc,) in conn.execute("SELECT doc FROM products")]
    return {doc["_id"]: list(doc["_sandbox"]["imageUrls"]) for doc in docs}


def assert_nothing_twice(
    sb: ev.Sandbox, items: list[dict[str, str]], result: BatchResult
) -> Counter[str]:
    """At most one product per item and one generate job per product; returns the jobs."""
    targets = generate_targets(sb)
    assert not [t for t, n in targets.items() if n > 1], targets
    products = stored_products(sb)
    per_url = Counter(url for urls in products.values() for url in urls)
    ids = {item.product_id for item in result.items if item.product_id}
    assert set(targets) <= ids, "a generate job on a product no item knows"
    for spec, item in zip(items, result.items, strict=True):
        url = spec["image_urls"]
        assert per_url[url] <= 1, f"{item.label}: {per_url[url]} products created"
        if item.product_id is not None:
            assert products[item.product_id] == [url], item
    return targets


def assert_completed_items_are_whole(
    client: ev.Client, name: str, result: BatchResult, targets: Counter[str]
) -> None:
    """Completed items: one image of their own product, one job, ledger rows that agree."""
    found = BatchBook(client.ledger, client.base_url).load(name)
    assert found is not None
    _, rows = found
    assert [r.state for r in rows] == [i.state for i in result.items]
    for item, row in zip(result.items, rows, strict=True):
        assert row.error == item.error
        if item.state != "completed":
            continue
        assert item.product_id is not None and row.job_id is not None
        (image,) = item.images
        assert f"/{item.product_id}/" in image.file_path, (item, image)
        assert targets[item.product_id] == 1
        assert row.images == 1
        record = client.ledger.get(row.job_id)
        assert record is not None and record.state == "completed", record


def record_limiters(monkeypatch: pytest.MonkeyPatch) -> list[AdaptiveLimiter]:
    """Keep every AdaptiveLimiter a batch makes for itself (the sync API builds its own)."""
    made: list[AdaptiveLimiter] = []

    class Recording(AdaptiveLimiter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(batch_module, "AdaptiveLimiter", Recording)
    return made


@pytest.fixture
def paced(tmp_path: Path) -> Iterator[ev.Sandbox]:
    """A sandbox of the test's own, keeping its products in a data folder (for counting)."""
    with ev.Sandbox(port=0, job_seconds=0.3, data_dir=tmp_path / "sandbox") as sb:
        yield sb


@pytest.fixture
def calm() -> Iterator[ev.Sandbox]:
    """A sandbox of the test's own, without faults."""
    with ev.Sandbox(port=0, job_seconds=0.2) as sb:
        yield sb


# ---------------------------------------------------------------- under faults


def test_faulty_batch_ends_every_item_once_and_generates_nothing_twice(
    paced: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 items against 500s (10%), 429s (5%, Retry-After 1) and failing jobs (5%).

    Every item ends completed, failed or unknown, with a reason unless completed; no item made
    two products and no product got two generate jobs (see the module docstring for how that is
    counted); completed items hold their one image, of their own product, and the ledger
    agrees. The sync ``batch`` builds its own AdaptiveLimiter on the client it makes, so it is
    reached by recording the limiters the module creates. (Each 429 pauses the whole batch for
    a second, so 10% would add some 15 s here; the 30% test below covers heavy 429s.)
    """
    limiters = record_limiters(monkeypatch)
    client = paced.client()
    items = catalogue(paced, 40)
    set_faults(
        paced, error_rate=0.1, rate_limit_rate=0.05, retry_after=1, fail_job_rate=0.05, seed=11
    )
    try:
        result = batch(client, items, REQUEST, name="faulty", timeout=6, progress=False)
    finally:
        set_faults(paced, **FAULTS_OFF)
    assert isinstance(result, BatchResult)
    assert [i.label for i in result.items] == [f"sku-{i:02d}" for i in range(40)]
    states = Counter(item.state for item in result.items)
    assert set(states) <= TERMINAL, states
    for item in result.items:
        if item.state != "completed":
            assert item.error and item.error.strip(), item
    # At these rates most items get through; all of them failing would mean a broken batch.
    assert states["completed"] >= 20, result.items
    summary = result.summary()
    assert summary["items"] == 40
    assert summary["completed"] + summary["failed"] + summary["unknown"] == 40
    assert summary["images"] == states["completed"]

    targets = assert_nothing_twice(paced, items, result)
    assert_completed_items_are_whole(client, "faulty", result, targets)

    (limiter,) = limiters
    assert limiter.rate_limited > 0, limiter
    assert limiter.lowest < limiter.maximum, limiter

    # Resumed with the faults off: failed and unknown items stay so, nothing is sent again.
    products = product_count(paced)
    again = resume_batch(client, "faulty", timeout=6, progress=False)
    assert [(i.state, i.error) for i in again.items] == [(i.state, i.error) for i in result.items]
    assert generate_targets(paced) == targets
    assert product_count(paced) == products
    assert [len(i.images) for i in again.items] == [len(i.images) for i in result.items]


# ---------------------------------------------------------------- kill -9, then resume


def test_resume_after_sigkill_finishes_without_sending_anything_twice(
    tmp_path: Path, isolated_env: Path
) -> None:
    """A batch in another process is killed with SIGKILL part-way; ``resume_batch`` here ends
    it. Items end completed (unknown is allowed only for an item whose paid request was in
    flight at the kill; they are printed, run with -s to see them); no product got two generate
    jobs and no item two products; running the same ``batch`` again sends nothing.

    The kill comes when the first item completes; the worker has then usually just sent the
    create request of its next item, so one or two items typically end unknown (with their
    product in fact created on the server: reported, never created again)."""
    with ev.Sandbox(port=0, job_seconds=1, data_dir=tmp_path / "sandbox") as sb:
        client = sb.client()
        items = catalogue(sb, 20)
        spec = {
            "base_url": client.base_url,
            "name": "killme",
            "items": items,
            "request": REQUEST.to_wire(),
            "concurrency": 4,
            "timeout": 30,
        }
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = {**os.environ, "ECOMVIZ_HOME": str(isolated_env)}
        book = BatchBook(JobLedger(isolated_env / "jobs.sqlite3"), client.base_url)
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(spec_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

        def first_completed() -> bool:
            assert proc.poll() is None, proc.communicate()
            found = book.load("killme") if (isolated_env / "jobs.sqlite3").exists() else None
            return found is not None and any(row.state == "completed" for row in found[1])

        try:
            wait_until(first_completed, 40, "an item completed, to kill the batch at")
        finally:
            proc.send_signal(signal.SIGKILL)  # a no-op if it has ended already
            proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        found = book.load("killme")
        assert found is not None
        before = {row.label: row.state for row in found[1]}
        # Killed part-way: some items were done and some not yet begun.
        assert "completed" in before.values() and "pending" in before.values(), before

        result = resume_batch(client, "killme", timeout=20, progress=False)
        unknown = [(i.label, before[i.label], i.error) for i in result.unknown]
        print(f"states at the kill: {dict(Counter(before.values()))}; unknown after: {unknown}")
        assert [i.state for i in result.items if i.state != "unknown"] == ["completed"] * (
            20 - len(unknown)
        ), (result.items, before)
        for label, state_at_kill, error in unknown:
            # Only a paid request in flight at the kill may leave an item unknown.
            assert state_at_kill in ("creating", "submitting"), (label, state_at_kill)
            assert error, label
        for item in result.items:
            if before[item.label] == "completed" or item.state == "completed":
                assert item.state == "completed"
                assert len(item.images) == 1, item  # earlier ones' images are loaded again
        targets = assert_nothing_twice(sb, items, result)
        assert_completed_items_are_whole(client, "killme", result, targets)
        made = {url for urls in stored_products(sb).values() for url in urls}
        url_of = {spec["label"]: spec["image_urls"] for spec in items}
        print(
            f"unknown items whose product exists: {[u for u, *_ in unknown if url_of[u] in made]}"
        )

        # The same batch again: all items are finished, so nothing is sent.
        products = product_count(sb)
        started = time.monotonic()
        again = batch(client, items, REQUEST, name="killme", progress=False)
        elapsed = time.monotonic() - started
        assert generate_targets(sb) == targets
        assert product_count(sb) == products
        assert [i.state for i in again.items] == [i.state for i in result.items]
        assert all(len(i.images) == 1 for i in again.items if i.state == "completed")
        assert elapsed < 5, elapsed


# ---------------------------------------------------------------- items


def test_csv_bad_rows_fail_naming_their_line_and_good_rows_complete(
    calm: ev.Sandbox, tmp_path: Path
) -> None:
    client = calm.client()
    good_1 = sample_url(calm, 0, "csv-1")
    good_2 = sample_url(calm, 1, "csv-2") + "|" + sample_url(calm, 2, "csv-2b")
    lines = [
        "label,image_urls",  # line 1
        f"good-1,{good_1}",  # 2
        "only-a-label",  # 3: the image_urls column is missing
        "bad-url,ftp://example.com/shirt.jpg",  # 4
        "",  # 5
        "wide," + ",".join(["x"] * 9999),  # 6: 10,000 columns
        f"good-2,{good_2}",  # 7
    ]
    path = tmp_path / "catalogue.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = batch(client, path, REQUEST, name="csv", timeout=15, progress=False)
    assert len(result.items) == 6
    by_label = {item.label: item for item in result.items}
    bad = {"only-a-label": "line 3", "bad-url": "line 4", "line 5": "line 5", "line 6": "line 6"}
    for label, line in bad.items():
        item = by_label[label]
        assert item.state == "failed", item
        assert item.error is not None and item.error.startswith(f"{line}:"), item
        assert item.product_id is None and item.row.job_id is None
    assert "image_urls" in (by_label["only-a-label"].error or "")
    assert "image_urls[0]" in (by_label["bad-url"].error or "")
    assert "empty line" in (by_label["line 5"].error or "")
    assert "10000 fields" in (by_label["line 6"].error or "")
    for label in ("good-1", "good-2"):
        item = by_label[label]
        assert item.state == "completed", item
        assert len(item.images) == 1
        assert item.error is None
    # Only the good rows reached the server.
    assert product_count(calm) == 2
    assert sorted(generate_targets(calm)) == sorted(
        by_label[label].product_id for label in ("good-1", "good-2")
    )


def test_csv_without_an_item_column_is_refused_before_anything_is_sent(
    calm: ev.Sandbox, tmp_path: Path
) -> None:
    client = calm.client()
    path = tmp_path / "wrong.csv"
    path.write_text(f"name,url\nshirt,{sample_url(calm, 0, 'x')}\n", encoding="utf-8")
    with pytest.raises(ev.ValidationError) as caught:
        batch(client, path, REQUEST, name="wrong", progress=False)
    assert "product_id or image_urls" in str(caught.value)
    header_only = tmp_path / "header-only.csv"
    header_only.write_text("label,image_urls\n", encoding="utf-8")
    with pytest.raises(ev.ValidationError):
        batch(client, header_only, REQUEST, name="empty", progress=False)
    assert product_count(calm) == 0
    assert generate_targets(calm) == Counter()
    book = BatchBook(client.ledger, client.base_url)
    assert book.load("wrong") is None and book.load("empty") is None


# ---------------------------------------------------------------- names and products


def test_same_name_with_other_items_or_request_is_refused_naming_resume_batch(
    calm: ev.Sandbox,
) -> None:
    client = calm.client()
    items = catalogue(calm, 3)
    first = batch(client, items[:2], REQUEST, name="weekly", timeout=15, progress=False)
    assert [i.state for i in first.items] == ["completed", "completed"]
    products, targets = product_count(calm), generate_targets(calm)
    other_request = ev.GenerateRequest([ev.ImageSpec("main")], platform="amazon")
    relabelled = [{**items[0], "label": "renamed"}, items[1]]
    for other_items, request in [
        (items[:1], REQUEST),
        (items[1:3], REQUEST),
        (items, REQUEST),
        (relabelled, REQUEST),
        (items[:2], other_request),
    ]:
        with pytest.raises(ev.ValidationError) as caught:
            batch(client, other_items, request, name="weekly", progress=False)
        message = str(caught.value)
        assert "resume_batch" in message and "weekly" in message
    with pytest.raises(ev.ValidationError):
        resume_batch(client, "no-such-batch", progress=False)
    assert product_count(calm) == products
    assert generate_targets(calm) == targets
    found = BatchBook(client.ledger, client.base_url).load("weekly")
    assert found is not None and [r.label for r in found[1]] == ["sku-00", "sku-01"]


def test_unnamed_batches_started_within_one_second_do_not_collide(
    calm: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default name is ``batch-<date>-<time>`` to the second, so two unnamed batches of
    other items started within one second (a loop over catalogues; batches whose rows all fail
    end at once) get the same name, and the second is refused with "a batch of that name ... is
    in the ledger": a name the caller never gave. The clock is frozen to make that second
    certain; the items are refused rows, so nothing is sent."""
    frozen = datetime(2030, 1, 2, 3, 4, 5)

    class FrozenClock:
        @staticmethod
        def now(tz: Any = None) -> datetime:
            return frozen

    monkeypatch.setattr(batch_module, "datetime", FrozenClock)
    client = calm.client()
    first_items = [{"label": "a", "image_urls": "ftp://x.test/a.jpg"}]
    second_items = [{"label": "b", "image_urls": "ftp://x.test/b.jpg"}]
    first = batch(client, first_items, REQUEST, progress=False)
    second = batch(client, second_items, REQUEST, progress=False)
    assert first.name.startswith("batch-20300102-030405")
    assert second.name != first.name
    assert [i.label for i in second.items] == ["b"]


def test_items_naming_a_product_are_not_created_again_and_a_wire_request_is_taken(
    calm: ev.Sandbox,
) -> None:
    """Dict items: a ``product_id`` is used as it is (no create request: the server's product
    count stays); a dict with an unknown key fails alone, naming it; the request may be the
    wire JSON."""
    client = calm.client()
    made = [client.create_product([sample_url(calm, i, f"pid-{i}")]) for i in range(3)]
    assert product_count(calm) == 3
    wire = {
        "imageType": [{"detail": 1, "aspectRatio": "4:3"}],
        "platform": "amazon",
        "region": "eu",
    }
    items: list[dict[str, Any]] = [
        {"product_id": p.id, "label": f"existing-{i}"} for i, p in enumerate(made)
    ]
    items.append({"label": "typo", "image_urls": sample_url(calm, 3, "typo"), "colour": "red"})
    result = batch(client, items, wire, name="existing", timeout=15, progress=False)
    *existing, typo = result.items
    assert [i.state for i in existing] == ["completed"] * 3, result.items
    assert typo.state == "failed" and typo.product_id is None
    assert typo.error is not None
    assert "items[3]" in typo.error and "'colour'" in typo.error
    assert product_count(calm) == 3  # nothing created, not even the typo's product
    assert generate_targets(calm) == Counter({p.id: 1 for p in made})
    for job in sandbox_jobs(calm):
        assert job["request"]["platform"] == "amazon"
        assert job["request"]["imageType"] == [{"detail": 1, "aspectRatio": "4:3"}]
    for item, product in zip(existing, made, strict=True):
        assert item.product_id == product.id
        (image,) = item.images
        assert (image.image_type, image.platform) == ("detail", "amazon")
    assert result.request == ev.GenerateRequest.from_wire(wire)


# ---------------------------------------------------------------- the result


def test_batch_result_counts_exports_and_escapes_hostile_labels(
    calm: ev.Sandbox, tmp_path: Path
) -> None:
    client = calm.client()
    hostile = "<script>alert(1)</script>"
    sneaky = '<img src=x onerror="window.__pwned=1">'
    items = [
        {"label": hostile, "image_urls": sample_url(calm, 0, "h1")},
        {"label": sneaky, "image_urls": sample_url(calm, 1, "h2")},
        {"label": "plain", "image_urls": sample_url(calm, 2, "h3")},
        {"label": "<b onmouseover='x'>refused</b>", "image_urls": "ftp://example.com/x.jpg"},
    ]
    result = batch(client, items, REQUEST, name="<i>exports</i>", timeout=15, progress=False)
    summary = result.summary()
    assert summary["items"] == 4
    assert (summary["completed"], summary["failed"], summary["unknown"]) == (3, 1, 0)
    assert summary["completed"] + summary["failed"] + summary["unknown"] == summary["items"]
    assert summary["images"] == 3
    assert summary["seconds"] > 0 and summary["per_minute"] > 0

    written = result.to_csv(tmp_path / "out" / "batch.csv")
    with written.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == [
        "label",
        "state",
        "product_id",
        "job_id",
        "images",
        "error",
        "image_urls",
    ]
    assert [r["label"] for r in rows] == [i.label for i in result.items]
    for row, item in zip(rows, result.items, strict=True):
        assert row["state"] == item.state
        if item.state == "completed":
            assert row["product_id"] == item.product_id and row["job_id"]
            assert row["images"] == "1" and row["error"] == ""
            assert row["image_urls"] == item.images[0].url
        else:
            assert row["error"] == item.error and row["images"] == "0"

    found = assert_inert(result._repr_html_())
    assert len(found.srcs) == 3
    assert all(src.startswith("data:image/") for src in found.srcs)
    text = " ".join(found.text)
    assert "4 items" in text and "3 completed" in text and "1 failed" in text
    assert hostile in text and sneaky in text  # shown as text
    assert "<i>exports</i>" in text

    page = ev.Report("x").add(result).save(tmp_path / "report.html").read_text(encoding="utf-8")
    shown = assert_inert(page)
    assert shown.tags.count("figure") == 3  # a tile per completed item (thumb + larger view)
    assert shown.srcs and all(s.startswith("data:image/") for s in shown.srcs)
    assert hostile in " ".join(shown.text)


# ---------------------------------------------------------------- progress and event loops


def test_text_progress_rewrites_one_line_and_sync_batch_runs_under_an_event_loop(
    calm: ev.Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """As in a notebook cell, where the kernel's loop is already running in this thread; outside
    Jupyter the progress is one line rewritten with '\\r', then a final line."""
    client = calm.client()

    async def cell() -> BatchResult:
        return batch(client, catalogue(calm, 3), REQUEST, name="progress", timeout=15)

    result = asyncio.run(cell())
    assert [i.state for i in result.items] == ["completed"] * 3, result.items
    out = capsys.readouterr().out
    assert out.startswith("\r")
    assert out.endswith("\n") and out.count("\n") == 1, repr(out)
    assert out.count("\r") >= 2, repr(out)
    last = out.rstrip("\n").split("\r")[-1]
    assert last.startswith("progress: 3 done, 0 failed, 0 unknown, 0 in flight, 0 queued")


# ---------------------------------------------------------------- 429s and pausing


async def test_429s_slow_the_whole_batch_and_every_item_still_completes(
    calm: ev.Sandbox,
) -> None:
    """A 429 refuses the work, so POSTs are resent; the batch keeps the limiter it is given.

    The AsyncClient gets ``max_retries=8``: ``batch_async`` raises the retries only of clients
    it makes itself, and at a 30% refusal rate two retries would run out now and then. Each
    429 stops the whole batch for a second; seed 2 refuses 8 of the first 30 requests (11 of
    the ~50 this batch makes), which keeps the test near 13 s.
    """
    aclient = calm.async_client(max_retries=8)
    limiter = AdaptiveLimiter(8)
    aclient.limiter = limiter
    items = catalogue(calm, 10)
    set_faults(calm, rate_limit_rate=0.3, retry_after=1, seed=2)
    try:
        result = await batch_async(
            aclient, items, REQUEST, name="throttled", concurrency=8, timeout=40
        )
    finally:
        set_faults(calm, **FAULTS_OFF)
        await aclient.aclose()
    assert [i.state for i in result.items] == ["completed"] * 10, result.items
    assert aclient.limiter is limiter
    assert limiter.rate_limited > 0, limiter
    assert limiter.lowest <= limiter.maximum // 4, limiter  # halved at least twice
    assert limiter.in_flight == 0
    assert product_count(calm) == 10
    targets = generate_targets(calm)
    assert sorted(targets) == sorted(i.product_id for i in result.items)
    assert set(targets.values()) == {1}


async def test_a_batch_paused_and_resumed_finishes_every_item(calm: ev.Sandbox) -> None:
    """``control`` pauses a batch while cleared. Paused after both workers took an item, both
    finish it and wait on the control with one item left in the queue; on resume only one of
    them can take it."""
    aclient = calm.async_client()
    control = asyncio.Event()
    control.set()
    seen: list[BatchResult] = []

    def on_update(result: BatchResult) -> None:
        if not seen:
            seen.append(result)
        if result.in_flight == 2:
            control.clear()

    task = asyncio.ensure_future(
        batch_async(
            aclient,
            catalogue(calm, 3),
            REQUEST,
            name="paused",
            concurrency=2,
            timeout=15,
            on_update=on_update,
            control=control,
        )
    )

    def two_finished() -> bool:
        assert not task.done(), task.result()
        return bool(seen) and seen[0].count("completed") == 2 and seen[0].in_flight == 0

    try:
        await async_wait_until(two_finished, 20, "two items completed, none in flight")
        await asyncio.sleep(0.1)  # both workers are back at the paused control
        assert not control.is_set()
        control.set()
        result = await asyncio.wait_for(task, 20)
    finally:
        task.cancel()
        await aclient.aclose()
    assert [i.state for i in result.items] == ["completed"] * 3, result.items


async def test_resume_keeps_two_items_on_one_product_apart(calm: ev.Sandbox) -> None:
    """Two items name one product, so the second waits for its turn, in state ``submitting``,
    while the first one's job runs. Interrupted there (a kernel interrupt or restart) and
    resumed, the second must get a job of its own, not take the first item's job as its own:
    its own generate request was never written to the ledger, so it was never sent."""
    aclient = calm.async_client()
    product = await aclient.create_product([sample_url(calm, 0, "shared")])
    items = [
        {"product_id": product.id, "label": "front"},
        {"product_id": product.id, "label": "back"},
    ]
    states: list[str] = []

    def on_update(result: BatchResult) -> None:
        states[:] = [item.state for item in result.items]

    task = asyncio.ensure_future(
        batch_async(
            aclient, items, REQUEST, name="shared", concurrency=2, timeout=20, on_update=on_update
        )
    )

    def one_holds_the_turn_one_waits() -> bool:
        assert not task.done(), task.result()
        return sorted(states) == ["submitted", "submitting"]

    try:
        await async_wait_until(one_holds_the_turn_one_waits, 10, "one item waiting for its turn")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    waiting = states.index("submitting")
    assert generate_targets(calm) == Counter({product.id: 1})
    try:
        result = await resume_batch_async(aclient, "shared", timeout=20)
    finally:
        await aclient.aclose()
    assert [i.state for i in result.items] == ["completed", "completed"], result.items
    first, second = result.items
    assert first.row.job_id != second.row.job_id, f"item {waiting} took the other's job"
    assert generate_targets(calm) == Counter({product.id: 2})
    assert first.images[0].file_path != second.images[0].file_path
