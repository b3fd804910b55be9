"""Which images belong to which run (RunKey, own_images) and whose turn it is on a product
(ProductScheduler over a real SQLite ledger); no network."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

import pytest
from support import expect_line, python_scripts, send_line

import ecomviz_nb as ev
from ecomviz_nb import errors
from ecomviz_nb.attribution import RunKey, own_images
from ecomviz_nb.errors import QueueTimeoutError
from ecomviz_nb.jobs import poll_delay
from ecomviz_nb.ledger import JobLedger, JobRecord
from ecomviz_nb.scheduler import STALE_AFTER, ProductScheduler

BASE_URL = "https://api.test"
PRODUCT_ID = "p1"


def request(*specs: ev.ImageSpec, **options: object) -> ev.GenerateRequest:
    return ev.GenerateRequest(list(specs), **options)  # type: ignore[arg-type]


def main(count: int = 1, ratio: str = "1:1") -> ev.ImageSpec:
    return ev.ImageSpec("main", count=count, aspect_ratio=ratio)


def vto(*colors: str) -> ev.ImageSpec:
    return ev.ImageSpec("vto", colors=list(colors))


def image(
    path: str,
    kind: str | None = "main",
    *,
    platform: str | None = "general",
    region: str | None = "global",
    color: str | None = None,
) -> ev.GeneratedImage:
    return ev.GeneratedImage(
        url=f"{BASE_URL}/{path}",
        file_path=path,
        image_type=kind,
        platform=platform,
        region=region,
        color=color,
    )


def product(*images: ev.GeneratedImage, product_id: str = PRODUCT_ID) -> ev.Product:
    return ev.Product(id=product_id, generated_images=list(images))


def key(*specs: ev.ImageSpec, **options: object) -> RunKey:
    return RunKey.of(request(*specs, **options))


# ---------------------------------------------------------------- RunKey.of


def test_run_key_of_a_request_normalises_platform_region_and_colours() -> None:
    req = request(
        main(2),
        ev.ImageSpec("detail", count=1, aspect_ratio="4:3"),
        vto(" Red", "BLUE "),
        platform=" Amazon ",
        region="US",
    )
    assert RunKey.of(req) == RunKey(
        platform="amazon",
        region="us",
        types=frozenset({"main", "detail"}),
        colors=frozenset({"red", "blue"}),
    )


def test_run_key_of_wire_json_equals_the_key_of_the_request() -> None:
    req = request(
        main(3, "16:9"),
        ev.ImageSpec("facebook"),
        vto("green"),
        platform="Shopify",
        region="EU",
        language="de",
        remove_brand_logo=True,
        webhook=ev.Webhook("https://hooks.test/x", token="secret"),
    )
    wire = req.to_wire()
    wire["webhook"] = {"url": "https://hooks.test/x"}  # as the ledger keeps it: no token
    assert RunKey.of(wire) == RunKey.of(req)
    assert RunKey.of(wire).types == frozenset({"main", "facebook"})


def test_run_key_of_minimal_wire_json_uses_the_default_platform_and_region() -> None:
    assert RunKey.of({"imageType": [{"detail": 2}]}) == RunKey(
        "general", "global", frozenset({"detail"}), frozenset()
    )


def test_run_key_without_vto_has_no_colours_and_vto_only_has_no_types() -> None:
    assert key(main()).colors == frozenset()
    only_vto = key(vto("red"))
    assert only_vto.types == frozenset()
    assert only_vto.colors == frozenset({"red"})


def test_run_key_of_unreadable_wire_json_raises_validation_error() -> None:
    with pytest.raises(ev.ValidationError):
        RunKey.of({"imageType": []})
    with pytest.raises(ev.ValidationError):
        RunKey.of({"imageType": [{"main": 1}], "surprise": True})


# ---------------------------------------------------------------- RunKey.matches

AMAZON_US = key(main(), vto("red", "Navy"), platform="amazon", region="us")


@pytest.mark.parametrize(
    ("img", "expected"),
    [
        pytest.param(image("a", platform="amazon", region="us"), True, id="same-params"),
        pytest.param(image("a", platform=" AMAZON", region="Us "), True, id="case-and-spaces"),
        pytest.param(image("a", platform="shopify", region="us"), False, id="other-platform"),
        pytest.param(image("a", platform="amazon", region="eu"), False, id="other-region"),
        pytest.param(
            image("a", "detail", platform="amazon", region="us"), False, id="type-not-asked"
        ),
        pytest.param(
            image("a", "vto", platform="amazon", region="us", color="RED"), True, id="vto-colour"
        ),
        pytest.param(
            image("a", "vto", platform="amazon", region="us", color="navy"),
            True,
            id="vto-colour-asked-in-capitals",
        ),
        pytest.param(
            image("a", "vto", platform="amazon", region="us", color="green"),
            False,
            id="vto-colour-not-asked",
        ),
        pytest.param(
            image("a", "vto", platform="amazon", region="us", color=None),
            True,
            id="vto-without-colour",
        ),
        pytest.param(image("a", None, platform=None, region=None), True, id="no-params-at-all"),
        pytest.param(image("a", "main", platform=None, region="us"), True, id="no-platform"),
        pytest.param(image("a", "main", platform="amazon", region=None), True, id="no-region"),
        pytest.param(
            image("a", None, platform="shopify", region="us"),
            False,
            id="no-type-but-other-platform",
        ),
    ],
)
def test_matches_compares_platform_region_type_and_colour(
    img: ev.GeneratedImage, expected: bool
) -> None:
    assert AMAZON_US.matches(img) is expected


def test_matches_refuses_a_vto_image_when_the_run_asked_for_no_colours() -> None:
    assert not key(main()).matches(image("v", "vto", color="red"))
    assert not key(main()).matches(image("v", "vto", color=None))


# ---------------------------------------------------------------- RunKey.overlaps

OVERLAPS = [
    pytest.param(request(main(1, "1:1")), request(main(1, "16:9")), True, id="aspect-ratio-only"),
    pytest.param(request(main(1)), request(main(4)), True, id="count-only"),
    pytest.param(request(main()), request(main(), language="fr"), True, id="language-only"),
    pytest.param(
        request(main()),
        request(main(), remove_brand_logo=True, change_portrait=True),
        True,
        id="flags-only",
    ),
    pytest.param(
        request(main(), platform="Amazon"),
        request(main(), platform=" amazon"),
        True,
        id="platform-spelled-differently",
    ),
    pytest.param(
        request(main(), platform="amazon"),
        request(main(), platform="shopify"),
        False,
        id="other-platform",
    ),
    pytest.param(
        request(main(), region="us"), request(main(), region="eu"), False, id="other-region"
    ),
    pytest.param(request(main()), request(ev.ImageSpec("detail")), False, id="main-vs-detail"),
    pytest.param(
        request(ev.ImageSpec("detail")),
        request(ev.ImageSpec("facebook")),
        False,
        id="detail-vs-facebook",
    ),
    pytest.param(request(main()), request(vto("red")), False, id="main-vs-vto"),
    pytest.param(request(vto("red")), request(vto("blue")), False, id="vto-red-vs-vto-blue"),
    pytest.param(request(vto("red")), request(vto("RED")), True, id="vto-same-colour"),
    pytest.param(
        request(main(), vto("red")), request(vto("red")), True, id="main+vto-red-vs-vto-red"
    ),
    pytest.param(
        request(main(), vto("red")),
        request(ev.ImageSpec("detail"), vto("blue")),
        False,
        id="nothing-shared",
    ),
    pytest.param(
        request(main(), ev.ImageSpec("detail")),
        request(ev.ImageSpec("detail", aspect_ratio="3:4")),
        True,
        id="one-shared-type",
    ),
    pytest.param(
        request(main(), platform="amazon"),
        request(vto("red"), platform="amazon", region="eu"),
        False,
        id="different-everything",
    ),
]


@pytest.mark.parametrize(("first", "second", "expected"), OVERLAPS)
def test_overlaps_truth_table(
    first: ev.GenerateRequest, second: ev.GenerateRequest, expected: bool
) -> None:
    a, b = RunKey.of(first), RunKey.of(second)
    assert a.overlaps(b) is expected
    assert b.overlaps(a) is expected  # the relation is symmetric


def test_a_run_overlaps_itself() -> None:
    for req in (request(main()), request(vto("red")), request(ev.ImageSpec("facebook"))):
        assert RunKey.of(req).overlaps(RunKey.of(req))


# ---------------------------------------------------------------- own_images


def test_own_images_drops_the_baseline_and_other_runs_images_keeping_order() -> None:
    run = key(main(2), vto("red"))
    old = image("old-main.jpg")
    images = [
        old,
        image("new-1.jpg"),
        image("detail.jpg", "detail"),
        image("vto-blue.jpg", "vto", color="blue"),
        image("vto-red.jpg", "vto", color="red"),
        image("amazon.jpg", platform="amazon"),
        image("new-2.jpg"),
    ]
    own = own_images(run, images, baseline=iter([old.file_path]))
    assert [img.file_path for img in own] == ["new-1.jpg", "vto-red.jpg", "new-2.jpg"]


def test_own_images_with_empty_baseline_keeps_every_matching_image() -> None:
    images = [image("a.jpg"), image("b.jpg", "detail"), image("c.jpg")]
    assert [i.file_path for i in own_images(key(main()), images, [])] == ["a.jpg", "c.jpg"]


def test_own_images_is_empty_when_everything_is_in_the_baseline() -> None:
    images = [image("a.jpg"), image("b.jpg")]
    assert own_images(key(main()), images, ["a.jpg", "b.jpg"]) == []


# ---------------------------------------------------------------- ProductScheduler.reserve

SQUARE = request(main(2, "1:1"))
WIDE = request(main(1, "16:9"))


@pytest.fixture
def ledger(tmp_path: Path) -> JobLedger:
    return JobLedger(tmp_path / "ledger" / "jobs.sqlite3")


@pytest.fixture
def turns(ledger: JobLedger) -> ProductScheduler:
    return ProductScheduler(ledger, BASE_URL)


def reserve(
    turns: ProductScheduler, snapshot: ev.Product, req: ev.GenerateRequest
) -> tuple[JobRecord | None, list[JobRecord]]:
    return turns.reserve(snapshot, req, req.to_wire())


def taken(turns: ProductScheduler, snapshot: ev.Product, req: ev.GenerateRequest) -> JobRecord:
    record, blockers = reserve(turns, snapshot, req)
    assert record is not None, f"refused; blockers {[b.id for b in blockers]}"
    assert blockers == []
    return record


def set_submitted_at(ledger: JobLedger, job_id: str, when: float) -> None:
    with closing(sqlite3.connect(ledger.path)) as conn, conn:
        conn.execute("UPDATE jobs SET submitted_at = ? WHERE id = ?", (when, job_id))


def test_first_run_is_written_submitting_with_the_snapshot_as_baseline(
    turns: ProductScheduler, ledger: JobLedger
) -> None:
    old = [image("files/old-1.jpg"), image("files/old-2.jpg", "detail")]
    record = taken(turns, product(*old), SQUARE)
    assert record.state == "submitting"
    assert record.kind == "generate"
    assert record.remote_id == PRODUCT_ID
    assert record.expected == 2
    assert record.baseline == ["files/old-1.jpg", "files/old-2.jpg"]
    assert record.request == SQUARE.to_wire()
    assert ledger.get(record.id) == record


@pytest.mark.parametrize("state", ["submitting", "submitted", "unknown"])
def test_second_overlapping_run_is_refused_with_the_first_as_blocker(
    turns: ProductScheduler, ledger: JobLedger, state: str
) -> None:
    first = taken(turns, product(), SQUARE)
    ledger.update(first.id, state=state)
    second, blockers = reserve(turns, product(), WIDE)
    assert second is None
    assert [b.id for b in blockers] == [first.id]
    assert blockers[0].state == state
    assert [r.id for r in ledger.list()] == [first.id]  # nothing was written for the second


def test_non_overlapping_runs_are_accepted_alongside_one_in_flight(
    turns: ProductScheduler, ledger: JobLedger
) -> None:
    first = taken(turns, product(), SQUARE)
    others = [
        request(main(), platform="amazon"),
        request(main(), region="eu"),
        request(ev.ImageSpec("detail")),
        request(vto("red")),
    ]
    accepted = [taken(turns, product(), req) for req in others]
    assert len({first.id, *(r.id for r in accepted)}) == 5
    assert {r.state for r in ledger.list()} == {"submitting"}


def test_the_same_run_on_another_product_or_server_is_accepted(
    turns: ProductScheduler, ledger: JobLedger
) -> None:
    taken(turns, product(), SQUARE)
    other_product = taken(turns, product(product_id="p2"), SQUARE)
    assert other_product.remote_id == "p2"
    other_server = ProductScheduler(ledger, "https://other.test")
    assert taken(other_server, product(), SQUARE).base_url == "https://other.test"


@pytest.mark.parametrize("state", ["submitted", "unknown"])
def test_blocker_whose_images_all_arrived_is_marked_completed_and_stops_blocking(
    turns: ProductScheduler, ledger: JobLedger, state: str
) -> None:
    old = image("old.jpg")
    first = taken(turns, product(old), SQUARE)  # expects 2 main images
    ledger.update(first.id, state=state)

    half = product(old, image("new-1.jpg"))
    second, blockers = reserve(turns, half, WIDE)
    assert second is None
    assert [b.id for b in blockers] == [first.id]
    unchanged = ledger.get(first.id)
    assert unchanged is not None
    assert (unchanged.state, unchanged.done) == (state, 0)

    full = product(old, image("new-1.jpg"), image("new-2.jpg"))
    second = taken(turns, full, WIDE)
    assert second.baseline == ["old.jpg", "new-1.jpg", "new-2.jpg"]
    marked = ledger.get(first.id)
    assert marked is not None
    assert (marked.state, marked.status, marked.done) == ("completed", "completed", 2)


def test_images_of_the_baseline_or_of_other_runs_do_not_finish_a_blocker(
    turns: ProductScheduler, ledger: JobLedger
) -> None:
    before = [image("old-1.jpg"), image("old-2.jpg")]
    first = taken(turns, product(*before), SQUARE)
    ledger.update(first.id, state="submitted")
    snapshot = product(
        *before,
        image("detail-1.jpg", "detail"),
        image("detail-2.jpg", "detail"),
        image("amazon-1.jpg", platform="amazon"),
        image("amazon-2.jpg", platform="amazon"),
        image("vto.jpg", "vto", color="red"),
    )
    second, blockers = reserve(turns, snapshot, WIDE)
    assert second is None
    assert [b.id for b in blockers] == [first.id]
    still = ledger.get(first.id)
    assert still is not None
    assert still.state == "submitted"


@pytest.mark.parametrize("state", ["completed", "failed", "rejected"])
def test_finished_runs_do_not_block(turns: ProductScheduler, ledger: JobLedger, state: str) -> None:
    first = taken(turns, product(), SQUARE)
    ledger.update(first.id, state=state)
    assert taken(turns, product(), WIDE).id != first.id


def test_stale_blocker_does_not_block(turns: ProductScheduler, ledger: JobLedger) -> None:
    first = taken(turns, product(), SQUARE)
    ledger.update(first.id, state="submitted")
    set_submitted_at(ledger, first.id, time.time() - STALE_AFTER + 60)
    second, blockers = reserve(turns, product(), WIDE)
    assert second is None  # 14 minutes old: still in flight
    assert [b.id for b in blockers] == [first.id]

    set_submitted_at(ledger, first.id, time.time() - STALE_AFTER - 1)
    assert taken(turns, product(), WIDE).id != first.id


def test_stale_after_of_the_scheduler_sets_when_a_blocker_goes_stale(ledger: JobLedger) -> None:
    patient = ProductScheduler(ledger, BASE_URL)
    hasty = ProductScheduler(ledger, BASE_URL, stale_after=5)
    first = taken(patient, product(), SQUARE)
    set_submitted_at(ledger, first.id, time.time() - 10)
    second, _ = reserve(patient, product(), WIDE)
    assert second is None
    assert taken(hasty, product(), WIDE).id != first.id


def test_in_flight_row_that_cannot_be_read_blocks_to_be_safe(
    turns: ProductScheduler, ledger: JobLedger
) -> None:
    odd = ledger.add(
        kind="generate",
        base_url=BASE_URL,
        request={"imageType": [{"hologram": 1}]},
        expected=1,
        remote_id=PRODUCT_ID,
    )
    record, blockers = reserve(turns, product(), request(vto("red")))
    assert record is None
    assert [b.id for b in blockers] == [odd.id]


class FixedProduct:
    """A job source whose product always reads the same."""

    def __init__(self, snapshot: ev.Product) -> None:
        self.snapshot = snapshot

    def get_product(self, product_id: str) -> ev.Product:
        assert product_id == self.snapshot.id
        return self.snapshot


def test_jobs_of_two_overlapping_runs_taken_in_turn_each_hold_only_their_own_images(
    turns: ProductScheduler, ledger: JobLedger
) -> None:
    first = taken(turns, product(), SQUARE)  # two main images
    ledger.update(first.id, state="submitted")
    made_first = [image("first-1.jpg"), image("first-2.jpg")]
    second = taken(turns, product(*made_first), WIDE)  # the first run's images are all there
    made_second = [image("second-1.jpg")]
    source = FixedProduct(product(*made_first, *made_second))

    jobs = []
    for record in (ledger.get(first.id), ledger.get(second.id)):
        assert record is not None
        job = ev.GenerationJob(record, source, ledger=ledger, sleep=lambda _: None)
        job.wait(timeout=5)
        jobs.append(job)

    assert [i.file_path for i in jobs[1].images] == ["second-1.jpg"]
    # Waited on after the second run delivered, the first job must not count its image.
    assert [i.file_path for i in jobs[0].images] == ["first-1.jpg", "first-2.jpg"]
    row = ledger.get(first.id)
    assert row is not None
    assert row.done == 2


# ---------------------------------------------------------------- ProductScheduler.pause


NOW = 1_000_000.0
"""The clock of ``scheduler_at_now``."""


def scheduler_at_now(ledger: JobLedger) -> ProductScheduler:
    """A scheduler whose clock stands still at ``NOW`` and whose jitter factor is 1."""
    return ProductScheduler(ledger, BASE_URL, clock=lambda: NOW, rand=lambda: 0.5)


def blocker_records(ledger: JobLedger, ages: Iterable[float]) -> list[JobRecord]:
    """Runs in the ledger submitted ``ages`` seconds before ``NOW``."""
    made = []
    for age in ages:
        record = ledger.add(
            kind="generate",
            base_url=BASE_URL,
            request=SQUARE.to_wire(),
            expected=2,
            remote_id=PRODUCT_ID,
        )
        made.append(dataclasses.replace(record, submitted_at=NOW - age))
    return made


def test_queue_timeout_error_is_public_as_ev_queue_timeout_error() -> None:
    # Client.generate raises it and the errors module lists it in its tree, so users must be
    # able to catch it as ev.QueueTimeoutError like every other error of the package.
    assert "QueueTimeoutError" in ev.__all__
    assert ev.QueueTimeoutError is errors.QueueTimeoutError  # type: ignore[attr-defined]


def test_pause_raises_queue_timeout_error_naming_the_blockers_once_the_limit_is_reached(
    ledger: JobLedger,
) -> None:
    blockers = blocker_records(ledger, [30, 5])
    turns = scheduler_at_now(ledger)
    for waited in (10.0, 12.5):
        with pytest.raises(QueueTimeoutError) as caught:
            turns.pause(blockers, waited=waited, limit=10.0)
        err = caught.value
        assert isinstance(err, TimeoutError)
        assert err.blockers == [b.id for b in blockers]
        for b in blockers:
            assert b.id in str(err)
        assert "nothing was sent" in str(err)


def test_pause_returns_a_delay_paced_by_the_oldest_blocker_before_the_limit(
    ledger: JobLedger,
) -> None:
    blockers = blocker_records(ledger, [5, 100])
    turns = scheduler_at_now(ledger)
    paced = poll_delay(100, 0.5)
    assert paced == pytest.approx(5.0)  # 2 s + 0.03 s per second of the oldest blocker's age
    assert turns.pause(blockers, waited=0.0, limit=None) == pytest.approx(paced)
    assert turns.pause(blockers, waited=1.0, limit=60.0) == pytest.approx(paced)
    # Never past the limit: the last pause ends exactly when the wait runs out.
    assert turns.pause(blockers, waited=58.5, limit=60.0) == pytest.approx(1.5)


def test_pause_of_a_blocker_submitted_just_now_is_the_initial_poll_delay(
    ledger: JobLedger,
) -> None:
    (fresh,) = blocker_records(ledger, [-3])  # a clock a little behind another's
    turns = scheduler_at_now(ledger)
    assert turns.pause([fresh], waited=0.0, limit=None) == pytest.approx(2.0)


# ---------------------------------------------------------------- two processes at once

RACER = """
    import json
    import sys
    import time

    from ecomviz_nb.attribution import RunKey
    from ecomviz_nb.ledger import JobLedger

    path, base_url, product_id = sys.argv[1:4]
    wire = json.loads(sys.argv[4])
    ledger = JobLedger(path)
    key = RunKey.of(wire)

    def blocks(other):
        time.sleep(0.3)  # keep the check open: a reserve that is not atomic lets both in
        return RunKey.of(other.request).overlaps(key)

    print("ready", flush=True)
    sys.stdin.readline()
    record, blockers = ledger.reserve(
        base_url=base_url, product_id=product_id, request=wire, expected=1, baseline=[],
        blocks=blocks, stale_after=900,
    )
    print(json.dumps({"id": record and record.id, "blockers": [b.id for b in blockers]}))
