"""``ev.ConnectPanel`` without a browser: the environment, the server's kind, disconnecting."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from fake_api import BASE_URL, FakeAPI
from support import sample, walk, widget_state

import ecomviz_nb as ev
from ecomviz_nb import config
from ecomviz_nb.local import REAL_API, SANDBOX, shared_sandbox
from ecomviz_nb.widgets.connect import FROM_ENV, ConnectPanel


@pytest.fixture
def fake_http(fake_api: FakeAPI) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` whose requests go to the in-memory API: no network is reached."""
    with httpx.Client(transport=httpx.MockTransport(fake_api)) as http:
        yield http


def saved(panel: ConnectPanel) -> str:
    """What a notebook would keep of the panel: every widget's state, and the snapshot."""
    return widget_state(panel) + panel.snapshot_html()


def shown(panel: ConnectPanel) -> bool:
    return bool(panel.inputs.layout.display != "none")


# ---------------------------------------------------------------- starting from the environment


def test_under_a_sandbox_base_url_the_panel_starts_in_sandbox_mode_and_connects(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, sandbox.url)
    panel = ConnectPanel()
    assert panel.base_url.value == FROM_ENV
    assert panel.use_sandbox.value is True
    assert "Will connect to" in panel.mode.value and SANDBOX in panel.mode.value
    assert "billed" not in panel.mode.value.replace("not billed", "")

    panel.connect_button.click()

    assert isinstance(panel.client, ev.Client)
    assert panel.client.base_url == sandbox.url
    product = panel.client.create_product([sample(sandbox, "products/mug-blue.jpg")])
    assert panel.client.get_product(product.id).id == product.id
    assert "Connected to an " + SANDBOX in panel.mode.value
    assert "Nothing is billed" in panel.status.value
    assert not shown(panel) and panel.disconnect_button.layout.display != "none"
    assert sandbox.url not in saved(panel), "the loopback address would be saved"
    assert f"127.0.0.1:{sandbox.url.rsplit(':', 1)[1]}" not in saved(panel)
    panel.disconnect()


def test_without_a_base_url_the_panel_names_the_billed_api_and_asks_for_a_token() -> None:
    panel = ConnectPanel()
    assert panel.base_url.value == config.DEFAULT_BASE_URL
    assert panel.use_sandbox.value is False
    assert REAL_API in panel.mode.value and "Billed API" in panel.mode.value

    panel.connect_button.click()

    assert panel.client is None
    assert "Enter an API token" in panel.status.value
    assert REAL_API in panel.status.value
    assert shown(panel)


def test_a_token_and_a_remote_base_url_connect_to_the_billed_api(
    fake_api: FakeAPI, fake_http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, BASE_URL)
    token = "sk-billed-" + secrets.token_hex(8)
    panel = ConnectPanel(http_client=fake_http)
    assert panel.base_url.value == BASE_URL  # not local: shown as it is
    assert panel.use_sandbox.value is False
    assert f"{REAL_API} at {BASE_URL}" in panel.mode.value

    panel.token.value = token
    panel.connect_button.click()

    assert panel.token.value == ""
    assert isinstance(panel.client, ev.Client) and panel.client.base_url == BASE_URL
    probe = fake_api.calls("GET")[-1]  # the token was checked against the API
    assert probe.headers["authorization"] == f"Bearer {token}"
    assert f"Connected to {REAL_API} at {BASE_URL}" in panel.mode.value
    assert "each generation is billed" in panel.mode.value
    assert "token was accepted" in panel.status.value and "billed" in panel.status.value
    assert token not in saved(panel)
    assert config.auth_headers(BASE_URL + "/uploads/a.jpg") == {"Authorization": f"Bearer {token}"}

    panel.disconnect()

    # Other tests' clients of the same server may hold their own tokens: only this one matters.
    held = config.auth_headers(BASE_URL + "/uploads/a.jpg").get("Authorization", "")
    assert token not in held, "the token is remembered"
    assert config.redact(token) == token
    assert panel.client is None and shown(panel)
    assert not fake_http.is_closed, "the caller's http_client stays open"


def test_ticking_the_box_starts_a_sandbox_in_this_kernel() -> None:
    panel = ConnectPanel()
    panel.use_sandbox.value = True
    assert panel.base_url.value == ""
    assert "started in this kernel" in panel.mode.value and SANDBOX in panel.mode.value

    panel.connect()

    assert panel.client is not None and panel.client.base_url == shared_sandbox().url
    assert "Connected to an " + SANDBOX + ", started in this kernel" in panel.mode.value
    assert shared_sandbox().url not in saved(panel)
    panel.disconnect()
    panel.use_sandbox.value = False
    assert panel.base_url.value == config.DEFAULT_BASE_URL
    assert "Billed API" in panel.mode.value


