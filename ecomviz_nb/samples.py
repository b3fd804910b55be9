"""Which pictures a notebook uses: the sandbox's samples, or your own images for the real API."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from .config import is_local_server
from .errors import ValidationError

__all__ = ["SAMPLE_NAMES", "SampleImages", "sample_images"]

SAMPLE_NAMES: tuple[str, ...] = (
    "products/tshirt-red.jpg",
    "products/sneaker-white.jpg",
    "products/handbag-black.jpg",
    "products/mug-blue.jpg",
    "garments/dress-green.png",
    "garments/jacket-navy.png",
    "people/person-a.jpg",
    "people/person-b.jpg",
)
"""The pictures every sandbox serves under ``/samples/<name>``.

The same list as the sandbox's own; it is written out here so that the client side never
imports the sandbox's server stack (an optional extra).
"""

# Names reserved for examples (RFC 2606 / 6761): a URL there is a placeholder, never a picture.
_PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
_PLACEHOLDER_SUFFIXES = (".example", ".invalid", ".test")


class _HasBaseURL(Protocol):
    @property
    def base_url(self) -> str: ...


def _is_placeholder(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".")
    return host in _PLACEHOLDER_DOMAINS or host.endswith(
        tuple(f".{d}" for d in _PLACEHOLDER_DOMAINS) + _PLACEHOLDER_SUFFIXES
    )


def _check_mine(mine: Mapping[str, str] | None) -> dict[str, str]:
    if mine is None:
        return {}
    if not isinstance(mine, Mapping):
        raise ValidationError("mine", mine, "a dict of name -> public image URL, or None")
    checked: dict[str, str] = {}
    for name, url in mine.items():
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("mine", name, "names (keys) that are non-empty strings")
        try:
            parts = urlsplit(url.strip()) if isinstance(url, str) else None
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"mine[{name!r}]", url, "an http:// or https:// image URL")
        checked[name] = url.strip()
    return checked


class SampleImages:
    """Picture URLs by name, for the server a notebook talks to.

    Against a sandbox, a sample's name (``"products/tshirt-red.jpg"``, see
    :data:`SAMPLE_NAMES`) is the sandbox's own picture. Against the real API, which must
    download the pictures from the internet, every name comes from ``mine``: public URLs of
    your own images. Names only in ``mine`` work against both. Made by :func:`sample_images`.
    """

    def __init__(self, base_url: str, *, sandbox: bool, mine: Mapping[str, str]) -> None:
        self._base_url = base_url.rstrip("/")
        self.sandbox = sandbox
        """Whether the server serves the samples (a local sandbox, unless overridden)."""
        self.mine = dict(mine)
        """Your own picture URLs by name, as given."""

    @property
    def names(self) -> tuple[str, ...]:
        """Every name :meth:`url` answers for (placeholders included)."""
        own = tuple(name for name in self.mine if not (self.sandbox and name in SAMPLE_NAMES))
        return (SAMPLE_NAMES if self.sandbox else ()) + own

    def url(self, name: str) -> str:
        """The absolute URL of a picture, to send in a request.

        Raises:
            ValidationError: the name is neither a sample (on a sandbox) nor in ``mine``, or,
                against the real API, its URL in ``mine`` is still a placeholder
                (``example.com``) or a local address the API cannot download from.
        """
        if self.sandbox and name in SAMPLE_NAMES:
            return f"{self._base_url}/samples/{name}"
        if name in self.mine:
            return self._own(name)
        if self.sandbox:
            allowed = "one of the sandbox's samples (" + ", ".join(SAMPLE_NAMES) + ")"
            raise ValidationError("name", name, allowed + " or a name given in mine")
        raise ValidationError(
            f"mine[{name!r}]",
            None,
            "a public URL of your own image: the real API downloads every picture, so name "
            "one in ev.sample_images(client, mine={...})",
        )

    def path(self, name: str) -> str:
        """Like :meth:`url`, but a sandbox's sample is a path on the server (``/samples/...``).

        Panels take such paths, so a saved notebook's widget state never holds the sandbox's
        loopback address (whose port changes from run to run).
        """
        if self.sandbox and name in SAMPLE_NAMES:
            return f"/samples/{name}"
        return self.url(name)

    def _own(self, name: str) -> str:
        url = self.mine[name]
        if self.sandbox:
            return url
        field = f"mine[{name!r}]"
        if _is_placeholder(url):
            raise ValidationError(field, url, "a public URL of your own image, not a placeholder")
        if is_local_server(url):
            raise ValidationError(
                field, url, "a public URL the API can download (a local one works with a sandbox)"
            )
        return url

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __str__(self) -> str:
        # Names only: an address of a sandbox or a signed URL must not reach a saved output.
        if self.sandbox:
            own = len(self) - len(SAMPLE_NAMES)
            return f"sample images from the sandbox: {len(SAMPLE_NAMES)} samples" + (
                f" and {own} of yours" if own else ""
            )
        if not self.mine:
            return "sample images from mine: none yet (real API: name your own image URLs)"
        todo = [name for name in self.mine if _is_placeholder(self.mine[name])]
        line = f"sample images from mine ({len(self.mine)}: {', '.join(self.mine)})"
        return line + (f"; still placeholders: {', '.join(todo)}" if todo else "")

    def __repr__(self) -> str:
        where = "sandbox" if self.sandbox else "mine"
        return f"<SampleImages from {where}: {len(self)} names>"


def sample_images(
    client: _HasBaseURL | str,
    *,
    mine: Mapping[str, str] | None = None,
    sandbox: bool | None = None,
) -> SampleImages:
    """The pictures a notebook uses against ``client``'s server.

    >>> samples = ev.sample_images(client, mine={"products/tshirt-red.jpg": "https://…/a.jpg"})
    >>> client.create_product([samples.url("products/tshirt-red.jpg")])
    >>> ev.ProductPanel(client, [samples.path("products/tshirt-red.jpg")])

    Args:
        client: an ``ev.Client`` / ``ev.AsyncClient`` (anything with a ``base_url``), or the
            server's base URL.
        mine: your own pictures by name: public URLs the real API can download. A sample's
            name here stands in for the sample against the real API; other names work
            everywhere. Placeholders (``https://example.com/...``) are fine until used there.
        sandbox: whether the server serves the samples; default: it is on this machine
            (:func:`ecomviz_nb.config.is_local_server`). Pass True for a sandbox on another
            host (``ecomviz-nb sandbox --host 0.0.0.0`` on a LAN machine or a container).

    Returns:
        A :class:`SampleImages` with ``.url(name)`` and ``.path(name)``.

    Raises:
        ValidationError: ``client`` has no base URL, ``mine`` is not a dict of name -> http(s)
            URL, or ``sandbox`` is not a bool or None.
    """
    base_url: Any = client if isinstance(client, str) else getattr(client, "base_url", None)
    if not isinstance(base_url, str):
        raise ValidationError("client", client, "an ev.Client, ev.AsyncClient or a base URL")
    if sandbox is not None and not isinstance(sandbox, bool):
        raise ValidationError("sandbox", sandbox, "True, False or None (decide from the URL)")
    local = is_local_server(base_url) if sandbox is None else sandbox
    return SampleImages(base_url, sandbox=local, mine=_check_mine(mine))
