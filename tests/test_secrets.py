"""The API token (and a webhook token) never leak: not in reprs, errors, logs or the ledger file."""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_api import (
    BASE_URL,
    FakeAPI,
    error,
    make_async_client,
    make_client,
    small_generate_request,
    try_on_request,
)

import ecomviz_nb as ev
from ecomviz_nb import config

SECRET = "sk-test-SECRET-7f3a9c"
WEBHOOK_SECRET = "whsec-XYZ123"
WEBHOOK_URL = "https://hooks.example.com/ecomviz"

AnyClient = ev.Client | ev.AsyncClient


@pytest.fixture
def api() -> FakeAPI:
    server = FakeAPI(token=SECRET)
    server.add_product("p1")
    server.add_vto("vto_a")
    return server


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, api: FakeAPI) -> AnyClient:
    if request.param == "sync":
        return make_client(api, token=SECRET)
    return make_async_client(api, token=SECRET)


async def invoke(client: AnyClient, operation: Callable[[Any], Any]) -> Any:
    """Run an operation on either client: await it when the client is async."""
    result = operation(client)
    if inspect.isawaitable(result):
        result = await result
    return result


async def wait(job: Any) -> Any:
    """Wait for a job of either client (its client's recording sleep: no real waiting)."""
    return await invoke(job, lambda j: j.wait())


def everything_shown(exc: BaseException) -> str:
    """What a user can see of an exception: str, repr and the printed traceback."""
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


# ---------------------------------------------------------------- reprs and requests


@pytest.mark.parametrize("cls", [ev.Client, ev.AsyncClient])
def test_client_repr_and_str_hide_the_token(cls: type[AnyClient]) -> None:
    client = cls(token=SECRET, base_url=BASE_URL)

    assert SECRET not in repr(client)
    assert SECRET not in str(client)
    assert "token=set" in repr(client)
    assert client.has_token


@pytest.mark.parametrize("cls", [ev.Client, ev.AsyncClient])
def test_client_repr_hides_a_token_from_the_environment(
    cls: type[AnyClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_TOKEN, SECRET)
    client = cls(base_url=BASE_URL)

    assert SECRET not in repr(client)
    assert client.has_token


def test_a_token_with_spaces_is_refused_without_echoing_it() -> None:
    with pytest.raises(ev.ValidationError) as info:
        ev.Client(token="sk-test SECRET-7f3a9c", base_url=BASE_URL)

    assert "SECRET-7f3a9c" not in str(info.value)
    assert "SECRET-7f3a9c" not in repr(info.value)
    assert info.value.value == "***"


OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "create_product": lambda c: c.create_product(["https://example.com/a.jpg"]),
    "get_product": lambda c: c.get_product("p1"),
    "generate": lambda c: c.generate("p1", small_generate_request()),
    "try_on": lambda c: c.try_on(try_on_request()),
    "get_try_on": lambda c: c.get_try_on("vto_a"),
}


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_requests_built_by_the_client_do_not_show_the_token(
    api: FakeAPI, client: AnyClient, name: str
) -> None:
    await invoke(client, OPERATIONS[name])

    assert api.requests
    for request in api.requests:
        assert request.headers["authorization"] == f"Bearer {SECRET}"
        assert SECRET not in repr(request)
        assert SECRET not in str(request.url)
        assert SECRET not in repr(request.headers)
        assert SECRET.encode() not in request.content


async def test_jobs_and_ledger_reprs_hide_the_token(client: AnyClient) -> None:
    job = await invoke(client, lambda c: c.generate("p1", small_generate_request()))

    shown = [repr(job), repr(client.jobs.get(job.id)), repr(client.ledger), repr(client.jobs)]
    assert all(SECRET not in text for text in shown)


