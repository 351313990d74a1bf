"""Cross-exchange spreads of one market: where two venues' prices part, and for how long.

Two candle frames of the same symbol and timeframe (``a`` and ``b``, say Coinbase and
Bitfinex BTC/USD hourly) are aligned on ``timestamp`` by an **inner join**: only candles
both venues have are compared, and how many of each side found no partner is reported
(a gap on one venue is not a spread). On each aligned candle, with the closes ``a`` and
``b`` (the last trade of the same interval on each venue)::

    mid        = (a + b) / 2
    spread_bps = 10,000 x (a - b) / mid          positive: a is dearer
    zscore     = (spread_bps - mean) / std       of the ``window`` aligned candles *before*
                                                 (sample std), NaN until there are
                                                 ``window`` of them or when std is 0

The z-score's window excludes the candle itself, so a jump is measured against the calm
before it instead of diluting its own baseline. :func:`detect_spreads` then counts the
candles whose ``|spread_bps|`` is above a threshold and groups them into **episodes**: runs
of consecutive candles above it, where consecutive means one aligned candle after the other
exactly one step apart (the smallest step between aligned timestamps); a missing candle
ends an episode. Episodes are ranked by their peak ``|spread_bps|``.

**The shipped data has no real spread.** The shipped Bitfinex hourly file repeats the
Coinbase prices over their whole common range (``lyra/market/data/ORIGIN.md``): of the
17,583 aligned hours every one has a spread of exactly 0 except the last, Bitfinex's
partial hour 2019-07-04 01:00 (Coinbase 11,899.24 against Bitfinex 11,849.69: +41.7 bps
with Coinbase as ``a``). Any other non-zero spread on that pair would mean a bug in the
loading or the alignment, and ``tests/unit/test_spreads.py`` asserts that there is none.
Real spreads need real feeds (the ccxt adapter).

Example::

    report = detect_spreads(coinbase, bitfinex, threshold_bps=50)
    report.above_threshold, report.episodes[:1]

The module is pure (no I/O), vectorized (a merge, rolling windows and a group-by; no Python
loop over rows) and never mutates its input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_WINDOW",
    "AlignedSpreads",
    "SpreadEpisode",
    "SpreadReport",
    "detect_spreads",
    "spread_series",
]

#: Aligned candles behind each z-score: a week of hourly candles.
DEFAULT_WINDOW: Final = 168
#: Episodes a report lists.
DEFAULT_TOP: Final = 5
_BPS: Final = 10_000.0
#: One timestamp resolution for both sides, so frames parsed at different units still join.
_STAMP_DTYPE: Final = "datetime64[us, UTC]"


@dataclass(frozen=True, slots=True, eq=False)
class AlignedSpreads:
    """The aligned candles' spreads and what could not be aligned.

    ``frame`` columns: ``timestamp, close_a, close_b, mid, spread_bps, zscore``, oldest
    first, index 0..n-1. ``unmatched_a`` / ``unmatched_b``: candles of ``a`` / ``b``
    whose timestamp the other frame lacks.
    """

    frame: pd.DataFrame
    unmatched_a: int
    unmatched_b: int

    @property
    def aligned(self) -> int:
        """Number of candles both frames have."""
        return len(self.frame)


@dataclass(frozen=True, slots=True)
class SpreadEpisode:
    """A run of consecutive aligned candles whose ``|spread|`` is above the threshold."""

    start: datetime  # first candle's timestamp
    end: datetime  # last candle's timestamp
    candles: int
    peak_bps: float  # the spread (signed) of largest magnitude in the run
    mean_bps: float


@dataclass(frozen=True, slots=True)
class SpreadReport:
    """Spread figures of two aligned candle frames (see the module docstring).

    Figures of an empty alignment are None; ``latest_zscore`` is None while undefined.
    """

    threshold_bps: float
    aligned: int
    unmatched_a: int
    unmatched_b: int
    latest_at: datetime | None
    latest_bps: float | None
    latest_zscore: float | None
    mean_bps: float | None
    max_abs_bps: float | None
    above_threshold: int
    episodes: tuple[SpreadEpisode, ...]


def spread_series(
    a: pd.DataFrame, b: pd.DataFrame, *, window: int = DEFAULT_WINDOW
) -> AlignedSpreads:
    """Align ``a`` and ``b`` on ``timestamp`` and compute each aligned candle's spread.

    Each frame needs a tz-aware ``timestamp`` without repeats and a positive, finite
    ``close``; ValueError otherwise. ``window`` (>= 2) aligned candles feed each z-score.
    """
    if window < 2:
        raise ValueError("the z-score window needs at least 2 candles")
    left, right = _closes(a, "a"), _closes(b, "b")
    merged = left.merge(right, on="timestamp", how="inner", sort=True)
    close_a, close_b = merged["close_a"], merged["close_b"]
    merged["mid"] = (close_a + close_b) / 2.0
    merged["spread_bps"] = _BPS * (close_a - close_b) / merged["mid"]
    before = merged["spread_bps"].shift(1).rolling(window, min_periods=window)
    std = before.std(ddof=1)
    merged["zscore"] = (merged["spread_bps"] - before.mean()) / std.where(std > 0.0)
    return AlignedSpreads(
        frame=merged.reset_index(drop=True),
        unmatched_a=len(left) - len(merged),
        unmatched_b=len(right) - len(merged),
    )


def detect_spreads(
    a: pd.DataFrame,
    b: pd.DataFrame,
    threshold_bps: float,
    *,
    window: int = DEFAULT_WINDOW,
    top: int = DEFAULT_TOP,
) -> SpreadReport:
    """Spread report of ``a`` against ``b``: latest, mean, largest, and the top episodes.

    A candle counts when ``|spread_bps| > threshold_bps`` (>= 0); ``top`` episodes are
    listed, largest peak first (ties: earliest first).
    """
    if not threshold_bps >= 0.0 or top < 0:
        raise ValueError("threshold_bps must be >= 0 and top >= 0")
    aligned = spread_series(a, b, window=window)
    frame = aligned.frame
    spread = frame["spread_bps"]
    above = spread.abs() > threshold_bps
    base = SpreadReport(
        threshold_bps=float(threshold_bps),
        aligned=aligned.aligned,
        unmatched_a=aligned.unmatched_a,
        unmatched_b=aligned.unmatched_b,
        latest_at=None,
        latest_bps=None,
        latest_zscore=None,
        mean_bps=None,
        max_abs_bps=None,
        above_threshold=int(above.sum()),
        episodes=(),
    )
    if frame.empty:
        return base
    last = frame.iloc[-1]
    zscore = float(last["zscore"])
    return replace(
        base,
        latest_at=last["timestamp"].to_pydatetime(),
        latest_bps=float(last["spread_bps"]),
        latest_zscore=None if math.isnan(zscore) else zscore,
        mean_bps=float(spread.mean()),
        max_abs_bps=float(spread.abs().max()),
        episodes=_episodes(frame, above.to_numpy(), top),
    )


def _closes(frame: pd.DataFrame, side: str) -> pd.DataFrame:
    """``timestamp`` (UTC) and ``close_<side>`` of one frame, after checking them."""
    for name in ("timestamp", "close"):
        if name not in frame.columns:
            raise ValueError(f"frame {side} needs a {name!r} column")
    stamps = frame["timestamp"]
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"frame {side}: timestamps must be tz-aware, not {stamps.dtype}")
    if stamps.isna().any() or stamps.duplicated().any():
        raise ValueError(f"frame {side}: timestamps must be present and unique")
    close = frame["close"]
    if not pd.api.types.is_numeric_dtype(close.dtype):
        raise ValueError(f"frame {side}: close must be numeric, not {close.dtype}")
    values = close.to_numpy(dtype=np.float64, na_value=np.nan)
    if not (np.isfinite(values) & (values > 0.0)).all():
        raise ValueError(f"frame {side}: every close must be a positive finite number")
    utc = stamps.dt.tz_convert("UTC").astype(_STAMP_DTYPE).reset_index(drop=True)
    return pd.DataFrame({"timestamp": utc, f"close_{side}": values})


def _episodes(frame: pd.DataFrame, above: np.ndarray, top: int) -> tuple[SpreadEpisode, ...]:
    """The ``top`` runs of consecutive above-threshold candles, largest peak first."""
    if not above.any() or top == 0:
        return ()
    stamps = frame["timestamp"]
    steps = stamps.diff()
    positive = steps[steps > pd.Timedelta(0)]
    step = positive.min() if len(positive) else pd.Timedelta(0)
    continues = np.r_[False, above[:-1]] & (steps == step).to_numpy()
    run = np.cumsum(above & ~continues)
    rows = pd.DataFrame(
        {
            "run": run,
            "timestamp": stamps,
            "spread": frame["spread_bps"],
            "size": frame["spread_bps"].abs(),
        }
    )[above]
    grouped = rows.groupby("run", sort=True)
    peak_rows = grouped["size"].idxmax()
    table = pd.DataFrame(
        {
            "start": grouped["timestamp"].first(),
            "end": grouped["timestamp"].last(),
            "candles": grouped.size(),
            "peak": rows.loc[peak_rows.to_numpy(), "spread"].to_numpy(),
            "size": grouped["size"].max(),
            "mean": grouped["spread"].mean(),
        }
    )
    best = table.sort_values(["size", "start"], ascending=[False, True], kind="stable").head(top)
    return tuple(
        SpreadEpisode(
            start=start.to_pydatetime(),
            end=end.to_pydatetime(),
            candles=int(candles),
            peak_bps=float(peak),
            mean_bps=float(mean),
        )
        for start, end, candles, peak, mean in best[
            ["start", "end", "candles", "peak", "mean"]
        ].itertuples(index=False)
    )
