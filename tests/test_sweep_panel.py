"""``ev.SweepPanel`` driven from code against a real sandbox: pick values, click Run, await."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import ecomviz_nb as ev

HOSTILE = "<img src=x onerror=alert(1)>"
TOKEN = "sk-sweep-never-stored-7"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ev.Sandbox]:
    """A sandbox of this module's own, whose jobs take a moment (so a run can be caught)."""
    with ev.Sandbox(port=0, job_seconds=0.3) as sb:
        yield sb


@pytest.fixture
def client(sandbox: ev.Sandbox) -> ev.Client:
    return sandbox.client(token=TOKEN)


@pytest.fixture
def product(client: ev.Client, sandbox: ev.Sandbox) -> ev.Product:
    """A fresh product per test, so its images and jobs are the test's alone."""
    return client.create_product([f"{sandbox.url}/samples/products/tshirt-red.jpg"])


async def finish(panel: ev.SweepPanel) -> None:
    assert panel.task is not None, panel.plan_line.value
    await asyncio.wait_for(panel.task, 60)


def rows(markup: str) -> int:
    body = re.search(r"<tbody>(.*)</tbody>", markup, re.S)
    assert body, markup[:300]
    return body.group(1).count("<tr>")


def srcs(markup: str) -> list[str]:
    return re.findall(r"<img[^>]*\ssrc=['\"]([^'\"]+)['\"]", markup)


def walk(widget: Any) -> list[Any]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(walk(child))
    return found


def widget_state(panel: ev.SweepPanel) -> str:
    return json.dumps([w.get_state() for w in walk(panel)], default=str)


def generate_jobs(client: ev.Client, product: ev.Product) -> int:
    """Generate POSTs the client made for ``product`` (each is recorded in the job ledger)."""
    records = client.ledger.list(base_url=client.base_url, limit=None)
    return sum(r.kind == "generate" and r.remote_id == product.id for r in records)


def test_plan_line_follows_the_axes_and_sends_nothing(
    client: ev.Client, product: ev.Product
) -> None:
    panel = ev.SweepPanel(client, product)
    assert "4 runs · 4 images · 2 rounds" in panel.plan_line.value  # the defaults
    panel.axes["platform"].value = ("amazon", "shopee", "general")
    panel.axes["aspect_ratio"].value = ("1:1", "4:3", "16:9", "9:16")
    assert "12 runs · 12 images · 4 rounds" in panel.plan_line.value
    assert "platform x aspect_ratio" in panel.plan_line.value
    panel.count.value = 2
    assert "12 runs · 24 images · 4 rounds" in panel.plan_line.value
    panel.axes["region"].value = ("us", "eu")  # other regions never mix: no more rounds
    assert "24 runs · 48 images · 4 rounds" in panel.plan_line.value
    # A button click changes the picked values like code does, in the order offered.
    panel.axes["language"].buttons[2].value = True
    assert panel.axes["language"].value == ("org_text", "zh")
    assert "48 runs · 96 images" in panel.plan_line.value
    assert panel.plan is not None and panel.plan.run_count == 48
    assert not panel.run_button.disabled
    assert generate_jobs(client, product) == 0


def test_a_refused_value_or_an_empty_axis_names_the_field_and_turns_run_off(
    client: ev.Client, product: ev.Product
) -> None:
    panel = ev.SweepPanel(client, product)
    panel.axes["aspect_ratio"].value = ("1:1", HOSTILE)
    assert panel.run_button.disabled
    assert "aspect_ratio" in panel.plan_line.value
    assert HOSTILE not in panel.plan_line.value
    assert html.escape(HOSTILE) in panel.plan_line.value
    panel.run_button.click()  # a click on a disabled button must not send anything
    assert panel.task is None

    panel.axes["aspect_ratio"].value = ("1:1",)
    assert not panel.run_button.disabled
    panel.axes["platform"].value = ()
    assert panel.run_button.disabled
    assert "platform: pick at least one value" in panel.plan_line.value
    panel.axes["platform"].value = ("amazon",)
    assert "1 run · 1 image · 1 round" in panel.plan_line.value
    assert not panel.run_button.disabled

    panel.axes["aspect_ratio"].value = ("1:1", "5:4")  # allowed, with a warning shown
    assert "2 runs" in panel.plan_line.value
    assert "not one of the recommended ratios" in panel.plan_line.value
    assert generate_jobs(client, product) == 0


