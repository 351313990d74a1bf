"""Evidence: whether Lyra's decisions are any good (docs/evidence.md).

One front door, and pure (no I/O): backtest metrics by empyrical-reloaded
(:mod:`~lyra.evidence.metrics`), every vote's outcome and the track records
(:mod:`~lyra.evidence.track_record`), learned weights (:mod:`~lyra.evidence.weights`) and
the training-cutoff rule for LLMs in a backtest (:mod:`~lyra.evidence.contamination`).
"""

from lyra.evidence.contamination import (
    ALLOW_FLAG,
    CONTAMINATION_NOTE,
    ContaminatedBacktestError,
    Contamination,
    contaminated_models,
    panel_models,
    require_uncontaminated,
)
from lyra.evidence.metrics import (
    Fill,
    Performance,
    buy_and_hold,
    performance,
    periods_per_year,
)
from lyra.evidence.track_record import (
    DEFAULT_HORIZON,
    HOLD_BAND,
    AnalystRecord,
    CalibrationBin,
    CastVote,
    Outcome,
    hit_rates_by_analyst,
    is_correct,
    resolve_outcomes,
    scorecard,
)
from lyra.evidence.weights import (
    DEFAULT_WEIGHT_RULE,
    WalkForwardWeights,
    WeightRule,
    learned_weight,
    reweigh,
)

__all__ = [
    "ALLOW_FLAG",
    "CONTAMINATION_NOTE",
    "DEFAULT_HORIZON",
    "DEFAULT_WEIGHT_RULE",
    "HOLD_BAND",
    "AnalystRecord",
    "CalibrationBin",
    "CastVote",
    "ContaminatedBacktestError",
    "Contamination",
    "Fill",
    "Outcome",
    "Performance",
    "WalkForwardWeights",
    "WeightRule",
    "buy_and_hold",
    "contaminated_models",
    "hit_rates_by_analyst",
    "is_correct",
    "learned_weight",
    "panel_models",
    "performance",
    "periods_per_year",
    "require_uncontaminated",
    "resolve_outcomes",
    "reweigh",
    "scorecard",
]
