"""Wall time, API requests per item and memory of ``batch`` on a 500-item catalogue.

The sandbox runs as its own process (``ecomviz-nb sandbox --job-seconds 1``), so the
benchmark's client and the server do not share a GIL. Items cycle through the four sample
products (``products/{tshirt-red,sneaker-white,handbag-black,mug-blue}.jpg`` of
``ev.sample_images``), one image URL and a unique label each; every item gets the same request,
one main image. Each item is worked on as ``batch`` does it: create the product, generate,
wait for the image.

- (a) ``batch(client, items, request, name=..., concurrency=16, progress=False)``: wall time.
- (b) the baseline, a plain loop over the sync client (``create_product``, ``generate``,
  ``job.wait()``, one item after another). At ~2 s per item the whole catalogue would take
  about 20 minutes, so the loop runs on the first ``--loop-items`` items (default 30) and its
  time per item is extrapolated to the catalogue; the output says so.
- (c) API requests per item of (a), read from the sandbox's ``GET /_sandbox/requests`` (every
  ``/api/`` request it answered, by route; cleared with ``DELETE /_sandbox/requests`` before
  each measurement).
- (d) the same batch with a ``WebhookInbox`` (``ecomviz_nb.inbox``): ``inbox.webhook()`` in
  the request, so each job ends when its delivery arrives. Printed as "not available", with
  the reason, if the module is missing or the run fails.
- (e) peak memory of the bookkeeping for 10,000 items, against a second sandbox process with
  ``--job-seconds 0``, in a child process of its own so that its peak RSS
  (``resource.getrusage().ru_maxrss``) is that run's alone; with ``--tracemalloc`` the peak of
  what the batch allocated is traced too (it slows the run by ~60 % and adds its own memory to
  the RSS). A real 10,000-item batch takes ~20 minutes here (each item waits ~2 s for its
  second poll, 16 at a time: ~8 items/s), so it is simulated: the ledger is
  seeded with the batch's 10,000 rows, of which 98 % are ``submitted`` (a job record each,
  pointing at one of 4 products whose image is already made, so one poll completes them) and
  every 50th is ``pending`` and runs for real (create, generate, wait). Every item still goes
  through the batch engine (a job object, a product read and parsed, two ledger writes) and
  the result holds all 10,000 items with their product and image at the end, as a real run's
  does; only the create/generate requests and the 2 s poll waits of the seeded 98 % are skipped.

Targets: batch >= 10x faster than the loop; <= 4 API requests per item with polling; <= 2.5
with the webhook inbox; peak RSS < 250 MB for 10,000 items.

Run: ``python benchmarks/bench_batch.py [--items 500] [--loop-items 30]`` (about 5 minutes).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

import ecomviz_nb as ev
from ecomviz_nb.batch_ledger import BatchBook, ItemRow
from ecomviz_nb.runs import batch
from ecomviz_nb.samples import SAMPLE_NAMES

TOKEN = "bench-token"
SAMPLES = [name for name in SAMPLE_NAMES if name.startswith("products/")]
"""The sandbox's four sample products, by their names in ``ev.sample_images``."""
TARGET_SPEEDUP = 10.0
TARGET_REQUESTS_POLLING = 4.0
TARGET_REQUESTS_INBOX = 2.5
TARGET_PEAK_MB = 250.0
LIVE_EVERY = 50
"""In the memory run, every 50th item runs for real; the others are seeded as submitted."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(port: int, job_seconds: float) -> subprocess.Popen[bytes]:
    """``ecomviz-nb sandbox`` in its own process; returns once ``/_sandbox/health`` answers."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecomviz_nb.cli",
            "sandbox",
            "--port",
            str(port),
            "--job-seconds",
            f"{job_seconds:g}",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        while True:
            try:
                http.get("/_sandbox/health").raise_for_status()
                return server
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    raise
                time.sleep(0.1)


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def catalogue(url: str, count: int, prefix: str) -> list[dict[str, Any]]:
    samples = ev.sample_images(url)
    return [
        {
            "image_urls": [samples.url(SAMPLES[i % len(SAMPLES)])],
            "label": f"{prefix}-{i:05d}",
        }
        for i in range(count)
    ]


