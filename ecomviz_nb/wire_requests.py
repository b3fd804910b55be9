"""The API's request bodies: they validate themselves when built and give their exact JSON.

A bad value raises :class:`~ecomviz_nb.errors.ValidationError` before anything is sent (the
rules are in :mod:`ecomviz_nb.wire_rules`); ``to_wire()`` gives the JSON the reference shows and
``from_wire()`` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError
from .wire_rules import (
    HEIGHT_RANGE_CM,
    IMAGE_TYPES,
    VTO_ASPECT_RATIOS,
    WEIGHT_RANGE_KG,
    Webhook,
    check_bool,
    check_colors,
    check_count,
    check_generate_ratio,
    check_range,
    check_text,
    check_url,
)

__all__ = [
    "Clothing",
    "CreateProductRequest",
    "GenerateRequest",
    "ImageSpec",
    "TryOnRequest",
]


@dataclass(frozen=True)
class CreateProductRequest:
    """The body of ``POST /api/products/url``: the product's image URLs."""

    image_urls: Sequence[str]
    """One or more http(s) URLs of product photos."""

    def __post_init__(self) -> None:
        value = self.image_urls
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise ValidationError("image_urls", value, "a non-empty list of http(s) image URLs")
        urls = tuple(check_url(f"image_urls[{i}]", url) for i, url in enumerate(value))
        object.__setattr__(self, "image_urls", urls)

    def to_wire(self) -> dict[str, Any]:
        """``{"imageUrls": [...]}``."""
        return {"imageUrls": list(self.image_urls)}


@dataclass(frozen=True)
class ImageSpec:
    """One entry of ``imageType``: a count and aspect ratio of one type, or VTO colours.

    Examples:
        ``ImageSpec("main", count=3, aspect_ratio="1:1")``,
        ``ImageSpec("vto", colors=["red", "blue"])``.
    """

    image_type: str
    """``main``, ``detail``, ``facebook`` or ``vto``."""
    count: int | None = None
    """How many images (main/detail/facebook; default 1)."""
    aspect_ratio: str | None = None
    """The ratio (main/detail/facebook; default ``"1:1"``; optional for vto)."""
    colors: Sequence[str] | None = None
    """The colours to render (vto only; at least one); kept as a tuple."""

    def __post_init__(self) -> None:
        kind = self.image_type
        if kind not in IMAGE_TYPES:
            raise ValidationError("image_type", kind, "one of " + ", ".join(IMAGE_TYPES))
        if kind == "vto":
            if self.count is not None:
                raise ValidationError(
                    "vto.count", self.count, "None: vto takes colors=[...], one image per colour"
                )
            object.__setattr__(self, "colors", check_colors("vto.colors", self.colors))
            if self.aspect_ratio is not None:
                ratio = check_generate_ratio("vto.aspect_ratio", self.aspect_ratio)
                object.__setattr__(self, "aspect_ratio", ratio)
            return
        if self.colors is not None:
            raise ValidationError(f"{kind}.colors", self.colors, "None: only vto takes colours")
        count = 1 if self.count is None else self.count
        object.__setattr__(self, "count", check_count(f"{kind}.count", count))
        ratio = "1:1" if self.aspect_ratio is None else self.aspect_ratio
        object.__setattr__(
            self, "aspect_ratio", check_generate_ratio(f"{kind}.aspect_ratio", ratio)
        )

    @property
    def expected_images(self) -> int:
        """How many images this entry asks for."""
        return len(self.colors or ()) if self.image_type == "vto" else int(self.count or 0)

    def to_wire(self) -> dict[str, Any]:
        """The entry as the reference writes it, e.g. ``{"main": 3, "aspectRatio": "1:1"}``."""
        if self.image_type == "vto":
            wire: dict[str, Any] = {"vto": list(self.colors or ())}
        else:
            wire = {self.image_type: self.count}
        if self.aspect_ratio is not None:
            wire["aspectRatio"] = self.aspect_ratio
        return wire

    @classmethod
    def from_wire(cls, data: Any, *, name: str = "imageType[0]") -> ImageSpec:
        """Read one ``imageType`` entry; exactly one type key, plus an optional ``aspectRatio``."""
        allowed = "an object with exactly one of main/detail/facebook/vto, plus aspectRatio"
        if not isinstance(data, Mapping):
            raise ValidationError(name, data, allowed)
        unknown = sorted(k for k in data if k not in (*IMAGE_TYPES, "aspectRatio"))
        if unknown:
            raise ValidationError(f"{name}.{unknown[0]}", data[unknown[0]], allowed)
        kinds = [k for k in IMAGE_TYPES if k in data]
        if len(kinds) != 1:
            raise ValidationError(name, dict(data), allowed)
        kind = kinds[0]
        if kind == "vto":
            return cls("vto", colors=data["vto"], aspect_ratio=data.get("aspectRatio"))
        return cls(kind, count=data[kind], aspect_ratio=data.get("aspectRatio", "1:1"))


