"""``ev.SweepPanel``: pick values per field, see the plan, run the sweep, watch its matrix fill."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import time
import warnings
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from ..client import AsyncClient, Client
from ..errors import EcomVizWarning, ValidationError
from ..models import (
    GENERATE_IMAGE_TYPES,
    RECOMMENDED_ASPECT_RATIOS,
    VTO_ASPECT_RATIOS,
    GenerateRequest,
    ImageSpec,
    Product,
    TryOnRequest,
)
from ..runs import (
    SweepPlan,
    SweepResult,
    SweepRun,
    sweep,
    sweep_async,
    sweep_try_on,
    sweep_try_on_async,
)
from ..runs.plan import show_value
from ._base import ERROR_COLOR, Panel, ProgressView, describe_error, on_off, on_server
from ._request import check_entry_count

__all__ = ["AxisPicker", "SweepPanel"]

GENERATE_CHOICES: dict[str, tuple[Any, ...]] = {
    "platform": ("general", "amazon", "shopee", "tiktok", "lazada"),
    "region": ("global", "us", "eu", "sea"),
    "aspect_ratio": RECOMMENDED_ASPECT_RATIOS,
    "language": ("org_text", "en", "zh"),
    "image_type": GENERATE_IMAGE_TYPES,
}
"""The values offered per axis of a generate sweep (any other can be set in code)."""
GENERATE_PICKED: dict[str, tuple[Any, ...]] = {
    "platform": ("general", "amazon"),
    "region": ("global",),
    "aspect_ratio": ("1:1", "4:3"),
    "language": ("org_text",),
    "image_type": ("main",),
}
TRY_ON_CHOICES: dict[str, tuple[Any, ...]] = {
    "height": (None, 150, 160, 170, 180, 190),
    "weight": (None, 45, 55, 65, 75, 85),
    "aspect_ratio": VTO_ASPECT_RATIOS,
}
"""The values offered per axis of a try-on sweep; ``None`` leaves the field out."""
MATRIX_HEIGHT = 128
"""Height of the matrix's pictures, px."""
_GREY = "var(--jp-ui-font-color2,#57606a)"
_AUTO = {"width": "auto", "margin": "2px 16px 2px 0"}


