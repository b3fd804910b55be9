"""``ev.Client`` and ``ev.AsyncClient``: requests, errors, retries, jobs, ledger and lifetime.

Every behaviour the two share runs once per flavour (the ``flavour`` fixture): ``flavour.run``
awaits what the async client returns. Tests that hold for one flavour only come last, by name.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fake_api import (
    BASE_URL,
    CREATE_PRODUCT_BODY,
    GENERATE_BODY,
    TOKEN,
    TRY_ON_BODY,
    AnyClient,
    FakeAPI,
    Flavour,
    error,
    generate_request,
    make_async_client,
    make_client,
    small_generate_request,
    try_on_request,
)

import ecomviz_nb as ev
from ecomviz_nb import config

retry_delay = ev.client.retry_delay
parse_retry_after = ev.client.parse_retry_after

# An operation returns a result (sync client) or an awaitable of it (async client).
Operation = Callable[[Any], Any]

OPERATIONS: dict[str, Operation] = {
    "create_product": lambda c: c.create_product(CREATE_PRODUCT_BODY["imageUrls"]),
    "get_product": lambda c: c.get_product("p1"),
    "generate": lambda c: c.generate("p1", small_generate_request()),
    "try_on": lambda c: c.try_on(try_on_request()),
    "get_try_on": lambda c: c.get_try_on("vto_a"),
}
# (operation, method, path of the request that a scripted reply answers)
ENDPOINTS: dict[str, tuple[Operation, str, str]] = {
    "create_product": (OPERATIONS["create_product"], "POST", "/api/products/url"),
    "get_product": (OPERATIONS["get_product"], "GET", "/api/products/p1"),
    "generate": (OPERATIONS["generate"], "POST", "/api/products/p1/generate"),
    "try_on": (OPERATIONS["try_on"], "POST", "/api/vto/generate-url"),
    "get_try_on": (OPERATIONS["get_try_on"], "GET", "/api/vto/vto_a"),
}
GET_ENDPOINTS = {k: v for k, v in ENDPOINTS.items() if v[1] == "GET"}
POST_ENDPOINTS = {k: v for k, v in ENDPOINTS.items() if v[1] == "POST"}


# ---------------------------------------------------------------- the exact requests


async def test_create_product_posts_the_reference_body(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    product = await flavour.run(api_client.create_product(CREATE_PRODUCT_BODY["imageUrls"]))

    [request] = fake_api.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.test/api/products/url"
    assert fake_api.body(request) == CREATE_PRODUCT_BODY
    assert request.headers["content-type"] == "application/json"
    assert isinstance(product, ev.Product)
    assert product.id == "prod_1"
    assert product.name == "Product prod_1"
    assert product.colors == ["black", "white", "red"]


async def test_get_product_sends_a_get_to_the_product_path(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    product = await flavour.run(api_client.get_product("p1"))

    [request] = fake_api.requests
    assert request.method == "GET"
    assert str(request.url) == "https://api.test/api/products/p1"
    assert request.content == b""
    assert product.id == "p1"


async def test_generate_reads_the_product_then_posts_the_reference_body(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    await flavour.run(api_client.generate("p1", generate_request()))

    assert [(r.method, r.url.path) for r in fake_api.requests] == [
        ("GET", "/api/products/p1"),
        ("POST", "/api/products/p1/generate"),
    ]
    body = fake_api.body(fake_api.requests[1])
    assert body == GENERATE_BODY
    assert list(body) == list(GENERATE_BODY)
    assert str(fake_api.requests[1].url) == "https://api.test/api/products/p1/generate"


async def test_generate_accepts_the_reference_json_as_a_dict(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    await flavour.run(api_client.generate("p1", GENERATE_BODY))

    [post] = fake_api.calls("POST")
    assert fake_api.body(post) == GENERATE_BODY


async def test_try_on_posts_the_reference_body(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    await flavour.run(api_client.try_on(try_on_request()))

    [request] = fake_api.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.test/api/vto/generate-url"
    body = fake_api.body(request)
    assert body == TRY_ON_BODY
    assert list(body) == list(TRY_ON_BODY)


async def test_try_on_accepts_the_reference_json_as_a_dict(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    await flavour.run(api_client.try_on(TRY_ON_BODY))

    [request] = fake_api.requests
    assert fake_api.body(request) == TRY_ON_BODY


async def test_try_on_leaves_out_unset_optional_fields(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    request = ev.TryOnRequest("https://example.com/p.jpg", ["https://example.com/c.jpg"])

    await flavour.run(api_client.try_on(request))

    assert fake_api.body(fake_api.requests[0]) == {
        "personImageUrl": "https://example.com/p.jpg",
        "clothingImageUrls": [{"url": "https://example.com/c.jpg"}],
        "aspectRatio": "2:3",
        "watermark": True,
    }


async def test_get_try_on_sends_a_get_to_the_vto_path(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    result = await flavour.run(api_client.get_try_on("vto_a"))

    [request] = fake_api.requests
    assert request.method == "GET"
    assert str(request.url) == "https://api.test/api/vto/vto_a"
    assert isinstance(result, ev.TryOnResult)
    assert result.id == "vto_a"


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_every_request_carries_the_bearer_token_and_accepts_json(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, name: str
) -> None:
    await flavour.run(OPERATIONS[name](api_client))

    assert fake_api.requests
    for request in fake_api.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/json"


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_no_authorization_header_is_sent_without_a_token(
    fake_api: FakeAPI, flavour: Flavour, name: str
) -> None:
    client = flavour.client(token=None)

    await flavour.run(OPERATIONS[name](client))

    assert fake_api.requests
    for request in fake_api.requests:
        assert "authorization" not in request.headers
        assert request.headers["accept"] == "application/json"
    assert client.has_token is False


async def test_ids_are_url_quoted_in_paths(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    odd = "p+1:é&=;@"
    fake_api.add_product(odd)
    fake_api.add_vto(odd)

    await flavour.run(api_client.get_product(odd))
    await flavour.run(api_client.generate(odd, small_generate_request()))
    await flavour.run(api_client.get_try_on(odd))

    quoted = "p%2B1%3A%C3%A9%26%3D%3B%40"
    assert [r.url.raw_path.decode() for r in fake_api.requests] == [
        f"/api/products/{quoted}",
        f"/api/products/{quoted}",
        f"/api/products/{quoted}/generate",
        f"/api/vto/{quoted}",
    ]


async def test_base_url_comes_from_the_argument(
    fake_api: FakeAPI, flavour: Flavour, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, "https://env.example")
    client = flavour.client(base_url="https://arg.example/")

    await flavour.run(client.get_product("p1"))

    assert client.base_url == "https://arg.example"
    assert str(fake_api.requests[0].url) == "https://arg.example/api/products/p1"


async def test_base_url_comes_from_the_environment(
    fake_api: FakeAPI, flavour: Flavour, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, "http://localhost:8765")
    client = flavour.plain_client(TOKEN)

    await flavour.run(client.get_product("p1"))

    assert client.base_url == "http://localhost:8765"
    assert str(fake_api.requests[0].url) == "http://localhost:8765/api/products/p1"


async def test_base_url_defaults_to_the_public_api(fake_api: FakeAPI, flavour: Flavour) -> None:
    client = flavour.plain_client(TOKEN)

    await flavour.run(client.get_product("p1"))

    assert client.base_url == "https://ecomviz.cloud"
    assert str(fake_api.requests[0].url) == "https://ecomviz.cloud/api/products/p1"


async def test_base_url_with_a_path_prefix_keeps_the_prefix(
    fake_api: FakeAPI, flavour: Flavour
) -> None:
    client = flavour.client(base_url="https://gw.example/ecomviz/")
    fake_api.script("GET", httpx.Response(200, json={"success": True, "data": {"_id": "p1"}}))

    await flavour.run(client.get_product("p1"))

    assert str(fake_api.requests[0].url) == "https://gw.example/ecomviz/api/products/p1"


@pytest.mark.parametrize("bad", ["ftp://api.test", "api.test", "https://", "https://a.test/?x=1"])
async def test_a_bad_base_url_is_a_validation_error(flavour: Flavour, bad: str) -> None:
    with pytest.raises(ev.ValidationError):
        flavour.cls(token=TOKEN, base_url=bad)


async def test_token_comes_from_the_environment(
    fake_api: FakeAPI, flavour: Flavour, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_TOKEN, "tok-from-env-42")
    client = flavour.plain_client(base_url=BASE_URL)

    await flavour.run(client.get_product("p1"))

    assert client.has_token
    assert fake_api.requests[0].headers["authorization"] == "Bearer tok-from-env-42"


async def test_token_argument_wins_over_the_environment(
    fake_api: FakeAPI, flavour: Flavour, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_TOKEN, "tok-from-env-42")
    client = flavour.plain_client("tok-from-arg-7", base_url=BASE_URL)

    await flavour.run(client.get_product("p1"))

    assert fake_api.requests[0].headers["authorization"] == "Bearer tok-from-arg-7"


async def test_a_blank_environment_token_sends_no_authorization(
    fake_api: FakeAPI, flavour: Flavour, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_TOKEN, "   ")
    client = flavour.plain_client(base_url=BASE_URL)

    await flavour.run(client.get_product("p1"))

    assert "authorization" not in fake_api.requests[0].headers


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
async def test_max_retries_must_be_a_whole_number(flavour: Flavour, bad: Any) -> None:
    with pytest.raises(ev.ValidationError) as info:
        flavour.cls(token=TOKEN, base_url=BASE_URL, max_retries=bad)

    assert info.value.field == "max_retries"


@pytest.mark.parametrize("seam", ["sleep", "rand"])
async def test_sleep_and_rand_must_be_callable(flavour: Flavour, seam: str) -> None:
    with pytest.raises(ev.ValidationError) as info:
        flavour.cls(token=TOKEN, base_url=BASE_URL, **{seam: 0.5})

    assert info.value.field == seam
    assert info.value.value == 0.5
    assert "callable" in str(info.value)


# ---------------------------------------------------------------- bad input sends nothing

BAD_CALLS: dict[str, Operation] = {
    "create_product ftp url": lambda c: c.create_product(["ftp://example.com/a.jpg"]),
    "create_product relative url": lambda c: c.create_product(["/a.jpg"]),
    "create_product empty list": lambda c: c.create_product([]),
    "create_product bare string": lambda c: c.create_product("https://example.com/a.jpg"),
    "get_product slash": lambda c: c.get_product("a/b"),
    "get_product empty": lambda c: c.get_product(""),
    "get_product dotdot": lambda c: c.get_product(".."),
    "get_product not a string": lambda c: c.get_product(42),
    "get_try_on slash": lambda c: c.get_try_on("a/b"),
    "get_try_on empty": lambda c: c.get_try_on(""),
    "generate slash id": lambda c: c.generate("a/b", small_generate_request()),
    "generate empty id": lambda c: c.generate("", small_generate_request()),
    "generate wrong request type": lambda c: c.generate("p1", try_on_request()),
    "generate string request": lambda c: c.generate("p1", "main=3"),
    "generate dict zero count": lambda c: c.generate("p1", {"imageType": [{"main": 0}]}),
    "generate dict empty types": lambda c: c.generate("p1", {"imageType": []}),
    "generate dict unknown key": lambda c: c.generate(
        "p1", {"imageType": [{"main": 1}], "colour": "red"}
    ),
    "generate dict two types in one entry": lambda c: c.generate(
        "p1", {"imageType": [{"main": 1, "detail": 1}]}
    ),
    "generate dict empty vto colours": lambda c: c.generate("p1", {"imageType": [{"vto": []}]}),
    "generate dict bad webhook url": lambda c: c.generate(
        "p1", {"imageType": [{"main": 1}], "webhook": {"url": "not a url"}}
    ),
    "try_on wrong request type": lambda c: c.try_on(small_generate_request()),
    "try_on none": lambda c: c.try_on(None),
    "try_on height 400": lambda c: c.try_on({**TRY_ON_BODY, "height": 400}),
    "try_on weight 5": lambda c: c.try_on({**TRY_ON_BODY, "weight": 5}),
    "try_on aspect 4:3": lambda c: c.try_on({**TRY_ON_BODY, "aspectRatio": "4:3"}),
    "try_on no clothing": lambda c: c.try_on({**TRY_ON_BODY, "clothingImageUrls": []}),
    "try_on bad person url": lambda c: c.try_on({**TRY_ON_BODY, "personImageUrl": "x.jpg"}),
    "try_on watermark string": lambda c: c.try_on({**TRY_ON_BODY, "watermark": "no"}),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
async def test_bad_input_raises_validation_error_and_sends_nothing(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, name: str
) -> None:
    with pytest.raises(ev.ValidationError) as info:
        await flavour.run(BAD_CALLS[name](api_client))

    assert isinstance(info.value, ValueError)
    assert fake_api.requests == []
    assert api_client.jobs.list() == []


def test_try_on_request_with_height_400_fails_when_built() -> None:
    with pytest.raises(ev.ValidationError) as info:
        ev.TryOnRequest("https://example.com/p.jpg", ["https://example.com/c.jpg"], height=400)

    assert info.value.field == "height"


# ---------------------------------------------------------------- error mapping

STATUS_ERRORS = [
    (400, ev.APIError),
    (401, ev.AuthenticationError),
    (403, ev.AuthenticationError),
    (404, ev.NotFoundError),
    (422, ev.APIError),
    (429, ev.RateLimitError),
    (500, ev.ServerError),
    (502, ev.ServerError),
    (503, ev.ServerError),
]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(("status", "cls"), STATUS_ERRORS)
async def test_error_status_maps_to_its_exception(
    fake_api: FakeAPI, flavour: Flavour, endpoint: str, status: int, cls: type[ev.APIError]
) -> None:
    operation, method, path = ENDPOINTS[endpoint]
    client = flavour.client(max_retries=0)
    fake_api.script(method, error(status, "the server says no"))

    with pytest.raises(ev.APIError) as info:
        await flavour.run(operation(client))

    exc = info.value
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.message == "the server says no"
    assert exc.method == method
    assert exc.path == path
    assert "the server says no" in str(exc)
    assert str(status) in str(exc)
    assert len(fake_api.calls(method)) == 1


async def test_rate_limit_error_carries_retry_after(fake_api: FakeAPI, flavour: Flavour) -> None:
    client = flavour.client(max_retries=0)
    fake_api.script("GET", error(429, "slow down", **{"Retry-After": "7"}))

    with pytest.raises(ev.RateLimitError) as info:
        await flavour.run(client.get_product("p1"))

    assert info.value.retry_after == 7.0


async def test_rate_limit_error_without_retry_after_has_none(
    fake_api: FakeAPI, flavour: Flavour
) -> None:
    client = flavour.client(max_retries=0)
    fake_api.script("GET", error(429, "slow down"))

    with pytest.raises(ev.RateLimitError) as info:
        await flavour.run(client.get_product("p1"))

    assert info.value.retry_after is None


async def test_non_json_error_body_gives_its_text_as_the_message(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("POST", httpx.Response(502, text="upstream exploded\n"))

    with pytest.raises(ev.ServerError) as info:
        await flavour.run(api_client.create_product(CREATE_PRODUCT_BODY["imageUrls"]))

    assert info.value.status_code == 502
    assert info.value.message == "upstream exploded"
    assert "upstream exploded" in str(info.value)


async def test_success_false_with_200_is_an_api_error(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script(
        "GET", httpx.Response(200, json={"success": False, "message": "Quota exceeded"})
    )

    with pytest.raises(ev.APIError) as info:
        await flavour.run(api_client.get_product("p1"))

    assert type(info.value) is ev.APIError
    assert info.value.status_code == 200
    assert info.value.message == "Quota exceeded"
    assert "Quota exceeded" in str(info.value)
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
    ids=["html", "json-list"],
)
async def test_a_200_that_is_not_a_json_object_is_an_api_error(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, response: httpx.Response
) -> None:
    fake_api.script("GET", response)

    with pytest.raises(ev.APIError) as info:
        await flavour.run(api_client.get_product("p1"))

    assert type(info.value) is ev.APIError
    assert info.value.status_code == 200
    assert info.value.path == "/api/products/p1"


async def test_unauthorized_without_a_token_says_no_token_was_sent(
    fake_api: FakeAPI, flavour: Flavour
) -> None:
    client = flavour.client(token=None)
    fake_api.script("GET", error(401, "Unauthorized"))

    with pytest.raises(ev.AuthenticationError) as info:
        await flavour.run(client.get_product("p1"))

    assert "no token was sent" in str(info.value)


# ---------------------------------------------------------------- retries: GET


@pytest.mark.parametrize("endpoint", list(GET_ENDPOINTS))
async def test_get_is_retried_after_503_then_succeeds(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, endpoint: str
) -> None:
    operation, method, path = GET_ENDPOINTS[endpoint]
    fake_api.script(method, error(503, "busy"))

    await flavour.run(operation(api_client))

    assert [r.url.path for r in fake_api.requests] == [path, path]
    assert flavour.slept == [retry_delay(0, rand=0.5)]


async def test_get_after_429_waits_exactly_retry_after(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("GET", error(429, "slow down", **{"Retry-After": "2"}))

    product = await flavour.run(api_client.get_product("p1"))

    assert product.id == "p1"
    assert len(fake_api.requests) == 2
    assert flavour.slept == [2.0]


async def test_get_honours_retry_after_as_an_http_date(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    fake_api.script("GET", error(503, "busy", **{"Retry-After": when}))

    await flavour.run(api_client.get_product("p1"))

    [delay] = flavour.slept
    assert 3.0 < delay <= 5.0
    assert len(fake_api.requests) == 2


@pytest.mark.parametrize(("status", "cls"), [(429, ev.RateLimitError), (503, ev.ServerError)])
async def test_get_does_not_wait_out_a_retry_after_over_a_minute(
    fake_api: FakeAPI,
    flavour: Flavour,
    api_client: AnyClient,
    status: int,
    cls: type[ev.APIError],
) -> None:
    fake_api.script("GET", error(status, "come back later", **{"Retry-After": "120"}))

    with pytest.raises(cls) as info:
        await flavour.run(api_client.get_product("p1"))

    assert len(fake_api.requests) == 1
    assert flavour.slept == []
    if isinstance(info.value, ev.RateLimitError):
        assert info.value.retry_after == 120.0


async def test_get_gives_up_after_max_retries(fake_api: FakeAPI, flavour: Flavour) -> None:
    client = flavour.client(max_retries=2)
    fake_api.script("GET", *[error(503, "still busy")] * 5)

    with pytest.raises(ev.ServerError) as info:
        await flavour.run(client.get_product("p1"))

    assert len(fake_api.requests) == 3
    assert flavour.slept == [0.5, 1.0]
    assert info.value.message == "still busy"


async def test_get_rate_limited_until_retries_run_out_raises_rate_limit_error(
    fake_api: FakeAPI, flavour: Flavour
) -> None:
    client = flavour.client(max_retries=1)
    fake_api.script("GET", *[error(429, "slow down", **{"Retry-After": "3"})] * 3)

    with pytest.raises(ev.RateLimitError) as info:
        await flavour.run(client.get_product("p1"))

    assert len(fake_api.requests) == 2
    assert flavour.slept == [3.0]
    assert info.value.retry_after == 3.0


async def test_max_retries_zero_sends_once(fake_api: FakeAPI, flavour: Flavour) -> None:
    client = flavour.client(max_retries=0)
    fake_api.script("GET", error(503, "busy"), httpx.ConnectError)

    with pytest.raises(ev.ServerError):
        await flavour.run(client.get_product("p1"))
    with pytest.raises(ev.APIConnectionError):
        await flavour.run(client.get_product("p1"))

    assert len(fake_api.requests) == 2
    assert flavour.slept == []


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError],
)
async def test_get_is_retried_after_a_transport_error(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, exc: type[httpx.HTTPError]
) -> None:
    fake_api.script("GET", exc)

    product = await flavour.run(api_client.get_product("p1"))

    assert product.id == "p1"
    assert len(fake_api.requests) == 2
    assert flavour.slept == [0.5]


async def test_get_is_retried_after_408(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("GET", error(408, "request timeout"))

    await flavour.run(api_client.get_product("p1"))

    assert len(fake_api.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_get_is_not_retried_after_a_client_error(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, status: int
) -> None:
    fake_api.script("GET", error(status, "no"))

    with pytest.raises(ev.APIError):
        await flavour.run(api_client.get_product("p1"))

    assert len(fake_api.requests) == 1
    assert flavour.slept == []


async def test_get_connect_error_after_retries_was_never_sent(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("GET", *[httpx.ConnectError] * 3)

    with pytest.raises(ev.APIConnectionError) as info:
        await flavour.run(api_client.get_product("p1"))

    exc = info.value
    assert type(exc) is ev.APIConnectionError
    assert exc.maybe_sent is False
    assert exc.method == "GET"
    assert exc.path == "/api/products/p1"
    assert "ConnectError" in str(exc)
    assert len(fake_api.requests) == 3


async def test_get_read_timeout_after_retries_is_a_timeout_error(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("GET", *[httpx.ReadTimeout] * 3)

    with pytest.raises(ev.APITimeoutError) as info:
        await flavour.run(api_client.get_product("p1"))

    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, ev.APIConnectionError)
    assert info.value.maybe_sent is True
    assert len(fake_api.requests) == 3


async def test_retry_sleeps_grow_exponentially_up_to_the_cap(
    fake_api: FakeAPI, flavour: Flavour
) -> None:
    client = flavour.client(max_retries=6)
    fake_api.script("GET", *[error(500, "boom")] * 6)

    await flavour.run(client.get_product("p1"))

    assert flavour.slept == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert flavour.slept == [retry_delay(i, rand=0.5) for i in range(6)]


async def test_retry_sleeps_use_the_client_jitter(fake_api: FakeAPI, flavour: Flavour) -> None:
    client = flavour.client(max_retries=2, rand=lambda: 0.0)
    fake_api.script("GET", httpx.ConnectError, error(503, "busy"))

    await flavour.run(client.get_product("p1"))

    assert flavour.slept == [0.25, 0.5]


async def test_client_waits_with_time_sleep_or_asyncio_sleep_by_default(flavour: Flavour) -> None:
    client = flavour.plain_client(TOKEN, base_url=BASE_URL)

    assert client._sleep is (asyncio.sleep if flavour.is_async else time.sleep)


# ---------------------------------------------------------------- retries: POST


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
@pytest.mark.parametrize("status", [500, 503])
async def test_post_is_not_resent_after_a_server_error(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, endpoint: str, status: int
) -> None:
    operation, _, path = POST_ENDPOINTS[endpoint]
    fake_api.script("POST", error(status, "oops"))

    with pytest.raises(ev.ServerError) as info:
        await flavour.run(operation(api_client))

    assert len(fake_api.calls("POST")) == 1
    assert info.value.path == path
    assert flavour.slept == []


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
async def test_post_is_not_resent_after_a_read_timeout(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, endpoint: str
) -> None:
    operation, _, path = POST_ENDPOINTS[endpoint]
    fake_api.script("POST", httpx.ReadTimeout)

    with pytest.raises(ev.APITimeoutError) as info:
        await flavour.run(operation(api_client))

    exc = info.value
    assert exc.maybe_sent is True
    assert exc.method == "POST"
    assert exc.path == path
    assert "not resent" in str(exc)
    assert len(fake_api.calls("POST")) == 1
    assert flavour.slept == []


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
async def test_post_is_not_resent_after_a_dropped_connection(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, endpoint: str
) -> None:
    operation, _, _ = POST_ENDPOINTS[endpoint]
    fake_api.script("POST", httpx.RemoteProtocolError)

    with pytest.raises(ev.APIConnectionError) as info:
        await flavour.run(operation(api_client))

    assert type(info.value) is ev.APIConnectionError
    assert info.value.maybe_sent is True
    assert "not resent" in str(info.value)
    assert len(fake_api.calls("POST")) == 1


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout])
async def test_post_is_resent_after_a_connect_error_and_succeeds(
    fake_api: FakeAPI,
    flavour: Flavour,
    api_client: AnyClient,
    endpoint: str,
    exc: type[httpx.HTTPError],
) -> None:
    operation, _, path = POST_ENDPOINTS[endpoint]
    fake_api.script("POST", exc)

    await flavour.run(operation(api_client))

    assert [r.url.path for r in fake_api.calls("POST")] == [path, path]
    assert flavour.slept == [0.5]


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
async def test_post_is_retried_after_429_because_the_server_refused_it(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, endpoint: str
) -> None:
    """A 429 says the work was not taken on: sending it again cannot be charged twice."""
    operation, _, _ = POST_ENDPOINTS[endpoint]
    fake_api.script("POST", error(429, "slow down", **{"Retry-After": "1"}))

    await flavour.run(operation(api_client))

    assert len(fake_api.calls("POST")) == 2
    assert flavour.slept == [1.0]


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
async def test_post_429_until_retries_run_out_is_raised(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient, endpoint: str
) -> None:
    operation, _, _ = POST_ENDPOINTS[endpoint]
    fake_api.script("POST", *[error(429, "slow down", **{"Retry-After": "1"})] * 3)

    with pytest.raises(ev.RateLimitError) as info:
        await flavour.run(operation(api_client))

    assert info.value.retry_after == 1.0
    assert len(fake_api.calls("POST")) == 3


async def test_post_connect_errors_until_retries_run_out_were_never_sent(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("POST", *[httpx.ConnectError] * 3)

    with pytest.raises(ev.APIConnectionError) as info:
        await flavour.run(api_client.create_product(CREATE_PRODUCT_BODY["imageUrls"]))

    assert info.value.maybe_sent is False
    assert "not resent" not in str(info.value)
    assert len(fake_api.calls("POST")) == 3


# ---------------------------------------------------------------- the pure retry schedule


def test_retry_delay_uses_retry_after_when_given() -> None:
    assert retry_delay(0, retry_after=2.0) == 2.0
    assert retry_delay(5, retry_after=2.0, rand=0.99) == 2.0
    assert retry_delay(0, retry_after=30.0) == 30.0
    assert retry_delay(3, retry_after=0.0) == 0.0
    assert retry_delay(3, retry_after=-4.0) == 0.0


def test_retry_delay_grows_exponentially() -> None:
    assert [retry_delay(a, rand=0.5) for a in range(5)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert retry_delay(2, rand=0.5, base=1.0) == 4.0


def test_retry_delay_is_capped() -> None:
    assert retry_delay(5, rand=0.5) == 8.0
    assert retry_delay(10_000, rand=0.5) == 8.0
    assert retry_delay(3, rand=0.5, cap=3.0) == 3.0


@pytest.mark.parametrize("attempt", range(8))
def test_retry_delay_jitter_stays_within_half_and_one_and_a_half(attempt: int) -> None:
    nominal = min(8.0, 0.5 * 2**attempt)

    low = retry_delay(attempt, rand=0.0)
    high = retry_delay(attempt, rand=0.999)

    assert low == pytest.approx(nominal * 0.5)
    assert nominal * 0.5 < high < nominal * 1.5
    assert high == pytest.approx(nominal * 1.499)


@pytest.mark.parametrize(
    ("header", "seconds"), [("2", 2.0), (" 3.5 ", 3.5), ("0", 0.0), ("-4", 0.0), ("120", 120.0)]
)
def test_parse_retry_after_reads_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_reads_an_http_date() -> None:
    now = 1_700_000_000.0

    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now=now) == 30.0


def test_parse_retry_after_of_a_past_date_is_zero() -> None:
    now = 1_700_000_000.0

    assert parse_retry_after(email.utils.formatdate(now - 300, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "Wed, 99 Foo 2015", "2 seconds"])
def test_parse_retry_after_ignores_garbage(header: str | None) -> None:
    assert parse_retry_after(header) is None


# ---------------------------------------------------------------- generate and try-on jobs


def generation_job_class(flavour: Flavour) -> type[Any]:
    return ev.AsyncGenerationJob if flavour.is_async else ev.GenerationJob


def try_on_job_class(flavour: Flavour) -> type[Any]:
    return ev.AsyncTryOnJob if flavour.is_async else ev.TryOnJob


async def test_generate_returns_a_submitted_job_kept_in_the_ledger(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.add_product("p2", images=2)

    job = await flavour.run(api_client.generate("p2", generate_request()))

    assert isinstance(job, generation_job_class(flavour))
    assert job.record.state == "submitted"
    assert job.state == "submitted"
    assert job.product_id == "p2"
    assert job.expected == 3 + 2 + 2
    assert job.record.baseline == ["uploads/p2/old0.jpg", "uploads/p2/old1.jpg"]
    assert job.record.message == "Image generation task started"
    stored = api_client.jobs.get(job.id)
    assert isinstance(stored, generation_job_class(flavour))
    assert stored.record.state == "submitted"
    assert stored.product_id == "p2"
    assert stored.expected == 7
    assert stored.record.baseline == job.record.baseline
    assert api_client.jobs.get("p2").id == job.id
    assert [j.id for j in api_client.jobs.list()] == [job.id]


async def test_generate_keeps_the_request_in_the_ledger_without_the_webhook_token(
    flavour: Flavour, api_client: AnyClient
) -> None:
    job = await flavour.run(api_client.generate("p1", generate_request()))

    stored = api_client.jobs.get(job.id).record.request
    assert stored["imageType"] == GENERATE_BODY["imageType"]
    assert stored["webhook"] == {"url": "https://your-server.com/webhook"}


async def test_generate_expected_counts_images_and_vto_colours(
    flavour: Flavour, api_client: AnyClient
) -> None:
    request = ev.GenerateRequest(
        [
            ev.ImageSpec("main", count=4),
            ev.ImageSpec("facebook", count=1, aspect_ratio="16:9"),
            ev.ImageSpec("vto", colors=["red", "blue", "green"]),
        ]
    )

    job = await flavour.run(api_client.generate("p1", request))

    assert job.expected == 8
    assert api_client.jobs.get(job.id).expected == 8


async def test_generate_rejected_with_400_is_marked_rejected(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("POST", error(400, "imageType is invalid"))

    with pytest.raises(ev.APIError) as info:
        await flavour.run(api_client.generate("p1", small_generate_request()))

    assert info.value.status_code == 400
    [job] = api_client.jobs.list()
    assert job.record.state == "rejected"
    assert "imageType is invalid" in (job.record.message or "")


@pytest.mark.parametrize(
    ("reply", "raised"),
    [
        (error(500, "internal"), ev.ServerError),
        (error(503, "unavailable"), ev.ServerError),
        (httpx.ReadTimeout, ev.APITimeoutError),
        (httpx.RemoteProtocolError, ev.APIConnectionError),
    ],
    ids=["500", "503", "read-timeout", "dropped"],
)
async def test_generate_that_may_have_started_is_marked_unknown(
    fake_api: FakeAPI,
    flavour: Flavour,
    api_client: AnyClient,
    reply: Any,
    raised: type[Exception],
) -> None:
    fake_api.script("POST", reply)

    with pytest.raises(raised):
        await flavour.run(api_client.generate("p1", small_generate_request()))

    [job] = api_client.jobs.list()
    assert job.record.state == "unknown"
    assert job.record.message
    assert len(fake_api.calls("POST")) == 1


async def test_generate_that_never_connected_is_marked_rejected(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("POST", *[httpx.ConnectError] * 3)

    with pytest.raises(ev.APIConnectionError):
        await flavour.run(api_client.generate("p1", small_generate_request()))

    [job] = api_client.jobs.list()
    assert job.record.state == "rejected"


async def test_generate_resent_after_a_connect_error_is_submitted_once(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("POST", httpx.ConnectError)

    job = await flavour.run(api_client.generate("p1", small_generate_request()))

    assert job.record.state == "submitted"
    assert len(api_client.jobs.list()) == 1
    assert len(fake_api.calls("POST")) == 2


async def test_generate_for_a_missing_product_sends_no_post(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    with pytest.raises(ev.NotFoundError) as info:
        await flavour.run(api_client.generate("nope", small_generate_request()))

    assert info.value.message == "Product not found"
    assert fake_api.calls("POST") == []
    assert api_client.jobs.list() == []


async def test_try_on_returns_a_job_with_the_vto_id(
    flavour: Flavour, api_client: AnyClient
) -> None:
    job = await flavour.run(api_client.try_on(try_on_request()))

    assert isinstance(job, try_on_job_class(flavour))
    assert job.vto_id == "vto_1"
    assert job.record.state == "submitted"
    assert job.expected == 1
    stored = api_client.jobs.get(job.id)
    assert isinstance(stored, try_on_job_class(flavour))
    assert stored.vto_id == "vto_1"
    assert stored.record.state == "submitted"
    assert api_client.jobs.get("vto_1").id == job.id


async def test_try_on_takes_the_vto_id_from_the_top_level(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script(
        "POST",
        httpx.Response(
            200,
            json={"success": True, "vtoId": "top-level", "data": {"_id": "nested"}},
        ),
    )

    job = await flavour.run(api_client.try_on(try_on_request()))

    assert job.vto_id == "top-level"


async def test_try_on_answer_without_a_vto_id_is_an_error_marked_unknown(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("POST", httpx.Response(200, json={"success": True, "message": "ok"}))

    with pytest.raises(ev.APIError) as info:
        await flavour.run(api_client.try_on(try_on_request()))

    assert "vtoId" in str(info.value)
    [job] = api_client.jobs.list()
    assert job.record.state == "unknown"


async def test_try_on_rejected_with_400_is_marked_rejected(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script("POST", error(400, "personImageUrl unreachable"))

    with pytest.raises(ev.APIError):
        await flavour.run(api_client.try_on(try_on_request()))

    [job] = api_client.jobs.list()
    assert job.record.state == "rejected"


async def test_generate_then_wait_returns_only_the_new_images(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.add_product("p2", images=2)
    fake_api.images_per_poll = 3
    job = await flavour.run(api_client.generate("p2", generate_request()))
    events: list[ev.ProgressEvent] = []

    product = await flavour.run(job.wait(on_progress=events.append))

    assert isinstance(product, ev.Product)
    assert len(product.generated_images) == 2 + 7
    assert len(job.images) == 7
    assert all("/old" not in img.file_path for img in job.images)
    assert {img.file_path for img in job.images}.isdisjoint(job.record.baseline)
    assert all(img.url.startswith("https://api.test/uploads/p2/") for img in job.images)
    assert [e.done for e in events] == [3, 6, 7]
    assert events[-1].status == "completed"
    assert len(flavour.slept) == 2  # the job waited with its client's sleep
    assert api_client.jobs.get(job.id).record.state == "completed"


async def test_generate_then_wait_when_images_arrive_at_once(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.add_product("p2", images=1)
    job = await flavour.run(api_client.generate("p2", small_generate_request()))

    await flavour.run(job.wait())

    assert len(job.images) == 3
    assert flavour.slept == []


async def test_the_jobs_a_client_returns_use_its_sleep_and_jitter(
    fake_api: FakeAPI, flavour: Flavour
) -> None:
    draws: list[float] = []

    def rand() -> float:
        draws.append(0.5)
        return 0.5

    client = flavour.client(rand=rand)
    fake_api.images_per_poll = 1
    job = await flavour.run(client.generate("p1", small_generate_request()))

    await flavour.run(job.wait())

    assert len(flavour.slept) == 2
    assert len(draws) == 2  # one jitter draw per poll pause, none for anything else


async def test_try_on_then_wait_polls_until_completed(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.vto_statuses = ["processing", "completed"]
    job = await flavour.run(api_client.try_on(try_on_request()))
    events: list[ev.ProgressEvent] = []

    result = await flavour.run(job.wait(on_progress=events.append))

    assert isinstance(result, ev.TryOnResult)
    assert result.status == "completed"
    assert [img.url for img in result.images] == ["https://api.test/uploads/vto/vto_1.jpg"]
    assert [e.status for e in events] == ["processing", "completed"]
    assert len(flavour.slept) == 1
    assert [r.url.path for r in fake_api.calls("GET")] == ["/api/vto/vto_1", "/api/vto/vto_1"]
    assert api_client.jobs.get(job.id).record.state == "completed"


async def test_try_on_wait_ends_with_job_failed_error(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.vto_statuses = ["processing", "failed"]
    job = await flavour.run(api_client.try_on(try_on_request()))

    with pytest.raises(ev.JobFailedError) as info:
        await flavour.run(job.wait())

    assert info.value.status == "failed"
    assert api_client.jobs.get(job.id).record.state == "failed"


async def test_a_job_from_the_ledger_can_be_waited_on_by_a_new_client(
    fake_api: FakeAPI, flavour: Flavour
) -> None:
    fake_api.images_per_poll = 1
    first = flavour.client()
    job = await flavour.run(first.generate("p1", small_generate_request()))
    await flavour.close(first)

    second = flavour.client()
    again = second.jobs.get(job.id)
    await flavour.run(again.wait())

    assert len(again.images) == 3
    assert second.jobs.get(job.id).record.state == "completed"


# ---------------------------------------------------------------- reading responses


async def test_get_product_resolves_relative_file_paths_against_the_base_url(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.add_product(
        "p2",
        generatedImages=[
            {"filePath": "path/to/image.jpg"},
            {"filePath": "https://cdn.example.com/abs.jpg"},
        ],
    )

    product = await flavour.run(api_client.get_product("p2"))

    assert [img.url for img in product.generated_images] == [
        "https://api.test/path/to/image.jpg",
        "https://cdn.example.com/abs.jpg",
    ]
    assert product.generated_images[0].file_path == "path/to/image.jpg"


async def test_get_product_reads_the_reference_response(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script(
        "GET",
        httpx.Response(
            200,
            json={
                "success": True,
                "data": {
                    "_id": "product_id",
                    "productName": "Product Name",
                    "generatedImages": [
                        {
                            "filePath": "path/to/image.jpg",
                            "generatedAt": "2024-01-01T00:00:00.000Z",
                            "generationParams": {
                                "platform": "general",
                                "region": "global",
                                "imageType": "main",
                                "color": "red",
                            },
                        }
                    ],
                    "aiAnalysis": {"style": "casual"},
                    "colors": ["black", "white", "red"],
                },
            },
        ),
    )

    product = await flavour.run(api_client.get_product("product_id"))

    assert product.id == "product_id"
    assert product.name == "Product Name"
    assert product.colors == ["black", "white", "red"]
    assert product.ai_analysis == {"style": "casual"}
    [image] = product.generated_images
    assert image.url == "https://api.test/path/to/image.jpg"
    assert (image.image_type, image.platform, image.region, image.color) == (
        "main",
        "general",
        "global",
        "red",
    )
    assert image.generated_at is not None
    assert image.generated_at.year == 2024


async def test_get_product_tolerates_unknown_and_missing_fields(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script(
        "GET",
        httpx.Response(
            200,
            json={
                "success": True,
                "requestId": "r-1",
                "data": {
                    "_id": "p9",
                    "brandNew": {"nested": [1, 2]},
                    "generatedImages": [{"filePath": "a.jpg", "score": 0.9}],
                },
            },
        ),
    )

    product = await flavour.run(api_client.get_product("p9"))

    assert product.id == "p9"
    assert product.name is None
    assert product.colors == []
    assert product.created_at is None
    assert product.raw["brandNew"] == {"nested": [1, 2]}
    assert [img.url for img in product.generated_images] == ["https://api.test/a.jpg"]


async def test_get_try_on_reads_the_reference_response(
    fake_api: FakeAPI, flavour: Flavour, api_client: AnyClient
) -> None:
    fake_api.script(
        "GET",
        httpx.Response(
            200,
            json={
                "success": True,
                "data": {
                    "_id": "vto_id",
                    "status": "completed",
                    "personImage": {"filePath": "https://example.com/person.jpg"},
                    "clothingImages": [{"filePath": "https://example.com/clothing1.jpg"}],
                    "generatedImages": [{"filePath": "https://example.com/generated1.jpg"}],
                    "createdAt": "2024-01-01T00:00:00.000Z",
                    "updatedAt": "2024-01-01T00:05:00.000Z",
                    "somethingNew": True,
                },
            },
        ),
    )

    result = await flavour.run(api_client.get_try_on("vto_id"))

    assert result.id == "vto_id"
    assert result.status == "completed"
    assert result.is_completed
    assert [img.url for img in result.images] == ["https://example.com/generated1.jpg"]
    assert result.person_image == "https://example.com/person.jpg"
    assert result.clothing_images == ["https://example.com/clothing1.jpg"]
    assert result.updated_at is not None
    assert result.raw["somethingNew"] is True


# ---------------------------------------------------------------- lifetime


async def test_with_block_closes_an_owned_http_client(flavour: Flavour) -> None:
    client = flavour.cls(token=TOKEN, base_url=BASE_URL)
    if isinstance(client, ev.AsyncClient):
        async with client as entered:
            http = entered._http
            assert not http.is_closed
    else:
        with client as entered:
            http = entered._http
            assert not http.is_closed

    assert entered is client
    assert http.is_closed


async def test_close_closes_an_owned_http_client(flavour: Flavour) -> None:
    client = flavour.cls(token=TOKEN, base_url=BASE_URL)

    await flavour.close(client)

    assert client._http.is_closed


async def test_close_leaves_an_injected_http_client_open(flavour: Flavour) -> None:
    http = flavour.http()
    client = flavour.cls(token=TOKEN, base_url=BASE_URL, http_client=http)

    await flavour.close(client)
    await flavour.close(flavour.cls(token=TOKEN, base_url=BASE_URL, http_client=http))

    assert not http.is_closed
    assert (await flavour.run(client.get_product("p1"))).id == "p1"
    await flavour.close(http)


async def test_only_the_async_client_has_coroutine_methods(flavour: Flavour) -> None:
    if flavour.is_async:
        lifetime = ["aclose", "__aenter__", "__aexit__"]
    else:
        lifetime = ["close", "__enter__", "__exit__"]

    for name in [*OPERATIONS, *lifetime]:
        assert inspect.iscoroutinefunction(getattr(flavour.cls, name)) is flavour.is_async, name


# ---------------------------------------------------------------- only the sync client


async def test_sync_client_works_inside_a_running_event_loop(fake_api: FakeAPI) -> None:
    asyncio.get_running_loop()
    fake_api.images_per_poll = 2
    client = make_client(fake_api)

    product = client.get_product("p1")
    job = client.generate("p1", small_generate_request())
    job.wait()
    result = client.try_on(try_on_request()).wait()

    assert isinstance(product, ev.Product)
    assert len(job.images) == 3
    assert result.status == "completed"


class _NoAsyncio:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the sync client used asyncio.{name}")


def test_sync_client_never_touches_asyncio(
    fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ev.client, "asyncio", _NoAsyncio())
    monkeypatch.setattr(ev.job_base, "asyncio", _NoAsyncio())
    client = make_client(fake_api)

    client.create_product(CREATE_PRODUCT_BODY["imageUrls"])
    client.generate("p1", small_generate_request()).wait()
    client.try_on(try_on_request()).wait()
    client.get_try_on("vto_a")

    assert len(fake_api.requests) == 7


# ---------------------------------------------------------------- only the async client


async def test_async_client_requests_run_concurrently(fake_api: FakeAPI) -> None:
    for i in range(5):
        fake_api.add_product(f"c{i}")
    client = make_async_client(fake_api)

    products = await asyncio.gather(*(client.get_product(f"c{i}") for i in range(5)))

    assert [p.id for p in products] == [f"c{i}" for i in range(5)]
    assert len(fake_api.requests) == 5
    await client.aclose()


async def test_async_retry_awaits_the_injected_sleep(fake_api: FakeAPI) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)  # a real suspension: the retry loop must await it
        slept.append(seconds)

    client = make_async_client(fake_api, sleep=sleep)
    fake_api.script("GET", error(503, "busy"))

    await client.get_product("p1")

    assert slept == [0.5]
    await client.aclose()
