"""Secrets everywhere: a token set through any path never shows in anything a user keeps.

The token is real: a sandbox started with ``token=T`` accepts only it. The client reaches that
sandbox through a small echoing proxy, which plays a careless server: it appends the bearer
token it received to every JSON ``message`` (success messages, 4xx errors), and for the product
ids ``echo401`` / ``echo500`` (or under a base URL ending so) answers 401 / 500 with the token in
the message and the whole ``Authorization`` header in the body. The token is set as an
argument, through ``$ECOMVIZ_API_TOKEN``, or typed into ``ev.ConnectPanel``'s Password widget;
for each path every sink is searched: reprs, raised errors, debug logs, a saved report, the
ledger file, the panels' curl preview and widget state, and a notebook executed with nbclient
(widget state kept, ``ECOMVIZ_LOG=debug``) and exported to HTML with nbconvert.

Then: ``Client.close()`` / ``AsyncClient.aclose()`` give their token back: once no live client
holds it, ``config.redact`` stops hiding it and the image fetcher stops sending it.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import secrets
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from support import widget_state

import ecomviz_nb as ev
from ecomviz_nb import config
from ecomviz_nb.images import ImageStore
from ecomviz_nb.report import report_from_ledger
from ecomviz_nb.sandbox import Settings

PATHS = ("argument", "env", "connect-panel")
PRODUCT = "/samples/products/tshirt-red.jpg"
PERSON = "/samples/people/person-a.jpg"
GARMENT = "/samples/garments/dress-green.png"
MISSING_ID = "0123456789abcdef01234567"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


# ---------------------------------------------------------------- a server that echoes tokens


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EchoProxy

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        auth = self.headers.get("Authorization")
        self.server.seen.append((self.command, self.path, auth))
        bearer = (auth or "").partition(" ")[2]
        for marker, status, text in (
            ("echo401", 401, f"Invalid token {bearer}"),
            ("echo500", 500, f"Internal error while handling {bearer}"),
        ):  # a base URL under /echo401 (say), or the product id echo401
            if self.path.startswith(f"/{marker}/") or self.path.endswith(f"/{marker}"):
                echoed = {"success": False, "message": text, "detail": {"authorization": auth}}
                return self._reply(status, json.dumps(echoed).encode(), "application/json")
        headers = {k: v for k in ("Authorization", "Content-Type") if (v := self.headers.get(k))}
        request = urllib.request.Request(
            self.server.target + self.path, data=body, headers=headers, method=self.command
        )
        try:
            with _DIRECT.open(request, timeout=30) as response:
                status, data = response.status, response.read()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
            content_type = exc.headers.get("Content-Type", "")
        if self.path.startswith("/api/") and "json" in content_type and bearer:
            payload = json.loads(data)
            if isinstance(payload, dict) and isinstance(payload.get("message"), str):
                payload["message"] += f" (key {bearer})"
                data = json.dumps(payload).encode()
        self._reply(status, data, content_type)


class EchoProxy(ThreadingHTTPServer):
    """Forwards to ``target``; echoes the bearer token in messages; records what it saw."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.target = ""
        """The server forwarded to (set once it runs)."""
        self.seen: list[tuple[str, str, str | None]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def auth_for(self, path_part: str) -> list[str | None]:
        """The Authorization headers of the requests whose path contains ``path_part``."""
        return [auth for _method, path, auth in self.seen if path_part in path]


@dataclass
class Server:
    token: str
    sandbox: ev.Sandbox
    proxy: EchoProxy


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    token = "sk-live-" + secrets.token_hex(12)
    proxy = EchoProxy()
    # The sandbox fetches the pictures it is given through the proxy too (a loopback address).
    settings = Settings(fetch_allow=(f"127.0.0.1:{proxy.server_address[1]}",))
    try:
        with ev.Sandbox(port=0, token=token, job_seconds=0, settings=settings) as sb:
            proxy.target = sb.url
            yield Server(token, sb, proxy)
    finally:
        proxy.shutdown()
        proxy.server_close()


# ---------------------------------------------------------------- the three ways in


@dataclass
class Ctx:
    """One token path; ``connect`` makes a client through it (closed after the test)."""

    path: str
    server: Server
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path
    panels: list[ev.ConnectPanel] = field(default_factory=list)
    clients: list[ev.Client] = field(default_factory=list)

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def url(self) -> str:
        return self.server.proxy.url

    def connect(self, base_url: str | None = None) -> ev.Client | None:
        """A client through this path; None when ConnectPanel refused to connect."""
        url = base_url or self.url
        if self.path == "argument":
            client = ev.Client(self.token, base_url=url)
        elif self.path == "env":
            self.monkeypatch.setenv(config.ENV_TOKEN, self.token)
            client = ev.Client(base_url=url)
        else:
            panel = ev.ConnectPanel()
            panel.token.value = self.token  # what typing into the Password widget does
            panel.base_url.value = url
            panel.connect()
            assert panel.token.value == "", "the Password widget still holds the token"
            self.panels.append(panel)
            if panel.client is None:
                return None
            client = panel.client
        self.clients.append(client)
        return client

    def panel_state(self) -> str:
        """Everything the ConnectPanels show or would save: their widget state and HTML."""
        return "\n".join(widget_state(panel) + panel.snapshot_html() for panel in self.panels)


@pytest.fixture(params=PATHS)
def ctx(
    request: pytest.FixtureRequest,
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Ctx]:
    here = Ctx(request.param, server, monkeypatch, tmp_path)
    yield here
    for client in here.clients:
        client.close()
    for panel in here.panels:
        if panel.async_client is not None:
            asyncio.run(panel.async_client.aclose())


def everything_shown(exc: BaseException) -> str:
    """What a user can see of an exception: str, repr, the traceback, and what it carries."""
    body = getattr(exc, "body", None)
    return "\n".join(
        [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(body), repr(exc.args)]
    )


def work(client: ev.Client, server: Server) -> ev.GenerationJob:
    """A product, a generation, a try-on, and a generation the server refuses (all echoed)."""
    product = client.create_product([server.proxy.url + PRODUCT])
    job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main")]))
    job.wait(timeout=60)
    vto = client.try_on(
        ev.TryOnRequest(server.proxy.url + PERSON, [ev.Clothing(server.proxy.url + GARMENT)])
    )
    vto.wait(timeout=60)
    with pytest.raises(ev.NotFoundError) as refused:
        client.try_generate(ev.Product(id=MISSING_ID), ev.GenerateRequest([ev.ImageSpec("main")]))
    assert "(key ***)" in refused.value.message  # the echo reached the client, hidden
    return job


# ---------------------------------------------------------------- sinks


def sink_repr(ctx: Ctx) -> str:
    client = ctx.connect()
    assert client is not None and client.has_token
    twin = client.to_async()
    shown = [repr(client), str(client), repr(twin), repr(client.ledger), repr(client.jobs)]
    shown.append(ctx.panel_state())
    asyncio.run(twin.aclose())
    return "\n".join(shown)


def _echoed_error(ctx: Ctx, prefix: str, status: int) -> str:
    client = ctx.connect(ctx.url + prefix)
    if client is None:  # ConnectPanel checked the token, was refused, and says so
        assert f"HTTP {status}" in ctx.panels[-1].status.value, ctx.panels[-1].status.value
        assert "***" in ctx.panels[-1].status.value
        return ctx.panel_state()
    client.max_retries = 0
    with pytest.raises(ev.APIError) as info:
        client.get_product("p1")
    assert info.value.status_code == status
    assert "***" in info.value.message
    return everything_shown(info.value) + ctx.panel_state()


def sink_error_401(ctx: Ctx) -> str:
    return _echoed_error(ctx, "/echo401", 401)


def sink_error_500(ctx: Ctx) -> str:
    return _echoed_error(ctx, "/echo500", 500)


def sink_debug_log(ctx: Ctx) -> str:
    ctx.monkeypatch.setenv(config.ENV_LOG, "debug")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("ecomviz_nb", "httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(keep)
        logger.setLevel(logging.DEBUG)
    try:
        client = ctx.connect()
        assert client is not None
        work(client, ctx.server)
        _echoed_error(ctx, "/echo401", 401)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(keep)
            logger.setLevel(level)
    messages = [record.getMessage() for record in records]
    assert any("POST /api/products/url -> 200" in m for m in messages), messages[:20]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def sink_report(ctx: Ctx) -> str:
    client = ctx.connect()
    assert client is not None
    job = work(client, ctx.server)
    report = ev.Report("Secrets").add(client.get_product(job.product_id)).add(job)
    saved = report.save(ctx.tmp_path / "report.html")
    ledger = report_from_ledger(client).save(ctx.tmp_path / "ledger-report.html")
    text = ledger.read_text(encoding="utf-8")
    assert "(key ***)" in html.unescape(text)  # the refused job's echoed message, hidden
    return saved.read_text(encoding="utf-8") + text + report._repr_html_()


def sink_ledger_file(ctx: Ctx) -> str:
    client = ctx.connect()
    assert client is not None
    work(client, ctx.server)
    messages = [job.record.message or "" for job in client.jobs.list()]
    assert sum("(key ***)" in m for m in messages) >= 3, messages  # echoed, hidden
    files = sorted(client.ledger.path.parent.glob(client.ledger.path.name + "*"))
    assert client.ledger.path in files
    return b"".join(path.read_bytes() for path in files).decode("latin-1")


def sink_curl_preview(ctx: Ctx) -> str:
    client = ctx.connect()
    assert client is not None
    product = client.create_product([ctx.url + PRODUCT])
    generate = ev.GeneratePanel(client, product)
    generate.webhook_url.value = "https://hooks.example.com/ev"
    try_on = ev.TryOnPanel(client, person_url=PERSON, clothing=[(GARMENT, "")])
    shown = [ctx.panel_state()]
    for panel in (generate, try_on):
        assert "$ECOMVIZ_API_TOKEN" in panel.curl.value  # read from the environment
        shown += [panel.curl.value, panel.preview.value, panel.snapshot_html()]
        shown.append(widget_state(panel))
    return "\n".join(shown)


def sink_notebook(ctx: Ctx, executed: Callable[[str], tuple[str, str]]) -> str:
    return executed(ctx.path)[0]


def sink_exported_html(ctx: Ctx, executed: Callable[[str], tuple[str, str]]) -> str:
    return executed(ctx.path)[1]


SINKS: dict[str, Callable[..., str]] = {
    "repr": sink_repr,
    "error-401": sink_error_401,
    "error-500": sink_error_500,
    "debug-log": sink_debug_log,
    "report": sink_report,
    "ledger-file": sink_ledger_file,
    "curl-preview": sink_curl_preview,
    "notebook": sink_notebook,
    "exported-html": sink_exported_html,
}


# ---------------------------------------------------------------- a notebook, run and exported

_CONNECT = {
    "argument": 'client = ev.Client(os.environ["EV_TEST_SECRET"], base_url=URL)',
    "env": "client = ev.connect(base_url=URL)",
    "connect-panel": (
        "panel = ev.ConnectPanel()\n"
        'panel.token.value = os.environ["EV_TEST_SECRET"]  # typed in\n'
        "panel.base_url.value = URL\n"
        "panel.connect()\n"
        "client = panel.client\n"
        "panel"
    ),
}
_REFUSED = (  # ConnectPanel with a server that refuses the token and echoes it
    "refused = ev.ConnectPanel()\n"
    'refused.token.value = os.environ["EV_TEST_SECRET"]\n'
    'refused.base_url.value = URL + "/echo401"\n'
    "refused.connect()\n"
    "refused"
)


def _cells(path: str) -> list[str]:
    return [
        "import os, traceback\nimport ecomviz_nb as ev\nURL = os.environ['EV_TEST_URL']",
        _CONNECT[path],
        "client",
        f"product = client.create_product([URL + {PRODUCT!r}])\nproduct",
        "job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec('main')]))\n"
        "job.wait(timeout=60)\njob",
        "ev.GeneratePanel(client, product)",
        f"ev.TryOnPanel(client, person_url={PERSON!r}, clothing=[({GARMENT!r}, '')])",
        "ev.JobsPanel(client)",
        "report = ev.Report('Secrets').add(product).add(job)\nreport.save('report.html')\nreport",
        "client.max_retries = 0\ntry:\n    client.get_product('echo401')\n"
        "except ev.EcomVizError as exc:\n    print(repr(exc), exc.body)\n    traceback.print_exc()",
        "client.get_product('echo500')  # raised: the notebook keeps the traceback",
    ] + ([_REFUSED] if path == "connect-panel" else [])


@pytest.fixture(scope="module")
def executed(
    server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[str, str]]:
    """Per path, once: the executed notebook's JSON and its nbconvert HTML."""
    done: dict[str, tuple[str, str]] = {}

    def run(path: str) -> tuple[str, str]:
        if path in done:
            return done[path]
        folder = tmp_path_factory.mktemp(f"notebook-{path}")
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in _cells(path)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMVIZ_")}
        env.update(
            ECOMVIZ_HOME=str(folder / "home"), ECOMVIZ_LOG="debug", EV_TEST_URL=server.proxy.url
        )
        env["ECOMVIZ_API_TOKEN" if path == "env" else "EV_TEST_SECRET"] = server.token
        client = NotebookClient(
            notebook,
            timeout=120,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(folder)}},
        )
        assert client.store_widget_state
        client.execute(env=env)
        nbformat.write(notebook, folder / "secrets.ipynb")  # kept for a look when a test fails
        text = (folder / "secrets.ipynb").read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget-state+json" in text  # widget state was kept
        assert "GET /api/products/" in text  # the debug log is in the outputs
        assert "AuthenticationError" in text and "ServerError" in text  # printed and raised
        assert "Invalid token ***" in text  # the echo, hidden
        exported, _ = HTMLExporter().from_notebook_node(notebook)
        assert "application/vnd.jupyter.widget-state+json" in exported
        saved = (folder / "report.html").read_text(encoding="utf-8")
        done[path] = (text + saved, exported)
        return done[path]

    return run


