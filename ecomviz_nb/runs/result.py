"""What a sweep gives back: its plan before sending, and its runs after."""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..models import JOB_KINDS, JobKind, Product, TryOnRequest, is_job_kind
from ..reprs import RichRepr
from .plan import SweepRun, waves

__all__ = ["SweepPlan", "SweepResult"]


_KIND_WORDS: dict[str, str] = {"generate": "generate", "tryon": "try-on"}


class SweepPlan(RichRepr):
    """The runs a sweep would send, validated; nothing has been sent.

    ``plan.run_count`` and ``plan.image_count`` are the bill; ``plan.groups`` is how many runs
    at most must go one after another because their images could be mixed up. In a notebook a
    bare plan shows its table; if that cannot be drawn, its text.
    """

    def __init__(self, kind: str, runs: list[SweepRun], vary: dict[str, Any]) -> None:
        if not is_job_kind(kind):
            raise ValidationError("kind", kind, "one of " + ", ".join(JOB_KINDS))
        self.kind: JobKind = kind
        """``generate`` or ``tryon``, as in the job ledger."""
        self.runs = runs
        self.vary = vary
        """The varied fields and their values, as given."""

    @property
    def kind_label(self) -> str:
        """The kind in words, for titles: ``generate`` or ``try-on``."""
        return _KIND_WORDS.get(self.kind, str(self.kind))

    @property
    def axes(self) -> list[str]:
        """The varied fields, in the order given."""
        return list(self.vary)

    @property
    def run_count(self) -> int:
        return len(self.runs)

    @property
    def image_count(self) -> int:
        return sum(run.expected for run in self.runs)

    @property
    def groups(self) -> int:
        return waves(self.runs)

    def describe(self) -> str:
        """One line: ``12 runs, 12 images; overlapping runs go in 4 rounds``."""
        text = f"{self.run_count} runs, {self.image_count} images"
        if self.kind == "generate" and self.groups > 1:
            text += f"; runs whose images could mix go one after another: {self.groups} rounds"
        return text

    def __repr__(self) -> str:
        return f"<SweepPlan {self.kind}: {self.describe()}; nothing sent>"

    def _render_html(self) -> str:
        from .matrix import plan_html

        return plan_html(self.runs, self.axes, self.kind_label)


class SweepResult(SweepPlan):
    """The runs of a sweep, with their jobs, images, states and errors.

    In a notebook a bare ``result`` shows the comparison matrix; ``ev.Report(...).add(result)``
    puts it in a report.
    """

    def __init__(
        self,
        kind: str,
        runs: list[SweepRun],
        vary: dict[str, Any],
        *,
        product_id: str | None = None,
    ) -> None:
        super().__init__(kind, runs, vary)
        self.product_id = product_id
        """The product of a generate sweep."""
        self.product: Product | None = None
        """The product as last read (generate sweeps)."""
        self.seconds = 0.0
        """Wall time of the sweep."""
        self.client: Any = None
        """The client the sweep was sent with (``rerun()`` uses it by default)."""
        self.source_urls: list[str] = []
        """The product's source pictures, when given (the API does not echo them)."""

    @property
    def completed(self) -> list[SweepRun]:
        return [run for run in self.runs if run.state == "completed"]

    @property
    def failed(self) -> list[SweepRun]:
        return [run for run in self.runs if run.state == "failed"]

    @property
    def images(self) -> list[Any]:
        """Every run's images, in run order."""
        return [img for run in self.runs for img in run.images]

    @property
    def sources(self) -> list[tuple[str, str]]:
        """``(label, url)`` of the source pictures: the product's, or the person and clothing."""
        if self.kind == "tryon" and self.runs:
            request = self.runs[0].request
            assert isinstance(request, TryOnRequest)
            varied_person = "person_image_url" in self.vary
            varied_clothing = "clothing" in self.vary
            found = [] if varied_person else [("person", request.person_image_url)]
            if not varied_clothing:
                found += [(f"clothing {i + 1}", c.url) for i, c in enumerate(request.clothing)]
            return found
        urls: Any = self.source_urls
        if not urls and self.product is not None:  # a server that echoes them
            urls = self.product.raw.get("imageUrls") or []
        return [("source", u) for u in urls if isinstance(u, str)][:4]

    def summary(self) -> dict[str, Any]:
        """Counts: runs, completed, failed, images, seconds."""
        return {
            "runs": len(self.runs),
            "completed": len(self.completed),
            "failed": len(self.failed),
            "images": len(self.images),
            "seconds": round(self.seconds, 1),
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<SweepResult {self.kind}: {s['runs']} runs, {s['completed']} completed, "
            f"{s['failed']} failed, {s['images']} images in {s['seconds']:g} s>"
        )

    def matrix_html(self, *, height: int = 128, title: str | None = None) -> str:
        """The comparison matrix: a row per run, the varied values as row headers."""
        from .matrix import matrix_html

        if title is None:
            title = f"{self.kind_label.capitalize()} sweep: " + " x ".join(self.axes)
        return matrix_html(self.runs, self.axes, self.sources, title=title, height=height)

    def _render_html(self) -> str:
        return self.matrix_html()

    def to_dataframe(self) -> Any:
        """One row per run: the varied values, state, images, error, job id (needs pandas)."""
        try:
            import pandas as pd  # type: ignore[import-untyped]
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from None
        return pd.DataFrame(self.rows())

    def rows(self) -> list[dict[str, Any]]:
        """The table of :meth:`to_dataframe` as plain dicts (no pandas needed)."""
        from .plan import show_value

        return [
            {
                **{axis: show_value(run.params.get(axis, "")) for axis in self.axes},
                "state": run.state,
                "images": len(run.images),
                "expected": run.expected,
                "error": run.error,
                "job": getattr(run.job, "id", None),
                "urls": [img.url for img in run.images],
            }
            for run in self.runs
        ]

    def _redo(self, failed_only: bool) -> SweepResult:
        chosen = self.failed if failed_only else self.runs
        redo = SweepResult(self.kind, [run.fresh() for run in chosen], self.vary)
        redo.product_id, redo.product = self.product_id, self.product
        redo.client, redo.source_urls = self.client, self.source_urls
        return redo

    def rerun(
        self,
        client: Any = None,
        *,
        failed_only: bool = True,
        concurrency: int = 8,
        timeout: float = 600,
        progress: Any = True,
    ) -> SweepResult:
        """Send the failed runs (or all) again; a new result with just those runs.

        Args:
            client: default, the client the sweep was sent with.
        """
        from .sweeps import run_with_progress

        redo = self._redo(failed_only)
        return run_with_progress(client or self.client, redo, progress, concurrency, timeout)

    async def rerun_async(
        self,
        client: Any = None,
        *,
        failed_only: bool = True,
        concurrency: int = 8,
        timeout: float = 600,
        on_update: Any = None,
    ) -> SweepResult:
        """The awaitable :meth:`rerun`."""
        from .sweeps import resume_async

        redo = self._redo(failed_only)
        return await resume_async(
            client or self.client,
            redo,
            concurrency=concurrency,
            timeout=timeout,
            on_update=on_update,
        )
