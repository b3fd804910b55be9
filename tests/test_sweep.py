"""Sweeps: plans validated before sending, runs that keep their own images, failures that stay
local, the comparison matrix, reruns and reports. Against a real sandbox unless stated."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from itertools import combinations
from typing import Any

import httpx
import pytest
from PIL import Image
from support import assert_inert, sandbox_jobs, set_faults

import ecomviz_nb as ev
from ecomviz_nb.attribution import RunKey
from ecomviz_nb.display import aspect_label
from ecomviz_nb.runs.plan import plan_generate, plan_try_on, waves

BASE = ev.GenerateRequest([ev.ImageSpec("main", count=1, aspect_ratio="1:1")])
SHIRT = "/samples/products/tshirt-red.jpg"


def measured_ratio(image: ev.GeneratedImage) -> str:
    data = httpx.get(image.url, timeout=10).content
    with Image.open(io.BytesIO(data)) as picture:
        return aspect_label(*picture.size)


@pytest.fixture
def paced() -> Any:
    """A sandbox of the test's own whose jobs take a little while, so runs overlap in time."""
    with ev.Sandbox(port=0, job_seconds=0.4) as sb:
        yield sb


# ---------------------------------------------------------------- plans (no network)


def test_plan_has_every_combination_with_only_the_varied_values_as_params() -> None:
    runs = plan_generate(BASE, {"platform": ["amazon", "shopee"], "aspect_ratio": ["1:1", "4:3"]})
    assert [r.params for r in runs] == [
        {"platform": "amazon", "aspect_ratio": "1:1"},
        {"platform": "amazon", "aspect_ratio": "4:3"},
        {"platform": "shopee", "aspect_ratio": "1:1"},
        {"platform": "shopee", "aspect_ratio": "4:3"},
    ]
    second = runs[1].request
    assert isinstance(second, ev.GenerateRequest)
    assert second.platform == "amazon"
    assert second.image_types[0].aspect_ratio == "4:3"
    assert second.region == BASE.region


def test_plan_applies_the_ratio_to_every_non_vto_entry_only() -> None:
    base = ev.GenerateRequest(
        [ev.ImageSpec("main", count=2), ev.ImageSpec("vto", colors=["red"], aspect_ratio="1:1")]
    )
    (run,) = plan_generate(base, {"aspect_ratio": ["16:9"]})
    assert isinstance(run.request, ev.GenerateRequest)
    main, vto = run.request.image_types
    assert (main.aspect_ratio, main.count) == ("16:9", 2)
    assert vto.aspect_ratio == "1:1"


def test_plan_image_type_accepts_names_specs_and_lists() -> None:
    base = ev.GenerateRequest([ev.ImageSpec("main", count=3, aspect_ratio="4:3")])
    runs = plan_generate(
        base,
        {"image_type": ["detail", ev.ImageSpec("facebook", count=1), [ev.ImageSpec("main")]]},
    )
    specs = [r.request.image_types for r in runs]  # type: ignore[union-attr]
    assert (specs[0][0].image_type, specs[0][0].count, specs[0][0].aspect_ratio) == (
        "detail",
        3,
        "4:3",
    )
    assert specs[1][0].image_type == "facebook"
    assert specs[2][0].image_type == "main"
    assert [r.expected for r in runs] == [3, 1, 1]


@pytest.mark.parametrize(
    ("vary", "field"),
    [
        ({"colour": ["red"]}, "vary['colour']"),
        ({"platform": []}, "vary['platform']"),
        ({"aspect_ratio": ["1:1", "0:3"]}, "aspect_ratio"),
        ({"platform": ["amazon", ""]}, "platform"),
        ({"image_type": ["banner"]}, "image_type"),
        ({"remove_brand_logo": ["yes"]}, "remove_brand_logo"),
    ],
)
def test_plan_refuses_bad_combinations_naming_the_field(vary: dict[str, Any], field: str) -> None:
    with pytest.raises(ev.ValidationError) as caught:
        plan_generate(BASE, vary)
    assert field in caught.value.field


def test_bad_combination_names_the_whole_combination() -> None:
    with pytest.raises(ev.ValidationError) as caught:
        plan_generate(BASE, {"platform": ["amazon"], "aspect_ratio": ["1:1", "0:3"]})
    assert "platform=amazon" in str(caught.value)
    assert "aspect_ratio=0:3" in str(caught.value)


def test_try_on_plan_varies_clothing_height_and_ratio() -> None:
    base = ev.TryOnRequest("https://img.test/p.jpg", [ev.Clothing("https://img.test/a.jpg")])
    runs = plan_try_on(
        base,
        {
            "height": [160, 180],
            "clothing": ["https://img.test/b.jpg", ev.Clothing("https://img.test/c.jpg", info="x")],
        },
    )
    assert len(runs) == 4
    request = runs[1].request
    assert isinstance(request, ev.TryOnRequest)
    assert request.height == 160
    assert request.clothing[0].info == "x"
    with pytest.raises(ev.ValidationError) as caught:
        plan_try_on(base, {"height": [300]})
    assert "height" in caught.value.field


