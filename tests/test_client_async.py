"""``ev.AsyncClient``: the same requests, errors, retries, jobs and ledger as ``ev.Client``."""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fake_api import (
    BASE_URL,
    CREATE_PRODUCT_BODY,
    GENERATE_BODY,
    TOKEN,
    TRY_ON_BODY,
    AsyncSleepRecorder,
    FakeAPI,
    error,
    generate_request,
    make_async_client,
    small_generate_request,
    try_on_request,
)

import ecomviz_nb as ev
from ecomviz_nb import config

retry_delay = ev.client.retry_delay

Operation = Callable[[ev.AsyncClient], Awaitable[Any]]

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


@pytest.fixture
def api() -> FakeAPI:
    server = FakeAPI()
    server.add_product("p1")
    server.add_vto("vto_a")
    return server


@pytest.fixture
async def client(api: FakeAPI) -> AsyncIterator[ev.AsyncClient]:
    c = make_async_client(api)
    yield c
    await c.aclose()


def sleeps(client: ev.AsyncClient) -> list[float]:
    recorder = client._sleep
    assert isinstance(recorder, AsyncSleepRecorder)
    return recorder.delays


def mock_http(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# ---------------------------------------------------------------- the exact requests


async def test_create_product_posts_the_reference_body(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    product = await client.create_product(CREATE_PRODUCT_BODY["imageUrls"])

    [request] = api.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.test/api/products/url"
    assert api.body(request) == CREATE_PRODUCT_BODY
    assert request.headers["content-type"] == "application/json"
    assert isinstance(product, ev.Product)
    assert product.id == "prod_1"
    assert product.name == "Product prod_1"
    assert product.colors == ["black", "white", "red"]


async def test_get_product_sends_a_get_to_the_product_path(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    product = await client.get_product("p1")

    [request] = api.requests
    assert request.method == "GET"
    assert str(request.url) == "https://api.test/api/products/p1"
    assert request.content == b""
    assert product.id == "p1"


async def test_generate_reads_the_product_then_posts_the_reference_body(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    await client.generate("p1", generate_request())

    assert [(r.method, r.url.path) for r in api.requests] == [
        ("GET", "/api/products/p1"),
        ("POST", "/api/products/p1/generate"),
    ]
    body = api.body(api.requests[1])
    assert body == GENERATE_BODY
    assert list(body) == list(GENERATE_BODY)
    assert str(api.requests[1].url) == "https://api.test/api/products/p1/generate"


async def test_generate_accepts_the_reference_json_as_a_dict(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    await client.generate("p1", GENERATE_BODY)

    [post] = api.calls("POST")
    assert api.body(post) == GENERATE_BODY


async def test_try_on_posts_the_reference_body(api: FakeAPI, client: ev.AsyncClient) -> None:
    await client.try_on(try_on_request())

    [request] = api.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.test/api/vto/generate-url"
    body = api.body(request)
    assert body == TRY_ON_BODY
    assert list(body) == list(TRY_ON_BODY)


async def test_try_on_accepts_the_reference_json_as_a_dict(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    await client.try_on(TRY_ON_BODY)

    [request] = api.requests
    assert api.body(request) == TRY_ON_BODY


async def test_try_on_leaves_out_unset_optional_fields(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    await client.try_on(ev.TryOnRequest("https://example.com/p.jpg", ["https://example.com/c.jpg"]))

    assert api.body(api.requests[0]) == {
        "personImageUrl": "https://example.com/p.jpg",
        "clothingImageUrls": [{"url": "https://example.com/c.jpg"}],
        "aspectRatio": "2:3",
        "watermark": True,
    }


async def test_get_try_on_sends_a_get_to_the_vto_path(api: FakeAPI, client: ev.AsyncClient) -> None:
    result = await client.get_try_on("vto_a")

    [request] = api.requests
    assert request.method == "GET"
    assert str(request.url) == "https://api.test/api/vto/vto_a"
    assert isinstance(result, ev.TryOnResult)
    assert result.id == "vto_a"


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_every_request_carries_the_bearer_token_and_accepts_json(
    api: FakeAPI, client: ev.AsyncClient, name: str
) -> None:
    await OPERATIONS[name](client)

    assert api.requests
    for request in api.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/json"


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_no_authorization_header_is_sent_without_a_token(api: FakeAPI, name: str) -> None:
    client = make_async_client(api, token=None)

    await OPERATIONS[name](client)

    assert api.requests
    for request in api.requests:
        assert "authorization" not in request.headers
        assert request.headers["accept"] == "application/json"
    assert client.has_token is False


async def test_ids_are_url_quoted_in_paths(api: FakeAPI, client: ev.AsyncClient) -> None:
    odd = "p+1:é&=;@"
    api.add_product(odd)
    api.add_vto(odd)

    await client.get_product(odd)
    await client.generate(odd, small_generate_request())
    await client.get_try_on(odd)

    quoted = "p%2B1%3A%C3%A9%26%3D%3B%40"
    assert [r.url.raw_path.decode() for r in api.requests] == [
        f"/api/products/{quoted}",
        f"/api/products/{quoted}",
        f"/api/products/{quoted}/generate",
        f"/api/vto/{quoted}",
    ]


async def test_base_url_comes_from_the_argument(
    api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, "https://env.example")
    client = make_async_client(api, base_url="https://arg.example/")

    await client.get_product("p1")

    assert client.base_url == "https://arg.example"
    assert str(api.requests[0].url) == "https://arg.example/api/products/p1"


async def test_base_url_comes_from_the_environment(
    api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, "http://localhost:8765")
    client = ev.AsyncClient(token=TOKEN, http_client=mock_http(api))

    await client.get_product("p1")

    assert client.base_url == "http://localhost:8765"
    assert str(api.requests[0].url) == "http://localhost:8765/api/products/p1"


async def test_base_url_defaults_to_the_public_api(api: FakeAPI) -> None:
    client = ev.AsyncClient(token=TOKEN, http_client=mock_http(api))

    await client.get_product("p1")

    assert client.base_url == "https://ecomviz.cloud"
    assert str(api.requests[0].url) == "https://ecomviz.cloud/api/products/p1"


async def test_base_url_with_a_path_prefix_keeps_the_prefix(api: FakeAPI) -> None:
    client = make_async_client(api, base_url="https://gw.example/ecomviz/")
    api.script("GET", httpx.Response(200, json={"success": True, "data": {"_id": "p1"}}))

    await client.get_product("p1")

    assert str(api.requests[0].url) == "https://gw.example/ecomviz/api/products/p1"


@pytest.mark.parametrize("bad", ["ftp://api.test", "api.test", "https://", "https://a.test/?x=1"])
def test_a_bad_base_url_is_a_validation_error(bad: str) -> None:
    with pytest.raises(ev.ValidationError):
        ev.AsyncClient(token=TOKEN, base_url=bad)


async def test_token_comes_from_the_environment(
    api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_TOKEN, "tok-from-env-42")
    client = ev.AsyncClient(base_url=BASE_URL, http_client=mock_http(api))

    await client.get_product("p1")

    assert client.has_token
    assert api.requests[0].headers["authorization"] == "Bearer tok-from-env-42"


async def test_token_argument_wins_over_the_environment(
    api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_TOKEN, "tok-from-env-42")
    client = ev.AsyncClient("tok-from-arg-7", base_url=BASE_URL, http_client=mock_http(api))

    await client.get_product("p1")

    assert api.requests[0].headers["authorization"] == "Bearer tok-from-arg-7"


async def test_a_blank_environment_token_sends_no_authorization(
    api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_TOKEN, "   ")
    client = ev.AsyncClient(base_url=BASE_URL, http_client=mock_http(api))

    await client.get_product("p1")

    assert "authorization" not in api.requests[0].headers


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_max_retries_must_be_a_whole_number(bad: Any) -> None:
    with pytest.raises(ev.ValidationError):
        ev.AsyncClient(token=TOKEN, base_url=BASE_URL, max_retries=bad)


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
    api: FakeAPI, client: ev.AsyncClient, name: str
) -> None:
    with pytest.raises(ev.ValidationError) as info:
        await BAD_CALLS[name](client)

    assert isinstance(info.value, ValueError)
    assert api.requests == []
    assert client.jobs.list() == []


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
    api: FakeAPI, endpoint: str, status: int, cls: type[ev.APIError]
) -> None:
    operation, method, path = ENDPOINTS[endpoint]
    client = make_async_client(api, max_retries=0)
    api.script(method, error(status, "the server says no"))

    with pytest.raises(ev.APIError) as info:
        await operation(client)

    exc = info.value
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.message == "the server says no"
    assert exc.method == method
    assert exc.path == path
    assert "the server says no" in str(exc)
    assert str(status) in str(exc)
    assert len(api.calls(method)) == 1


async def test_rate_limit_error_carries_retry_after(api: FakeAPI) -> None:
    client = make_async_client(api, max_retries=0)
    api.script("GET", error(429, "slow down", **{"Retry-After": "7"}))

    with pytest.raises(ev.RateLimitError) as info:
        await client.get_product("p1")

    assert info.value.retry_after == 7.0


async def test_rate_limit_error_without_retry_after_has_none(api: FakeAPI) -> None:
    client = make_async_client(api, max_retries=0)
    api.script("GET", error(429, "slow down"))

    with pytest.raises(ev.RateLimitError) as info:
        await client.get_product("p1")

    assert info.value.retry_after is None


async def test_non_json_error_body_gives_its_text_as_the_message(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("POST", httpx.Response(502, text="upstream exploded\n"))

    with pytest.raises(ev.ServerError) as info:
        await client.create_product(CREATE_PRODUCT_BODY["imageUrls"])

    assert info.value.status_code == 502
    assert info.value.message == "upstream exploded"
    assert "upstream exploded" in str(info.value)


async def test_success_false_with_200_is_an_api_error(api: FakeAPI, client: ev.AsyncClient) -> None:
    api.script("GET", httpx.Response(200, json={"success": False, "message": "Quota exceeded"}))

    with pytest.raises(ev.APIError) as info:
        await client.get_product("p1")

    assert type(info.value) is ev.APIError
    assert info.value.status_code == 200
    assert info.value.message == "Quota exceeded"
    assert "Quota exceeded" in str(info.value)
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
    ids=["html", "json-list"],
)
async def test_a_200_that_is_not_a_json_object_is_an_api_error(
    api: FakeAPI, client: ev.AsyncClient, response: httpx.Response
) -> None:
    api.script("GET", response)

    with pytest.raises(ev.APIError) as info:
        await client.get_product("p1")

    assert type(info.value) is ev.APIError
    assert info.value.status_code == 200
    assert info.value.path == "/api/products/p1"


async def test_unauthorized_without_a_token_says_no_token_was_sent(api: FakeAPI) -> None:
    client = make_async_client(api, token=None)
    api.script("GET", error(401, "Unauthorized"))

    with pytest.raises(ev.AuthenticationError) as info:
        await client.get_product("p1")

    assert "no token was sent" in str(info.value)


# ---------------------------------------------------------------- retries: GET


@pytest.mark.parametrize("endpoint", list(GET_ENDPOINTS))
async def test_get_is_retried_after_503_then_succeeds(
    api: FakeAPI, client: ev.AsyncClient, endpoint: str
) -> None:
    operation, method, path = GET_ENDPOINTS[endpoint]
    api.script(method, error(503, "busy"))

    await operation(client)

    assert [r.url.path for r in api.requests] == [path, path]
    assert sleeps(client) == [retry_delay(0, rand=0.5)]


async def test_get_after_429_waits_exactly_retry_after(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("GET", error(429, "slow down", **{"Retry-After": "2"}))

    product = await client.get_product("p1")

    assert product.id == "p1"
    assert len(api.requests) == 2
    assert sleeps(client) == [2.0]


async def test_get_honours_retry_after_as_an_http_date(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    api.script("GET", error(503, "busy", **{"Retry-After": when}))

    await client.get_product("p1")

    [delay] = sleeps(client)
    assert 3.0 < delay <= 5.0
    assert len(api.requests) == 2


@pytest.mark.parametrize(("status", "cls"), [(429, ev.RateLimitError), (503, ev.ServerError)])
async def test_get_does_not_wait_out_a_retry_after_over_a_minute(
    api: FakeAPI, client: ev.AsyncClient, status: int, cls: type[ev.APIError]
) -> None:
    api.script("GET", error(status, "come back later", **{"Retry-After": "120"}))

    with pytest.raises(cls) as info:
        await client.get_product("p1")

    assert len(api.requests) == 1
    assert sleeps(client) == []
    if isinstance(info.value, ev.RateLimitError):
        assert info.value.retry_after == 120.0


async def test_get_gives_up_after_max_retries(api: FakeAPI) -> None:
    client = make_async_client(api, max_retries=2)
    api.script("GET", *[error(503, "still busy")] * 5)

    with pytest.raises(ev.ServerError) as info:
        await client.get_product("p1")

    assert len(api.requests) == 3
    assert sleeps(client) == [0.5, 1.0]
    assert info.value.message == "still busy"


async def test_get_rate_limited_until_retries_run_out_raises_rate_limit_error(api: FakeAPI) -> None:
    client = make_async_client(api, max_retries=1)
    api.script("GET", *[error(429, "slow down", **{"Retry-After": "3"})] * 3)

    with pytest.raises(ev.RateLimitError) as info:
        await client.get_product("p1")

    assert len(api.requests) == 2
    assert sleeps(client) == [3.0]
    assert info.value.retry_after == 3.0


async def test_max_retries_zero_sends_once(api: FakeAPI) -> None:
    client = make_async_client(api, max_retries=0)
    api.script("GET", error(503, "busy"), httpx.ConnectError)

    with pytest.raises(ev.ServerError):
        await client.get_product("p1")
    with pytest.raises(ev.APIConnectionError):
        await client.get_product("p1")

    assert len(api.requests) == 2
    assert sleeps(client) == []


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError],
)
async def test_get_is_retried_after_a_transport_error(
    api: FakeAPI, client: ev.AsyncClient, exc: type[httpx.HTTPError]
) -> None:
    api.script("GET", exc)

    product = await client.get_product("p1")

    assert product.id == "p1"
    assert len(api.requests) == 2
    assert sleeps(client) == [0.5]


async def test_get_is_retried_after_408(api: FakeAPI, client: ev.AsyncClient) -> None:
    api.script("GET", error(408, "request timeout"))

    await client.get_product("p1")

    assert len(api.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_get_is_not_retried_after_a_client_error(
    api: FakeAPI, client: ev.AsyncClient, status: int
) -> None:
    api.script("GET", error(status, "no"))

    with pytest.raises(ev.APIError):
        await client.get_product("p1")

    assert len(api.requests) == 1
    assert sleeps(client) == []


async def test_get_connect_error_after_retries_was_never_sent(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("GET", *[httpx.ConnectError] * 3)

    with pytest.raises(ev.APIConnectionError) as info:
        await client.get_product("p1")

    exc = info.value
    assert type(exc) is ev.APIConnectionError
    assert exc.maybe_sent is False
    assert exc.method == "GET"
    assert exc.path == "/api/products/p1"
    assert "ConnectError" in str(exc)
    assert len(api.requests) == 3


async def test_get_read_timeout_after_retries_is_a_timeout_error(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("GET", *[httpx.ReadTimeout] * 3)

    with pytest.raises(ev.APITimeoutError) as info:
        await client.get_product("p1")

    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, ev.APIConnectionError)
    assert info.value.maybe_sent is True
    assert len(api.requests) == 3


async def test_retry_sleeps_grow_exponentially_up_to_the_cap(api: FakeAPI) -> None:
    client = make_async_client(api, max_retries=6)
    api.script("GET", *[error(500, "boom")] * 6)

    await client.get_product("p1")

    assert sleeps(client) == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert sleeps(client) == [retry_delay(i, rand=0.5) for i in range(6)]


async def test_retry_sleeps_use_the_client_jitter(api: FakeAPI) -> None:
    client = make_async_client(api, max_retries=2)
    client._rand = lambda: 0.0
    api.script("GET", httpx.ConnectError, error(503, "busy"))

    await client.get_product("p1")

    assert sleeps(client) == [0.25, 0.5]


# ---------------------------------------------------------------- retries: POST


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
@pytest.mark.parametrize("status", [500, 503])
async def test_post_is_not_resent_after_a_server_error(
    api: FakeAPI, client: ev.AsyncClient, endpoint: str, status: int
) -> None:
    operation, _, path = POST_ENDPOINTS[endpoint]
    api.script("POST", error(status, "oops"))

    with pytest.raises(ev.ServerError) as info:
        await operation(client)

    assert len(api.calls("POST")) == 1
    assert info.value.path == path
    assert sleeps(client) == []


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
async def test_post_is_not_resent_after_a_read_timeout(
    api: FakeAPI, client: ev.AsyncClient, endpoint: str
) -> None:
    operation, _, path = POST_ENDPOINTS[endpoint]
    api.script("POST", httpx.ReadTimeout)

    with pytest.raises(ev.APITimeoutError) as info:
        await operation(client)

    exc = info.value
    assert exc.maybe_sent is True
    assert exc.method == "POST"
    assert exc.path == path
    assert "not resent" in str(exc)
    assert len(api.calls("POST")) == 1
    assert sleeps(client) == []


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
async def test_post_is_not_resent_after_a_dropped_connection(
    api: FakeAPI, client: ev.AsyncClient, endpoint: str
) -> None:
    operation, _, _ = POST_ENDPOINTS[endpoint]
    api.script("POST", httpx.RemoteProtocolError)

    with pytest.raises(ev.APIConnectionError) as info:
        await operation(client)

    assert type(info.value) is ev.APIConnectionError
    assert info.value.maybe_sent is True
    assert "not resent" in str(info.value)
    assert len(api.calls("POST")) == 1


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout])
async def test_post_is_resent_after_a_connect_error_and_succeeds(
    api: FakeAPI, client: ev.AsyncClient, endpoint: str, exc: type[httpx.HTTPError]
) -> None:
    operation, _, path = POST_ENDPOINTS[endpoint]
    api.script("POST", exc)

    await operation(client)

    assert [r.url.path for r in api.calls("POST")] == [path, path]
    assert sleeps(client) == [0.5]


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
async def test_post_is_retried_after_429_because_the_server_refused_it(
    api: FakeAPI, client: ev.AsyncClient, endpoint: str
) -> None:
    """A 429 says the work was not taken on: sending it again cannot be charged twice."""
    operation, _, _ = POST_ENDPOINTS[endpoint]
    api.script("POST", error(429, "slow down", **{"Retry-After": "1"}))

    await operation(client)

    assert len(api.calls("POST")) == 2
    assert sleeps(client) == [1.0]


@pytest.mark.parametrize("endpoint", list(POST_ENDPOINTS))
async def test_post_429_until_retries_run_out_is_raised(
    api: FakeAPI, client: ev.AsyncClient, endpoint: str
) -> None:
    operation, _, _ = POST_ENDPOINTS[endpoint]
    api.script("POST", *[error(429, "slow down", **{"Retry-After": "1"})] * 3)

    with pytest.raises(ev.RateLimitError) as info:
        await operation(client)

    assert info.value.retry_after == 1.0
    assert len(api.calls("POST")) == 3


async def test_post_connect_errors_until_retries_run_out_were_never_sent(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("POST", *[httpx.ConnectError] * 3)

    with pytest.raises(ev.APIConnectionError) as info:
        await client.create_product(CREATE_PRODUCT_BODY["imageUrls"])

    assert info.value.maybe_sent is False
    assert "not resent" not in str(info.value)
    assert len(api.calls("POST")) == 3


# ---------------------------------------------------------------- generate and try-on jobs


async def test_generate_returns_a_submitted_job_kept_in_the_ledger(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.add_product("p2", images=2)

    job = await client.generate("p2", generate_request())

    assert isinstance(job, ev.AsyncGenerationJob)
    assert job.record.state == "submitted"
    assert job.state == "submitted"
    assert job.product_id == "p2"
    assert job.expected == 3 + 2 + 2
    assert job.record.baseline == ["uploads/p2/old0.jpg", "uploads/p2/old1.jpg"]
    assert job.record.message == "Image generation task started"
    stored = client.jobs.get(job.id)
    assert isinstance(stored, ev.AsyncGenerationJob)
    assert stored.record.state == "submitted"
    assert stored.product_id == "p2"
    assert stored.expected == 7
    assert stored.record.baseline == job.record.baseline
    assert client.jobs.get("p2").id == job.id
    assert [j.id for j in client.jobs.list()] == [job.id]


async def test_generate_keeps_the_request_in_the_ledger_without_the_webhook_token(
    client: ev.AsyncClient,
) -> None:
    job = await client.generate("p1", generate_request())

    stored = client.jobs.get(job.id).record.request
    assert stored["imageType"] == GENERATE_BODY["imageType"]
    assert stored["webhook"] == {"url": "https://your-server.com/webhook"}


async def test_generate_expected_counts_images_and_vto_colours(client: ev.AsyncClient) -> None:
    request = ev.GenerateRequest(
        [
            ev.ImageSpec("main", count=4),
            ev.ImageSpec("facebook", count=1, aspect_ratio="16:9"),
            ev.ImageSpec("vto", colors=["red", "blue", "green"]),
        ]
    )

    job = await client.generate("p1", request)

    assert job.expected == 8
    assert client.jobs.get(job.id).expected == 8


async def test_generate_rejected_with_400_is_marked_rejected(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("POST", error(400, "imageType is invalid"))

    with pytest.raises(ev.APIError) as info:
        await client.generate("p1", small_generate_request())

    assert info.value.status_code == 400
    [job] = client.jobs.list()
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
    api: FakeAPI, client: ev.AsyncClient, reply: Any, raised: type[Exception]
) -> None:
    api.script("POST", reply)

    with pytest.raises(raised):
        await client.generate("p1", small_generate_request())

    [job] = client.jobs.list()
    assert job.record.state == "unknown"
    assert job.record.message
    assert len(api.calls("POST")) == 1


async def test_generate_that_never_connected_is_marked_rejected(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("POST", *[httpx.ConnectError] * 3)

    with pytest.raises(ev.APIConnectionError):
        await client.generate("p1", small_generate_request())

    [job] = client.jobs.list()
    assert job.record.state == "rejected"


async def test_generate_resent_after_a_connect_error_is_submitted_once(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("POST", httpx.ConnectError)

    job = await client.generate("p1", small_generate_request())

    assert job.record.state == "submitted"
    assert len(client.jobs.list()) == 1
    assert len(api.calls("POST")) == 2


async def test_generate_for_a_missing_product_sends_no_post(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    with pytest.raises(ev.NotFoundError) as info:
        await client.generate("nope", small_generate_request())

    assert info.value.message == "Product not found"
    assert api.calls("POST") == []
    assert client.jobs.list() == []


async def test_try_on_returns_a_job_with_the_vto_id(api: FakeAPI, client: ev.AsyncClient) -> None:
    job = await client.try_on(try_on_request())

    assert isinstance(job, ev.AsyncTryOnJob)
    assert job.vto_id == "vto_1"
    assert job.record.state == "submitted"
    assert job.expected == 1
    stored = client.jobs.get(job.id)
    assert isinstance(stored, ev.AsyncTryOnJob)
    assert stored.vto_id == "vto_1"
    assert stored.record.state == "submitted"
    assert client.jobs.get("vto_1").id == job.id


async def test_try_on_takes_the_vto_id_from_the_top_level(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script(
        "POST",
        httpx.Response(
            200,
            json={"success": True, "vtoId": "top-level", "data": {"_id": "nested"}},
        ),
    )

    job = await client.try_on(try_on_request())

    assert job.vto_id == "top-level"


async def test_try_on_answer_without_a_vto_id_is_an_error_marked_unknown(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("POST", httpx.Response(200, json={"success": True, "message": "ok"}))

    with pytest.raises(ev.APIError) as info:
        await client.try_on(try_on_request())

    assert "vtoId" in str(info.value)
    [job] = client.jobs.list()
    assert job.record.state == "unknown"


async def test_try_on_rejected_with_400_is_marked_rejected(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script("POST", error(400, "personImageUrl unreachable"))

    with pytest.raises(ev.APIError):
        await client.try_on(try_on_request())

    [job] = client.jobs.list()
    assert job.record.state == "rejected"


async def test_generate_then_wait_returns_only_the_new_images(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.add_product("p2", images=2)
    api.images_per_poll = 3
    job = await client.generate("p2", generate_request())
    job._sleep = waits = AsyncSleepRecorder()
    events: list[ev.ProgressEvent] = []

    product = await job.wait(on_progress=events.append)

    assert isinstance(product, ev.Product)
    assert len(product.generated_images) == 2 + 7
    assert len(job.images) == 7
    assert all("/old" not in img.file_path for img in job.images)
    assert {img.file_path for img in job.images}.isdisjoint(job.record.baseline)
    assert all(img.url.startswith("https://api.test/uploads/p2/") for img in job.images)
    assert [e.done for e in events] == [3, 6, 7]
    assert events[-1].status == "completed"
    assert len(waits.delays) == 2
    assert client.jobs.get(job.id).record.state == "completed"


async def test_generate_then_wait_when_images_arrive_at_once(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.add_product("p2", images=1)
    job = await client.generate("p2", small_generate_request())
    job._sleep = waits = AsyncSleepRecorder()

    await job.wait()

    assert len(job.images) == 3
    assert waits.delays == []


async def test_try_on_then_wait_polls_until_completed(api: FakeAPI, client: ev.AsyncClient) -> None:
    api.vto_statuses = ["processing", "completed"]
    job = await client.try_on(try_on_request())
    job._sleep = waits = AsyncSleepRecorder()
    events: list[ev.ProgressEvent] = []

    result = await job.wait(on_progress=events.append)

    assert isinstance(result, ev.TryOnResult)
    assert result.status == "completed"
    assert [img.url for img in result.images] == ["https://api.test/uploads/vto/vto_1.jpg"]
    assert [e.status for e in events] == ["processing", "completed"]
    assert len(waits.delays) == 1
    assert [r.url.path for r in api.calls("GET")] == ["/api/vto/vto_1", "/api/vto/vto_1"]
    assert client.jobs.get(job.id).record.state == "completed"


async def test_try_on_wait_ends_with_job_failed_error(api: FakeAPI, client: ev.AsyncClient) -> None:
    api.vto_statuses = ["processing", "failed"]
    job = await client.try_on(try_on_request())
    job._sleep = AsyncSleepRecorder()

    with pytest.raises(ev.JobFailedError) as info:
        await job.wait()

    assert info.value.status == "failed"
    assert client.jobs.get(job.id).record.state == "failed"


async def test_a_job_from_the_ledger_can_be_waited_on_by_a_new_client(api: FakeAPI) -> None:
    api.images_per_poll = 1
    first = make_async_client(api)
    job = await first.generate("p1", small_generate_request())
    await first.aclose()

    second = make_async_client(api)
    again = second.jobs.get(job.id)
    again._sleep = AsyncSleepRecorder()
    await again.wait()

    assert len(again.images) == 3
    assert second.jobs.get(job.id).record.state == "completed"


# ---------------------------------------------------------------- reading responses


async def test_get_product_resolves_relative_file_paths_against_the_base_url(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.add_product(
        "p2",
        generatedImages=[
            {"filePath": "path/to/image.jpg"},
            {"filePath": "https://cdn.example.com/abs.jpg"},
        ],
    )

    product = await client.get_product("p2")

    assert [img.url for img in product.generated_images] == [
        "https://api.test/path/to/image.jpg",
        "https://cdn.example.com/abs.jpg",
    ]
    assert product.generated_images[0].file_path == "path/to/image.jpg"


async def test_get_product_reads_the_reference_response(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script(
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

    product = await client.get_product("product_id")

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
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script(
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

    product = await client.get_product("p9")

    assert product.id == "p9"
    assert product.name is None
    assert product.colors == []
    assert product.created_at is None
    assert product.raw["brandNew"] == {"nested": [1, 2]}
    assert [img.url for img in product.generated_images] == ["https://api.test/a.jpg"]


async def test_get_try_on_reads_the_reference_response(
    api: FakeAPI, client: ev.AsyncClient
) -> None:
    api.script(
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

    result = await client.get_try_on("vto_id")

    assert result.id == "vto_id"
    assert result.status == "completed"
    assert result.is_completed
    assert [img.url for img in result.images] == ["https://example.com/generated1.jpg"]
    assert result.person_image == "https://example.com/person.jpg"
    assert result.clothing_images == ["https://example.com/clothing1.jpg"]
    assert result.updated_at is not None
    assert result.raw["somethingNew"] is True


# ---------------------------------------------------------------- lifetime


async def test_async_with_block_closes_an_owned_http_client() -> None:
    async with ev.AsyncClient(token=TOKEN, base_url=BASE_URL) as client:
        http = client._http
        assert not http.is_closed

    assert http.is_closed


async def test_aclose_closes_an_owned_http_client() -> None:
    client = ev.AsyncClient(token=TOKEN, base_url=BASE_URL)

    await client.aclose()

    assert client._http.is_closed


async def test_aclose_leaves_an_injected_http_client_open(api: FakeAPI) -> None:
    http = mock_http(api)
    client = ev.AsyncClient(token=TOKEN, base_url=BASE_URL, http_client=http)

    await client.aclose()
    async with ev.AsyncClient(token=TOKEN, base_url=BASE_URL, http_client=http):
        pass

    assert not http.is_closed
    assert (await client.get_product("p1")).id == "p1"
    await http.aclose()


# ---------------------------------------------------------------- truly asynchronous


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_async_client_methods_are_coroutines(name: str) -> None:
    assert inspect.iscoroutinefunction(getattr(ev.AsyncClient, name))
    assert inspect.iscoroutinefunction(ev.AsyncClient.aclose)


def test_async_client_sleeps_with_asyncio_by_default() -> None:
    client = ev.AsyncClient(token=TOKEN, base_url=BASE_URL)

    assert client._sleep is asyncio.sleep


async def test_async_client_requests_run_concurrently(api: FakeAPI) -> None:
    for i in range(5):
        api.add_product(f"c{i}")
    client = make_async_client(api)

    products = await asyncio.gather(*(client.get_product(f"c{i}") for i in range(5)))

    assert [p.id for p in products] == [f"c{i}" for i in range(5)]
    assert len(api.requests) == 5


async def test_async_retry_awaits_the_injected_sleep(api: FakeAPI) -> None:
    client = make_async_client(api)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    client._sleep = sleep
    api.script("GET", error(503, "busy"))

    await client.get_product("p1")

    assert slept == [0.5]
