"""The shared HTML toolkit: the HTML string, escaping (local servers masked), ids, colours, CSS."""

from __future__ import annotations

import html
import math
import os
import re
import uuid
from pathlib import Path
from typing import Any

from .config import is_local_server

__all__ = [
    "ACCENT",
    "BG",
    "BG_SOFT",
    "BORDER",
    "BORDER_SOFT",
    "COMMON_RATIOS",
    "FG",
    "FG_MUTED",
    "FONT",
    "HTML",
    "LOCAL_SERVER",
    "WARN_BG",
    "WARN_FG",
    "ZOOM_MAX",
    "aspect_label",
    "base_css",
    "esc",
    "figure",
    "figure_css",
    "fit",
    "mask_local",
    "placeholder",
    "safe_css_color",
    "shareable",
    "swatch",
    "uid",
]

# Colours come from JupyterLab's theme variables, so a dark theme restyles every view; the
# fallbacks are the light look, which saved notebooks, GitHub and standalone pages show.
FG = "var(--jp-ui-font-color1,#1f2328)"
"""Body text."""
FG_MUTED = "var(--jp-ui-font-color2,#57606a)"
"""Secondary captions and labels."""
BG = "var(--jp-layout-color1,#fff)"
"""The background of a card or a selected tab."""
BG_SOFT = "var(--jp-layout-color2,#f4f4f5)"
"""The frame behind a picture, code spans, neutral badges."""
BORDER = "var(--jp-border-color2,#d0d7de)"
"""Card, tab and divider borders."""
BORDER_SOFT = "var(--jp-border-color2,#e4e4e7)"
"""The hairline around a picture."""
WARN_FG = "var(--jp-error-color1,#9a3412)"
"""The text of an "image unavailable" placeholder, on ``WARN_BG``. No single red of JupyterLab's
reads on every background of both themes; this one reads on their notebook background (5.0:1
light, 5.1:1 dark)."""
WARN_BG = "var(--jp-layout-color0,#fff)"
"""The background of ``WARN_FG`` text: the notebook's own, white or near black."""
ACCENT = "var(--jp-brand-color1,#0969da)"
"""Focus rings and links."""
SWATCH_GREY = "var(--jp-layout-color3,#d4d4d8)"
SWATCH_RING = "var(--jp-border-color1,rgba(0,0,0,.18))"
"""The rim of a colour dot: a dark colour's dot stays visible on a dark card."""
FONT = f"font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:{FG}"
"""Font and text colour of every view (no double quotes: it also goes in style="...")."""

COMMON_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "2:3", "3:2", "21:9", "9:21")
"""Ratios a caption snaps to when the pixel size is within 5 % of one."""


class HTML(str):
    """Markup that Jupyter renders and plain Python treats as a string.

    ``print(html)`` or ``str(html)`` give the markup; :meth:`save` writes a standalone page.
    """

    __slots__ = ()

    def _repr_html_(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __repr__(self) -> str:
        return f"<ecomviz_nb HTML: {self.count('<img ')} images, {len(self) / 1024:.0f} KB>"

    def save(self, path: str | os.PathLike[str], *, title: str = "ecomviz_nb") -> Path:
        """Write a standalone HTML page holding this markup; returns the path."""
        page = (
            f'<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'</head><body style="margin:24px;background:{BG}">{self}</body></html>'
        )
        out = Path(path)
        out.write_text(page, encoding="utf-8")
        return out


def esc(value: object) -> str:
    """``str(value)`` escaped for HTML text and attribute values (quotes included)."""
    return html.escape(str(value), quote=True)


# The scheme and authority of anything URL-looking (user, host or [IPv6], port); whether it is
# a local server is for config.is_local_server alone to say, so the rule lives in one place.
_URL_ORIGIN = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://"
    r"(?:[^\s/?#@\[\]<>\"'`]*@)?"
    r"(?:\[[^\s\]/?#<>\"'`]*\]|[^\s/?#:@\[\]<>\"'`,;()\\]+)"
    r"(?::\d*)?"
)
LOCAL_SERVER = "(local server)"
"""What a local server's scheme, host and port become in shown text."""


def mask_local(value: object) -> str:
    """``str(value)`` with every local server's origin replaced by ``(local server)`` (unescaped).

    A URL whose host :func:`ecomviz_nb.config.is_local_server` calls local (``127.0.0.1``,
    ``127.1``, ``app.localhost``, ``[::ffff:127.0.0.1]``…) loses its scheme, user, host and
    port; its path stays. Other URLs stay whole. A sandbox's address means nothing in a saved
    notebook or a shared page, and its port changes every run.
    """
    return _URL_ORIGIN.sub(_mask_origin, str(value))


def _mask_origin(match: re.Match[str]) -> str:
    origin = match.group(0)
    try:
        local = is_local_server(origin)
    except ValueError:  # no host after all (``http://:80``): nothing to hide
        return origin
    return LOCAL_SERVER if local else origin


def shareable(value: object) -> str:
    """Escaped text (as :func:`esc`) with local servers' origins masked (as :func:`mask_local`).

    The text to use for anything shown that may hold an image URL: captions, titles, alt
    text, placeholder reasons.

    Returns:
        Text safe in HTML content and in a double-quoted attribute.
    """
    return html.escape(mask_local(value), quote=True)


def uid(kind: str) -> str:
    """A class name or id unique to one call (``ev-grid-1a2b3c4d``): styles never collide."""
    return f"ev-{kind}-{uuid.uuid4().hex[:8]}"


def safe_css_color(value: object) -> str | None:
    """The value if it can go into CSS as is (a plain colour word or ``#hex``), else None."""
    if isinstance(value, str) and (
        re.fullmatch(r"[a-zA-Z]{1,20}", value) or re.fullmatch(r"#[0-9a-fA-F]{3,8}", value)
    ):
        return value
    return None


