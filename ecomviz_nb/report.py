"""``ev.Report``: products, runs and try-ons gathered into one self-contained HTML page."""

from __future__ import annotations

import argparse
import html
import io
import os
import re
import sys
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image

from . import images
from .display import HTML, aspect_label
from .errors import EcomVizError, JobFailedError
from .models import GeneratedImage, Product, TryOnResult
from .runs import BatchResult, SweepResult

__all__ = ["LARGE_BUDGET", "THUMB_BUDGET", "Report", "Section", "main_report", "report_from_ledger"]

THUMB_BUDGET = 20_000
"""Most bytes of one embedded thumbnail: its JPEG quality drops until it fits."""
LARGE_BUDGET = 52_000
"""Most bytes of one embedded larger view, so that a 20-image report stays under 2 MB."""
_QUALITIES = (72, 62, 52, 42, 34)
_TILE = 184
_LOOPBACK = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://(?:localhost|127(?:\.\d{1,3}){3}|0\.0\.0\.0|\[::1?\])(?::\d+)?"
)
_NONE_YET = '<p class="evr-empty">none yet</p>'
_FLAGS = (("removeBrandLogo", "remove logo"), ("changePortrait", "change portrait"))
_URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href"}
_BANNED = {"script", "iframe", "frame", "object", "embed", "applet", "link", "meta", "base", "form"}
# "&" stands for ".evr .evr-": every rule is scoped, so the inline view leaves a notebook alone.
_CSS = """.evr{font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;
background:#f3f4f6}.evr *{box-sizing:border-box}.evr small{font-size:12px;font-weight:400;
color:#6b7280;margin-left:6px}&head{background:#111827;color:#f9fafb;padding:26px 36px 22px}
&head h1{margin:0;font-size:24px;font-weight:650;overflow-wrap:anywhere}&head p{margin:6px 0 0;
color:#9ca3af;font-size:13px}&main{max-width:1240px;margin:0 auto;padding:24px 36px 40px}
&toc,&sec{background:#fff;border:1px solid #e5e7eb;border-radius:12px;padding:20px 24px;
margin:0 0 20px;box-shadow:0 1px 2px rgba(0,0,0,.04)}&toc h2,&col h3{font-size:12px;
font-weight:600;text-transform:uppercase;letter-spacing:.06em;color:#6b7280;margin:0 0 10px}
&toc ol{margin:0;padding-left:22px;columns:2 320px;column-gap:32px}&toc li{padding:2px 0;
break-inside:avoid;overflow-wrap:anywhere}&toc a{color:#1d4ed8;text-decoration:none}
&sec h2{margin:0 0 8px;font-size:18px;overflow-wrap:anywhere}&facts{display:flex;flex-wrap:wrap;
gap:6px 8px;margin:0 0 16px;padding:0;list-style:none;font-size:12px}&facts li{padding:2px 10px;
background:#f3f4f6;border-radius:999px;overflow-wrap:anywhere}&facts b{font-weight:400;
color:#6b7280;margin-right:5px}&note,&err{margin:0 0 16px;padding:8px 12px;overflow-wrap:anywhere;
border-radius:0 6px 6px 0}&note{border-left:3px solid #93c5fd;background:#eff6ff;color:#1e3a8a}
&err{border-left:3px solid #f87171;background:#fef2f2;color:#991b1b}&cols{display:flex;
flex-wrap:wrap;gap:20px 32px;align-items:flex-start}&col{min-width:0}&col:last-child{
flex:1 1 240px}&col+.evr-col{padding-left:32px;border-left:1px solid #e5e7eb}&groups{gap:0 36px;
display:flex;flex-wrap:wrap}&group{font-weight:600;font-size:13px;margin:0 0 8px}&grid{gap:16px;
display:flex;flex-wrap:wrap;margin:0 0 16px}&t{width:184px;margin:0}
&t summary{display:block;list-style:none;cursor:zoom-in}&t summary::-webkit-details-marker{
display:none}&f{display:flex;align-items:center;
justify-content:center;width:184px;height:184px;background:#f4f4f5;border:1px solid #e4e4e7;
border-radius:8px;overflow:hidden}&f img{display:block;max-width:100%;max-height:100%;width:auto;
height:auto;margin:0}&z{display:none}&t details[open] .evr-z{inset:0;display:flex;position:fixed;
z-index:1000;flex-direction:column;align-items:center;justify-content:center;gap:12px;
background:rgba(17,24,39,.92);cursor:zoom-out}&z img{max-width:94vw;max-height:86vh;
border-radius:6px;background:#fff;box-shadow:0 10px 40px rgba(0,0,0,.5)}&z em{color:#e5e7eb;
font-style:normal;font-size:13px}&t figcaption{font-weight:600;font-size:12.5px;margin:7px 0 3px;
overflow-wrap:anywhere}table.evr-p{width:100%;margin:0;border:0;border-collapse:collapse;
font-size:11.5px}&p th,&p td{padding:2px 0;text-align:left;border:0;vertical-align:top;
background:none}&p th{font-weight:400;color:#6b7280;padding-right:10px;white-space:nowrap}
&p td{overflow-wrap:anywhere}&p tr+tr>*{border-top:1px solid #f0f1f3}&x{display:flex;
flex-direction:column;gap:4px;padding:10px;color:#9a3412;font-size:12px;text-align:center;
overflow-wrap:anywhere}&x small{margin:0}&empty{color:#6b7280;margin:0}
@media print{&z{display:none!important}&sec{break-inside:avoid}}""".replace("&", ".evr .evr-")