# ---------------------------------------------------------------- the matrix


@pytest.mark.parametrize("sink", list(SINKS))
def test_the_token_never_reaches_a_sink(
    ctx: Ctx, sink: str, executed: Callable[[str], tuple[str, str]]
) -> None:
    draw = SINKS[sink]
    shown = draw(ctx, executed) if sink in ("notebook", "exported-html") else draw(ctx)
    assert shown.strip(), f"{sink}: nothing to search"
    for text in (shown, html.unescape(shown)):
        at = text.find(ctx.token)
        assert at < 0, f"{sink} via {ctx.path}: ...{text[max(0, at - 200) : at + 60]!r}"


# ---------------------------------------------------------------- closing gives the token back


@pytest.fixture
def proxy(server: Server) -> Iterator[EchoProxy]:
    """A proxy of the test's own: an origin no client of the other tests holds a token for."""
    own = EchoProxy()
    own.target = server.sandbox.url
    yield own
    own.shutdown()
    own.server_close()


def fetched_with(proxy: EchoProxy, folder: Path) -> str | None:
    """Fetch a picture on the proxy with the image fetcher; the Authorization it sent."""
    marker = secrets.token_hex(6)
    store = ImageStore(folder / marker)
    try:
        store.original(f"{proxy.url}{PRODUCT}?fetch={marker}")
    finally:
        store.close()
    [auth] = proxy.auth_for(marker)
    return auth


