"""How objects show themselves: a named HTML renderer loaded only when shown, and short text."""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import Callable
from typing import ClassVar

__all__ = ["RichRepr", "fallback_html", "safe_html", "short_id", "short_text"]

_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:@+-]{1,64}")
_REASON_LIMIT = 160


class RichRepr:
    """A mixin giving ``_repr_html_`` by the display protocol, with no display import.

    A class names its renderer as ``(module, function)``, e.g.
    ``_html_renderer = ("ecomviz_nb.cards", "product_card")``. The module is imported the first
    time an object is shown, so importing the class never loads Pillow, IPython or the cards.
    JupyterLab, classic Notebook, VS Code, marimo, Streamlit's ``st.write`` and Panel all look
    for ``_repr_html_`` on the object itself: no formatter has to be registered first.

    A repr never raises: if the renderer cannot be imported or fails, the frontend gets the
    escaped text repr in a ``<pre>`` instead of a traceback.
    """

    __slots__ = ()

    _html_renderer: ClassVar[tuple[str, str]] = ("", "")
    """``(module, function)``: the function takes the object and returns its markup."""

    def _render_html(self) -> object:
        """The markup; subclasses with their own view override this (it may raise)."""
        module, name = self._html_renderer
        renderer = getattr(importlib.import_module(module), name)
        return renderer(self)

    def _repr_html_(self) -> str:
        return safe_html(self, self._render_html)


def safe_html(obj: object, render: Callable[[], object]) -> str:
    """``str(render())``, or the escaped text of ``obj`` when rendering raises anything.

    Args:
        obj: what is shown; its ``repr()`` is the fallback.
        render: makes the markup (a card, a matrix…).

    Returns:
        Markup that is safe to hand to a notebook frontend.
    """
    try:
        return str(render())
    except Exception as exc:  # a repr must never raise: show the text instead
        return fallback_html(obj, exc)


def fallback_html(obj: object, error: BaseException | None = None) -> str:
    """``obj``'s text repr in an escaped ``<pre>``, with why the rich view is missing."""
    try:
        text = repr(obj)
    except Exception:
        text = f"<{type(obj).__name__}>"
    if error is not None:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if len(reason) > _REASON_LIMIT:
            reason = reason[: _REASON_LIMIT - 1] + "…"
        text += f"\n(no rich view: {reason})"
    return f"<pre>{html.escape(text, quote=True)}</pre>"


def short_id(value: object) -> str:
    """An id for a text repr: bare when plain (``prod_123``), else quoted and cut short.

    A server-sent id with spaces, quotes or control characters is shown by ``repr()``, so it
    cannot pass for other text or send terminal escape codes.
    """
    if isinstance(value, str) and _PLAIN_ID.fullmatch(value):
        return value
    return short_text(value, limit=40)


def short_text(value: object, *, limit: int = 40) -> str:
    """``repr()`` of a server-sent string, cut to about ``limit`` characters (``'Shirt'``)."""
    if not isinstance(value, str):
        return repr(value)
    if len(value) > limit:
        return repr(value[: limit - 1]) + "…"
    return repr(value)
