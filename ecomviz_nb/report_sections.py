"""What each item becomes in a report: a section of facts, a note, and columns of picture tiles."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from .htmlkit import HTML, aspect_label
from .images import ImageSource
from .models import GeneratedImage, Product, TryOnResult
from .report_budget import EmbeddedPic
from .report_safety import check_fragment

__all__ = [
    "BatchLike",
    "Groups",
    "Section",
    "SectionMaker",
    "SweepLike",
    "Tile",
    "failed_section",
    "source_urls",
    "sweep_section",
    "utc_text",
]

_FLAGS = (("removeBrandLogo", "remove logo"), ("changePortrait", "change portrait"))

Fetch = Callable[[Sequence[ImageSource | None]], list[EmbeddedPic]]
"""Embedded pictures for image sources, in order (a report's cache)."""


@dataclass
class Tile:
    """One picture of a section: the picture, its caption and its parameter rows."""

    pic: EmbeddedPic
    caption: str
    params: list[tuple[str, str]]
    hover: str = ""


Groups = list[tuple[str, list[Tile]]]
"""Labelled groups of tiles (a label may be empty)."""


@dataclass
class Section:
    """One part of a report: a heading, facts, a note, and columns of labelled image groups."""

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    columns: list[tuple[str, Groups]] = field(default_factory=list)
    note: str | None = None
    error: str | None = None
    """Why the section is incomplete (say, a job that could not be fetched)."""
    fragment: str = ""
    """Markup of an :class:`HTML` item, checked to hold no script and no external URL."""

    @property
    def image_count(self) -> int:
        """How many pictures the section shows."""
        tiles = sum(len(tiles) for _, groups in self.columns for _, tiles in groups)
        return tiles + self.fragment.count("<img ")


@runtime_checkable
class SweepLike(Protocol):
    """What a report needs of a sweep's result (``ev.runs.SweepResult``)."""

    kind: str
    product_id: str | None

    @property
    def axes(self) -> list[str]:
        """The varied fields."""

    def summary(self) -> dict[str, Any]:
        """Counts: runs, completed, failed, images."""

    def matrix_html(self, *, height: int = 128, title: str | None = None) -> str:
        """The comparison matrix as an HTML fragment."""


@runtime_checkable
class BatchLike(Protocol):
    """What a report needs of a batch's result (``ev.runs.BatchResult``)."""

    name: str
    request: Any

    @property
    def failed(self) -> list[Any]:
        """The items that failed (each with ``label``, ``state`` and ``error``)."""

    @property
    def unknown(self) -> list[Any]:
        """The items whose fate is unknown."""

    def summary(self) -> dict[str, Any]:
        """Counts: items, completed, failed, unknown, images, per_minute."""

    def latest(self, count: int = 12) -> list[tuple[GeneratedImage, str]]:
        """The latest items' first images with their labels."""


def utc_text(moment: datetime | float | None) -> str:
    """``"2026-11-03 14:05 UTC"`` for a datetime or a Unix time; ``""`` for None."""
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _measured(pic: EmbeddedPic) -> str:
    return f"{aspect_label(pic.width, pic.height)} (measured)" if pic.thumb else "unknown"


def _params(
    image: GeneratedImage, pic: EmbeddedPic, request: dict[str, Any]
) -> list[tuple[str, str]]:
    """Type, aspect ratio, colour, platform, region, language and flags of one image."""
    entries = request.get("imageType")
    asked = {
        e.get("aspectRatio")
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict) and image.image_type in e
    }
    if "personImageUrl" in request:  # a try-on
        asked = {request.get("aspectRatio")}
    ratio = asked.pop() if len(asked) == 1 else None  # None if the request names no one ratio
    rows = [("type", image.image_type or "unknown")]
    rows.append(("aspect ratio", ratio if isinstance(ratio, str) else _measured(pic)))
    for label, value in (
        ("colour", image.color),
        ("platform", image.platform or request.get("platform")),
        ("region", image.region or request.get("region")),
        ("language", request.get("language")),
        ("height", request.get("height") and f"{request['height']} cm"),
        ("weight", request.get("weight") and f"{request['weight']} kg"),
    ):
        if value:
            rows.append((label, str(value)))
    if "imageType" in request:
        flags = [name for key, name in _FLAGS if request.get(key) is True]
        rows.append(("flags", ", ".join(flags) or "none"))
    if "personImageUrl" in request:
        rows.append(("watermark", "yes" if request.get("watermark", True) else "no"))
    return rows