def _as_specs(value: Any) -> tuple[ImageSpec, ...]:
    allowed = "a non-empty list of ImageSpec"
    if isinstance(value, (str, bytes, ImageSpec)) or not isinstance(value, Sequence) or not value:
        raise ValidationError("image_types", value, allowed)
    specs = []
    for i, item in enumerate(value):
        if isinstance(item, ImageSpec):
            specs.append(item)
        elif isinstance(item, Mapping):
            specs.append(ImageSpec.from_wire(item, name=f"image_types[{i}]"))
        else:
            raise ValidationError(f"image_types[{i}]", item, "an ImageSpec or an imageType object")
    return tuple(specs)


@dataclass(frozen=True)
class GenerateRequest:
    """The body of ``POST /api/products/{id}/generate``."""

    image_types: Sequence[ImageSpec]
    """What to generate; at least one entry."""
    region: str = "global"
    """The market the images are for (free text; the API publishes no list)."""
    platform: str = "general"
    """The sales platform (free text)."""
    remove_brand_logo: bool = False
    change_portrait: bool = False
    language: str = "org_text"
    """Language of text in the images; ``org_text`` keeps the original text."""
    webhook: Webhook | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_types", _as_specs(self.image_types))
        for name in ("region", "platform", "language"):
            object.__setattr__(self, name, check_text(name, getattr(self, name)))
        check_bool("remove_brand_logo", self.remove_brand_logo)
        check_bool("change_portrait", self.change_portrait)
        if self.webhook is not None and not isinstance(self.webhook, Webhook):
            raise ValidationError("webhook", self.webhook, "an ev.Webhook(url, token=None) or None")

    @property
    def expected_images(self) -> int:
        """Sum of the counts plus one image per VTO colour."""
        return sum(spec.expected_images for spec in self.image_types)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, key for key as the reference shows it."""
        wire: dict[str, Any] = {
            "imageType": [spec.to_wire() for spec in self.image_types],
            "region": self.region,
            "platform": self.platform,
            "removeBrandLogo": self.remove_brand_logo,
            "changePortrait": self.change_portrait,
            "language": self.language,
        }
        if self.webhook is not None:
            wire["webhook"] = self.webhook.to_wire()
        return wire

    @classmethod
    def from_wire(cls, data: Any) -> GenerateRequest:
        """Build a request from its JSON body (e.g. one copied from a panel's preview)."""
        if not isinstance(data, Mapping):
            raise ValidationError("body", data, "a JSON object")
        known = {
            "imageType",
            "region",
            "platform",
            "removeBrandLogo",
            "changePortrait",
            "language",
            "webhook",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(
                unknown[0], data[unknown[0]], "one of " + ", ".join(sorted(known))
            )
        entries = data.get("imageType")
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence) or not entries:
            raise ValidationError("imageType", entries, "a non-empty list of imageType objects")
        webhook = data.get("webhook")
        return cls(
            image_types=[
                ImageSpec.from_wire(e, name=f"imageType[{i}]") for i, e in enumerate(entries)
            ],
            region=data.get("region", "global"),
            platform=data.get("platform", "general"),
            remove_brand_logo=data.get("removeBrandLogo", False),
            change_portrait=data.get("changePortrait", False),
            language=data.get("language", "org_text"),
            webhook=None if webhook is None else Webhook.from_wire(webhook),
        )


@dataclass(frozen=True)
class Clothing:
    """One garment for a try-on: its image URL and an optional note (price, fit…)."""

    url: str
    info: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", check_url("clothing.url", self.url))
        if self.info is not None and not isinstance(self.info, str):
            raise ValidationError("clothing.info", self.info, "a string or None")

    def to_wire(self) -> dict[str, Any]:
        """``{"url": …, "info": …}``; ``info`` only when given."""
        wire: dict[str, Any] = {"url": self.url}
        if self.info is not None:
            wire["info"] = self.info
        return wire


def _as_clothing(value: Any) -> tuple[Clothing, ...]:
    allowed = "a non-empty list of ev.Clothing(url, info=None) or URLs"
    if isinstance(value, (str, bytes, Clothing)) or not isinstance(value, Sequence) or not value:
        raise ValidationError("clothing", value, allowed)
    items = []
    for i, item in enumerate(value):
        try:
            if isinstance(item, Clothing):
                items.append(item)
            elif isinstance(item, str):
                items.append(Clothing(item))
            elif isinstance(item, Mapping):
                extra = sorted(set(item) - {"url", "info"})
                if extra:
                    raise ValidationError(
                        f"clothing[{i}].{extra[0]}", item[extra[0]], "url or info"
                    )
                items.append(Clothing(item.get("url", ""), item.get("info")))
            else:
                raise ValidationError(f"clothing[{i}]", item, allowed)
        except ValidationError as exc:
            if exc.field.startswith("clothing."):
                raise ValidationError(
                    f"clothing[{i}]" + exc.field[len("clothing") :], exc.value, exc.allowed
                ) from None
            raise
    return tuple(items)


@dataclass(frozen=True)
class TryOnRequest:
    """The body of ``POST /api/vto/generate-url``."""

    person_image_url: str
    clothing: Sequence[Clothing]
    """At least one garment; plain URLs are accepted and wrapped."""
    height: float | None = None
    """Person's height in cm, 50 to 250, optional."""
    weight: float | None = None
    """Person's weight in kg, 10 to 300, optional."""
    aspect_ratio: str = "2:3"
    """One of the seven try-on ratios."""
    watermark: bool = True
    webhook: Webhook | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "person_image_url", check_url("person_image_url", self.person_image_url)
        )
        object.__setattr__(self, "clothing", _as_clothing(self.clothing))
        check_range("height", self.height, HEIGHT_RANGE_CM, "cm")
        check_range("weight", self.weight, WEIGHT_RANGE_KG, "kg")
        if self.aspect_ratio not in VTO_ASPECT_RATIOS:
            raise ValidationError(
                "aspect_ratio", self.aspect_ratio, "one of " + ", ".join(VTO_ASPECT_RATIOS)
            )
        check_bool("watermark", self.watermark)
        if self.webhook is not None and not isinstance(self.webhook, Webhook):
            raise ValidationError("webhook", self.webhook, "an ev.Webhook(url, token=None) or None")

    @property
    def expected_images(self) -> int:
        """A try-on yields one image."""
        return 1

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, key for key as the reference shows it; unset optionals are left out."""
        wire: dict[str, Any] = {
            "personImageUrl": self.person_image_url,
            "clothingImageUrls": [item.to_wire() for item in self.clothing],
        }
        if self.height is not None:
            wire["height"] = self.height
        if self.weight is not None:
            wire["weight"] = self.weight
        wire["aspectRatio"] = self.aspect_ratio
        wire["watermark"] = self.watermark
        if self.webhook is not None:
            wire["webhook"] = self.webhook.to_wire()
        return wire

    @classmethod
    def from_wire(cls, data: Any) -> TryOnRequest:
        """Build a request from its JSON body."""
        if not isinstance(data, Mapping):
            raise ValidationError("body", data, "a JSON object")
        known = {
            "personImageUrl",
            "clothingImageUrls",
            "height",
            "weight",
            "aspectRatio",
            "watermark",
            "webhook",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(
                unknown[0], data[unknown[0]], "one of " + ", ".join(sorted(known))
            )
        webhook = data.get("webhook")
        return cls(
            person_image_url=data.get("personImageUrl", ""),
            clothing=data.get("clothingImageUrls", ()),
            height=data.get("height"),
            weight=data.get("weight"),
            aspect_ratio=data.get("aspectRatio", "2:3"),
            watermark=data.get("watermark", True),
            webhook=None if webhook is None else Webhook.from_wire(webhook),
        )
