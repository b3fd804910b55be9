"""``ev.ConnectPanel``: a token (never kept), a server, or the local sandbox."""

from __future__ import annotations

import ipywidgets as widgets

from ..client import AsyncClient, Client
from ..config import DEFAULT_BASE_URL
from ..errors import AuthenticationError, NotFoundError
from ..local import SANDBOX_TOKEN, shared_sandbox
from ._base import Panel, describe_error

__all__ = ["ConnectPanel"]

# A well-formed id that names no product: asking for it tests the token and costs nothing.
_PROBE_ID = "000000000000000000000000"


class ConnectPanel(Panel):
    """Connect to the EcomViz API with a token, or to a local sandbox.

    The token is read from the Password widget and the widget is emptied at once, before any
    request, so the token is never kept in widget state or a saved notebook.

    Parts: ``token``, ``base_url``, ``use_sandbox``, ``connect_button``, ``status``; after
    connecting, ``client`` is an ``ev.Client`` (``async_client`` its async twin, made when
    first asked for). Both are the caller's: closing the panel leaves them open.
    """

    title = "Connection"
    empty_text = ""

    def __init__(self) -> None:
        self.client: Client | None = None
        self._async_client: AsyncClient | None = None
        self.token = widgets.Password(value="", placeholder="API token", description="token")
        self.base_url = widgets.Text(value=DEFAULT_BASE_URL, description="server")
        self.use_sandbox = widgets.Checkbox(
            value=False, description="use a local sandbox (no token, images rendered locally)"
        )
        self.connect_button = widgets.Button(
            description="Connect", button_style="primary", icon="plug"
        )
        self.inputs = widgets.VBox(
            [self.token, self.base_url, self.use_sandbox, self.connect_button]
        )
        super().__init__([self.inputs])
        self.connect_button.on_click(lambda _b: self.connect())

    def connect(self) -> None:
        """Read and clear the token, then check it (what the button does)."""
        try:
            self._connect()
        finally:
            self.refresh_snapshot()

    def _connect(self) -> None:
        token = self.token.value.strip()
        self.token.value = ""  # before anything else: the value must not linger in widget state
        if self.use_sandbox.value:
            sandbox = shared_sandbox()
            self.client = Client(SANDBOX_TOKEN, base_url=sandbox.url)
            self._done(
                "Connected to a local sandbox in this kernel: its images are local renders, not AI."
            )
            return
        if not token:
            self.show_error("Enter an API token, or tick 'use a local sandbox'.")
            return
        try:
            client = Client(token, base_url=self.base_url.value.strip() or None)
        except Exception as exc:
            self.show_error(describe_error(exc))
            return
        try:
            client.get_product(_PROBE_ID)
        except NotFoundError:
            pass  # the token was accepted; the product simply does not exist
        except AuthenticationError as exc:
            client.close()
            self.show_error(describe_error(exc))
            return
        except Exception as exc:
            client.close()
            self.show_error(describe_error(exc))
            return
        self.client = client
        self._done(f"Connected to {client.base_url}; the token was accepted.")

    @property
    def async_client(self) -> AsyncClient | None:
        """The connected client's async twin (made on first use; the caller closes it)."""
        if self._async_client is None and self.client is not None:
            self._async_client = self.client.to_async()
        return self._async_client

    def _done(self, message: str) -> None:
        assert self.client is not None
        self._async_client = None  # a new connection: a new twin when asked for
        self.inputs.layout.display = "none"  # replace the inputs with a status line
        self.show_info(message)

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        if self.use_sandbox.value:
            return [("server", "a local sandbox in this kernel")]
        return [("server", self.base_url.value.strip())]