def source_urls(product: Product) -> list[str] | None:
    """The source image URLs of a product, when its server echoes them (``imageUrls``)."""
    raw = product.raw.get("imageUrls")
    return [u for u in raw if isinstance(u, str)] if isinstance(raw, list) else None


def sweep_section(result: SweepLike) -> Section:
    """A sweep as its comparison matrix, with its counts as facts."""
    counts = result.summary()
    facts = [
        ("varied", " x ".join(result.axes)),
        ("runs", str(counts["runs"])),
        ("completed", str(counts["completed"])),
        ("failed", str(counts["failed"])),
        ("images", str(counts["images"])),
        ("product", result.product_id or ""),
    ]
    kind = "Generate" if result.kind == "generate" else "Try-on"
    matrix = check_fragment(result.matrix_html(title=""))
    title = f"{kind} sweep: " + " x ".join(result.axes)
    return Section(title, [f for f in facts if f[1]], fragment=matrix)


def failed_section(job: Any, why: str) -> Section:
    """A ledger job that shows nothing, saying ``why``."""
    record = job.record
    facts = [("job", job.id), ("server id", record.remote_id), ("state", record.state)]
    facts.append(("submitted", utc_text(record.submitted_at)))
    kind = "Generation" if record.kind == "generate" else "Try-on"
    return Section(f"{kind} {job.id}", [(k, v) for k, v in facts if v], error=why)


