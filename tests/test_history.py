"""Run history: a panel's finished runs read back from the ledger, compared, and reloaded.

The data side (:mod:`ecomviz_nb.runs.history`), the strip widget
(:mod:`ecomviz_nb.widgets.history`) and the strip in the generate and try-on panels, against
a real sandbox, driven from code; the last test
shows the strip in JupyterLab in headless Chromium (its fixtures come from
:mod:`test_browser`) and keeps screenshots under ``build/test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from support import (
    ParsedHTML,
    assert_inert,
    sandbox_jobs,
    set_faults,
    wait_until,
    widget_state,
)
from test_browser import (  # noqa: F401  (lab, browser and session are fixtures)
    Session,
    browser,
    lab,
    poll,
    sandbox_cell,
    session,
)
from test_browser_theme import BODY_RATIO, measure, use_theme

import ecomviz_nb as ev
from ecomviz_nb import config
from ecomviz_nb.local import SANDBOX_TOKEN
from ecomviz_nb.runs.history import RunComparison, RunHistory, change_text, compare, differs
from ecomviz_nb.widgets import GeneratePanel, TryOnPanel
from ecomviz_nb.widgets.history import HistoryStrip

HOSTILE = "<img src=x onerror=alert(1)>"
RATIOS = ("1:1", "4:3", "16:9")


def sample(sandbox: ev.Sandbox, name: str) -> str:
    return f"{sandbox.url}/samples/{name}"


def request(ratio: str, **options: Any) -> ev.GenerateRequest:
    return ev.GenerateRequest([ev.ImageSpec("main", count=2, aspect_ratio=ratio)], **options)


def files(images: list[Any]) -> list[str]:
    return [img.file_path for img in images]


def header_cells(markup: str) -> list[list[str]]:
    """The text of each body row's header cells in a matrix."""
    rows = re.findall(r"<tr>(.*?)</tr>", markup.split("<tbody>", 1)[1])
    return [re.findall(r"<th>(.*?)</th>", row) for row in rows]


@pytest.fixture
def runs(sandbox: ev.Sandbox) -> tuple[ev.Client, ev.Product, list[Any]]:
    """A client, a product, and three finished generate jobs on it: ratios 1:1, 4:3, 16:9."""
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
    jobs = []
    for ratio in RATIOS:
        job = client.generate(product.id, request(ratio))
        job.wait(timeout=60)
        jobs.append(job)
    return client, product, jobs


# ---------------------------------------------------------------- the data side


def test_generate_history_lists_finished_runs_newest_first_with_their_own_images(
    runs: tuple[ev.Client, ev.Product, list[Any]],
) -> None:
    client, product, jobs = runs
    found = RunHistory.for_product(client, product.id).runs()

    assert [run.job_id for run in found] == [job.id for job in reversed(jobs)]
    assert [run.params["main ratio"] for run in found] == list(reversed(RATIOS))
    for run, job in zip(found, reversed(jobs), strict=True):
        assert run.kind == "generate" and run.state == "completed" and run.error is None
        assert run.params["main count"] == 2 and run.params["detail count"] is None
        assert run.params["platform"] == "general" and run.params["vto colours"] is None
        assert files(run.images) == files(job.images)  # each run's own, none of the others'
        assert run.request == job.request
    assert RunHistory.for_product(client, "other-product").runs() == []


def test_differs_names_the_changed_ratio_and_the_strip_text_says_from_what(
    runs: tuple[ev.Client, ev.Product, list[Any]],
) -> None:
    client, product, _ = runs
    newest, middle, oldest = RunHistory.for_product(client, product.id).runs()

    assert differs(newest, middle) == {"main ratio": "16:9"}
    assert differs(middle, oldest) == {"main ratio": "4:3"}
    assert differs(oldest, None) == {}
    assert change_text(newest, middle) == "main ratio 4:3 → 16:9"
    assert (
        change_text(oldest, None) == "first run · main 2 x 1:1 · platform general · region global"
    )
    assert change_text(oldest, oldest) == "same settings as the run before"


