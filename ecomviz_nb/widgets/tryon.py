"""``ev.TryOnPanel``: a try-on request, its progress, person | clothing | result, its history."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .. import comparison
from ..client import AsyncClient, Client
from ..errors import ValidationError
from ..models import (
    VTO_ASPECT_RATIOS,
    Clothing,
    TryOnRequest,
    Webhook,
)
from ..runs.history import HistoryRun, RunHistory
from ._base import describe_error, on_off, on_server
from ._request import RequestPanel, is_blank, url_forms

__all__ = ["ClothingRow", "TryOnPanel"]


class ClothingRow(widgets.HBox):
    """One garment: its image URL, a note, and a remove button."""

    def __init__(self, url: str = "", info: str = "") -> None:
        self.url = widgets.Text(
            value=url,
            placeholder="https://…/garment.png",
            description="url",
            layout=widgets.Layout(width="55%"),
        )
        self.info = widgets.Text(
            value=info, placeholder="price US9.9 (optional)", description="info"
        )
        self.remove_button = widgets.Button(
            icon="trash", tooltip="remove", layout=widgets.Layout(width="40px")
        )
        super().__init__([self.url, self.info, self.remove_button])

    def clothing(self, base_url: str) -> Clothing:
        """The garment; a path like ``/samples/…`` is taken on the server at ``base_url``."""
        return Clothing(on_server(base_url, self.url.value), self.info.value.strip() or None)


class TryOnPanel(RequestPanel):
    """Dress a person in one or more garments.

    Args:
        client: an ``ev.Client`` or ``ev.AsyncClient`` (an ``ev.Client``'s async twin, made
            by the panel, is closed by ``panel.close()``).
        person_url: the person's picture; a path such as ``/samples/…`` means one on the server.
        clothing: ``(url, info)`` per garment.

    Parts: ``person_url``, ``clothing_rows`` (a list of :class:`ClothingRow`), ``add_button``,
    ``use_height``/``height``, ``use_weight``/``weight`` (a number is greyed out while its box
    is unticked, and not sent), ``aspect_ratio``, ``watermark``, ``webhook_url``, ``preview``,
    ``curl``, ``try_on_button``, ``size`` (of the results), ``status``, ``progress``,
    ``results``, ``history`` (every finished try-on on the client's server, whatever the
    person and garments, kept in the job ledger: tick two or more to compare them, or load
    one's settings back into the form).
    """

    title = "Virtual try-on"

    def __init__(
        self,
        client: Client | AsyncClient,
        *,
        person_url: str = "",
        clothing: list[tuple[str, str]] | None = None,
    ) -> None:
        self.client = client
        self._aclient = self._async_of(client)
        self.job: Any = None
        self.result: Any = None
        self.request: TryOnRequest | None = None
        self.person_url = widgets.Text(
            value=person_url,
            placeholder="https://…/person.jpg",
            description="person",
            layout=widgets.Layout(width="80%"),
        )
        self.clothing_box = widgets.VBox()
        self.clothing_rows: list[ClothingRow] = []
        self.add_button = widgets.Button(description="add garment", icon="plus")
        self.use_height = widgets.Checkbox(value=False, description="height (cm)", indent=False)
        self.height = widgets.IntText(value=170)  # not bounded: the request names a bad value
        self.use_weight = widgets.Checkbox(value=False, description="weight (kg)", indent=False)
        self.weight = widgets.IntText(value=60)  # not bounded: the request names a bad value
        self.aspect_ratio = widgets.Dropdown(
            options=VTO_ASPECT_RATIOS, value="2:3", description="ratio"
        )
        self.watermark = widgets.Checkbox(value=True, description="watermark")
        self.try_on_button = self._request_widgets("Try on", size=256)
        buttons = widgets.HBox([self.try_on_button, self.size])
        # Every try-on of the server: people and garments are what a person explores here.
        history = self._history_widgets(RunHistory.for_try_on(self._aclient))
        super().__init__(
            [
                widgets.HTML("<h4 style='margin:4px 0'>Virtual try-on</h4>"),
                self.person_url,
                self.clothing_box,
                self.add_button,
                widgets.HBox([self.use_height, self.height, self.use_weight, self.weight]),
                widgets.HBox([self.aspect_ratio, self.watermark]),
                self.webhook_url,
                self.request_box,
                buttons,
                self.progress,
                self.results,
                history,
            ],
            status_after=buttons,
        )
        for url, info in clothing or [("", "")]:
            self.add_clothing(url, info)
        for use, number in ((self.use_height, self.height), (self.use_weight, self.weight)):
            use.observe(lambda _c, u=use, n=number: self._grey_out(u, n), names="value")
            self._grey_out(use, number)
        self.add_button.on_click(lambda _b: self.add_clothing())
        self.try_on_button.on_click(lambda _b: self.try_on())
        for control in (
            self.person_url,
            self.use_height,
            self.height,
            self.use_weight,
            self.weight,
            self.aspect_ratio,
            self.watermark,
            self.webhook_url,
        ):
            control.observe(lambda _c: self._update_preview(), names="value")
        self._update_preview()
        self._read_history()

    @staticmethod
    def _grey_out(use: widgets.Checkbox, number: widgets.IntText) -> None:
        number.disabled = not use.value

    def add_clothing(self, url: str = "", info: str = "") -> ClothingRow:
        """Add a garment row (what the add button does)."""
        row = ClothingRow(url, info)
        row.remove_button.on_click(lambda _b: self.remove_clothing(row))
        for control in (row.url, row.info):
            control.observe(lambda _c: self._update_preview(), names="value")
        self.clothing_rows.append(row)
        self.clothing_box.children = tuple(self.clothing_rows)
        self._update_preview()
        return row

    def remove_clothing(self, row: ClothingRow) -> None:
        """Take a garment row out (what its remove button does)."""
        self.clothing_rows.remove(row)
        self.clothing_box.children = tuple(self.clothing_rows)
        for part in (row.url, row.info, row.remove_button, row):
            part.close()
        self._update_preview()

    def _load_run(self, run: HistoryRun) -> None:
        """Put a past try-on's parameters back into the form (the webhook field stays).

        Raises:
            ValidationError: a height or weight that is not a whole number (the form's
                fields hold whole numbers); nothing is changed then.
        """
        p = run.params
        for name in ("height", "weight"):
            value = p.get(name)
            if value is not None and value != int(value):
                unit = "cm" if name == "height" else "kg"
                raise ValidationError(name, value, f"a whole number of {unit} in this panel")
        with self._filling_form():
            self.person_url.value = p.get("person") or ""
            for row in list(self.clothing_rows):
                self.remove_clothing(row)
            for url, info in p.get("garments") or [("", "")]:
                self.add_clothing(url, info)
            for use, number, value in (
                (self.use_height, self.height, p.get("height")),
                (self.use_weight, self.weight, p.get("weight")),
            ):
                use.value = value is not None
                if value is not None:
                    number.value = int(value)
            self.aspect_ratio.value = p.get("ratio") or "2:3"
            self.watermark.value = p.get("watermark") is not False

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        garments = [
            (f"garment {i + 1}", " · ".join(v for v in (row.url.value, row.info.value) if v))
            for i, row in enumerate(self.clothing_rows)
        ]
        return [
            ("person", self.person_url.value),
            *garments,
            ("height", f"{self.height.value} cm" if self.use_height.value else "not sent"),
            ("weight", f"{self.weight.value} kg" if self.use_weight.value else "not sent"),
            ("ratio", self.aspect_ratio.value),
            ("watermark", on_off(self.watermark.value)),
            ("webhook", self.webhook_url.value.strip() or "none"),
        ]

    def missing(self) -> str | None:
        """The pictures still to fill in, as a hint; None once each has something."""
        empty = ["the person"] if is_blank(self.person_url.value) else []
        empty += [
            f"garment {i + 1}" if len(self.clothing_rows) > 1 else "the garment"
            for i, row in enumerate(self.clothing_rows)
            if is_blank(row.url.value)
        ]
        if not self.clothing_rows:
            empty.append("a garment (clothing is empty: click add garment)")
        if not empty:
            return None
        each = "each " if len(empty) > 1 else ""
        forms = url_forms(self._aclient.base_url)
        return f"To try on, give the picture of {' and '.join(empty)}: {each}{forms}."

    def build_request(self) -> TryOnRequest:
        """The request the inputs describe; raises ValidationError naming the bad field."""
        person = on_server(self._aclient.base_url, self.person_url.value)
        try:  # the person first, as the form reads: the same URL rule as a garment's
            Clothing(person)
        except ValidationError as exc:
            raise ValidationError("person_image_url", exc.value, exc.allowed) from None
        clothing = []
        for i, row in enumerate(self.clothing_rows):
            try:
                clothing.append(row.clothing(self._aclient.base_url))
            except ValidationError as exc:
                field = exc.field.replace("clothing.", f"clothing[{i}].")
                raise ValidationError(field, exc.value, exc.allowed) from None
        url = self.webhook_url.value.strip()
        try:
            return TryOnRequest(
                person_image_url=person,
                clothing=clothing,
                height=self.height.value if self.use_height.value else None,
                weight=self.weight.value if self.use_weight.value else None,
                aspect_ratio=self.aspect_ratio.value,
                watermark=self.watermark.value,
                webhook=Webhook(url) if url else None,
            )
        except ValidationError as exc:
            if exc.field not in ("height", "weight"):
                raise
            # The API's "or None" is the unticked box here.
            allowed = exc.allowed.replace(", or None", ", or untick the box")
            raise ValidationError(exc.field, exc.value, allowed) from None

    def _update_preview(self) -> None:
        if not hasattr(self, "results"):
            return  # still building
        self._refresh_request(self.try_on_button, "/api/vto/generate-url", lambda _r: "Ready.")

    def try_on(self) -> None:
        """Submit and follow the try-on (what the button does)."""
        self._submit(self.try_on_button, self._try_on)

    async def _try_on(self, request: TryOnRequest) -> None:
        job = None
        try:
            job = self.job = await self._aclient.try_on(request)
            self.show_info(f"Submitted as job {job.id} (try-on {job.vto_id}).")
            self.result = result = await job.wait(on_progress=self.progress.update)
        except Exception as exc:
            self.progress.fail(describe_error(exc))
            await self._keep_run(job)  # a failed try-on is kept too
            raise
        sources = [request.person_image_url, *(c.url for c in request.clothing)]
        labels = [
            "person",
            *(c.info or f"clothing {i + 1}" for i, c in enumerate(request.clothing)),
        ]
        pairs = list(zip(sources, labels, strict=True))

        def render(size: int) -> str:
            return str(comparison.compare(pairs, result.images, height=size))

        await self._show_results(render)
        await self._keep_run(job)
        self.finish(f"Done: try-on {result.id} is {result.status}.")
