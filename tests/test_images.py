"""The image store: caching on disk and in memory, thumbnails, the token's reach, failures."""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image, JpegImagePlugin

from ecomviz_nb import config, images
from ecomviz_nb.images import ImageError, ImageStore, thumbnail_bytes

API = "https://api.images.test"
CDN = "https://cdn.images.test"
TOKEN = "tok-images-123456"

Handler = Callable[[httpx.Request], httpx.Response]


def encoded(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def gradient(size: tuple[int, int]) -> Image.Image:
    """A picture with some detail, so JPEG sizes and timings are realistic."""
    x = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (x, x.transpose(Image.Transpose.ROTATE_90).resize(size), x))


def decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "JPEG"
    return image


class Recorder:
    """An httpx MockTransport handler that serves fixed bodies and records every request."""

    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.routes.get(str(request.url), httpx.Response(404))


def store_with(tmp_path: Path, handler: Handler, **kwargs: object) -> ImageStore:
    store = ImageStore(tmp_path / "cache", **kwargs)  # type: ignore[arg-type]
    store._http.close()
    store._http = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
    return store


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private token registry, so registrations here never leak into other tests."""
    monkeypatch.setattr(config, "_api_tokens", {})
    config.register_api(API, TOKEN)


JPEG = encoded(gradient((640, 480)))


# ---------------------------------------------------------------- caching


def test_second_request_is_served_from_memory_without_disk_or_network(tmp_path: Path) -> None:
    feed = Recorder({f"{CDN}/a.jpg": httpx.Response(200, content=JPEG)})
    store = store_with(tmp_path, feed)
    first = store.data_uri(f"{CDN}/a.jpg")
    assert len(feed.requests) == 1
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            path.unlink()
    assert store.data_uri(f"{CDN}/a.jpg") == first
    assert len(feed.requests) == 1


def test_a_new_store_on_the_same_folder_reads_the_disk_cache(tmp_path: Path) -> None:
    feed = Recorder({f"{CDN}/a.jpg": httpx.Response(200, content=JPEG)})
    first = store_with(tmp_path, feed).data_uri(f"{CDN}/a.jpg")
    assert sorted(p.parent.parent.name for p in (tmp_path / "cache").rglob("*") if p.is_file()) == [
        "originals",
        "thumbs",
    ]
    again = store_with(tmp_path, feed)
    assert again.data_uri(f"{CDN}/a.jpg") == first
    assert again.original(f"{CDN}/a.jpg") == JPEG
    assert again.thumbnail(f"{CDN}/a.jpg", 64) != b""  # a new size: made from the cached original
    assert len(feed.requests) == 1


def test_data_uris_fetch_in_parallel_keep_order_and_return_failures(tmp_path: Path) -> None:
    sizes = [(100 + 10 * i, 50 + 5 * i) for i in range(12)]
    routes = {
        f"{CDN}/{i}.png": httpx.Response(200, content=encoded(gradient(s), "PNG"))
        for i, s in enumerate(sizes)
    }
    feed = Recorder(routes)
    store = store_with(tmp_path, feed)
    urls = [f"{CDN}/{i}.png" for i in range(12)] + [f"{CDN}/missing.png"]
    found = store.data_uris(urls)
    assert [decoded(u).size for u in found[:12] if isinstance(u, str)] == sizes
    assert isinstance(found[12], ImageError) and "HTTP 404" in str(found[12])


# ---------------------------------------------------------------- thumbnails


def test_data_uri_is_a_jpeg_no_larger_than_256_px(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "cache")
    for size in [(1024, 1024), (2000, 500), (300, 1200), (40, 30)]:
        image = decoded(store.data_uri(encoded(gradient(size), "PNG")))
        assert max(image.size) == min(256, max(size))
        assert abs(image.width / image.height - size[0] / size[1]) < 0.05


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to view
    landscape = encoded(gradient((400, 200)), exif=exif.tobytes())
    thumb = Image.open(io.BytesIO(thumbnail_bytes(landscape)))
    assert thumb.size == (128, 256)


def test_transparency_is_flattened_on_white() -> None:
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (0, 0, 50, 100))
    thumb = Image.open(io.BytesIO(thumbnail_bytes(encoded(rgba, "PNG"))))
    assert thumb.mode == "RGB"
    red, clear = thumb.getpixel((10, 50)), thumb.getpixel((90, 50))
    assert isinstance(red, tuple) and isinstance(clear, tuple)
    assert red[0] > 180 and red[1] < 40
    assert min(clear) > 245


def test_large_jpeg_is_decoded_at_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    big = encoded(gradient((4000, 3000)), quality=90)
    calls: list[tuple[object, ...]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, *args: object) -> object:
        calls.append(args)
        return real_draft(self, *args)  # type: ignore[arg-type]

    def best(run: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return min(times)

    def full_decode() -> None:
        with Image.open(io.BytesIO(big)) as image:
            image.convert("RGB").thumbnail((256, 256), Image.Resampling.LANCZOS)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    assert Image.open(io.BytesIO(thumbnail_bytes(big))).size == (256, 192)
    assert calls == [("RGB", (512, 512))]
    fast, slow = best(lambda: thumbnail_bytes(big)), best(full_decode)
    assert fast < slow / 3, (fast, slow)
    assert fast < 0.5


def test_decompression_bomb_is_refused_without_decoding() -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 9_000, 9_000, 1, 0, 0, 0, 0)  # 81 MP
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    with pytest.raises(ImageError, match="too large"):
        thumbnail_bytes(bomb)


# ---------------------------------------------------------------- the token's reach


@pytest.mark.usefixtures("tokens")
def test_token_goes_to_the_registered_api_origin_only(tmp_path: Path) -> None:
    urls = [
        f"{API}/files/a.jpg",
        f"{CDN}/a.jpg",
        "https://api.images.test:8443/a.jpg",
        "http://api.images.test/a.jpg",
        "https://evil.test/?u=https://api.images.test/",
    ]
    feed = Recorder({url: httpx.Response(200, content=JPEG) for url in urls})
    store = store_with(tmp_path, feed)
    for url in urls:
        store.original(url)
    sent = {str(r.url): r.headers.get("authorization") for r in feed.requests}
    assert sent == {urls[0]: f"Bearer {TOKEN}"} | {url: None for url in urls[1:]}


@pytest.mark.usefixtures("tokens")
def test_a_redirect_from_the_api_to_another_host_drops_the_token(tmp_path: Path) -> None:
    feed = Recorder(
        {
            f"{API}/files/a.jpg": httpx.Response(302, headers={"Location": f"{CDN}/a.jpg"}),
            f"{CDN}/a.jpg": httpx.Response(200, content=JPEG),
        }
    )
    assert store_with(tmp_path, feed).original(f"{API}/files/a.jpg") == JPEG
    assert [(r.url.host, r.headers.get("authorization")) for r in feed.requests] == [
        ("api.images.test", f"Bearer {TOKEN}"),
        ("cdn.images.test", None),
    ]


# ---------------------------------------------------------------- failures


def test_failures_raise_image_error_with_the_reason(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        if request.url.path == "/text":
            return httpx.Response(200, content=b"<html>not an image</html>")
        if request.url.path == "/huge":
            return httpx.Response(200, content=b"x" * 5000)
        return httpx.Response(500)

    store = store_with(tmp_path, handler, max_bytes=4096)
    cases = {
        f"{CDN}/err": "answered HTTP 500",
        f"{CDN}/down": "ConnectError",
        f"{CDN}/text": "not a readable image",
        f"{CDN}/huge": "larger than 4096 bytes",
        str(tmp_path / "nothing.jpg"): "cannot read",
    }
    for source, reason in cases.items():
        with pytest.raises(ImageError, match=reason):
            store.data_uri(source)
    assert not list((tmp_path / "cache").rglob("*.jpg"))  # nothing bad was cached


def test_malformed_sources_raise_image_error(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "cache")
    for source in ("http://[::1/x.jpg", "http://\u00b2e\u00fc/x.jpg", "bad\x00path"):
        with pytest.raises(ImageError):
            store.data_uri(source)


def test_default_store_follows_ecomviz_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = images.default_store()
    assert images.default_store() is first
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "elsewhere"))
    second = images.default_store()
    assert second is not first
    assert second.folder == tmp_path / "elsewhere" / "cache" / "images"