def test_a_type_switched_on_reads_as_one_change(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
    client.generate(product.id, request("1:1")).wait(timeout=60)
    both = [ev.ImageSpec("main", count=2), ev.ImageSpec("detail", count=1, aspect_ratio="4:3")]
    client.generate(product.id, ev.GenerateRequest(both, platform="amazon")).wait(timeout=60)
    newest, oldest = RunHistory.for_product(client, product.id).runs()

    assert differs(newest, oldest) == {
        "detail count": 1,
        "detail ratio": "4:3",
        "platform": "amazon",
    }
    assert change_text(newest, oldest) == "detail off → 1 x 4:3 · platform general → amazon"
    assert [len(run.images) for run in (newest, oldest)] == [3, 2]


def test_compare_puts_two_runs_in_the_sweep_matrix_with_their_ratios_as_row_headers(
    runs: tuple[ev.Client, ev.Product, list[Any]],
) -> None:
    client, product, _ = runs
    newest, _middle, oldest = RunHistory.for_product(client, product.id).runs()
    comparison = compare([newest, oldest])

    assert isinstance(comparison, RunComparison) and comparison.kind == "generate"
    assert comparison.axes == ["time", "main ratio"]
    assert [row["main ratio"] for row in comparison.rows()] == ["16:9", "1:1"]
    markup = comparison.matrix_html(height=64)
    assert [cells[1] for cells in header_cells(markup)] == ["16:9", "1:1"]
    parsed = assert_inert(markup)
    assert len(parsed.srcs) == 4 and all(
        s.startswith("data:image/jpeg;base64,") for s in parsed.srcs
    )
    assert "Generate runs compared" in markup and "2 runs · 2 completed · 4 images" in markup
    with pytest.raises(ev.ValidationError, match="at least two runs"):
        compare([newest])


def test_a_new_process_with_the_same_home_lists_the_same_runs(
    runs: tuple[ev.Client, ev.Product, list[Any]], sandbox: ev.Sandbox
) -> None:
    client, product, _ = runs
    here = [
        [run.job_id, run.params["main ratio"], files(run.images)]
        for run in RunHistory.for_product(client, product.id).runs()
    ]
    code = """
        import json, sys
        import ecomviz_nb as ev
        from ecomviz_nb.runs.history import RunHistory
        with ev.Client(sys.argv[1], base_url=sys.argv[2]) as client:
            found = RunHistory.for_product(client, sys.argv[3]).runs()
            print(json.dumps([[r.job_id, r.params["main ratio"], [i.file_path for i in r.images]]
                              for r in found]))
    """
    token = SANDBOX_TOKEN
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), token, sandbox.url, product.id],
        env={**os.environ, config.ENV_HOME: str(client.ledger.path.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == here
    assert len(here) == 3


def test_runs_still_followed_are_not_in_the_history(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
    finished = client.generate(product.id, request("1:1"))
    finished.wait(timeout=60)
    client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("detail", count=1)]))

    found = RunHistory.for_product(client, product.id).runs()
    assert [run.job_id for run in found] == [finished.id]


