"""The words and figures of a failed candle check (:func:`describe`), from the GX outcomes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from lyra.market.check_results import (
    BODY_BOTTOM,
    BODY_TOP,
    HIGH_COVERS_BODY,
    LOW_UNDER_BODY,
    MISSING,
    NO_GAPS,
    NO_NULLS,
    NO_REPEATED_CANDLES,
    NOT_STALE,
    PRICES_AND_VOLUME,
    SAMPLE_SIZE,
    TIMESTAMPS_INCREASING,
    VOLUME_NOT_NEGATIVE,
    CheckResult,
    FailedCheck,
    Outcome,
)
from lyra.market.types import CANDLE_COLUMNS, to_decimal

__all__ = ["describe"]


@dataclass(frozen=True, slots=True)
class _Failure:
    """What a description needs: the failed outcomes, their rows, the batch, the verdict."""

    outcomes: Sequence[Outcome]
    rows: list[int]  # positions GX reported, sorted
    work: pd.DataFrame
    base: CheckResult
    step: timedelta

    @property
    def stamps(self) -> pd.Series:
        return self.work["timestamp"]

    def at(self, row: int) -> str:
        return _when(self.stamps.iloc[row])


_Description = tuple[int, str, Sequence[int]]  # count, detail, rows to show


def describe(
    name: str, outcomes: Sequence[Outcome], work: pd.DataFrame, base: CheckResult, step: timedelta
) -> FailedCheck:
    expectations = tuple(outcome.expectation for outcome in outcomes if not outcome.success)
    errors = [outcome.error for outcome in outcomes if outcome.error]
    if errors:
        message = " ".join(errors[0].split())[:300]  # one line, whatever GX said
        detail = f"great-expectations could not evaluate it: {message}"
        return FailedCheck(name, detail, 0, (), (), expectations)
    rows = sorted({row for outcome in outcomes for row in outcome.rows})
    count, detail, shown = _DESCRIBERS[name](_Failure(outcomes, rows, work, base, step))
    stamps = work["timestamp"].iloc[list(shown)]
    sample = tuple(stamp.to_pydatetime() for stamp in stamps if pd.notna(stamp))
    return FailedCheck(name, detail, count, tuple(shown), sample, expectations)


def _nulls(f: _Failure) -> _Description:
    count = sum(outcome.count for outcome in f.outcomes)
    nulls = f.work[list(CANDLE_COLUMNS)].isna().sum()
    per_column = ", ".join(f"{column} {int(n)}" for column, n in nulls.items() if n)
    first = f.rows[0]
    where = "" if pd.isna(f.stamps.iloc[first]) else f" ({f.at(first)})"
    detail = f"{_plural(count, 'null value')} ({per_column}), the first in row {first}{where}"
    return count, detail, f.rows[:SAMPLE_SIZE]


def _high_below_body(f: _Failure) -> _Description:
    first = f.work.iloc[f.rows[0]]
    detail = (
        f"{_plural(len(f.rows), 'candle')} with high below max(open, close), the first at "
        f"{f.at(f.rows[0])} (high {_figure(first['high'])} < {_figure(first[BODY_TOP])})"
    )
    return len(f.rows), detail, f.rows[:SAMPLE_SIZE]


def _low_above_body(f: _Failure) -> _Description:
    first = f.work.iloc[f.rows[0]]
    detail = (
        f"{_plural(len(f.rows), 'candle')} with low above min(open, close), the first at "
        f"{f.at(f.rows[0])} (low {_figure(first['low'])} > {_figure(first[BODY_BOTTOM])})"
    )
    return len(f.rows), detail, f.rows[:SAMPLE_SIZE]


def _negative_volume(f: _Failure) -> _Description:
    volume = _figure(f.work["volume"].iloc[f.rows[0]])
    detail = (
        f"{_plural(len(f.rows), 'candle')} with negative volume, the first at "
        f"{f.at(f.rows[0])} (volume {volume})"
    )
    return len(f.rows), detail, f.rows[:SAMPLE_SIZE]


def _not_increasing(f: _Failure) -> _Description:
    first = f.rows[0]
    before = f.at(first - 1) if first > 0 else "the start"
    detail = (
        f"{_plural(len(f.rows), 'timestamp')} not after the one before, the first "
        f"{f.at(first)} in row {first}, after {before}"
    )
    return len(f.rows), detail, f.rows[:SAMPLE_SIZE]


def _gaps(f: _Failure) -> _Description:
    first = f.rows[0]  # never row 0: it has no step
    missing = round(float(f.work[MISSING].iloc[first]))
    tolerance = f.base.gap_tolerance
    longer = f"longer than {_span(f.step * tolerance)}" if tolerance else "with missing candles"
    detail = (
        f"{_plural(len(f.rows), 'gap')} {longer}, the first after {f.at(first - 1)} "
        f"({_plural(missing, 'candle')} missing until {f.at(first)})"
    )
    return len(f.rows), detail, f.rows[:SAMPLE_SIZE]


def _stale(f: _Failure) -> _Description:
    if f.stamps.isna().all():
        return 1, "no candle has a timestamp", ()
    newest = int(np.flatnonzero(f.stamps.eq(f.stamps.max()).to_numpy())[0])
    closed = f.stamps.iloc[newest] + f.step
    as_of = f.base.as_of
    detail = (
        f"the newest candle closed at {_when(closed)}, {_span(pd.Timestamp(as_of) - closed)} "
        f"before as_of {_when(as_of)} (limit {_span(f.step * f.base.stale_after)})"
    )
    return 1, detail, (newest,)


def _repeated(f: _Failure) -> _Description:
    values = list(PRICES_AND_VOLUME)
    shared = f.work.iloc[f.rows]
    repeats = shared[shared.duplicated(subset=values, keep="first")]
    count = sum(outcome.count for outcome in f.outcomes)
    if repeats.empty:  # GX and pandas disagree on equality (never seen): report GX's rows
        return count, f"{_plural(count, 'candle')} share their values", f.rows[:SAMPLE_SIZE]
    first = int(repeats.index[0])
    same = (shared[values] == f.work.loc[first, values]).all(axis=1).to_numpy()
    original = int(shared.index[same][0])
    detail = (
        f"{_plural(len(repeats), 'candle')} repeat an earlier one's open, high, low, close "
        f"and volume exactly, the first {f.at(first)} repeating {f.at(original)}"
    )
    return count, detail, [int(row) for row in repeats.index[:SAMPLE_SIZE]]


_DESCRIBERS: Final[dict[str, Callable[[_Failure], _Description]]] = {
    NO_NULLS: _nulls,
    HIGH_COVERS_BODY: _high_below_body,
    LOW_UNDER_BODY: _low_above_body,
    VOLUME_NOT_NEGATIVE: _negative_volume,
    TIMESTAMPS_INCREASING: _not_increasing,
    NO_GAPS: _gaps,
    NOT_STALE: _stale,
    NO_REPEATED_CANDLES: _repeated,
}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _when(stamp: Any) -> str:
    return "no timestamp" if pd.isna(stamp) else f"{pd.Timestamp(stamp):%Y-%m-%d %H:%M}"


def _figure(value: Any) -> str:
    """A price as printed (the exact decimal of its shortest repr)."""
    return format(to_decimal(float(value)), "f")


def _span(delta: Any) -> str:
    """``13d``, ``2d 5h``, ``1h``, ``30m``."""
    seconds = int(pd.Timedelta(delta).total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (rest // 60, "m")) if n]
    return " ".join(parts) or "0m"
