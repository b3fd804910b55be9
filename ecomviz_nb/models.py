"""The API's request and response shapes, every input rule of the reference, and their JSON forms.

Requests (:class:`GenerateRequest`, :class:`TryOnRequest` and their parts) validate themselves
when built, so a bad value raises :class:`~ecomviz_nb.errors.ValidationError` before anything is
sent. ``to_wire()`` gives the exact JSON the reference shows. Responses (:class:`Product`,
:class:`GeneratedImage`, :class:`TryOnResult`) are read tolerantly by ``from_wire()``: unknown
fields stay in ``raw``, missing optional fields become ``None`` or empty.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from .errors import EcomVizWarning, ValidationError

__all__ = [
    "GENERATE_IMAGE_TYPES",
    "HEIGHT_RANGE_CM",
    "IMAGE_TYPES",
    "RECOMMENDED_ASPECT_RATIOS",
    "TERMINAL_FAILED_STATUSES",
    "VTO_ASPECT_RATIOS",
    "WEIGHT_RANGE_KG",
    "Clothing",
    "CreateProductRequest",
    "GenerateRequest",
    "GeneratedImage",
    "ImageSpec",
    "Product",
    "TryOnRequest",
    "TryOnResult",
    "Webhook",
    "check_id",
    "check_webhook_reachable",
]

GENERATE_IMAGE_TYPES = ("main", "detail", "facebook")
"""Image types that take a count and an aspect ratio."""
IMAGE_TYPES = (*GENERATE_IMAGE_TYPES, "vto")
"""Every ``imageType`` key the reference names; ``vto`` takes a list of colours."""
RECOMMENDED_ASPECT_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16")
"""The reference's recommended ratios for generated images; others warn but are sent."""
VTO_ASPECT_RATIOS = ("1:1", "3:2", "2:3", "16:9", "9:16", "21:9", "9:21")
"""The only ratios the try-on endpoint accepts."""
HEIGHT_RANGE_CM = (50, 250)
WEIGHT_RANGE_KG = (10, 300)
TERMINAL_FAILED_STATUSES = frozenset({"failed", "error", "canceled", "cancelled"})
"""Try-on statuses that end a job without images."""

_PLAIN_RELATIVE = re.compile(r"^(?![./])(?!.*(?:^|/)\.\.?(?:/|$))[^:?#\\\s]*$")
# Printable, no separators or whitespace, none of / ? # % \\ (ids go into URL paths).
_ID = re.compile(r"^[^/?#%\\\s\x00-\x1f\x7f-\x9f\u2028\u2029]+$")
_RATIO = re.compile(r"^([1-9][0-9]{0,3}):([1-9][0-9]{0,3})$")


# ---------------------------------------------------------------- checks


def _check_url(name: str, value: Any) -> str:
    allowed = "a non-empty http:// or https:// URL with a host"
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(name, value, allowed)
    url = value.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port  # raises for a port out of 0..65535
    except ValueError:  # e.g. an unclosed IPv6 bracket, a port of 99999
        raise ValidationError(name, value, allowed + " and a port from 1 to 65535") from None
    if parts.scheme.lower() not in ("http", "https") or not host or port == 0:
        raise ValidationError(name, value, allowed)
    if any(ch.isspace() for ch in url):
        raise ValidationError(name, value, allowed + " (no spaces: encode them as %20)")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in url):
        raise ValidationError(name, value, allowed + " (no control characters)")
    return url


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(name, value, "a whole number >= 1")
    return value


