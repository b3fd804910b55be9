"""Images for display: fetched by the kernel, cached on disk, shrunk with Pillow, embedded inline.

Outputs never link to the API or a sandbox: on Binder the browser cannot reach the kernel's
127.0.0.1, and a saved notebook or report must not depend on a server. So every picture is
fetched here (with the client's token when the URL is the API's own), cached under
``$ECOMVIZ_HOME/cache/images``, made into a small JPEG and handed out as a ``data:`` URI.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image, ImageOps, UnidentifiedImageError

from . import config

__all__ = [
    "LARGE_SIZE",
    "THUMB_SIZE",
    "ImageError",
    "ImageSource",
    "ImageStore",
    "data_uri",
    "default_store",
    "thumbnail_bytes",
]

THUMB_SIZE = 256
"""Longest side of a grid thumbnail, in pixels."""
LARGE_SIZE = 768
"""Longest side of the enlarged view."""
MAX_PIXELS = 60_000_000

ImageSource = str | bytes | os.PathLike[str] | Image.Image
"""A URL, encoded bytes, a local file path, or a Pillow image."""


class ImageError(Exception):
    """An image could not be fetched or decoded; the message says which and why."""


def thumbnail_bytes(data: bytes, size: int = THUMB_SIZE, *, quality: int = 78) -> bytes:
    """A JPEG whose longest side is at most ``size``: EXIF orientation applied, alpha flattened.

    Raises:
        ImageError: the bytes are not a readable image, or claim too many pixels.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageError(f"image of {image.width}x{image.height} pixels is too large")
            if image.format == "JPEG":
                image.draft("RGB", (size * 2, size * 2))  # decode at 1/2..1/8 scale: far faster
            return _encode(ImageOps.exif_transpose(image), size, quality)
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"not a readable image ({type(exc).__name__})") from None


def _encode(image: Image.Image, size: int, quality: int) -> bytes:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=False)
    return out.getvalue()


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    """``data:<mime>;base64,…`` for some bytes."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class ImageStore:
    """Fetches images once, keeps originals and thumbnails on disk, and serves data URIs.

    Args:
        folder: where to cache; default ``$ECOMVIZ_HOME/cache/images``.
        timeout: seconds per download.
        max_bytes: refuse larger downloads.
        workers: parallel downloads in :meth:`data_uris`.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 30.0,
        max_bytes: int = 30_000_000,
        workers: int = 8,
    ) -> None:
        self.folder = Path(folder) if folder else config.resolve_home() / "cache" / "images"
        self.max_bytes = max_bytes
        self.workers = workers
        self._http = httpx.Client(timeout=timeout, follow_redirects=True)
        self._memory: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ImageStore({str(self.folder)!r})"

    def close(self) -> None:
        self._http.close()

    # ---- keys and files

    @staticmethod
    def key(source: ImageSource) -> str:
        """A stable cache key: the hash of a URL or path, or of the bytes themselves."""
        if isinstance(source, Image.Image):
            raw = source.tobytes() + repr((source.mode, source.size)).encode()
        elif isinstance(source, bytes):
            raw = source
        else:
            raw = os.fspath(source).encode()
        return hashlib.sha256(raw).hexdigest()[:32]

    def _path(self, kind: str, name: str) -> Path:
        return self.folder / kind / name[:2] / name

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: two kernels writing the same entry never mix bytes

    # ---- fetching

    def original(self, source: ImageSource) -> bytes:
        """The image's encoded bytes (downloaded once, then read from the cache).

        Raises:
            ImageError: the download or the file failed.
        """
        if isinstance(source, bytes):
            return source
        if isinstance(source, Image.Image):
            out = io.BytesIO()
            source.save(out, "PNG")
            return out.getvalue()
        text = os.fspath(source)
        if not text.startswith(("http://", "https://")):
            try:
                return Path(text).read_bytes()
            except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise ImageError(f"cannot read {text[:200]!r}: {reason}") from None
        path = self._path("originals", self.key(text))
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        data = self._download(text)
        self._write(path, data)
        return data

    def _download(self, url: str) -> bytes:
        headers = config.auth_headers(url)
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise ImageError(f"{url} answered HTTP {response.status_code}")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ImageError(f"{url} is larger than {self.max_bytes} bytes")
                    chunks.append(chunk)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ImageError(f"could not fetch {url[:200]}: {type(exc).__name__}") from None
        return b"".join(chunks)

    def thumbnail(self, source: ImageSource, size: int = THUMB_SIZE) -> bytes:
        """A JPEG thumbnail (longest side ``size``), cached on disk."""
        if isinstance(source, Image.Image):
            return _encode(ImageOps.exif_transpose(source.copy()), size, 78)
        path = self._path("thumbs", f"{self.key(source)}-{size}.jpg")
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        data = thumbnail_bytes(self.original(source), size)
        self._write(path, data)
        return data

    def data_uri(self, source: ImageSource, size: int = THUMB_SIZE) -> str:
        """The thumbnail as a ``data:image/jpeg;base64,…`` URI (kept in memory once made)."""
        memo = (self.key(source), size) if not isinstance(source, Image.Image) else None
        if memo is not None:
            with self._lock:
                found = self._memory.get(memo)
                if found is not None:
                    self._memory.move_to_end(memo)
                    return found
        uri = data_uri(self.thumbnail(source, size))
        if memo is not None:
            with self._lock:
                self._memory[memo] = uri
                while len(self._memory) > 2048:
                    self._memory.popitem(last=False)
        return uri

    def data_uris(
        self, sources: Sequence[ImageSource], size: int = THUMB_SIZE
    ) -> list[str | ImageError]:
        """Data URIs for many images, fetched in parallel; a failure is returned, not raised."""

        def one(source: ImageSource) -> str | ImageError:
            try:
                return self.data_uri(source, size)
            except ImageError as exc:
                return exc

        # A repeated URL is fetched once, not once per thread that happens to ask for it.
        unique: dict[str, ImageSource] = {}
        keys = []
        for source in sources:
            key = self.key(source)
            keys.append(key)
            unique.setdefault(key, source)
        if len(unique) <= 1:
            results = {k: one(s) for k, s in unique.items()}
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(unique))) as pool:
                results = dict(zip(unique, pool.map(one, unique.values()), strict=True))
        return [results[k] for k in keys]


_default: dict[Path, ImageStore] = {}
_default_lock = threading.Lock()


def default_store() -> ImageStore:
    """The store for the current ``$ECOMVIZ_HOME`` (one per folder, made on first use)."""
    folder = config.resolve_home() / "cache" / "images"
    with _default_lock:
        store = _default.get(folder)
        if store is None:
            store = _default[folder] = ImageStore(folder)
        return store
