"""The sandbox's state: products, try-ons and jobs in SQLite, files in SQLite or on disk.

With no data folder everything lives in an in-memory SQLite database. With one, the database
is ``sandbox.sqlite3`` and files sit under ``files/`` beside it, so a restart keeps them.
All access happens on the server's event loop thread; renders never touch the store.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tryons (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, doc TEXT NOT NULL,
    state TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, content_type TEXT NOT NULL, data BLOB);
"""


class Store:
    """Products, try-ons, jobs and files of one sandbox."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            target = str(data_dir / "sandbox.sqlite3")
        else:
            target = ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        if data_dir is not None:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def reset(self) -> None:
        """Forget everything (``POST /_sandbox/reset``)."""
        with self._lock:
            for table in ("products", "tryons", "jobs", "files"):
                self._db.execute(f"DELETE FROM {table}")
        if self.data_dir is not None:
            for path in sorted((self.data_dir / "files").rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()

    # ---- documents

    def _get(self, table: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT doc FROM {table} WHERE id = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _put(self, table: str, key: str, doc: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)", (key, json.dumps(doc))
            )

    def get_product(self, product_id: str) -> dict[str, Any] | None:
        return self._get("products", product_id)

    def put_product(self, doc: dict[str, Any]) -> None:
        self._put("products", doc["_id"], doc)

    def count_products(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM products").fetchone()[0])

    def get_try_on(self, vto_id: str) -> dict[str, Any] | None:
        return self._get("tryons", vto_id)

    def put_try_on(self, doc: dict[str, Any]) -> None:
        self._put("tryons", doc["_id"], doc)

    # ---- jobs (the worker's plan and progress, so a restart can resume)

    def put_job(self, job: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs (id, kind, target, doc, state, seq) VALUES "
                "(?, ?, ?, ?, ?, COALESCE((SELECT seq FROM jobs WHERE id = ?),"
                " (SELECT COUNT(*) FROM jobs)))",
                (job["id"], job["kind"], job["target"], json.dumps(job), job["state"], job["id"]),
            )

    def jobs(self, *, unfinished: bool = False) -> list[dict[str, Any]]:
        query = "SELECT doc FROM jobs"
        if unfinished:
            query += " WHERE state IN ('queued', 'processing')"
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq").fetchall()
        return [json.loads(row[0]) for row in rows]

    # ---- files

    def _disk_path(self, path: str) -> Path:
        assert self.data_dir is not None
        parts = PurePosixPath(path).parts
        if not parts or any(p in ("..", "") or p.startswith("/") for p in parts):
            raise ValueError(f"bad file path {path!r}")
        return self.data_dir.joinpath("files", *parts)

    def put_file(self, path: str, data: bytes, content_type: str) -> None:
        """Store a file under a relative POSIX path such as ``files/products/p1/0-main.jpg``."""
        if self.data_dir is not None:
            target = self._disk_path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
            data_column: bytes | None = None
        else:
            data_column = data
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO files (path, content_type, data) VALUES (?, ?, ?)",
                (path, content_type, data_column),
            )

    def get_file(self, path: str) -> tuple[bytes, str] | None:
        """The file's bytes and content type, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT content_type, data FROM files WHERE path = ?", (path,)
            ).fetchone()
        if row is None:
            return None
        content_type, data = row
        if data is None:
            try:
                data = self._disk_path(path).read_bytes()
            except (OSError, ValueError):
                return None
        return bytes(data), str(content_type)
