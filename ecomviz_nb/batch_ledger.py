"""Where batches keep their items' progress: two tables of the job ledger's SQLite file.

A batch is known by its name and server. Each item's row moves ``pending`` → ``creating`` →
``created`` → ``submitting`` → ``submitted`` → ``completed`` / ``failed``, or ``unknown`` when
a paid request's answer was lost (it is reported, never sent again by a resume).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from .ledger import JobLedger

__all__ = ["ITEM_STATES", "BatchBook", "ItemRow"]

ITEM_STATES = (
    "pending",
    "creating",
    "created",
    "submitting",
    "submitted",
    "completed",
    "failed",
    "unknown",
)


@dataclass
class ItemRow:
    """One item as the ledger keeps it."""

    idx: int
    label: str
    state: str
    product_id: str | None = None
    image_urls: list[str] = field(default_factory=list)
    job_id: str | None = None
    error: str | None = None
    images: int = 0
    updated_at: float = 0.0


class BatchBook:
    """The batches of one server in a ledger file."""

    def __init__(self, ledger: JobLedger, base_url: str) -> None:
        self.ledger = ledger
        self.base_url = base_url

    def load(self, name: str) -> tuple[dict[str, Any], list[ItemRow]] | None:
        """The batch's request and items, or None when there is no such batch."""
        with self.ledger.connect(write=False) as conn:
            head = conn.execute(
                "SELECT request FROM batches WHERE name = ? AND base_url = ?",
                (name, self.base_url),
            ).fetchone()
            if head is None:
                return None
            rows = conn.execute(
                "SELECT idx, label, state, product_id, image_urls, job_id, error, images,"
                " updated_at FROM batch_items WHERE batch = ? AND base_url = ? ORDER BY idx",
                (name, self.base_url),
            ).fetchall()
        items = [
            ItemRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8]) for r in rows
        ]
        return json.loads(head[0]), items

    def create(self, name: str, request: dict[str, Any], items: list[ItemRow]) -> None:
        """Write a new batch and all its items in one transaction."""
        now = time.time()
        with self.ledger.connect(write=True) as conn:
            conn.execute(
                "INSERT INTO batches (name, base_url, request, items, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (name, self.base_url, json.dumps(request), len(items), now, now),
            )
            conn.executemany(
                "INSERT INTO batch_items (batch, base_url, idx, label, product_id, image_urls,"
                " job_id, state, error, images, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        name,
                        self.base_url,
                        row.idx,
                        row.label,
                        row.product_id,
                        json.dumps(row.image_urls),
                        row.job_id,
                        row.state,
                        row.error,
                        row.images,
                        now,
                    )
                    for row in items
                ],
            )

    def save(self, name: str, row: ItemRow) -> None:
        """Write an item's state, ids, error and image count."""
        if row.state not in ITEM_STATES:
            raise ValueError(f"state={row.state!r}; expected one of {ITEM_STATES}")
        row.updated_at = time.time()
        with self.ledger.connect(write=True) as conn:
            conn.execute(
                "UPDATE batch_items SET state = ?, product_id = ?, job_id = ?, error = ?,"
                " images = ?, updated_at = ? WHERE batch = ? AND base_url = ? AND idx = ?",
                (
                    row.state,
                    row.product_id,
                    row.job_id,
                    row.error,
                    row.images,
                    row.updated_at,
                    name,
                    self.base_url,
                    row.idx,
                ),
            )
            conn.execute(
                "UPDATE batches SET updated_at = ? WHERE name = ? AND base_url = ?",
                (row.updated_at, name, self.base_url),
            )

    def list(self) -> list[dict[str, Any]]:
        """Every batch of this server, newest first, with its items counted by state."""
        with self.ledger.connect(write=False) as conn:
            heads = conn.execute(
                "SELECT name, items, created_at, updated_at FROM batches WHERE base_url = ?"
                " ORDER BY created_at DESC",
                (self.base_url,),
            ).fetchall()
            counts = conn.execute(
                "SELECT batch, state, COUNT(*) FROM batch_items WHERE base_url = ?"
                " GROUP BY batch, state",
                (self.base_url,),
            ).fetchall()
        by_batch: dict[str, dict[str, int]] = {}
        for batch, state, count in counts:
            by_batch.setdefault(batch, {})[state] = count
        return [
            {
                "name": name,
                "items": total,
                "states": by_batch.get(name, {}),
                "created_at": created,
                "updated_at": updated,
            }
            for name, total, created, updated in heads
        ]