def main_request(webhook: ev.Webhook | None = None) -> ev.GenerateRequest:
    return ev.GenerateRequest([ev.ImageSpec("main", count=1)], webhook=webhook)


def reset_counts(http: httpx.Client) -> None:
    http.delete("/_sandbox/requests").raise_for_status()


def read_counts(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/_sandbox/requests")
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


@dataclass
class Measured:
    """One measurement: wall time, items, the sandbox's request counts, what went wrong."""

    label: str
    seconds: float = 0.0
    items: int = 0
    completed: int = 0
    counts: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    available: bool = True

    @property
    def per_item(self) -> float:
        return self.counts.get("total", 0) / self.items if self.items else float("nan")

    def route_per_item(self, route: str) -> float:
        return self.counts.get("by_route", {}).get(route, 0) / self.items if self.items else 0.0


# ---------------------------------------------------------------- (a), (b), (d)


def run_batch(
    client: ev.Client,
    http: httpx.Client,
    items: list[dict[str, Any]],
    request: ev.GenerateRequest,
    name: str,
    concurrency: int,
    label: str,
) -> Measured:
    reset_counts(http)
    started = time.perf_counter()
    result = batch(client, items, request, name=name, concurrency=concurrency, progress=False)
    seconds = time.perf_counter() - started
    done = result.count("completed")
    note = "" if done == len(items) else f"{len(items) - done} items not completed"
    return Measured(label, seconds, len(items), done, read_counts(http), note)


def run_loop(
    client: ev.Client, http: httpx.Client, items: list[dict[str, Any]], request: ev.GenerateRequest
) -> Measured:
    reset_counts(http)
    started = time.perf_counter()
    for item in items:
        product = client.create_product(item["image_urls"])
        client.generate(product.id, request).wait(timeout=120)
    seconds = time.perf_counter() - started
    return Measured("loop", seconds, len(items), len(items), read_counts(http))


def run_inbox(
    client: ev.Client,
    http: httpx.Client,
    items: list[dict[str, Any]],
    concurrency: int,
) -> tuple[Measured, int]:
    """The batch with a webhook inbox; (measurement, deliveries received)."""
    label = "batch + webhook inbox"
    try:
        from ecomviz_nb.inbox import WebhookInbox
    except Exception as exc:  # the module is being written elsewhere
        why = f"ecomviz_nb.inbox cannot be imported: {type(exc).__name__}: {exc}"
        return Measured(label, note=why, available=False), 0
    try:
        inbox = WebhookInbox(port=0)
    except Exception as exc:
        why = f"WebhookInbox(port=0) failed: {type(exc).__name__}: {exc}"
        return Measured(label, note=why, available=False), 0
    try:
        request = main_request(inbox.webhook())
        measured = run_batch(client, http, items, request, "bench-inbox", concurrency, label)
        return measured, inbox.received
    except Exception as exc:
        why = f"the batch with the inbox failed: {type(exc).__name__}: {exc}"
        return Measured(label, note=why, available=False), 0
    finally:
        inbox.close()


# ---------------------------------------------------------------- (e), in a child process


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def memory_child(url: str, count: int, concurrency: int, trace: bool) -> dict[str, Any]:
    """The simulated 10,000-item batch (see the module docstring); returns what it measured."""
    client = ev.Client(TOKEN, base_url=url)
    request = main_request()
    wire = request.to_wire()
    # Four products whose one main image is made: the seeded jobs' results.
    finished = []
    samples = ev.sample_images(client)
    for name in SAMPLES:
        product = client.create_product([samples.url(name)])
        client.generate(product.id, request).wait(timeout=60)
        finished.append(product.id)
    items = catalogue(url, count, "mem")
    rows: list[ItemRow] = []
    jobs: list[tuple[Any, ...]] = []
    request_json, now = json.dumps(wire), time.time()
    for i, item in enumerate(items):
        if i % LIVE_EVERY == 0:
            rows.append(ItemRow(i, item["label"], "pending", image_urls=item["image_urls"]))
            continue
        job_id, product_id = f"job_mem{i:09d}", finished[i % len(finished)]
        rows.append(
            ItemRow(
                i,
                item["label"],
                "submitted",
                product_id=product_id,
                image_urls=item["image_urls"],
                job_id=job_id,
            )
        )
        jobs.append((job_id, "generate", client.base_url, product_id, request_json))
    with client.ledger.connect(write=True) as conn:  # one transaction for 9,800 job rows
        conn.executemany(
            "INSERT INTO jobs (id, kind, base_url, remote_id, request, expected, baseline,"
            " state, done, submitted_at, updated_at)"
            " VALUES (?,?,?,?,?,1,'[]','submitted',0,?,?)",
            [(*job, now, now) for job in jobs],
        )
    BatchBook(client.ledger, client.base_url).create("bench-memory", wire, rows)
    live = sum(r.state == "pending" for r in rows)
    del rows, jobs

    with httpx.Client(base_url=url) as http:
        reset_counts(http)
        gc.collect()
        rss_before = maxrss_mb()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        result = batch(
            client, items, request, name="bench-memory", concurrency=concurrency, progress=False
        )
        seconds = time.perf_counter() - started
        traced_now, traced_peak = tracemalloc.get_traced_memory() if trace else (-1, -1)
        tracemalloc.stop()
        counts = read_counts(http)
    with_images = sum(1 for item in result.items if item.images)
    return {
        "items": count,
        "live": live,
        "seconds": seconds,
        "completed": result.count("completed"),
        "with_images": with_images,
        "rss_before_mb": rss_before,
        "rss_peak_mb": maxrss_mb(),
        "traced_peak_mb": traced_peak / 2**20 if trace else None,
        "traced_end_mb": traced_now / 2**20 if trace else None,
        "counts": counts,
    }


def run_memory(count: int, concurrency: int, trace: bool) -> dict[str, Any]:
    port = free_port()
    server = start_sandbox(port, 0)
    try:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                f"http://127.0.0.1:{port}",
                "--memory-items",
                str(count),
                "--concurrency",
                str(concurrency),
                *(["--tracemalloc"] if trace else []),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        stop(server)
    if child.returncode != 0:
        raise RuntimeError(f"the memory run failed:\n{child.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return found


# ---------------------------------------------------------------- report


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def route_table(runs: Sequence[Measured]) -> None:
    routes = sorted({r for m in runs for r in m.counts.get("by_route", {})})
    print("| route | " + " | ".join(m.label for m in runs) + " |")
    print("|:---|" + "---:|" * len(runs))
    for route in routes:
        print(f"| {route} | " + " | ".join(f"{m.route_per_item(route):.2f}" for m in runs) + " |")
    print("| all /api/ requests | " + " | ".join(f"{m.per_item:.2f}" for m in runs) + " |")
    statuses = [
        ", ".join(f"{k} {v}" for k, v in sorted(m.counts.get("by_status", {}).items()))
        for m in runs
    ]
    print("| status classes (counts) | " + " | ".join(statuses) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500, help="catalogue size (default 500)")
    parser.add_argument(
        "--loop-items", type=int, default=30, help="items the plain loop runs (default 30)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="batch concurrency (16)")
    parser.add_argument("--job-seconds", type=float, default=1.0, help="job duration (1)")
    parser.add_argument(
        "--memory-items", type=int, default=10_000, help="items of the memory run (10,000)"
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace the memory run's allocations"
    )
    parser.add_argument("--memory-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.items < 1 or args.loop_items < 1 or args.memory_items < 1:
        parser.error("--items, --loop-items and --memory-items must be >= 1")

    home = tempfile.TemporaryDirectory(prefix="ecomviz-bench-batch-")
    os.environ["ECOMVIZ_HOME"] = home.name
    for name in ("ECOMVIZ_LOG", "ECOMVIZ_API_TOKEN", "ECOMVIZ_BASE_URL"):
        os.environ.pop(name, None)

    if args.memory_child:  # the child process of (e): one JSON line on stdout
        found = memory_child(
            args.memory_child, args.memory_items, args.concurrency, args.tracemalloc
        )
        print(json.dumps(found))
        home.cleanup()
        return 0

    began = time.perf_counter()
    print(
        f"python {platform.python_version()}, ecomviz_nb {ev.__version__}, "
        f"{os.cpu_count()} CPUs; sandbox in its own process, job_seconds={args.job_seconds:g}; "
        f"{args.items} items cycling {len(SAMPLES)} sample products, 1 main image each, "
        f"concurrency {args.concurrency}\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_sandbox(port, args.job_seconds)
    try:
        client = ev.Client(TOKEN, base_url=url)
        http = httpx.Client(base_url=url)
        request = main_request()
        warm = catalogue(url, len(SAMPLES), "warm")  # decode cache, connections
        run_loop(client, http, warm, request)

        polled = run_batch(
            client,
            http,
            catalogue(url, args.items, "poll"),
            request,
            "bench-polling",
            args.concurrency,
            "batch, polling",
        )
        loop = run_loop(client, http, catalogue(url, args.loop_items, "loop"), request)
        inboxed, received = run_inbox(
            client, http, catalogue(url, args.items, "inbox"), args.concurrency
        )
        http.close()
        client.close()
    finally:
        stop(server)
    mem = run_memory(args.memory_items, args.concurrency, args.tracemalloc)

    loop_per_item = loop.seconds / loop.items
    loop_total = loop_per_item * args.items
    speedup = loop_total / polled.seconds
    peak = mem["rss_peak_mb"]
    print("| measurement | value | target | verdict |")
    print("|:---|---:|:---|:---|")
    print(
        f"| (a) batch, {args.items} items, concurrency {args.concurrency} | "
        f"{polled.seconds:.1f} s ({polled.completed}/{polled.items} completed) | - | - |"
    )
    print(
        f"| (b) plain loop, sync client, one after another | {loop_per_item:.2f} s per item "
        f"(measured on {loop.items} items: {loop.seconds:.1f} s) -> {loop_total:.0f} s for "
        f"{args.items}, extrapolated | - | - |"
    )
    print(
        f"| batch speed-up vs the loop | {speedup:.1f}x | >= {TARGET_SPEEDUP:g}x | "
        f"{verdict(speedup >= TARGET_SPEEDUP)} |"
    )
    print(
        f"| (c) API requests per item, batch with polling | {polled.per_item:.2f} "
        f"({polled.counts.get('total', 0)} / {polled.items}) | <= {TARGET_REQUESTS_POLLING:g} | "
        f"{verdict(polled.per_item <= TARGET_REQUESTS_POLLING)} |"
    )
    if inboxed.available:
        print(
            f"| (d) API requests per item, batch with webhook inbox | {inboxed.per_item:.2f} "
            f"({inboxed.counts.get('total', 0)} / {inboxed.items}; {inboxed.seconds:.1f} s, "
            f"{inboxed.completed}/{inboxed.items} completed, {received} deliveries) | "
            f"<= {TARGET_REQUESTS_INBOX:g} | {verdict(inboxed.per_item <= TARGET_REQUESTS_INBOX)} |"
        )
    else:
        print(
            "| (d) API requests per item, batch with webhook inbox | not available | "
            f"<= {TARGET_REQUESTS_INBOX:g} | - |"
        )
    traced = (
        ""
        if mem["traced_peak_mb"] is None
        else f"; tracemalloc peak {mem['traced_peak_mb']:.0f} MB"
    )
    print(
        f"| (e) peak RSS, {mem['items']:,}-item batch (simulated, see below) | "
        f"{peak:.0f} MB (before the batch: {mem['rss_before_mb']:.0f} MB, so "
        f"+{peak - mem['rss_before_mb']:.0f} MB for the batch{traced}) | < {TARGET_PEAK_MB:g} MB | "
        f"{verdict(peak < TARGET_PEAK_MB)} |"
    )

    runs = [polled, loop] + ([inboxed] if inboxed.available else [])
    print("\nAPI requests per item, by route (from GET /_sandbox/requests):\n")
    route_table(runs)

    print()
    print(
        f"- (b) is extrapolated: the loop ran {loop.items} of the {args.items} items "
        f"({loop.seconds:.1f} s, {loop_per_item:.2f} s each) and {args.items} x that is "
        f"{loop_total:.0f} s; the batch took {polled.seconds:.1f} s "
        f"({60 * polled.items / polled.seconds:.0f} items/min)."
    )
    for run in runs:
        if run.note:
            print(f"- {run.label}: {run.note}")
    if polled.per_item > TARGET_REQUESTS_POLLING:
        polls = polled.route_per_item("GET /api/products/{id}")
        print(
            f"- (c) missed: create + generate are 2 requests per item and the jobs read their "
            f"product {polls:.2f} times per item: one poll right after submission, the next "
            "~2 s later and every ~2 s after that, so every job not done ~2 s after its "
            "submission costs another GET (see the route table)."
        )
    gets = 0.0
    if not inboxed.available:
        print(f"- (d) not available: {inboxed.note}")
    elif inboxed.per_item > TARGET_REQUESTS_INBOX:
        gets = inboxed.route_per_item("GET /api/products/{id}")
        print(
            f"- (d) missed: {inboxed.per_item:.2f} requests per item, of which "
            f"GET /api/products/{{id}} {gets:.2f}: see the route table."
        )
    if inboxed.available and inboxed.per_item > TARGET_REQUESTS_INBOX and gets <= 1.05:
        print(
            "- (d) where the requests go: create + generate are 2 per item, and each job still "
            "reads its product once. With the webhook the wait ends on the "
            "delivery, but ecomviz_nb/job_base.py (Job._await) polls once right after submission "
            "before it first sleeps on the inbox, when the delivery cannot have arrived yet: "
            "that poll is the extra request (2 + 1 = 3 per item)."
        )
    pace = polled.items / polled.seconds
    traced = (
        "(run with --tracemalloc to trace the batch's allocations too)"
        if mem["traced_peak_mb"] is None
        else f"tracemalloc counted what was allocated during the batch: peak "
        f"{mem['traced_peak_mb']:.1f} MB, {mem['traced_end_mb']:.1f} MB still held at the end "
        "(the result with its items)"
    )
    print(
        f"- (e) simulated: at (a)'s pace ({pace:.1f} items/s; with instant jobs an item still "
        f"waits ~2 s for its second poll) a real {mem['items']:,}-item batch would take "
        f"~{mem['items'] / pace / 60:.0f} min, so the ledger was seeded with its {mem['items']:,} "
        f"rows: {mem['live']} pending (run for real: create, generate, wait; every "
        f"{LIVE_EVERY}th item) and {mem['items'] - mem['live']:,} submitted, each with its own job "
        "record pointing at one of 4 products whose image is already made (one poll completes "
        f"it; no create, no generate, no 2 s wait). The batch took {mem['seconds']:.1f} s: "
        f"{mem['completed']:,} completed, {mem['with_images']:,} items holding their image at the "
        f"end; {mem['counts'].get('total', 0):,} API requests. Peak RSS is the "
        f"child process's (Python, httpx, SQLite and the batch); {traced}."
    )
    print(f"\n({time.perf_counter() - began:.0f} s)")
    home.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
