"""Wall time of ``ev.sweep`` on 12 runs against one-after-another submission and the lower bound.

The sweep is 3 platforms x 4 aspect ratios of one main image each, on one product, against a
sandbox run as its own process (``ecomviz-nb sandbox --job-seconds 2``), so the benchmark's
client and the server do not share a GIL. Runs that differ only in aspect ratio could not be
told apart by their images (:mod:`ecomviz_nb.attribution`), so each platform's 4 runs must go
one after another while the 3 platforms go at once: no client can finish the sweep faster than
4 job durations. Three ways are timed, alternating, in each round:

- sweep: ``ev.sweep(client, product, base, vary=..., concurrency=8, progress=callback)``;
- sequential (the baseline): the same 12 requests with the sync client,
  ``client.generate(pid, req).wait()`` one after another;
- one job: submit one run and poll ``client.get_product`` every 50 ms until its image is there
  (submission included). Lower bound = 4 x that.

Each measurement uses a fresh product; the ledger lives in a fresh ``ECOMVIZ_HOME``. The sweep's
progress callback records every state change: the table below the results shows where the
sweep's time goes (submission, server time, how late completion is noticed, the gap before a
platform's next run goes) and the timeline shows the runs in flight (submitted or running)
during the first round.

Targets: sweep within 1.3x of the lower bound and at least 2.5x faster than sequential.

Run: ``python benchmarks/bench_sweep.py [--rounds 3]`` (about 3 minutes with 3 rounds).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

import ecomviz_nb as ev

sweep_module = importlib.import_module("ecomviz_nb.runs.sweeps")  # the tick constants

TOKEN = "bench-token"
PLATFORMS = ["amazon", "shopee", "general"]
RATIOS = ["1:1", "4:3", "16:9", "9:16"]
VARY: dict[str, list[Any]] = {"platform": PLATFORMS, "aspect_ratio": RATIOS}
SOURCE = "products/tshirt-red.jpg"
"""The sample the sweeps run on, by its name in ``ev.sample_images``."""
TARGET_LOWER_BOUND = 1.3
TARGET_SPEEDUP = 2.5
POLL_FAST = 0.05
IN_FLIGHT = ("submitted", "running")


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


# ---------------------------------------------------------------- the three measurements


@dataclass
class Event:
    t: float
    """Seconds since the sweep started (perf_counter)."""
    run: int
    state: str
    status: str


@dataclass
class SweepRecord:
    seconds: float
    events: list[Event]
    wall0: float
    """time.time() at the sweep's start, to place the server's ``generatedAt`` on the timeline."""
    runs: list[Any] = field(default_factory=list)


def time_sweep(client: ev.Client, source_url: str, base: ev.GenerateRequest) -> SweepRecord:
    product = client.create_product([source_url])
    events: list[Event] = []
    index: dict[int, int] = {}
    started = 0.0

    def on_update(run: Any) -> None:
        n = index.setdefault(id(run), len(index))
        events.append(Event(time.perf_counter() - started, n, run.state, run.status))

    wall0 = time.time()
    started = time.perf_counter()
    result = ev.sweep(
        client, product, base, vary=VARY, concurrency=8, timeout=120, progress=on_update
    )
    seconds = time.perf_counter() - started
    assert isinstance(result, ev.SweepResult), result
    failed = [r for r in result.runs if r.state != "completed" or len(r.images) != 1]
    assert not failed, failed
    # The run index must follow plan order for the breakdown: remap by the runs' identities.
    order = {id(run): i for i, run in enumerate(result.runs)}
    by_first_seen = {n: order[k] for k, n in index.items()}
    for e in events:
        e.run = by_first_seen[e.run]
    return SweepRecord(seconds, events, wall0, list(result.runs))


def time_sequential(
    client: ev.Client, source_url: str, requests: Sequence[ev.GenerateRequest]
) -> float:
    product = client.create_product([source_url])
    started = time.perf_counter()
    for request in requests:
        job = client.generate(product.id, request)
        job.wait()
    seconds = time.perf_counter() - started
    final = client.get_product(product.id)
    assert len(final.generated_images) == len(requests), final
    return seconds


def time_one_job(
    client: ev.Client, source_url: str, request: ev.GenerateRequest
) -> tuple[float, float]:
    """(seconds from the start of ``generate`` until the image is seen, of which submitting)."""
    product = client.create_product([source_url])
    started = time.perf_counter()
    job = client.generate(product.id, request)
    submitted = time.perf_counter() - started
    while True:
        seen = client.get_product(product.id)
        if len(seen.generated_images) >= 1:
            seconds = time.perf_counter() - started
            break
        time.sleep(POLL_FAST)
    job.wait()  # returns at once; marks the ledger row completed
    return seconds, submitted


# ---------------------------------------------------------------- reading the sweep's events


def in_flight_steps(
    events: Sequence[Event], runs: int, merge: float = 0.01
) -> list[tuple[float, int]]:
    """(t, runs in state submitted/running) at each change; changes within ``merge`` s merge."""
    state = ["planned"] * runs
    steps: list[tuple[float, int]] = [(0.0, 0)]
    for e in events:
        state[e.run] = e.state
        count = sum(s in IN_FLIGHT for s in state)
        if e.t - steps[-1][0] <= merge:
            steps[-1] = (steps[-1][0], count)
        else:
            steps.append((e.t, count))
    compact = [steps[0]]
    for t, count in steps[1:]:
        if count != compact[-1][1]:
            compact.append((t, count))
    return compact


def raw_max_in_flight(events: Sequence[Event], runs: int) -> int:
    state = ["planned"] * runs
    best = 0
    for e in events:
        state[e.run] = e.state
        best = max(best, sum(s in IN_FLIGHT for s in state))
    return best


def sampled(steps: Sequence[tuple[float, int]], end: float, every: float = 0.25) -> str:
    """One digit per ``every`` seconds: the runs in flight at that instant (t = 0, every, ...)."""
    out = []
    for k in range(int(end / every) + 1):
        t = k * every
        out.append(str([c for s, c in steps if s <= t][-1]))
    return "".join(out)


@dataclass
class Breakdown:
    submit: list[float] = field(default_factory=list)
    """'submitting' -> 'submitted': the scheduler's turn plus POST /generate."""
    server: list[float] = field(default_factory=list)
    """'submitting' -> the image's generatedAt on the server."""
    notice: list[float] = field(default_factory=list)
    """The image's generatedAt -> the sweep marks the run completed (poll cadence)."""
    turn_gap: list[float] = field(default_factory=list)
    """A run completed -> the next run of the same platform starts submitting."""
    tail: list[float] = field(default_factory=list)
    """The last run completed -> ``ev.sweep`` returned."""