def test_waves_count_the_rounds_overlapping_runs_need() -> None:
    runs = plan_generate(
        BASE, {"platform": ["a", "b", "c"], "aspect_ratio": ["1:1", "4:3", "16:9", "9:16"]}
    )
    assert waves(runs) == 4
    assert waves(plan_generate(BASE, {"platform": ["a", "b", "c"]})) == 1
    assert waves(plan_generate(BASE, {"language": ["en", "zh", "org_text"]})) == 3


def test_dry_run_sends_nothing_and_tells_the_bill() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    client = ev.Client(
        "tok",
        base_url="https://api.test",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    base = ev.GenerateRequest([ev.ImageSpec("main", count=2), ev.ImageSpec("vto", colors=["red"])])
    plan = ev.sweep(
        client,
        "p1",
        base,
        vary={"platform": ["a", "b"], "aspect_ratio": ["1:1", "4:3"]},
        dry_run=True,
    )
    assert isinstance(plan, ev.SweepPlan)
    assert (plan.run_count, plan.image_count, plan.groups) == (4, 12, 2)
    assert "4 runs, 12 images" in plan.describe()
    assert "nothing sent" in plan._repr_html_()
    assert plan.kind == "generate" and "generate sweep plan" in plan._repr_html_()
    assert sent == []


def test_try_on_dry_run_plan_is_of_kind_tryon_and_shown_as_a_try_on() -> None:
    base = ev.TryOnRequest("https://img.test/p.jpg", ["https://img.test/c.jpg"])
    plan = ev.sweep_try_on(None, base, vary={"height": [160, 180]}, dry_run=True)
    assert isinstance(plan, ev.SweepPlan)
    assert plan.kind == "tryon" and plan.kind_label == "try-on"
    assert "try-on sweep plan" in plan._repr_html_()
    assert repr(plan).startswith("<SweepPlan tryon: 2 runs, 2 images")


@pytest.mark.parametrize("kind", ["try-on", "generation", "video", None])
def test_a_plan_refuses_a_kind_outside_the_vocabulary(kind: Any) -> None:
    with pytest.raises(ev.ValidationError) as info:
        ev.SweepPlan(kind, [], {})
    assert info.value.field == "kind" and info.value.value == kind
    assert "generate, tryon" in str(info.value)


# ---------------------------------------------------------------- against the sandbox


def test_sweep_runs_keep_their_own_images_and_overlapping_runs_take_turns(
    paced: ev.Sandbox,
) -> None:
    client = paced.client()
    product = client.create_product([paced.url + SHIRT])
    ratios = ["1:1", "4:3", "16:9"]
    result = ev.sweep(
        client,
        product,
        BASE,
        vary={"platform": ["amazon", "shopee"], "aspect_ratio": ratios},
        progress=False,
        sources=[paced.url + SHIRT],
    )
    assert isinstance(result, ev.SweepResult)
    assert result.summary()["completed"] == 6, [r.error for r in result.runs]
    for run in result.runs:
        (image,) = run.images
        assert image.platform == run.params["platform"]
        assert measured_ratio(image) == run.params["aspect_ratio"]
    paths = [img.file_path for img in result.images]
    assert len(set(paths)) == 6
    # No run was sent twice: the sandbox holds exactly one job per run.
    assert len(sandbox_jobs(paced, kind="generate")) == 6
    assert result.kind == "generate"
    assert {run.job.kind for run in result.runs} == {"generate"}
    # Runs whose images could mix were never in flight at once: each overlapping pair's
    # ledger rows show the later one submitted after the earlier one was seen complete.
    rows = {r.job.id: client.ledger.get(r.job.id) for r in result.runs}
    for a, b in combinations(result.runs, 2):
        if not RunKey.of(a.request).overlaps(RunKey.of(b.request)):  # type: ignore[arg-type]
            continue
        first, second = sorted((rows[a.job.id], rows[b.job.id]), key=lambda r: r.submitted_at)
        assert first.state == "completed"
        assert second.submitted_at >= first.updated_at - 0.01
    # Runs on other platforms did overlap in time.
    amazon = [rows[r.job.id] for r in result.runs if r.params["platform"] == "amazon"]
    shopee = [rows[r.job.id] for r in result.runs if r.params["platform"] == "shopee"]
    assert any(
        a.submitted_at < s.updated_at and s.submitted_at < a.updated_at
        for a in amazon
        for s in shopee
    )


def test_a_failed_run_is_reported_and_the_others_complete(paced: ev.Sandbox) -> None:
    client = paced.client()
    product = client.create_product([paced.url + SHIRT])
    set_faults(paced, fail_job_rate=0.4, seed=1)  # the first of three jobs fails
    seen: list[tuple[str, str]] = []
    result = ev.sweep(
        client,
        product,
        BASE,
        vary={"platform": ["amazon", "shopee", "tiktok"]},
        timeout=3,
        progress=lambda run: seen.append((run.label, run.state)),
    )
    set_faults(paced, fail_job_rate=0.0)
    assert isinstance(result, ev.SweepResult)
    states = sorted(r.state for r in result.runs)
    assert states == ["completed", "completed", "failed"]
    (failed,) = result.failed
    assert failed.error is not None and "timed out" in failed.error
    assert failed.job is not None  # kept: it may still finish
    assert ("platform=amazon", "queued") in seen or ("platform=shopee", "queued") in seen
    assert {state for _, state in seen} >= {"queued", "submitted", "completed", "failed"}
    # Rerun just the failed one; the sandbox no longer fails jobs.
    again = result.rerun(failed_only=True, progress=False)
    assert [r.params for r in again.runs] == [failed.params]
    assert again.runs[0].state == "completed"
    assert len(again.runs[0].images) == 1


def test_a_refused_run_fails_with_the_servers_message_and_others_go_on(
    paced: ev.Sandbox,
) -> None:
    client = paced.client()
    product = client.create_product([paced.url + SHIRT])
    # 25 images in one entry: the client accepts it, this sandbox refuses it (422).
    base = ev.GenerateRequest([ev.ImageSpec("main", count=1)])
    result = ev.sweep(
        client,
        product,
        base,
        vary={"image_type": [ev.ImageSpec("main", count=25), ev.ImageSpec("detail", count=1)]},
        progress=False,
    )
    assert isinstance(result, ev.SweepResult)
    refused, fine = result.runs
    assert refused.state == "failed"
    assert refused.error is not None and "HTTP 422" in refused.error
    assert fine.state == "completed"
    assert len(sandbox_jobs(paced, kind="generate")) == 1


def test_try_on_sweep_gives_each_combination_its_picture(paced: ev.Sandbox) -> None:
    client = paced.client()
    base = ev.TryOnRequest(
        paced.url + "/samples/people/person-a.jpg",
        [ev.Clothing(paced.url + "/samples/garments/dress-green.png")],
    )
    result = ev.sweep_try_on(
        client, base, vary={"height": [160, 180], "aspect_ratio": ["2:3", "1:1"]}, progress=False
    )
    assert isinstance(result, ev.SweepResult)
    assert result.summary()["completed"] == 4, [r.error for r in result.runs]
    for run in result.runs:
        (image,) = run.images
        assert measured_ratio(image) == run.params["aspect_ratio"]
    heights = sorted(j["request"]["height"] for j in sandbox_jobs(paced, kind="tryon"))
    assert heights == [160, 160, 180, 180]
    # One vocabulary: the sweep, its jobs, their ledger rows and the sandbox say "tryon".
    assert result.kind == "tryon"
    assert {(run.job.kind, client.ledger.get(run.job.id).kind) for run in result.runs} == {
        ("tryon", "tryon")
    }
    assert "Try-on sweep: height x aspect_ratio" in result.matrix_html()
    labels = [label for label, _ in result.sources]
    assert labels == ["person", "clothing 1"]


def test_matrix_escapes_hostile_values_and_embeds_every_image(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sandbox.url + SHIRT])
    hostile = '<img src=x onerror="window.__ev_pwned=1"><script>alert(1)</script>'
    result = ev.sweep(
        client,
        product,
        BASE,
        vary={"platform": [hostile, "amazon"], "region": ["eu"]},
        progress=False,
        sources=[sandbox.url + SHIRT],
    )
    assert isinstance(result, ev.SweepResult)
    assert result.summary()["completed"] == 2
    markup = result._repr_html_()
    found = assert_inert(markup)  # no <script>, no on* attribute
    assert len(found.srcs) == 1 + 2  # the source, then one image per run
    assert all(src.startswith("data:image/jpeg;base64,") for src in found.srcs)
    assert hostile in "".join(found.text)  # shown, as text
    assert found.tags.count("tr") == 1 + 2  # header + a row per run


