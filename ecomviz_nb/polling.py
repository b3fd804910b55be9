"""How often a job polls, how long it pauses after a failed poll, and what it reports meanwhile."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import APIError
from .models import GeneratedImage

__all__ = [
    "POLL_GROWTH",
    "POLL_INITIAL",
    "POLL_JITTER",
    "POLL_MAXIMUM",
    "Progress",
    "ProgressEvent",
    "poll_delay",
    "print_progress",
    "retry_pause",
    "retry_status",
]

POLL_INITIAL = 2.0
POLL_GROWTH = 0.03
POLL_MAXIMUM = 10.0
POLL_JITTER = 0.05


def poll_delay(
    elapsed: float,
    rand: float = 0.5,
    *,
    initial: float = POLL_INITIAL,
    growth: float = POLL_GROWTH,
    maximum: float = POLL_MAXIMUM,
    jitter: float = POLL_JITTER,
) -> float:
    """Seconds to sleep before the next poll of a job that has run ``elapsed`` seconds.

    The wait grows with the job's age: ``initial + growth * elapsed``, capped at ``maximum``
    (2 s at the start, 2.9 s at 30 s, 10 s from about 4.5 min on). A job is then noticed within
    about a tenth of its duration (beyond the first seconds) while making a fraction of the
    requests of fixed polling; ``benchmarks/bench_polling.py`` measures both.

    Args:
        elapsed: seconds since the job was submitted (>= 0).
        rand: a number in [0, 1) that picks the jitter (0.5 means none); pass
            ``random.random()`` so that many notebooks do not poll in step.
        jitter: the relative spread: the delay is scaled by a factor in [1 - jitter, 1 + jitter).

    Returns:
        The delay, within ``initial * (1 - jitter)`` and ``maximum * (1 + jitter)``.
    """
    if not elapsed >= 0:  # also refuses NaN
        raise ValueError(f"elapsed={elapsed} must be >= 0")
    if not 0.0 <= rand < 1.0:
        raise ValueError(f"rand={rand} must be in [0, 1)")
    base = min(maximum, initial + growth * elapsed)
    return base * (1.0 + jitter * (2.0 * rand - 1.0))


def retry_pause(
    failures: int, elapsed: float, rand: float = 0.5, retry_after: float | None = None
) -> float:
    """Seconds to pause after the ``failures``-th poll in a row failed for a passing reason.

    The job's own schedule (:func:`poll_delay`) doubled for each further failure, capped at
    :data:`POLL_MAXIMUM` (with jitter), and never shorter than the server's ``Retry-After``.
    """
    if failures < 1:
        raise ValueError(f"failures={failures} must be >= 1")
    base = min(POLL_MAXIMUM, poll_delay(elapsed, 0.5) * 2.0 ** min(failures - 1, 10))
    delay = base * (1.0 + POLL_JITTER * (2.0 * rand - 1.0))
    return max(delay, retry_after or 0.0)


def retry_status(exc: BaseException, failures: int) -> str:
    """The progress status while polls fail: ``retrying after 503 (3rd time)``."""
    return f"retrying after {_reason(exc)} ({_ordinal(failures)} time)"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _reason(exc: BaseException) -> str:
    """A short name for a failed poll: ``503``, ``429``, ``a timeout``, ``a connection error``."""
    if isinstance(exc, APIError):
        return str(exc.status_code)
    return "a timeout" if isinstance(exc, TimeoutError) else "a connection error"


@dataclass(frozen=True)
class ProgressEvent:
    """What a job reports after each poll; widgets and text printers subscribe to it."""

    job_id: str
    done: int
    """Images ready so far."""
    expected: int
    """Images the job will make."""
    status: str
    """``submitted``, ``generating``, ``completed``, the try-on status as the server says it,
    or ``retrying after 503 (2nd time)`` while polls fail for a passing reason."""
    elapsed: float
    """Seconds since submission."""
    images: tuple[GeneratedImage, ...] = field(default=(), repr=False)
    """The images ready so far."""

    @property
    def fraction(self) -> float:
        """``done / expected`` in [0, 1]."""
        return 1.0 if self.expected <= 0 else min(1.0, self.done / self.expected)


def print_progress(event: ProgressEvent) -> None:
    """A text progress line for terminals and plain Python (rewrites itself with ``\\r``)."""
    width = 24
    filled = round(width * event.fraction)
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if event.status in ("completed", "failed", "error", "canceled") else ""
    sys.stdout.write(
        f"\r{event.job_id} [{bar}] {event.done}/{event.expected} {event.status} "
        f"{event.elapsed:5.0f}s{end}"
    )
    sys.stdout.flush()


Progress = Callable[[ProgressEvent], Any]
"""What ``wait(on_progress=...)`` takes: a callable that receives each :class:`ProgressEvent`."""
