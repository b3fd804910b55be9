"""``ev.ProductPanel``: image URLs in, a product (name, colours, analysis) out."""

from __future__ import annotations

import asyncio

import ipywidgets as widgets

from .. import cards, display
from ..client import AsyncClient, Client
from ..errors import ValidationError
from ..models import CreateProductRequest, Product
from ._base import Panel, describe_error, on_server

__all__ = ["ProductPanel"]


class ProductPanel(Panel):
    """Create a product from image URLs, one per line.

    Args:
        client: an ``ev.Client`` or ``ev.AsyncClient`` (an ``ev.Client``'s async twin, made
            by the panel, is closed by ``panel.close()``).
        urls: the first image URLs; a path such as ``/samples/…`` means one on the server.

    Parts: ``urls`` (a Textarea), ``preview_button`` (thumbnails of the sources),
    ``sources`` (their HTML), ``create_button``, ``card`` (the product's card), ``status``;
    after creation ``product`` holds the :class:`~ecomviz_nb.Product`.
    """

    title = "Product"

    def __init__(self, client: Client | AsyncClient, urls: list[str] | None = None) -> None:
        self.client = client
        self._aclient = self._async_of(client)
        self.product: Product | None = None
        self.urls = widgets.Textarea(
            value="\n".join(urls or []),
            placeholder="https://…/front.jpg\nhttps://…/back.jpg",
            layout=widgets.Layout(width="100%", height="80px"),
        )
        self.preview_button = widgets.Button(description="Show images", icon="image")
        self.create_button = widgets.Button(
            description="Create product", button_style="primary", icon="plus"
        )
        self.sources = widgets.HTML()
        self.card = widgets.HTML()
        self._card_html = ""
        super().__init__(
            [
                widgets.HTML("<h4 style='margin:4px 0'>Product images (one URL per line)</h4>"),
                self.urls,
                widgets.HBox([self.preview_button, self.create_button]),
                self.sources,
                self.card,
            ]
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
        try:
            request = self.build_request()
        except ValidationError as exc:
            self.create_button.disabled = self.preview_button.disabled = True
            self.show_error(describe_error(exc))
            self.refresh_snapshot_soon()
            return None
        self.create_button.disabled = self.preview_button.disabled = False
        self.show_info(f"{len(request.image_urls)} image(s).")
        self.refresh_snapshot_soon()
        return request

    def show_sources(self) -> None:
        """Thumbnails of the URLs, fetched by the kernel."""
        request = self._validate()
        if request is not None:
            self.run(lambda: self._show_sources(list(request.image_urls)))

    async def _show_sources(self, urls: list[str]) -> None:
        self.sources.value = str(await asyncio.to_thread(display.show_images, urls))

    def create(self) -> None:
        """Create the product (what the button does)."""
        request = self._validate()
        if request is None:
            return
        self.create_button.disabled = True
        self.show_info("Creating the product…")
        self.run(lambda: self._create(list(request.image_urls)))

    async def _create(self, urls: list[str]) -> None:
        try:
            self.product = await self._aclient.create_product(urls)
            self._card_html = str(await asyncio.to_thread(cards.product_card, self.product))
            self.card.value = self._card_html
            self.show_info(f"Created product {self.product.id}.")
        finally:
            self.create_button.disabled = False

    def snapshot_inputs(self) -> list[tuple[str, str]]:
        lines = [line.strip() for line in self.urls.value.splitlines() if line.strip()]
        return [("image URLs", "\n".join(lines) or "none")]

    def snapshot_results(self) -> str:
        return f"{self.sources.value}{self._card_html}"