def test_a_failed_run_keeps_its_reason(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
    job = client.generate(product.id, request("1:1"))
    job.give_up("waited too long")

    (run,) = RunHistory.for_product(client, product.id).runs()
    assert run.state == "failed" and run.error == "waited too long"


async def test_an_async_client_reads_the_same_history(
    runs: tuple[ev.Client, ev.Product, list[Any]], sandbox: ev.Sandbox
) -> None:
    client, product, _ = runs
    expected = [files(run.images) for run in RunHistory.for_product(client, product.id).runs()]
    async with ev.AsyncClient(SANDBOX_TOKEN, base_url=sandbox.url) as aclient:
        history = RunHistory.for_product(aclient, product.id)
        assert [files(run.images) for run in await history.runs_async()] == expected
        with pytest.raises(TypeError, match="runs_async"):
            history.runs()


def test_bad_arguments_name_the_field_the_value_and_what_is_allowed(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    with pytest.raises(ev.ValidationError, match=r"kind.*'generate' or 'tryon'"):
        RunHistory(client, kind="sweep")
    with pytest.raises(ev.ValidationError, match="product_id"):
        RunHistory(client, kind="generate")
    with pytest.raises(ev.ValidationError, match=r"limit.*whole number >= 1"):
        RunHistory.for_product(client, "p1", limit=0)


# ---------------------------------------------------------------- try-on


def test_try_on_history_keeps_person_garments_and_body_as_the_form_holds_them(
    sandbox: ev.Sandbox,
) -> None:
    client = sandbox.client()
    garment = sample(sandbox, "garments/jacket-navy.png")
    person = sample(sandbox, "people/person-a.jpg")
    job = client.try_on(
        ev.TryOnRequest(person, [ev.Clothing(garment, "navy")], height=170, aspect_ratio="3:2")
    )
    result = job.wait(timeout=60)

    (run,) = RunHistory.for_try_on(client).runs()
    assert run.kind == "tryon" and run.state == "completed" and run.remote_id == job.vto_id
    assert run.params == {
        "person": "/samples/people/person-a.jpg",
        "garments": [("/samples/garments/jacket-navy.png", "navy")],
        "height": 170,
        "weight": None,
        "ratio": "3:2",
        "watermark": True,
    }
    assert files(run.images) == files(result.images) and run.images
    text = change_text(run, None)
    assert text == (
        "first run · person person-a.jpg · garments jacket-navy.png (navy) · ratio 3:2"
        " · height 170 cm"
    )
    assert sandbox.url not in text
    assert RunHistory.for_try_on(client, person_url="/samples/people/person-a.jpg").runs()
    assert RunHistory.for_try_on(client, person_url="/samples/people/person-b.jpg").runs() == []

    strip = HistoryStrip(RunHistory.for_try_on(client))
    strip.refresh()
    assert strip.title.value.count("1 run,") == 1
    assert "person-a.jpg" in strip.rows[0].info.value


# ---------------------------------------------------------------- the strip


def test_strip_compares_ticked_runs_and_hands_a_run_to_the_load_callback(
    runs: tuple[ev.Client, ev.Product, list[Any]], sandbox: ev.Sandbox
) -> None:
    client, product, _ = runs
    strip = HistoryStrip(RunHistory.for_product(client, product.id), thumbnails=1)
    strip.refresh()
    assert len(strip.rows) == 3
    newest, middle, oldest = strip.rows
    assert "main ratio 4:3 → 16:9" in newest.info.value
    assert "first run" in oldest.info.value
    thumbs = ParsedHTML(newest.thumbs.value)
    assert len(thumbs.srcs) == 1 and thumbs.srcs[0].startswith("data:image/jpeg;base64,")
    assert "+1" in newest.thumbs.value  # the second picture is counted, not shown

    assert strip.compare_button.disabled
    newest.tick.value = True
    assert strip.compare_button.disabled and "one more" in strip.message.value
    oldest.tick.value = True
    assert not strip.compare_button.disabled
    strip.compare_button.click()
    assert strip.comparison is not None
    assert [cells[1] for cells in header_cells(strip.matrix.value)] == ["16:9", "1:1"]
    assert len(ParsedHTML(strip.matrix.value).srcs) == 4

    middle.load_button.click()
    assert "Nothing to load" in strip.message.value  # no panel registered yet
    loaded: list[dict[str, Any]] = []
    strip.on_load(lambda run: loaded.append(run.params))
    middle.load_button.click()
    assert [p["main ratio"] for p in loaded] == ["4:3"] and loaded[0]["main count"] == 2
    assert "Loaded the settings" in strip.message.value
    saved = widget_state(strip)  # what a notebook keeps: no server address, no token
    assert sandbox.url not in saved and SANDBOX_TOKEN not in saved


def test_strip_add_puts_a_finished_job_on_top_and_keeps_the_ticks(
    runs: tuple[ev.Client, ev.Product, list[Any]],
) -> None:
    client, product, _ = runs
    strip = HistoryStrip(RunHistory.for_product(client, product.id))
    strip.refresh()
    strip.rows[1].tick.value = True
    before = [r.job_id for r in strip.runs]
    job = client.generate(product.id, request("9:16", platform="amazon"))
    job.wait(timeout=60)

    run = strip.add(job)
    assert [r.job_id for r in strip.runs] == [job.id, *before]
    assert [r.job_id for r in strip.ticked] == [before[1]]
    assert files(run.images) == files(job.images)
    assert "main ratio 16:9 → 9:16 · platform general → amazon" in strip.rows[0].info.value
    strip.refresh()  # the ledger says the same
    assert [r.job_id for r in strip.runs] == [job.id, *before]
    assert [r.job_id for r in strip.ticked] == [before[1]]


def test_hostile_strings_from_the_ledger_and_the_server_stay_text(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
    client.generate(product.id, request("1:1")).wait(timeout=60)
    job = client.generate(product.id, request("4:3", platform=HOSTILE, language=HOSTILE))
    job.wait(timeout=60)
    client.ledger.update(job.id, state="failed", message=HOSTILE)  # a server's failure text
    tryon = client.try_on(
        ev.TryOnRequest(
            sample(sandbox, "people/person-a.jpg"),
            [ev.Clothing(sample(sandbox, "garments/jacket-navy.png"), HOSTILE)],
        )
    )
    tryon.wait(timeout=60)

    strip = HistoryStrip(RunHistory.for_product(client, product.id))
    strip.refresh()
    for row in strip.rows:
        row.tick.value = True
    strip.compare()
    markup = strip.snapshot_html()
    assert HOSTILE not in markup and "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert_inert(markup)
    tryons = HistoryStrip(RunHistory.for_try_on(client))
    tryons.refresh()
    assert HOSTILE not in tryons.snapshot_html()
    assert_inert(tryons.snapshot_html())


# ---------------------------------------------------------------- in the panels


async def finish(panel: Any) -> None:
    """Wait for the panel's history to be read, then for its run (if one was started)."""
    if panel.history_loading is not None:
        await asyncio.wait_for(panel.history_loading, 60)
    if panel.task is not None:
        await asyncio.wait_for(panel.task, 60)


def row_text(strip: HistoryStrip) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", " ", row.info.value)) for row in strip.rows]


async def test_generate_panel_keeps_each_run_and_compares_two(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
    panel = GeneratePanel(client, product)
    assert panel.children[-1] is panel.history  # after the results
    await finish(panel)
    assert panel.history.rows == [] and "No finished runs yet" in panel.history.message.value

    panel.generate_button.click()
    await finish(panel)
    panel.rows["main"].aspect_ratio.value = "16:9"
    panel.generate_button.click()
    await finish(panel)

    strip = panel.history
    assert [run.job_id for run in strip.runs] == [panel.job.id, strip.runs[1].job_id]
    newest, oldest = row_text(strip)
    assert "main ratio 1:1 → 16:9" in newest and "first run" in oldest
    assert all(len(run.images) == 1 for run in strip.runs)
    for row in strip.rows:
        row.tick.value = True
    strip.compare_button.click()
    assert [cells[1] for cells in header_cells(strip.matrix.value)] == ["16:9", "1:1"]
    snapshot = panel.snapshot_html()
    assert "main ratio 1:1 → 16:9" in snapshot and "ev-matrix" in snapshot
    assert sandbox.url not in widget_state(panel) and sandbox.url not in snapshot


async def test_load_these_settings_fills_the_generate_form_and_sends_nothing(
    sandbox: ev.Sandbox,
) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
    specs = [
        ev.ImageSpec("main", count=3, aspect_ratio="3:4"),
        ev.ImageSpec("facebook", count=2, aspect_ratio="16:9"),
        ev.ImageSpec("vto", colors=["navy", "white"]),
    ]
    options = {"region": "eu", "platform": "amazon", "language": "de", "change_portrait": True}
    client.generate(product.id, ev.GenerateRequest(specs, **options)).wait(timeout=60)
    panel = GeneratePanel(client, product)
    await finish(panel)
    panel.rows["detail"].enabled.value = True
    panel.platform.value = "etsy"
    panel.webhook_url.value = "https://hooks.example.com/ev"
    jobs = len(sandbox_jobs(sandbox, target=product.id))

    panel.history.rows[0].load_button.click()

    rows = panel.rows
    assert (rows["main"].enabled.value, rows["main"].count.value) == (True, 3)
    assert rows["main"].aspect_ratio.value == "3:4"
    assert not rows["detail"].enabled.value and rows["detail"].count.disabled
    assert (rows["facebook"].count.value, rows["facebook"].aspect_ratio.value) == (2, "16:9")
    assert panel.vto_enabled.value and list(panel.vto_colors.value) == ["navy", "white"]
    options_shown = [panel.region.value, panel.platform.value, panel.language.value]
    assert options_shown == ["eu", "amazon", "de"]
    assert panel.change_portrait.value and not panel.remove_brand_logo.value
    assert panel.webhook_url.value == "https://hooks.example.com/ev"  # not a parameter
    assert "7 images will be generated." in panel.status.value
    assert not panel.generate_button.disabled
    assert "Loaded the settings" in panel.history.message.value
    assert len(sandbox_jobs(sandbox, target=product.id)) == jobs  # nothing was sent
    assert panel.task is None


async def test_a_ratio_the_list_lacks_is_added_when_a_run_is_loaded(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sample(sandbox, "products/tshirt-red.jpg")])
    with pytest.warns(ev.EcomVizWarning, match="2:1"):  # sent from code, as given
        request = ev.GenerateRequest([ev.ImageSpec("main", count=1, aspect_ratio="2:1")])
        client.generate(product.id, request).wait(timeout=60)
    panel = GeneratePanel(client, product)
    await finish(panel)
    ratio = panel.rows["main"].aspect_ratio
    assert "2:1" not in ratio.options

    with pytest.warns(ev.EcomVizWarning, match="2:1"):  # the request is rebuilt, and warns
        panel.history.rows[0].load_button.click()
    assert ratio.value == "2:1" and ratio.options[-1] == "2:1"
    assert panel.request is not None and panel.request.image_types[0].aspect_ratio == "2:1"


def test_a_new_panel_reads_the_runs_a_former_kernel_made(sandbox: ev.Sandbox) -> None:
    # A sync caller (no running loop): the history is read before the panel is returned.
    with sandbox.client() as first:
        product = first.create_product([sample(sandbox, "products/tshirt-red.jpg")])
        for ratio in RATIOS:
            first.generate(product.id, request(ratio)).wait(timeout=60)
    with sandbox.client() as client:  # a new client on the same ECOMVIZ_HOME
        panel = GeneratePanel(client, product.id)
        assert panel.history_loading is None
        assert [run.params["main ratio"] for run in panel.history.runs] == ["16:9", "4:3", "1:1"]
        assert all(row.thumbs.value.count("<img") == 2 for row in panel.history.rows)
        panel.close()


async def test_a_run_that_ends_while_the_history_is_read_is_not_lost(
    runs: tuple[ev.Client, ev.Product, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, product, jobs = runs
    make_thumbs = HistoryStrip._make_thumbs
    held: list[int] = []

    def slow_first_reading(strip: HistoryStrip, found: Any) -> dict[str, str]:
        if not held:  # the first reading's thumbnails: ready once the new run is on top
            held.append(len(found))
            wait_until(lambda: panel.job and panel.job.id in [r.job_id for r in strip.runs], 60)
        return make_thumbs(strip, found)

    monkeypatch.setattr(HistoryStrip, "_make_thumbs", slow_first_reading)
    panel = GeneratePanel(client, product)
    panel.generate_button.click()  # before the history was read
    await finish(panel)
    assert held == [3]
    assert [run.job_id for run in panel.history.runs] == [
        panel.job.id,
        *(job.id for job in reversed(jobs)),
    ]


async def test_closing_a_panel_stops_the_reading_of_its_history(
    runs: tuple[ev.Client, ev.Product, list[Any]],
) -> None:
    client, product, _ = runs
    panel = GeneratePanel(client, product)
    loading = panel.history_loading
    assert loading is not None and not loading.done()
    panel.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(loading, 30)
    assert panel.closing is not None
    await asyncio.wait_for(panel.closing, 30)
    assert panel.history.rows == []  # nothing was drawn into the closed panel


async def test_try_on_panel_keeps_each_try_on_and_loads_one_back(sandbox: ev.Sandbox) -> None:
    panel = TryOnPanel(
        sandbox.client(),
        person_url="/samples/people/person-a.jpg",
        clothing=[("/samples/garments/jacket-navy.png", "navy")],
    )
    panel.use_height.value = True
    panel.height.value = 182
    panel.try_on_button.click()
    await finish(panel)
    panel.person_url.value = "/samples/people/person-b.jpg"
    panel.add_clothing("/samples/garments/dress-green.png", "")
    panel.use_height.value = False
    panel.aspect_ratio.value = "1:1"
    panel.watermark.value = False
    panel.try_on_button.click()
    await finish(panel)

    newest, oldest = row_text(panel.history)
    assert "person person-a.jpg → person-b.jpg" in newest and "ratio 2:3 → 1:1" in newest
    assert "first run" in oldest and "height 182 cm" in oldest
    panel.history.rows[1].load_button.click()

    assert panel.person_url.value == "/samples/people/person-a.jpg"
    assert [(r.url.value, r.info.value) for r in panel.clothing_rows] == [
        ("/samples/garments/jacket-navy.png", "navy")
    ]
    assert panel.use_height.value and panel.height.value == 182 and not panel.height.disabled
    assert not panel.use_weight.value and panel.weight.disabled
    assert panel.aspect_ratio.value == "2:3" and panel.watermark.value
    assert panel.request is not None and panel.request.height == 182
    assert sandbox.url not in widget_state(panel)

    other = TryOnPanel(sandbox.client())  # every try-on of the server, whatever the person
    await finish(other)
    assert [run.job_id for run in other.history.runs] == [r.job_id for r in panel.history.runs]


async def test_a_failed_try_on_is_kept_and_a_height_the_form_cannot_hold_is_named(
    fresh_sandbox: ev.Sandbox,
) -> None:
    set_faults(fresh_sandbox, fail_job_rate=1.0)
    panel = TryOnPanel(
        fresh_sandbox.client(),
        person_url="/samples/people/person-a.jpg",
        clothing=[("/samples/garments/jacket-navy.png", "")],
    )
    panel.try_on_button.click()
    await finish(panel)
    assert "failed" in panel.status.value
    (run,) = panel.history.runs
    assert run.state == "failed" and "failed" in row_text(panel.history)[0]

    set_faults(fresh_sandbox, fail_job_rate=0.0)
    client = fresh_sandbox.client()
    person = f"{fresh_sandbox.url}/samples/people/person-b.jpg"
    garment = ev.Clothing(f"{fresh_sandbox.url}/samples/garments/dress-green.png")
    client.try_on(ev.TryOnRequest(person, [garment], height=170.5)).wait(timeout=60)
    await panel.history.refresh_async()
    panel.history.rows[0].load_button.click()
    message = html.unescape(panel.history.message.value)
    assert "height" in message and "170.5" in message and "whole number" in message
    assert panel.person_url.value == "/samples/people/person-a.jpg"  # nothing changed


# ---------------------------------------------------------------- in the browser


def strip_state(strip: Any) -> dict[str, Any]:
    """The strip as drawn: rows, loaded pictures, matrix rows, cut labels, overflow."""
    state: dict[str, Any] = strip.evaluate(
        """el => {
            const imgs = [...el.querySelectorAll('img')];
            const cut = [...el.querySelectorAll('button, .widget-checkbox label, .ev-matrix th')]
                .filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.textContent);
            return {
                rows: el.querySelectorAll('.widget-checkbox').length,
                images: imgs.length,
                loaded: imgs.every(i => i.complete && i.naturalWidth > 0),
                matrix_rows: el.querySelectorAll('.ev-matrix tbody tr').length,
                cut: cut,
                wider: el.scrollWidth > el.clientWidth + 1,
            };
        }"""
    )
    return state


def test_strip_in_the_browser_shows_two_runs_side_by_side(
    session: Session,  # noqa: F811  (the fixture imported above)
) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 2000})
    runs = (
        "for ratio in ('1:1', '16:9'):\n"
        "    client.generate(product.id, ev.GenerateRequest("
        "[ev.ImageSpec('main', count=2, aspect_ratio=ratio)])).wait(timeout=60)"
    )
    session.run_notebook(
        [
            sandbox_cell(runs, "panel = ev.GeneratePanel(client, product)", "panel"),
            "from ecomviz_nb.runs.history import RunHistory\n"
            "from ecomviz_nb.widgets.history import HistoryStrip\n"
            "strip = HistoryStrip(RunHistory.for_product(client, product.id))\n"
            "loaded = []\n"
            "strip.on_load(lambda run: loaded.append(run.params['main ratio']))\n"
            "strip.refresh()\n"
            "strip",
        ]
    )
    session.screenshot(session.panel(), "panel")  # what a panel shows of past runs
    strip = session.output(1).locator(".ev-history").first
    poll(
        session.page,
        "two rows of loaded thumbnails",
        lambda: (
            strip_state(strip)["loaded"]
            and strip_state(strip)["images"] == 4
            and strip_state(strip)["rows"] == 2
        ),
    )
    text = strip.inner_text()
    assert "main ratio 1:1 → 16:9" in text and "first run" in text
    session.screenshot(strip, "strip")

    for box in strip.locator("input[type=checkbox]").all():
        box.check()
    strip.locator("button", has_text="Compare ticked").click()

    def compared() -> dict[str, Any] | None:
        state = strip_state(strip)
        return (
            state
            if state["matrix_rows"] == 2 and state["loaded"] and state["images"] == 8
            else None
        )

    state = poll(session.page, "the matrix with two rows of loaded pictures", compared)
    assert not state["cut"], f"labels cut off: {state['cut']}"
    assert not state["wider"], "the strip is wider than its output area"
    headers = strip.locator(".ev-matrix tbody th").all_inner_texts()
    assert "16:9" in headers and "1:1" in headers, headers
    strip.locator("button", has_text="load these settings").last.click()
    poll(session.page, "the load message", lambda: "Loaded the settings" in strip.inner_text())
    session.screenshot(strip, "compared-light")

    for theme in ("light", "dark"):
        if theme == "dark":
            use_theme(session, "JupyterLab Dark")
            session.screenshot(strip, "compared-dark")
        found = measure(strip)
        assert found, f"{theme}: no text measured in the strip"
        low = [e for e in found if not e["large"] and e["ratio"] < BODY_RATIO]
        assert not low, f"{theme}: text below {BODY_RATIO}:1: {low}"
    session.assert_only_loopback_traffic()
