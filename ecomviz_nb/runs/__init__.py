"""Many runs: sweeps over parameters compared side by side, catalogue batches that resume, a
panel's past runs (the turn-taking rule that keeps runs on one product apart lives in
:mod:`ecomviz_nb.scheduler`)."""

from .batch import batch, batch_async, resume_batch, resume_batch_async
from .batch_result import BatchItem, BatchResult
from .history import HistoryRun, RunComparison, RunHistory
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
    "HistoryRun",
    "RunComparison",
    "RunHistory",
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
