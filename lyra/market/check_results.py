"""What the candle data checks report: the checks' names, a failed check and the verdict
on a batch (:mod:`lyra.market.checks` runs them; the quarantine stores these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from lyra.market.types import CANDLE_COLUMNS

__all__ = [
    "AGE",
    "BODY_BOTTOM",
    "BODY_TOP",
    "CHECKS",
    "HAS_CANDLES",
    "HIGH_COVERS_BODY",
    "LOW_UNDER_BODY",
    "MISSING",
    "NOT_STALE",
    "NO_GAPS",
    "NO_NULLS",
    "NO_REPEATED_CANDLES",
    "PRICES_AND_VOLUME",
    "SAMPLE_SIZE",
    "TIMESTAMPS_INCREASING",
    "VOLUME_NOT_NEGATIVE",
    "CheckResult",
    "FailedCheck",
    "Outcome",
]

NO_NULLS: Final = "no_nulls"
HIGH_COVERS_BODY: Final = "high_covers_body"
LOW_UNDER_BODY: Final = "low_under_body"
VOLUME_NOT_NEGATIVE: Final = "volume_not_negative"
TIMESTAMPS_INCREASING: Final = "timestamps_increasing"
NO_GAPS: Final = "no_gaps"
NOT_STALE: Final = "not_stale"
NO_REPEATED_CANDLES: Final = "no_repeated_candles"
#: Fails alone, for an empty batch (there is nothing to run the other checks on).
HAS_CANDLES: Final = "has_candles"

#: Every check run on a non-empty batch, in the order they are reported.
CHECKS: Final = (
    NO_NULLS,
    HIGH_COVERS_BODY,
    LOW_UNDER_BODY,
    VOLUME_NOT_NEGATIVE,
    TIMESTAMPS_INCREASING,
    NO_GAPS,
    NOT_STALE,
    NO_REPEATED_CANDLES,
)

#: Offending candles kept per failed check (the count is always complete).
SAMPLE_SIZE: Final = 5

# Helper columns, computed in the working copy only (lyra.market.checks).
BODY_TOP: Final = "body_top"  # max(open, close)
BODY_BOTTOM: Final = "body_bottom"  # min(open, close)
MISSING: Final = "missing_candles"  # candles missing before this one (step / timeframe - 1)
AGE: Final = "close_age"  # (as_of - close time) / timeframe
PRICES_AND_VOLUME: Final = CANDLE_COLUMNS[1:]


@dataclass(frozen=True, slots=True)
class FailedCheck:
    """One failed check: its name, what failed in words and figures, and where.

    ``rows`` are positions in the batch (0 = first candle), ``sample`` their timestamps
    (rows without a timestamp have none), both at most :data:`SAMPLE_SIZE` long;
    ``count`` is how many values or candles failed; ``expectations`` the GX expectations
    behind the check.
    """

    name: str
    detail: str
    count: int
    rows: tuple[int, ...]
    sample: tuple[datetime, ...]
    expectations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: timestamps as ISO 8601 strings."""
        return {
            "name": self.name,
            "detail": self.detail,
            "count": self.count,
            "rows": list(self.rows),
            "sample": [stamp.isoformat() for stamp in self.sample],
            "expectations": list(self.expectations),
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on one batch of one market; ``failed`` is empty when it passed."""

    exchange: str
    symbol: str
    timeframe: str
    as_of: datetime
    gap_tolerance: int
    stale_after: int
    candles: int
    first: datetime | None
    last: datetime | None
    checks: tuple[str, ...]
    failed: tuple[FailedCheck, ...]

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return not self.failed

    @property
    def market(self) -> str:
        """``coinbase BTC/USD 1h``."""
        return f"{self.exchange} {self.symbol} {self.timeframe}"

    @property
    def failed_names(self) -> tuple[str, ...]:
        """Names of the failed checks, in :data:`CHECKS` order."""
        return tuple(check.name for check in self.failed)

    @property
    def reason(self) -> str:
        """One line naming every failed check with its detail (the hold reason)."""
        if self.passed:
            return f"{self.market}: all {len(self.checks)} data checks passed"
        details = "; ".join(f"{check.name}: {check.detail}" for check in self.failed)
        return f"{self.market} failed data checks: {details}"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types for storage and artifacts (``json.dumps`` takes it as is)."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "as_of": self.as_of.isoformat(),
            "gap_tolerance": self.gap_tolerance,
            "stale_after": self.stale_after,
            "candles": self.candles,
            "first": None if self.first is None else self.first.isoformat(),
            "last": None if self.last is None else self.last.isoformat(),
            "passed": self.passed,
            "checks": list(self.checks),
            "failed": [check.to_json() for check in self.failed],
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """One GX expectation's result, reduced to what the descriptions need."""

    check: str
    expectation: str
    success: bool
    count: int
    rows: tuple[int, ...]
    error: str | None
