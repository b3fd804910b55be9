"""Soak: the faults suite at full size, and a long outage in the middle of a long job.

1. ``--jobs`` intended calls (default 300: 150 generate, 150 try-on) through one
   ``ev.AsyncClient``, 16 at a time, against an in-process sandbox that injects ~20 % request
   faults (500s, 429 with ``Retry-After``, connections dropped before or after the request ran,
   slow answers) and fails 5 % of its jobs. Prints a markdown table: jobs, faults injected by
   kind (500s, 429s and drops as the sandbox counted them; slow answers as the client timed
   them), completed, failed (grouped by reason), recovered unknowns (submissions whose answer
   was lost, followed to completion with ``err.job.wait()``), duplicates (an intended call the
   server ran twice), lost (a server job the ledger does not hold) and unlinked (a try-on that
   ran although its vtoId never reached the client: the ledger holds its request as
   ``unknown``), then every broken property, if any.
2. An outage (every ``/api/`` request answered 500) of ``--outage-seconds`` (60) in the middle
   of a generation of ``--job-seconds`` (120), switched on and off by a background task. Prints
   its timeline: each poll's HTTP attempts and the progress status the job reported.

How calls, server jobs and ledger rows are matched, and the properties checked, are in
``tests/reliability/faults_harness.py``, which this script shares with the CI version
(``tests/reliability/test_faults.py``: 60 jobs, a 6 s outage in a 12 s job).

Exits with status 1 if a property broke or the outage did not end with the job's images.

Run: ``python benchmarks/soak.py [--jobs 300] [--seed 1] [--outage-seconds 60]
[--job-seconds 120] [--no-outage]`` (about 3.5 minutes; ``make soak``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the suite's engine: tests/reliability/faults_harness

from reliability.faults_harness import FaultMix, run_faults, run_outage  # noqa: E402

import ecomviz_nb as ev  # noqa: E402
from ecomviz_nb import config  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300, help="intended calls (default 300)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1, help="the sandbox's fault seed")
    parser.add_argument(
        "--wait-timeout",
        type=float,
        default=10.0,
        help="each job.wait(); a failed generation ends by it (default 10 s)",
    )
    parser.add_argument("--outage-seconds", type=float, default=60.0)
    parser.add_argument("--job-seconds", type=float, default=120.0, help="the outage's job")
    parser.add_argument("--no-outage", action="store_true", help="skip the outage experiment")
    args = parser.parse_args()
    if args.jobs < 2 or args.concurrency < 1:
        parser.error("--jobs must be >= 2 and --concurrency >= 1")
    if not 0 < args.outage_seconds <= args.job_seconds:
        parser.error("--outage-seconds must be in (0, --job-seconds]")
    return args


def faults_run(args: argparse.Namespace) -> bool:
    mix = FaultMix(seed=args.seed)
    print(f"## {args.jobs} jobs under faults\n")
    print(
        f"500 {mix.error_rate:.1%}, 429 {mix.rate_limit_rate:.1%} (Retry-After "
        f"{mix.retry_after} s), dropped before the request ran {mix.drop_rate:.1%}, dropped "
        f"after it ran {mix.drop_answer_rate:.1%}, slow ({mix.slow_seconds:g} s) "
        f"{mix.slow_rate:.1%}; failed jobs {mix.fail_job_rate:.0%}; seed {mix.seed}; "
        f"{args.concurrency} at a time; jobs take {mix.job_seconds:g} s; wait timeout "
        f"{args.wait_timeout:g} s\n",
        flush=True,
    )
    with ev.Sandbox(port=0, job_seconds=mix.job_seconds, log_level="critical") as sb:
        report = asyncio.run(
            run_faults(
                sb,
                jobs=args.jobs,
                mix=mix,
                concurrency=args.concurrency,
                wait_timeout=args.wait_timeout,
                tag="soak",
            )
        )
    print(report.table())
    problems = report.problems()
    print()
    if problems:
        print(f"**{len(problems)} broken properties:**\n")
        print("\n".join(f"- {p}" for p in problems))
    else:
        print(
            "Every job ended completed or failed with its reason; no duplicates, nothing lost, "
            "no POST resent after an attempt that may have started it."
        )
    return not problems


def outage_run(args: argparse.Namespace) -> bool:
    seconds = f"{args.outage_seconds:g} s outage in the middle of a {args.job_seconds:g} s job"
    print(f"\n## A {seconds}\n")
    print("(each row: when a poll started, its HTTP attempts, the status wait() reported)\n")
    with ev.Sandbox(port=0, job_seconds=1, log_level="critical") as sb:
        report = asyncio.run(
            run_outage(sb, job_seconds=args.job_seconds, outage_seconds=args.outage_seconds)
        )
    print(report.timeline())
    ok = report.error is None and len(report.images) == 4
    print("\noutage: ok" if ok else "\noutage: FAILED")
    return ok


def main() -> int:
    args = parse_args()
    os.environ[config.ENV_HOME] = tempfile.mkdtemp(prefix="ecomviz-soak-")
    print(
        f"# Soak: ecomviz_nb {ev.__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs\n"
    )
    started = time.monotonic()
    ok = faults_run(args)
    if not args.no_outage:
        ok = outage_run(args) and ok
    print(f"\ntotal {time.monotonic() - started:.0f} s: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
