"""Hostile input, one table across three layers: the models (and the client that sends them),
the sandbox's HTTP API (raw requests) and the panels (values typed into widgets).

Every case names the field its error must name:

* models: a ``ValidationError`` for that field (or, for a CSV, the refused row's line), and
  the client sent nothing (its ``httpx.MockTransport`` counts the requests);
* sandbox: a 4xx with ``{"success": false, "message": ...}`` naming it, never a 500,
  answered within a few seconds;
* panels: the status (or plan) line names it, the action button is off, nothing was sent.

A few cases are hostile strings a field takes as free text (``field=None``): they are kept
verbatim on the wire and shown escaped. A case with ``bug`` set is a known failure, kept as a
strict xfail: the day it is fixed the xfail fails, and the ``bug`` can go.

The image host is a local web server that the guarded sandbox may fetch from (``fetch_allow``
lets its ``host:port`` through): decompression bombs, a 50 MB image made on the fly, redirects
to private addresses, a server that sends a byte now and then.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import io
import json
import re
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import ipywidgets as widgets
import pytest
from PIL import Image
from support import http_server, png_bomb, png_header, small_png, walk

import ecomviz_nb as ev
from ecomviz_nb.runs.items import read_items
from ecomviz_nb.sandbox import Settings
from ecomviz_nb.widgets import BatchPanel, GeneratePanel, ProductPanel, SweepPanel, TryOnPanel

REMOTE = "https://api.test"  # a server on the internet: private webhooks cannot be reached
PHOTO = "https://example.com/shirt.jpg"
PERSON = "https://example.com/person.jpg"
GARMENT = "https://example.com/dress.png"
MARKUP = "<script>alert(1)</script>"
NUL, RTL, EMOJI = "\x00", "\u202e", "\U0001f600"
HOSTILE = f"{MARKUP}{NUL}{RTL}gpj.exe{EMOJI}"
AUTH = {"Authorization": "Bearer hostile-token"}
JSON_TYPE = {"Content-Type": "application/json"}
MAIN = [ev.ImageSpec("main")]


@dataclass(frozen=True)
class Case:
    id: str
    layer: str
    """``models``, ``sandbox`` or ``panels``."""
    input: Any
    """models: a callable of a :class:`Local`; sandbox: an :class:`Http`; panels: a
    :class:`Typed`."""
    field: str | None
    """What the error must name; None: free text, accepted verbatim and shown escaped."""
    status: int | None = None
    """sandbox: the 4xx expected."""
    says: tuple[str, ...] = ()
    """More words the error must hold."""
    bug: str | None = None
    """A known failure: why."""
    within: float = 5.0
    """sandbox: seconds the answer may take at most."""


# ---------------------------------------------------------------- models: inputs


class Local:
    """Clients on an ``httpx.MockTransport`` that count what they send, and a scratch folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sent: list[httpx.Request] = []
        self.made: list[ev.Client | ev.AsyncClient] = []

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(404, json={"success": False, "message": "not here"})

    def client(self, base_url: str = REMOTE) -> ev.Client:
        http = httpx.Client(transport=httpx.MockTransport(self._answer))
        client = ev.Client("tok-hostile-1", base_url=base_url, http_client=http, max_retries=0)
        self.made.append(client)
        return client

    def aclient(self, base_url: str = REMOTE) -> ev.AsyncClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self._answer))
        client = ev.AsyncClient("tok-hostile-1", base_url=base_url, http_client=http, max_retries=0)
        self.made.append(client)
        return client

    def close(self) -> None:
        """Close every client made (a second close is harmless)."""
        for client in self.made:
            if isinstance(client, ev.AsyncClient):
                asyncio.run(client.aclose())
            else:
                client.close()

    def csv(self, text: str) -> Path:
        path = self.folder / "items.csv"
        path.write_text(text, encoding="utf-8")
        return path


def build(make: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[Local], Any]:
    """Build a model object when the case runs."""
    return lambda _local: make(*args, **kwargs)


def generate(request: Any, *, base_url: str = REMOTE) -> Callable[[Local], Any]:
    """``client.generate("p1", request)`` on a counting client."""

    def run(local: Local) -> Any:
        with local.client(base_url) as client:
            return client.generate("p1", request)

    return run


def try_generate(request: Any) -> Callable[[Local], Any]:
    def run(local: Local) -> Any:
        with local.client() as client:
            return client.try_generate(ev.Product(id="p1"), request)

    return run


