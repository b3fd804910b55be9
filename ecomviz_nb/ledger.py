"""The job ledger: an SQLite file that remembers every submitted job across kernel restarts.

Each job is written *before* its request is sent (state ``submitting``), then moved to
``submitted`` with the server's id, or to ``rejected`` / ``unknown`` when the submission failed.
A job left in ``unknown`` may or may not have started on the server: check before resubmitting.
Several processes (two notebooks) may write at once: the file uses WAL journaling, a busy
timeout, and one short ``BEGIN IMMEDIATE`` transaction per write.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .models import JOB_KINDS, JobKind, is_job_kind

__all__ = ["STATES", "JobLedger", "JobRecord"]

STATES = ("submitting", "submitted", "completed", "failed", "rejected", "unknown")
"""Every state a ledger row can be in."""

_KINDS_SQL = ", ".join(f"'{kind}'" for kind in JOB_KINDS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ({_KINDS_SQL})),
    base_url     TEXT NOT NULL,
    remote_id    TEXT,
    request      TEXT NOT NULL,
    expected     INTEGER NOT NULL,
    baseline     TEXT NOT NULL DEFAULT '[]',
    state        TEXT NOT NULL,
    done         INTEGER NOT NULL DEFAULT 0,
    status       TEXT,
    message      TEXT,
    submitted_at REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (base_url, submitted_at);
CREATE INDEX IF NOT EXISTS jobs_by_remote ON jobs (remote_id);
CREATE TABLE IF NOT EXISTS batches (
    name         TEXT NOT NULL,
    base_url     TEXT NOT NULL,
    request      TEXT NOT NULL,
    items        INTEGER NOT NULL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (name, base_url)
);
CREATE TABLE IF NOT EXISTS batch_items (
    batch        TEXT NOT NULL,
    base_url     TEXT NOT NULL,
    idx          INTEGER NOT NULL,
    label        TEXT NOT NULL,
    product_id   TEXT,
    image_urls   TEXT NOT NULL DEFAULT '[]',
    job_id       TEXT,
    state        TEXT NOT NULL,
    error        TEXT,
    images       INTEGER NOT NULL DEFAULT 0,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (batch, base_url, idx)
);
"""
_SCHEMA_VERSION = 2


@dataclass
class JobRecord:
    """One row of the ledger."""

    id: str
    kind: JobKind
    """``generate`` or ``tryon`` (:data:`~ecomviz_nb.models.JOB_KINDS`)."""
    base_url: str
    remote_id: str | None
    """The product id (generate) or the try-on id the server gave."""
    request: dict[str, Any]
    """The request's wire JSON, with any webhook token removed."""
    expected: int
    state: str
    submitted_at: float
    """Unix time of submission."""
    updated_at: float
    baseline: list[str] = field(default_factory=list)
    """``filePath`` of the images the product held before submission (generate jobs)."""
    done: int = 0
    status: str | None = None
    message: str | None = None


def scrub_request(wire: dict[str, Any]) -> dict[str, Any]:
    """A copy of a request body without secrets: the webhook token is dropped."""
    clean = dict(wire)
    hook = clean.get("webhook")
    if isinstance(hook, dict) and "token" in hook:
        clean["webhook"] = {k: v for k, v in hook.items() if k != "token"}
    return clean