def breakdown(records: Sequence[SweepRecord]) -> Breakdown:
    out = Breakdown()
    for rec in records:
        submitting: dict[int, float] = {}
        submitted: dict[int, float] = {}
        completed: dict[int, float] = {}
        for e in rec.events:
            if e.state == "queued" and e.status == "submitting":
                submitting[e.run] = e.t
            elif e.state == "submitted":
                submitted.setdefault(e.run, e.t)
            elif e.state == "completed":
                completed[e.run] = e.t
        for i, run in enumerate(rec.runs):
            out.submit.append(submitted[i] - submitting[i])
            made = run.images[0].generated_at
            if made is not None:
                at = made.timestamp() - rec.wall0
                out.server.append(at - submitting[i])
                out.notice.append(completed[i] - at)
        for p in PLATFORMS:
            chain = [i for i, r in enumerate(rec.runs) if r.params["platform"] == p]
            chain.sort(key=lambda i: submitting[i])
            for a, b in itertools.pairwise(chain):
                out.turn_gap.append(submitting[b] - completed[a])
        out.tail.append(rec.seconds - max(completed.values()))
    return out


def fmt(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return (
        f"{statistics.median(values) * 1000:.0f} | {min(values) * 1000:.0f} | "
        f"{max(values) * 1000:.0f}"
    )


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument(
        "--job-seconds", type=float, default=2.0, help="the sandbox's job duration (default 2)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")

    home = tempfile.TemporaryDirectory(prefix="ecomviz-bench-sweep-")
    os.environ["ECOMVIZ_HOME"] = home.name
    for name in ("ECOMVIZ_LOG", "ECOMVIZ_API_TOKEN", "ECOMVIZ_BASE_URL"):
        os.environ.pop(name, None)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    server = start_sandbox(port, args.job_seconds)
    try:
        client = ev.Client(TOKEN, base_url=url)
        source_url = ev.sample_images(client).url(SOURCE)
        base = ev.GenerateRequest([ev.ImageSpec("main", count=1)])
        plan = ev.sweep(client, "unused", base, vary=VARY, dry_run=True)
        assert isinstance(plan, ev.SweepPlan), plan
        requests = [run.request for run in plan.runs]
        groups = plan.groups

        print(
            f"python {platform.python_version()}, ecomviz_nb {ev.__version__}, "
            f"{os.cpu_count()} CPUs; sandbox in its own process, job_seconds={args.job_seconds:g}"
        )
        print(
            f"sweep: {plan.run_count} runs ({len(PLATFORMS)} platforms x {len(RATIOS)} aspect "
            f"ratios, 1 main image each), {groups} runs one after another per platform, "
            f"concurrency 8; sweep tick {sweep_module.TICK_INITIAL:g} s + "
            f"{sweep_module.TICK_GROWTH:g} x age; {args.rounds} alternating rounds, a fresh "
            "product per measurement\n"
        )

        time_one_job(client, source_url, requests[0])  # warm-up: decode cache, connections

        sweeps: list[SweepRecord] = []
        sequential: list[float] = []
        one_job: list[float] = []
        submit_one: list[float] = []

        def do_sweep() -> None:
            sweeps.append(time_sweep(client, source_url, base))

        def do_sequential() -> None:
            sequential.append(time_sequential(client, source_url, requests))

        def do_one() -> None:
            seconds, submitted = time_one_job(client, source_url, requests[0])
            one_job.append(seconds)
            submit_one.append(submitted)

        for r in range(args.rounds):
            order = [do_sweep, do_sequential, do_one]
            for step in order if r % 2 == 0 else order[::-1]:
                step()
        client.close()
    finally:
        server.terminate()
        server.wait(10)

    sweep_s = [rec.seconds for rec in sweeps]
    bound = [groups * j for j in one_job]
    vs_bound = [s / b for s, b in zip(sweep_s, bound, strict=True)]
    speedup = [q / s for s, q in zip(sweep_s, sequential, strict=True)]
    seq_vs_bound = [q / b for q, b in zip(sequential, bound, strict=True)]
    met_bound = statistics.median(vs_bound) <= TARGET_LOWER_BOUND
    met_speed = statistics.median(speedup) >= TARGET_SPEEDUP

    print("| way | median wall s | min-max s | x lower bound | speed-up vs sequential |")
    print("|:---|---:|---:|---:|---:|")
    print(
        f"| ev.sweep, concurrency 8 | {statistics.median(sweep_s):.2f} | "
        f"{min(sweep_s):.2f}-{max(sweep_s):.2f} | {statistics.median(vs_bound):.2f}x | "
        f"{statistics.median(speedup):.2f}x |"
    )
    print(
        f"| sequential generate().wait() | {statistics.median(sequential):.2f} | "
        f"{min(sequential):.2f}-{max(sequential):.2f} | {statistics.median(seq_vs_bound):.2f}x "
        "| 1.00x |"
    )
    print(
        f"| lower bound: {groups} x one job | {statistics.median(bound):.2f} | "
        f"{min(bound):.2f}-{max(bound):.2f} | 1.00x | - |"
    )
    print()
    print(
        f"- one job (submit + {POLL_FAST * 1000:.0f} ms polling until its image is there): "
        f"median {statistics.median(one_job):.3f} s ({min(one_job):.3f}-{max(one_job):.3f}), "
        f"of which generate() {statistics.median(submit_one) * 1000:.0f} ms"
    )
    print(
        f"- per-round ratios: sweep / lower bound "
        f"{', '.join(f'{v:.2f}' for v in vs_bound)}; sequential / sweep "
        f"{', '.join(f'{v:.2f}' for v in speedup)}"
    )
    print(
        f"- sequential per run: {statistics.median(sequential) / len(requests):.2f} s "
        f"(one job seen at {statistics.median(one_job):.2f} s with fast polling)"
    )
    print(
        f"- target: sweep <= {TARGET_LOWER_BOUND}x the lower bound: "
        f"{'MET' if met_bound else 'MISSED'} ({statistics.median(vs_bound):.2f}x)"
    )
    print(
        f"- target: sweep >= {TARGET_SPEEDUP}x faster than sequential: "
        f"{'MET' if met_speed else 'MISSED'} ({statistics.median(speedup):.2f}x)"
    )

    b = breakdown(sweeps)
    print(f"\nwhere the sweep's time goes ({len(sweeps)} sweeps, {len(b.submit)} runs), ms:\n")
    print("| step | median | min | max |")
    print("|:---|---:|---:|---:|")
    print(f"| submitting -> submitted (turn check + POST) | {fmt(b.submit)} |")
    print(f"| submitting -> image made on the server | {fmt(b.server)} |")
    print(f"| image made -> run seen completed (poll cadence) | {fmt(b.notice)} |")
    print(f"| run completed -> next run of its platform submitting | {fmt(b.turn_gap)} |")
    print(f"| last run completed -> ev.sweep returned | {fmt(b.tail)} |")
    chain = statistics.median(sweep_s) - statistics.median(bound)
    print(
        f"\n- sweep minus lower bound: {chain:.2f} s over {groups} turns "
        f"({chain / groups * 1000:.0f} ms per turn)"
    )

    first = sweeps[0]
    steps = in_flight_steps(first.events, len(first.runs))
    print(f"\nruns in flight (submitted or running), round 1's sweep ({first.seconds:.2f} s):\n")
    print("t s -> in flight: " + ", ".join(f"{t:.2f}->{c}" for t, c in steps))
    print(f"sampled every 0.25 s from t=0: {sampled(steps, first.seconds)}")
    print(
        f"max in flight: {max(c for _, c in steps)} (raw, per callback: "
        f"{max(raw_max_in_flight(rec.events, len(rec.runs)) for rec in sweeps)} over all rounds)"
    )
    print(f"\n({time.perf_counter() - began:.0f} s)")
    home.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