async def test_closing_forgets_the_token_only_when_no_live_client_holds_it(
    proxy: EchoProxy, tmp_path: Path
) -> None:
    token = "sk-close-" + secrets.token_hex(8)
    first = ev.Client(token, base_url=proxy.url)
    second = first.to_async()
    assert config.redact(token) == "***"
    assert fetched_with(proxy, tmp_path) == f"Bearer {token}"

    first.close()
    first.close()  # a second close gives nothing back twice
    assert config.redact(token) == "***"  # the async twin still holds it
    assert fetched_with(proxy, tmp_path) == f"Bearer {token}"

    await second.aclose()
    assert config.redact(token) == token
    assert config.auth_headers(proxy.url + PRODUCT) == {}
    assert fetched_with(proxy, tmp_path) is None
    await second.aclose()
    assert config.redact(token) == token


def test_a_token_held_for_another_server_stays_hidden_but_is_not_sent_here(
    proxy: EchoProxy, server: Server, tmp_path: Path
) -> None:
    token = "sk-two-servers-" + secrets.token_hex(8)
    here = ev.Client(token, base_url=proxy.url)
    elsewhere = ev.Client(token, base_url=server.sandbox.url)
    try:
        here.close()
        assert config.redact(token) == "***"
        assert fetched_with(proxy, tmp_path) is None
        assert config.auth_headers(server.sandbox.url + PRODUCT) == {
            "Authorization": f"Bearer {token}"
        }
    finally:
        elsewhere.close()
    assert config.redact(token) == token