def try_on(request: Any, *, asynchronous: bool = False) -> Callable[[Local], Any]:
    """``client.try_on(request)`` on a counting client (or an ``AsyncClient``)."""

    def run(local: Local) -> Any:
        with local.client() as client:
            return client.try_on(request)

    async def run_async(local: Local) -> Any:
        async with local.aclient() as client:
            return await client.try_on(request)

    return run_async if asynchronous else run


def client_call(method: str, *args: Any) -> Callable[[Local], Any]:
    """``client.<method>(*args)`` on a counting client."""

    def run(local: Local) -> Any:
        with local.client() as client:
            return getattr(client, method)(*args)

    return run


def csv_rows(text: str) -> Callable[[Local], Any]:
    """``read_items`` on a CSV file; its first refused row is raised as the error it names."""

    def run(local: Local) -> Any:
        for item in read_items(local.csv(text)):
            if item.error:
                where, _sep, why = item.error.partition(": ")
                raise ev.ValidationError(where, item.label, why)
        return None

    return run


def webhook_at(url: str) -> ev.GenerateRequest:
    return ev.GenerateRequest(MAIN, webhook=ev.Webhook(url, token="whsec-hostile"))


def try_on_hooked(url: str) -> ev.TryOnRequest:
    return ev.TryOnRequest(PERSON, [GARMENT], webhook=ev.Webhook(url))


def csv_of(*rows: str) -> str:
    return "\n".join(["label,image_urls", *rows]) + "\n"


# ---------------------------------------------------------------- sandbox: inputs


@dataclass(frozen=True)
class Http:
    """A raw request; ``SB`` is the sandbox's base URL, ``IMG`` the image host's, ``PID`` a
    product's id."""

    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def create(*urls: str) -> Http:
    return Http("POST", "/api/products/url", json={"imageUrls": list(urls)})


def raw_create(content: bytes) -> Http:
    return Http("POST", "/api/products/url", content=content, headers=JSON_TYPE)


def gen(body: Any) -> Http:
    return Http("POST", "/api/products/PID/generate", json=body)


def vto(**changes: Any) -> Http:
    body = {
        "personImageUrl": "SB/samples/people/person-a.jpg",
        "clothingImageUrls": [{"url": "SB/samples/garments/dress-green.png"}],
        **changes,
    }
    return Http("POST", "/api/vto/generate-url", json=body)


# ---------------------------------------------------------------- panels: inputs


@dataclass(frozen=True)
class Csv:
    """A CSV file's text; typed into a path field, it is written first and its path typed."""

    text: str


@dataclass(frozen=True)
class Typed:
    """Values typed into a panel: ``(path, value)`` steps, ``rows.main.count`` meaning
    ``panel.rows["main"].count.value``; a callable step gets the panel."""

    panel: str
    steps: tuple[Any, ...]
    base_url: str = REMOTE


def typed(panel: str, *steps: Any) -> Typed:
    return Typed(panel, steps)


def _remove_garment(panel: Any) -> None:
    panel.remove_clothing(panel.clothing_rows[0])


# ---------------------------------------------------------------- the table