def test_the_box_follows_the_server_field(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = ConnectPanel()
    panel.base_url.value = sandbox.url
    assert panel.use_sandbox.value is True
    assert "at a local server" in panel.mode.value, "a typed loopback address is not shown"
    panel.base_url.value = "https://api.example.com"
    assert panel.use_sandbox.value is False
    assert f"{REAL_API} at https://api.example.com" in panel.mode.value

    monkeypatch.setenv(config.ENV_BASE_URL, sandbox.url)
    panel.base_url.value = sandbox.url + "/"
    assert panel.base_url.value == FROM_ENV, "the server the variable names, by its name"
    assert panel.use_sandbox.value is True


# ---------------------------------------------------------------- disconnecting


def test_disconnect_closes_the_clients_forgets_the_token_and_connects_again(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, sandbox.url)
    token = "sk-again-" + secrets.token_hex(8)
    panel = ConnectPanel()
    panel.token.value = token
    panel.connect()
    first, twin = panel.client, panel.async_client
    assert first is not None and twin is not None
    assert config.redact(token) != token, "a live client hides its token"

    panel.disconnect_button.click()

    assert first._http.is_closed and twin._http.is_closed
    assert panel.client is None and panel.async_client is None
    assert config.redact(token) == token, "the token is still held"
    assert token not in saved(panel)
    assert all(token not in str(w.get_state()) for w in walk(panel))
    assert shown(panel) and panel.connect_button.layout.display != "none"
    assert panel.disconnect_button.layout.display == "none"
    assert not panel.connect_button.disabled
    assert "Disconnected from the sandbox at $ECOMVIZ_BASE_URL" in panel.status.value
    assert "Will connect to" in panel.mode.value

    panel.connect_button.click()  # the same server again, no token this time

    again = panel.client
    assert again is not None and again is not first and again.base_url == sandbox.url
    assert again.create_product([sample(sandbox, "products/mug-blue.jpg")]).id
    panel.disconnect()
    assert again._http.is_closed


def test_after_disconnect_the_panel_connects_to_another_server(
    sandbox: ev.Sandbox, fresh_sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, sandbox.url)
    panel = ConnectPanel()
    panel.connect()
    assert panel.client is not None and panel.client.base_url == sandbox.url
    panel.disconnect()

    panel.base_url.value = fresh_sandbox.url
    panel.connect()

    assert panel.client is not None and panel.client.base_url == fresh_sandbox.url
    assert "at a local server" in panel.mode.value
    panel.disconnect()


def test_connecting_again_while_connected_closes_the_first_client(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, sandbox.url)
    panel = ConnectPanel()
    panel.connect()
    first = panel.client
    panel.connect()
    assert first is not None and first._http.is_closed
    assert panel.client is not None and panel.client is not first
    second = panel.client

    panel.base_url.value = "https://api.example.com"  # no token: refused before any request
    panel.connect()

    assert second._http.is_closed and panel.client is None
    assert "Enter an API token" in panel.status.value
    assert shown(panel), "a failed second connection leaves the form hidden"
    assert panel.disconnect_button.layout.display == "none"


def test_disconnect_when_not_connected_says_so() -> None:
    panel = ConnectPanel()
    panel.disconnect()
    assert "Not connected." in panel.status.value
    assert shown(panel)


async def test_disconnect_on_the_kernels_loop_closes_the_twin_there(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_BASE_URL, sandbox.url)
    panel = ConnectPanel()
    panel.connect()
    twin = panel.async_client
    assert twin is not None
    product = await twin.create_product([sample(sandbox, "products/mug-blue.jpg")])
    assert (await twin.get_product(product.id)).id == product.id  # its connections are open

    panel.disconnect()  # a loop runs here, as in a kernel: the twin is closed in a task

    assert panel.disconnecting is not None
    await panel.disconnecting
    assert twin._http.is_closed


# ---------------------------------------------------------------- bad servers


@pytest.mark.parametrize("value", ["ftp://example.com", "ecomviz.cloud", "http://"])
def test_a_bad_server_is_named_with_what_is_allowed(value: str) -> None:
    panel = ConnectPanel()
    panel.base_url.value = value
    assert panel.connect_button.disabled
    assert "server: an http:// or https:// URL with a host" in panel.mode.value
    assert repr(value).replace("'", "&#x27;") in panel.mode.value

    panel.connect()

    assert panel.client is None
    assert "server: an http:// or https:// URL" in panel.status.value
    assert FROM_ENV in panel.status.value, "the error lists every accepted form"

    panel.base_url.value = "https://api.example.com"
    assert not panel.connect_button.disabled


def test_the_variable_named_while_it_is_unset_is_an_error() -> None:
    panel = ConnectPanel()
    panel.base_url.value = FROM_ENV
    assert panel.connect_button.disabled
    assert f"{FROM_ENV} is not set" in panel.mode.value


def test_an_unreachable_sandbox_is_reported_without_its_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ev.Sandbox(port=0, job_seconds=0) as gone:
        url = gone.url
    monkeypatch.setenv(config.ENV_BASE_URL, url)  # nothing listens there any more
    panel = ConnectPanel()
    panel.connect()
    assert panel.client is None
    assert "No answer from the sandbox at $ECOMVIZ_BASE_URL" in panel.status.value
    assert url not in saved(panel)
    assert shown(panel) and not panel.connect_button.disabled
