"""Many runs: sweeps over parameters compared side by side, and catalogue batches that resume
(the turn-taking rule that keeps runs on one product apart lives in
:mod:`ecomviz_nb.scheduler`)."""

from .batch import batch, batch_async, resume_batch, resume_batch_async
from .batch_result import BatchItem, BatchResult
from .limiter import AdaptiveLimiter
from .plan import GENERATE_AXES, TRY_ON_AXES, SweepRun
from .result import SweepPlan, SweepResult
from .sweeps import sweep, sweep_async, sweep_try_on, sweep_try_on_async

__all__ = [
    "GENERATE_AXES",
    "TRY_ON_AXES",
    "AdaptiveLimiter",
    "BatchItem",
    "BatchResult",
    "SweepPlan",
    "SweepResult",
    "SweepRun",
    "batch",
    "batch_async",
    "resume_batch",
    "resume_batch_async",
    "sweep",
    "sweep_async",
    "sweep_try_on",
    "sweep_try_on_async",
]
