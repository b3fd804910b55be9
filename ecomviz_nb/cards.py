"""Cards: products, images, try-ons and jobs as compact self-contained HTML."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

from .htmlkit import (
    BG,
    BG_SOFT,
    BORDER,
    FG,
    FG_MUTED,
    HTML,
    aspect_label,
    mask_local,
    shareable,
    swatch,
    uid,
)
from .images import LARGE_SIZE, ImageStore, default_store
from .models import GeneratedImage, Product, TryOnResult
from .tiles import Item, fetch_pics, grid_css, item_of, tile_html

__all__ = ["JobLike", "image_card", "job_card", "product_card", "try_on_card"]

_NONE_YET = '<div class="ev-note">none yet</div>'
MAX_THUMBS = 12
"""Thumbnails a card shows before it says "+N more"."""


class JobLike(Protocol):
    """What a card needs of a job (``ev.GenerationJob``, ``ev.TryOnJob`` and async twins)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str:
        """``"generate"`` or ``"tryon"``."""

    @property
    def state(self) -> str: ...
    @property
    def expected(self) -> int: ...
    @property
    def images(self) -> list[GeneratedImage]: ...


# Badge colours are JupyterLab's palette, the same in every theme: a light chip, dark text.
_OK = "background:var(--jp-success-color3,#dafbe1);color:var(--md-green-900,#116329)"
_BAD = "background:var(--jp-error-color3,#ffebe9);color:var(--md-red-900,#a40e26)"
_RUN = "background:var(--jp-brand-color4,#ddf4ff);color:var(--md-blue-900,#0550ae)"


def _card_css(root: str, size: int) -> str:
    r = f".{root}"
    return grid_css(root, size, LARGE_SIZE) + (
        f"{r}{{border:1px solid {BORDER};border-radius:10px;padding:14px 16px;max-width:820px;"
        f"background:{BG};box-sizing:border-box}}"
        f"{r} .ev-hd{{display:flex;align-items:center;gap:10px;flex-wrap:wrap}}"
        f"{r} .ev-name{{font-size:16px;font-weight:600}}"
        f"{r} .ev-sub{{color:{FG_MUTED};font-size:12px;margin-top:3px}}"
        f"{r} code{{font:11.5px ui-monospace,SFMono-Regular,Menlo,monospace;background:{BG_SOFT};"
        f"padding:1px 5px;border-radius:4px;color:{FG}}}{r} .ev-sec{{margin-top:14px}}"
        f"{r} .ev-k{{font-size:11px;font-weight:600;letter-spacing:.05em;text-transform:uppercase;"
        f"color:{FG_MUTED};margin-bottom:6px}}{r} .ev-k small{{margin-left:6px;font-weight:400}}"
        f"{r} .ev-chips{{display:flex;flex-wrap:wrap;gap:6px}}"
        f"{r} .ev-chip{{display:inline-flex;align-items:center;padding:2px 9px 2px 4px;"
        f"border:1px solid {BORDER};border-radius:999px;font-size:12px}}"
        f"{r} .ev-chip .ev-sw{{width:14px;height:14px}}"
        f"{r} dl.ev-facts{{display:grid;grid-template-columns:max-content minmax(0,1fr);"
        f"gap:3px 16px;margin:0;font-size:12.5px}}"
        f"{r} dl.ev-two{{grid-template-columns:repeat(2,max-content minmax(0,1fr))}}"
        f"{r} dl.ev-facts dt{{color:{FG_MUTED};font-weight:400}}"
        f"{r} dl.ev-facts dd{{margin:0;overflow-wrap:anywhere}}"
        f"{r} .ev-badge{{font-size:11.5px;font-weight:600;padding:2px 9px;border-radius:999px;"
        f"background:{BG_SOFT};color:{FG}}}{r} .ev-ok{{{_OK}}}{r} .ev-bad{{{_BAD}}}"
        f"{r} .ev-run{{{_RUN}}}"
        f"{r} .ev-bar{{height:8px;background:{BG_SOFT};border-radius:4px;overflow:hidden;"
        f"width:360px;max-width:100%;margin:2px 0 6px;box-shadow:inset 0 0 0 1px {BORDER}}}"
        f"{r} .ev-bar>span{{display:block;height:100%;"
        f"background:var(--jp-success-color1,#2da44e);border-radius:4px}}"
        f"{r} .ev-more,{r} .ev-note{{font-size:12px;color:{FG_MUTED};margin-top:8px}}"
        f"{r} .ev-cols{{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}}"
        f"{r} .ev-cols>dl{{flex:1 1 260px;min-width:0}}"
    )


def _card(root: str, size: int, body: str) -> HTML:
    return HTML(f'<div class="{root}"><style>{_card_css(root, size)}</style>{body}</div>')


