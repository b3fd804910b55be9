"""The job ledger: round trips, validation, secrets, surviving a restart, concurrent writers."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from support import expect_line, python_scripts, send_line

import ecomviz_nb as ev
from ecomviz_nb import config
from ecomviz_nb.ledger import STATES, JobLedger

BASE_URL = "https://api.test"
REQUEST = ev.GenerateRequest(
    [ev.ImageSpec("main", count=2), ev.ImageSpec("vto", colors=["red"])]
).to_wire()


@pytest.fixture
def ledger(tmp_path: Path) -> JobLedger:
    return JobLedger(tmp_path / "jobs.sqlite3")


def sql(path: Path, query: str) -> list[tuple[Any, ...]]:
    """Run one query on the ledger file with plain sqlite3."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(query).fetchall()


def run_python(code: str, *args: str, home: Path, timeout: float = 30) -> str:
    """Run a Python snippet in a fresh interpreter with ECOMVIZ_HOME set; return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env={**os.environ, config.ENV_HOME: str(home)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# ---------------------------------------------------------------- round trips


def test_add_returns_a_submitting_record_that_get_reads_back(ledger: JobLedger) -> None:
    record = ledger.add(
        kind="generate",
        base_url=BASE_URL,
        request=REQUEST,
        expected=3,
        remote_id="p1",
        baseline=["old/1.jpg"],
    )
    assert record.id.startswith("job_")
    assert record.state == "submitting"
    assert (record.done, record.status, record.message) == (0, None, None)
    assert record.submitted_at == record.updated_at
    assert ledger.get(record.id) == record
    again = JobLedger(ledger.path).get(record.id)
    assert again == record
    assert again is not None
    assert again.request == REQUEST
    assert again.baseline == ["old/1.jpg"]
    assert (again.kind, again.base_url, again.remote_id, again.expected) == (
        "generate",
        BASE_URL,
        "p1",
        3,
    )


def test_add_gives_every_job_its_own_id(ledger: JobLedger) -> None:
    ids = {
        ledger.add(kind="tryon", base_url=BASE_URL, request={}, expected=1).id for _ in range(50)
    }
    assert len(ids) == 50


def test_update_changes_the_given_fields_only(ledger: JobLedger) -> None:
    record = ledger.add(kind="tryon", base_url=BASE_URL, request={"n": 1}, expected=1)
    ledger.update(record.id, state="submitted", remote_id="vto1", message="task submitted")
    ledger.update(record.id, done=1, status="processing")
    row = ledger.get(record.id)
    assert row is not None
    assert (row.state, row.remote_id, row.message, row.done, row.status) == (
        "submitted",
        "vto1",
        "task submitted",
        1,
        "processing",
    )
    assert (row.kind, row.request, row.expected) == ("tryon", {"n": 1}, 1)
    assert row.submitted_at == record.submitted_at
    assert row.updated_at >= record.updated_at
    assert ledger.get("vto1") == row


def test_every_documented_state_is_accepted(ledger: JobLedger) -> None:
    record = ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=1)
    for state in STATES:
        ledger.update(record.id, state=state)
        row = ledger.get(record.id)
        assert row is not None
        assert row.state == state


def test_list_is_newest_first_filtered_by_base_url_and_limited(ledger: JobLedger) -> None:
    a = ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=1)
    b = ledger.add(kind="tryon", base_url="https://other.test", request={}, expected=1)
    c = ledger.add(kind="tryon", base_url=BASE_URL, request={}, expected=1)
    assert [r.id for r in ledger.list()] == [c.id, b.id, a.id]
    assert [r.id for r in ledger.list(base_url=BASE_URL)] == [c.id, a.id]
    assert [r.id for r in ledger.list(limit=1)] == [c.id]
    assert [r.id for r in ledger.list(limit=None)] == [c.id, b.id, a.id]
    assert ledger.list(base_url="https://nobody.test") == []


def test_get_by_remote_id_returns_the_newest_job(ledger: JobLedger) -> None:
    ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=1, remote_id="p1")
    newer = ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=2, remote_id="p1")
    assert ledger.get("p1") == newer


def test_get_unknown_id_returns_none(ledger: JobLedger) -> None:
    ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=1, remote_id="p1")
    assert ledger.get("job_0000000000000000") is None
    assert ledger.get("p2") is None


def test_reading_a_fresh_ledger_finds_nothing(ledger: JobLedger) -> None:
    assert ledger.list() == []
    assert ledger.get("job_x") is None


# ---------------------------------------------------------------- validation


def test_update_rejects_an_unknown_state(ledger: JobLedger) -> None:
    record = ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=1)
    with pytest.raises(ValueError, match="bogus"):
        ledger.update(record.id, state="bogus", done=1)
    row = ledger.get(record.id)
    assert row is not None
    assert (row.state, row.done) == ("submitting", 0)


@pytest.mark.parametrize("field", ["expected", "request", "kind", "id", "base_url", "bogus"])
def test_update_rejects_fields_it_does_not_own(ledger: JobLedger, field: str) -> None:
    record = ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=1)
    with pytest.raises(TypeError, match=field):
        ledger.update(record.id, **{field: "x"}, state="failed")
    row = ledger.get(record.id)
    assert row == record


def test_add_rejects_an_unknown_kind(ledger: JobLedger) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        ledger.add(kind="video", base_url=BASE_URL, request={}, expected=1)
    assert ledger.list() == []


# ---------------------------------------------------------------- secrets


def test_webhook_token_is_never_stored(ledger: JobLedger) -> None:
    request = {
        **REQUEST,
        "webhook": {"url": "https://hooks.test/done", "token": "whsec-1"},
    }
    record = ledger.add(kind="generate", base_url=BASE_URL, request=request, expected=3)
    ledger.update(record.id, state="submitted")
    assert record.request["webhook"] == {"url": "https://hooks.test/done"}
    row = ledger.get(record.id)
    assert row is not None
    assert row.request == {**REQUEST, "webhook": {"url": "https://hooks.test/done"}}
    # The caller's dict is left as it was.
    assert request["webhook"]["token"] == "whsec-1"
    # Nowhere on disk: neither the database nor its write-ahead log.
    files = [p for p in ledger.path.parent.iterdir() if p.name.startswith(ledger.path.name)]
    raw = b"".join(p.read_bytes() for p in files)
    assert b"hooks.test/done" in raw
    assert b"whsec-1" not in raw


# ---------------------------------------------------------------- across processes

WRITE_JOB = """
    import ecomviz_nb as ev
    from ecomviz_nb import config
    from ecomviz_nb.ledger import JobLedger

    ledger = JobLedger(config.resolve_home() / "jobs.sqlite3")
    request = ev.GenerateRequest([ev.ImageSpec("main", count=2, aspect_ratio="4:3")])
    record = ledger.add(
        kind="generate", base_url="https://api.test", request=request.to_wire(),
        expected=request.expected_images, remote_id="p1", baseline=["old/1.jpg"],
    )
    ledger.update(record.id, state="submitted")
    print(record.id)