def _esc(value: object) -> str:
    """Escaped text; a loopback server's address is dropped (it means nothing once shared)."""
    return html.escape(_LOOPBACK.sub("(local server)", str(value)), quote=True)


def _when(moment: datetime | float | None) -> str:
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


class _Pic(NamedTuple):
    thumb: str | None = None
    large: str | None = None
    width: int = 0
    height: int = 0
    error: str = "no image URL"


@dataclass
class _Tile:
    pic: _Pic
    caption: str
    params: list[tuple[str, str]]
    hover: str = ""


_Groups = list[tuple[str, list[_Tile]]]


@dataclass
class Section:
    """One part of a report: a heading, facts, a note, and columns of labelled image groups."""

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    columns: list[tuple[str, _Groups]] = field(default_factory=list)
    note: str | None = None
    error: str | None = None
    """Why the section is incomplete (say, a job that could not be fetched)."""
    fragment: str = ""
    """Markup of an :class:`HTML` item, checked to hold no script and no external URL."""

    @property
    def image_count(self) -> int:
        """How many pictures the section shows."""
        tiles = sum(len(tiles) for _, groups in self.columns for _, tiles in groups)
        return tiles + self.fragment.count("<img ")


def _fitted(data: bytes, size: int, budget: int) -> bytes:
    """A JPEG of at most ``size`` px at the best quality that stays within ``budget`` bytes."""
    for quality in _QUALITIES:
        out = images.thumbnail_bytes(data, size, quality=quality)
        if len(out) <= budget:
            return out
    return out if size < 128 else _fitted(data, size * 3 // 4, budget)  # very busy pictures


def _embed(store: images.ImageStore, source: images.ImageSource) -> _Pic:
    """A picture's thumbnail and larger view as data URIs; a failure becomes a placeholder."""
    try:
        thumb = store.thumbnail(source, images.THUMB_SIZE)
        if len(thumb) > THUMB_BUDGET:
            thumb = _fitted(store.original(source), images.THUMB_SIZE, THUMB_BUDGET)
        large = _fitted(store.original(source), images.LARGE_SIZE, LARGE_BUDGET)
        with Image.open(io.BytesIO(thumb)) as opened:
            width, height = opened.size
    except Exception as exc:  # one bad picture must not sink the report
        return _Pic(error=str(exc) or type(exc).__name__)
    return _Pic(images.data_uri(thumb), images.data_uri(large), width, height, "")


def _measured(pic: _Pic) -> str:
    return f"{aspect_label(pic.width, pic.height)} (measured)" if pic.thumb else "unknown"


def _params(image: GeneratedImage, pic: _Pic, request: dict[str, Any]) -> list[tuple[str, str]]:
    """Type, aspect ratio, colour, platform, region, language and flags of one image."""
    entries = request.get("imageType")
    asked = {
        e.get("aspectRatio")
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict) and image.image_type in e
    }
    if "personImageUrl" in request:  # a try-on
        asked = {request.get("aspectRatio")}
    ratio = asked.pop() if len(asked) == 1 else None  # None if the request names no one ratio
    rows = [("type", image.image_type or "unknown")]
    rows.append(("aspect ratio", ratio if isinstance(ratio, str) else _measured(pic)))
    for label, value in (
        ("colour", image.color),
        ("platform", image.platform or request.get("platform")),
        ("region", image.region or request.get("region")),
        ("language", request.get("language")),
        ("height", request.get("height") and f"{request['height']} cm"),
        ("weight", request.get("weight") and f"{request['weight']} kg"),
    ):
        if value:
            rows.append((label, str(value)))
    if "imageType" in request:
        flags = [name for key, name in _FLAGS if request.get(key) is True]
        rows.append(("flags", ", ".join(flags) or "none"))
    if "personImageUrl" in request:
        rows.append(("watermark", "yes" if request.get("watermark", True) else "no"))
    return rows


