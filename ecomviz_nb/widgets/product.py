"""``ev.ProductPanel``: image URLs in, a product (name, colours, analysis) out."""

from __future__ import annotations

import asyncio

import ipywidgets as widgets

from .. import cards, display
from ..client import AsyncClient, Client
from ..errors import ValidationError
from ..models import CreateProductRequest, Product
from ._base import Panel, describe_error, on_server, previous_results
from ._request import is_blank, url_forms, with_url_forms

__all__ = ["ProductPanel"]


class ProductPanel(Panel):
    """Create a product from image URLs, one per line.

    Args:
        client: an ``ev.Client`` or ``ev.AsyncClient`` (an ``ev.Client``'s async twin, made
            by the panel, is closed by ``panel.close()``).
        urls: the first image URLs; a path such as ``/samples/…`` means one on the server.

    Parts: ``urls`` (a Textarea), ``preview_button`` (thumbnails of the sources),
    ``create_button``, ``status`` (right under the buttons), ``sources`` (the thumbnails'
    HTML), ``card`` (the product's card); after creation ``product`` holds the
    :class:`~ecomviz_nb.Product`. A click dims what it will replace at once; a failed step
    clears it, so no stale card stays beside the error.
    """

    title = "Product"
    _busy = False

    def __init__(self, client: Client | AsyncClient, urls: list[str] | None = None) -> None:
        self.client = client
        self._aclient = self._async_of(client)
        self.product: Product | None = None
        self.urls = widgets.Textarea(
            value="\n".join(urls or []),
            placeholder="https://…/front.jpg\nhttps://…/back.jpg",
            layout=widgets.Layout(width="auto", height="80px"),
        )
        self.preview_button = widgets.Button(description="Show images", icon="image")
        self.create_button = widgets.Button(
            description="Create product", button_style="primary", icon="plus"
        )
        self.sources = widgets.HTML()
        self.card = widgets.HTML()
        self._card_html = ""
        self._sources_html = ""
        self._shown_urls: list[str] = []
        buttons = widgets.HBox([self.preview_button, self.create_button])
        super().__init__(
            [
                widgets.HTML("<h4 style='margin:4px 0'>Product images (one URL per line)</h4>"),
                self.urls,
                buttons,
                self.sources,
                self.card,
            ],
            status_after=buttons,
        )
        self.preview_button.on_click(lambda _b: self.show_sources())
        self.create_button.on_click(lambda _b: self.create())
        self.urls.observe(lambda _c: self._validate(), names="value")
        self._validate()

    def image_urls(self) -> list[str]:
        """The URLs, one per line; a path such as ``/samples/…`` is taken on the server."""
        base = self._aclient.base_url
        return [on_server(base, line) for line in self.urls.value.splitlines() if line.strip()]

    def build_request(self) -> CreateProductRequest:
        """The request the URLs make; raises ValidationError naming the bad line."""
        return CreateProductRequest(self.image_urls())

    def _validate(self) -> CreateProductRequest | None:
        base = self._aclient.base_url
        try:
            request = self.build_request()
        except ValidationError as exc:
            self.create_button.disabled = self.preview_button.disabled = True
            if is_blank(exc.value):
                self.show_hint(f"Give the product's pictures, one per line: {url_forms(base)}.")
            else:
                self.show_error(describe_error(with_url_forms(exc, base)))
            self._mark_stale_sources()
            self.refresh_snapshot_soon()
            return None
        self.create_button.disabled = self.preview_button.disabled = self._busy
        self.show_info(f"{len(request.image_urls)} image(s).")
        self._mark_stale_sources()
        self.refresh_snapshot_soon()
        return request

    def _mark_stale_sources(self) -> None:
        """Thumbnails of a list that has changed since are shown dimmed, labelled as such."""
        if not self._sources_html:
            return
        current = [line.strip() for line in self.urls.value.splitlines() if line.strip()]
        if current == self._shown_urls:
            self.sources.value = self._sources_html
        else:
            self.sources.value = previous_results(
                self._sources_html, "pictures of the list before your changes"
            )

    def show_sources(self) -> None:
        """Thumbnails of the URLs, fetched by the kernel."""
        request = self._validate()
        if request is None or self._busy:
            return
        lines = [line.strip() for line in self.urls.value.splitlines() if line.strip()]
        self.sources.value = previous_results(self._sources_html, "previous pictures")
        self.run(lambda: self._show_sources(list(request.image_urls), lines))

    async def _show_sources(self, urls: list[str], lines: list[str]) -> None:
        try:
            markup = str(await asyncio.to_thread(display.show_images, urls))
        except Exception:
            self._sources_html = self.sources.value = ""
            self._shown_urls = []
            raise
        self._sources_html = self.sources.value = markup
        self._shown_urls = lines
        self._mark_stale_sources()

    def create(self) -> None:
        """Create the product (what the button does)."""
        request = self._validate()
        if request is None or self._busy:
            return
        self._busy = True
        self.create_button.disabled = self.preview_button.disabled = True
        self.show_info("Creating the product…")
        self.card.value = previous_results(self._card_html, "previous product")
        self.run(lambda: self._create(list(request.image_urls)))
        if self._closed:  # run() said so and ran nothing
            self._busy = False

    async def _create(self, urls: list[str]) -> None:
        try:
            self.product = await self._aclient.create_product(urls)
            self._card_html = str(await asyncio.to_thread(cards.product_card, self.product))
        except Exception:
            self.product = None  # the card of the one before is not this request's
            self._card_html = self.card.value = ""
            raise
        finally:
            self._busy = False
            self._validate()
        self.card.value = self._card_html
        self.finish(f"Created product {self.product.id}.")

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        lines = [line.strip() for line in self.urls.value.splitlines() if line.strip()]
        return [("image URLs", "\n".join(lines) or "none")]

    def snapshot_results(self) -> str:
        return f"{self.sources.value}{self.card.value}"
