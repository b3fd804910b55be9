"""The comparison matrix of a sweep: one row per run, its images at one height, sources first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..htmlkit import (
    BORDER,
    BORDER_SOFT,
    FG_MUTED,
    FONT,
    WARN_BG,
    WARN_FG,
    aspect_label,
    esc,
    figure,
    figure_css,
    placeholder,
    uid,
)
from ..images import LARGE_SIZE, THUMB_SIZE, ImageError, ImageStore, default_store
from ..tiles import data_uri_size
from .plan import SweepRun, show_value

__all__ = ["matrix_html", "plan_html"]

# A dot in the state's colour before text in the body colour: no green or red of JupyterLab's
# reads as text on every background of both themes (a panel, a card, a report section).
_STATE_COLOURS = {
    "completed": "var(--jp-success-color1,#1a7f37)",
    "failed": "var(--jp-error-color1,#b00020)",
    "running": "var(--jp-brand-color1,#0969da)",
}


def _figure(uri: str | ImageError, height: int, head: str, alt: str, rest: str = "") -> str:
    """One image ``height`` px high captioned ``head · ratio · rest`` (escaped here), or a
    placeholder."""
    if isinstance(uri, ImageError):
        text = " · ".join(p for p in (head, rest) if p)
        return figure(placeholder(uri, style=f"width:{height}px"), height, esc(text))
    w, h = data_uri_size(uri)
    width = max(1, round(height * w / max(h, 1)))
    text = " · ".join(p for p in (head, aspect_label(w, h), rest) if p)
    media = f'<img src="{uri}" width="{width}" height="{height}" alt="{esc(alt)}">'
    return figure(media, width, esc(text), title=text)


_SIZES = (THUMB_SIZE, 2 * THUMB_SIZE, LARGE_SIZE)


def _embedded(store: ImageStore, urls: list[str], height: int) -> list[str | ImageError]:
    """Data URIs at 256 px, and again at 512 or 768 px where a side is drawn over 128 px: a
    click opens every picture to at least twice its drawn size (up to 768 px) while the
    matrix stays small (a sweep panel redraws it as runs finish)."""
    uris = store.data_uris(urls) if urls else []
    larger: dict[int, list[int]] = {}
    for i, uri in enumerate(uris):
        if isinstance(uri, str):
            w, h = data_uri_size(uri)
            drawn = height * max(w, h) / max(h, 1)  # the drawn picture's longer side
            size = next((s for s in _SIZES if s >= 2 * drawn), LARGE_SIZE)
            if size > THUMB_SIZE:
                larger.setdefault(size, []).append(i)
    for size, found in larger.items():
        again = store.data_uris([urls[i] for i in found], size)
        for i, uri in zip(found, again, strict=True):
            if isinstance(uri, str):  # else the 256 px one stays
                uris[i] = uri
    return uris


def _css(root: str, height: int) -> str:
    # Two classes beat JupyterLab's own table rules (right-aligned cells, striped rows).
    r = f".{root}.ev-matrix"
    return figure_css(r) + (
        f"{r}{{{FONT}}}"
        f"{r} table{{border-collapse:collapse}}{r} tbody tr:nth-child(n){{background:none}}"
        f"{r} th,{r} td{{padding:8px 10px;color:inherit;"
        f"border-bottom:1px solid {BORDER};vertical-align:top;"
        f"text-align:left}}{r} thead th{{font-size:12px;color:{FG_MUTED};"
        f"font-weight:600;white-space:nowrap}}{r} tbody th{{font-weight:600;white-space:nowrap}}"
        f"{r} .ev-src{{border-right:1px solid {BORDER}}}"
        f"{r} .ev-row{{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}}"
        f"{r} figure{{margin:0;flex:none;min-width:96px}}"
        f"{r} figure img{{display:block;height:{height}px;"
        f"border-radius:6px;box-shadow:0 0 0 1px {BORDER_SOFT}}}"
        f"{r} figcaption{{font-size:11px;color:{FG_MUTED};padding-top:4px;"
        f"overflow-wrap:anywhere}}{r} .ev-x{{display:flex;flex-direction:column;gap:4px;"
        f"height:{height}px;justify-content:center;padding:8px;box-sizing:border-box;"
        f"color:{WARN_FG};font-size:12px;background:{WARN_BG};border:1px dashed {WARN_FG};"
        f"border-radius:6px}}{r} .ev-x small{{color:{FG_MUTED};font-size:11px}}"
        f"{r} .ev-state{{font-size:12px;margin-top:6px}}{r} .ev-dot{{display:inline-block;"
        f"width:8px;height:8px;border-radius:50%;margin-right:6px;vertical-align:0}}"
        f"{r} .ev-title{{font-weight:600;"
        f"margin:0 0 8px}}{r} .ev-title small{{font-weight:400;margin-left:8px;"
        f"color:{FG_MUTED}}}"
    )


def _state(run: SweepRun) -> str:
    colour = _STATE_COLOURS.get(run.state, FG_MUTED)
    text = run.state if run.state == run.status or not run.status else f"{run.state} · {run.status}"
    if run.error:
        text = f"{run.state}: {run.error}"
    dot = f'<i class="ev-dot" style="background:{colour}"></i>'
    return f'<div class="ev-state">{dot}{esc(text)}</div>'


def _caption(image: Any) -> tuple[str, str]:
    """The image type (first, before the ratio) and its colour."""
    kind, colour = getattr(image, "image_type", None), getattr(image, "color", None)
    return str(kind or ""), str(colour or "")


def matrix_html(
    runs: Sequence[SweepRun],
    axes: Sequence[str],
    sources: Sequence[tuple[str, str]],
    *,
    title: str = "",
    height: int = 128,
    store: ImageStore | None = None,
) -> str:
    """The matrix as one HTML fragment: every image a data URI, every string escaped.

    Args:
        runs: the rows, in order.
        axes: the varied fields: one header column each.
        sources: ``(label, url)`` of the source pictures, shown once in the first column.
        height: the height of every picture, px.
    """
    store = store or default_store()
    # One look at each run's images: a sweep still running may add some meanwhile.
    shown = [list(run.images) for run in runs]
    wanted = [url for _, url in sources] + [img.url for images in shown for img in images]
    uris = iter(_embedded(store, wanted, height))
    src = "".join(_figure(next(uris), height, label, label) for label, _ in sources)
    root = uid("mx")
    head = "".join(f"<th>{esc(axis)}</th>" for axis in axes)
    body = ""
    for i, (run, images) in enumerate(zip(runs, shown, strict=True)):
        cells = "".join(f"<th>{esc(show_value(run.params.get(a, '')))}</th>" for a in axes)
        figs = "".join(
            _figure(next(uris), height, kind, run.label, colour)
            for kind, colour in map(_caption, images)
        )
        first = (
            f'<td class="ev-src" rowspan="{len(runs)}"><div class="ev-row">{src}</div></td>'
            if i == 0 and sources
            else ""
        )
        body += f"<tr>{first}{cells}<td><div class='ev-row'>{figs}</div>{_state(run)}</td></tr>"
    done = sum(run.state == "completed" for run in runs)
    count = sum(len(images) for images in shown)
    heading = (
        f'<div class="ev-title">{esc(title or "Sweep")}<small>{len(runs)} runs · {done} '
        f"completed · {count} images</small></div>"
    )
    source_head = "<th>Source</th>" if sources else ""
    return (
        f'<div class="{root} ev-matrix"><style>{_css(root, height)}</style>{heading}<table>'
        f"<thead><tr>{source_head}{head}<th>Images</th></tr></thead><tbody>{body}</tbody>"
        "</table></div>"
    )


def plan_html(runs: Sequence[SweepRun], axes: Sequence[str], kind: str) -> str:
    """A plan before it is sent: how many runs and images, and the combinations."""
    images = sum(run.expected for run in runs)
    root = uid("mx")
    head = "".join(f"<th>{esc(a)}</th>" for a in axes)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{esc(show_value(run.params.get(a, '')))}</td>" for a in axes)
        + f"<td>{run.expected}</td></tr>"
        for run in runs
    )
    return (
        f'<div class="{root} ev-matrix"><style>{_css(root, 64)}</style><div class="ev-title">'
        f"{esc(kind)} sweep plan<small>{len(runs)} runs · {images} images · nothing sent "
        f"yet</small></div><table><thead><tr>{head}<th>images</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
