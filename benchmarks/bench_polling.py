"""How many GET requests ``GenerationJob.wait()`` makes, and how late it notices completion.

Measures, in simulated time (nothing really sleeps), a generation job that completes after a
given duration. ``wait()`` runs unchanged on a fake clock, a fake sleep and a seeded jitter
source; the product source is a fake whose ``get_product`` counts calls and answers with the
expected new images once the fake time reaches the completion time. The baseline is a loop
that polls every 0.5 s, its first poll at t=0 like ``wait()``.

Target, for jobs that complete after 30 s and after 300 s: at most a quarter of fixed 0.5 s
polling's requests, and completion noticed within max(1 s, 10% of the job's duration). Both
are judged on the worst of the seeds (1,000 by default), so jitter cannot hide a miss. Rows for
5 s, 60 s and 600 s are shown for information and are not targeted.

By default the package's schedule is measured as it is. ``--initial/--growth/--maximum/
--jitter`` measure a candidate schedule instead, by wrapping ``ecomviz_nb.polling.poll_delay`` in
this process only (patching the ``POLL_*`` constants alone would change nothing: they are bound
as default arguments when the module is imported).

Run: ``python benchmarks/bench_polling.py [--quick] [--growth 0.02 ...]``
"""

from __future__ import annotations

import argparse
import functools
import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ecomviz_nb as ev
from ecomviz_nb import job_base, jobs, polling
from ecomviz_nb.jobs import GenerationJob
from ecomviz_nb.ledger import JobRecord

FIXED_INTERVAL = 0.5
REQUEST_RATIO_TARGET = 0.25
TARGETED = (30.0, 300.0)
INFORMATIONAL = (5.0, 60.0, 600.0)
BASE_URL = "https://ecomviz.example"
PRODUCT_ID = "65a1f0c2e4b0a1b2c3d4e5f6"

_PACKAGE_POLL_DELAY = jobs.poll_delay


def allowed_lag(duration: float) -> float:
    """Seconds by which completion must be noticed: max(1 s, 10% of the duration)."""
    return max(1.0, 0.1 * duration)


def fixed_requests(duration: float, interval: float = FIXED_INTERVAL) -> tuple[int, float]:
    """Requests and detection lag of polling every ``interval`` s, first poll at t=0."""
    k = 0
    while k * interval < duration:
        k += 1
    return k + 1, k * interval - duration


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


# ---------------------------------------------------------------- the simulated job


