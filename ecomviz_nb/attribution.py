"""Which product images belong to which generation run, and which runs cannot run together.

A product's images tell their run only by ``generationParams``: platform, region, imageType and
color (the reference gives nothing else). So:

- **An image belongs to a run** when it arrived after the run was submitted (its ``filePath``
  is not in the run's baseline) and its params match what the run asked for: the same platform
  and region (compared without case or surrounding spaces), a type the run asked for, and for
  ``vto`` a colour the run asked for. A param the server leaves out does not exclude an image.
- **Two runs on one product overlap** when one image could belong to both: the same platform
  and region, and a shared main/detail/facebook type or a shared VTO colour. Runs that differ
  only in aspect ratio, count, language, removeBrandLogo or changePortrait overlap.
- Overlapping runs are never in flight at once: the later one waits for its turn (see
  :mod:`ecomviz_nb.scheduler`). Runs that do not overlap go at once, and each one's images are
  exactly its own.
- Since overlapping runs go one after another, a run's images are the *first* ``expected``
  that match, in the order they were made: images of a later overlapping run, also new since
  this run's baseline, come after them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .models import GeneratedImage, GenerateRequest

__all__ = ["RunKey", "own_images"]


def _norm(value: str) -> str:
    return value.strip().casefold()


@dataclass(frozen=True)
class RunKey:
    """What a run's images can be recognised by."""

    platform: str
    region: str
    types: frozenset[str]
    """The main / detail / facebook types asked for."""
    colors: frozenset[str]
    """The VTO colours asked for (empty when no vto entry)."""

    @classmethod
    def of(cls, request: GenerateRequest | Mapping[str, Any]) -> RunKey:
        """The key of a request, or of a request's wire JSON (as the ledger keeps it)."""
        if not isinstance(request, GenerateRequest):
            request = GenerateRequest.from_wire(request)
        types: set[str] = set()
        colors: set[str] = set()
        for spec in request.image_types:
            if spec.image_type == "vto":
                colors.update(_norm(c) for c in spec.colors or ())
            else:
                types.add(spec.image_type)
        return cls(
            _norm(request.platform), _norm(request.region), frozenset(types), frozenset(colors)
        )

    def matches(self, image: GeneratedImage) -> bool:
        """Whether ``image`` could have been made by this run (unknown params do not exclude)."""
        if image.platform is not None and _norm(image.platform) != self.platform:
            return False
        if image.region is not None and _norm(image.region) != self.region:
            return False
        kind = image.image_type
        if kind is None:
            return True
        if kind == "vto":
            return bool(self.colors) and (image.color is None or _norm(image.color) in self.colors)
        return kind in self.types

    def overlaps(self, other: RunKey) -> bool:
        """Whether some image could belong to both runs (so they must not run at once)."""
        if (self.platform, self.region) != (other.platform, other.region):
            return False
        return bool(self.types & other.types or self.colors & other.colors)


def own_images(
    key: RunKey,
    images: Iterable[GeneratedImage],
    baseline: Iterable[str],
    limit: int | None = None,
) -> list[GeneratedImage]:
    """The images of ``images`` that belong to the run: new since ``baseline``, params matching.

    Args:
        limit: the run's expected count: only the first ``limit`` are its own (the rest belong
            to later overlapping runs). Images are taken in the order they were made
            (``generatedAt`` when every one has it, else the product's order).
    """
    before = set(baseline)
    found = []
    for img in images:  # an image listed twice is one image
        if img.file_path not in before and key.matches(img):
            before.add(img.file_path)
            found.append(img)
    if limit is None:
        return found
    if all(img.generated_at is not None for img in found):
        found.sort(key=lambda img: img.generated_at)  # type: ignore[arg-type,return-value]
    return found[:limit]