"""

RESUME_JOB = """
    import sys
    import ecomviz_nb as ev
    from ecomviz_nb import config
    from ecomviz_nb.ledger import JobLedger

    class Source:
        polls = 0

        def get_product(self, product_id):
            self.polls += 1
            new = [f"gen/{i}.jpg" for i in range(min(self.polls - 1, 2))]
            return ev.Product(id=product_id, generated_images=[
                ev.GeneratedImage(url="https://api.test/" + p, file_path=p)
                for p in ["old/1.jpg", *new]
            ])

    ledger = JobLedger(config.resolve_home() / "jobs.sqlite3")
    record = ledger.get(sys.argv[1])
    source = Source()
    job = ev.GenerationJob(record, source, ledger=ledger, sleep=lambda s: None)
    product = job.wait(timeout=30)
    print(product.id, job.state, source.polls, job.request.image_types[0].aspect_ratio)
    print(",".join(img.file_path for img in job.images))
"""


def test_a_job_survives_a_new_process(tmp_path: Path) -> None:
    home = tmp_path / "kernel-home"
    job_id = run_python(WRITE_JOB, home=home).strip()
    assert job_id.startswith("job_")
    path = home / "jobs.sqlite3"
    before = JobLedger(path).get(job_id)
    assert before is not None
    assert (before.state, before.done) == ("submitted", 0)

    out = run_python(RESUME_JOB, job_id, home=home).splitlines()
    assert out == ["p1 completed 3 4:3", "gen/0.jpg,gen/1.jpg"]
    after = JobLedger(path).get(job_id)
    assert after is not None
    assert (after.state, after.done, after.status) == ("completed", 2, "completed")


WRITER = """
    import sys
    from ecomviz_nb import config
    from ecomviz_nb.ledger import JobLedger

    name, count = sys.argv[1], int(sys.argv[2])
    ledger = JobLedger(config.resolve_home() / "jobs.sqlite3")
    print("ready", flush=True)
    sys.stdin.readline()  # start together, so the first writes (and the schema) race
    for i in range(count):
        record = ledger.add(
            kind="generate", base_url="https://" + name, request={"i": i}, expected=3,
            remote_id=f"{name}-{i}",
        )
        ledger.update(record.id, state="submitted", done=1)
        ledger.update(record.id, done=2, status="generating", message=f"{name}-{i}")
    print("done", flush=True)
