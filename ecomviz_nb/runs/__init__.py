"""Many runs: sweeps over parameters, compared side by side (the turn-taking rule that keeps
their images apart lives in :mod:`ecomviz_nb.scheduler`)."""

from .plan import GENERATE_AXES, TRY_ON_AXES, SweepRun
from .result import SweepPlan, SweepResult
from .sweep import sweep, sweep_async, sweep_try_on, sweep_try_on_async

__all__ = [
    "GENERATE_AXES",
    "TRY_ON_AXES",
    "SweepPlan",
    "SweepResult",
    "SweepRun",
    "sweep",
    "sweep_async",
    "sweep_try_on",
    "sweep_try_on_async",
]