CASES: list[Case] = [
    # ======== models (and the client in front of the wire)
    # webhooks the API on the internet cannot reach: refused before anything is sent
    Case("webhook-10.0.0.5", "models", generate(webhook_at("http://10.0.0.5/hook")), "webhook.url"),
    Case(
        "webhook-192.168.1.10-in-a-json-body",
        "models",
        generate({"imageType": [{"main": 1}], "webhook": {"url": "http://192.168.1.10:8080/h"}}),
        "webhook.url",
    ),
    Case(
        "webhook-cloud-metadata-on-a-try-on",
        "models",
        try_on(try_on_hooked("http://169.254.169.254/latest/meta-data/")),
        "webhook.url",
    ),
    Case(
        "webhook-localhost-async",
        "models",
        try_on(try_on_hooked("http://localhost:8000/hook"), asynchronous=True),
        "webhook.url",
    ),
    Case(
        "webhook-decimal-loopback",
        "models",
        generate(webhook_at("http://2130706433/hook")),
        "webhook.url",
    ),
    Case(
        "webhook-ipv6-loopback", "models", generate(webhook_at("http://[::1]:9/h")), "webhook.url"
    ),
    Case(
        "webhook-172.16-on-try-generate",
        "models",
        try_generate(webhook_at("https://172.16.5.4/hook")),
        "webhook.url",
    ),
    # CSV rows
    Case(
        "csv-row-with-10000-columns",
        "models",
        csv_rows(csv_of(",".join(["x"] * 10_000))),
        "line 2",
        says=("10000 fields", "at most 50"),
    ),
    Case(
        "csv-field-of-200000-chars",
        "models",
        csv_rows(csv_of("big," + "h" * 200_000)),
        "line 2",
        says=("unreadable CSV",),
    ),
    Case(
        "csv-hostile-label-and-a-javascript-url",
        "models",
        csv_rows(csv_of("ok," + PHOTO, f"{MARKUP}{RTL},javascript:alert(1)")),
        "line 3",
        says=("image_urls[0]",),
    ),
    # ids that go into URL paths
    Case("product-id-with-nul", "models", client_call("get_product", "p\x001"), "product_id"),
    Case(
        "product-id-path-traversal", "models", client_call("get_product", "../admin"), "product_id"
    ),
    Case("vto-id-percent-dots", "models", client_call("get_try_on", "%2e%2e"), "vto_id"),
    # URLs
    Case(
        "image-url-javascript",
        "models",
        client_call("create_product", [PHOTO, "javascript:alert(1)"]),
        "image_urls[1]",
    ),
    Case(
        "image-url-with-a-line-break",
        "models",
        client_call("create_product", ["https://example.com/a\r\nX-Evil: 1"]),
        "image_urls[0]",
    ),
    Case(
        "image-url-with-nul",
        "models",
        client_call("create_product", ["https://exa\x00mple.com/a.jpg"]),
        "image_urls[0]",
    ),
    Case(
        "image-url-port-99999",
        "models",
        client_call("create_product", ["https://example.com:99999/a.jpg"]),
        "image_urls[0]",
    ),
    Case(
        "person-url-with-a-space-in-the-host",
        "models",
        try_on({"personImageUrl": "http://exa mple.com/p.jpg", "clothingImageUrls": [GARMENT]}),
        "person_image_url",
    ),
    # numbers
    Case(
        "height-10**400",
        "models",
        build(ev.TryOnRequest, PERSON, [GARMENT], height=10**400),
        "height",
    ),
    Case(
        "weight-as-text-60kg",
        "models",
        build(ev.TryOnRequest, PERSON, [GARMENT], weight="60kg"),
        "weight",
    ),
    Case(
        "count-infinity-in-a-json-body",
        "models",
        generate({"imageType": [{"main": float("inf")}]}),
        "main.count",
    ),
    Case(
        "ratio-99999:1",
        "models",
        build(ev.ImageSpec, "detail", aspect_ratio="99999:1"),
        "detail.aspect_ratio",
    ),
    Case(
        "ratio-in-arabic-digits",
        "models",
        build(ev.ImageSpec, "main", aspect_ratio="\u0661:\u0661"),
        "main.aspect_ratio",
    ),
    # wrong types and shapes
    Case(
        "region-as-a-list",
        "models",
        generate({"imageType": [{"main": 1}], "region": ["us"]}),
        "region",
    ),
    Case(
        "clothing-info-as-bytes",
        "models",
        try_on({"personImageUrl": PERSON, "clothingImageUrls": [{"url": GARMENT, "info": b"x"}]}),
        "clothing[0].info",
    ),
    Case(
        "clothing-key-of-markup",
        "models",
        try_on({"personImageUrl": PERSON, "clothingImageUrls": [{"url": GARMENT, MARKUP: 1}]}),
        f"clothing[0].{MARKUP}",
    ),
    Case(
        "webhook-url-as-an-object",
        "models",
        generate({"imageType": [{"main": 1}], "webhook": {"url": {"$gt": ""}}}),
        "webhook.url",
    ),
    Case("request-a-json-list", "models", generate([{"imageType": [{"main": 1}]}]), "request"),
    Case("image-type-with-rtl", "models", build(ev.ImageSpec, f"main{RTL}"), "image_type"),
    Case("webhook-token-blank", "models", build(ev.Webhook, PHOTO, token=" \t "), "webhook.token"),
    Case(
        "token-with-a-line-break",
        "models",
        build(ev.Client, "sk-abc\r\nX-Evil: 1", base_url=REMOTE),
        "token",
    ),
    Case(
        "base-url-javascript",
        "models",
        build(ev.Client, "t", base_url="javascript:alert(1)"),
        "base_url",
    ),
    # free text: accepted, kept verbatim
    Case(
        "region-platform-language-hostile-free-text",
        "models",
        build(ev.GenerateRequest, MAIN, region=HOSTILE, platform=MARKUP * 100, language=EMOJI),
        None,
    ),
    Case(
        "clothing-info-hostile-free-text",
        "models",
        build(ev.TryOnRequest, PERSON, [ev.Clothing(GARMENT, info=HOSTILE * 50)]),
        None,
    ),
    # ======== sandbox HTTP API: raw requests
    # the fetch guard: bombs, size, private addresses, redirects, slow servers
    Case(
        "png-bomb-30000x30000",
        "sandbox",
        create("IMG/bomb.png"),
        "imageUrls[0]",
        400,
        says=("decompression bomb",),
    ),
    Case(
        "jpeg-header-declaring-30000x30000",
        "sandbox",
        vto(personImageUrl="IMG/bomb.jpg"),
        "personImageUrl",
        400,
        says=("decompression bomb",),
    ),
    Case(
        "png-7000x7000-over-the-pixel-limit",
        "sandbox",
        create("IMG/huge.png"),
        "imageUrls[0]",
        400,
        says=("pixels",),
    ),
    Case(
        "image-of-50-mb-declared",
        "sandbox",
        vto(clothingImageUrls=[{"url": "IMG/50mb.png"}]),
        "clothingImageUrls[0].url",
        400,
        says=("byte limit",),
    ),
    Case(
        "image-of-50-mb-streamed-without-length",
        "sandbox",
        create("SB/samples/products/tshirt-red.jpg", "IMG/50mb-stream.png"),
        "imageUrls[1]",
        400,
        says=("byte limit",),
    ),
    Case(
        "redirect-to-127.0.0.1",
        "sandbox",
        create("IMG/to-loopback"),
        "imageUrls[0]",
        400,
        says=("refused", "loopback", "127.0.0.1"),
    ),
    Case(
        "redirect-to-localhost-same-port",
        "sandbox",
        create("IMG/to-localhost"),
        "imageUrls[0]",
        400,
        says=("refused", "loopback"),
    ),
    Case(
        "redirect-to-169.254.169.254",
        "sandbox",
        create("IMG/to-metadata"),
        "imageUrls[0]",
        400,
        says=("refused", "link-local", "169.254.169.254"),
    ),
    Case(
        "redirect-to-mapped-ipv6-metadata",
        "sandbox",
        create("IMG/to-mapped"),
        "imageUrls[0]",
        400,
        says=("refused",),
    ),
    Case(
        "redirect-to-file-url",
        "sandbox",
        create("IMG/to-file"),
        "imageUrls[0]",
        400,
        says=("not an http(s) URL",),
    ),
    Case(
        "redirect-to-a-malformed-url",
        "sandbox",
        create("IMG/to-malformed"),
        "imageUrls[0]",
        400,
        says=("malformed",),
    ),
    Case(
        "redirect-loop",
        "sandbox",
        create("IMG/loop"),
        "imageUrls[0]",
        400,
        says=("too many redirects",),
    ),
    Case(
        "server-sending-a-byte-now-and-then",
        "sandbox",
        create("IMG/trickle.png"),
        "imageUrls[0]",
        400,
        says=("could not fetch",),
        within=8.0,
    ),
    Case(
        "private-address-10.0.0.5",
        "sandbox",
        create("http://10.0.0.5/a.jpg"),
        "imageUrls[0]",
        400,
        says=("refused",),
    ),
    Case(
        "host-label-of-70-chars",
        "sandbox",
        create("http://" + "a" * 70 + ".com/a.jpg"),
        "imageUrls[0]",
        400,
        says=("cannot resolve",),
    ),
    Case(
        "host-with-an-empty-label",
        "sandbox",
        create("http://a..b/a.jpg"),
        "imageUrls[0]",
        400,
        says=("cannot resolve",),
    ),
    # bad JSON bodies
    Case(
        "json-nested-100000-deep",
        "sandbox",
        raw_create(b"[" * 100_000 + b"]" * 100_000),
        "body",
        400,
    ),
    Case(
        "json-number-of-5000-digits",
        "sandbox",
        Http(
            "POST",
            "/api/products/PID/generate",
            content=b'{"imageType": [{"main": ' + b"9" * 5000 + b"}]}",
            headers=JSON_TYPE,
        ),
        "body",
        400,
    ),
    Case(
        "json-truncated",
        "sandbox",
        raw_create(b'{"imageUrls": ["http://a.b/c.jpg"'),
        "body",
        400,
        says=("not valid JSON",),
    ),
    Case(
        "json-lone-surrogate",
        "sandbox",
        raw_create(b'{"imageUrls": ["https://example.com/\\ud800.jpg"]}'),
        "imageUrls[0]",
        422,
    ),
    Case(
        "json-key-with-nul",
        "sandbox",
        Http("POST", "/api/products/url", json={"imageUrls\x00": ["https://e.com/a.jpg"]}),
        "imageUrls",
        422,
    ),
    # wrong types, huge counts, long strings
    Case("count-10**18", "sandbox", gen({"imageType": [{"main": 10**18}]}), "imageType[0]", 422),
    Case("count-1e308", "sandbox", gen({"imageType": [{"detail": 1e308}]}), "imageType[0]", 422),
    Case(
        "vto-13-colours",
        "sandbox",
        gen({"imageType": [{"vto": ["red"] * 13}]}),
        "imageType[0]",
        422,
    ),
    Case("image-types-11", "sandbox", gen({"imageType": [{"main": 1}] * 11}), "imageType", 422),
    Case(
        "region-101-chars",
        "sandbox",
        gen({"imageType": [{"main": 1}], "region": "r" * 101}),
        "region",
        422,
    ),
    Case(
        "webhook-token-a-number",
        "sandbox",
        gen({"imageType": [{"main": 1}], "webhook": {"url": "https://a.example/h", "token": 5}}),
        "webhook.token",
        422,
    ),
    Case(
        "clothing-info-301-hostile-chars",
        "sandbox",
        vto(
            clothingImageUrls=[
                {"url": "SB/samples/garments/dress-green.png", "info": (HOSTILE * 40)[:301]}
            ]
        ),
        "clothingImageUrls[0].info",
        422,
    ),
    Case(
        "height-infinity",
        "sandbox",
        Http(
            "POST",
            "/api/vto/generate-url",
            headers=JSON_TYPE,
            content=b'{"personImageUrl": "https://e.com/p.jpg", "clothingImageUrls": '
            b'[{"url": "https://e.com/c.jpg"}], "height": 1e999}',
        ),
        "height",
        422,
    ),
    Case(
        "image-urls-an-object",
        "sandbox",
        Http("POST", "/api/products/url", json={"imageUrls": {"0": "https://e.com/a.jpg"}}),
        "imageUrls",
        422,
    ),
    # ======== panels: values typed into widgets
    Case(
        "generate-count-typed-50",
        "panels",
        typed("generate", ("rows.main.count", 50)),
        "main.count",
    ),
    Case(
        "generate-count-typed-0",
        "panels",
        typed("generate", ("rows.detail.enabled", True), ("rows.detail.count", 0)),
        "detail.count",
    ),
    Case("generate-region-emptied", "panels", typed("generate", ("region", "")), "region"),
    Case("generate-platform-blank", "panels", typed("generate", ("platform", " \t ")), "platform"),
    Case(
        "generate-vto-colour-blank",
        "panels",
        typed("generate", ("vto_enabled", True), ("vto_colors", ["red", " "])),
        "vto.colors[1]",
    ),
    Case(
        "generate-webhook-javascript",
        "panels",
        typed("generate", ("webhook_url", "javascript:alert(1)")),
        "webhook.url",
    ),
    Case(
        "generate-webhook-10.0.0.5-for-the-real-api",
        "panels",
        typed("generate", ("webhook_url", "http://10.0.0.5/hook")),
        "webhook.url",
    ),
    Case(
        "generate-region-hostile-free-text",
        "panels",
        typed("generate", ("region", HOSTILE), ("platform", MARKUP)),
        None,
    ),
    Case(
        "try-on-height-typed-300",
        "panels",
        typed("tryon", ("use_height", True), ("height", 300)),
        "height",
    ),
    Case(
        "try-on-weight-typed-1000",
        "panels",
        typed("tryon", ("use_weight", True), ("weight", 1000)),
        "weight",
    ),
    Case(
        "try-on-person-javascript",
        "panels",
        typed("tryon", ("person_url", "javascript:alert(1)")),
        "person_image_url",
    ),
    Case(
        "try-on-garment-url-markup",
        "panels",
        typed("tryon", ("clothing_rows.0.url", MARKUP)),
        "clothing[0].url",
    ),
    Case("try-on-every-garment-removed", "panels", typed("tryon", _remove_garment), "clothing"),
    Case(
        "try-on-info-hostile-free-text",
        "panels",
        typed("tryon", ("clothing_rows.0.info", HOSTILE * 20)),
        None,
    ),
    Case(
        "product-url-file-scheme",
        "panels",
        typed("product", ("urls", "file:///etc/passwd")),
        "image_urls[0]",
    ),
    Case(
        "product-second-line-markup",
        "panels",
        typed("product", ("urls", f"{PHOTO}\n{MARKUP}")),
        "image_urls[1]",
    ),
    Case(
        "sweep-images-per-run-typed-1000",
        "panels",
        typed("sweep", ("count", 1000)),
        "main.count",
    ),
    Case(
        "sweep-platform-empty",
        "panels",
        typed("sweep", ("axes.platform", ("general", ""))),
        "platform",
    ),
    Case("sweep-height-999", "panels", typed("sweep-tryon", ("axes.height", (170, 999))), "height"),
    Case("batch-concurrency-0", "panels", typed("batch", ("concurrency", 0)), "concurrency"),
    Case(
        "batch-concurrency-10**6", "panels", typed("batch", ("concurrency", 10**6)), "concurrency"
    ),
    Case("batch-name-with-nul", "panels", typed("batch", ("batch_name", "shop\x00x")), "name"),
    Case("batch-name-markup", "panels", typed("batch", ("batch_name", MARKUP)), "name"),
    Case("batch-name-101-chars", "panels", typed("batch", ("batch_name", "n" * 101)), "name"),
    Case(
        "batch-name-rtl-override",
        "panels",
        typed("batch", ("batch_name", f"shop{RTL}vsc.exe")),
        "name",
    ),
    Case(
        "batch-csv-row-with-10000-columns",
        "panels",
        typed("batch", ("csv_path", Csv(csv_of(",".join(["x"] * 10_000))))),
        "line 2",
    ),
    Case(
        "batch-webhook-192.168.1.10-for-the-real-api",
        "panels",
        typed("batch", ("webhook_url", "http://192.168.1.10/hook")),
        "webhook.url",
    ),
]