"""


def check_all_rows(path: Path, writers: list[str], count: int) -> None:
    records = JobLedger(path).list(limit=None)
    assert len(records) == len(writers) * count
    assert len({r.id for r in records}) == len(records)
    by_writer = {
        w: sorted(r.request["i"] for r in records if r.base_url == "https://" + w) for w in writers
    }
    assert by_writer == {w: list(range(count)) for w in writers}
    for r in records:
        assert (r.state, r.done, r.status) == ("submitted", 2, "generating"), r
        assert r.message == r.remote_id
    assert sql(path, "PRAGMA integrity_check") == [("ok",)]


def test_concurrent_processes_do_not_corrupt_the_ledger(tmp_path: Path) -> None:
    home = tmp_path / "shared-home"
    writers, count = ["w0", "w1", "w2"], 100
    argvs = ([name, str(count)] for name in writers)
    env = {**os.environ, config.ENV_HOME: str(home)}
    with python_scripts(WRITER, *argvs, env=env) as procs:
        expect_line(procs, "ready")
        assert not (home / "jobs.sqlite3").exists()
        send_line(procs, "go")
        results = [proc.communicate(timeout=60) for proc in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out == "done\n"
    check_all_rows(home / "jobs.sqlite3", writers, count)


def test_first_use_waits_for_a_writer_holding_the_new_file(tmp_path: Path) -> None:
    # While one ledger switches a brand-new file to WAL it holds a write lock on it; a second
    # ledger's first use at that moment must wait for it (busy timeout), not fail at once.
    path = tmp_path / "jobs.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE IF NOT EXISTS unrelated (x)")
    release = threading.Timer(0.2, other.execute, args=("COMMIT",))
    release.start()
    try:
        record = JobLedger(path).add(kind="generate", base_url=BASE_URL, request={}, expected=1)
    finally:
        release.join()
        other.close()
    assert JobLedger(path).get(record.id) == record
    assert sql(path, "PRAGMA journal_mode") == [("wal",)]


def test_concurrent_threads_do_not_corrupt_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "threads" / "jobs.sqlite3"
    shared = JobLedger(path)
    writers, count = [f"t{n}" for n in range(6)], 30
    start = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def write(n: int, name: str) -> None:
        # Half the threads share one JobLedger object, half have their own.
        ledger = shared if n % 2 else JobLedger(path)
        try:
            start.wait()
            for i in range(count):
                record = ledger.add(
                    kind="tryon",
                    base_url="https://" + name,
                    request={"i": i},
                    expected=1,
                    remote_id=f"{name}-{i}",
                )
                ledger.update(record.id, state="submitted", done=1)
                ledger.update(record.id, done=2, status="generating", message=f"{name}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n, w)) for n, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    check_all_rows(path, writers, count)


# ---------------------------------------------------------------- the file


def test_the_file_uses_wal_journaling(ledger: JobLedger) -> None:
    ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=1)
    assert sql(ledger.path, "PRAGMA journal_mode") == [("wal",)]
    assert json.loads(sql(ledger.path, "SELECT request FROM jobs")[0][0]) == {}


def test_the_folder_is_created_on_first_use(isolated_env: Path) -> None:
    path = config.resolve_home() / "jobs.sqlite3"
    assert path.parent == isolated_env
    ledger = JobLedger(path)
    assert not isolated_env.exists()  # building the object touches nothing
    record = ledger.add(kind="generate", base_url=BASE_URL, request={}, expected=1)
    assert path.is_file()
    assert JobLedger(path).get(record.id) == record


def test_a_ledger_in_missing_nested_folders_works(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "jobs.sqlite3"
    ledger = JobLedger(path)
    record = ledger.add(kind="tryon", base_url=BASE_URL, request={}, expected=1)
    assert path.is_file()
    assert [r.id for r in JobLedger(path).list()] == [record.id]
    assert sql(path, "PRAGMA journal_mode") == [("wal",)]
