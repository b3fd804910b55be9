"""The API's input rules: allowed values, the checks of single values, and the webhook.

Every check raises :class:`~ecomviz_nb.errors.ValidationError` naming field, value and what is
allowed, and returns the value as it is sent (stripped where the rule says so). The request
bodies of :mod:`ecomviz_nb.wire_requests` are built from these checks and a :class:`Webhook`.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import EcomVizWarning, ValidationError

__all__ = [
    "GENERATE_IMAGE_TYPES",
    "HEIGHT_RANGE_CM",
    "IMAGE_TYPES",
    "RECOMMENDED_ASPECT_RATIOS",
    "VTO_ASPECT_RATIOS",
    "WEIGHT_RANGE_KG",
    "Webhook",
    "check_bool",
    "check_colors",
    "check_count",
    "check_generate_ratio",
    "check_id",
    "check_range",
    "check_text",
    "check_url",
    "check_webhook_reachable",
    "is_private_host",
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

# Printable, no separators or whitespace, none of / ? # % \\ (ids go into URL paths).
_ID = re.compile(r"^[^/?#%\\\s\x00-\x1f\x7f-\x9f\u2028\u2029]+$")
_RATIO = re.compile(r"^([1-9][0-9]{0,3}):([1-9][0-9]{0,3})$")


def check_url(name: str, value: Any) -> str:
    """An http(s) URL with a host and a valid port, without spaces or control characters."""
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


def check_count(name: str, value: Any) -> int:
    """A whole number >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(name, value, "a whole number >= 1")
    return value


def check_text(name: str, value: Any, allowed: str = "a non-empty string") -> str:
    """A non-empty string, stripped; ``allowed`` is what the error says is allowed."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(name, value, allowed)
    return value.strip()


def check_bool(name: str, value: Any) -> bool:
    """True or False (not 0 or 1)."""
    if not isinstance(value, bool):
        raise ValidationError(name, value, "True or False")
    return value


def check_range(name: str, value: Any, bounds: tuple[int, int], unit: str) -> float | int | None:
    """None, or a finite number within ``bounds`` (inclusive) in ``unit``."""
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


def check_generate_ratio(name: str, value: Any) -> str:
    """A ratio like ``"4:3"``; one outside :data:`RECOMMENDED_ASPECT_RATIOS` warns but passes."""
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


def check_colors(name: str, value: Any) -> tuple[str, ...]:
    """A non-empty list of colour names, as a tuple of stripped names."""
    allowed = "a non-empty list of colour names, e.g. ['red', 'blue']"
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ValidationError(name, value, allowed)
    colors = []
    for i, color in enumerate(value):
        colors.append(check_text(f"{name}[{i}]", color, "a non-empty colour name"))
    return tuple(colors)


def check_id(name: str, value: Any) -> str:
    """A product or try-on id: a non-empty string without slashes, spaces or control characters."""
    allowed = "a non-empty id string without '/', '?', '#', spaces or control characters"
    if not isinstance(value, str) or value in (".", "..") or not _ID.match(value):
        raise ValidationError(name, value, allowed)
    return value


def host_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a host literal stands for, IPv4-mapped IPv6 unwrapped, also in the
    legacy IPv4 forms resolvers still accept (``127.1``, ``0x7f.1``, ``2130706433``); None
    for a name (names are never resolved)."""
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if not re.fullmatch(r"[0-9a-fx.]+", host):
            return None
        try:
            ip = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_localhost_name(host: str) -> bool:
    """``localhost`` or a name under ``.localhost``."""
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def is_private_host(host: str) -> bool:
    """Whether a URL's host is ``localhost`` or a loopback, private, link-local or other
    non-public IP literal (also ``2130706433`` or ``0x7f.1``); names are not resolved."""
    if is_localhost_name(host):
        return True
    ip = host_address(host)
    return ip is not None and (not ip.is_global or ip.is_multicast)


@dataclass(frozen=True)
class Webhook:
    """Where the API posts a notification when the work completes."""

    url: str
    """An http(s) URL that accepts a POST."""
    token: str | None = field(default=None, repr=False)
    """An optional secret the receiver can check; hidden from ``repr()``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", check_url("webhook.url", self.url))
        if self.token is not None:
            check_text("webhook.token", self.token, "a non-empty string or None")

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
    if is_private_host(server) or ("." not in server and ":" not in server):
        return
    if is_private_host(urlsplit(webhook.url).hostname or ""):
        raise ValidationError(
            "webhook.url",
            webhook.url,
            f"an address {server} can reach: not a private, loopback or link-local one "
            "(those work only with a local sandbox)",
        )
