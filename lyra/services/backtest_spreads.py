"""Cross-exchange spreads for an offline backtest, point in time (issue 16).

A live cycle hands every snapshot the spreads of its market against the same symbol on
the cycle's other exchanges (:func:`~lyra.services.market_context.cross_spreads`, over the
decision batches). An offline backtest reads indicator columns, not batches, so without
this module its snapshots carried no spreads and the cross-exchange-spread strategy
abstained on every candle for want of input, not of a signal.

Here each pair of venues of one symbol is aligned once over the whole loaded series by
the spread module itself (:func:`lyra.market.spreads.spread_series`: an inner join on the
candle's open time, ``spread_bps`` and its z-score against the
:data:`~lyra.services.market_context.SPREAD_WINDOW` aligned candles *before* it). Every
figure of an aligned candle uses only that candle and earlier ones, so computing over
more rows never changes an earlier value; at an instant ``t`` a market's reading is the
one of the latest candle both venues have that closed by ``t`` (never a later one: no
look-ahead). The episode count is the run of consecutive aligned candles (one step
apart) above :data:`~lyra.services.market_context.SPREAD_THRESHOLD_BPS` ending there.

The live cycle computes the same figures over its batch of ``candle_limit`` candles, so a
z-score may differ in its last bits (rolling sums over a longer series) and an episode
longer than a batch is counted whole here; the rule reads neither difference.

**The shipped data has no real spread**: the Bitfinex hourly file repeats Coinbase's
(``lyra/market/data/ORIGIN.md``), every aligned spread is 0, the z-score is undefined
(no variation) and the strategy abstains with that reason: its record is empty because
the data has no spread, which docs/strategies.md says.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from lyra.decision.votes import CrossSpread
from lyra.market.spreads import spread_series
from lyra.services.backtest_series import Market, MarketSeries
from lyra.services.market_context import SPREAD_THRESHOLD_BPS, SPREAD_WINDOW

__all__ = ["SpreadTable", "spread_tables", "spreads_of"]


@dataclass(frozen=True, slots=True)
class _Pair:
    """One market against one other venue: per row of the market, the aligned row read
    at its close (-1: none yet), and the aligned figures."""

    other: str
    aligned_row: npt.NDArray[np.int64]
    at_ns: npt.NDArray[np.int64]
    spread_bps: list[float]
    zscore: list[float]
    episode: list[int]


@dataclass(frozen=True, slots=True)
class SpreadTable:
    """One market's spreads against its symbol's other venues, by row of its series."""

    threshold_bps: float
    pairs: tuple[_Pair, ...]

    def at_row(self, row: int) -> tuple[CrossSpread, ...]:
        """The spreads a snapshot of the row's close holds (the candle itself included:
        it has closed), one per venue with an aligned candle by then."""
        out: list[CrossSpread] = []
        for pair in self.pairs:
            aligned = int(pair.aligned_row[row])
            if aligned < 0:
                continue
            zscore = pair.zscore[aligned]
            out.append(
                CrossSpread(
                    other=pair.other,
                    at=datetime.fromtimestamp(int(pair.at_ns[aligned]) / 1e9, UTC),
                    spread_bps=pair.spread_bps[aligned],
                    zscore=None if np.isnan(zscore) else zscore,
                    threshold_bps=self.threshold_bps,
                    episode_candles=pair.episode[aligned],
                    aligned=aligned + 1,
                )
            )
        return tuple(out)


def spread_tables(
    series: Mapping[Market, MarketSeries],
    *,
    threshold_bps: float = SPREAD_THRESHOLD_BPS,
    window: int = SPREAD_WINDOW,
) -> dict[Market, SpreadTable]:
    """Each market's :class:`SpreadTable` against the same symbol on the other loaded
    exchanges (module docstring); a symbol on one exchange only gets none."""
    by_symbol: dict[str, list[MarketSeries]] = defaultdict(list)
    for one in series.values():
        by_symbol[one.symbol].append(one)
    tables: dict[Market, SpreadTable] = {}
    for venues in by_symbol.values():
        if len(venues) < 2:
            continue
        for one in venues:
            pairs = [
                _pair(one, other, threshold_bps, window)
                for other in venues
                if other.exchange != one.exchange
            ]
            tables[one.market] = SpreadTable(float(threshold_bps), tuple(pairs))
    return tables


def _pair(one: MarketSeries, other: MarketSeries, threshold_bps: float, window: int) -> _Pair:
    aligned = spread_series(
        one.frame[["timestamp", "close"]], other.frame[["timestamp", "close"]], window=window
    ).frame
    stamps = pd.DatetimeIndex(aligned["timestamp"]).as_unit("ns").asi8.astype(np.int64)
    spread = aligned["spread_bps"].to_numpy(dtype=np.float64)
    return _Pair(
        other=other.exchange,
        # the latest aligned candle opening at or before the row's candle: closed by then
        aligned_row=np.searchsorted(stamps, one.open_ns, side="right").astype(np.int64) - 1,
        at_ns=stamps,
        spread_bps=spread.tolist(),
        zscore=aligned["zscore"].to_numpy(dtype=np.float64).tolist(),
        episode=_episode_runs(stamps, np.abs(spread) > threshold_bps, _nanoseconds(one.step)),
    )


def _nanoseconds(step: timedelta) -> int:
    return (step // timedelta(microseconds=1)) * 1000


def _episode_runs(
    stamps: npt.NDArray[np.int64], above: npt.NDArray[np.bool_], step_ns: int
) -> list[int]:
    """For each aligned candle, the consecutive candles above the threshold ending at it
    (0 when it is not above); a candle more than one step after the previous ends a run."""
    runs: list[int] = []
    run = 0
    previous: int | None = None
    for stamp, high in zip(stamps.tolist(), above.tolist(), strict=True):
        joined = previous is not None and stamp - previous == step_ns
        run = (run + 1 if joined else 1) if high else 0
        runs.append(run)
        previous = stamp
    return runs


def spreads_of(
    tables: Mapping[Market, SpreadTable], market: Market, row: int
) -> Sequence[CrossSpread]:
    """The market's spreads at ``row`` (none when its symbol has one venue)."""
    table = tables.get(market)
    return () if table is None else table.at_row(row)