def _params(layer: str) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else [],
        )
        for case in CASES
        if case.layer == layer
    ]


def test_the_table_spans_three_layers_with_at_least_60_cases() -> None:
    layers = [case.layer for case in CASES]
    assert len(CASES) >= 60
    assert layers.count("models") >= 25
    assert layers.count("sandbox") >= 20
    assert layers.count("panels") >= 15
    assert set(layers) == {"models", "sandbox", "panels"}
    assert len({case.id for case in CASES}) == len(CASES)
    assert all(case.status is not None for case in CASES if case.layer == "sandbox")


# ---------------------------------------------------------------- models


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    made = Local(tmp_path)
    yield made
    made.close()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("case", _params("models"))
async def test_models_refuse_hostile_input_naming_the_field_and_send_nothing(
    case: Case, local: Local
) -> None:
    try:
        result = case.input(local)
        if inspect.isawaitable(result):
            result = await result
    except ev.ValidationError as exc:
        assert case.field is not None, f"free text was refused: {exc}"
        assert exc.field == case.field, str(exc)
        message = str(exc)
        assert message.startswith(case.field), message
        for word in case.says:
            assert word in message, message
    else:
        assert case.field is None, f"accepted, but {case.field} should be refused: {result!r}"
        wire = result.to_wire()
        assert json.loads(json.dumps(wire, ensure_ascii=False)) == wire  # serialisable as is
        assert any(HOSTILE in s for s in _strings(wire)), wire  # kept verbatim
    assert local.sent == [], [f"{r.method} {r.url}" for r in local.sent]