def embedded_size(uri: str) -> tuple[int, int]:
    """The pixel size of a ``data:image/jpeg;base64,…`` picture."""
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as picture:
        return picture.size


def test_matrix_pictures_open_on_a_click_to_twice_their_drawn_size(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sandbox.url + SHIRT])
    result = ev.sweep(
        client,
        product,
        BASE,
        vary={"aspect_ratio": ["1:1", "16:9", "9:16"]},
        progress=False,
        sources=[sandbox.url + SHIRT],
    )
    markup = result.matrix_html(height=128)
    found = assert_inert(markup)
    # Drawn 128 px high: a square or tall picture is at most 128 px wide, so 256 px opens it
    # to twice that; a 16:9 one is drawn 228 px wide, so it comes at 512 px.
    sizes = [embedded_size(src) for src in found.srcs]
    assert sizes == [(256, 256), (256, 256), (512, 288), (144, 256)]
    assert markup.count('<details class="ev-z">') == len(found.srcs) == 4
    assert all(markup.count(src) == 1 for src in found.srcs), "one <img> per picture"
    assert 'width="228" height="128"' in markup  # drawn small while closed
    assert ".ev-z[open] img{width:auto;height:auto;max-width:min(100%,768px)" in markup
    assert "white-space:normal" in markup and "ellipsis" not in markup
    # Captions: the type, then the ratio, then the rest.
    captions = re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", markup)
    assert captions[0] == "source · 1:1"
    assert [c.split(" · ")[:2] for c in captions[1:]] == [
        ["main", "1:1"],
        ["main", "16:9"],
        ["main", "9:16"],
    ]
    # Drawn 64 px high, nothing comes larger than 256 px; 300 px high, everything at 768.
    small = assert_inert(result.matrix_html(height=64)).srcs
    assert {max(embedded_size(src)) for src in small} == {256}
    large = assert_inert(result.matrix_html(height=300)).srcs
    assert [embedded_size(src) for src in large] == [(768, 768), (768, 768), (768, 432), (432, 768)]


