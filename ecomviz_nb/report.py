"""``ev.Report``: products, runs and try-ons gathered into one self-contained HTML page."""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .cards import product_card
from .comparison import compare, compare_product
from .display import HTML, show_images
from .errors import EcomVizError, JobTimeoutError
from .images import ImageStore
from .models import Product, TryOnResult

__all__ = ["Report", "main_report", "report_from_ledger"]

_PAGE_CSS = (
    "body{margin:0;background:#f6f7f9;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,"
    "sans-serif;color:#1f2328}header{background:#1f2937;color:#fff;padding:20px 32px}"
    "header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#cbd5e1;font-size:13px}"
    "nav{padding:12px 32px;background:#fff;border-bottom:1px solid #e5e7eb}"
    "nav a{margin-right:16px;color:#2563eb;text-decoration:none}"
    "main{padding:16px 32px}section{background:#fff;border:1px solid #e5e7eb;"
    "border-radius:8px;padding:16px 20px;margin:0 0 20px}section h2{margin:0 0 8px;"
    "font-size:17px}.ev-note{color:#57606a;margin:0 0 8px}.ev-params{border-collapse:collapse;"
    "margin:0 0 12px;font-size:12px}.ev-params td{border:1px solid #e5e7eb;padding:3px 8px}"
    ".ev-params td:first-child{color:#57606a}.ev-error{color:#b00020}"
)


@dataclass
class _Section:
    anchor: str
    title: str
    body: str


_LOCAL = re.compile(r"https?://(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::\d+)?", re.I)


def _unlocal(text: str) -> str:
    """A local server's address dropped from URLs: it means nothing once the page is shared."""
    return _LOCAL.sub("(local sandbox)", text)


def _params(request: dict[str, Any]) -> str:
    """The request's parameters as a small table (a webhook's token is never kept)."""
    rows = []
    for key, value in request.items():
        if key == "webhook" and isinstance(value, dict):
            value = value.get("url", "")
        if key == "imageType" and isinstance(value, list):
            value = ", ".join(
                " ".join(f"{k}={v}" for k, v in entry.items())
                for entry in value
                if isinstance(entry, dict)
            )
        if key == "clothingImageUrls" and isinstance(value, list):
            value = f"{len(value)} item(s)"
        shown = html.escape(_unlocal(str(value)))
        rows.append(f"<tr><td>{html.escape(str(key))}</td><td>{shown}</td></tr>")
    return f"<table class='ev-params'>{''.join(rows)}</table>" if rows else ""