def test_a_local_server_may_still_be_given_a_loopback_webhook(local: Local) -> None:
    """The other side of the rule: a sandbox on 127.0.0.1 posts to a webhook inbox there."""
    hook = "http://127.0.0.1:8765/webhook"
    with local.client("http://127.0.0.1:8787") as client, pytest.raises(ev.APIError):
        client.try_on(try_on_hooked(hook))  # the mock answers 404: it was sent
    assert len(local.sent) == 1
    assert json.loads(local.sent[0].content)["webhook"]["url"] == hook
    with local.client() as client, pytest.raises(ev.APIError):  # a public hook, the real API
        client.try_on(try_on_hooked("https://hooks.example.com/ecomviz"))
    assert len(local.sent) == 2


# ---------------------------------------------------------------- sandbox: the image host


def jpeg_declaring(width: int, height: int) -> bytes:
    """A 16 x 16 JPEG whose frame header is rewritten to declare ``width`` x ``height``."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


FIFTY_MB = 50_000_000
MEBIBYTE = b"\x89PNG" + b"\x00" * (1024 * 1024 - 4)


class ImageHost:
    """Hostile images and redirects on a loopback port the guarded sandbox may fetch from."""

    def __init__(self) -> None:
        self.port = 0
        self.files = {
            "/bomb.png": ("image/png", png_bomb(30_000, 30_000)),
            "/bomb.jpg": ("image/jpeg", jpeg_declaring(30_000, 30_000)),
            "/huge.png": ("image/png", png_header(7_000, 7_000)),
        }

    def redirects(self) -> dict[str, str]:
        return {
            "/to-loopback": "http://127.0.0.1:1/a.png",
            "/to-localhost": f"http://localhost:{self.port}/bomb.png",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-mapped": "http://[::ffff:169.254.169.254]/latest/meta-data/",
            "/to-file": "file:///etc/passwd",
            "/to-malformed": "http://[unclosed/a.png",
            "/loop": "/loop",
        }

    def handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def head(self, status: int, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def do_GET(self) -> None:
                with suppress(OSError):  # the sandbox hangs up on what it refuses
                    self.answer()

            def answer(self) -> None:
                path = self.path
                if path in host.files:
                    ctype, body = host.files[path]
                    self.head(200, {"Content-Type": ctype, "Content-Length": str(len(body))})
                    self.wfile.write(body)
                elif path in host.redirects():
                    self.head(302, {"Location": host.redirects()[path], "Content-Length": "0"})
                elif path in ("/50mb.png", "/50mb-stream.png"):
                    headers = {"Content-Type": "image/png"}
                    if path == "/50mb.png":
                        headers["Content-Length"] = str(FIFTY_MB)
                    self.head(200, headers)
                    for _ in range(FIFTY_MB // len(MEBIBYTE) + 1):  # made on the fly
                        self.wfile.write(MEBIBYTE)
                elif path == "/trickle.png":
                    self.head(200, {"Content-Type": "image/png", "Content-Length": "1000000"})
                    for _ in range(60):
                        self.wfile.write(b"\x00")
                        self.wfile.flush()
                        time.sleep(0.5)
                else:
                    self.head(404, {"Content-Length": "0"})

        return Handler

    @contextmanager
    def running(self) -> Iterator[ImageHost]:
        with http_server(self.handler()) as server:
            self.port = int(server.server_address[1])
            yield self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Guarded:
    sandbox: ev.Sandbox
    images: ImageHost
    product_id: str

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith("SB/"):
                value = self.sandbox.url + value[2:]
            elif value.startswith("IMG/"):
                value = self.images.url + value[3:]
            return value.replace("/PID/", f"/{self.product_id}/")
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value


@pytest.fixture(scope="module")
def guarded() -> Iterator[Guarded]:
    """A sandbox that may fetch from the image host (and only there, of private addresses),
    with a 1 s fetch timeout and the default 20 MB byte cap."""
    with ImageHost().running() as images:
        settings = Settings(fetch_allow=(f"127.0.0.1:{images.port}",), fetch_timeout=1.0)
        with ev.Sandbox(port=0, job_seconds=0, settings=settings) as sb:
            response = httpx.post(
                f"{sb.url}/api/products/url",
                json={"imageUrls": [f"{sb.url}/samples/products/tshirt-red.jpg"]},
                headers=AUTH,
                timeout=30,
            )
            assert response.status_code == 200, response.text
            yield Guarded(sb, images, str(response.json()["data"]["_id"]))


@pytest.mark.parametrize("case", _params("sandbox"))
def test_sandbox_answers_hostile_input_with_a_4xx_naming_the_field(
    case: Case, guarded: Guarded
) -> None:
    request: Http = case.input
    kwargs: dict[str, Any] = {"headers": {**AUTH, **request.headers}}
    if request.content is not None:
        kwargs["content"] = request.content
    else:
        kwargs["json"] = guarded.fill(request.json)
    started = time.monotonic()
    with httpx.Client(base_url=guarded.sandbox.url, timeout=30) as http:
        response = http.request(request.method, guarded.fill(request.path), **kwargs)
    elapsed = time.monotonic() - started
    assert response.status_code != 500, response.text[:300]
    assert response.status_code == case.status, response.text[:300]
    assert elapsed < case.within, f"answered after {elapsed:.1f} s"
    assert response.headers.get("content-type", "").startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "message"}, body
    assert body["success"] is False
    message = body["message"]
    assert case.field is not None and case.field in message, message
    for word in case.says:
        assert word in message, message
    assert "Traceback" not in response.text


def test_the_guarded_sandbox_still_fetches_from_the_image_host(guarded: Guarded) -> None:
    """The control: the refusals above are the guard's, not an unreachable host's."""
    guarded.images.files["/ok.png"] = ("image/png", small_png())
    response = httpx.post(
        f"{guarded.sandbox.url}/api/products/url",
        json={"imageUrls": [f"{guarded.images.url}/ok.png"]},
        headers=AUTH,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["colors"] == ["red"]


# ---------------------------------------------------------------- panels


PANELS: dict[str, tuple[Callable[[ev.AsyncClient, Path], Any], str, tuple[str, ...]]] = {
    # kind: (make the panel, its action button, the widgets that show its problems)
    "generate": (
        lambda c, _f: GeneratePanel(c, ev.Product(id="p1", name="Shirt", colors=["red"])),
        "generate_button",
        ("status",),
    ),
    "tryon": (
        lambda c, _f: TryOnPanel(c, person_url=PERSON, clothing=[(GARMENT, "price US9.9")]),
        "try_on_button",
        ("status",),
    ),
    "product": (lambda c, _f: ProductPanel(c, [PHOTO]), "create_button", ("status",)),
    "sweep": (lambda c, _f: SweepPanel(c, ev.Product(id="p1")), "run_button", ("plan_line",)),
    "sweep-tryon": (
        lambda c, _f: SweepPanel(c, try_on=ev.TryOnRequest(PERSON, [GARMENT])),
        "run_button",
        ("plan_line",),
    ),
    "batch": (
        lambda c, folder: _batch_panel(c, folder),
        "start_button",
        ("source_line", "plan_line", "status"),
    ),
}


def _batch_panel(client: ev.AsyncClient, folder: Path) -> BatchPanel:
    panel = BatchPanel(client, name="hostile")
    good = folder / "good.csv"
    good.write_text("label,product_id\nshirt,p1\n", encoding="utf-8")
    panel.csv_path.value = str(good)
    return panel


def _type(panel: Any, path: str, value: Any, folder: Path) -> None:
    target = panel
    for part in path.split("."):
        if isinstance(target, dict):
            target = target[part]
        elif isinstance(target, list):
            target = target[int(part)]
        else:
            target = getattr(target, part)
    if isinstance(value, Csv):
        file = folder / "typed.csv"
        file.write_text(value.text, encoding="utf-8")
        value = str(file)
    target.value = value


def _shown(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _all_html(panel: Any) -> list[str]:
    """The markup of every HTML widget in the panel (inputs hold the raw text typed)."""
    return [w.value for w in walk(panel) if isinstance(w, widgets.HTML)]


@pytest.mark.parametrize("case", _params("panels"))
def test_panels_name_the_field_and_turn_their_button_off(
    case: Case, local: Local, tmp_path: Path
) -> None:
    spec: Typed = case.input
    make, button_name, readouts = PANELS[spec.panel]
    client = local.aclient(spec.base_url)
    panel = make(client, tmp_path)
    button = getattr(panel, button_name)
    assert not button.disabled, _shown("".join(getattr(panel, r).value for r in readouts))
    for step in spec.steps:
        if callable(step):
            step(panel)
        else:
            _type(panel, *step, tmp_path)
    shown = " ".join(_shown(getattr(panel, r).value) for r in readouts)
    markup = "".join(_all_html(panel))
    assert MARKUP not in markup  # typed markup is shown escaped, never as markup
    assert local.sent == [], [f"{r.method} {r.url}" for r in local.sent]
    if case.field is None:
        assert not button.disabled, shown
        assert html.escape(MARKUP) in markup or html.escape(MARKUP, quote=False) in markup
        return
    assert case.field in shown, shown
    assert button.disabled, f"{button_name} is on: {shown}"


async def test_a_private_webhook_typed_for_the_real_api_turns_generate_off(local: Local) -> None:
    """The panel knows its server: a webhook it could never reach is refused as it is typed."""
    panel = GeneratePanel(local.aclient(), ev.Product(id="p1"))
    panel.webhook_url.value = "http://169.254.169.254/latest/meta-data/"
    assert panel.generate_button.disabled
    assert "webhook.url" in _shown(panel.status.value)
    panel.generate_button.click()
    assert panel.task is None
    assert local.sent == []
