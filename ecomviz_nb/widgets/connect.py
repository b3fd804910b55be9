"""``ev.ConnectPanel``: a sandbox or the billed API, from the environment; a token never kept."""

from __future__ import annotations

import asyncio
import html
import os
from typing import NamedTuple

import httpx
import ipywidgets as widgets

from .. import config
from ..client import AsyncClient, Client
from ..errors import APIConnectionError, NotFoundError, ValidationError
from ..local import REAL_API, SANDBOX, SANDBOX_TOKEN, shared_sandbox
from ._base import ERROR_COLOR, TEXT_COLOR, Panel, describe_error

__all__ = ["FROM_ENV", "ConnectPanel"]

FROM_ENV = "$" + config.ENV_BASE_URL
"""What the server field holds for the local server ``ECOMVIZ_BASE_URL`` names: widget state
is saved with a notebook, and a loopback address (its port changes every run) means nothing to
a reader."""

# A well-formed id that names no product: asking for it tests the token and costs nothing.
_PROBE_ID = "000000000000000000000000"
_ALLOWED = (
    f"an http:// or https:// URL with a host, {FROM_ENV} while that variable is set, or "
    "nothing with 'use a local sandbox' ticked, to start a sandbox in this kernel"
)


class _Target(NamedTuple):
    """Where the form points: a sandbox or not, its URL (None: start one here), its name."""

    sandbox: bool
    url: str | None
    shown: str
    """How the server is named in anything saved: never a loopback address."""


