"""Data checks on every batch of candles before anything uses it.

docs/domain.md: Lyra "never trades on garbage". Each batch an exchange returns is validated
with great-expectations (GX 1.x: an ephemeral context, a pandas data source, one suite)
and the result names every failed check with figures and the offending candles. The
caller quarantines a failed batch (:mod:`lyra.store.quarantine`) and holds the symbol;
nothing here drops, sorts or "fixes" a candle, and the caller's frame is never changed.

The checks, each a GX expectation on the batch or on a helper column computed in a copy::

    no_nulls               ExpectColumnValuesToNotBeNull, every column
    high_covers_body       ExpectColumnPairValuesAToBeGreaterThanB  high >= max(open, close)
    low_under_body         ExpectColumnPairValuesAToBeGreaterThanB  min(open, close) >= low
    volume_not_negative    ExpectColumnValuesToBeBetween            volume >= 0
    timestamps_increasing  ExpectColumnValuesToBeIncreasing         strictly, as given
    no_gaps                ExpectColumnValuesToBeBetween  missing candles per step
                                                          <= gap_tolerance
    not_stale              ExpectColumnMinToBeBetween     age of the newest close,
                                                          in timeframes, <= stale_after
    no_repeated_candles    ExpectCompoundColumnsToBeUnique  (open, high, low, close,
                                                          volume) where volume > 0

``no_repeated_candles`` goes beyond the usual candle checks: the shipped Coinbase and
Bitfinex hourly files repeat 2017-11-11 23:00 .. 2017-11-12 03:00 as 04:00 .. 08:00 value
for value (``lyra/market/data/ORIGIN.md``). Once sorted by time those rows pass every
other check, yet two hours never trade the same volume to the cent; zero-volume candles
are excluded because flat, tradeless candles at the last price repeat legitimately.

GX costs ~3 s to import, so it is imported on first use; the context and suite (~0.02 s)
are built once per process and reused, the thresholds that vary per call
(``gap_tolerance``, ``stale_after``) being GX suite parameters (``{"$PARAMETER": ...}``).
Measured warm, for 100 to 5,000 hourly candles: ~0.05 s for a batch that passes (GX's
``BOOLEAN_ONLY`` results), ~0.15 s for one that fails (validated again with ``COMPLETE``
results to find the offending rows). Validation runs under a lock: one GX context is not
meant to be shared by threads.

Usage::

    result = check_candles(frame, exchange="coinbase", symbol="BTC/USD", timeframe="1h",
                           as_of=now)
    if not result.passed:
        quarantine(session, ..., frame=frame, result=result)   # hold the symbol: result.reason
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from lyra.market.types import CANDLE_COLUMNS, timeframe_delta

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation import Expectation

from lyra.market.check_descriptions import describe
from lyra.market.check_results import (
    AGE,
    BODY_BOTTOM,
    BODY_TOP,
    CHECKS,
    HAS_CANDLES,
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

__all__ = [
    "CHECKS",
    "HAS_CANDLES",
    "HIGH_COVERS_BODY",
    "LOW_UNDER_BODY",
    "NOT_STALE",
    "NO_GAPS",
    "NO_NULLS",
    "NO_REPEATED_CANDLES",
    "SAMPLE_SIZE",
    "TIMESTAMPS_INCREASING",
    "VOLUME_NOT_NEGATIVE",
    "CheckResult",
    "FailedCheck",
    "check_candles",
]

_LOCK: Final = threading.Lock()


def check_candles(
    frame: pd.DataFrame,
    *,
    exchange: str,
    symbol: str,
    timeframe: str,
    as_of: datetime,
    gap_tolerance: int = 1,
    stale_after: int = 2,
) -> CheckResult:
    """Run every check on ``frame`` (``CANDLE_COLUMNS``, oldest first) as of ``as_of``.

    A gap is a step between consecutive candles that leaves more than ``gap_tolerance``
    candles missing; the batch is stale when its newest candle closed (open time plus one
    timeframe) more than ``stale_after`` timeframes before ``as_of``. A frame that breaks
    the candle contract itself (a missing column, naive or non-time timestamps,
    non-numeric prices) is a programming error: ValueError, not a data-check failure.
    """
    step = timeframe_delta(timeframe)
    _require_contract(frame, as_of, gap_tolerance, stale_after)
    stamps = frame["timestamp"].dropna()
    base = CheckResult(
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        as_of=as_of,
        gap_tolerance=gap_tolerance,
        stale_after=stale_after,
        candles=len(frame),
        first=stamps.min().to_pydatetime() if len(stamps) else None,
        last=stamps.max().to_pydatetime() if len(stamps) else None,
        checks=CHECKS,
        failed=(),
    )
    if frame.empty:
        empty = FailedCheck(HAS_CANDLES, "the batch holds no candle", 0, (), (), ())
        return replace(base, checks=(HAS_CANDLES,), failed=(empty,))
    work = _working_copy(frame, step, as_of)
    outcomes = _validate(work, gap_tolerance=gap_tolerance, stale_after=stale_after)
    failed = []
    for name in CHECKS:
        mine = [outcome for outcome in outcomes if outcome.check == name]
        if not all(outcome.success for outcome in mine):
            failed.append(describe(name, mine, work, base, step))
    return replace(base, failed=tuple(failed))


def _require_contract(
    frame: pd.DataFrame, as_of: datetime, gap_tolerance: int, stale_after: int
) -> None:
    missing = [column for column in CANDLE_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"candle frame lacks column(s) {', '.join(missing)}")
    if not isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype):
        raise ValueError(f"candle timestamps must be tz-aware, not {frame['timestamp'].dtype}")
    for column in PRICES_AND_VOLUME:
        if not pd.api.types.is_numeric_dtype(frame[column].dtype):
            raise ValueError(f"candle column {column} must be numeric, not {frame[column].dtype}")
    if as_of.tzinfo is None:
        raise ValueError("as_of must be tz-aware")
    if gap_tolerance < 0 or stale_after < 0:
        raise ValueError("gap_tolerance and stale_after count timeframes: 0 or more")


def _working_copy(frame: pd.DataFrame, step: timedelta, as_of: datetime) -> pd.DataFrame:
    """The candles with positional rows and the helper columns GX checks."""
    work = frame.loc[:, list(CANDLE_COLUMNS)].reset_index(drop=True).copy()
    body = work[["open", "close"]]
    work[BODY_TOP] = body.max(axis=1)
    work[BODY_BOTTOM] = body.min(axis=1)
    stamps = work["timestamp"]
    seconds = step.total_seconds()
    work[MISSING] = stamps.diff().dt.total_seconds() / seconds - 1
    work[AGE] = (pd.Timestamp(as_of) - (stamps + step)).dt.total_seconds() / seconds
    return work


# --- great-expectations ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Engine:
    batch_definition: BatchDefinition[Any]
    suite: ExpectationSuite


@cache
def _engine() -> _Engine:
    """The ephemeral GX context, data source and suite, built once per process."""
    # GX logs the temporary folder of its ephemeral docs site at INFO on every context.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # GX 1.24 imports the deprecated ``sre_constants`` module (Python 3.11).
        warnings.simplefilter("ignore", DeprecationWarning)
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.expectations.core import (
            expect_column_min_to_be_between as min_between,
        )
        from great_expectations.expectations.core import (
            expect_column_pair_values_a_to_be_greater_than_b as pair_greater,
        )
        from great_expectations.expectations.core import (
            expect_column_values_to_be_between as between,
        )
        from great_expectations.expectations.core import (
            expect_column_values_to_be_increasing as increasing,
        )
        from great_expectations.expectations.core import (
            expect_column_values_to_not_be_null as not_null,
        )
        from great_expectations.expectations.core import (
            expect_compound_columns_to_be_unique as compound_unique,
        )
        from great_expectations.expectations.row_conditions import Column
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("lyra").add_dataframe_asset(name="candles")
    batch_definition = asset.add_batch_definition_whole_dataframe("batch")

    def meta(check: str) -> dict[str, Any]:
        return {"check": check}

    expectations: list[Expectation] = [
        *(
            not_null.ExpectColumnValuesToNotBeNull(column=column, meta=meta(NO_NULLS))
            for column in CANDLE_COLUMNS
        ),
        pair_greater.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="high",
            column_B=BODY_TOP,
            or_equal=True,
            ignore_row_if="either_value_is_missing",  # a null is no_nulls' to report
            meta=meta(HIGH_COVERS_BODY),
        ),
        pair_greater.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=BODY_BOTTOM,
            column_B="low",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=meta(LOW_UNDER_BODY),
        ),
        between.ExpectColumnValuesToBeBetween(
            column="volume", min_value=0, meta=meta(VOLUME_NOT_NEGATIVE)
        ),
        increasing.ExpectColumnValuesToBeIncreasing(
            column="timestamp", strictly=True, meta=meta(TIMESTAMPS_INCREASING)
        ),
        between.ExpectColumnValuesToBeBetween(
            column=MISSING, max_value={"$PARAMETER": "gap_tolerance"}, meta=meta(NO_GAPS)
        ),
        min_between.ExpectColumnMinToBeBetween(
            column=AGE, max_value={"$PARAMETER": "stale_after"}, meta=meta(NOT_STALE)
        ),
        compound_unique.ExpectCompoundColumnsToBeUnique(
            column_list=list(PRICES_AND_VOLUME),
            row_condition=Column("volume") > 0,
            meta=meta(NO_REPEATED_CANDLES),
        ),
    ]
    suite = context.suites.add(gx.ExpectationSuite(name="candles", expectations=expectations))
    return _Engine(batch_definition, suite)


def _validate(work: pd.DataFrame, *, gap_tolerance: int, stale_after: int) -> list[Outcome]:
    with _LOCK:
        engine = _engine()
        batch = engine.batch_definition.get_batch(batch_parameters={"dataframe": work})
        parameters = {"gap_tolerance": gap_tolerance, "stale_after": stale_after}
        report = batch.validate(
            engine.suite,
            result_format={"result_format": "BOOLEAN_ONLY"},
            expectation_parameters=parameters,
        )
        if not report.success:  # only then pay for the offending rows (about twice the time)
            report = batch.validate(
                engine.suite,
                result_format={"result_format": "COMPLETE"},
                expectation_parameters=parameters,
            )
    return [_outcome(result) for result in report.results]


def _outcome(result: ExpectationValidationResult) -> Outcome:
    config = result.expectation_config
    if config is None:  # GX always echoes the configuration of a suite's expectation
        raise RuntimeError("great-expectations returned a result without its expectation")
    details: dict[str, Any] = dict(result.result or {})
    kwargs = {
        key: value
        for key, value in config.kwargs.items()
        if key not in ("batch_id", "row_condition", "condition_parser")
    }
    if "row_condition" in config.kwargs:
        kwargs["where"] = "volume > 0"
    arguments = ", ".join(f"{key}={value}" for key, value in kwargs.items())
    info = result.exception_info or {}
    raised = bool(info.get("raised_exception"))
    return Outcome(
        check=str(config.meta["check"]) if config.meta else "",
        expectation=f"{config.type}({arguments})",
        success=bool(result.success) and not raised,
        count=int(details.get("unexpected_count") or 0),
        rows=tuple(int(row) for row in details.get("unexpected_index_list") or ()),
        error=str(info.get("exception_message")) if raised else None,
    )