def test_request_reprs_hide_the_webhook_token() -> None:
    hook = ev.Webhook(WEBHOOK_URL, token=WEBHOOK_SECRET)
    generate = ev.GenerateRequest([ev.ImageSpec("main")], webhook=hook)
    try_on = ev.TryOnRequest(
        "https://example.com/p.jpg", ["https://example.com/c.jpg"], webhook=hook
    )

    for obj in (hook, generate, try_on):
        assert WEBHOOK_SECRET not in repr(obj)
        assert WEBHOOK_SECRET not in str(obj)
    assert hook.to_wire()["token"] == WEBHOOK_SECRET


# ---------------------------------------------------------------- errors


def _raise(exc_type: type[httpx.HTTPError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(f"failed while sending Authorization: Bearer {SECRET}", request=request)

    return handler


ECHOING_FAILURES: dict[str, tuple[Any, type[Exception]]] = {
    "401": (error(401, f"Invalid token {SECRET}"), ev.AuthenticationError),
    "403": (error(403, f"Token {SECRET} lacks permission"), ev.AuthenticationError),
    "404": (error(404, f"No such product for key {SECRET}"), ev.NotFoundError),
    "500": (error(500, f"Internal error handling {SECRET}"), ev.ServerError),
    "429": (
        error(429, f"Rate limit for {SECRET}", **{"Retry-After": "120"}),
        ev.RateLimitError,
    ),
    "non-json": (httpx.Response(502, text=f"proxy: bad upstream for {SECRET}"), ev.ServerError),
    "read-timeout": (_raise(httpx.ReadTimeout), ev.APITimeoutError),
    "connect-error": (_raise(httpx.ConnectError), ev.APIConnectionError),
    "dropped": (_raise(httpx.RemoteProtocolError), ev.APIConnectionError),
}


@pytest.mark.parametrize("failure", list(ECHOING_FAILURES))
@pytest.mark.parametrize(
    ("operation", "method"),
    [
        (lambda c: c.get_product("p1"), "GET"),
        (lambda c: c.generate("p1", small_generate_request()), "POST"),
    ],
    ids=["get_product", "generate"],
)
async def test_errors_hide_a_token_the_server_echoes(
    api: FakeAPI,
    client: AnyClient,
    failure: str,
    operation: Callable[[Any], Any],
    method: str,
) -> None:
    reply, raised = ECHOING_FAILURES[failure]
    client.max_retries = 0
    api.script(method, reply)

    with pytest.raises(raised) as info:
        await invoke(client, operation)

    shown = everything_shown(info.value)
    assert SECRET not in shown
    assert "***" in str(info.value)
    if isinstance(info.value, ev.APIError):
        assert SECRET not in info.value.message


@pytest.mark.parametrize(
    "reply",
    [error(401, "Unauthorized"), error(404, "Product not found"), _raise(httpx.ConnectError)],
    ids=["401", "404", "connect-error"],
)
async def test_errors_do_not_mention_the_token_on_their_own(
    api: FakeAPI, client: AnyClient, reply: Any
) -> None:
    client.max_retries = 0
    api.script("GET", reply)

    with pytest.raises(ev.EcomVizError) as info:
        await invoke(client, lambda c: c.get_product("p1"))

    assert SECRET not in everything_shown(info.value)


async def test_a_webhook_token_echoed_in_an_error_is_hidden(
    api: FakeAPI, client: AnyClient
) -> None:
    api.script("POST", error(400, f"webhook.token {WEBHOOK_SECRET} is not accepted"))
    request = ev.GenerateRequest(
        [ev.ImageSpec("main")], webhook=ev.Webhook(WEBHOOK_URL, token=WEBHOOK_SECRET)
    )

    with pytest.raises(ev.APIError) as info:
        await invoke(client, lambda c: c.generate("p1", request))

    assert WEBHOOK_SECRET not in everything_shown(info.value)


# ---------------------------------------------------------------- logs

PACKAGE_LOGGERS = ("ecomviz_nb", "httpx", "httpcore")


@pytest.fixture
def debug_logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> pytest.LogCaptureFixture:
    monkeypatch.setenv(config.ENV_LOG, "debug")
    for name in PACKAGE_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


async def test_debug_logs_show_requests_but_never_the_token(
    api: FakeAPI, client: AnyClient, debug_logs: pytest.LogCaptureFixture
) -> None:
    api.script("GET", error(503, f"busy, {SECRET}"))
    api.script("POST", httpx.ConnectError)

    await invoke(client, lambda c: c.get_product("p1"))
    await invoke(client, lambda c: c.create_product(["https://example.com/a.jpg"]))
    job = await invoke(client, lambda c: c.generate("p1", small_generate_request()))
    await wait(job)
    api.script("GET", error(401, f"Invalid token {SECRET}"))
    with pytest.raises(ev.AuthenticationError):
        await invoke(client, lambda c: c.get_try_on("vto_a"))

    messages = [record.getMessage() for record in debug_logs.records]
    assert all(SECRET not in message for message in messages)
    assert SECRET not in debug_logs.text
    assert any("GET /api/products/p1 -> 503" in m for m in messages)
    assert any("GET /api/products/p1 -> 200" in m for m in messages)
    assert any("POST /api/products/url -> ConnectError" in m for m in messages)
    assert any("POST /api/products/url -> 200" in m for m in messages)
    assert any("POST /api/products/p1/generate -> 200" in m for m in messages)
    assert any("GET /api/vto/vto_a -> 401" in m for m in messages)


@pytest.mark.parametrize("name", ["ecomviz_nb", "ecomviz_nb.client", "httpx", "httpcore.http11"])
def test_the_redacting_filter_covers_the_loggers_requests_are_logged_on(
    name: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    # Creating a client attaches the filter (once per process).
    ev.Client(token=SECRET, base_url=BASE_URL)

    logging.getLogger(name).debug("sending Authorization: Bearer %s", SECRET)

    [record] = [r for r in debug_logs.records if r.name == name]
    assert SECRET not in record.getMessage()
    assert record.getMessage() == "sending Authorization: Bearer ***"


# ---------------------------------------------------------------- the ledger file


def ledger_bytes(home: Path) -> bytes:
    files = sorted(home.glob("jobs.sqlite3*"))
    assert home / "jobs.sqlite3" in files
    return b"".join(path.read_bytes() for path in files)


async def test_ledger_file_holds_neither_the_api_token_nor_the_webhook_token(
    api: FakeAPI, client: AnyClient, isolated_env: Path
) -> None:
    hook = ev.Webhook(WEBHOOK_URL, token=WEBHOOK_SECRET)
    request = ev.GenerateRequest([ev.ImageSpec("main", count=2)], webhook=hook)
    try_on = ev.TryOnRequest(
        "https://example.com/p.jpg", ["https://example.com/c.jpg"], webhook=hook
    )

    job = await invoke(client, lambda c: c.generate("p1", request))
    await wait(job)
    vto = await invoke(client, lambda c: c.try_on(try_on))
    await wait(vto)

    data = ledger_bytes(isolated_env)
    assert WEBHOOK_URL.encode() in data
    assert SECRET.encode() not in data
    assert WEBHOOK_SECRET.encode() not in data
    assert client.jobs.get(job.id).record.request["webhook"] == {"url": WEBHOOK_URL}


@pytest.mark.parametrize(
    "reply",
    [error(400, f"key {SECRET} may not generate"), error(500, f"crashed on {SECRET}")],
    ids=["rejected", "unknown"],
)
async def test_ledger_file_hides_an_api_token_echoed_in_a_failed_submission(
    api: FakeAPI, client: AnyClient, isolated_env: Path, reply: httpx.Response
) -> None:
    api.script("POST", reply)

    with pytest.raises(ev.APIError):
        await invoke(client, lambda c: c.generate("p1", small_generate_request()))

    [job] = client.jobs.list()
    assert "***" in (job.record.message or "")
    assert SECRET.encode() not in ledger_bytes(isolated_env)


async def test_ledger_file_hides_an_api_token_echoed_in_a_success_message(
    api: FakeAPI, client: AnyClient, isolated_env: Path
) -> None:
    api.script(
        "POST",
        httpx.Response(
            200,
            json={"success": True, "message": f"Task started for key {SECRET}", "productId": "p1"},
        ),
    )

    job = await invoke(client, lambda c: c.generate("p1", small_generate_request()))

    assert SECRET not in (job.record.message or "")
    assert SECRET.encode() not in ledger_bytes(isolated_env)


async def test_ledger_file_hides_a_webhook_token_echoed_in_a_rejection(
    api: FakeAPI, client: AnyClient, isolated_env: Path
) -> None:
    api.script("POST", error(400, f"webhook.token {WEBHOOK_SECRET} is not accepted"))
    request = ev.GenerateRequest(
        [ev.ImageSpec("main")], webhook=ev.Webhook(WEBHOOK_URL, token=WEBHOOK_SECRET)
    )

    with pytest.raises(ev.APIError):
        await invoke(client, lambda c: c.generate("p1", request))

    assert WEBHOOK_SECRET.encode() not in ledger_bytes(isolated_env)


# ---------------------------------------------------------------- redact and RedactingFilter


@pytest.fixture
def secrets() -> Iterator[list[str]]:
    """Secrets a test registers; forgotten afterwards so that other tests are unaffected."""
    registered: list[str] = []
    yield registered
    for value in registered:
        config.forget_secret(value)


def remember(secrets: list[str], value: str) -> None:
    secrets.append(value)
    config.remember_secret(value)


def test_redact_replaces_every_occurrence_of_a_secret(secrets: list[str]) -> None:
    remember(secrets, "zz-secret-one")

    assert config.redact("a zz-secret-one b zz-secret-one") == "a *** b ***"
    assert config.redact("nothing here") == "nothing here"


def test_redact_hides_the_longest_secret_first(secrets: list[str]) -> None:
    remember(secrets, "zz-key")
    remember(secrets, "zz-key-extended")

    assert config.redact("[zz-key-extended] [zz-key]") == "[***] [***]"


def test_redact_ignores_secrets_shorter_than_four_characters(secrets: list[str]) -> None:
    remember(secrets, "zzq")

    assert config.redact("zzq") == "zzq"


def test_forgotten_secrets_are_no_longer_redacted(secrets: list[str]) -> None:
    remember(secrets, "zz-forget-me")
    config.forget_secret("zz-forget-me")

    assert config.redact("zz-forget-me") == "zz-forget-me"


def test_resolving_a_token_registers_it_for_redaction(
    secrets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets += ["zz-arg-token-1", "zz-env-token-2"]
    monkeypatch.setenv(config.ENV_TOKEN, "zz-env-token-2")

    assert config.resolve_token("zz-arg-token-1") == "zz-arg-token-1"
    assert config.resolve_token() == "zz-env-token-2"
    assert config.redact("zz-arg-token-1 zz-env-token-2") == "*** ***"


def _record(msg: str, args: tuple[Any, ...] | None) -> logging.LogRecord:
    return logging.LogRecord("ecomviz_nb.test", logging.DEBUG, __file__, 1, msg, args, None)


def test_redacting_filter_hides_a_secret_in_the_arguments(secrets: list[str]) -> None:
    remember(secrets, "zz-filter-secret")
    record = _record("Authorization: Bearer %s (attempt %d)", ("zz-filter-secret", 2))

    kept = config.RedactingFilter().filter(record)

    assert kept is True
    assert record.getMessage() == "Authorization: Bearer *** (attempt 2)"
    assert record.args is None


def test_redacting_filter_hides_a_secret_in_the_message(secrets: list[str]) -> None:
    remember(secrets, "zz-filter-secret")
    record = _record("token zz-filter-secret", None)

    config.RedactingFilter().filter(record)

    assert record.getMessage() == "token ***"


def test_redacting_filter_leaves_clean_records_untouched(secrets: list[str]) -> None:
    remember(secrets, "zz-filter-secret")
    record = _record("GET %s -> %d", ("/api/products/p1", 200))

    kept = config.RedactingFilter().filter(record)

    assert kept is True
    assert record.msg == "GET %s -> %d"
    assert record.args == ("/api/products/p1", 200)