class FakeTime:
    """A clock and a sleep that only move when slept on."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _image(path: str, kind: str = "main") -> dict[str, Any]:
    return {
        "filePath": path,
        "generatedAt": "2026-11-01T12:00:00.000Z",
        "generationParams": {
            "platform": "general",
            "region": "global",
            "imageType": kind,
            "color": "red",
        },
    }


def _request() -> ev.GenerateRequest:
    return ev.GenerateRequest(
        [
            ev.ImageSpec("main", count=3, aspect_ratio="1:1"),
            ev.ImageSpec("detail", count=2, aspect_ratio="4:3"),
            ev.ImageSpec("vto", colors=["red", "blue"]),
        ]
    )


class FakeSource:
    """A product source: before ``complete_at`` only old images, afterwards all new ones too."""

    def __init__(self, fake: FakeTime, complete_at: float, baseline: list[str], new: int) -> None:
        self.fake = fake
        self.complete_at = complete_at
        self.calls = 0
        self.done_at: float | None = None
        old = [_image(p) for p in baseline]
        fresh = [_image(f"generated/{PRODUCT_ID}/{i}.jpg") for i in range(new)]
        data = {"_id": PRODUCT_ID, "productName": "Shirt", "colors": ["red"], "aiAnalysis": {}}
        self._before = ev.Product.from_wire({**data, "generatedImages": old}, base_url=BASE_URL)
        self._after = ev.Product.from_wire(
            {**data, "generatedImages": old + fresh}, base_url=BASE_URL
        )

    def get_product(self, product_id: str) -> ev.Product:
        assert product_id == PRODUCT_ID
        self.calls += 1
        if self.fake.now >= self.complete_at:
            return self._after
        return self._before


def run_wait(duration: float, seed: int) -> tuple[int, float]:
    """Requests made by ``GenerationJob.wait()`` and how late it noticed completion."""
    request = _request()
    baseline = [f"old/{PRODUCT_ID}/0.jpg", f"old/{PRODUCT_ID}/1.jpg"]
    fake = FakeTime()
    now = fake.clock()
    record = JobRecord(
        id=f"job_bench{seed}",
        kind="generate",
        base_url=BASE_URL,
        remote_id=PRODUCT_ID,
        request=request.to_wire(),
        expected=request.expected_images,
        state="submitted",
        submitted_at=now,
        updated_at=now,
        baseline=baseline,
    )
    source = FakeSource(fake, duration, baseline, request.expected_images)
    rng = random.Random(seed)
    job = GenerationJob(
        record, source, ledger=None, clock=fake.clock, sleep=fake.sleep, rand=rng.random
    )
    # No deadline: measure the schedule itself (the default timeout=600 would clip the last
    # sleep of the 600 s row to the deadline).
    product = job.wait(timeout=None)
    assert len(job.images) == request.expected_images, (product, job.images)
    assert job.state == "completed"
    return source.calls, fake.now - duration


# ---------------------------------------------------------------- measuring


@dataclass
class Row:
    duration: float
    targeted: bool
    fixed: int
    requests: list[int]
    lags: list[float]

    @property
    def ratio_max(self) -> float:
        return max(self.requests) / self.fixed

    @property
    def passed(self) -> bool:
        return (
            self.ratio_max <= REQUEST_RATIO_TARGET
            and max(self.lags) <= allowed_lag(self.duration) + 1e-9
        )


def measure(durations: Sequence[float], seeds: int) -> list[Row]:
    rows = []
    for duration in durations:
        fixed, _ = fixed_requests(duration)
        requests, lags = [], []
        for seed in range(seeds):
            n, lag = run_wait(duration, seed)
            requests.append(n)
            lags.append(lag)
        rows.append(Row(duration, duration in TARGETED, fixed, requests, lags))
    return rows


def print_table(rows: Sequence[Row], seeds: int) -> None:
    print(
        "| job duration | targeted | fixed 0.5 s requests | wait() requests median | "
        "wait() requests max | ratio (max) | lag median s | lag p99 s | lag max s | "
        "allowed lag s | pass/fail |"
    )
    print("|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|")
    for r in sorted(rows, key=lambda r: r.duration):
        verdict = "PASS" if r.passed else "FAIL"
        if not r.targeted:
            verdict = f"n/a (info: would {verdict.lower()})"
        print(
            f"| {r.duration:g} s | {'yes' if r.targeted else 'no'} | {r.fixed} | "
            f"{statistics.median(r.requests):g} | {max(r.requests)} | {r.ratio_max:.3f} | "
            f"{statistics.median(r.lags):.2f} | {percentile(r.lags, 99):.2f} | "
            f"{max(r.lags):.2f} | {allowed_lag(r.duration):g} | {verdict} |"
        )
    print(
        f"\n{seeds} seeds per duration; ratio = max wait() requests / fixed 0.5 s requests "
        f"(target <= {REQUEST_RATIO_TARGET}); lag = time of the poll that saw completion minus "
        "the completion time; pass = worst seed meets both."
    )


def use_schedule(params: dict[str, float]) -> None:
    """Make ``wait()`` in this process use ``params`` (the package files are untouched)."""
    candidate = functools.partial(_PACKAGE_POLL_DELAY, **params)
    # The wait loop reads it from job_base; retry_pause from polling.
    job_base.poll_delay = polling.poll_delay = candidate  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 seeds instead of 1,000")
    parser.add_argument("--seeds", type=int, help="seeds per duration (default 1000)")
    parser.add_argument("--initial", type=float, help="candidate first delay (s)")
    parser.add_argument("--growth", type=float, help="candidate delay growth per second of age")
    parser.add_argument("--maximum", type=float, help="candidate longest delay (s)")
    parser.add_argument("--jitter", type=float, help="candidate relative jitter")
    args = parser.parse_args(argv)
    seeds = args.seeds or (200 if args.quick else 1000)

    print(f"python {platform.python_version()}, ecomviz_nb {ev.__version__}")
    names = ("initial", "growth", "maximum", "jitter")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    package = {k: getattr(jobs, f"POLL_{k.upper()}") for k in names}
    schedule = {**package, **overrides}
    label = "candidate (not the package's)" if overrides else "the package as it is"
    print(f"\n## wait() schedule: {label}: {schedule}\n")
    if overrides:
        use_schedule(overrides)
    started = time.perf_counter()
    rows = measure((*TARGETED, *INFORMATIONAL), seeds)
    print_table(rows, seeds)
    print(f"({time.perf_counter() - started:.1f} s)")
    job_base.poll_delay = polling.poll_delay = _PACKAGE_POLL_DELAY
    return 0


if __name__ == "__main__":
    sys.exit(main())
