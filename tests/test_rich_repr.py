"""Rich display by the protocol: every model, job and result shows itself, and never raises."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support import assert_inert, free_port

import ecomviz_nb as ev
from ecomviz_nb import cards
from ecomviz_nb.batch_ledger import ItemRow
from ecomviz_nb.ledger import JobRecord
from ecomviz_nb.reprs import RichRepr, fallback_html, safe_html
from ecomviz_nb.runs.batch_result import BatchItem, BatchResult
from ecomviz_nb.runs.plan import plan_generate

GENERATE = ev.GenerateRequest([ev.ImageSpec("main", count=2, aspect_ratio="1:1")])
TRY_ON = ev.TryOnRequest("https://img.test/person.jpg", ["https://img.test/shirt.jpg"])
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def picture(folder: Path, name: str, size: tuple[int, int] = (64, 48)) -> ev.GeneratedImage:
    path = folder / name
    Image.new("RGB", size, (200, 40, 40)).save(path, "JPEG")
    return ev.GeneratedImage(url=str(path), file_path=name, image_type="main", color="red")


def closed_port_url(name: str) -> str:
    """An http URL on a loopback port nobody listens on: a fetch fails at once."""
    return f"http://127.0.0.1:{free_port()}/{name}"


def record(kind: str, remote_id: str, expected: int) -> JobRecord:
    request = GENERATE.to_wire() if kind == "generate" else TRY_ON.to_wire()
    now = time.time()
    return JobRecord(
        f"job_{kind}",
        kind,  # type: ignore[arg-type]
        "https://api.test",
        remote_id,
        request,
        expected,
        "submitted",
        now - 30,
        now - 30,
    )


JOB_CLASSES = [ev.GenerationJob, ev.AsyncGenerationJob, ev.TryOnJob, ev.AsyncTryOnJob]


def make_job(cls: type, images: list[ev.GeneratedImage], remote_id: str = "remote_1") -> Any:
    kind = "generate" if "Generation" in cls.__name__ else "tryon"
    job = cls(record(kind, remote_id, 2), None)
    job.images = images
    return job


# ---------------------------------------------------------------- each object shows its card


def test_a_product_shows_its_card_with_id_name_and_images(tmp_path: Path) -> None:
    images = [picture(tmp_path, "a.jpg"), picture(tmp_path, "b.jpg", (48, 64))]
    product = ev.Product(id="prod_123", name="Shirt", colors=["red"], generated_images=images)
    found = assert_inert(product._repr_html_())
    assert "prod_123" in "".join(found.text) and "Shirt" in "".join(found.text)
    assert len(found.srcs) == 2
    assert all(src.startswith("data:image/jpeg;base64,") for src in found.srcs)


def test_an_image_shows_its_card_with_the_picture(tmp_path: Path) -> None:
    image = picture(tmp_path, "main-1.jpg")
    found = assert_inert(image._repr_html_())
    assert len(found.srcs) == 1 and found.srcs[0].startswith("data:image/jpeg;base64,")
    assert "main-1.jpg" in "".join(found.text)


def test_a_try_on_result_shows_person_clothing_and_result(tmp_path: Path) -> None:
    person, shirt, out = (picture(tmp_path, n) for n in ("p.jpg", "c.jpg", "r.jpg"))
    result = ev.TryOnResult(
        id="vto_42", status="completed", images=[out], person_image=person.url,
        clothing_images=[shirt.url],
    )  # fmt: skip
    found = assert_inert(result._repr_html_())
    assert "vto_42" in "".join(found.text)
    assert len(found.srcs) == 3


@pytest.mark.parametrize("cls", JOB_CLASSES, ids=lambda c: c.__name__)
def test_every_job_shows_its_card_with_id_target_and_images_so_far(
    cls: type, tmp_path: Path
) -> None:
    job = make_job(cls, [picture(tmp_path, "g.jpg")])
    found = assert_inert(job._repr_html_())
    text = "".join(found.text)
    assert job.id in text and "remote_1" in text
    assert "1 / 2 images" in text
    assert len(found.srcs) == 1


def test_sweep_plan_result_and_batch_show_their_views(tmp_path: Path) -> None:
    from ecomviz_nb.runs.result import SweepPlan, SweepResult

    runs = plan_generate(GENERATE, {"platform": ["amazon", "shopee"]})
    plan = SweepPlan("generate", runs, {"platform": ["amazon", "shopee"]})
    assert "nothing sent" in "".join(assert_inert(plan._repr_html_()).text)

    result = SweepResult("generate", runs, {"platform": ["amazon", "shopee"]}, product_id="p1")
    for i, run in enumerate(runs):
        run.state, run.images = "completed", [picture(tmp_path, f"s{i}.jpg")]
    found = assert_inert(result._repr_html_())
    assert len(found.srcs) == 2 and "shopee" in "".join(found.text)

    items = [
        BatchItem(ItemRow(0, "mug", "completed", "p1", updated_at=2.0), images=[runs[0].images[0]]),
        BatchItem(ItemRow(1, "cap", "failed", error="HTTP 500 from the server")),
    ]
    found = assert_inert(BatchResult("spring", GENERATE, items)._repr_html_())
    text = "".join(found.text)
    assert "spring" in text and "cap" in text and "HTTP 500" in text
    assert len(found.srcs) == 1


# ---------------------------------------------------------------- a repr never raises


RENDERERS = [
    pytest.param(lambda: ev.Product(id="prod_9", name=HOSTILE), "product_card", id="Product"),
    pytest.param(
        lambda: ev.GeneratedImage(url="https://i.test/a.jpg", file_path=HOSTILE),
        "image_card",
        id="GeneratedImage",
    ),
    pytest.param(
        lambda: ev.TryOnResult(id="vto_9", status=HOSTILE), "try_on_card", id="TryOnResult"
    ),
    *[
        pytest.param(lambda c=cls: make_job(c, [], remote_id=HOSTILE), "job_card", id=cls.__name__)
        for cls in JOB_CLASSES
    ],
]


@pytest.mark.parametrize(("make", "renderer"), RENDERERS)
def test_a_card_that_raises_falls_back_to_the_escaped_text(
    make: Any, renderer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = make()

    def broken(*args: Any, **kwargs: Any) -> str:
        raise ValueError(f"renderer broke on {HOSTILE}")

    monkeypatch.setattr(cards, renderer, broken)
    markup = obj._repr_html_()  # no exception
    found = assert_inert(markup)
    assert found.tags == ["pre"] and found.srcs == []
    text = "".join(found.text)
    assert text.startswith(repr(obj))  # the text repr, unescaped back by the parser
    assert "ValueError: renderer broke on" in text


def test_sweep_and_batch_views_that_raise_fall_back_to_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ecomviz_nb import display
    from ecomviz_nb.runs import matrix
    from ecomviz_nb.runs.result import SweepPlan, SweepResult

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError(HOSTILE)

    for name in ("plan_html", "matrix_html"):
        monkeypatch.setattr(matrix, name, broken)
    monkeypatch.setattr(display, "show_images", broken)
    runs = plan_generate(GENERATE, {"region": ["eu"]})
    image = ev.GeneratedImage(url="https://i.test/a.jpg", file_path="a.jpg")
    batch = BatchResult(
        "b", GENERATE, [BatchItem(ItemRow(0, HOSTILE, "completed"), images=[image])]
    )
    for obj in (SweepPlan("generate", runs, {}), SweepResult("generate", runs, {}), batch):
        found = assert_inert(obj._repr_html_())
        assert found.tags == ["pre"]
        assert "".join(found.text).startswith(repr(obj))


def test_a_renderer_module_that_cannot_load_falls_back_to_text() -> None:
    class Thing(RichRepr):
        _html_renderer = ("ecomviz_nb.no_such_renderer", "card")

        def __repr__(self) -> str:
            return "<Thing & co>"

    assert Thing()._repr_html_() == (
        "<pre>&lt;Thing &amp; co&gt;\n(no rich view: ModuleNotFoundError: "
        "No module named &#x27;ecomviz_nb.no_such_renderer&#x27;)</pre>"
    )


def test_a_broken_repr_and_a_broken_renderer_still_give_markup() -> None:
    class Worse(RichRepr):
        _html_renderer = ("ecomviz_nb.cards", "no_such_card")

        def __repr__(self) -> str:
            raise RuntimeError("repr broke")

    markup = Worse()._repr_html_()
    assert markup.startswith("<pre>&lt;Worse&gt;\n(no rich view: AttributeError")
    assert safe_html(object(), lambda: 1 / 0).startswith("<pre>&lt;object object at ")
    assert len(fallback_html("x", ValueError("y" * 5000))) < 300


def test_cards_fall_back_to_text_when_pillow_is_missing() -> None:
    code = """
        import sys
        sys.modules["PIL"] = None  # what a kernel without Pillow sees
        import ecomviz_nb as ev
        product = ev.Product(id="prod_1", name="Mug")
        markup = product._repr_html_()
        assert markup.startswith("<pre>&lt;Product prod_1 &#x27;Mug&#x27; 0 images&gt;"), markup
        assert "ModuleNotFoundError" in markup, markup
        print("ok")
    """
    assert run_python(code) == "ok"


def test_a_failed_image_fetch_shows_a_placeholder_in_the_card(tmp_path: Path) -> None:
    missing = ev.GeneratedImage(url=closed_port_url("gone.jpg"), file_path="gone.jpg")
    shown = picture(tmp_path, "kept.jpg")
    product = ev.Product(id="prod_7", name="Lamp", generated_images=[missing, shown])
    job = make_job(ev.GenerationJob, [missing])
    result = ev.TryOnResult(id="vto_7", status="completed", images=[missing])
    for obj, srcs in ((product, 1), (missing, 0), (job, 0), (result, 0)):
        markup = obj._repr_html_()
        found = assert_inert(markup)
        assert "pre" not in found.tags, markup[:300]  # the card, not the fallback
        assert len(found.srcs) == srcs
        assert "image unavailable" in "".join(found.text)


# ---------------------------------------------------------------- no registration, no import


def run_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (this test's environment plus ``env``); its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_and_using_the_models_loads_no_display_code() -> None:
    code = """
        import sys
        import ecomviz_nb as ev
        product = ev.Product(id="prod_1", name="Mug")
        text = repr(product) + repr(ev.TryOnResult(id="v", status="completed"))
        text += repr(ev.GeneratedImage(url="https://i.test/a.jpg", file_path="a.jpg"))
        heavy = ("IPython", "ecomviz_nb.cards", "ecomviz_nb.display", "PIL")
        print(sorted(name for name in heavy if name in sys.modules))
    """
    assert run_python(code) == "[]"


@pytest.mark.parametrize("ipython_first", [False, True], ids=["ecomviz-first", "ipython-first"])
def test_ipython_shows_cards_by_the_protocol_whatever_the_import_order(
    ipython_first: bool, tmp_path: Path
) -> None:
    shell = """
        from IPython.core.interactiveshell import InteractiveShell
        formatter = InteractiveShell.instance().display_formatter
    """
    code = (
        (shell if ipython_first else "")
        + """
        import ecomviz_nb as ev
        from ecomviz_nb.ledger import JobRecord
    """
        + ("" if ipython_first else shell)
        + """
        product = ev.Product(id="prod_1", name="<b>Mug</b>")
        job = ev.TryOnJob(
            JobRecord("job_1", "tryon", "https://a.test", "vto_1", {}, 1, "submitted", 0, 0), None
        )
        html_printers = formatter.formatters["text/html"]
        assert not html_printers.type_printers and not html_printers.deferred_printers
        for obj in (product, job):
            data, _ = formatter.format(obj)
            assert data["text/plain"] == repr(obj), data
            assert 'class="ev-card-' in data["text/html"], data
        data, _ = formatter.format(product)
        assert "&lt;b&gt;Mug&lt;/b&gt;" in data["text/html"] and "<b>Mug" not in data["text/html"]
        print("ok")
    """
    )
    assert run_python(code, IPYTHONDIR=str(tmp_path / "ipython")) == "ok"


# ---------------------------------------------------------------- server strings stay text


def test_server_strings_are_escaped_in_the_card_and_quoted_in_the_text(tmp_path: Path) -> None:
    product = ev.Product.from_wire(
        {
            "_id": "prod_1",
            "productName": HOSTILE,
            "colors": [HOSTILE],
            "aiAnalysis": {"style": HOSTILE},
            "generatedImages": [
                {"filePath": HOSTILE, "generationParams": {"imageType": HOSTILE, "color": HOSTILE}}
            ],
        },
        base_url="https://api.test",
    )
    for obj in (product, product.generated_images[0]):
        markup = obj._repr_html_()
        assert_inert(markup)
        assert "&lt;script&gt;" in markup
        assert "<script" not in markup and "<img src=x" not in markup
    text = repr(product)
    assert text == f"<Product prod_1 {HOSTILE[:39]!r}… 1 image>"
    fallback = fallback_html(product)
    assert_inert(fallback)
    assert "<script" not in fallback and "&lt;script&gt;" in fallback