class SectionMaker:
    """Makes the section of one item, its pictures fetched through ``fetch``.

    Args:
        fetch: embedded pictures for image sources, in order (the report's cache).
    """

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch

    def section(self, item: Any, sources: Sequence[Any] | None) -> Section:
        """The section of a Product, a job, a TryOnResult, a sweep or batch result, images or
        an :class:`HTML` fragment.

        Raises:
            TypeError: an item of another kind.
            ValueError: an HTML fragment with a script or an external URL.
        """
        if isinstance(item, HTML):
            return Section("Notes", fragment=check_fragment(str(item)))
        if isinstance(item, Product):
            if sources is None:  # a server that echoes the source URLs
                sources = source_urls(item)
            facts = [("product", item.id), ("colours", ", ".join(item.colors))]
            facts.append(("created", utc_text(item.created_at)))
            columns = self._beside(sources, self._by_type(item.generated_images, {}))
            return Section(item.name or f"Product {item.id}", [f for f in facts if f[1]], columns)
        if isinstance(item, TryOnResult):
            return self._try_on(item, None)
        if isinstance(item, SweepLike):
            return sweep_section(item)
        if isinstance(item, BatchLike):
            return self._batch(item)
        kind, record = getattr(item, "kind", None), getattr(item, "record", None)
        if record is not None and kind == "tryon":
            return self._try_on(getattr(item, "result", None), item)
        if record is not None and kind == "generate":
            found = list(item.images)
            facts = [("job", item.id), ("product", item.product_id), ("state", item.state)]
            facts.append(("images", f"{len(found)} of {record.expected}"))
            facts.append(("submitted", utc_text(record.submitted_at)))
            columns = self._beside(sources, self._by_type(found, record.request))
            return Section(f"Generation {item.id}", [f for f in facts if f[1]], columns)
        if isinstance(item, (list, tuple, GeneratedImage)):
            entries = [item] if isinstance(item, GeneratedImage) else list(item)
            return Section("Images", columns=self._beside(sources, self._by_type(entries, {})))
        raise TypeError(f"cannot add a {type(item).__name__} to a report")

    def _batch(self, result: BatchLike, shown: int = 48) -> Section:
        """Counts as facts; the latest items' first images, labelled; failures in the note."""
        counts = result.summary()
        facts = [(k, str(counts[k])) for k in ("items", "completed", "failed", "unknown")]
        facts += [("images", str(counts["images"])), ("items/min", str(counts["per_minute"]))]
        latest = result.latest(shown)
        tiles = self.tiles([image for image, _ in latest], result.request.to_wire())
        for tile, (_, label) in zip(tiles, latest, strict=True):
            tile.caption = f"{label} · {tile.caption}"
        problems = [*result.failed, *result.unknown]
        error = "; ".join(f"{i.label}: {i.state} ({i.error})" for i in problems[:10]) or None
        return Section(
            f"Batch {result.name}", facts, [("Latest results", [("", tiles)])], error=error
        )

    def _try_on(self, result: TryOnResult | None, job: Any) -> Section:
        """Person | clothing | result, from the result, else from the job's request."""
        request: dict[str, Any] = job.record.request if job is not None else {}
        asked = request.get("clothingImageUrls")
        asked = [c for c in asked if isinstance(c, dict)] if isinstance(asked, list) else []
        person = result.person_image if result else None
        person = person or request.get("personImageUrl")
        clothing = (result.clothing_images if result else None) or [c.get("url") for c in asked]
        people = self.tiles([person] if person else [], {})
        for tile in people:
            tile.caption = "Person"
        garments = self.tiles(clothing, {})
        for i, tile in enumerate(garments):
            info = asked[i].get("info") if i < len(asked) else None
            tile.caption = f"Clothing {i + 1}"
            tile.params = ([("info", str(info))] if info else []) + tile.params
        made = self.tiles(result.images if result else [], request)
        for i, tile in enumerate(made):
            tile.caption = f"Result {i + 1}" if len(made) > 1 else "Result"
        facts = [("try-on", result.id if result else job.vto_id), ("job", job and job.id)]
        facts.append(("status", result.status if result else job.state))
        facts.append(("submitted", utc_text(job and job.record.submitted_at)))
        parts = [("Person", people), ("Clothing", garments), ("Result", made)]
        title = f"Try-on {job.id if job is not None else result.id if result else ''}"
        columns = [(label, [("", tiles)]) for label, tiles in parts]
        return Section(title, [(k, str(v)) for k, v in facts if v], columns)

    def _beside(self, sources: Sequence[Any] | None, made: Groups) -> list[tuple[str, Groups]]:
        if not sources:
            return [("", made)]
        return [("Source", [("", self.tiles(list(sources), {}))]), ("Generated", made)]

    def _by_type(self, entries: Sequence[Any], request: dict[str, Any]) -> Groups:
        groups: dict[str, list[Tile]] = {}
        for entry, tile in zip(entries, self.tiles(entries, request), strict=True):
            kind = entry.image_type if isinstance(entry, GeneratedImage) else None
            groups.setdefault(kind or "", []).append(tile)
        return list(groups.items()) or [("", [])]

    def tiles(self, entries: Sequence[Any], request: dict[str, Any]) -> list[Tile]:
        """Tiles for GeneratedImages (with their parameters) or plain image sources."""
        sources = [(e.url or None) if isinstance(e, GeneratedImage) else e for e in entries]
        tiles = []
        for i, (entry, pic) in enumerate(zip(entries, self.fetch(sources), strict=True)):
            if isinstance(entry, GeneratedImage):
                caption = " · ".join(v for v in (entry.image_type or "image", entry.color) if v)
                tiles.append(Tile(pic, caption, _params(entry, pic, request)))
                continue
            text = os.fspath(entry) if isinstance(entry, (str, os.PathLike)) else ""
            name = text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or f"image {i + 1}"
            tiles.append(Tile(pic, name, [("aspect ratio", _measured(pic))], text))
        return tiles
