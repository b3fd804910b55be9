"""How a report looks: its stylesheet, and sections, tiles and contents rendered as HTML."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from .report_safety import shareable as esc
from .report_sections import Section, Tile, utc_text

__all__ = ["CSS", "inline_view", "standalone_page"]

TILE = 184
"""The side of a report's thumbnail box, in CSS pixels."""
_NONE_YET = '<p class="evr-empty">none yet</p>'
# "&" stands for ".evr .evr-": every rule is scoped, so the inline view leaves a notebook alone.
# Colours are JupyterLab's theme variables, so the inline view follows a dark theme; a saved
# page knows no such variables and takes the light fallbacks. The header, notes and errors
# keep their own background in every theme, so their text stays readable. Rules that repeat a
# class or add ":nth-child(n)" outrank JupyterLab's own list padding and striped table rows.
CSS = """.evr{font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;
color:var(--jp-ui-font-color1,#1f2328);background:var(--jp-layout-color2,#f3f4f6)}
.evr *{box-sizing:border-box}.evr small{font-size:12px;font-weight:400;
color:var(--jp-ui-font-color2,#6b7280);margin-left:6px}&head{background:var(--md-grey-900,#111827);
color:var(--md-grey-50,#f9fafb);padding:26px 36px 22px}&head h1{margin:0;font-size:24px;
font-weight:650;overflow-wrap:anywhere}&head p{margin:6px 0 0;color:var(--md-grey-400,#9ca3af);
font-size:13px}&main{max-width:1240px;margin:0 auto;padding:24px 36px 40px}
&toc,&sec{background:var(--jp-layout-color1,#fff);border:1px solid var(--jp-border-color2,#e5e7eb);
border-radius:12px;padding:20px 24px;margin:0 0 20px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
&toc h2,&col h3{font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.06em;
color:var(--jp-ui-font-color2,#6b7280);margin:0 0 10px}
&toc ol{margin:0;padding-left:22px;columns:2 320px;column-gap:32px}&toc li{padding:2px 0;
break-inside:avoid;overflow-wrap:anywhere}&toc a{color:var(--jp-content-link-color,#1d4ed8);
text-decoration:none}&sec h2{margin:0 0 8px;font-size:18px;overflow-wrap:anywhere}
&facts{display:flex;flex-wrap:wrap;gap:6px 8px;margin:0 0 16px;padding:0;list-style:none;
font-size:12px}&facts li{padding:1px 9px;border:1px solid var(--jp-border-color2,#e5e7eb);
border-radius:999px;overflow-wrap:anywhere}&facts b{font-weight:400;
color:var(--jp-ui-font-color2,#6b7280);margin-right:5px}&note,&err{margin:0 0 16px;
padding:8px 12px;overflow-wrap:anywhere;border-radius:0 6px 6px 0}
&note{border-left:3px solid var(--jp-brand-color2,#93c5fd);
background:var(--jp-brand-color4,#eff6ff);color:var(--md-blue-900,#1e3a8a)}
&err{border-left:3px solid var(--jp-error-color2,#f87171);
background:var(--jp-error-color3,#fef2f2);color:var(--md-red-900,#991b1b)}&cols{display:flex;
flex-wrap:wrap;gap:20px 32px;align-items:flex-start}&col{min-width:0}&col:last-child{
flex:1 1 240px}&col+.evr-col{padding-left:32px;
border-left:1px solid var(--jp-border-color2,#e5e7eb)}
&groups{gap:0 36px;display:flex;flex-wrap:wrap}&group{font-weight:600;font-size:13px;
margin:0 0 8px}&grid{gap:16px;display:flex;flex-wrap:wrap;margin:0 0 16px}&t{width:184px;margin:0}
&t summary{display:block;list-style:none;cursor:zoom-in}&t summary::-webkit-details-marker{
display:none}&f{display:flex;align-items:center;justify-content:center;width:184px;height:184px;
background:var(--jp-layout-color2,#f4f4f5);border:1px solid var(--jp-border-color2,#e4e4e7);
border-radius:8px;overflow:hidden}&f img{display:block;max-width:100%;max-height:100%;width:auto;
height:auto;margin:0}&z{display:none}&t details[open] .evr-z{inset:0;display:flex;position:fixed;
z-index:1000;flex-direction:column;align-items:center;justify-content:center;gap:12px;
background:rgba(17,24,39,.92);cursor:zoom-out}&z img{max-width:94vw;max-height:86vh;
border-radius:6px;background:var(--md-grey-50,#fff);box-shadow:0 10px 40px rgba(0,0,0,.5)}
&z em{color:var(--md-grey-200,#e5e7eb);font-style:normal;font-size:13px}&t figcaption{
font-weight:600;font-size:12.5px;margin:7px 0 3px;overflow-wrap:anywhere}table.evr-p{width:100%;
margin:0;border:0;border-collapse:collapse;font-size:11.5px}&p th,&p td{padding:2px 0;
text-align:left;border:0;vertical-align:top;background:none;color:inherit}&p th{font-weight:400;
color:var(--jp-ui-font-color2,#6b7280);padding-right:10px;white-space:nowrap}
&p td{overflow-wrap:anywhere}&p tr:nth-child(n){background:none}&facts.evr-facts{padding:0}
&p tr+tr>*{border-top:1px solid var(--jp-border-color3,#f0f1f3)}
&x{display:flex;flex-direction:column;justify-content:center;gap:4px;padding:10px;width:100%;
height:100%;color:var(--jp-error-color1,#9a3412);background:var(--jp-layout-color0,#fff);
border:1px dashed var(--jp-error-color1,#9a3412);border-radius:7px;
font-size:12px;text-align:center;overflow-wrap:anywhere}&x small{margin:0}
&empty{color:var(--jp-ui-font-color2,#6b7280);margin:0}
@media print{&z{display:none!important}&sec{break-inside:avoid}}""".replace("&", ".evr .evr-")