class JobLedger:
    """The SQLite ledger at ``path`` (created with its folder on first write)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._ready = False

    def __repr__(self) -> str:
        return f"JobLedger({str(self.path)!r})"

    @contextmanager
    def connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A connection to the ledger file; with ``write=True``, inside one ``BEGIN IMMEDIATE``
        transaction committed on exit (rolled back on an error)."""
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as conn:
            conn.execute("PRAGMA busy_timeout = 30000")
            if not self._ready:
                self._migrate(conn)
                self._ready = True
            if not write:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        # WAL lets readers (a JobsPanel) run while another notebook writes. SQLite answers
        # "locked" at once, without the busy timeout, while another connection switches a new
        # file to WAL, so that one pragma is retried by hand.
        deadline = time.monotonic() + 30
        delay = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version < _SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def add(
        self,
        *,
        kind: str,
        base_url: str,
        request: dict[str, Any],
        expected: int,
        remote_id: str | None = None,
        baseline: builtins.list[str] | None = None,
    ) -> JobRecord:
        """Write a new job in state ``submitting`` and return it (call before sending).

        Args:
            kind: ``generate`` or ``tryon`` (:data:`~ecomviz_nb.models.JobKind`).

        Raises:
            sqlite3.IntegrityError: ``kind`` is not a job kind; nothing was written.
        """
        record = _new_record(kind, base_url, request, expected, remote_id, baseline)
        with self.connect(write=True) as conn:
            _insert(conn, record)
        return record

    def reserve(
        self,
        *,
        base_url: str,
        product_id: str,
        request: dict[str, Any],
        expected: int,
        baseline: builtins.list[str],
        blocks: Callable[[JobRecord], bool],
        stale_after: float,
    ) -> tuple[JobRecord | None, builtins.list[JobRecord]]:
        """Add a generation job for a product unless a job in flight there ``blocks`` it.

        Checking and writing happen in one transaction, so two notebooks cannot both take the
        same turn. A job is in flight while ``submitting``, ``submitted`` or ``unknown`` and
        younger than ``stale_after`` seconds.

        Returns:
            ``(record, [])`` when the job was added, or ``(None, blockers)`` when it must wait.
        """
        record = _new_record("generate", base_url, request, expected, product_id, baseline)
        with self.connect(write=True) as conn:
            cursor = conn.execute(
                "SELECT * FROM jobs WHERE base_url = ? AND remote_id = ? AND kind = 'generate'"
                " AND state IN ('submitting', 'submitted', 'unknown') AND submitted_at > ?"
                " ORDER BY submitted_at, rowid",
                (base_url, product_id, record.submitted_at - stale_after),
            )
            names = [d[0] for d in cursor.description]
            flying = [_record(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
            blockers = [other for other in flying if blocks(other)]
            if blockers:
                return None, blockers
            _insert(conn, record)
        return record, []

    def update(self, job_id: str, **changes: Any) -> None:
        """Change some of ``state``, ``remote_id``, ``done``, ``status``, ``message``."""
        allowed = {"state", "remote_id", "done", "status", "message"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"unknown ledger fields: {sorted(unknown)}")
        if "state" in changes and changes["state"] not in STATES:
            raise ValueError(f"state={changes['state']!r}; expected one of {STATES}")
        columns = sorted(changes)
        sets = ", ".join(f"{c} = ?" for c in columns)
        values = [changes[c] for c in columns]
        with self.connect(write=True) as conn:
            conn.execute(
                f"UPDATE jobs SET {sets}, updated_at = ? WHERE id = ?",
                (*values, time.time(), job_id),
            )

    def get(self, job_id: str, *, base_url: str | None = None) -> JobRecord | None:
        """The job with this ledger id, or else the newest one with this server id.

        Args:
            base_url: look server ids up only among this server's jobs (ids of two servers,
                say two sandboxes, may collide); ledger ids are unique everywhere.
        """
        with self.connect(write=False) as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                query = "SELECT * FROM jobs WHERE remote_id = ?"
                params: builtins.list[Any] = [job_id]
                if base_url is not None:
                    query += " AND base_url = ?"
                    params.append(base_url)
                query += " ORDER BY submitted_at DESC, rowid DESC LIMIT 1"
                row = conn.execute(query, params).fetchone()
            names = [d[0] for d in conn.execute("SELECT * FROM jobs LIMIT 0").description]
        return None if row is None else _record(dict(zip(names, row, strict=True)))

    def for_remote(self, remote_id: str, *, base_url: str) -> builtins.list[JobRecord]:
        """Every job of this server with this server id (a product's runs), oldest first."""
        with self.connect(write=False) as conn:
            cursor = conn.execute(
                "SELECT * FROM jobs WHERE remote_id = ? AND base_url = ?"
                " ORDER BY submitted_at, rowid",
                (remote_id, base_url),
            )
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        return [_record(dict(zip(names, row, strict=True))) for row in rows]

    def list(
        self, *, base_url: str | None = None, limit: int | None = 100
    ) -> builtins.list[JobRecord]:
        """Jobs newest first, for one base URL or all of them."""
        query = "SELECT * FROM jobs"
        params: list[Any] = []
        if base_url is not None:
            query += " WHERE base_url = ?"
            params.append(base_url)
        query += " ORDER BY submitted_at DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self.connect(write=False) as conn:
            cursor = conn.execute(query, params)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        return [_record(dict(zip(names, row, strict=True))) for row in rows]


def _new_record(
    kind: str,
    base_url: str,
    request: dict[str, Any],
    expected: int,
    remote_id: str | None,
    baseline: list[str] | None,
) -> JobRecord:
    if not is_job_kind(kind):  # the schema refuses it too; say so before opening the file
        allowed = " or ".join(repr(k) for k in JOB_KINDS)
        raise sqlite3.IntegrityError(f"kind={kind!r} is not a job kind: use {allowed}")
    now = time.time()
    return JobRecord(
        id="job_" + uuid.uuid4().hex[:16],
        kind=kind,
        base_url=base_url,
        remote_id=remote_id,
        request=scrub_request(request),
        expected=expected,
        state="submitting",
        submitted_at=now,
        updated_at=now,
        baseline=list(baseline or []),
    )


def _insert(conn: sqlite3.Connection, record: JobRecord) -> None:
    conn.execute(
        "INSERT INTO jobs (id, kind, base_url, remote_id, request, expected, baseline,"
        " state, done, submitted_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            record.id,
            record.kind,
            record.base_url,
            record.remote_id,
            json.dumps(record.request),
            record.expected,
            json.dumps(record.baseline),
            record.state,
            0,
            record.submitted_at,
            record.updated_at,
        ),
    )


def _record(row: dict[str, Any]) -> JobRecord:
    return JobRecord(
        id=row["id"],
        kind=row["kind"],
        base_url=row["base_url"],
        remote_id=row["remote_id"],
        request=json.loads(row["request"]),
        expected=row["expected"],
        state=row["state"],
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
        baseline=json.loads(row["baseline"]),
        done=row["done"],
        status=row["status"],
        message=row["message"],
    )
