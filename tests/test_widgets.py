"""The panels, driven from code against a real sandbox: set values, click, await, check."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

import ecomviz_nb as ev
from ecomviz_nb.widgets import ConnectPanel, GeneratePanel, JobsPanel, ProductPanel, TryOnPanel

HOSTILE = "<img src=x onerror=alert(1)>"


def sample(sandbox: ev.Sandbox, name: str) -> str:
    return f"{sandbox.url}/samples/{name}"


async def finish(panel: Any) -> None:
    assert panel.task is not None, panel.status.value
    await asyncio.wait_for(panel.task, 60)


def srcs(markup: str) -> list[str]:
    return re.findall(r"<img[^>]*\ssrc=['\"]([^'\"]+)['\"]", markup)


@pytest.fixture(scope="module")
def product(sandbox: ev.Sandbox) -> ev.Product:
    with sandbox.client() as client:
        return client.create_product([sample(sandbox, "products/tshirt-red.jpg")])


# ---------------------------------------------------------------- GeneratePanel


async def test_generate_panel_runs_a_job_with_live_progress(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    panel.rows["main"].count.value = 2
    panel.rows["detail"].enabled.value = True
    panel.rows["detail"].aspect_ratio.value = "4:3"
    panel.vto_enabled.value = True
    panel.vto_colors.value = ["blue"]
    body = json.loads(re.sub(r"<[^>]+>", "", panel.preview.value).replace("&quot;", '"'))
    assert body["imageType"] == [
        {"main": 2, "aspectRatio": "1:1"},
        {"detail": 1, "aspectRatio": "4:3"},
        {"vto": ["blue"]},
    ]
    assert "$ECOMVIZ_API_TOKEN" in panel.curl.value
    assert "sandbox-local" not in panel.curl.value

    seen: list[int] = []
    panel.progress.bar.observe(lambda change: seen.append(change["new"]), names="value")
    panel.generate_button.click()
    assert panel.generate_button.disabled  # no double submission while it runs
    await finish(panel)

    assert panel.progress.bar.value == panel.progress.bar.max == 4
    assert panel.progress.bar.bar_style == "success"
    assert seen and seen[-1] == 4
    assert "4 of 4 images" in panel.progress.label.value
    images = srcs(panel.results.value)
    assert len(images) == 4
    assert all(src.startswith("data:image/jpeg;base64,") for src in images)
    assert "Done" in panel.status.value
    assert panel.job.state == "completed"
    assert "data:image/jpeg;base64," in panel.snapshot_html()


async def test_generate_panel_shows_validation_problems_before_sending(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    panel.rows["main"].enabled.value = False
    assert panel.generate_button.disabled
    assert "at least one image type" in panel.status.value
    panel.vto_enabled.value = True
    panel.vto_colors.value = []
    assert panel.generate_button.disabled
    assert "vto.colors" in panel.status.value
    panel.vto_colors.value = ["red"]
    panel.webhook_url.value = "not a url"
    assert panel.generate_button.disabled
    assert "webhook.url" in panel.status.value
    panel.webhook_url.value = ""
    assert not panel.generate_button.disabled


async def test_generate_panel_shows_an_api_error_as_a_sentence(sandbox: ev.Sandbox) -> None:
    panel = GeneratePanel(sandbox.client(), "0123456789abcdef01234567")
    panel.generate_button.click()
    await finish(panel)
    assert "HTTP 404" in panel.status.value
    assert "Traceback" not in panel.status.value
    assert panel.progress.bar.bar_style == "danger"


async def test_generate_panel_escapes_a_hostile_product_name(sandbox: ev.Sandbox) -> None:
    product = ev.Product(id="p1", name=HOSTILE, colors=[HOSTILE])
    panel = GeneratePanel(sandbox.client(), product)
    markup = "".join(
        getattr(w, "value", "") for w in _walk(panel) if isinstance(getattr(w, "value", None), str)
    )
    assert HOSTILE not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup


def _walk(widget: Any) -> list[Any]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(_walk(child))
    return found


# ---------------------------------------------------------------- TryOnPanel


async def test_try_on_panel_shows_person_clothing_and_result(sandbox: ev.Sandbox) -> None:
    panel = TryOnPanel(
        sandbox.client(),
        person_url=sample(sandbox, "people/person-a.jpg"),
        clothing=[(sample(sandbox, "garments/dress-green.png"), "price US9.9")],
    )
    panel.use_height.value = True
    panel.height.value = 172
    panel.aspect_ratio.value = "3:2"
    assert '"height": 172' in panel.preview.value.replace("&quot;", '"')
    panel.try_on_button.click()
    await finish(panel)
    assert panel.result.status == "completed"
    images = srcs(panel.results.value)
    assert len(images) == 3  # person | clothing | try-on
    assert all(src.startswith("data:image/jpeg;base64,") for src in images)
    assert "price US9.9" in panel.results.value


async def test_try_on_panel_rows_can_be_added_and_removed(sandbox: ev.Sandbox) -> None:
    panel = TryOnPanel(sandbox.client(), person_url=sample(sandbox, "people/person-a.jpg"))
    panel.clothing_rows[0].url.value = sample(sandbox, "garments/dress-green.png")
    row = panel.add_clothing(sample(sandbox, "garments/jacket-navy.png"), HOSTILE)
    assert panel.request is not None and len(panel.request.clothing) == 2
    assert HOSTILE not in panel.preview.value
    row.remove_button.click()
    assert panel.request is not None and len(panel.request.clothing) == 1
    panel.clothing_rows[0].url.value = "ftp://nope"
    assert panel.try_on_button.disabled
    assert "clothing[0].url" in panel.status.value


# ---------------------------------------------------------------- ProductPanel


async def test_product_panel_creates_a_product_and_shows_its_card(sandbox: ev.Sandbox) -> None:
    panel = ProductPanel(sandbox.client(), [sample(sandbox, "products/sneaker-white.jpg")])
    panel.preview_button.click()
    await finish(panel)
    assert len(srcs(panel.sources.value)) == 1
    panel.create_button.click()
    await finish(panel)
    assert isinstance(panel.product, ev.Product)
    assert panel.product.id in panel.card.value
    assert "white" in panel.card.value


def test_product_panel_rejects_a_bad_url_line(sandbox: ev.Sandbox) -> None:
    panel = ProductPanel(sandbox.client())
    panel.urls.value = f"{sample(sandbox, 'products/mug-blue.jpg')}\njavascript:alert(1)"
    assert panel.create_button.disabled
    assert "image_urls[1]" in panel.status.value


# ---------------------------------------------------------------- ConnectPanel


def test_connect_panel_clears_the_token_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    panel = ConnectPanel()
    panel.token.value = "sk-never-stored-123"
    panel.base_url.value = "http://127.0.0.1:9"  # nothing listens: the check fails
    panel.connect_button.click()
    assert panel.token.value == ""
    assert "sk-never-stored-123" not in json.dumps(panel.token.get_state(), default=str)
    assert "No answer" in panel.status.value
    assert panel.client is None


def test_connect_panel_checks_the_token_against_a_server(sandbox: ev.Sandbox) -> None:
    panel = ConnectPanel()
    panel.token.value = "any-token"
    panel.base_url.value = sandbox.url
    panel.connect_button.click()
    assert panel.token.value == ""
    assert isinstance(panel.client, ev.Client)
    assert "token was accepted" in panel.status.value
    assert panel.inputs.layout.display == "none"


def test_connect_panel_reports_a_refused_token() -> None:
    with ev.Sandbox(port=0, job_seconds=0, token="right") as strict:
        panel = ConnectPanel()
        panel.token.value = "wrong"
        panel.base_url.value = strict.url
        panel.connect_button.click()
        assert panel.client is None
        assert "refused the token" in panel.status.value
        assert "wrong" not in panel.status.value


# ---------------------------------------------------------------- JobsPanel


async def test_jobs_panel_lists_jobs_and_resumes_an_open_one(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    client = sandbox.client()
    job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main")]))
    panel = JobsPanel(client)
    assert job.id in panel.table.value
    assert panel.pending.value == job.id
    panel.resume_button.click()
    await finish(panel)
    assert panel.progress.bar.value == 1
    assert "complete" in panel.status.value
    assert "completed" in panel.table.value
    assert panel.pending.options == ()


async def test_generate_panel_shows_results_beside_the_sources(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    source = sample(sandbox, "products/tshirt-red.jpg")
    panel = GeneratePanel(sandbox.client(), product, sources=[source])
    panel.generate_button.click()
    assert "Submitting" in panel.status.value
    await finish(panel)
    images = srcs(panel.results.value)
    assert len(images) == 2  # the source, then the one new main image
    assert "Source" in panel.results.value
    assert all(src.startswith("data:image/jpeg;base64,") for src in images)


def test_curl_names_a_local_server_by_variable_and_never_holds_the_token(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(token="sk-secret-curl-1"), product)
    assert '"$ECOMVIZ_BASE_URL"/api/products/' in panel.curl.value
    assert sandbox.url not in panel.curl.value
    assert "sk-secret-curl-1" not in panel.curl.value
    assert "sk-secret-curl-1" not in json.dumps(panel.get_state(), default=str)


async def test_panels_take_server_paths_and_keep_the_local_address_out_of_widget_state(
    sandbox: ev.Sandbox,
) -> None:
    panel = TryOnPanel(
        sandbox.client(), person_url="/samples/people/person-a.jpg",
        clothing=[("/samples/garments/dress-green.png", "price US9.9")],
    )
    assert panel.request is not None
    assert panel.request.person_image_url == sample(sandbox, "people/person-a.jpg")
    state = json.dumps([w.get_state() for w in _walk(panel)], default=str)
    assert sandbox.url not in state
    assert "$ECOMVIZ_BASE_URL/samples/people/person-a.jpg" in panel.preview.value
    panel.try_on_button.click()
    await finish(panel)
    assert panel.result.status == "completed"
    state = json.dumps([w.get_state() for w in _walk(panel)], default=str)
    assert sandbox.url not in state

    products = ProductPanel(sandbox.client(), ["/samples/products/mug-blue.jpg"])
    assert products.image_urls() == [sample(sandbox, "products/mug-blue.jpg")]


# ---------------------------------------------------------------- snapshots and closing


class RecordingHandle:
    """Stands in for IPython's DisplayHandle: keeps every update of the panel's output."""

    def __init__(self) -> None:
        self.updates: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def update(self, data: dict[str, Any], *, raw: bool, metadata: dict[str, Any]) -> None:
        assert raw
        self.updates.append((data, metadata))


VIEW = "application/vnd.jupyter.widget-view+json"


def test_a_displayed_panel_sends_its_widget_and_a_marked_snapshot(
    sandbox: ev.Sandbox, product: ev.Product, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def display(data: dict[str, Any], **kwargs: Any) -> RecordingHandle:
        assert kwargs["raw"] and kwargs["display_id"] is True
        shown.append((data, kwargs["metadata"]))
        return RecordingHandle()

    monkeypatch.setattr("IPython.display.display", display)
    panel = GeneratePanel(sandbox.client(), product)
    panel._ipython_display_()
    [(data, metadata)] = shown
    assert data[VIEW]["model_id"] == panel.model_id
    assert metadata == {"ecomviz_nb": {"snapshot": "GeneratePanel"}}
    assert "data-ev-panel='GeneratePanel'" in data["text/html"]


def test_the_snapshot_shows_the_inputs_escaped_with_the_local_address_masked(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    panel.rows["detail"].enabled.value = True
    panel.rows["detail"].count.value = 3
    panel.rows["detail"].aspect_ratio.value = "4:3"
    panel.platform.value = "amazon"
    snapshot = panel.snapshot_html()
    assert "3 x 4:3" in snapshot and "amazon" in snapshot and "No results yet." in snapshot

    try_on = TryOnPanel(
        sandbox.client(),
        person_url=sample(sandbox, "people/person-a.jpg"),
        clothing=[(sample(sandbox, "garments/dress-green.png"), HOSTILE)],
    )
    snapshot = try_on.snapshot_html()
    assert "$ECOMVIZ_BASE_URL/samples/people/person-a.jpg" in snapshot
    assert sandbox.url not in snapshot
    assert HOSTILE not in snapshot and "&lt;img src=x onerror=alert(1)&gt;" in snapshot


async def test_the_snapshot_is_sent_again_once_the_inputs_are_still(
    sandbox: ev.Sandbox, product: ev.Product, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ecomviz_nb.widgets._base._REFRESH_DELAY", 0)
    panel = GeneratePanel(sandbox.client(), product)
    handle = panel._handle = RecordingHandle()
    panel.rows["main"].count.value = 2
    panel.rows["main"].count.value = 5
    panel.region.value = "eu"
    for _ in range(3):
        await asyncio.sleep(0)
    [(data, _)] = handle.updates  # three changes, one update
    assert "5 x 1:1" in data["text/html"] and "eu" in data["text/html"]


def test_a_panel_made_from_a_sync_client_closes_its_async_twin(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    client = sandbox.client()
    panel = GeneratePanel(client, product)
    twin = panel._aclient
    assert twin is not client
    panel.generate()  # no running loop: runs to the end on the panel's own loop
    assert panel.job.state == "completed" and not twin._http.is_closed
    handle = panel._handle = RecordingHandle()

    panel.close()

    assert twin._http.is_closed, "the twin's connections are closed"
    assert not client._http.is_closed, "the caller's client is the caller's"
    assert panel.comm is None and all(part.comm is None for part in _walk(panel)[1:])
    [(data, metadata)] = handle.updates
    assert VIEW not in data, "the output keeps the snapshot alone"
    assert "data:image/jpeg;base64," in data["text/html"] and metadata["ecomviz_nb"]
    panel.close()  # twice: nothing more
    assert len(handle.updates) == 1
    panel.generate()
    assert "closed" in panel.status.value


async def test_closing_a_panel_on_the_kernels_loop_cancels_its_work_and_closes_the_twin(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    twin = panel._aclient
    panel.generate_button.click()
    work = panel.task
    assert work is not None and not work.done()

    panel.close()

    assert panel.closing is not None
    await asyncio.wait_for(panel.closing, 30)
    assert work.cancelled()
    assert twin._http.is_closed
    assert "job ledger" in panel.status.value


async def test_closing_a_panel_leaves_an_async_client_it_was_given_open(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    async with sandbox.async_client() as aclient:
        panel = GeneratePanel(aclient, product)
        panel.close()
        if panel.closing is not None:
            await panel.closing
        assert not aclient._http.is_closed
        assert (await aclient.get_product(product.id)).id == product.id


def test_the_connect_panel_makes_its_async_twin_only_when_asked(sandbox: ev.Sandbox) -> None:
    panel = ConnectPanel()
    panel.token.value = "any-token"
    panel.base_url.value = sandbox.url
    panel.connect_button.click()
    assert panel._async_client is None
    twin = panel.async_client
    assert isinstance(twin, ev.AsyncClient) and panel.async_client is twin
    panel.close()
    assert not twin._http.is_closed, "handed out: the caller's to close"
    assert "any-token" not in panel.snapshot_html()


async def test_a_twin_used_without_a_loop_is_closed_on_its_own_loop(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    twin = panel._aclient
    await asyncio.to_thread(panel.generate)  # no loop in that thread: the panel's own loop
    assert panel.job.state == "completed"
    panel.close()  # this thread runs a loop: the twin is closed on the panel's loop elsewhere
    assert twin._http.is_closed and panel.closing is None