def test_closing_a_newer_token_falls_back_to_a_live_older_one(
    proxy: EchoProxy, tmp_path: Path
) -> None:
    old, new = ("sk-" + name + "-" + secrets.token_hex(8) for name in ("old", "new"))
    older = ev.Client(old, base_url=proxy.url)
    newer = ev.Client(new, base_url=proxy.url)
    try:
        assert fetched_with(proxy, tmp_path) == f"Bearer {new}"
        newer.close()
        assert config.redact(new) == new
        assert config.redact(old) == "***"
        assert fetched_with(proxy, tmp_path) == f"Bearer {old}"
    finally:
        older.close()
    assert config.redact(old) == old
    assert fetched_with(proxy, tmp_path) is None


def test_an_injected_http_client_still_gives_the_token_back(proxy: EchoProxy) -> None:
    token = "sk-injected-" + secrets.token_hex(8)
    with httpx.Client() as http:
        client = ev.Client(token, base_url=proxy.url, http_client=http)
        client.close()
        assert not http.is_closed  # the caller's to close
    assert config.redact(token) == token


def test_a_refused_connect_panel_forgets_the_token_it_was_given(proxy: EchoProxy) -> None:
    token = "sk-refused-" + secrets.token_hex(8)
    panel = ev.ConnectPanel()
    panel.token.value = token
    panel.base_url.value = proxy.url + "/echo401"
    panel.connect()

    assert panel.client is None
    assert "HTTP 401" in panel.status.value and "Invalid token ***" in panel.status.value
    assert token not in panel.status.value
    assert config.redact(token) == token  # its client was closed: nothing holds it
    assert config.auth_headers(proxy.url + "/echo401" + PRODUCT) == {}


def test_the_strict_sandbox_takes_only_its_token(server: Server) -> None:
    wrong = ev.Client("sk-wrong-" + secrets.token_hex(4), base_url=server.proxy.url)
    with wrong, pytest.raises(ev.AuthenticationError):
        wrong.get_product(MISSING_ID)
    right = ev.Client(server.token, base_url=server.proxy.url)
    with right, pytest.raises(ev.NotFoundError):
        right.get_product(MISSING_ID)
