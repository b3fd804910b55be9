"""An in-memory EcomViz API for client tests, and the sync/async flavour that drives a client."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx

import ecomviz_nb as ev

BASE_URL = "https://api.test"
TOKEN = "tok-unit-0123456789"

# The reference's request examples, key for key.
CREATE_PRODUCT_BODY: dict[str, Any] = {
    "imageUrls": ["https://example.com/image1.jpg", "https://example.com/image2.jpg"]
}
GENERATE_BODY: dict[str, Any] = {
    "imageType": [
        {"main": 3, "aspectRatio": "1:1"},
        {"detail": 2, "aspectRatio": "4:3"},
        {"vto": ["red", "blue"]},
    ],
    "region": "global",
    "platform": "general",
    "removeBrandLogo": False,
    "changePortrait": False,
    "language": "org_text",
    "webhook": {
        "url": "https://your-server.com/webhook",
        "token": "optional-verification-token",
    },
}
TRY_ON_BODY: dict[str, Any] = {
    "personImageUrl": "https://example.com/person.jpg",
    "clothingImageUrls": [
        {"url": "https://example.com/clothing1.jpg", "info": "price US9.9"},
        {"url": "https://example.com/clothing2.jpg", "info": "price US7.9, only for kids"},
    ],
    "height": 170,
    "weight": 60,
    "aspectRatio": "2:3",
    "watermark": True,
    "webhook": {"url": "https://your-server.com/webhook", "token": "optional_secret_token"},
}


GENERATE_PATH = ["api", "products", "generate"]  # /api/products/{id}/generate without its id


def generate_request() -> ev.GenerateRequest:
    """The reference's generate example built from the public models."""
    return ev.GenerateRequest(
        image_types=[
            ev.ImageSpec("main", count=3, aspect_ratio="1:1"),
            ev.ImageSpec("detail", count=2, aspect_ratio="4:3"),
            ev.ImageSpec("vto", colors=["red", "blue"]),
        ],
        region="global",
        platform="general",
        remove_brand_logo=False,
        change_portrait=False,
        language="org_text",
        webhook=ev.Webhook("https://your-server.com/webhook", token="optional-verification-token"),
    )


def try_on_request() -> ev.TryOnRequest:
    """The reference's try-on example built from the public models."""
    return ev.TryOnRequest(
        person_image_url="https://example.com/person.jpg",
        clothing=[
            ev.Clothing("https://example.com/clothing1.jpg", info="price US9.9"),
            ev.Clothing("https://example.com/clothing2.jpg", info="price US7.9, only for kids"),
        ],
        height=170,
        weight=60,
        aspect_ratio="2:3",
        watermark=True,
        webhook=ev.Webhook("https://your-server.com/webhook", token="optional_secret_token"),
    )


def small_generate_request() -> ev.GenerateRequest:
    """Two main images and one VTO colour: three expected images."""
    return ev.GenerateRequest([ev.ImageSpec("main", count=2), ev.ImageSpec("vto", colors=["red"])])


def error(status: int, message: str, **headers: str) -> httpx.Response:
    """The assumed error envelope ``{"success": false, "message": ...}``."""
    return httpx.Response(status, json={"success": False, "message": message}, headers=headers)


# A scripted reply: a response, an httpx exception class (raised with the request), or a
# function of the request.
Reply = httpx.Response | type[httpx.HTTPError] | Callable[[httpx.Request], httpx.Response]


