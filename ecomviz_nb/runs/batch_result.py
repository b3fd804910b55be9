"""What a catalogue batch gives back: every item's product, job, images, state and error."""

from __future__ import annotations

import csv
import html
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..batch_ledger import ItemRow
from ..models import GeneratedImage, GenerateRequest, Product
from ..reprs import RichRepr

__all__ = ["BatchItem", "BatchResult"]

_ACTIVE = ("creating", "created", "submitting", "submitted")


@dataclass(eq=False)
class BatchItem:
    """One item of a batch."""

    row: ItemRow
    product: Product | None = None
    """The product as last read (or as created)."""
    job: Any = None
    """The generation job, once submitted."""
    images: list[GeneratedImage] = field(default_factory=list)
    """The job's images."""
    busy: bool = False
    """Being worked on right now (for the in-flight count)."""

    @property
    def label(self) -> str:
        return self.row.label

    @property
    def state(self) -> str:
        """``completed``, ``failed`` or ``unknown`` at the end; earlier, where it is."""
        return self.row.state

    @property
    def error(self) -> str | None:
        return self.row.error

    @property
    def product_id(self) -> str | None:
        return self.row.product_id

    def __repr__(self) -> str:
        why = f", error={self.error!r}" if self.error else ""
        return f"BatchItem({self.label!r}, state={self.state!r}, {len(self.images)} images{why})"


class BatchResult(RichRepr):
    """A batch: its items and counts; a bare ``result`` in a notebook shows counts and a grid
    (or, if that cannot be drawn, its text).

    ``ev.Report(...).add(result)`` puts it into a report; ``result.to_csv(path)`` writes one row
    per item.
    """

    def __init__(self, name: str, request: GenerateRequest, items: list[BatchItem]) -> None:
        self.name = name
        self.request = request
        self.items = items
        self.started = time.monotonic()
        self.seconds = 0.0
        """Wall time of this session's work on the batch."""
        self.finished_here = 0
        """Items this session brought to an end (for the throughput)."""

    # ---- counts

    def count(self, *states: str) -> int:
        return sum(item.state in states for item in self.items)

    @property
    def in_flight(self) -> int:
        return sum(item.busy for item in self.items)

    @property
    def queued(self) -> int:
        return sum(
            (item.state == "pending" or item.state in _ACTIVE) and not item.busy
            for item in self.items
        )

    def per_minute(self) -> float:
        """Items finished per minute in this session."""
        elapsed = self.seconds or (time.monotonic() - self.started)
        return 60.0 * self.finished_here / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        """Seconds until every item is done at the current pace (None before any finished)."""
        rate = self.per_minute()
        left = self.in_flight + self.queued
        return None if rate <= 0 else 60.0 * left / rate

    def summary(self) -> dict[str, Any]:
        """Counts by outcome, images, seconds and items per minute."""
        return {
            "items": len(self.items),
            "completed": self.count("completed"),
            "failed": self.count("failed"),
            "unknown": self.count("unknown"),
            "images": sum(len(item.images) for item in self.items),
            "seconds": round(self.seconds, 1),
            "per_minute": round(self.per_minute(), 1),
        }

    @property
    def failed(self) -> list[BatchItem]:
        return [item for item in self.items if item.state == "failed"]

    @property
    def unknown(self) -> list[BatchItem]:
        """Items whose paid request's answer was lost: check them before sending again."""
        return [item for item in self.items if item.state == "unknown"]

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<BatchResult {self.name!r}: {s['items']} items, {s['completed']} completed, "
            f"{s['failed']} failed, {s['unknown']} unknown, {s['images']} images>"
        )

    # ---- exports

    def rows(self) -> list[dict[str, Any]]:
        """One dict per item (what :meth:`to_csv` writes)."""
        return [
            {
                "label": item.label,
                "state": item.state,
                "product_id": item.product_id or "",
                "job_id": item.row.job_id or "",
                "images": len(item.images) or item.row.images,
                "error": item.error or "",
                "image_urls": "|".join(img.url for img in item.images),
            }
            for item in self.items
        ]

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write one row per item: label, state, ids, images, error, the images' URLs."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = self.rows()
        with target.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["label"])
            writer.writeheader()
            writer.writerows(rows)
        return target

    def latest(self, count: int = 12) -> list[tuple[GeneratedImage, str]]:
        """The first image of the most recently finished items, with their labels."""
        done = [item for item in self.items if item.images]
        done.sort(key=lambda item: item.row.updated_at, reverse=True)
        return [(item.images[0], item.label) for item in done[:count]]

    def counts_html(self) -> str:
        """A line of counts, throughput and ETA (escaped)."""
        s = self.summary()
        eta = self.eta()
        parts = [
            f"{s['completed']} completed",
            f"{s['failed']} failed",
            f"{s['unknown']} unknown",
            f"{self.in_flight} in flight",
            f"{self.queued} queued",
            f"{s['per_minute']:g} items/min",
        ]
        if eta is not None and (self.in_flight or self.queued):
            parts.append(f"ETA {eta:.0f} s")
        return (
            f"<div style='font-weight:600'>Batch {html.escape(self.name)} · "
            f"{len(self.items)} items</div><div>{html.escape(' · '.join(parts))}</div>"
        )

    def _render_html(self) -> str:
        from ..display import show_images

        latest = self.latest()
        grid = str(show_images(latest, size=128)) if latest else ""
        problems = "".join(
            f"<li>{html.escape(item.label)}: {html.escape(item.state)} — "
            f"{html.escape(item.error or '')}</li>"
            for item in [*self.failed, *self.unknown][:20]
        )
        listed = f"<ul style='color:#b00020'>{problems}</ul>" if problems else ""
        return f"<div>{self.counts_html()}{listed}{grid}</div>"