class _Unsafe(HTMLParser):
    """Collects what in a fragment would run code or load something from elsewhere."""

    found: list[str]
    css: list[str]
    """Style sheets and style attributes: where a url() or @import could load something.
    Text is not searched: a server's message may *mention* javascript: and stays text."""
    in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [f"<{tag}>"] if tag in _BANNED else []
        self.in_style = tag == "style"
        for name, value in attrs:
            text = (value or "").strip().lower()
            if name.startswith("on") or (
                name in _URL_ATTRS and not text.startswith(("data:image/", "#"))
            ) or "javascript:" in text:
                self.found.append(f"{name}={text[:60]!r}")
            if name == "style":
                self.css.append(text)

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.css.append(data)


def _check_fragment(markup: str) -> str:
    check = _Unsafe()
    check.found, check.css = [], []
    check.feed(markup)
    check.close()
    css = "\n".join(check.css)
    if re.search(r"(?i)url\(\s*['\"]?(?!data:image/|#)|@import|javascript:", css):
        check.found.append("a CSS url() or @import that is not an embedded image")
    if check.found:
        raise ValueError(
            "an HTML fragment in a report may hold no script and no external URL; found "
            + ", ".join(check.found[:5])
        )
    return markup


class Report:
    """Products, jobs and try-ons in one page: shown inline, saved as one self-contained file.

    >>> report = ev.Report("Spring catalogue")
    >>> report.add(product, sources=urls).add(job).add(vto)
    >>> report.save("build/report.html")

    Every picture is embedded twice: a 256 px thumbnail and a 768 px view that a click opens
    (CSS only), with the request's parameters under it. The page holds no script and no
    external URL, and every string in it is escaped. The inline view shows thumbnails only,
    which keeps notebooks small.

    Args:
        title: the page's heading.
        store: where images come from; default :func:`~ecomviz_nb.images.default_store`.
    """

    def __init__(self, title: str, *, store: images.ImageStore | None = None) -> None:
        self.title = title
        self.store = store
        self.sections: list[Section] = []
        self._uid = f"evr{uuid.uuid4().hex[:6]}"
        self._pics: dict[str, _Pic] = {}

    def __repr__(self) -> str:
        count = sum(s.image_count for s in self.sections)
        return f"<Report {self.title!r}: {len(self.sections)} sections, {count} images>"

    def add(
        self,
        item: Any,
        *,
        title: str | None = None,
        sources: Sequence[str] | None = None,
        note: str | None = None,
    ) -> Report:
        """Add a section (its images are fetched now); returns the report, so calls chain.

        Args:
            item: a Product, a generation job, a try-on job or TryOnResult, a sweep's
                :class:`~ecomviz_nb.runs.SweepResult` (its comparison matrix), a batch's
                :class:`~ecomviz_nb.runs.BatchResult` (counts and latest images), a GeneratedImage
                or a list of images (GeneratedImage, URLs, paths, bytes, PIL images), or an
                :class:`~ecomviz_nb.display.HTML` fragment.
            title: the section's heading (default: from the item).
            sources: source image URLs, shown beside a product's or a job's generated images.
            note: a line of text under the heading.

        Raises:
            TypeError: an item of another kind.
            ValueError: an HTML fragment with a script or an external URL.
        """
        section = self._section(item, sources)
        section.title, section.note = section.title if title is None else title, note
        self.sections.append(section)
        return self

    def _section(self, item: Any, sources: Sequence[str] | None) -> Section:
        if isinstance(item, HTML):
            return Section("Notes", fragment=_check_fragment(str(item)))
        if isinstance(item, SweepResult):
            return _sweep(item)
        if isinstance(item, BatchResult):
            return self._batch(item)
        if isinstance(item, Product):
            if sources is None:  # a server that echoes the source URLs
                sources = _source_urls(item)
            facts = [("product", item.id), ("colours", ", ".join(item.colors))]
            facts.append(("created", _when(item.created_at)))
            columns = self._beside(sources, self._by_type(item.generated_images, {}))
            return Section(item.name or f"Product {item.id}", [f for f in facts if f[1]], columns)
        if isinstance(item, TryOnResult):
            return self._try_on(item, None)
        kind, record = getattr(item, "kind", None), getattr(item, "record", None)
        if record is not None and kind == "try-on":
            return self._try_on(getattr(item, "result", None), item)
        if record is not None and kind == "generation":
            found = list(item.images)
            facts = [("job", item.id), ("product", item.product_id), ("state", item.state)]
            facts.append(("images", f"{len(found)} of {record.expected}"))
            facts.append(("submitted", _when(record.submitted_at)))
            columns = self._beside(sources, self._by_type(found, record.request))
            return Section(f"Generation {item.id}", [f for f in facts if f[1]], columns)
        if isinstance(item, (list, tuple, GeneratedImage)):
            entries = [item] if isinstance(item, GeneratedImage) else list(item)
            return Section("Images", columns=self._beside(sources, self._by_type(entries, {})))
        raise TypeError(f"cannot add a {type(item).__name__} to a report")

    def _batch(self, result: BatchResult, shown: int = 48) -> Section:
        """Counts as facts; the latest items' first images, labelled; failures in the note."""
        counts = result.summary()
        facts = [(k, str(counts[k])) for k in ("items", "completed", "failed", "unknown")]
        facts += [("images", str(counts["images"])), ("items/min", str(counts["per_minute"]))]
        latest = result.latest(shown)
        tiles = self._tiles([image for image, _ in latest], result.request.to_wire())
        for tile, (_, label) in zip(tiles, latest, strict=True):
            tile.caption = f"{label} · {tile.caption}"
        problems = [*result.failed, *result.unknown]
        error = "; ".join(f"{i.label}: {i.state} ({i.error})" for i in problems[:10]) or None
        title = f"Batch {result.name}"
        section = Section(title, facts, [("Latest results", [("", tiles)])], error=error)
        return section

    def _try_on(self, result: TryOnResult | None, job: Any) -> Section:
        """Person | clothing | result, from the result, else from the job's request."""
        request: dict[str, Any] = job.record.request if job is not None else {}
        asked = request.get("clothingImageUrls")
        asked = [c for c in asked if isinstance(c, dict)] if isinstance(asked, list) else []
        person = result.person_image if result else None
        person = person or request.get("personImageUrl")
        clothing = (result.clothing_images if result else None) or [c.get("url") for c in asked]
        people = self._tiles([person] if person else [], {})
        for tile in people:
            tile.caption = "Person"
        garments = self._tiles(clothing, {})
        for i, tile in enumerate(garments):
            info = asked[i].get("info") if i < len(asked) else None
            tile.caption = f"Clothing {i + 1}"
            tile.params = ([("info", str(info))] if info else []) + tile.params
        made = self._tiles(result.images if result else [], request)
        for i, tile in enumerate(made):
            tile.caption = f"Result {i + 1}" if len(made) > 1 else "Result"
        facts = [("try-on", result.id if result else job.vto_id), ("job", job and job.id)]
        facts.append(("status", result.status if result else job.state))
        facts.append(("submitted", _when(job and job.record.submitted_at)))
        parts = [("Person", people), ("Clothing", garments), ("Result", made)]
        title = f"Try-on {job.id if job is not None else result.id if result else ''}"
        columns = [(label, [("", tiles)]) for label, tiles in parts]
        return Section(title, [(k, str(v)) for k, v in facts if v], columns)

    def _beside(self, sources: Sequence[Any] | None, made: _Groups) -> list[tuple[str, _Groups]]:
        if not sources:
            return [("", made)]
        return [("Source", [("", self._tiles(list(sources), {}))]), ("Generated", made)]

    def _by_type(self, entries: Sequence[Any], request: dict[str, Any]) -> _Groups:
        groups: dict[str, list[_Tile]] = {}
        for entry, tile in zip(entries, self._tiles(entries, request), strict=True):
            kind = entry.image_type if isinstance(entry, GeneratedImage) else None
            groups.setdefault(kind or "", []).append(tile)
        return list(groups.items()) or [("", [])]

    def _tiles(self, entries: Sequence[Any], request: dict[str, Any]) -> list[_Tile]:
        """Tiles for GeneratedImages (with their parameters) or plain image sources."""
        sources = [(e.url or None) if isinstance(e, GeneratedImage) else e for e in entries]
        tiles = []
        for i, (entry, pic) in enumerate(zip(entries, self._fetch(sources), strict=True)):
            if isinstance(entry, GeneratedImage):
                caption = " · ".join(v for v in (entry.image_type or "image", entry.color) if v)
                tiles.append(_Tile(pic, caption, _params(entry, pic, request)))
                continue
            text = os.fspath(entry) if isinstance(entry, (str, os.PathLike)) else ""
            name = text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or f"image {i + 1}"
            tiles.append(_Tile(pic, name, [("aspect ratio", _measured(pic))], text))
        return tiles

    def _fetch(self, sources: Sequence[images.ImageSource | None]) -> list[_Pic]:
        """Pictures for the sources, fetched in parallel, each once per report."""
        store = self.store or images.default_store()
        keys = [store.key(s) if s is not None else "" for s in sources]
        todo = {k: s for k, s in zip(keys, sources, strict=True) if k and k not in self._pics}
        if todo:
            with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
                found = pool.map(lambda source: _embed(store, source), todo.values())
                self._pics.update(zip(todo, found, strict=True))
        return [self._pics[k] if k else _Pic() for k in keys]

    def _tile(self, tile: _Tile, large: bool) -> str:
        pic, caption = tile.pic, _esc(tile.caption)
        if pic.thumb:
            scale = _TILE / max(pic.width, pic.height, _TILE)
            w, h = max(1, round(pic.width * scale)), max(1, round(pic.height * scale))
            media = f'<img src="{pic.thumb}" width="{w}" height="{h}" alt="{caption}">'
        else:
            media = f'<span class="evr-x">image unavailable<small>{_esc(pic.error)}</small></span>'
        media = f'<span class="evr-f">{media}</span>'
        if large and pic.large:
            media = (
                f'<details><summary title="Click to enlarge">{media}<span class="evr-z">'
                f'<img src="{pic.large}" alt="{caption}, larger view">'
                f"<em>{caption} · click to close</em></span></summary></details>"
            )
        rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in tile.params)
        return (
            f'<figure class="evr-t">{media}<figcaption title="{_esc(tile.hover or tile.caption)}">'
            f'{caption}</figcaption><table class="evr-p">{rows}</table></figure>'
        )

    def _section_html(self, section: Section, anchor: str, large: bool) -> str:
        facts = "".join(f"<li><b>{_esc(k)}</b>{_esc(v)}</li>" for k, v in section.facts)
        parts = [
            f'<section class="evr-sec" id="{anchor}"><h2>{_esc(section.title)}</h2>',
            f'<ul class="evr-facts">{facts}</ul>' if facts else "",
            f'<p class="evr-note">{_esc(section.note)}</p>' if section.note else "",
            f'<p class="evr-err">{_esc(section.error)}</p>' if section.error else "",
        ]
        columns = ""
        for label, groups in section.columns:
            body = "".join(
                "<div>"
                + (
                    f'<div class="evr-group">{_esc(name)}<small>{len(ts)}</small></div>'
                    * bool(name)
                )
                + f'<div class="evr-grid">{"".join(self._tile(t, large) for t in ts)}</div></div>'
                for name, ts in groups
                if ts
            )
            count = sum(len(tiles) for _, tiles in groups)
            head = f"<h3>{_esc(label)}<small>{count}</small></h3>" if label else ""
            body = f'<div class="evr-groups">{body}</div>' if body else _NONE_YET
            columns += f'<div class="evr-col">{head}{body}</div>'
        parts.append(f'<div class="evr-cols">{columns}</div>' if columns else "")
        return "".join(parts) + section.fragment + "</section>"

    def _markup(self, *, large: bool) -> str:
        anchors = [f"{self._uid}-{i + 1}" for i in range(len(self.sections))]
        pairs = list(zip(anchors, self.sections, strict=True))
        toc = "".join(
            f'<li><a href="#{a}">{_esc(s.title)}</a><small>{s.image_count} images</small></li>'
            for a, s in pairs
        )
        count = sum(s.image_count for s in self.sections)
        hint = " · click a picture to enlarge it" if large else ""
        head = (
            f'<header class="evr-head"><h1>{_esc(self.title)}</h1><p>Generated '
            f"{_when(datetime.now(timezone.utc))} · {len(self.sections)} sections · "
            f"{count} images{hint}</p></header>"
        )
        nav = f'<nav class="evr-toc"><h2>Contents</h2><ol>{toc}</ol></nav>' if toc else ""
        body = "".join(self._section_html(s, a, large) for a, s in pairs)
        empty = '<p class="evr-empty">Nothing added yet: report.add(product), .add(job)…</p>'
        return f'{head}<main class="evr-main">{nav}{body or empty}</main>'

    def _repr_html_(self) -> str:
        return f'<div class="evr"><style>{_CSS}</style>{self._markup(large=False)}</div>'

    def to_html(self) -> str:
        """The whole page: one file, every image inside, no script, no external URL."""
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{_esc(self.title)}</title><style>body{{margin:0}}{_CSS}</style></head>"
            f'<body class="evr">{self._markup(large=True)}</body></html>'
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page as UTF-8, creating its folder; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_html(), encoding="utf-8")
        return target