def _word(value: Any) -> str:
    return "not set" if value is None else show_value(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class AxisPicker(widgets.HBox):
    """One field of a sweep: its name, then a toggle button per value.

    ``value`` is the tuple of picked values, in the order offered. Setting it in code may name
    values not offered yet (``("general", "etsy")``): a button is added for each.
    """

    value = traitlets.Tuple()

    def __init__(self, name: str, options: Sequence[Any], value: Sequence[Any] = ()) -> None:
        self.name = name
        self.options: list[Any] = []
        self.buttons: list[widgets.ToggleButton] = []
        self._syncing = False
        self.buttons_box = widgets.Box(layout=widgets.Layout(flex_flow="row wrap"))
        label = widgets.HTML(
            f"<span style='font-weight:600'>{html.escape(name)}</span>",
            layout=widgets.Layout(width="110px", flex="none"),
        )
        super().__init__([label, self.buttons_box], layout=widgets.Layout(align_items="center"))
        self.add_class("ev-axis")
        for option in options:
            self._add(option)
        self.observe(self._show, names="value")
        self.value = tuple(value)

    def _add(self, option: Any) -> None:
        button = widgets.ToggleButton(
            value=False,
            description=_word(option),
            tooltip=f"{self.name} = {_word(option)}",
            layout=widgets.Layout(width="auto", min_width="48px", margin="2px 4px 2px 0"),
        )
        button.observe(self._clicked, names="value")
        self.options.append(option)
        self.buttons.append(button)
        self.buttons_box.children = tuple(self.buttons)

    @traitlets.validate("value")
    def _in_offered_order(self, proposal: Any) -> tuple[Any, ...]:
        picked = list(proposal["value"])
        for value in picked:
            if value not in self.options:
                self._add(value)
        return tuple(o for o in self.options if o in picked)

    def _clicked(self, _change: Any) -> None:
        if not self._syncing:
            self.value = tuple(
                o for o, b in zip(self.options, self.buttons, strict=True) if b.value
            )

    def _show(self, _change: Any = None) -> None:
        self._syncing = True
        try:
            for option, button in zip(self.options, self.buttons, strict=True):
                button.value = option in self.value
                button.button_style = "info" if button.value else ""
        finally:
            self._syncing = False


@dataclasses.dataclass
class _Live:
    """The runs of the sweep in flight, as its updates report them."""

    plan: SweepPlan
    vary: dict[str, list[Any]]
    started: float = dataclasses.field(default_factory=time.monotonic)
    runs: dict[int, SweepRun] = dataclasses.field(default_factory=dict)
    finished: set[int] = dataclasses.field(default_factory=set)
    dirty: bool = False

    def ordered(self) -> list[SweepRun]:
        order = {run.label: i for i, run in enumerate(self.plan.runs)}
        return sorted(self.runs.values(), key=lambda r: order.get(r.label, len(order)))


class SweepPanel(Panel):
    """Sweep a product (or a try-on) over several values per field and compare the results.

    Generate mode: ``ev.SweepPanel(client, product, sources=[...])``. The first line sets what
    every run asks for (images per run, the two switches); below it one row of toggle buttons
    per field picks values of platform, region, aspect_ratio, language and image_type. A row
    with one value sets that field for every run; a row with several varies it, and the sweep
    runs every combination of the rows with two or more. ``panel.axes["platform"].value =
    ("amazon", "etsy")`` picks in code, and adds a button for a value not offered.

    Try-on mode: ``ev.SweepPanel(client, try_on=ev.TryOnRequest(person, clothing))``: the
    person and garments come from the request; the rows pick height, weight (``not set`` leaves
    the field out) and aspect_ratio.

    The plan line counts runs, images and rounds as the values change (nothing is sent); a
    combination the API refuses shows why and turns Run off. Run sends the sweep in a task on
    the kernel's loop: the bar counts finished runs and the matrix (one row per run, images
    embedded) is redrawn as runs finish. ``panel.result`` then holds the ``ev.SweepResult``.

    Args:
        client: an ``ev.Client`` or ``ev.AsyncClient`` (an ``ev.Client``'s async twin, made
            by the panel, is closed by ``panel.close()``).
        product: the product, or its id (generate mode).
        sources: the product's source image URLs for the matrix's first column; a path such
            as ``/samples/products/mug-blue.jpg`` means one on the client's server.
        try_on: the try-on every run starts from (try-on mode, instead of ``product``).

    Parts: ``axes`` (name -> :class:`AxisPicker`), ``count``, ``remove_brand_logo``,
    ``change_portrait`` (generate mode), ``plan_line``, ``run_button``, ``status``,
    ``progress``, ``matrix``.
    """

    title = "Sweep"

    def __init__(
        self,
        client: Client | AsyncClient,
        product: Product | str | None = None,
        *,
        sources: Sequence[str] | None = None,
        try_on: TryOnRequest | None = None,
    ) -> None:
        if (product is None) == (try_on is None):
            raise TypeError("SweepPanel takes a product, or try_on=ev.TryOnRequest(...): one")
        if try_on is not None and not isinstance(try_on, TryOnRequest):
            raise ValidationError("try_on", try_on, "an ev.TryOnRequest")
        self.client = client
        self._aclient = self._async_of(client)
        self.kind = "generate" if try_on is None else "tryon"
        """``generate`` or ``tryon`` (the job kinds of the ledger)."""
        self.product = product if product is None or isinstance(product, Product) else None
        """The product (generate mode)."""
        if isinstance(product, str):
            self.product = Product(id=product)
        self.base_request = try_on
        """The try-on every run starts from (try-on mode)."""
        self.sources = list(sources or [])
        self.plan: SweepPlan | None = None
        """The plan the values make now (None while they are invalid)."""
        self.result: SweepResult | None = None
        """The last finished sweep."""
        self._args: tuple[Any, dict[str, list[Any]]] | None = None
        self._live: _Live | None = None
        self._render_task: asyncio.Task[None] | None = None
        self._matrix_html = ""
        self._status_text = ""
        self._plan_text = ""

        self.count = widgets.IntText(  # not bounded: the plan line names a bad value
            value=1,
            description="images per run",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="170px", margin="2px 16px 2px 2px"),
        )
        self.remove_brand_logo = widgets.Checkbox(
            value=False, description="remove brand logo", indent=False, layout=_AUTO
        )
        self.change_portrait = widgets.Checkbox(
            value=False, description="change portrait", indent=False, layout=_AUTO
        )
        if try_on is None:
            assert self.product is not None
            name = html.escape(self.product.name or self.product.id)
            header = f"Sweep for {name}"
            base: widgets.Widget = widgets.HBox(
                [self.count, self.remove_brand_logo, self.change_portrait]
            )
            self.axes = {
                k: AxisPicker(k, v, GENERATE_PICKED[k]) for k, v in GENERATE_CHOICES.items()
            }
        else:
            header = "Try-on sweep"
            garments = ", ".join(show_value(c) for c in try_on.clothing)
            person = try_on.person_image_url.rstrip("/").rsplit("/", 1)[-1]
            base = widgets.HTML(
                f"<span style='color:{_GREY}'>person {html.escape(person)} · wearing "
                f"{html.escape(garments)}</span>"
            )
            picked = {
                "height": (160, 180) if try_on.height is None else (try_on.height,),
                "weight": (try_on.weight,),
                "aspect_ratio": (try_on.aspect_ratio,),
            }
            self.axes = {k: AxisPicker(k, v, picked[k]) for k, v in TRY_ON_CHOICES.items()}
        self.plan_line = widgets.HTML()
        """The plan (runs, images, rounds), or why the values cannot be sent."""
        self.run_button = widgets.Button(
            description="Run sweep", button_style="primary", icon="play"
        )
        self.progress = ProgressView()
        self.matrix = widgets.HTML(layout=widgets.Layout(margin="8px 2px 2px 2px"))
        """The comparison matrix of the latest sweep (the previous one, dimmed, as one starts)."""
        super().__init__([])
        self.children = (
            widgets.HTML(f"<h4 style='margin:4px 0'>{header}</h4>"),
            base,
            widgets.VBox(list(self.axes.values())),
            self.plan_line,
            self.run_button,
            self.status,
            self.progress,
            self.matrix,
        )
        self.run_button.on_click(lambda _button: self.start())
        for control in (
            *self.axes.values(),
            self.count,
            self.remove_brand_logo,
            self.change_portrait,
        ):
            control.observe(lambda _change: self._refresh_plan(), names="value")
        self._refresh_plan()

    # ---- the plan

    @property
    def running(self) -> bool:
        """Whether a sweep is in flight."""
        return self.task is not None and not self.task.done()

    def sweep_args(self) -> tuple[GenerateRequest | TryOnRequest, dict[str, list[Any]]]:
        """The base request and ``vary`` the rows make (the first picked value is the base's).

        Raises:
            ValidationError: a row with nothing picked, or a value the API refuses.
        """
        picked = {name: list(axis.value) for name, axis in self.axes.items()}
        for name, values in picked.items():
            if not values:
                raise ValidationError(name, [], "pick at least one value")
        first = {name: values[0] for name, values in picked.items()}
        vary = {name: values for name, values in picked.items() if len(values) > 1}
        base: GenerateRequest | TryOnRequest
        if self.base_request is None:
            spec = ImageSpec(
                first["image_type"], count=self.count.value, aspect_ratio=first["aspect_ratio"]
            )
            check_entry_count(f"{spec.image_type}.count", self.count.value)
            base = GenerateRequest(
                [spec],
                region=first["region"],
                platform=first["platform"],
                language=first["language"],
                remove_brand_logo=self.remove_brand_logo.value,
                change_portrait=self.change_portrait.value,
            )
        else:
            base = dataclasses.replace(self.base_request, **first)
        name = next(iter(picked))
        return base, vary or {name: picked[name]}  # nothing varies: one run

    def _dry_run(self, base: Any, vary: dict[str, list[Any]]) -> SweepPlan:
        if isinstance(base, TryOnRequest):
            plan = sweep_try_on(self.client, base, vary=vary, dry_run=True)
        else:
            plan = sweep(self.client, self.product or "", base, vary=vary, dry_run=True)
        return plan

    def _refresh_plan(self) -> None:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", EcomVizWarning)
                base, vary = self.sweep_args()
                plan = self._dry_run(base, vary)
        except ValidationError as exc:
            self.plan, self._args = None, None
            self.run_button.disabled = True
            self.plan_line.value = (
                f"<div style='color:{ERROR_COLOR};white-space:pre-wrap'>Cannot run: "
                f"{html.escape(describe_error(exc))}</div>"
            )
            self._plan_text = f"cannot run: {describe_error(exc)}"
            self.refresh_snapshot_soon()
            return
        self.plan, self._args = plan, (base, vary)
        self.run_button.disabled = self.running
        line = f"{_plural(plan.run_count, 'run')} · {_plural(plan.image_count, 'image')}"
        note = "varies " + " x ".join(vary) if plan.run_count > 1 else "one run: nothing varies"
        if plan.kind == "generate":
            line += f" · {_plural(plan.groups, 'round')}"
            if plan.groups > 1:
                note += "; runs with the same platform and region take turns"
        notes = sorted({str(w.message) for w in caught if issubclass(w.category, EcomVizWarning)})
        extra = "".join(f"<div>⚠ {html.escape(n)}</div>" for n in notes)
        self.plan_line.value = (
            f"<div class='ev-plan'><b>{html.escape(line)}</b> "
            f"<span style='color:{_GREY};font-size:12px'>{html.escape(note)}</span>{extra}</div>"
        )
        self._plan_text = f"{line} ({note})"
        self.refresh_snapshot_soon()

    # ---- running

    def start(self) -> None:
        """Send the sweep (what Run does); ignored while one runs or while the values are bad."""
        if self.running or self._args is None or self.plan is None:
            return
        base, vary = self._args
        live = _Live(self.plan, vary)
        self._live, self._render_task = live, None
        self.run_button.disabled = True
        if self._matrix_html:
            self.matrix.value = (
                f"<div style='font-size:12px;color:{_GREY};margin:6px 0 2px'>previous run</div>"
                f"<div class='ev-previous' style='opacity:.4;filter:grayscale(1)'>"
                f"{self._matrix_html}</div>"
            )
        self.progress.start(self.plan.run_count, f"0 of {self.plan.run_count} runs · submitting…")
        self.progress.label.layout.display = ""
        self.show_info(f"Running {_plural(self.plan.run_count, 'run')}…")
        self.run(lambda: self._sweep(base, live))

    async def _sweep(self, base: Any, live: _Live) -> None:
        def on_update(run: SweepRun) -> None:
            self._on_update(live, run)

        try:
            if isinstance(base, TryOnRequest):
                done = await sweep_try_on_async(
                    self._aclient, base, vary=live.vary, on_update=on_update
                )
            else:
                assert self.product is not None
                done = await sweep_async(
                    self._aclient,
                    self.product,
                    base,
                    vary=live.vary,
                    sources=[on_server(self._aclient.base_url, s) for s in self.sources],
                    on_update=on_update,
                )
            assert isinstance(done, SweepResult)
            if self._render_task is not None:
                await self._render_task
            self.result = done
            self._show_matrix(await asyncio.to_thread(done.matrix_html, height=MATRIX_HEIGHT))
            self._report(done)
        except Exception as exc:
            self.progress.fail(describe_error(exc))
            raise
        finally:
            drawing, self._render_task = self._render_task, None
            if drawing is not None:
                drawing.cancel()
            self.run_button.disabled = self._args is None

    def _on_update(self, live: _Live, run: SweepRun) -> None:
        """A run changed (on the loop): move the bar; when a run finishes, redraw the matrix."""
        live.runs.setdefault(id(run), run)
        runs = list(live.runs.values())
        finished = sum(r.finished for r in runs)
        failed = sum(r.state == "failed" for r in runs)
        flying = sum(r.state in ("submitted", "running") for r in runs)
        total = live.plan.run_count
        self.progress.bar.value = min(finished, self.progress.bar.max)
        self.progress.label.value = (
            f"{finished} of {total} runs · {flying} in flight"
            + (f" · {failed} failed" if failed else "")
            + f" · {time.monotonic() - live.started:.0f} s"
        )
        if not run.finished or id(run) in live.finished:
            return
        live.finished.add(id(run))
        if len(live.finished) >= total:
            return  # the last one: the final matrix is drawn from the result
        live.dirty = True
        if self._render_task is None or self._render_task.done():
            self._render_task = asyncio.get_running_loop().create_task(self._render(live))

    async def _render(self, live: _Live) -> None:
        """Redraw the matrix while runs finish; one drawing covers all finished meanwhile."""
        while live.dirty and self._live is live:
            live.dirty = False
            # Copies: the sweep keeps changing its runs on the loop while this thread draws.
            runs = [
                dataclasses.replace(r, params=dict(r.params), images=list(r.images))
                for r in live.ordered()
            ]
            view = SweepResult(
                self.kind, runs, live.vary, product_id=self.product.id if self.product else None
            )
            view.source_urls = [on_server(self._aclient.base_url, s) for s in self.sources]
            try:
                markup = await asyncio.to_thread(view.matrix_html, height=MATRIX_HEIGHT)
            except Exception:  # a drawing is a preview: the final one shows what went wrong
                continue
            if self._live is live:
                self._show_matrix(markup)

    def _show_matrix(self, markup: str) -> None:
        self._matrix_html = f"<div style='overflow-x:auto;max-width:100%'>{markup}</div>"
        self.matrix.value = self._matrix_html

    def _report(self, result: SweepResult) -> None:
        s = result.summary()
        self._status_text = (
            f"{s['completed']} of {s['runs']} runs completed · "
            f"{_plural(s['images'], 'image')} · {s['seconds']:g} s"
        )
        self.progress.bar.value = self.progress.bar.max
        self.progress.label.layout.display = "none"  # the status line above says it all
        if not result.failed:
            self.progress.bar.bar_style = "success"
            self.finish(self._status_text)
            return
        self.progress.bar.bar_style = "warning" if result.completed else "danger"
        self._status_text += f" · {len(result.failed)} failed"
        shown = result.failed[:5]
        items = "".join(
            f"<li>{html.escape(run.label)}: {html.escape(run.error or 'failed')}</li>"
            for run in shown
        )
        more = len(result.failed) - len(shown)
        items += f"<li>and {more} more</li>" if more else ""
        self.status.value = (
            f"<div style='color:var(--jp-error-color1,#b00020)'>{html.escape(self._status_text)}:"
            f"<ul style='margin:2px 0'>{items}</ul></div>"
        )

    # ---- the saved snapshot

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        if self.base_request is None:
            assert self.product is not None
            fixed = [
                ("product", self.product.name or self.product.id),
                ("images per run", str(self.count.value)),
                ("remove brand logo", on_off(self.remove_brand_logo.value)),
                ("change portrait", on_off(self.change_portrait.value)),
            ]
        else:
            garments = ", ".join(show_value(c) for c in self.base_request.clothing)
            fixed = [("person", self.base_request.person_image_url), ("wearing", garments)]
        picked = [
            (name, ", ".join(_word(v) for v in axis.value) or "nothing picked")
            for name, axis in self.axes.items()
        ]
        return [*fixed, *picked, ("plan", self._plan_text)]

    def snapshot_results(self) -> str:
        return self._matrix_html
