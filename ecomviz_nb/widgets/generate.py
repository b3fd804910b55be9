"""``ev.GeneratePanel``: build a generate request, watch its progress, see and keep the images."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from .. import comparison, display
from ..client import AsyncClient, Client
from ..errors import ValidationError
from ..models import (
    GENERATE_IMAGE_TYPES,
    RECOMMENDED_ASPECT_RATIOS,
    GenerateRequest,
    ImageSpec,
    Product,
    Webhook,
    check_webhook_reachable,
)
from ..runs.history import HistoryRun, RunHistory
from ._base import describe_error, on_off, on_server
from ._request import RequestPanel, check_entry_count

__all__ = ["GeneratePanel"]

# Suggestions only: the API publishes no closed lists, so any text is sent as typed.
REGIONS = ("global", "us", "eu", "uk", "de", "fr", "jp", "kr", "cn", "sea", "latam", "mena")
PLATFORMS = ("general", "amazon", "shopify", "etsy", "ebay", "facebook", "instagram", "tiktok")
LANGUAGES = ("org_text", "en", "es", "fr", "de", "it", "pt", "ja", "ko", "zh")


class _TypeRow(widgets.HBox):
    """One image type: on/off, a count and an aspect ratio (greyed out while off)."""

    def __init__(self, kind: str, enabled: bool) -> None:
        self.kind = kind
        self.enabled = widgets.Checkbox(
            value=enabled, description=kind, indent=False, layout=widgets.Layout(width="110px")
        )
        # Not bounded: a bounded field would clamp what is typed without a word.
        self.count = widgets.IntText(
            value=1, description="count", layout=widgets.Layout(width="150px")
        )
        self.aspect_ratio = widgets.Dropdown(
            options=RECOMMENDED_ASPECT_RATIOS,
            value="1:1",
            description="ratio",
            layout=widgets.Layout(width="170px"),
        )
        super().__init__([self.enabled, self.count, self.aspect_ratio])
        self.enabled.observe(lambda _change: self._grey_out(), names="value")
        self._grey_out()

    def _grey_out(self) -> None:
        self.count.disabled = self.aspect_ratio.disabled = not self.enabled.value

    def load(self, count: int | None, ratio: str | None) -> None:
        """Show a past run's count and ratio (None: the type was off); a ratio the list does
        not offer (a run sent from code) is added to it."""
        self.enabled.value = count is not None
        if count is None:
            return
        self.count.value = count
        if ratio and ratio not in self.aspect_ratio.options:
            self.aspect_ratio.options = (*self.aspect_ratio.options, ratio)
        self.aspect_ratio.value = ratio or "1:1"

    def spec(self) -> ImageSpec | None:
        if not self.enabled.value:
            return None
        spec = ImageSpec(self.kind, count=self.count.value, aspect_ratio=self.aspect_ratio.value)
        check_entry_count(f"{self.kind}.count", self.count.value)
        return spec


class GeneratePanel(RequestPanel):
    """Pick image types and options for a product, preview the request, generate, see results.

    Args:
        client: an ``ev.Client`` or ``ev.AsyncClient``; the work runs on an ``AsyncClient``
            so the kernel stays free while the progress bar moves (made from an ``ev.Client``
            by the panel, and closed by ``panel.close()``).
        product: the product, or its id.

    Parts: ``rows`` (main/detail/facebook), ``vto_enabled``, ``vto_colors``, ``vto_new`` and
    ``vto_add`` (a colour typed there is added on Enter or by the button), ``region``,
    ``platform``, ``language``, ``remove_brand_logo``, ``change_portrait``, ``webhook_url``,
    ``preview``, ``curl``, ``generate_button``, ``size`` (of the results), ``status``,
    ``progress``, ``results``, ``history`` (the product's finished runs, kept in the job
    ledger: tick two or more to compare them, or load one's settings back into the form);
    unticked types grey out their count and ratio.
    """

    title = "Generate images"

    def __init__(
        self,
        client: Client | AsyncClient,
        product: Product | str,
        *,
        sources: list[str] | None = None,
    ) -> None:
        self.client = client
        self.sources = list(sources or [])
        """The product's source image URLs: results are shown beside them."""
        self._aclient = self._async_of(client)
        self.product = product if isinstance(product, Product) else Product(id=str(product))
        self.job: Any = None
        """The last submitted job."""
        self.request: GenerateRequest | None = None
        """The request the inputs make now (None while they are invalid)."""
        self.rows = {kind: _TypeRow(kind, kind == "main") for kind in GENERATE_IMAGE_TYPES}
        colors = list(self.product.colors)
        self.vto_enabled = widgets.Checkbox(
            value=False, description="vto", indent=False, layout=widgets.Layout(width="110px")
        )
        self.vto_colors = widgets.TagsInput(
            value=colors[:2],
            allowed_tags=[],
            allow_duplicates=False,
            placeholder="colours to try on",
        )
        # JupyterLab's TagsInput takes a typed colour only when it loses the focus, not on
        # Enter (its field has a suggestion list): a plain field and a button add one instead.
        self.vto_new = widgets.Text(
            value="",
            placeholder="a colour, then Enter",
            continuous_update=False,
            layout=widgets.Layout(width="170px"),
        )
        self.vto_add = widgets.Button(
            description="add",
            icon="plus",
            tooltip="add the colour typed on the left",
            layout=widgets.Layout(width="auto"),
        )
        self.region = widgets.Combobox(
            value="global", options=REGIONS, description="region", ensure_option=False
        )
        self.platform = widgets.Combobox(
            value="general", options=PLATFORMS, description="platform", ensure_option=False
        )
        self.language = widgets.Combobox(
            value="org_text", options=LANGUAGES, description="language", ensure_option=False
        )
        self.remove_brand_logo = widgets.Checkbox(value=False, description="remove brand logo")
        self.change_portrait = widgets.Checkbox(value=False, description="change portrait")
        self.generate_button = self._request_widgets("Generate", size=160)
        name = html.escape(self.product.name or self.product.id)
        header = widgets.HTML(f"<h4 style='margin:4px 0'>Generate images for {name}</h4>")
        vto_hint = widgets.HTML(
            "<small>vto colours: type a colour in the box and press Enter (or click add) to "
            "add it; click a colour's cross to remove it"
            + (f" (the product's: {html.escape(', '.join(colors))})" if colors else "")
            + "</small>"
        )
        options = widgets.VBox(
            [
                widgets.HBox([self.region, self.platform, self.language]),
                widgets.HBox([self.remove_brand_logo, self.change_portrait]),
                self.webhook_url,
            ]
        )
        buttons = widgets.HBox([self.generate_button, self.size])
        history = self._history_widgets(RunHistory.for_product(self._aclient, self.product.id))
        super().__init__(
            [
                header,
                *self.rows.values(),
                widgets.HBox(
                    [self.vto_enabled, self.vto_colors, self.vto_new, self.vto_add],
                    layout=widgets.Layout(align_items="center"),
                ),
                vto_hint,
                options,
                self.request_box,
                buttons,
                self.progress,
                self.results,
                history,
            ],
            status_after=buttons,
        )
        self.generate_button.on_click(lambda _button: self.generate())
        self.vto_enabled.observe(lambda _change: self._grey_out_vto(), names="value")
        self._grey_out_vto()
        self.vto_new.observe(lambda _change: self.add_colour(), names="value")
        self.vto_add.on_click(lambda _button: self.add_colour())
        for control in self._controls():
            control.observe(lambda _change: self._update_preview(), names="value")
        self._update_preview()
        self._read_history()

    def add_colour(self) -> None:
        """Add the colour typed in ``vto_new`` to the VTO colours, then empty the field
        (what Enter in the field and the add button do); one already there is not repeated."""
        colour = self.vto_new.value.strip()
        if not colour:
            return
        if colour not in self.vto_colors.value:
            self.vto_colors.value = [*self.vto_colors.value, colour]
        self.vto_new.value = ""

    def _grey_out_vto(self) -> None:
        self.vto_new.disabled = self.vto_add.disabled = not self.vto_enabled.value
        # TagsInput has no disabled state: a class dims it and ignores the pointer.
        for name in ("ev-off", "mod-disabled"):
            if self.vto_enabled.value:
                self.vto_colors.remove_class(name)
            else:
                self.vto_colors.add_class(name)

    def _controls(self) -> list[widgets.Widget]:
        rows = [w for row in self.rows.values() for w in (row.enabled, row.count, row.aspect_ratio)]
        return [
            *rows,
            self.vto_enabled,
            self.vto_colors,
            self.region,
            self.platform,
            self.language,
            self.remove_brand_logo,
            self.change_portrait,
            self.webhook_url,
        ]

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        rows = [
            (kind, f"{row.count.value} x {row.aspect_ratio.value}" if row.enabled.value else "off")
            for kind, row in self.rows.items()
        ]
        colors = ", ".join(self.vto_colors.value) or "none"
        return [
            ("product", self.product.name or self.product.id),
            *rows,
            ("vto", colors if self.vto_enabled.value else "off"),
            ("region", self.region.value),
            ("platform", self.platform.value),
            ("language", self.language.value),
            ("remove brand logo", on_off(self.remove_brand_logo.value)),
            ("change portrait", on_off(self.change_portrait.value)),
            ("webhook", self.webhook_url.value.strip() or "none"),
        ]

    def build_request(self) -> GenerateRequest:
        """The request the inputs describe.

        Raises:
            ValidationError: an input breaks a rule of the API.
        """
        specs = [spec for row in self.rows.values() if (spec := row.spec()) is not None]
        if self.vto_enabled.value:
            specs.append(ImageSpec("vto", colors=list(self.vto_colors.value)))
        if not specs:
            raise ValidationError("image_types", [], "at least one image type switched on")
        url = self.webhook_url.value.strip()
        request = GenerateRequest(
            image_types=specs,
            region=self.region.value,
            platform=self.platform.value,
            language=self.language.value,
            remove_brand_logo=self.remove_brand_logo.value,
            change_portrait=self.change_portrait.value,
            webhook=Webhook(url) if url else None,
        )
        check_webhook_reachable(request.webhook, self._aclient.base_url)
        return request

    def _update_preview(self) -> None:
        self._refresh_request(
            self.generate_button,
            f"/api/products/{self.product.id}/generate",
            lambda r: f"{r.expected_images} images will be generated.",
        )

    def _load_run(self, run: HistoryRun) -> None:
        """Put a past run's parameters back into the form (the webhook field stays)."""
        p = run.params
        with self._filling_form():
            for kind, row in self.rows.items():
                row.load(p.get(f"{kind} count"), p.get(f"{kind} ratio"))
            colours = p.get("vto colours")
            self.vto_enabled.value = colours is not None
            if colours is not None:
                self.vto_colors.value = list(colours)
            self.region.value = p.get("region") or ""
            self.platform.value = p.get("platform") or ""
            self.language.value = p.get("language") or ""
            self.remove_brand_logo.value = bool(p.get("remove brand logo"))
            self.change_portrait.value = bool(p.get("change portrait"))

    def generate(self) -> None:
        """Submit the request and follow it (what the Generate button does)."""
        self._submit(self.generate_button, self._generate)

    async def _generate(self, request: GenerateRequest) -> None:
        job = None
        try:
            job = self.job = await self._aclient.generate(self.product.id, request)
            self.show_info(f"Submitted as job {job.id}.")
            product = await job.wait(on_progress=self.progress.update)
        except Exception as exc:
            self.progress.fail(describe_error(exc))
            await self._keep_run(job)  # a failed run is kept too
            raise
        self.product = product
        images = list(job.images)
        sources = [on_server(self._aclient.base_url, s) for s in self.sources]

        def render(size: int) -> str:
            if sources:
                return str(
                    comparison.compare_product(product, sources=sources, images=images, height=size)
                )
            return str(display.show_images(images, group_by="image_type", size=size))

        await self._show_results(render)
        await self._keep_run(job)
        self.finish(f"Done: {len(images)} images.")
