"""Run history: a panel's finished runs read back from the ledger, compared, and reloaded.

The data side (:mod:`ecomviz_nb.runs.history`) and the strip widget
(:mod:`ecomviz_nb.widgets.history`) against a real sandbox, driven from code; the last test
shows the strip in JupyterLab in headless Chromium (its fixtures come from
:mod:`test_browser`) and keeps screenshots under ``build/test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from support import ParsedHTML, assert_inert, widget_state
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
