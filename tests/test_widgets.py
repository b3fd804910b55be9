"""The panels, driven from code against a real sandbox: set values, click, await, check."""

from __future__ import annotations

import asyncio
import html
import json
import re
from typing import Any

import pytest
from support import async_wait_until, walk

import ecomviz_nb as ev
from ecomviz_nb.widgets import ConnectPanel, GeneratePanel, JobsPanel, ProductPanel, TryOnPanel
from ecomviz_nb.widgets._base import ERROR_COLOR, HINT_COLOR

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


async def test_edits_send_no_snapshot_a_run_sends_it_before_its_last_line_and_close_too(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In JupyterLab an output update redraws the widget: the field being typed in loses focus.
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/mug-blue.jpg")])
    events: list[str] = []  # output updates and status lines sent, in order
    handle = RecordingHandle()

    def display(data: dict[str, Any], **_kwargs: Any) -> RecordingHandle:
        return handle

    monkeypatch.setattr("IPython.display.display", display)
    panel = GeneratePanel(client, product)
    panel._ipython_display_()
    sent_state = panel.status.send_state

    def send_state(key: Any = None) -> None:
        if panel.status.value and (key is None or "value" in key):
            events.append("status: " + said(panel))
        sent_state(key)

    monkeypatch.setattr(panel.status, "send_state", send_state)
    monkeypatch.setattr(
        handle, "update", lambda data, **kw: events.append("update: " + data["text/html"])
    )
    await panel.history_loading
    panel.rows["main"].count.value = 2
    panel.region.value = "eu"
    await asyncio.sleep(1.2)  # longer than the quiet second that once re-sent it
    assert not [e for e in events if e.startswith("update")], events

    panel.generate_button.click()
    await finish(panel)
    updates = [i for i, e in enumerate(events) if e.startswith("update")]
    assert len(updates) == 1, events  # one re-send per run, the unchanged one skipped
    sent = events[updates[0]]
    assert "Done: 2 images." in sent and "eu" in sent and "data:image/jpeg" in sent
    assert "ev-history" in sent and "first run" in sent  # the run is in the history too
    done = [i for i, e in enumerate(events) if e == "status: Done: 2 images."]
    assert done and done[0] > updates[0], events  # the line shows after the update

    panel.close()
    data = [e for e in events if e.startswith("update")]
    assert len(data) == 2 and "Done: 2 images." in data[-1]


async def test_the_history_read_in_the_background_sends_no_snapshot_until_close(
    sandbox: ev.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It may end while a person types in the form: a re-send then would take the focus.
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/mug-blue.jpg")])
    client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main")])).wait(timeout=60)
    handle = RecordingHandle()
    monkeypatch.setattr("IPython.display.display", lambda data, **_kwargs: handle)
    panel = GeneratePanel(client, product)
    panel._ipython_display_()
    await panel.history_loading

    assert len(panel.history.rows) == 1 and handle.updates == []
    panel.close()
    [(data, _)] = handle.updates
    assert "first run" in data["text/html"] and VIEW not in data


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


# ---------------------------------------------------------------- honest inputs


def said(panel: Any) -> str:
    """The panel's status line as text (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", panel.status.value))



def test_an_out_of_range_height_is_named_not_clamped_and_turns_the_button_off(
    sandbox: ev.Sandbox,
) -> None:
    panel = TryOnPanel(
        sandbox.client(),
        person_url="/samples/people/person-a.jpg",
        clothing=[("/samples/garments/dress-green.png", "")],
    )
    assert panel.height.disabled, "an unticked height is greyed out"
    panel.use_height.value = True
    assert not panel.height.disabled
    panel.height.value = 300

    assert panel.height.value == 300, "the value stays as typed"
    assert panel.try_on_button.disabled
    assert ERROR_COLOR in panel.status.value
    for part in ("height", "300", "from 50 to 250"):
        assert part in said(panel), said(panel)
    panel.height.value = 180
    assert not panel.try_on_button.disabled
    assert "Ready." in said(panel)
    panel.use_weight.value = True
    panel.weight.value = 5
    assert panel.try_on_button.disabled
    assert "weight" in said(panel) and "from 10 to 300" in said(panel)


@pytest.mark.parametrize(("count", "allowed"), [(0, "a whole number >= 1"), (21, "at most 20")])
def test_a_count_out_of_range_is_named_and_turns_the_button_off(
    sandbox: ev.Sandbox, product: ev.Product, count: int, allowed: str
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    panel.rows["main"].count.value = count
    assert panel.rows["main"].count.value == count
    assert panel.generate_button.disabled
    assert ERROR_COLOR in panel.status.value
    assert "main.count" in said(panel) and allowed in said(panel)
    assert f"got {count}" in said(panel)
    panel.rows["main"].count.value = 3
    assert not panel.generate_button.disabled
    assert "3 images will be generated." in said(panel)


def test_unticked_types_grey_out_their_count_ratio_and_colours(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    detail = panel.rows["detail"]
    assert detail.count.disabled and detail.aspect_ratio.disabled
    assert not panel.rows["main"].count.disabled
    detail.enabled.value = True
    assert not detail.count.disabled and not detail.aspect_ratio.disabled
    panel.rows["main"].enabled.value = False
    assert panel.rows["main"].count.disabled and panel.rows["main"].aspect_ratio.disabled
    assert "ev-off" in panel.vto_colors._dom_classes
    panel.vto_enabled.value = True
    assert "ev-off" not in panel.vto_colors._dom_classes


def test_the_colour_box_says_how_to_add_a_colour(sandbox: ev.Sandbox, product: ev.Product) -> None:
    # JupyterLab's TagsInput ignores Enter: a field beside it adds a colour on Enter or "add".
    panel = GeneratePanel(sandbox.client(), product)
    text = " ".join(w.value for w in walk(panel) if isinstance(w, ev_html()))
    assert "type a colour in the box and press Enter (or click add) to add it" in text
    assert "Enter" in panel.vto_new.placeholder and not panel.vto_new.continuous_update
    assert panel.vto_new.disabled and panel.vto_add.disabled  # greyed out while vto is off
    panel.vto_enabled.value = True
    assert not panel.vto_new.disabled and not panel.vto_add.disabled
    before = list(panel.vto_colors.value)

    panel.vto_new.value = " navy "  # what Enter in the field sends
    assert list(panel.vto_colors.value) == [*before, "navy"] and panel.vto_new.value == ""
    panel.vto_new.value = "navy"
    assert list(panel.vto_colors.value) == [*before, "navy"]  # not twice
    with panel.vto_new.hold_trait_notifications():  # typed, not yet sent: the button adds it
        panel.vto_new.value = "teal"
        panel.vto_add.click()
    assert list(panel.vto_colors.value) == [*before, "navy", "teal"]
    assert panel.request is not None
    assert list(panel.request.image_types[-1].colors) == [*before, "navy", "teal"]


def ev_html() -> type:
    import ipywidgets

    return ipywidgets.HTML


# ---------------------------------------------------------------- empty panels, URL forms


def test_empty_panels_open_with_a_grey_hint_not_a_red_error(sandbox: ev.Sandbox) -> None:
    try_on = TryOnPanel(sandbox.client())
    assert HINT_COLOR in try_on.status.value and ERROR_COLOR not in try_on.status.value
    assert "the person and the garment" in said(try_on)
    assert "/samples/... path of the sandbox" in said(try_on)
    assert "clothing[0]" not in said(try_on)
    assert try_on.try_on_button.disabled
    try_on.person_url.value = "/samples/people/person-a.jpg"
    assert "the garment" in said(try_on) and "person" not in said(try_on)
    assert HINT_COLOR in try_on.status.value

    products = ProductPanel(sandbox.client())
    assert HINT_COLOR in products.status.value and ERROR_COLOR not in products.status.value
    assert "one per line" in said(products) and "/samples/" in said(products)
    assert products.create_button.disabled


def test_url_errors_name_the_forms_a_panel_takes(sandbox: ev.Sandbox) -> None:
    panel = TryOnPanel(
        sandbox.client(), person_url="ftp://x/p.jpg", clothing=[("nope", "")]
    )
    assert ERROR_COLOR in panel.status.value
    assert "person_image_url" in said(panel), "the person first, as the form reads"
    assert "an http(s) URL or a /samples/... path of the sandbox" in said(panel)
    panel.person_url.value = "/samples/people/person-a.jpg"
    assert "clothing[0].url" in said(panel) and "/samples/..." in said(panel)

    products = ProductPanel(sandbox.client(), ["/samples/products/mug-blue.jpg", "javascript:1"])
    assert "image_urls[1]" in said(products)
    assert "/samples/... path of the sandbox" in said(products)


def test_a_panel_on_the_real_api_does_not_offer_sandbox_paths() -> None:
    client = ev.Client(token="t", base_url="https://api.example.com")
    panel = TryOnPanel(client, person_url="ftp://x/p.jpg", clothing=[("https://a.b/c.png", "")])
    assert "person_image_url" in said(panel) and "an http(s) URL" in said(panel)
    assert "/samples" not in said(panel)
    panel.close()
    client.close()


# ---------------------------------------------------------------- fresh output


def _order(panel: Any, *parts: Any) -> list[int]:
    """Where each part sits among the panel's children (a part inside a box: the box)."""
    children = list(panel.children)
    found = []
    for part in parts:
        found += [i for i, child in enumerate(children) if part in walk(child)][:1]
    return found


def test_the_status_line_sits_right_under_the_button(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    generate = GeneratePanel(sandbox.client(), product)
    try_on = TryOnPanel(sandbox.client())
    products = ProductPanel(sandbox.client())
    for panel, button, tail in (
        (generate, generate.generate_button, [generate.progress, generate.results]),
        (try_on, try_on.try_on_button, [try_on.progress, try_on.results]),
        (products, products.create_button, [products.sources, products.card]),
    ):
        at = _order(panel, button, panel.status, *tail)
        assert at == list(range(at[0], at[0] + len(at))), (type(panel).__name__, at)


async def test_a_new_run_dims_the_previous_results_at_once_then_replaces_them(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    panel.generate_button.click()
    await finish(panel)
    first = srcs(panel.results.value)
    assert len(first) == 1 and "previous run" not in panel.results.value

    panel.rows["main"].count.value = 2
    panel.generate_button.click()
    dimmed = panel.results.value  # before the loop ran anything of the new run
    assert "previous run" in dimmed and "opacity:.45" in dimmed
    assert srcs(dimmed) == first
    assert "previous run" in panel.snapshot_html()
    await finish(panel)
    assert "previous run" not in panel.results.value
    assert len(srcs(panel.results.value)) == 2


async def test_a_failed_run_drops_the_previous_results(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    panel.generate_button.click()
    await finish(panel)
    assert srcs(panel.results.value)
    panel.product = ev.Product(id="0123456789abcdef01234567")  # no such product: HTTP 404
    panel.generate_button.click()
    await finish(panel)
    assert "HTTP 404" in said(panel)
    results, history = panel.snapshot_html().split("<div class='ev-history'>")
    assert panel.results.value == "" and "data:image" not in results
    assert len(panel.history.rows) == 1 and "data:image" in history  # the first run is kept
    assert not panel.generate_button.disabled


async def test_a_failed_create_replaces_the_previous_product_card(sandbox: ev.Sandbox) -> None:
    panel = ProductPanel(sandbox.client(), ["/samples/products/mug-blue.jpg"])
    panel.create_button.click()
    await finish(panel)
    assert panel.product is not None and panel.product.id in panel.card.value

    panel.urls.value = "/samples/products/no-such-picture.jpg"
    panel.create_button.click()
    assert "previous product" in panel.card.value  # dimmed at once
    await finish(panel)
    assert "HTTP 400" in said(panel) and ERROR_COLOR in panel.status.value
    assert panel.card.value == "" and panel.product is None
    assert not panel.create_button.disabled


async def test_thumbnails_of_a_changed_url_list_are_marked_as_such(sandbox: ev.Sandbox) -> None:
    panel = ProductPanel(sandbox.client(), ["/samples/products/mug-blue.jpg"])
    panel.preview_button.click()
    await finish(panel)
    assert len(srcs(panel.sources.value)) == 1 and "before your changes" not in panel.sources.value
    panel.urls.value += "\n/samples/products/tshirt-red.jpg"
    assert "before your changes" in panel.sources.value
    panel.preview_button.click()
    await finish(panel)
    assert len(srcs(panel.sources.value)) == 2 and "before your changes" not in panel.sources.value


async def test_a_click_delivered_on_another_loop_runs_on_the_panels_own(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    # JupyterLab may deliver a click on a kernel subshell: another thread, another loop.
    panel = GeneratePanel(sandbox.client(), product)
    panel.generate_button.click()
    await finish(panel)  # the twin's connections now belong to this loop
    first, home = panel.task, asyncio.get_running_loop()

    def click_on_a_subshell() -> None:
        async def click() -> None:
            panel.generate_button.click()

        asyncio.run(click())

    await asyncio.to_thread(click_on_a_subshell)
    await async_wait_until(lambda: panel.task is not first, what="the second run to start")
    assert panel.task is not None and panel.task.get_loop() is home
    await finish(panel)
    assert "Done: 1 images." in said(panel), said(panel)


async def test_a_panel_closed_from_another_loop_closes_its_twin_on_its_own(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    twin = panel._aclient
    panel.generate_button.click()
    await finish(panel)

    async def close() -> None:
        panel.close()

    await asyncio.to_thread(asyncio.run, close())
    closing = await async_wait_until(lambda: panel.closing, what="the clean-up to start")
    await asyncio.wait_for(closing, 30)
    assert closing.get_loop() is asyncio.get_running_loop()
    assert twin._http.is_closed


# ---------------------------------------------------------------- result size and captions


def _captions(markup: str) -> list[str]:
    """The text under each picture (a tile's caption or a comparison's figcaption)."""
    found = re.findall(r'<figcaption>(.*?)</figcaption>|class="ev-c">(.*?)</summary>', markup)
    return [html.unescape(re.sub(r"<[^>]+>", " ", a or b)) for a, b in found]


def _longest_sides(markup: str) -> list[int]:
    """The longer side of each picture as drawn (its width and height attributes)."""
    sizes = re.findall(r'<img[^>]*\swidth="(\d+)" height="(\d+)"', markup)
    return [max(int(w), int(h)) for w, h in sizes]


async def test_results_take_the_chosen_size_and_captions_carry_type_and_ratio(
    sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = GeneratePanel(sandbox.client(), product)
    assert [label for label, _ in panel.size.options] == ["small", "medium", "large"]
    panel.rows["detail"].enabled.value = True
    panel.rows["detail"].aspect_ratio.value = "4:3"
    panel.generate_button.click()
    await finish(panel)
    assert _longest_sides(panel.results.value) == [160, 160]
    captions = _captions(panel.results.value)
    assert any("main" in c and "1:1" in c for c in captions), captions
    assert any("detail" in c and "4:3" in c for c in captions), captions

    panel.size.value = 384  # "large": the same results drawn again, larger
    await finish(panel)
    assert _longest_sides(panel.results.value) == [384, 384]


async def test_try_on_results_take_the_chosen_size_and_say_tryon_and_ratio(
    sandbox: ev.Sandbox,
) -> None:
    panel = TryOnPanel(
        sandbox.client(),
        person_url="/samples/people/person-a.jpg",
        clothing=[("/samples/garments/dress-green.png", "")],
    )
    assert panel.size.value == 256
    panel.try_on_button.click()
    await finish(panel)
    assert 'height="256"' in panel.results.value
    assert any("tryon" in c and "2:3" in c for c in _captions(panel.results.value))
    panel.size.value = 160
    await finish(panel)
    assert 'height="160"' in panel.results.value and 'height="256"' not in panel.results.value