class ConnectPanel(Panel):
    """Connect to a sandbox or to the real, billed EcomViz API, starting from the environment.

    The server field starts as ``$ECOMVIZ_BASE_URL`` when that variable names a local server
    (the sandbox box is then ticked), as the URL it names otherwise, else as the public API.
    The line under the form says which kind of server a click connects to, and once connected
    which kind it talks to: an EcomViz sandbox (local, free, images drawn by Pillow) or the
    real EcomViz API, where each generation is billed.

    The token is read from the Password widget and the widget is emptied at once, before any
    request, so the token is never kept in widget state or a saved notebook. **Disconnect**
    closes the clients the panel made (the token is then forgotten) and shows the form again.

    Parts: ``token``, ``base_url`` (the server field), ``use_sandbox``, ``mode`` (the line that
    names the server's kind), ``connect_button``, ``disconnect_button``, ``status``; after
    connecting, ``client`` is an ``ev.Client`` (``async_client`` its async twin, made when
    first asked for). Both are the caller's until Disconnect: closing the panel leaves them
    open.

    Args:
        http_client: an ``httpx.Client`` the panel's clients send with (a proxy, tests); the
            caller closes it.
    """

    title = "Connection"
    empty_text = ""

    def __init__(self, *, http_client: httpx.Client | None = None) -> None:
        self.client: Client | None = None
        self._async_client: AsyncClient | None = None
        self._http = http_client
        self._connected_to: _Target | None = None
        self._syncing = False
        self.disconnecting: asyncio.Task[None] | None = None
        """Closing the async twin on the kernel's loop, after a Disconnect that found one."""
        wide = {"description_width": "initial"}
        self.token = widgets.Password(value="", placeholder="API token", description="token")
        self.base_url = widgets.Text(
            value=_start_server(), description="server", continuous_update=False
        )
        self.use_sandbox = widgets.Checkbox(
            value=self._names_local(self.base_url.value),
            description="use a local sandbox (no token, not billed)",
            style=wide,
            layout=widgets.Layout(width="auto"),
        )
        self.mode = widgets.HTML("")
        """Which kind of server the form points to, or the panel is connected to."""
        self.connect_button = widgets.Button(
            description="Connect", button_style="primary", icon="plug"
        )
        self.disconnect_button = widgets.Button(
            description="Disconnect", icon="unlink", layout=widgets.Layout(display="none")
        )
        self.inputs = widgets.VBox([self.token, self.base_url, self.use_sandbox])
        buttons = widgets.HBox([self.connect_button, self.disconnect_button])
        super().__init__([self.inputs, self.mode, buttons])
        self.base_url.observe(self._server_changed, names="value")
        self.use_sandbox.observe(self._box_changed, names="value")
        self.connect_button.on_click(lambda _b: self.connect())
        self.disconnect_button.on_click(lambda _b: self.disconnect())
        self._show_mode()

    # ---- what the form points to

    def _target(self) -> _Target:
        """The server the form points to, read from the server field and the sandbox box.

        Raises:
            ValidationError: the server field holds no usable server (field ``server``).
        """
        text = self.base_url.value.strip()
        env = os.environ.get(config.ENV_BASE_URL, "").strip()
        if text == FROM_ENV:
            if not env:
                raise ValidationError("server", text, _ALLOWED + f"; {FROM_ENV} is not set")
            url, named = env, FROM_ENV
        elif text:
            url, named = text, text
        elif self.use_sandbox.value:
            return _Target(sandbox=True, url=None, shown="a sandbox started in this kernel")
        else:
            url = env or config.DEFAULT_BASE_URL
            named = FROM_ENV if env else config.DEFAULT_BASE_URL
        try:
            url = config.resolve_base_url(url)
        except ValidationError:
            raise ValidationError("server", text or url, _ALLOWED) from None
        local = config.is_local_server(url)
        if local and named == url:
            named = "a local server"  # typed in: its address stays out of what is saved
        return _Target(sandbox=local or self.use_sandbox.value, url=url, shown=named)

    def _names_local(self, text: str) -> bool:
        """Whether the server field's ``text`` names a server on this machine."""
        text = text.strip()
        if text == FROM_ENV:
            text = os.environ.get(config.ENV_BASE_URL, "").strip()
        try:
            return bool(text) and config.is_local_server(config.resolve_base_url(text))
        except ValidationError:
            return False

    def _server_changed(self, change: dict[str, object]) -> None:
        text = str(change["new"]).strip()
        env = os.environ.get(config.ENV_BASE_URL, "").strip()
        if text and env and text.rstrip("/") == env.rstrip("/") and self._names_local(env):
            self.base_url.value = FROM_ENV  # the same server, named without its address
            return
        if text and not self._syncing:
            self._syncing = True
            try:  # the box follows the server: ticked for a local one, else not
                self.use_sandbox.value = self._names_local(text)
            finally:
                self._syncing = False
        self._show_mode()

    def _box_changed(self, change: dict[str, object]) -> None:
        if not self._syncing:
            self._syncing = True
            text = self.base_url.value.strip()
            try:  # the server follows the box: a local one when ticked, else the API
                if change["new"] and not self._names_local(text):
                    self.base_url.value = _sandbox_server()
                elif not change["new"] and (not text or self._names_local(text)):
                    self.base_url.value = _api_server()
            finally:
                self._syncing = False
        self._show_mode()

    def _show_mode(self) -> None:
        """Say which kind of server a click on Connect reaches; disable it if there is none."""
        if self.client is not None:
            return
        try:
            target = self._target()
        except ValidationError as exc:
            self.connect_button.disabled = True
            self.mode.value = _line(describe_error(exc), color=ERROR_COLOR)
            return
        self.connect_button.disabled = False
        self.mode.value = _describe(target, connected=False)

    # ---- connecting

    def connect(self) -> None:
        """Read and clear the token, then connect to what the form names (what the button does).

        A panel that is connected disconnects first.
        """
        try:
            self._connect()
        finally:
            self.refresh_snapshot()

    def _connect(self) -> None:
        token = self.token.value.strip()
        self.token.value = ""  # before anything else: the value must not linger in widget state
        if self.client is not None:
            self._release()
        try:
            target = self._target()
        except ValidationError as exc:
            self.show_error(describe_error(exc))
            return
        if not target.sandbox and not token:
            self.show_error(
                f"Enter an API token: {target.shown} is {REAL_API}; or tick 'use a local sandbox'."
            )
            return
        url = target.url or ""
        try:
            url = url or shared_sandbox().url
            client = Client(token or SANDBOX_TOKEN, base_url=url, http_client=self._http)
        except Exception as exc:
            self.show_error(_masked(describe_error(exc), url, target.shown))
            return
        try:
            client.get_product(_PROBE_ID)
        except NotFoundError:
            pass  # the token was accepted; the product simply does not exist
        except Exception as exc:
            client.close()
            said = describe_error(exc)
            if isinstance(exc, APIConnectionError):
                said = f"No answer from {_name(target)}: {exc}"
            self.show_error(_masked(said, url, target.shown))
            return
        self.client, self._connected_to = client, target
        self._async_client = None  # a new connection: a new twin when asked for
        self._show_form(False)  # the form gives way to a status line and Disconnect
        self.mode.value = _describe(target, connected=True)
        if target.sandbox:
            accepted = "; the token was accepted" if token else ""
            self.show_info(f"Connected{accepted}. Nothing is billed: the images are local renders.")
        else:
            self.show_info("Connected; the token was accepted. Each generation is billed.")

    @property
    def async_client(self) -> AsyncClient | None:
        """The connected client's async twin (made on first use; the caller closes it)."""
        if self._async_client is None and self.client is not None:
            self._async_client = self.client.to_async()
        return self._async_client

    # ---- disconnecting

    def disconnect(self) -> None:
        """Close the clients this panel made, forget the token, and show the form again.

        ``client`` and ``async_client`` are None afterwards; the form keeps the server, so a
        click on Connect (with a token for the real API) connects again.
        """
        target = self._connected_to
        if target is None:
            self.show_info("Not connected.")
            return
        self._release()
        self.show_info(f"Disconnected from {_name(target)}; the token is forgotten.")
        self.refresh_snapshot()

    def _show_form(self, shown: bool) -> None:
        """Show the form and Connect (not connected), or Disconnect alone (connected)."""
        self.inputs.layout.display = "" if shown else "none"
        self.connect_button.layout.display = "" if shown else "none"
        self.disconnect_button.layout.display = "none" if shown else ""

    def _release(self) -> None:
        """Close the client and its twin (the last client to close forgets the token), and
        show the form again."""
        client, twin = self.client, self._async_client
        self.client, self._async_client, self._connected_to = None, None, None
        self._show_form(True)
        self._show_mode()
        if client is not None:
            client.close()
        if twin is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(twin.aclose())
            return
        self.disconnecting = loop.create_task(twin.aclose())

    # ---- the saved snapshot

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        target = self._connected_to
        if target is None:
            try:
                target = self._target()
            except ValidationError:
                return [("server", "(not a server)")]
        kind = SANDBOX if target.sandbox else REAL_API
        state = "connected" if self._connected_to is not None else "not connected"
        return [("server", target.shown), ("kind", kind), ("state", state)]