def _check_text(name: str, value: Any, allowed: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(name, value, allowed)
    return value.strip()


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(name, value, "True or False")
    return value


def _check_range(name: str, value: Any, bounds: tuple[int, int], unit: str) -> float | int | None:
    if value is None:
        return None
    low, high = bounds
    allowed = f"a number from {low} to {high} ({unit}), or None"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(name, value, allowed)
    # Compare before isfinite(): a huge int (10**400) cannot become a float.
    if not low <= value <= high or not math.isfinite(value):
        raise ValidationError(name, value, allowed)
    return value


def _check_generate_ratio(name: str, value: Any) -> str:
    allowed = "a ratio like '1:1' (recommended: " + ", ".join(RECOMMENDED_ASPECT_RATIOS) + ")"
    if not isinstance(value, str) or not _RATIO.match(value.strip()):
        raise ValidationError(name, value, allowed)
    ratio = value.strip()
    if ratio not in RECOMMENDED_ASPECT_RATIOS:
        warnings.warn(
            f"{name}={ratio!r} is not one of the recommended ratios "
            f"{', '.join(RECOMMENDED_ASPECT_RATIOS)}; it is sent as given",
            EcomVizWarning,
            stacklevel=4,
        )
    return ratio


def _check_colors(name: str, value: Any) -> tuple[str, ...]:
    allowed = "a non-empty list of colour names, e.g. ['red', 'blue']"
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ValidationError(name, value, allowed)
    colors = []
    for i, color in enumerate(value):
        colors.append(_check_text(f"{name}[{i}]", color, "a non-empty colour name"))
    return tuple(colors)


def check_id(name: str, value: Any) -> str:
    """A product or try-on id: a non-empty string without slashes, spaces or control characters."""
    allowed = "a non-empty id string without '/', '?', '#', spaces or control characters"
    if not isinstance(value, str) or value in (".", "..") or not _ID.match(value):
        raise ValidationError(name, value, allowed)
    return value


def _private_host(host: str) -> bool:
    """Whether a URL's host is ``localhost`` or a loopback, private, link-local or other
    non-public IP literal (also ``2130706433`` or ``0x7f.1``); names are not resolved."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if not re.fullmatch(r"[0-9a-fx.]+", host):
            return False
        try:
            ip = ipaddress.ip_address(socket.inet_aton(host))  # the legacy forms of IPv4
        except OSError:
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_webhook_reachable(webhook: Webhook | None, base_url: str) -> None:
    """Refuse a webhook on a private, loopback or link-local address for a server that is not.

    The API on the internet cannot post to ``10.0.0.5``, ``192.168.1.10``, ``169.254.169.254``
    or ``localhost``: the notification would never come. A server that is itself local (a
    sandbox on ``127.0.0.1``, a private address or a one-word host name) may use one, e.g.
    ``ev.WebhookInbox``. Only the URL is read: nothing is resolved or sent.

    Raises:
        ValidationError: ``webhook.url`` is such an address and ``base_url`` is not.
    """
    if webhook is None:
        return
    server = (urlsplit(base_url).hostname or "").rstrip(".")
    if _private_host(server) or ("." not in server and ":" not in server):
        return
    if _private_host(urlsplit(webhook.url).hostname or ""):
        raise ValidationError(
            "webhook.url",
            webhook.url,
            f"an address {server} can reach: not a private, loopback or link-local one "
            "(those work only with a local sandbox)",
        )


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class CreateProductRequest:
    """The body of ``POST /api/products/url``: the product's image URLs."""

    image_urls: Sequence[str]
    """One or more http(s) URLs of product photos."""

    def __post_init__(self) -> None:
        value = self.image_urls
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise ValidationError("image_urls", value, "a non-empty list of http(s) image URLs")
        urls = tuple(_check_url(f"image_urls[{i}]", url) for i, url in enumerate(value))
        object.__setattr__(self, "image_urls", urls)

    def to_wire(self) -> dict[str, Any]:
        """``{"imageUrls": [...]}``."""
        return {"imageUrls": list(self.image_urls)}


@dataclass(frozen=True)
class Webhook:
    """Where the API posts a notification when the work completes."""

    url: str
    """An http(s) URL that accepts a POST."""
    token: str | None = field(default=None, repr=False)
    """An optional secret the receiver can check; hidden from ``repr()``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", _check_url("webhook.url", self.url))
        if self.token is not None:
            _check_text("webhook.token", self.token, "a non-empty string or None")

    def __repr__(self) -> str:
        token = "'***'" if self.token else "None"
        return f"Webhook(url={self.url!r}, token={token})"

    def to_wire(self) -> dict[str, Any]:
        """The reference's ``webhook`` object."""
        wire: dict[str, Any] = {"url": self.url}
        if self.token is not None:
            wire["token"] = self.token
        return wire

    @classmethod
    def from_wire(cls, data: Any) -> Webhook:
        """Read a ``webhook`` object; raises ValidationError on a bad shape."""
        if not isinstance(data, Mapping):
            raise ValidationError("webhook", data, "an object with 'url' and optional 'token'")
        return cls(data.get("url", ""), data.get("token"))


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
            object.__setattr__(self, "colors", _check_colors("vto.colors", self.colors))
            if self.aspect_ratio is not None:
                ratio = _check_generate_ratio("vto.aspect_ratio", self.aspect_ratio)
                object.__setattr__(self, "aspect_ratio", ratio)
            return
        if self.colors is not None:
            raise ValidationError(f"{kind}.colors", self.colors, "None: only vto takes colours")
        count = 1 if self.count is None else self.count
        object.__setattr__(self, "count", _check_count(f"{kind}.count", count))
        ratio = "1:1" if self.aspect_ratio is None else self.aspect_ratio
        object.__setattr__(
            self, "aspect_ratio", _check_generate_ratio(f"{kind}.aspect_ratio", ratio)
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
            object.__setattr__(self, name, _check_text(name, getattr(self, name)))
        _check_bool("remove_brand_logo", self.remove_brand_logo)
        _check_bool("change_portrait", self.change_portrait)
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
        object.__setattr__(self, "url", _check_url("clothing.url", self.url))
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
            self, "person_image_url", _check_url("person_image_url", self.person_image_url)
        )
        object.__setattr__(self, "clothing", _as_clothing(self.clothing))
        _check_range("height", self.height, HEIGHT_RANGE_CM, "cm")
        _check_range("weight", self.weight, WEIGHT_RANGE_KG, "kg")
        if self.aspect_ratio not in VTO_ASPECT_RATIOS:
            raise ValidationError(
                "aspect_ratio", self.aspect_ratio, "one of " + ", ".join(VTO_ASPECT_RATIOS)
            )
        _check_bool("watermark", self.watermark)
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


# ---------------------------------------------------------------- responses


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
class GeneratedImage:
    """One image the API made (or, in try-on results, a source image it echoes)."""

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
class Product:
    """A product: its analysis, colours and the images generated for it so far."""

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
        return (
            f"Product(id={self.id!r}, name={self.name!r}, colors={self.colors!r}, "
            f"{len(self.generated_images)} generated images)"
        )

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
class TryOnResult:
    """A try-on task as the API reports it."""

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
        return f"TryOnResult(id={self.id!r}, status={self.status!r}, {len(self.images)} images)"

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