def test_sweep_goes_into_a_report_as_its_matrix(sandbox: ev.Sandbox, tmp_path: Any) -> None:
    client = sandbox.client()
    product = client.create_product([sandbox.url + SHIRT])
    result = ev.sweep(client, product, BASE, vary={"aspect_ratio": ["1:1", "9:16"]}, progress=False)
    report = ev.Report("Sweep report").add(result)
    assert "2 images" in repr(report)
    page = report.save(tmp_path / "r.html").read_text()
    found = assert_inert(page)  # no <script>, no on* attribute
    assert "Generate sweep: aspect_ratio" in page
    assert len([s for s in found.srcs if s.startswith("data:image/")]) == 2


def test_rows_and_to_dataframe(sandbox: ev.Sandbox) -> None:
    client = sandbox.client()
    product = client.create_product([sandbox.url + SHIRT])
    result = ev.sweep(
        client, product, BASE, vary={"platform": ["amazon", "shopee"]}, progress=False
    )
    assert isinstance(result, ev.SweepResult)
    rows = result.rows()
    assert [(r["platform"], r["state"], r["images"]) for r in rows] == [
        ("amazon", "completed", 1),
        ("shopee", "completed", 1),
    ]
    json.dumps(rows)  # plain data
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            result.to_dataframe()
    else:
        assert list(result.to_dataframe()["platform"]) == ["amazon", "shopee"]


def test_sync_sweep_works_under_a_running_event_loop(sandbox: ev.Sandbox) -> None:
    """As in a notebook cell, where a loop is already running in the kernel's thread."""
    client = sandbox.client()
    product = client.create_product([sandbox.url + SHIRT])

    async def cell() -> Any:
        return ev.sweep(client, product, BASE, vary={"platform": ["a", "b"]}, progress=False)

    result = asyncio.run(cell())
    assert isinstance(result, ev.SweepResult)
    assert result.summary()["completed"] == 2


async def test_sweep_async_reports_each_change_on_the_loop(sandbox: ev.Sandbox) -> None:
    aclient = sandbox.async_client()
    product = await aclient.create_product([sandbox.url + SHIRT])
    loop = asyncio.get_running_loop()
    updates: list[str] = []

    def on_update(run: ev.SweepRun) -> None:
        assert asyncio.get_running_loop() is loop
        updates.append(run.state)

    result = await ev.sweep_async(
        aclient, product, BASE, vary={"aspect_ratio": ["1:1", "4:3"]}, on_update=on_update
    )
    await aclient.aclose()
    assert isinstance(result, ev.SweepResult)
    assert updates.count("completed") == 2
    assert updates.index("completed") < len(updates) - 1  # the second waited for the first


def test_text_progress_prints_a_line_per_state_change(
    sandbox: ev.Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    client = sandbox.client()
    product = client.create_product([sandbox.url + SHIRT])
    ev.sweep(client, product, BASE, vary={"platform": ["amazon", "shopee"]})
    out = capsys.readouterr().out
    assert out.startswith("sweep: 2 runs, 2 images")
    assert "platform=amazon: completed" in out
    assert "[2/2]" in out
    assert "<SweepResult generate: 2 runs, 2 completed" in out