def _start_server() -> str:
    """The server field's first value: from ``ECOMVIZ_BASE_URL`` when it is set."""
    env = os.environ.get(config.ENV_BASE_URL, "").strip()
    if not env:
        return config.DEFAULT_BASE_URL
    try:
        local = config.is_local_server(env)
    except ValidationError:
        return env  # shown as it is: the line under the form says what is wrong with it
    return FROM_ENV if local else env


def _sandbox_server() -> str:
    """The server field for a ticked sandbox box: ``$ECOMVIZ_BASE_URL`` when it names a local
    server, else empty (a sandbox started in this kernel)."""
    return FROM_ENV if _start_server() == FROM_ENV else ""


def _api_server() -> str:
    """The server field for an unticked sandbox box: the server ``ECOMVIZ_BASE_URL`` names
    when it is not local, else the public API."""
    start = _start_server()
    return config.DEFAULT_BASE_URL if start == FROM_ENV else start


def _describe(target: _Target, *, connected: bool) -> str:
    """The line that names the kind of server: ``Sandbox · Connected to an EcomViz ...``."""
    verb = "Connected to" if connected else "Will connect to"
    if target.sandbox:
        where = ", started in this kernel" if target.url is None else f" at {target.shown}"
        text = f"{verb} an {SANDBOX}{where}."
        tag = "Sandbox"
    else:
        billed = "each generation is billed" if connected else "it needs your API token"
        billed += "." if connected else ", and each generation is billed."
        text = f"{verb} {REAL_API} at {target.shown}: {billed}"
        tag = "Billed API"
    return _line(f"<b>{tag}</b> · {html.escape(text)}", escaped=True)


def _name(target: _Target) -> str:
    """The server in a sentence: ``the sandbox at $ECOMVIZ_BASE_URL``."""
    if target.url is None:
        return "the sandbox started in this kernel"
    return f"the {'sandbox' if target.sandbox else 'server'} at {target.shown}"


def _line(text: str, *, color: str = TEXT_COLOR, escaped: bool = False) -> str:
    body = text if escaped else html.escape(text)
    return f"<div style='color:{color};white-space:normal;line-height:1.4'>{body}</div>"


def _masked(text: str, url: str, shown: str) -> str:
    """``text`` with a local server's address written as the name the panel shows for it."""
    if url and config.is_local_server(url):
        return text.replace(url.rstrip("/"), shown)
    return text