def _source_urls(product: Product) -> list[str] | None:
    raw = product.raw.get("imageUrls")
    return [u for u in raw if isinstance(u, str)] if isinstance(raw, list) else None


def _sweep(result: SweepResult) -> Section:
    """A sweep as its comparison matrix, with its counts as facts."""
    counts = result.summary()
    facts = [
        ("varied", " x ".join(result.axes)),
        ("runs", str(counts["runs"])),
        ("completed", str(counts["completed"])),
        ("failed", str(counts["failed"])),
        ("images", str(counts["images"])),
        ("product", result.product_id or ""),
    ]
    title = f"{result.kind.capitalize()} sweep: " + " x ".join(result.axes)
    matrix = _check_fragment(result.matrix_html(title=""))
    return Section(title, [f for f in facts if f[1]], fragment=matrix)


def _failed(job: Any, why: str) -> Section:
    record = job.record
    facts = [("job", job.id), ("server id", record.remote_id), ("state", record.state)]
    facts.append(("submitted", _when(record.submitted_at)))
    kind = "Generation" if record.kind == "generate" else "Try-on"
    return Section(f"{kind} {job.id}", [(k, v) for k, v in facts if v], error=why)


def report_from_ledger(
    client_like: Any,
    *,
    title: str = "EcomViz jobs",
    limit: int | None = 50,
    all_servers: bool = False,
) -> Report:
    """A report of the ledger's jobs, newest first; each is checked once, never waited on.

    ``client_like`` is an ``ev.Client`` or anything whose ``jobs.list(limit=, all_servers=)``
    gives sync jobs. A job that cannot be fetched becomes a section that says why.
    """
    report = Report(title)
    for job in client_like.jobs.list(limit=limit, all_servers=all_servers):
        record, snapshot, error = job.record, None, None
        if not record.remote_id:
            why = f"This job never reached the server (state {record.state}) {record.message or ''}"
            report.sections.append(_failed(job, why.strip()))
            continue
        try:
            snapshot = job.wait(timeout=0)
        except TimeoutError:
            pass  # still running: what has arrived so far is shown
        except JobFailedError as exc:  # a failed try-on: its result is kept on the job
            error = str(exc)
        except Exception as exc:  # the report must still be written
            report.sections.append(_failed(job, f"Could not be fetched: {exc}"))
            continue
        sources = _source_urls(snapshot) if isinstance(snapshot, Product) else None
        report.add(job, sources=sources).sections[-1].error = error
    return report


