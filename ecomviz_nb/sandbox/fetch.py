"""Getting the images a request names: the sandbox's own samples and files, or a remote URL.

Remote fetching is guarded: http(s) only, a timeout (``fetch_timeout`` per step, and
``TOTAL_TIMEOUTS`` times that for the whole fetch, so a server sending a byte now and then cannot
hold a request), a byte cap, an ``image/*`` content type, at most three redirects (each
re-checked), and no private, loopback, link-local or reserved addresses unless they are the
sandbox itself or listed in ``Settings.fetch_allow``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Collection
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .settings import Settings

__all__ = ["FetchError", "ImageFetcher"]

MAX_REDIRECTS = 3
TOTAL_TIMEOUTS = 3
"""A whole remote fetch, redirects included, ends after this many ``fetch_timeout``."""


class FetchError(Exception):
    """The image cannot be had; the message is shown to the API caller with a 400."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class ImageFetcher:
    """Fetches image bytes for URLs in requests.

    Args:
        settings: limits and the offline switch.
        read_local: reads a path of the sandbox's own (``/samples/…``, ``/files/…``); returns
            bytes or None.
        own_origins: callable giving the ``host:port`` strings that mean "this sandbox".
    """

    def __init__(
        self,
        settings: Settings,
        read_local: Callable[[str], bytes | None],
        own_origins: Callable[[], Collection[str]],
    ) -> None:
        self.settings = settings
        self._read_local = read_local
        self._own_origins = own_origins
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.fetch_timeout),
            follow_redirects=False,
            headers={"User-Agent": "ecomviz-sandbox"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @staticmethod
    def origin(url: str) -> str:
        """``host:port`` of a URL.

        Raises:
            FetchError: the host or port cannot be read (``:99999``, ``[bad``).
        """
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            host = (parts.hostname or "").lower()
        except ValueError:
            raise FetchError(f"{url!r} has no valid host and port") from None
        return f"{host}:{port}"

    def is_own(self, url: str) -> bool:
        """Whether the URL points at this sandbox (it is then read without HTTP)."""
        return self.origin(url) in self._own_origins()

    async def fetch(self, url: str) -> bytes:
        """The bytes at ``url``.

        Raises:
            FetchError: refused, unreachable, too large, not an image.
        """
        own = self.is_own(url)  # raises FetchError on a malformed host or port
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url!r} is not an http(s) URL")
        if own:
            data = self._read_local(unquote(parts.path))
            if data is None:
                raise FetchError(
                    f"{parts.path!r} is not a file of this sandbox (see /_sandbox/samples)"
                )
            return data
        if self.settings.offline:
            raise FetchError(
                f"remote image fetching is off (offline mode): {parts.hostname!r} cannot be "
                "fetched; use the sandbox's own /samples/ images"
            )
        total = self.settings.fetch_timeout * TOTAL_TIMEOUTS
        try:
            return await asyncio.wait_for(self._fetch_remote(url), total)
        except asyncio.TimeoutError:
            raise FetchError(f"could not fetch {url!r}: it took over {total:g} s") from None

    async def _fetch_remote(self, url: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            await self._check_address(url)
            try:
                async with self._http.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        try:
                            url = urljoin(url, response.headers["location"])
                        except ValueError:  # e.g. an unclosed IPv6 bracket
                            raise FetchError(f"{url!r} redirects to a malformed URL") from None
                        if self.is_own(url):
                            return await self.fetch(url)
                        continue
                    return await self._read(url, response)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(f"could not fetch {url!r}: {type(exc).__name__}") from None
        raise FetchError(f"too many redirects fetching {url!r}")

    async def _check_address(self, url: str) -> None:
        origin = self.origin(url)
        if origin in self.settings.fetch_allow:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:  # a redirect to file:, gopher:...
            raise FetchError(f"{url!r} is not an http(s) URL")
        port = int(origin.rsplit(":", 1)[1])
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, ValueError):  # ValueError: a label IDNA refuses ("a..b", 64+ chars)
            raise FetchError(f"cannot resolve host {host!r}") from None
        for info in infos:
            address = str(info[4][0])
            if not _is_public(address):
                raise FetchError(
                    f"refused to fetch {host!r}: it resolves to a private, loopback or "
                    f"link-local address ({address})"
                )

    async def _read(self, url: str, response: httpx.Response) -> bytes:
        if response.status_code != 200:
            raise FetchError(f"fetching {url!r} answered HTTP {response.status_code}")
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not ctype.startswith("image/"):
            raise FetchError(f"{url!r} is not an image (content type {ctype or 'missing'!r})")
        cap = self.settings.fetch_max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"{url!r} is larger than the {cap}-byte limit")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(f"{url!r} is larger than the {cap}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)
