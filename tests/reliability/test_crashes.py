"""Crashes: a real kernel killed with SIGKILL while its jobs wait, and a ledger writer killed
mid-write.

The kernel test runs the sandbox in a process of its own (``ecomviz-nb sandbox --data-dir``),
so it outlives the kernel, exactly as the real API outlives a notebook. A first kernel
(``jupyter_client``) submits 20 generation runs and 4 try-ons and is killed with SIGKILL while a
cell awaits all of them; a second kernel finds them in the ledger (``client.jobs.list()``) and
waits them out. Nothing may be lost, mixed up or submitted twice.

Two processes writing the ledger at the same time are covered by
``tests/test_ledger.py::test_concurrent_processes_do_not_corrupt_the_ledger``; here a writer is
killed in the middle of its writes while another one goes on.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel
from support import SandboxProcess, expect_line, python_scripts, send_line, wait_until

from ecomviz_nb import config
from ecomviz_nb.ledger import JobLedger

TOKEN = "crash-test-token"
JOB_SECONDS = 8.0
"""How long one sandbox job takes: long enough that the kill surely lands mid-job."""
PRODUCTS = 4
RUNS_PER_PRODUCT = 5
GENERATIONS = PRODUCTS * RUNS_PER_PRODUCT  # 20
TRY_ONS = 4
KERNEL_START = 60.0
CELL_TIMEOUT = 120.0


# ---------------------------------------------------------------- helpers


def kernel_env(home: Path, base_url: str) -> dict[str, str]:
    """This process's environment with the kernel's own ledger, server and token."""
    dropped = {config.ENV_TOKEN, config.ENV_BASE_URL, config.ENV_LOG, config.ENV_HOME}
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    env[config.ENV_HOME] = str(home)
    env[config.ENV_BASE_URL] = base_url
    env[config.ENV_TOKEN] = TOKEN
    return env


@contextmanager
def kernel(env: dict[str, str], cwd: Path) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A real IPython kernel (the venv's ``python3``), shut down or cleaned up on exit."""
    km, kc = start_new_kernel(
        startup_timeout=KERNEL_START, kernel_name="python3", env=env, cwd=str(cwd)
    )
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        with suppress(Exception):
            km.shutdown_kernel(now=True)


def run_cell(kc: BlockingKernelClient, code: str, timeout: float = CELL_TIMEOUT) -> str:
    """Execute ``code`` to the end; returns its stdout (fails with the traceback on an error)."""
    printed: list[str] = []
    errors: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            printed.append(content["text"])
        elif msg["msg_type"] == "error":
            errors.append("\n".join(content["traceback"]))

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook, allow_stdin=False)
    status = reply["content"]["status"]
    assert status == "ok" and not errors, f"the cell failed ({status}):\n" + "\n".join(errors)
    return "".join(printed)