"""


def test_reserve_from_two_processes_at_once_lets_exactly_one_overlapping_run_in(
    ledger: JobLedger,
) -> None:
    # A run in flight on another platform: each racer's check must look at it (and sleep),
    # so both racers are inside reserve() at the same time.
    bystander = ledger.add(
        kind="generate",
        base_url=BASE_URL,
        request=request(main(), platform="shopify").to_wire(),
        expected=1,
        remote_id=PRODUCT_ID,
    )
    wires = [request(main(1, "1:1")).to_wire(), request(main(1, "9:16")).to_wire()]
    argvs = ([str(ledger.path), BASE_URL, PRODUCT_ID, json.dumps(wire)] for wire in wires)
    with python_scripts(RACER, *argvs) as procs:
        expect_line(procs, "ready")
        send_line(procs, "go")
        results = [proc.communicate(timeout=60) for proc in procs]
    answers = []
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        answers.append(json.loads(out))
    winners = [a for a in answers if a["id"] is not None]
    losers = [a for a in answers if a["id"] is None]
    assert len(winners) == 1, answers
    assert len(losers) == 1, answers
    assert losers[0]["blockers"] == [winners[0]["id"]]
    rows = {r.id: r for r in ledger.list()}
    assert set(rows) == {bystander.id, winners[0]["id"]}
    assert rows[winners[0]["id"]].state == "submitting"