def swatch(color: object, rgb: object = None) -> str:
    """A colour dot; grey (from the stylesheet) unless the colour is provably safe CSS.

    Args:
        color: a colour name as a server sent it (used only if :func:`safe_css_color` allows).
        rgb: three whole numbers 0-255, preferred over ``color`` when valid.
    """
    if (
        isinstance(rgb, (list, tuple))
        and len(rgb) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb)
    ):
        return f'<i class="ev-sw" style="background:rgb({rgb[0]},{rgb[1]},{rgb[2]})"></i>'
    css = safe_css_color(color)
    if css is None:
        return '<i class="ev-sw"></i>'
    # An unknown colour word is an invalid declaration: the browser keeps the grey before it.
    return f'<i class="ev-sw" style="background:#d4d4d8;background:{css}"></i>'


def aspect_label(width: int, height: int) -> str:
    """``"16:9"`` for a 256x144 thumbnail: the nearest common ratio (within 5 %), else a
    simple fraction (``"2:1"``, ``"5:4"``, within 1.5 %), else ``"2.41:1"``."""
    if width <= 0 or height <= 0:
        return "?"
    ratio = width / height
    best = min(COMMON_RATIOS, key=lambda r: abs(math.log(ratio / _ratio(r))))
    if abs(math.log(ratio / _ratio(best))) <= math.log(1.05):
        return best
    for denominator in range(1, 6):
        numerator = round(ratio * denominator)
        if numerator and abs(math.log(ratio * denominator / numerator)) <= math.log(1.015):
            return f"{numerator}:{denominator}"
    return f"{ratio:.2f}:1" if ratio >= 1 else f"1:{1 / ratio:.2f}"


def _ratio(label: str) -> float:
    w, h = label.split(":")
    return int(w) / int(h)


def fit(width: int, height: int, box: int) -> tuple[int, int]:
    """``(width, height)`` scaled so the longer side is ``box``; never below 1 px."""
    scale = box / max(width, height, 1)
    return max(1, round(width * scale)), max(1, round(height * scale))


def placeholder(error: object, *, style: str = "") -> str:
    """The box shown instead of a picture that could not be had, with the reason (escaped, with
    a local server's origin masked: the reason often names the image's URL).

    Args:
        error: why the picture is missing.
        style: extra inline CSS written by the caller (never server text).
    """
    styled = f' style="{style}"' if style else ""
    return f'<span class="ev-x"{styled}>image unavailable<small>{shareable(error)}</small></span>'


def figure(media: str, width: int, caption: str, *, title: str = "") -> str:
    """A ``<figure>`` ``width`` px wide: ``media`` markup over ``caption`` markup.

    The media sits in a ``<details>`` element, so a click opens it larger (up to its embedded
    size, :data:`ZOOM_MAX` px and the width available) where the page carries
    :func:`figure_css` (every view built on :func:`base_css` does), and a second click closes
    it. Both are markup the caller has escaped already; ``title`` is escaped (and a local
    server's origin masked) here.
    """
    hover = f' title="{shareable(title)}"' if title else ""
    # Inline, so no disclosure triangle shows where the page lacks figure_css.
    summary = '<summary style="display:block;list-style:none">'
    return (
        f'<figure style="width:{width}px"><details class="ev-z">{summary}{media}</summary>'
        f"</details><figcaption{hover}>{caption}</figcaption></figure>"
    )


ZOOM_MAX = 768
"""The widest an opened figure is drawn, CSS px (the size of the large embedded pictures)."""


def figure_css(r: str) -> str:
    """The click-to-enlarge view and the wrapping captions of :func:`figure` inside ``r``.

    Closed, a figure looks as its view styles it. Open, its picture is drawn at the size it
    was embedded at, up to :data:`ZOOM_MAX` px and the width available, and the figure grows
    to hold it. Captions wrap: a caption is never cut.
    """
    return (
        f"{r} .ev-z>summary{{display:block;list-style:none;cursor:zoom-in}}"
        f"{r} .ev-z>summary::-webkit-details-marker{{display:none}}"
        f"{r} .ev-z[open]>summary{{cursor:zoom-out}}"
        # The figure's width is inline (it sizes the closed caption): only !important beats it.
        f"{r} figure:has(>.ev-z[open]){{width:auto!important;max-width:100%}}"
        f"{r} .ev-z[open] img{{width:auto;height:auto;max-width:min(100%,{ZOOM_MAX}px);"
        f"max-height:{ZOOM_MAX}px}}"
        f"{r} figure figcaption,{r} figure figcaption>span{{white-space:normal;"
        f"overflow:visible;text-overflow:clip;overflow-wrap:anywhere}}"
    )


def base_css(r: str) -> str:
    """Font, colour swatches, the placeholder box and :func:`figure_css`, for the element
    matching selector ``r``."""
    return figure_css(r) + (
        f"{r}{{{FONT}}}{r} .ev-sw{{display:inline-block;width:10px;height:10px;"
        f"border-radius:50%;background:{SWATCH_GREY};box-shadow:inset 0 0 0 1px {SWATCH_RING};"
        f"margin-right:4px;vertical-align:-1px}}{r} .ev-x{{display:flex;flex-direction:column;"
        f"justify-content:center;gap:4px;padding:10px;color:{WARN_FG};font-size:12px;"
        f"text-align:center;overflow-wrap:anywhere;box-sizing:border-box;background:{WARN_BG};"
        f"border:1px dashed {WARN_FG};border-radius:6px}}"
        f"{r} .ev-x small{{color:{FG_MUTED};font-size:11px}}"
    )