def read_until(kc: BlockingKernelClient, marker: str, timeout: float) -> str:
    """Read the kernel's output until a stream line starting with ``marker``; returns it."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        content = msg["content"]
        if msg["msg_type"] == "error":
            raise AssertionError("the cell failed:\n" + "\n".join(content["traceback"]))
        if msg["msg_type"] == "stream":
            seen.append(content["text"])
            for line in "".join(seen).splitlines():
                if line.startswith(marker):
                    return line
    raise AssertionError(f"no {marker!r} line within {timeout:g} s; the kernel printed {seen!r}")


def ledger_rows(home: Path) -> list[dict[str, Any]]:
    """The ledger's job rows as the kernels left them, read with plain sqlite3."""
    with closing(sqlite3.connect(home / "jobs.sqlite3", timeout=30)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM jobs ORDER BY submitted_at")]


def integrity(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        return list(conn.execute("PRAGMA integrity_check").fetchall())


# ---------------------------------------------------------------- the cells

SUBMIT_AND_WAIT = """
import asyncio
import os

import ecomviz_nb as ev

PRODUCTS, RUNS, TRY_ONS = {products}, {runs}, {try_ons}
client = ev.AsyncClient()  # server, token and ledger from the environment
samples = client.base_url + "/samples/"
sources = ["products/tshirt-red.jpg", "products/sneaker-white.jpg"]


def request(k):
    # A platform of its own per run, so the runs on one product go at once.
    specs = [ev.ImageSpec("main", count=1 + k % 3)]
    if k % 2 == 0:
        specs.append(ev.ImageSpec("detail", count=1, aspect_ratio="4:3"))
    return ev.GenerateRequest(specs, platform=f"shop-{{k}}")


products = [
    await client.create_product([samples + sources[i % 2]]) for i in range(PRODUCTS)
]
jobs = [await client.generate(p.id, request(k)) for p in products for k in range(RUNS)]
for i in range(TRY_ONS):
    jobs.append(
        await client.try_on(
            ev.TryOnRequest(
                person_image_url=samples + "people/person-a.jpg",
                clothing=[ev.Clothing(samples + "garments/dress-green.png", info=f"look {{i}}")],
            )
        )
    )
print("WAITING", os.getpid(), len(jobs), flush=True)
await asyncio.gather(*(job.wait(timeout=600) for job in jobs))
print("FINISHED", flush=True)  # never printed: the kernel is killed while it waits
"""

RESUME = """
import json

import ecomviz_nb as ev

client = ev.Client(base_url={base_url!r})
jobs = client.jobs.list()
summary = []
for job in jobs:
    job.wait(timeout=120)
    summary.append(
        {{
            "id": job.id,
            "kind": job.record.kind,
            "state": job.state,
            "expected": job.expected,
            "remote_id": job.record.remote_id,
            "status": job.result.status if job.record.kind == "tryon" else None,
            "images": [
                [img.file_path, img.image_type, img.platform] for img in job.images
            ],
        }}
    )
print("RESUMED " + json.dumps(summary), flush=True)
"""


# ---------------------------------------------------------------- the tests


def test_a_kernel_killed_while_its_jobs_wait_is_resumed_from_the_ledger_by_a_new_kernel(
    tmp_path: Path, sandbox_process: Callable[..., SandboxProcess]
) -> None:
    home = tmp_path / "ecomviz-home"
    started = time.monotonic()
    server = sandbox_process(
        "--data-dir",
        str(tmp_path / "sandbox-data"),
        "--job-seconds",
        str(JOB_SECONDS),
        "--log-level",
        "warning",
        token=TOKEN,
    )
    env = kernel_env(home, server.url)
    cell = SUBMIT_AND_WAIT.format(products=PRODUCTS, runs=RUNS_PER_PRODUCT, try_ons=TRY_ONS)

    # ---- the first kernel submits everything and is killed while it awaits the jobs
    with kernel(env, tmp_path) as (km, kc):
        cell_id = kc.execute(cell, allow_stdin=False)
        line = read_until(kc, "WAITING", CELL_TIMEOUT)
        _, pid_text, count_text = line.split()
        pid = int(pid_text)
        assert int(count_text) == GENERATIONS + TRY_ONS
        assert pid == km.provisioner.pid  # type: ignore[union-attr]

        # Every job was polled once: the gather is running. None can be finished yet.
        def all_polled() -> list[dict[str, Any]] | None:
            rows = ledger_rows(home)
            polled = [r for r in rows if r["state"] == "submitted" and r["status"]]
            return rows if len(polled) == GENERATIONS + TRY_ONS else None

        before = wait_until(all_polled, 30, "every job polled once")
        accepted = server.jobs()
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: not km.is_alive(), 10, "the kernel process dying")
        unfinished = [j for j in accepted if j["state"] != "completed"]
        assert len(unfinished) == GENERATIONS + TRY_ONS, "the kill came too late"
        assert [r["state"] for r in ledger_rows(home)] == ["submitted"] * len(before)
        # The cell never answered: it was executing when the kernel died.
        replies = []
        with suppress(queue.Empty):
            while True:
                replies.append(kc.get_shell_msg(timeout=0.2))
        assert [m for m in replies if m["parent_header"].get("msg_id") == cell_id] == []

    # ---- a new kernel finds the jobs in the ledger and waits them out
    with kernel(env, tmp_path) as (_km, kc2):
        out = run_cell(kc2, RESUME.format(base_url=server.url))
    resumed_after = time.monotonic() - killed_at
    (line,) = [x for x in out.splitlines() if x.startswith("RESUMED ")]
    summary = json.loads(line[len("RESUMED ") :])

    after = ledger_rows(home)
    final_jobs = server.jobs()
    products = {r["remote_id"] for r in before if r["kind"] == "generate"}
    product_docs = {pid: server.product(pid) for pid in products}

    # The new kernel waited on exactly the jobs the killed one had submitted, and all finished.
    assert sorted(j["id"] for j in summary) == sorted(r["id"] for r in before)
    assert Counter(j["kind"] for j in summary) == {"generate": GENERATIONS, "tryon": TRY_ONS}
    assert {j["state"] for j in summary} == {"completed"}
    requests = {r["id"]: json.loads(r["request"]) for r in before}
    for job in summary:
        assert len(job["images"]) == job["expected"], job
        if job["kind"] == "generate":
            platform = requests[job["id"]]["platform"]
            for path, image_type, image_platform in job["images"]:
                assert path.startswith(f"files/products/{job['remote_id']}/"), (job["id"], path)
                assert image_type in ("main", "detail")
                assert image_platform == platform
            asked = Counter(
                kind
                for spec in requests[job["id"]]["imageType"]
                for kind in spec
                if kind in ("main", "detail")
                for _ in range(spec[kind])
            )
            assert Counter(image_type for _, image_type, _ in job["images"]) == asked
        else:
            assert job["status"] == "completed"
            assert job["images"][0][0].endswith(f"/files/vto/{job['remote_id']}/result-0.jpg")
    paths = [img[0] for job in summary for img in job["images"]]
    assert len(paths) == len(set(paths)), "two jobs claimed the same image"

    # The ledger says so too, and the kill left the file intact.
    assert {(r["id"], r["state"], r["done"]) for r in after} == {
        (r["id"], "completed", r["expected"]) for r in before
    }
    assert integrity(home / "jobs.sqlite3") == [("ok",)]

    # Nothing was submitted twice: the sandbox holds the 24 jobs it had accepted, all done.
    assert sorted(j["id"] for j in final_jobs) == sorted(j["id"] for j in accepted)
    assert Counter(j["kind"] for j in final_jobs) == {"generate": GENERATIONS, "tryon": TRY_ONS}
    assert Counter(j["target"] for j in final_jobs if j["kind"] == "generate") == dict.fromkeys(
        products, RUNS_PER_PRODUCT
    )
    assert {j["state"] for j in final_jobs} == {"completed"}
    # ... and every product holds exactly its runs' images, each once.
    for pid, doc in product_docs.items():
        held = [img["filePath"] for img in doc["generatedImages"]]
        claimed = [img[0] for job in summary if job["remote_id"] == pid for img in job["images"]]
        assert sorted(held) == sorted(claimed), pid
    print(
        f"kill to all {len(summary)} resumed: {resumed_after:.1f} s; "
        f"whole test {time.monotonic() - started:.1f} s"
    )


WRITER = """
import sys
from pathlib import Path
from ecomviz_nb.ledger import JobLedger

ledger = JobLedger(sys.argv[1])
name, stop = sys.argv[2], Path(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()  # start together
i = 0
while not stop.exists():  # the victim never sees it: it is killed first
    record = ledger.add(
        kind="generate", base_url="https://" + name, request={"i": i}, expected=3,
        remote_id=f"{name}-{i}",
    )
    ledger.update(record.id, state="submitted", done=1)
    ledger.update(record.id, done=2, status="generating", message=f"{name}-{i}")
    i += 1
    if i == 5:
        print("running", flush=True)
print("done", i, flush=True)
"""


def test_a_writer_killed_mid_write_leaves_the_ledger_intact_for_the_others(
    tmp_path: Path,
) -> None:
    path = tmp_path / "home" / "jobs.sqlite3"
    stop = tmp_path / "stop"
    ledger = JobLedger(path)
    ledger.list()  # the file exists, in WAL mode, before the writers start

    def written(name: str) -> int:
        return sum(r.base_url == "https://" + name for r in ledger.list(limit=None))

    names = ("victim", "survivor")
    with python_scripts(WRITER, *([str(path), name, str(stop)] for name in names)) as procs:
        victim, survivor = procs
        expect_line(procs, "ready")
        send_line(procs, "go")
        expect_line(procs, "running")
        victim.kill()  # SIGKILL, at whatever point of a transaction it is
        victim.wait(timeout=10)
        at_kill = written("survivor")
        # The other writer goes on: no lock or half-written transaction holds it up.
        wait_until(lambda: written("survivor") >= at_kill + 50, 30, "the survivor going on")
        stop.touch()
        out, err = survivor.communicate(timeout=30)
    assert survivor.returncode == 0, err
    assert out.startswith("done ")
    count = int(out.split()[1])
    assert victim.returncode == -signal.SIGKILL

    assert integrity(path) == [("ok",)]
    rows = ledger.list(limit=None)
    survivors = [r for r in rows if r.base_url == "https://survivor"]
    assert sorted(r.request["i"] for r in survivors) == list(range(count))
    for r in survivors:
        assert (r.state, r.done, r.status, r.message) == ("submitted", 2, "generating", r.remote_id)
    victims = sorted(
        (r for r in rows if r.base_url == "https://victim"), key=lambda r: r.request["i"]
    )
    assert len(victims) >= 5
    assert [r.request["i"] for r in victims] == list(range(len(victims)))
    steps = [(r.state, r.done, r.status) for r in victims]
    # Each write is whole: only the last row may be short of its last step, never in between.
    assert steps[:-1] == [("submitted", 2, "generating")] * (len(victims) - 1)
    assert steps[-1] in (("submitting", 0, None), ("submitted", 1, None), steps[0])
    # ... and the ledger takes new writes at once (no lock was left behind).
    record = ledger.add(kind="tryon", base_url="https://after", request={}, expected=1)
    ledger.update(record.id, state="completed", done=1)
    got = ledger.get(record.id)
    assert got is not None and (got.state, got.done) == ("completed", 1)