class Report:
    """A report: add products, jobs, try-ons or images, show it inline, save it as one file.

    >>> report = ev.Report("Spring catalogue")
    >>> report.add(product, sources=urls).add(job).add(vto)
    >>> report.save("build/report.html")

    Every image is embedded (a thumbnail that opens to a 768 px view on click); the page holds
    no script and no external URL, and every string in it is escaped.
    """

    def __init__(self, title: str, *, store: ImageStore | None = None) -> None:
        self.title = title
        self.store = store
        self.sections: list[_Section] = []

    def __repr__(self) -> str:
        return f"Report({self.title!r}, {len(self.sections)} sections)"

    def add(
        self,
        item: Any,
        *,
        title: str | None = None,
        sources: Sequence[str] | None = None,
        note: str | None = None,
    ) -> Report:
        """Add a section; returns the report, so calls chain.

        Args:
            item: a Product, a generation or try-on job (waited or not), a TryOnResult, a list
                of images, or an ``HTML`` fragment made by ecomviz_nb.
            title: the section's heading (default: from the item).
            sources: source image URLs, shown beside the generated images.
            note: a line of text under the heading.
        """
        heading, body = self._render(item, sources)
        if note:
            body = f"<p class='ev-note'>{html.escape(note)}</p>{body}"
        anchor = f"s{len(self.sections) + 1}"
        self.sections.append(_Section(anchor, title or heading, body))
        return self

    def _render(self, item: Any, sources: Sequence[str] | None) -> tuple[str, str]:
        store = self.store
        if isinstance(item, HTML):
            return "Section", str(item)
        if isinstance(item, Product):
            if sources:
                body = compare_product(item, sources=list(sources), store=store)
            else:
                body = HTML(
                    str(product_card(item, store=store))
                    + str(show_images(item.generated_images, "image_type", large=True, store=store))
                )
            return f"Product: {item.name or item.id}", str(body)
        if isinstance(item, TryOnResult):
            return f"Try-on {item.id}", self._try_on(item)
        kind = getattr(item, "kind", None)
        record = getattr(item, "record", None)
        if kind == "try-on" and record is not None:
            result = getattr(item, "result", None)
            params = _params(record.request)
            if result is None:
                return f"Try-on job {item.id}", params + "<p class='ev-note'>no result yet</p>"
            return f"Try-on {result.id}", params + self._try_on(result)
        if kind == "generation" and record is not None:
            params = _params(record.request)
            images = list(item.images)
            if sources:
                grid = compare(list(sources), images, store=store) if images else HTML("")
            else:
                grid = show_images(images, "image_type", large=True, store=store)
            done = f"<p class='ev-note'>{len(images)} of {record.expected} images</p>"
            return f"Generation {item.id} (product {item.product_id})", params + done + str(grid)
        if isinstance(item, (list, tuple)):
            return "Images", str(show_images(list(item), large=True, store=store))
        raise TypeError(f"cannot add a {type(item).__name__} to a report")

    def _try_on(self, result: TryOnResult) -> str:
        sources: list[Any] = []
        if result.person_image:
            sources.append((result.person_image, "person"))
        sources += [(url, f"clothing {i + 1}") for i, url in enumerate(result.clothing_images)]
        status = f"<p class='ev-note'>status: {html.escape(result.status)}</p>"
        if not result.images:
            return status
        return status + str(compare(sources, result.images, store=self.store))

    def _body(self) -> str:
        parts = []
        for s in self.sections:
            parts.append(
                f"<section id='{s.anchor}'><h2>{html.escape(s.title)}</h2>{s.body}</section>"
            )
        return "".join(parts) or "<p class='ev-note'>This report is empty.</p>"

    def _repr_html_(self) -> str:
        return f"<div><h3>{html.escape(self.title)}</h3>{self._body()}</div>"

    def to_html(self) -> str:
        """The whole page: one file, images inside, no scripts, no external URLs."""
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        toc = "".join(f"<a href='#{s.anchor}'>{html.escape(s.title)}</a>" for s in self.sections)
        title = html.escape(self.title)
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{title}</title><style>{_PAGE_CSS}</style></head><body>"
            f"<header><h1>{title}</h1><p>made with ecomviz_nb on {when} · "
            f"{len(self.sections)} sections</p></header><nav>{toc}</nav>"
            f"<main>{self._body()}</main></body></html>"
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page (creating folders); returns its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_html(), encoding="utf-8")
        return target


def report_from_ledger(
    client: Any,
    *,
    title: str = "ecomviz_nb jobs",
    limit: int | None = 50,
    all_servers: bool = False,
) -> Report:
    """A report of the ledger's jobs: each is checked once with its server, never waited on.

    A job that cannot be fetched becomes a section saying why.
    """
    report = Report(title)
    for job in client.jobs.list(limit=limit, all_servers=all_servers):
        if job.state in ("rejected",) or not job.record.remote_id:
            report.add(HTML(""), title=f"Job {job.id}", note=f"state: {job.state}")
            continue
        try:
            job.wait(timeout=0)
        except JobTimeoutError:
            pass  # still running: what has arrived is shown
        except EcomVizError as exc:
            report.add(HTML(""), title=f"Job {job.id}", note=f"could not be read: {exc}")
            continue
        report.add(job)
    return report


def main_report(argv: Sequence[str] | None = None) -> int:
    """``ecomviz-nb report``: write an HTML report of the ledger's jobs."""
    parser = argparse.ArgumentParser(prog="ecomviz-nb report", description=main_report.__doc__)
    parser.add_argument("--out", default="build/report.html", help="where to write the page")
    parser.add_argument("--title", default="ecomviz_nb jobs")
    parser.add_argument("--limit", type=int, default=50, help="newest N jobs")
    parser.add_argument(
        "--all-servers",
        action="store_true",
        help="include jobs of other servers (e.g. earlier sandboxes)",
    )
    parser.add_argument("--base-url", help="the server (default $ECOMVIZ_BASE_URL or the API)")
    args = parser.parse_args(argv)

    from .client import Client
    from .config import resolve_token
    from .local import SANDBOX_TOKEN

    token = resolve_token(None)
    if token is None and (args.base_url or os.environ.get("ECOMVIZ_BASE_URL")):
        token = SANDBOX_TOKEN  # a sandbox takes any token; the real API needs yours
    with Client(token, base_url=args.base_url) as client:
        report = report_from_ledger(
            client, title=args.title, limit=args.limit, all_servers=args.all_servers
        )
    path = report.save(args.out)
    print(f"wrote {path} ({len(report.sections)} sections)")
    return 0


if __name__ == "__main__":
    sys.exit(main_report())
