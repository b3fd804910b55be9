"""Turns on a product: generation runs whose images could mix go one after another.

The rule is in :mod:`ecomviz_nb.attribution`. This module applies it through the ledger, so it
holds for every client, notebook and process that shares ``$ECOMVIZ_HOME``, and across kernel
restarts: a run takes its turn by writing its ledger row in the same transaction that checks
the product's runs in flight. A run in flight stops blocking once the product holds all of its
own images (the scheduler marks it ``completed`` itself, so nobody has to be waiting on it),
when it ends ``failed`` or ``rejected``, or when it is older than ``stale_after``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from .attribution import RunKey, own_images
from .errors import QueueTimeoutError, ValidationError
from .jobs import poll_delay
from .ledger import JobLedger, JobRecord
from .models import GenerateRequest, Product

__all__ = ["STALE_AFTER", "ProductScheduler"]

STALE_AFTER = 900.0
"""Seconds after which a run that never finished stops holding its product's turn."""


class ProductScheduler:
    """Decides, from a fresh snapshot of a product, whether a run may be submitted now."""

    def __init__(
        self,
        ledger: JobLedger,
        base_url: str,
        *,
        stale_after: float = STALE_AFTER,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.ledger = ledger
        self.base_url = base_url
        self.stale_after = stale_after
        """A run in flight for longer than this no longer blocks (seconds)."""
        self._clock = clock
        self._rand = rand

    def __repr__(self) -> str:
        return f"ProductScheduler(base_url={self.base_url!r}, stale_after={self.stale_after:g})"

    def reserve(
        self, product: Product, request: GenerateRequest, wire: dict[str, object]
    ) -> tuple[JobRecord | None, list[JobRecord]]:
        """Take the run's turn on ``product``, a snapshot read just now.

        The snapshot's images become the run's baseline. Runs in flight whose images are all in
        the snapshot are marked completed and do not block.

        Returns:
            ``(record, [])``: the run's ledger row, state ``submitting``: send it now.
            ``(None, blockers)``: overlapping runs are in flight; read the product again later.
        """
        key = RunKey.of(request)
        finished: list[tuple[JobRecord, int]] = []

        def blocks(other: JobRecord) -> bool:
            try:
                other_key = RunKey.of(other.request)
            except ValidationError:  # a row this version cannot read: be careful
                return True
            if not other_key.overlaps(key):
                return False
            mine = own_images(other_key, product.generated_images, other.baseline, other.expected)
            done = len(mine)
            if other.state in ("submitted", "unknown") and done >= other.expected:
                finished.append((other, done))
                return False
            return True

        record, blockers = self.ledger.reserve(
            base_url=self.base_url,
            product_id=product.id,
            request=dict(wire),
            expected=request.expected_images,
            baseline=[img.file_path for img in product.generated_images],
            blocks=blocks,
            stale_after=self.stale_after,
        )
        for other, done in finished:
            self.ledger.update(other.id, state="completed", status="completed", done=done)
        return record, blockers

    def pause(self, blockers: list[JobRecord], waited: float, limit: float | None) -> float:
        """Seconds to wait before reading the product again, paced by the blockers' age.

        Raises:
            QueueTimeoutError: ``waited`` has reached ``limit``; nothing was sent.
        """
        ids = [b.id for b in blockers]
        if limit is not None and waited >= limit:
            raise QueueTimeoutError(
                f"waited {waited:.1f} s for {len(ids)} run(s) on this product whose images could "
                f"not be told apart from this one's ({', '.join(ids)}); nothing was sent. "
                "Wait for them, or change platform, region, types or colours",
                blockers=ids,
            )
        now = self._clock()
        oldest = min(b.submitted_at for b in blockers)
        delay = poll_delay(max(0.0, now - oldest), self._rand())
        return delay if limit is None else min(delay, max(0.0, limit - waited))