async def test_run_fills_a_matrix_row_per_combination_and_ignores_a_second_click(
    client: ev.Client, sandbox: ev.Sandbox, product: ev.Product
) -> None:
    panel = ev.SweepPanel(client, product, sources=["/samples/products/tshirt-red.jpg"])
    panel.axes["platform"].value = ("amazon", "shopee")
    panel.axes["aspect_ratio"].value = ("1:1", "4:3")
    assert "4 runs · 4 images · 2 rounds" in panel.plan_line.value
    drawn: list[str] = []
    panel.matrix.observe(lambda change: drawn.append(change["new"]), names="value")

    panel.run_button.click()
    first = panel.task
    assert panel.run_button.disabled
    panel.run_button.click()  # while it runs: ignored
    panel.start()
    assert panel.task is first
    await finish(panel)

    result = panel.result
    assert isinstance(result, ev.SweepResult)
    assert result.summary()["completed"] == 4
    assert generate_jobs(client, product) == 4  # one POST per combination, no second sweep
    assert len(client.get_product(product.id).generated_images) == 4
    assert rows(panel.matrix.value) == 4
    images = srcs(panel.matrix.value)
    assert len(images) == 5  # the source, then one image per run
    assert all(src.startswith("data:image/") for src in images)
    assert "4 of 4 runs completed" in panel.status.value
    assert panel.progress.bar.value == panel.progress.bar.max == 4
    assert panel.progress.bar.bar_style == "success"
    assert not panel.run_button.disabled
    # Redrawn as runs finished, at most once per finished run (the last one by the result).
    assert 1 <= len(drawn) <= 4
    assert drawn[-1] == panel.matrix.value
    assert "data:image/" in panel.snapshot_html()
    assert rows(panel.snapshot_html()) == 4
    # The status line sits right under the Run button.
    children = list(panel.children)
    assert children.index(panel.status) == children.index(panel.run_button) + 1
    state = widget_state(panel)
    assert TOKEN not in state
    assert sandbox.url not in state


async def test_a_new_run_dims_the_previous_matrix_until_its_first_result(
    client: ev.Client, product: ev.Product
) -> None:
    panel = ev.SweepPanel(client, product)
    panel.axes["aspect_ratio"].value = ("1:1",)  # two runs: general, amazon
    panel.run_button.click()
    await finish(panel)
    assert "previous run" not in panel.matrix.value
    panel.axes["platform"].value = ("tiktok", "lazada")
    panel.run_button.click()
    assert "previous run" in panel.matrix.value
    assert "opacity" in panel.matrix.value
    await finish(panel)
    assert "previous run" not in panel.matrix.value
    assert "tiktok" in panel.matrix.value and "amazon" not in panel.matrix.value
    assert rows(panel.matrix.value) == 2


async def test_failed_runs_are_listed_in_the_status_line(client: ev.Client) -> None:
    panel = ev.SweepPanel(client, "0123456789abcdef01234567")  # no such product
    panel.run_button.click()
    await finish(panel)
    assert panel.result is not None and len(panel.result.failed) == 4
    assert "0 of 4 runs completed" in panel.status.value
    assert "4 failed" in panel.status.value
    assert "HTTP 404" in panel.status.value
    assert "platform=amazon · aspect_ratio=4:3" in panel.status.value
    assert panel.progress.bar.bar_style == "danger"
    assert "Traceback" not in panel.status.value


async def test_try_on_mode_sweeps_height_and_ratio(client: ev.Client, sandbox: ev.Sandbox) -> None:
    base = ev.TryOnRequest(
        f"{sandbox.url}/samples/people/person-a.jpg",
        [ev.Clothing(f"{sandbox.url}/samples/garments/dress-green.png", HOSTILE)],
    )
    panel = ev.SweepPanel(client, try_on=base)
    assert panel.axes["height"].value == (160, 180)
    assert "2 runs · 2 images" in panel.plan_line.value
    panel.axes["aspect_ratio"].value = ("2:3", "1:1")
    assert "4 runs · 4 images" in panel.plan_line.value
    assert "height x aspect_ratio" in panel.plan_line.value
    panel.axes["weight"].value = ()
    assert panel.run_button.disabled and "weight" in panel.plan_line.value
    panel.axes["weight"].value = (None,)  # "not set": the field is left out
    assert not panel.run_button.disabled

    panel.run_button.click()
    await finish(panel)
    assert panel.result is not None and panel.result.kind == "tryon"
    assert "4 of 4 runs completed" in panel.status.value
    assert rows(panel.matrix.value) == 4
    images = srcs(panel.matrix.value)
    assert len(images) == 6  # person, garment, then one try-on per run
    assert all(src.startswith("data:image/") for src in images)
    heights = sorted(run.request.height for run in panel.result.runs)  # type: ignore[union-attr]
    assert heights == [160, 160, 180, 180]
    markup = "".join(w.value for w in walk(panel) if isinstance(getattr(w, "value", None), str))
    assert HOSTILE not in markup
    assert sandbox.url not in widget_state(panel)


def test_a_panel_takes_a_product_or_a_try_on() -> None:
    with pytest.raises(TypeError):
        ev.SweepPanel(ev.Client("t", base_url="http://127.0.0.1:9"))