def _header(title: str, badge: str, sub: str) -> str:
    """Title, optional status badge, and a grey line under it (all escaped markup)."""
    return (
        f'<div class="ev-hd"><span class="ev-name">{title}</span>{badge}</div>'
        f'<div class="ev-sub">{sub}</div>'
    )


def _section(title: str, body: str, count: int | None = None) -> str:
    counted = f"<small>{count}</small>" if count is not None else ""
    return f'<div class="ev-sec"><div class="ev-k">{title}{counted}</div>{body}</div>'


def _badge(status: str) -> str:
    low = status.lower()
    kind = (
        "ev-ok"
        if low == "completed"
        else "ev-bad"
        if low in ("failed", "error", "canceled", "cancelled", "rejected", "unknown")
        else "ev-run"
    )
    return f'<span class="ev-badge {kind}">{shareable(status)}</span>'


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _thumbs(store: ImageStore, items: Sequence[Item], size: int, *, limit: int = MAX_THUMBS) -> str:
    """Tiles for the first ``limit`` items (768 px embedded: a click opens one sharp), then a
    "+N more" note."""
    shown = list(items[:limit])
    pics = fetch_pics(store, shown, LARGE_SIZE)
    tiles = "".join(
        tile_html(it, pic, size, i, details=False, zoom=LARGE_SIZE)
        for i, (it, pic) in enumerate(zip(shown, pics, strict=True))
    )
    more = len(items) - len(shown)
    note = f'<div class="ev-more">+{more} more (ev.show_images shows all)</div>' if more else ""
    return f'<div class="ev-g">{tiles}</div>{note}'


def _facts(pairs: Sequence[tuple[str, str]], *, two: bool = False) -> str:
    """A definition list (in two column pairs if ``two``); values are escaped markup already."""
    rows = "".join(f"<dt>{shareable(k)}</dt><dd>{v}</dd>" for k, v in pairs if v)
    return f'<dl class="ev-facts{" ev-two" if two else ""}">{rows}</dl>' if rows else ""


def _scalar(value: Any) -> str | None:
    """Short escaped text for a plain value or a list of them; None for nested data."""
    if isinstance(value, bool) or value is None:
        return None if value is None else ("yes" if value else "no")
    if isinstance(value, float):
        return shareable(f"{value:g}")
    if isinstance(value, (int, str)):
        text = mask_local(value)  # before the cut, which could leave half an address
        return shareable(text if len(text) <= 120 else text[:119] + "…")
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value)
    ):
        return _scalar(", ".join(str(v) for v in value[:12]))
    return None