class FakeAPI:
    """The handler of an ``httpx.MockTransport``: products and try-ons kept in dicts.

    It answers the five endpoints of the provider's reference with the reference's JSON
    envelopes, records every request it sees, and can be told to answer the next requests of a
    method with scripted replies (a status, a non-JSON body, or a raised ``httpx`` exception)
    before routing. Tests get one from the ``fake_api`` fixture.

    Attributes:
        requests: every request received, in order (scripted ones included).
        images_per_poll: None makes generated images appear at once; a number makes that many
            appear on each later ``GET`` of the product.
        vto_statuses: the statuses a new try-on reports on successive ``GET``s (the last repeats).
        token: when set, requests without ``Authorization: Bearer <token>`` get a 401.
    """

    def __init__(self, *, token: str | None = None) -> None:
        self.token = token
        self.products: dict[str, dict[str, Any]] = {}
        self.vtos: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.images_per_poll: int | None = None
        self.vto_statuses: list[str] = ["completed"]
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._vto_status_queue: dict[str, list[str]] = {}
        self._scripted: dict[str, list[Reply]] = {"GET": [], "POST": []}
        self._counter = 0

    # ---- setting up

    def add_product(
        self, product_id: str = "p1", *, images: int = 0, **extra: Any
    ) -> dict[str, Any]:
        """Store a product holding ``images`` already generated images."""
        product: dict[str, Any] = {
            "_id": product_id,
            "productName": f"Product {product_id}",
            "generatedImages": [
                self._image(product_id, f"old{i}", "main", None) for i in range(images)
            ],
            "aiAnalysis": {"category": "shirt"},
            "colors": ["black", "white", "red"],
            "createdAt": "2024-01-01T00:00:00.000Z",
            **extra,
        }
        self.products[product_id] = product
        return product

    def add_vto(self, vto_id: str = "vto_a", *statuses: str) -> None:
        """Store a try-on task that reports ``statuses`` on successive GETs (default completed)."""
        self.vtos[vto_id] = {
            "_id": vto_id,
            "personImage": {"filePath": "https://example.com/person.jpg"},
            "clothingImages": [{"filePath": "https://example.com/clothing1.jpg"}],
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-01-01T00:05:00.000Z",
        }
        self._vto_status_queue[vto_id] = list(statuses or ("completed",))

    def script(self, method: str, *replies: Reply) -> None:
        """Answer the next requests of ``method`` with ``replies``, in order, before routing."""
        self._scripted[method].extend(replies)

    def calls(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        """The requests received, optionally only those of a method and/or a raw path."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and (path is None or r.url.raw_path.decode() == path)
        ]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        """The request's decoded JSON body."""
        return json.loads(request.content)

    # ---- the handler

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self._scripted.get(request.method, [])
        if queue:
            reply = queue.pop(0)
            if isinstance(reply, httpx.Response):
                # A fresh copy: one scripted response may answer several requests or tests.
                return httpx.Response(
                    reply.status_code, headers=reply.headers, content=reply.content
                )
            if isinstance(reply, type) and issubclass(reply, httpx.HTTPError):
                raise reply("scripted failure", request=request)  # type: ignore[call-arg]
            return reply(request)
        if self.token is not None and request.headers.get("authorization") != (
            f"Bearer {self.token}"
        ):
            return error(401, "Invalid or missing API token")
        return self._route(request)

    def _route(self, request: httpx.Request) -> httpx.Response:
        parts = [unquote(p) for p in request.url.raw_path.decode().split("?")[0].split("/")]
        method = request.method
        if method == "POST" and parts[1:] == ["api", "products", "url"]:
            return self._create_product(self.body(request))
        if method == "GET" and len(parts) == 4 and parts[1:3] == ["api", "products"]:
            return self._get_product(parts[3])
        if method == "POST" and len(parts) == 5 and parts[1:3] + parts[4:] == GENERATE_PATH:
            return self._generate(parts[3], self.body(request))
        if method == "POST" and parts[1:] == ["api", "vto", "generate-url"]:
            return self._try_on(self.body(request))
        if method == "GET" and len(parts) == 4 and parts[1:3] == ["api", "vto"]:
            return self._get_try_on(parts[3])
        return error(404, f"Cannot {method} {request.url.path}")

    # ---- routes

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    @staticmethod
    def _image(product_id: str, name: str, kind: str, color: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"platform": "general", "region": "global", "imageType": kind}
        if color is not None:
            params["color"] = color
        return {
            "filePath": f"uploads/{product_id}/{name}.jpg",
            "generatedAt": "2024-01-01T00:00:00.000Z",
            "generationParams": params,
        }

    def _create_product(self, body: dict[str, Any]) -> httpx.Response:
        product_id = self._next_id("prod_")
        self.add_product(product_id)
        data = dict(self.products[product_id])
        data.pop("generatedImages")
        return httpx.Response(200, json={"success": True, "data": data})

    def _get_product(self, product_id: str) -> httpx.Response:
        product = self.products.get(product_id)
        if product is None:
            return error(404, "Product not found")
        pending = self._pending.get(product_id, [])
        if pending and self.images_per_poll is not None:
            arrived, self._pending[product_id] = (
                pending[: self.images_per_poll],
                pending[self.images_per_poll :],
            )
            product["generatedImages"].extend(arrived)
        return httpx.Response(200, json={"success": True, "data": product})

    def _generate(self, product_id: str, body: dict[str, Any]) -> httpx.Response:
        if product_id not in self.products:
            return error(404, "Product not found")
        new = []
        for entry in body["imageType"]:
            if "vto" in entry:
                new += [
                    self._image(product_id, self._next_id("vto"), "vto", c) for c in entry["vto"]
                ]
                continue
            kind = next(k for k in entry if k != "aspectRatio")
            new += [
                self._image(product_id, self._next_id(kind), kind, None) for _ in range(entry[kind])
            ]
        if self.images_per_poll is None:
            self.products[product_id]["generatedImages"].extend(new)
        else:
            self._pending.setdefault(product_id, []).extend(new)
        return httpx.Response(
            200,
            json={
                "success": True,
                "message": "Image generation task started",
                "productId": product_id,
            },
        )

    def _try_on(self, body: dict[str, Any]) -> httpx.Response:
        vto_id = self._next_id("vto_")
        self.vtos[vto_id] = {
            "_id": vto_id,
            "personImage": {"filePath": body["personImageUrl"]},
            "clothingImages": [{"filePath": c["url"]} for c in body["clothingImageUrls"]],
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-01-01T00:05:00.000Z",
        }
        self._vto_status_queue[vto_id] = list(self.vto_statuses)
        return httpx.Response(
            200,
            json={
                "success": True,
                "message": "VTO try-on image generation task has been submitted",
                "vtoId": vto_id,
                "personImage": body["personImageUrl"],
                "clothingImages": [c["url"] for c in body["clothingImageUrls"]],
            },
        )

    def _get_try_on(self, vto_id: str) -> httpx.Response:
        vto = self.vtos.get(vto_id)
        if vto is None:
            return error(404, "VTO task not found")
        queue = self._vto_status_queue[vto_id]
        status = queue.pop(0) if len(queue) > 1 else queue[0]
        images = [{"filePath": f"uploads/vto/{vto_id}.jpg"}] if status == "completed" else []
        data = {**vto, "status": status, "generatedImages": images}
        return httpx.Response(200, json={"success": True, "data": data})


AnyClient = ev.Client | ev.AsyncClient
T = TypeVar("T")


@dataclass
class Flavour:
    """``ev.Client`` or ``ev.AsyncClient`` over a :class:`FakeAPI`, so one test body checks both.

    Tests get one from the ``flavour`` fixture, once per flavour. Its clients record every wait
    (retries, turns and the polls of the jobs they return) in ``slept`` and jitter at 0.5;
    ``run`` turns what a client or job method returned into its result.
    """

    name: str
    """``sync`` or ``async``."""
    api: FakeAPI
    slept: list[float] = field(default_factory=list)
    """The delays its clients waited (retries, turns, job polls), in order; none was real."""
    clients: list[AnyClient] = field(default_factory=list)
    """Every client built here; the fixture closes them."""

    @property
    def is_async(self) -> bool:
        """Whether this is the ``AsyncClient`` flavour."""
        return self.name == "async"

    @property
    def cls(self) -> type[ev.Client] | type[ev.AsyncClient]:
        """The client class of this flavour."""
        return ev.AsyncClient if self.is_async else ev.Client

    @property
    def sleep(self) -> Callable[[float], Any]:
        """The recording sleep of this flavour (a coroutine function for async)."""
        return self._async_sleep if self.is_async else self.slept.append

    async def _async_sleep(self, seconds: float) -> None:
        self.slept.append(seconds)  # inside the coroutine: a sleep never awaited records nothing

    def http(self, handler: Callable[[httpx.Request], httpx.Response] | None = None) -> Any:
        """An ``httpx`` client of this flavour whose transport is ``handler`` (the fake API)."""
        transport = httpx.MockTransport(handler or self.api)
        if self.is_async:
            return httpx.AsyncClient(transport=transport)
        return httpx.Client(transport=transport)

    def client(self, token: str | None = TOKEN, **options: Any) -> Any:
        """A client on the fake API at ``BASE_URL`` with the recording sleep and jitter 0.5."""
        options = {"base_url": BASE_URL, "sleep": self.sleep, "rand": lambda: 0.5, **options}
        return self.plain_client(token, **options)

    def plain_client(self, token: str | None = None, **options: Any) -> Any:
        """A client built with ``options`` only, sending to the fake API unless told otherwise."""
        options.setdefault("http_client", self.http())
        client = self.cls(token, **options)
        self.clients.append(client)
        return client

    async def run(self, value: T | Awaitable[T]) -> T:
        """The result of a call: awaited for async; only the async flavour may return awaitables."""
        assert inspect.isawaitable(value) == self.is_async, f"{self.name} returned {value!r}"
        if inspect.isawaitable(value):
            return await value
        return value

    async def close(self, closable: Any) -> None:
        """Close a client (ours or an ``httpx`` one) the way this flavour does."""
        if self.is_async:
            await closable.aclose()
        else:
            closable.close()


def make_client(api: FakeAPI, *, token: str | None = TOKEN, **options: Any) -> ev.Client:
    """A sync client on ``api`` that never really waits, for tests that need no fixture."""
    client: ev.Client = Flavour("sync", api).client(token, **options)
    return client


def make_async_client(api: FakeAPI, *, token: str | None = TOKEN, **options: Any) -> ev.AsyncClient:
    """An async client on ``api`` that never really waits, for tests that need no fixture."""
    client: ev.AsyncClient = Flavour("async", api).client(token, **options)
    return client
