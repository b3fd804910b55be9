"""``ev.Report``: products, runs and try-ons gathered into one self-contained HTML page."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import images
from .errors import JobFailedError
from .models import Product
from .report_budget import LARGE_BUDGET, THUMB_BUDGET, EmbeddedPic, PictureCache
from .report_page import inline_view, standalone_page
from .report_sections import Section, SectionMaker, failed_section, source_urls

__all__ = ["LARGE_BUDGET", "THUMB_BUDGET", "Report", "Section", "report_from_ledger"]


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
        self._pictures = PictureCache()
        self._maker = SectionMaker(self._fetch)

    def __repr__(self) -> str:
        count = sum(s.image_count for s in self.sections)
        return f"<Report {self.title!r}: {len(self.sections)} sections, {count} images>"

    def _fetch(self, sources: Sequence[images.ImageSource | None]) -> list[EmbeddedPic]:
        return self._pictures.fetch(self.store or images.default_store(), sources)

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
        section = self._maker.section(item, sources)
        section.title, section.note = section.title if title is None else title, note
        self.sections.append(section)
        return self

    def _repr_html_(self) -> str:
        return inline_view(self.title, self.sections, self._uid)

    def to_html(self) -> str:
        """The whole page: one file, every image inside, no script, no external URL."""
        return standalone_page(self.title, self.sections, self._uid)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page as UTF-8, creating its folder; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_html(), encoding="utf-8")
        return target


def report_from_ledger(
    client_like: Any,
    *,
    title: str = "EcomViz jobs",
    limit: int | None = 50,
    all_servers: bool = False,
) -> Report:
    """A report of the ledger's jobs, newest first; each is checked once, never waited on.

    Args:
        client_like: an ``ev.Client``, or anything whose ``jobs.list(limit=, all_servers=)``
            gives sync jobs.
        title: the page's heading.
        limit: the newest ``limit`` jobs; None for all of them.
        all_servers: jobs of every server, not only the client's.

    Returns:
        The report; a job that cannot be fetched becomes a section that says why.
    """
    report = Report(title)
    for job in client_like.jobs.list(limit=limit, all_servers=all_servers):
        record, snapshot, error = job.record, None, None
        if not record.remote_id:
            why = f"This job never reached the server (state {record.state}) {record.message or ''}"
            report.sections.append(failed_section(job, why.strip()))
            continue
        try:
            snapshot = job.wait(timeout=0)
        except TimeoutError:
            pass  # still running: what has arrived so far is shown
        except JobFailedError as exc:  # a failed try-on: its result is kept on the job
            error = str(exc)
        except Exception as exc:  # the report must still be written
            report.sections.append(failed_section(job, f"Could not be fetched: {exc}"))
            continue
        sources = source_urls(snapshot) if isinstance(snapshot, Product) else None
        report.add(job, sources=sources).sections[-1].error = error
    return report