def product_card(product: Product, *, store: ImageStore | None = None, size: int = 96) -> HTML:
    """A card: name, id, colour swatches, analysis facts and generated-image thumbnails."""
    root = uid("card")
    rgb = {}
    dominant = product.ai_analysis.get("dominant_colors")
    for entry in dominant if isinstance(dominant, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            rgb[entry["name"]] = entry.get("rgb")
    chips = "".join(
        f'<span class="ev-chip">{swatch(c, rgb.get(c))}{shareable(c)}</span>'
        for c in product.colors
    )
    facts = [
        (key.replace("_", " "), text)
        for key, value in product.ai_analysis.items()
        if (text := _scalar(value)) is not None
    ][:10]
    images = product.generated_images
    created = f" · created {shareable(_when(product.created_at))}" if product.created_at else ""
    body = _header(
        shareable(product.name or "Untitled product"),
        "",
        f"<code>{shareable(product.id)}</code>{created}",
    )
    if chips:
        body += _section("Colours", f'<div class="ev-chips">{chips}</div>')
    if facts:
        body += _section("Analysis", _facts(facts, two=True))
    thumbs = _thumbs(store or default_store(), [item_of(i) for i in images], size) if images else ""
    body += _section("Generated images", thumbs or _NONE_YET, len(images))
    return _card(root, size, body)


def image_card(image: GeneratedImage, *, store: ImageStore | None = None, size: int = 200) -> HTML:
    """A card: the image (click to enlarge) beside its type, colour, ratio and parameters."""
    root = uid("card")
    item = item_of(image)
    pic = fetch_pics(store or default_store(), [item], LARGE_SIZE)[0]
    known = {"imageType", "color", "platform", "region"}
    pairs = [
        ("colour", f"{swatch(image.color)}{shareable(image.color)}" if image.color else ""),
        ("aspect ratio", aspect_label(pic.width, pic.height) if pic.uri else ""),
        ("platform", shareable(image.platform or "")),
        ("region", shareable(image.region or "")),
        ("generated", shareable(_when(image.generated_at))),
        ("file", f"<code>{shareable(image.file_path)}</code>" if image.file_path else ""),
    ] + [
        (k, _scalar(v) or shareable(mask_local(repr(v))[:120]))
        for k, v in image.params.items()
        if k not in known
    ]
    tile = tile_html(item, pic, size, 0, details=False, zoom=LARGE_SIZE)
    body = (
        f'<div class="ev-hd"><span class="ev-name">{shareable(image.image_type or "image")}</span>'
        f'</div><div class="ev-cols ev-sec">{tile}'
        f"{_facts(pairs)}</div>"
    )
    return _card(root, size, body)


def try_on_card(result: TryOnResult, *, store: ImageStore | None = None, size: int = 120) -> HTML:
    """A card: status, id, and the person, clothing and result images side by side."""
    root = uid("card")
    raw = result.raw.get("clothingImages")
    infos = (
        [e.get("info") if isinstance(e, dict) else None for e in raw]
        if isinstance(raw, list)
        else []
    )
    person = [item_of(result.person_image, "person")] if result.person_image else []
    clothing = [
        item_of(
            url,
            f"clothing {i + 1}"
            + (f" · {infos[i]}" if i < len(infos) and isinstance(infos[i], str) else ""),
        )
        for i, url in enumerate(result.clothing_images)
    ]
    results = [item_of(img, f"result {i + 1}") for i, img in enumerate(result.images)]
    store = store or default_store()
    columns = "".join(
        f"<div>{_section(name, _thumbs(store, items, size) if items else _NONE_YET, len(items))}"
        "</div>"
        for name, items in (("Person", person), ("Clothing", clothing), ("Result", results))
    )
    dates = "".join(
        f" · {label} {shareable(_when(moment))}"
        for label, moment in (("created", result.created_at), ("updated", result.updated_at))
        if moment
    )
    body = _header(
        "Virtual try-on", _badge(result.status), f"<code>{shareable(result.id)}</code>{dates}"
    )
    body += f'<div class="ev-cols">{columns}</div>'
    return _card(root, size, body)


def _request_summary(kind: str, request: Any) -> str:
    """What was asked for, from the ledger's copy of the request body (escaped)."""
    if not isinstance(request, dict):
        return ""
    parts = []
    if kind == "generate":
        for entry in request.get("imageType") or []:
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("vto"), list):
                parts.append(f"vto {', '.join(str(c) for c in entry['vto'])}")
            for name in ("main", "detail", "facebook"):
                if name in entry:
                    parts.append(f"{name} x{entry[name]} {entry.get('aspectRatio', '')}".strip())
        parts += [str(request[k]) for k in ("platform", "region") if request.get(k)]
    else:
        for i, entry in enumerate(request.get("clothingImageUrls") or []):
            info = entry.get("info") if isinstance(entry, dict) else None
            parts.append(f"clothing {i + 1}" + (f": {info}" if info else ""))
        if request.get("aspectRatio"):
            parts.append(str(request["aspectRatio"]))
    return shareable(" · ".join(parts))


def job_card(job: JobLike, *, store: ImageStore | None = None, size: int = 96) -> HTML:
    """A card: job id, kind, status, done/expected with a bar, elapsed time, images so far."""
    root = uid("card")
    record = getattr(job, "record", None)
    status = str(getattr(record, "status", None) or job.state)
    done, expected = len(job.images), max(0, int(job.expected))
    percent = 100 if expected == 0 else min(100, round(100 * done / expected))
    submitted = getattr(record, "submitted_at", None)
    elapsed = ""
    if isinstance(submitted, (int, float)):
        stamps = [i.generated_at.timestamp() for i in job.images if i.generated_at]
        finished = job.state in ("completed", "failed", "rejected")
        end = max(stamps, default=0) if finished else time.time()
        if end >= submitted:
            elapsed = f" · {_duration(end - submitted)}"
    generation = job.kind == "generate"  # the other kind is "tryon"
    kind = "Generation job" if generation else "Try-on job"
    target = getattr(record, "remote_id", None)
    summary = _request_summary(getattr(record, "kind", ""), getattr(record, "request", None))
    sub = f"<code>{shareable(job.id)}</code>"
    if target:
        sub += f" · {'product' if generation else 'try-on'} <code>{shareable(target)}</code>"
    bar = (
        f'<div class="ev-bar" role="progressbar" aria-valuenow="{done}" aria-valuemax="{expected}">'
        f'<span style="width:{percent}%"></span></div>'
        f"<div>{done} / {expected} images · {shareable(job.state)}{elapsed}</div>"
    )
    body = _header(kind, _badge(status), sub) + '<div class="ev-sec">' + bar
    body += (f'<div class="ev-note">{summary}</div>' if summary else "") + "</div>"
    if job.images:
        thumbs = _thumbs(store or default_store(), [item_of(i) for i in job.images], size)
        body += _section("Images so far", thumbs, len(job.images))
    return _card(root, size, body)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    return (
        f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
    )