def _tile(tile: Tile, large: bool) -> str:
    """A thumbnail with its caption and parameters; with ``large``, a click opens the larger
    view over the page (CSS only)."""
    pic, caption = tile.pic, esc(tile.caption)
    if pic.thumb:
        scale = TILE / max(pic.width, pic.height, TILE)
        w, h = max(1, round(pic.width * scale)), max(1, round(pic.height * scale))
        media = f'<img src="{pic.thumb}" width="{w}" height="{h}" alt="{caption}">'
    else:
        media = f'<span class="evr-x">image unavailable<small>{esc(pic.error)}</small></span>'
    media = f'<span class="evr-f">{media}</span>'
    if large and pic.large:
        media = (
            f'<details><summary title="Click to enlarge">{media}<span class="evr-z">'
            f'<img src="{pic.large}" alt="{caption}, larger view">'
            f"<em>{caption} · click to close</em></span></summary></details>"
        )
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in tile.params)
    return (
        f'<figure class="evr-t">{media}<figcaption title="{esc(tile.hover or tile.caption)}">'
        f'{caption}</figcaption><table class="evr-p">{rows}</table></figure>'
    )


def _section(section: Section, anchor: str, large: bool) -> str:
    facts = "".join(f"<li><b>{esc(k)}</b>{esc(v)}</li>" for k, v in section.facts)
    parts = [
        f'<section class="evr-sec" id="{anchor}"><h2>{esc(section.title)}</h2>',
        f'<ul class="evr-facts">{facts}</ul>' if facts else "",
        f'<p class="evr-note">{esc(section.note)}</p>' if section.note else "",
        f'<p class="evr-err">{esc(section.error)}</p>' if section.error else "",
    ]
    columns = ""
    for label, groups in section.columns:
        body = "".join(
            "<div>"
            + (f'<div class="evr-group">{esc(name)}<small>{len(ts)}</small></div>' * bool(name))
            + f'<div class="evr-grid">{"".join(_tile(t, large) for t in ts)}</div></div>'
            for name, ts in groups
            if ts
        )
        count = sum(len(tiles) for _, tiles in groups)
        head = f"<h3>{esc(label)}<small>{count}</small></h3>" if label else ""
        body = f'<div class="evr-groups">{body}</div>' if body else _NONE_YET
        columns += f'<div class="evr-col">{head}{body}</div>'
    parts.append(f'<div class="evr-cols">{columns}</div>' if columns else "")
    return "".join(parts) + section.fragment + "</section>"


def _markup(title: str, sections: Sequence[Section], prefix: str, *, large: bool) -> str:
    """Header, contents and sections; anchors are ``prefix-1``, ``prefix-2``…"""
    anchors = [f"{prefix}-{i + 1}" for i in range(len(sections))]
    pairs = list(zip(anchors, sections, strict=True))
    toc = "".join(
        f'<li><a href="#{a}">{esc(s.title)}</a><small>{_images(s.image_count)}</small></li>'
        for a, s in pairs
    )
    count = sum(s.image_count for s in sections)
    hint = " · click a picture to enlarge it" if large else ""
    head = (
        f'<header class="evr-head"><h1>{esc(title)}</h1><p>Generated '
        f"{utc_text(datetime.now(timezone.utc))} · {len(sections)} sections · "
        f"{count} images{hint}</p></header>"
    )
    nav = f'<nav class="evr-toc"><h2>Contents</h2><ol>{toc}</ol></nav>' if toc else ""
    body = "".join(_section(s, a, large) for a, s in pairs)
    empty = '<p class="evr-empty">Nothing added yet: report.add(product), .add(job)…</p>'
    return f'{head}<main class="evr-main">{nav}{body or empty}</main>'


def inline_view(title: str, sections: Sequence[Section], prefix: str) -> str:
    """The report as a notebook shows it: thumbnails only, which keeps notebooks small."""
    markup = _markup(title, sections, prefix, large=False)
    return f'<div class="evr"><style>{CSS}</style>{markup}</div>'


def standalone_page(title: str, sections: Sequence[Section], prefix: str) -> str:
    """The whole page: one file, every image inside, no script, no external URL."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>body{{margin:0}}{CSS}</style></head>"
        f'<body class="evr">{_markup(title, sections, prefix, large=True)}</body></html>'
    )


def _images(count: int) -> str:
    return "1 image" if count == 1 else f"{count} images"
