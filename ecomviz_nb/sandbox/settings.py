"""The sandbox's start-up settings and its run-time fault injection switches."""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["HOSTILE_MARKUP", "INSTANCE_ENV", "Faults", "Settings"]

INSTANCE_ENV = "ECOMVIZ_SANDBOX_INSTANCE"
"""The variable a sandbox takes its ``instance`` id from, when set (``binder/start`` sets it)."""

HOSTILE_MARKUP = '<img src=x onerror="window.__ev_pwned=1"><script>window.__ev_pwned=1</script>'
"""What ``Faults.hostile`` appends to the strings the sandbox makes up (markup that runs if a
client pastes it into a page unescaped)."""


@dataclass(frozen=True)
class Settings:
    """How a sandbox is started (see ``ecomviz-nb sandbox --help``)."""

    token: str | None = None
    """If set, only this bearer token is accepted; otherwise any non-empty token is."""
    job_seconds: float = 4.0
    """How long one job takes; 0 renders as fast as possible (tests)."""
    data_dir: Path | None = None
    """Keep products, jobs and files here (SQLite plus files); None keeps them in memory."""
    offline: bool = False
    """Refuse to fetch images from other hosts; only /samples/ and /files/ work."""
    fetch_timeout: float = 10.0
    fetch_max_bytes: int = 20_000_000
    fetch_allow: tuple[str, ...] = ()
    """``host:port`` pairs fetched even though they are private or loopback (tests)."""
    max_body_bytes: int = 1_000_000
    render_workers: int = 2
    image_size: int = 1024
    webhook_timeout: float = 5.0
    webhook_retries: int = 4
    webhook_backoff: float = 0.5
    instance: str = field(
        default_factory=lambda: os.environ.get(INSTANCE_ENV) or secrets.token_hex(8),
        compare=False,
    )
    """Tells this sandbox from any other on ``/_sandbox/health``: ``$ECOMVIZ_SANDBOX_INSTANCE``
    when set, else a random id."""


@dataclass
class Faults:
    """Failure injection, changed at run time through ``/_sandbox/config``.

    Rates are probabilities in [0, 1] applied to each ``/api/`` request (or job), drawn from a
    generator seeded by ``seed`` so a test can repeat a sequence.
    """

    error_rate: float = 0.0
    """Answer 500."""
    rate_limit_rate: float = 0.0
    """Answer 429 with ``Retry-After: retry_after``."""
    retry_after: int = 1
    drop_rate: float = 0.0
    """Start a response, then drop the connection."""
    drop_answer_rate: float = 0.0
    """Run the request, then drop the connection half-way through its answer: the work is done
    (a job started, a product made) but the client cannot know it."""
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    """Delay answers by this much (for the share of requests given by ``slow_rate``)."""
    fail_job_rate: float = 0.0
    """End jobs as failed."""
    job_seconds: float | None = None
    """Override the start-up ``job_seconds`` (None: keep it)."""
    hostile: bool = False
    """Append :data:`HOSTILE_MARKUP` to every string the sandbox makes up: product names,
    colours, analysis, messages (errors too), echoed clothing info, generation params and
    webhook payloads; generated images' ``filePath`` get it in a query (they still load)."""
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``."""
        return rate > 0 and self.rng.random() < rate

    def public(self) -> dict[str, Any]:
        """The switches as JSON."""
        data = asdict(self)
        data.pop("rng")
        return data

    def spoil(self, value: Any) -> Any:
        """``value`` with :data:`HOSTILE_MARKUP` after each string in it, when ``hostile``."""
        if not self.hostile:
            return value
        if isinstance(value, str):
            return value + HOSTILE_MARKUP
        if isinstance(value, list):
            return [self.spoil(v) for v in value]
        if isinstance(value, dict):
            return {k: self.spoil(v) for k, v in value.items()}
        return value

    def spoil_path(self, path: str) -> str:
        """A generated file's path, with the markup in a query string when ``hostile``."""
        return f"{path}?note={HOSTILE_MARKUP}" if self.hostile else path

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)} - {"rng"}