def main_report(argv: list[str] | None = None) -> int:
    """``ecomviz-nb report``: write an HTML report of the job ledger and print its path.

    The token is read from ``$ECOMVIZ_API_TOKEN``, never from an argument (shells keep their
    history). Without it, ``--base-url`` is taken to be a local sandbox, which accepts the
    token ``sandbox-local``. ``--token-from-env [VAR]`` requires the token, in VAR if named.
    """
    parser = argparse.ArgumentParser(
        prog="ecomviz-nb report",
        description="Write an HTML report of the job ledger's jobs. The token is "
        "$ECOMVIZ_API_TOKEN; without one, --base-url names a local sandbox.",
    )
    parser.add_argument("--out", default="build/report.html", help="the file to write")
    parser.add_argument("--title", default="EcomViz jobs", help="the page's heading")
    parser.add_argument("--limit", type=int, default=50, help="the newest N jobs (0: all)")
    parser.add_argument("--all-servers", action="store_true", help="jobs of every server")
    parser.add_argument("--base-url", help="the server (default $ECOMVIZ_BASE_URL or the API)")
    parser.add_argument(
        "--token-from-env",
        nargs="?",
        const="ECOMVIZ_API_TOKEN",
        metavar="VAR",
        help="require the token, in VAR (default ECOMVIZ_API_TOKEN)",
    )
    args = parser.parse_args(argv)
    from .client import Client  # lazily: building a report never needs the client
    from .local import SANDBOX_TOKEN

    variable = args.token_from_env or "ECOMVIZ_API_TOKEN"
    token = os.environ.get(variable, "").strip() or None
    # Like ev.connect(): a server named by --base-url or $ECOMVIZ_BASE_URL (a sandbox, on
    # Binder) takes the sandbox token when no API token is set.
    server = args.base_url or os.environ.get("ECOMVIZ_BASE_URL") or None
    if token is None and (args.token_from_env or not server):
        where = f"${variable} is not set" if args.token_from_env else "no API token"
        print(
            f"ecomviz-nb report: {where}: set ECOMVIZ_API_TOKEN for the EcomViz API, or pass "
            "--base-url of a local sandbox",
            file=sys.stderr,
        )
        return 2
    try:
        with Client(token or SANDBOX_TOKEN, base_url=server) as client:
            limit = args.limit if args.limit > 0 else None
            report = report_from_ledger(
                client, title=args.title, limit=limit, all_servers=args.all_servers
            )
        path = report.save(args.out)
    except (EcomVizError, OSError) as exc:
        print(f"ecomviz-nb report: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
