"""The API's answers (products, their images, try-on results), read tolerantly from JSON.

``from_wire()`` never crashes on a missing optional field: unknown fields stay in ``raw``,
missing ones become ``None`` or empty, and relative ``filePath`` values become absolute URLs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from .reprs import RichRepr, short_id, short_text

__all__ = [
    "TERMINAL_FAILED_STATUSES",
    "GeneratedImage",
    "Product",
    "TryOnResult",
    "parse_time",
    "resolve_url",
]

TERMINAL_FAILED_STATUSES = frozenset({"failed", "error", "canceled", "cancelled"})
"""Try-on statuses that end a job without images."""

_PLAIN_RELATIVE = re.compile(r"^(?![./])(?!.*(?:^|/)\.\.?(?:/|$))[^:?#\\\s]*$")


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO 8601 timestamp (``Z`` allowed); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def resolve_url(base_url: str, file_path: str) -> str:
    """Make ``file_path`` absolute: relative paths are resolved against the API's base URL."""
    head = file_path[:8].lower()
    if head.startswith(("http://", "https://")):
        return file_path
    if _PLAIN_RELATIVE.match(file_path):  # the common case, without urljoin's cost
        return base_url.rstrip("/") + "/" + file_path
    try:
        return urljoin(base_url.rstrip("/") + "/", file_path)
    except ValueError:  # a malformed URL from the server: keep it as sent, never crash
        return file_path


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass
class GeneratedImage(RichRepr):
    """One image the API made (or, in try-on results, a source image it echoes).

    In a notebook a bare image shows as a card (:func:`ecomviz_nb.cards.image_card`).
    """

    _html_renderer = ("ecomviz_nb.cards", "image_card")

    url: str
    """Absolute URL of the image."""
    file_path: str
    """``filePath`` as the server sent it (may be relative)."""
    generated_at: datetime | None = None
    image_type: str | None = None
    """``main``, ``detail``, ``facebook``, ``vto``, or ``tryon`` for try-on results."""
    platform: str | None = None
    region: str | None = None
    color: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    """``generationParams`` as received."""
    raw: Any = field(default=None, repr=False)
    """The entry as received."""

    def __repr__(self) -> str:
        # The file's name only: a full URL may carry a signature, and reprs end up in notebooks.
        name = self.file_path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        facts = [self.image_type, self.color, self.platform, self.region]
        shown = " ".join(short_id(fact) for fact in [*facts, name] if fact)
        return f"<GeneratedImage {shown or '(no file)'}>"

    @classmethod
    def from_wire(
        cls, data: Any, *, base_url: str, default_type: str | None = None
    ) -> GeneratedImage:
        """Read an image entry: an object with ``filePath``, or a bare URL string."""
        if isinstance(data, str):
            return cls(
                url=resolve_url(base_url, data), file_path=data, image_type=default_type, raw=data
            )
        entry = _mapping(data)
        path = entry.get("filePath") or entry.get("url") or ""
        path = path if isinstance(path, str) else str(path)
        params = _mapping(entry.get("generationParams"))
        return cls(
            url=resolve_url(base_url, path) if path else "",
            file_path=path,
            generated_at=parse_time(entry.get("generatedAt")),
            image_type=_str_or_none(params.get("imageType")) or default_type,
            platform=_str_or_none(params.get("platform")),
            region=_str_or_none(params.get("region")),
            color=_str_or_none(params.get("color")),
            params=params,
            raw=data,
        )


@dataclass
class Product(RichRepr):
    """A product: its analysis, colours and the images generated for it so far.

    In a notebook a bare product shows as a card (:func:`ecomviz_nb.cards.product_card`).
    """

    _html_renderer = ("ecomviz_nb.cards", "product_card")

    id: str
    name: str | None = None
    colors: list[str] = field(default_factory=list)
    ai_analysis: dict[str, Any] = field(default_factory=dict)
    generated_images: list[GeneratedImage] = field(default_factory=list)
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    """The ``data`` object as received, unknown fields included."""

    def __repr__(self) -> str:
        # Short, and without image URLs: a repr ends up in saved notebooks.
        name = short_text(self.name) if self.name else "(no name)"
        count = len(self.generated_images)
        return f"<Product {short_id(self.id)} {name} {count} image{'' if count == 1 else 's'}>"

    @classmethod
    def from_wire(cls, data: Any, *, base_url: str) -> Product:
        """Read the ``data`` object of a product response."""
        entry = _mapping(data)
        colors = entry.get("colors")
        images = entry.get("generatedImages")
        return cls(
            id=str(entry.get("_id") or entry.get("id") or ""),
            name=_str_or_none(entry.get("productName")),
            colors=[c for c in colors if isinstance(c, str)] if isinstance(colors, list) else [],
            ai_analysis=_mapping(entry.get("aiAnalysis")),
            generated_images=[
                GeneratedImage.from_wire(item, base_url=base_url)
                for item in (images if isinstance(images, list) else [])
            ],
            created_at=parse_time(entry.get("createdAt")),
            raw=entry,
        )


@dataclass
class TryOnResult(RichRepr):
    """A try-on task as the API reports it.

    In a notebook a bare result shows as a card (:func:`ecomviz_nb.cards.try_on_card`).
    """

    _html_renderer = ("ecomviz_nb.cards", "try_on_card")

    id: str
    status: str
    """As the server spelled it; ``completed`` is the success state."""
    images: list[GeneratedImage] = field(default_factory=list)
    person_image: str | None = None
    """Absolute URL of the person image."""
    clothing_images: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        # Short, and without image URLs: a repr ends up in saved notebooks.
        count = len(self.images)
        return (
            f"<TryOnResult {short_id(self.id)} {short_id(self.status)} "
            f"{count} image{'' if count == 1 else 's'}>"
        )

    @property
    def is_completed(self) -> bool:
        return self.status.lower() == "completed"

    @property
    def is_failed(self) -> bool:
        return self.status.lower() in TERMINAL_FAILED_STATUSES

    @classmethod
    def from_wire(cls, data: Any, *, base_url: str) -> TryOnResult:
        """Read the ``data`` object of ``GET /api/vto/{id}`` (or a webhook payload)."""
        entry = _mapping(data)
        images = entry.get("generatedImages")
        clothing = entry.get("clothingImages")
        person = entry.get("personImage")
        person_path = _mapping(person).get("filePath") if isinstance(person, Mapping) else person
        clothing_urls = []
        for item in clothing if isinstance(clothing, list) else []:
            path = _mapping(item).get("filePath") if isinstance(item, Mapping) else item
            if isinstance(path, str) and path:
                clothing_urls.append(resolve_url(base_url, path))
        status = entry.get("status")
        return cls(
            id=str(entry.get("_id") or entry.get("vtoId") or entry.get("id") or ""),
            status=status if isinstance(status, str) and status else "unknown",
            images=[
                GeneratedImage.from_wire(item, base_url=base_url, default_type="tryon")
                for item in (images if isinstance(images, list) else [])
            ],
            person_image=resolve_url(base_url, person_path)
            if isinstance(person_path, str) and person_path
            else None,
            clothing_images=clothing_urls,
            created_at=parse_time(entry.get("createdAt")),
            updated_at=parse_time(entry.get("updatedAt")),
            raw=entry,
        )
