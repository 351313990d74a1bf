"""Benchmark: Lyra's backtest (``lyra.services.backtest``) -- the whole shipped history,
the cost of the threshold sweep, and a peer (backtesting.py) on the same EMA-cross rule.

Three measurements, one run:

- ``full_history``: every shipped hourly candle of BTC/USD on Coinbase and Bitfinex
  (window 2017-07-01 to 2019-10-18, about 37,700 market-candles) through
  :func:`~lyra.services.backtest.run_backtest` as ``lyra backtest`` runs it: the full
  offline panel (:func:`~lyra.decision.analysts.build_offline_panel`), consensus, risk,
  the kill switch and the paper broker, threshold 0.5 (so it trades) and the sweep's five
  phase thresholds, and the report (metrics, buy-and-hold, scorecard): everything
  ``run_backtest`` does, whatever it does at the time (it also trades the first threshold
  with the other weighting, fixed or learned). Timed once; target ``<= 60`` s.
- ``full_panel``: the same with every registered offline strategy voting (issue 16: the
  full strategy library over the shipped hourly history within issue 9's 60 s), the
  cross-exchange spreads fed to its spread strategy. Timed once; target ``<= 60`` s. Both
  full runs also report ``cpu_seconds`` (the process's own CPU time), since on a shared
  machine the wall time counts other processes too. The data checks' engine
  (great_expectations) is built before any timing (``checks_engine_warmup_s``): its import
  is a process's start-up, not a backtest's.
- ``sweep``: what the sweep costs. On the default window (2019-01-01 to 2019-07-01, both
  exchanges), with the series loaded once beforehand: (a) the votes once and
  :func:`~lyra.services.backtest_trading.trade_tape` at one threshold (0.5), against
  (b) the votes once and ``trade_tape`` at 0.5 and the five phase thresholds (0.70 to
  0.90), brokers and rules set up as ``run_backtest`` sets them up (fixed weights).
  Median of 3 of each, interleaved; target ``b / a <= 1.5``. ``ratio_from_parts`` is the
  same ratio from the medians of the votes pass (all six) and of the trading, steadier on
  a busy machine.
- ``peer``: one EMA-cross analyst (:class:`EmaCrossAnalyst`, defined here) on Coinbase
  BTC/USD hourly over ``PEER_WINDOW`` (2019-01-01 to 2019-10-17 10:00, the end of the
  file), against backtesting.py running the same rule on the same EMAs (Lyra's own
  ``add_indicators`` columns, handed to backtesting.py as precomputed indicators). Same
  fill rule (the next candle's open: Lyra's paper broker, backtesting.py's default
  ``trade_on_close=False``), same fee (Coinbase's taker fee on both sides of a trade), no
  slippage and no spread, same capital (10,000). Sizes differ on purpose (Lyra's risk
  sizes its orders; backtesting.py buys 20% of equity): the comparison is about *when*
  and *at what price* each side trades. Lyra is timed as the votes + brokers +
  ``trade_tape`` at 0.5 with the series loaded beforehand (backtesting.py is handed its
  frame and indicators ready too); ``run_backtest`` with the whole sweep and the report
  is timed once beside it. Median of 3 each; target Lyra / backtesting.py ``<= 3``.
  backtesting.py trades whole units, so it runs as its ``FractionalBacktest`` with a unit
  of 1e-8 BTC (Lyra's amount step).

  Alignment (:func:`peer_input`): Lyra loads a warm-up before the window and decides at
  each candle close inside it; backtesting.py gets the candle before the first decision
  (one warm-up row it never trades on), every decision candle and the candle after the
  last one when the file has it, with the EMAs Lyra decides on (``add_indicators`` over
  the candles Lyra loaded, sliced: ``same_input`` checks them to the bit).

  Trades are compared as (time, side, price) fills: Lyra's ``TradingRun.fills`` against
  backtesting.py's entries and exits (``stats._trades``, plus a trade still open at the
  end). Both stamp a fill with the open time of the candle it fills in. Lyra's risk may
  refuse trades the peer makes (the kill switch above all: 15% drawdown from the peak,
  then no new risk until a person resets it); the report says so in ``note``, compares
  the fills before the trip (``before_kill_switch``) and the signals too: every decision
  Lyra took, traded or refused, against the peer's fills (``signals_matching``). The
  same comparison over the full history, timed once, is ``history``.

Run from the repository root: ``.venv/bin/python benchmarks/backtest.py [--only NAME]...``
(``full_history``, ``full_panel``, ``sweep``, ``peer``; default all). Progress
lines, then one JSON object on the last line. Lyra's home is a temporary folder; nothing
touches the network. About half a minute on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import backtesting  # noqa: E402
import backtesting.backtesting as backtesting_core  # noqa: E402
from backtesting import Strategy  # noqa: E402
from backtesting.lib import FractionalBacktest  # noqa: E402

from lyra.bootstrap import build_runtime, dispose_all  # noqa: E402
from lyra.config import load_settings  # noqa: E402
from lyra.decision.analysts import build_offline_panel  # noqa: E402
from lyra.decision.analysts.base import (  # noqa: E402
    Analyst,
    Judgement,
    OfflineAnalyst,
    Readings,
)
from lyra.decision.analysts.registry import OFFLINE_ANALYSTS  # noqa: E402
from lyra.decision.consensus import ConsensusPolicy  # noqa: E402
from lyra.decision.votes import Action  # noqa: E402
from lyra.evidence.metrics import Fill  # noqa: E402
from lyra.exchanges.datafiles import FEEDS, read_candles  # noqa: E402
from lyra.execution import taker_fee  # noqa: E402
from lyra.market.checks import check_candles  # noqa: E402
from lyra.market.indicators import add_indicators  # noqa: E402
from lyra.services.backtest import (  # noqa: E402
    BacktestPanel,
    backtest_brokers,
    backtest_limits,
    run_backtest,
)
from lyra.services.backtest_plan import DEFAULT_WINDOW, BacktestPlan  # noqa: E402
from lyra.services.backtest_trading import (  # noqa: E402
    TradingRun,
    consensus_verdicts,
    trade_tape,
)
from lyra.services.backtest_votes import (  # noqa: E402
    MarketSeries,
    VoteTape,
    load_series,
    take_votes,
)
from lyra.services.runtime import Runtime  # noqa: E402

FULL_WINDOW = (datetime(2017, 7, 1, tzinfo=UTC), datetime(2019, 10, 18, tzinfo=UTC))
SWEEP_WINDOW = DEFAULT_WINDOW  # 2019-01-01 to 2019-07-01
EXCHANGES = ("coinbase", "bitfinex")
SYMBOL = "BTC/USD"
THRESHOLD = Decimal("0.5")
CAPITAL = Decimal(10_000)
PEER_FEED = FEEDS[0]  # coinbase BTC/USD 1h
#: The peer comparison's window: 2019 up to the candle before Lyra's kill switch trips
#: there (2019-08-30 18:00 UTC, on this rule with Coinbase's 0.6% fee): the switch is a Lyra
#: rule backtesting.py has not, so only a window it leaves alone compares the two trade
#: lists whole. The full history is compared too, up to its trip (``history``).
PEER_WINDOW = (datetime(2019, 1, 1, tzinfo=UTC), datetime(2019, 8, 30, 17, tzinfo=UTC))
PEER_SIZE = 0.2  # backtesting.py buys this fraction of its equity
FRACTIONAL_UNIT = 1e-8  # backtesting.py trades whole units: one unit = 1e-8 BTC
REPEATS = 3

FULL_TARGET_S = 60.0
SWEEP_TARGET = 1.5
PEER_TARGET = 3.0

Market = tuple[str, str]
T = TypeVar("T")


# --- the analyst and the peer's strategy -------------------------------------------------


_FULL = Decimal(1)


def _crossing(
    fast: Sequence[float] | Sequence[Decimal], slow: Sequence[float] | Sequence[Decimal]
) -> Action | None:
    """BUY when the fast EMA crossed above the slow one on the last candle, SELL when it
    crossed below, HOLD otherwise; None while either value of the last two is NaN.

    The one rule both sides apply (Lyra's analyst and the peer's strategy)."""
    f0, f1, s0, s1 = fast[-2], fast[-1], slow[-2], slow[-1]
    if any(math.isnan(x) for x in (f0, f1, s0, s1)):
        return None
    if f0 <= s0 and f1 > s1:
        return Action.BUY
    if f0 >= s0 and f1 < s1:
        return Action.SELL
    return Action.HOLD


class EmaCrossAnalyst(OfflineAnalyst):
    """One panel member written as every offline rule is (an :class:`OfflineAnalyst`: it
    reads its columns through the snapshot, frame or arrays alike, and gets the ATR stop):
    the 12/26 EMA cross of the last two candles, confidence 1."""

    name = "offline:ema-cross"
    columns = ("ema_12", "ema_26")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        # OfflineAnalyst hands over finite readings only: the cross test needs no NaN check
        (f0, f1), (s0, s1) = readings.values["ema_12"], readings.values["ema_26"]
        if f0 <= s0 and f1 > s1:
            action = Action.BUY
        elif f0 >= s0 and f1 < s1:
            action = Action.SELL
        else:
            action = Action.HOLD
        return Judgement(action, _FULL, "ema_12 against ema_26 over the last two candles")


class EmaCrossStrategy(Strategy):  # type: ignore[misc]
    """backtesting.py's side: the same rule on Lyra's EMA columns; buys PEER_SIZE of the
    equity on a cross up when flat, closes the position on a cross down."""

    fast_values: ClassVar[npt.NDArray[np.float64]] = np.empty(0)
    slow_values: ClassVar[npt.NDArray[np.float64]] = np.empty(0)

    def init(self) -> None:
        fast, slow = self.fast_values, self.slow_values
        self.fast = self.I(lambda: fast, name="ema_12", overlay=False)
        self.slow = self.I(lambda: slow, name="ema_26", overlay=False)

    def next(self) -> None:
        action = _crossing(self.fast[-2:], self.slow[-2:])
        if action is Action.BUY and not self.position:
            self.buy(size=PEER_SIZE)
        elif action is Action.SELL and self.position:
            self.position.close()


# --- Lyra's pieces, as run_backtest puts them together -----------------------------------


def plan_of(
    window: tuple[datetime, datetime], exchanges: tuple[str, ...], **extra: Any
) -> BacktestPlan:
    return BacktestPlan(
        start=window[0],
        end=window[1],
        exchanges=exchanges,
        symbols=(SYMBOL,),
        thresholds=(THRESHOLD,),
        capital=CAPITAL,
        **extra,
    )


async def trade_thresholds(
    runtime: Runtime,
    plan: BacktestPlan,
    tape: VoteTape,
    series: dict[Market, MarketSeries],
    thresholds: Sequence[Decimal],
    panel_size: int,
) -> dict[Decimal, TradingRun]:
    """``trade_tape`` at each threshold, brokers and rules set up as ``run_backtest`` does."""
    limits = backtest_limits(runtime, plan)
    runs: dict[Decimal, TradingRun] = {}
    async with backtest_brokers(runtime, plan, series) as (brokers, rules):
        quorum = ConsensusPolicy(
            threshold=thresholds[0],
            min_votes=min(runtime.min_votes, panel_size),
            min_weight_share=runtime.min_weight_share,
        )
        # as run_backtest does: the votes added up once per tally for every threshold
        verdicts = consensus_verdicts(tape, quorum, thresholds)
        for threshold in thresholds:
            runs[threshold] = await trade_tape(
                tape,
                policy=replace(quorum, threshold=threshold),
                limits=limits,
                capital=plan.capital,
                brokers=brokers,
                rules=rules,
                verdicts=verdicts[threshold],
            )
    return runs


@dataclass(frozen=True, slots=True)
class Pass:
    """One timed pass: the votes once, then ``trade_tape`` at some thresholds."""

    votes_s: float
    trades_s: float
    tape: VoteTape
    runs: dict[Decimal, TradingRun]

    @property
    def seconds(self) -> float:
        return self.votes_s + self.trades_s


async def votes_and_trades(
    runtime: Runtime,
    plan: BacktestPlan,
    series: dict[Market, MarketSeries],
    panel: Sequence[Analyst],
    thresholds: Sequence[Decimal],
) -> Pass:
    """The votes once, then ``trade_tape`` at each of ``thresholds`` (brokers included)."""
    started = time.perf_counter()
    tape = await take_votes(panel, series, plan, full_context=False)
    voted = time.perf_counter()
    runs = await trade_thresholds(runtime, plan, tape, series, thresholds, len(panel))
    return Pass(voted - started, time.perf_counter() - voted, tape, runs)


async def timed(job: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    started = time.perf_counter()
    out = await job()
    return time.perf_counter() - started, out


# --- 1. the whole history ----------------------------------------------------------------


async def full_history(runtime: Runtime, names: Sequence[str] = ()) -> dict[str, Any]:
    """``run_backtest`` over the whole history with the offline analysts ``names`` (empty:
    the default panel), timed once; the process CPU seconds beside the wall time (on a
    shared machine the wall time also counts other processes' turns)."""
    plan = plan_of(FULL_WINDOW, EXCHANGES)
    panel = BacktestPanel(build_offline_panel(list(names)))
    cpu_started = time.process_time()
    seconds, report = await timed(lambda: run_backtest(runtime, plan, panel))
    cpu = time.process_time() - cpu_started
    assert report.tape is not None
    label = "full panel" if names else "full history"
    result = {
        "panel": [member.name for member in panel.analysts],
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "instants": report.instants,
        "market_candles": len(report.tape.tallies),
        "votes": report.votes,
        "trades": len(report.primary.fills),
        "thresholds": [float(t) for t in plan.sweep_thresholds],
        "refusals": dict(sorted(report.primary.refusals.items())),
        "kill_switch_tripped_at": _stamp(report.primary.kill_switch.tripped_at),
        "target_s": FULL_TARGET_S,
        "ok": seconds <= FULL_TARGET_S,
    }
    print(
        f"{label}: {seconds:.1f} s (cpu {cpu:.1f} s), {len(panel.analysts)} analysts,"
        f" {result['market_candles']:,} market-candles"
        f" ({report.instants:,} instants), {report.votes:,} votes, {result['trades']} trades"
        f" at {THRESHOLD} (target <= {FULL_TARGET_S:.0f} s)",
        flush=True,
    )
    return result


# --- 2. the sweep's cost -----------------------------------------------------------------


async def sweep_ratio(runtime: Runtime) -> dict[str, Any]:
    plan = plan_of(SWEEP_WINDOW, EXCHANGES)
    load_s, series = await timed(lambda: load_series(runtime, plan))
    panel = build_offline_panel()
    every = plan.sweep_thresholds
    one: list[Pass] = []
    sweep: list[Pass] = []
    for round_ in range(REPEATS):
        one.append(await votes_and_trades(runtime, plan, series, panel, (THRESHOLD,)))
        sweep.append(await votes_and_trades(runtime, plan, series, panel, every))
        a, b = one[-1], sweep[-1]
        print(
            f"sweep round {round_ + 1}: votes + 1 threshold {a.seconds:.2f} s"
            f" (votes {a.votes_s:.2f}, trading {a.trades_s:.2f}),"
            f" votes + {len(every)} thresholds {b.seconds:.2f} s"
            f" (votes {b.votes_s:.2f}, trading {b.trades_s:.2f}),"
            f" ratio {b.seconds / a.seconds:.3f}",
            flush=True,
        )
    a_med = statistics.median(p.seconds for p in one)
    b_med = statistics.median(p.seconds for p in sweep)
    votes_med = statistics.median(p.votes_s for p in one + sweep)
    return {
        "window": [_stamp(SWEEP_WINDOW[0]), _stamp(SWEEP_WINDOW[1])],
        "exchanges": list(EXCHANGES),
        "market_candles": len(one[-1].tape.tallies),
        "panel": [a.name for a in panel],
        "load_series_s": round(load_s, 3),
        "one_threshold_s": round(a_med, 3),
        "sweep_s": round(b_med, 3),
        "thresholds": [float(t) for t in every],
        "votes_s": round(votes_med, 3),
        "trading_one_threshold_s": round(statistics.median(p.trades_s for p in one), 3),
        "trading_sweep_s": round(statistics.median(p.trades_s for p in sweep), 3),
        "ratio": round(b_med / a_med, 4),
        # the same ratio from the medians of the parts (the votes pass of all six runs):
        # steadier on a busy machine, where one slow votes pass moves a or b alone
        "ratio_from_parts": round(
            (votes_med + statistics.median(p.trades_s for p in sweep))
            / (votes_med + statistics.median(p.trades_s for p in one)),
            4,
        ),
        "round_ratios": [round(b.seconds / a.seconds, 4) for a, b in zip(one, sweep, strict=True)],
        "rounds": {
            "one_threshold_s": _rounded([p.seconds for p in one]),
            "sweep_s": _rounded([p.seconds for p in sweep]),
        },
        "target": SWEEP_TARGET,
        "ok": b_med / a_med <= SWEEP_TARGET,
    }


# --- 3. the peer -------------------------------------------------------------------------

FillKey = tuple[pd.Timestamp, str, float]


def peer_frame(candles: pd.DataFrame) -> pd.DataFrame:
    """backtesting.py's input: OHLCV on a timezone-aware index of candle open times."""
    index = pd.DatetimeIndex(candles["timestamp"])
    if index.tz is None:
        index = index.tz_localize(UTC)
    return pd.DataFrame(
        {
            "Open": candles["open"].to_numpy(dtype=np.float64),
            "High": candles["high"].to_numpy(dtype=np.float64),
            "Low": candles["low"].to_numpy(dtype=np.float64),
            "Close": candles["close"].to_numpy(dtype=np.float64),
            "Volume": candles["volume"].to_numpy(dtype=np.float64),
        },
        index=index.tz_convert(UTC),
    )


@dataclass(frozen=True, slots=True)
class PeerInput:
    """backtesting.py's frame and EMAs for one window, and whether they are Lyra's."""

    frame: pd.DataFrame
    fast: npt.NDArray[np.float64]
    slow: npt.NDArray[np.float64]
    same_input: bool
    details: dict[str, Any]


def _utc_index(stamps: pd.Series) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(stamps)
    return (index.tz_localize(UTC) if index.tz is None else index).tz_convert(UTC)


def cross_signals(
    fast: npt.NDArray[np.float64], slow: npt.NDArray[np.float64]
) -> npt.NDArray[np.int8]:
    """:func:`_crossing` on every pair of rows at once: +1 a cross up at row ``i + 1``,
    -1 a cross down, 0 neither (or a NaN)."""
    f0, f1, s0, s1 = fast[:-1], fast[1:], slow[:-1], slow[1:]
    up = (f0 <= s0) & (f1 > s1)
    down = (f0 >= s0) & (f1 < s1)
    return up.astype(np.int8) - down.astype(np.int8)


def peer_input(
    candles: pd.DataFrame, full_series: pd.DataFrame, one: MarketSeries, plan: BacktestPlan
) -> PeerInput:
    """backtesting.py's input for ``plan``'s window, aligned with Lyra's decisions.

    Lyra decides at the close of each candle closing in the window (rows ``first`` to
    ``last`` of its series), on that candle's EMAs and the previous one's, and fills at
    the next candle's open. backtesting.py calls ``next`` first on row ``1 + w`` of its
    frame, ``w`` the rows where an indicator is NaN, reading that row and the one
    before, and fills at the next row's open. So its frame is the candle before the
    first decision (one warm-up row, never traded on: the EMAs are defined there, so
    ``w`` is 0), every decision candle, and the candle after the last one (where its
    order fills) when the file has it. On the full history the first decision is the
    file's first candle, with no row before it; there ``w`` is the EMAs' own NaN rows,
    and Lyra's analyst abstains on those same rows.

    The EMAs are ``add_indicators`` over the candles Lyra loaded (its warm-up before the
    window, then the window), sliced to the frame's rows: the values Lyra decides on, to
    the bit. ``add_indicators`` over the whole file (``full_series``) agrees with them to
    floating-point rounding only (an EMA keeps a trace of where it was seeded): reported
    in ``details["ema_full_series"]``, with whether that would move any cross.
    """
    lyra = one.frame
    decisions = np.flatnonzero(one.window_mask(plan))
    first, last = int(decisions[0]), int(decisions[-1])
    begin, end = max(first - 1, 0), min(last + 2, len(lyra))
    file_index = _utc_index(candles["timestamp"])
    lyra_index = _utc_index(lyra["timestamp"])
    loaded = file_index.get_indexer(lyra_index)
    if (loaded < 0).any() or (np.diff(loaded) != 1).any():
        raise AssertionError("Lyra's candles are not a contiguous run of the Coinbase file")
    offset = int(loaded[0])
    indicators = add_indicators(candles.iloc[offset : offset + len(lyra)].reset_index(drop=True))
    fast = indicators["ema_12"].to_numpy(dtype=np.float64)[begin:end]
    slow = indicators["ema_26"].to_numpy(dtype=np.float64)[begin:end]
    frame = peer_frame(candles.iloc[offset + begin : offset + end])
    same_input = bool(
        frame.index.equals(lyra_index[begin:end])
        and np.array_equal(lyra["ema_12"].to_numpy()[begin:end], fast, equal_nan=True)
        and np.array_equal(lyra["ema_26"].to_numpy()[begin:end], slow, equal_nan=True)
        and np.array_equal(lyra["open"].to_numpy()[begin:end], frame["Open"].to_numpy())
    )
    # the row backtesting.py first calls next() on (as Backtest.run computes it)
    undefined = int(max(np.isnan(fast).argmin(), np.isnan(slow).argmin()))
    first_next = 1 + undefined
    defined = ~np.isnan(lyra["ema_12"].to_numpy()) & ~np.isnan(lyra["ema_26"].to_numpy())
    # Lyra's first decision that reads two defined rows of both EMAs
    readable = [r for r in decisions[:64].tolist() if r > 0 and defined[r - 1] and defined[r]]
    aligned = bool(readable) and begin + first_next == readable[0]
    whole_fast = full_series["ema_12"].to_numpy(dtype=np.float64)[offset + begin : offset + end]
    whole_slow = full_series["ema_26"].to_numpy(dtype=np.float64)[offset + begin : offset + end]
    with np.errstate(invalid="ignore", divide="ignore"):
        gaps = np.abs(np.concatenate([whole_fast - fast, whole_slow - slow])) / np.abs(
            np.concatenate([fast, slow])
        )
    return PeerInput(
        frame,
        fast,
        slow,
        same_input and aligned,
        {
            "frame_candles": [_stamp(frame.index[0]), _stamp(frame.index[-1])],
            "lyra_warmup_candles": first,
            "lyra_decision_candles": len(decisions),
            "fill_candle_after_last_decision": end == last + 2,
            "first_decision_aligned": aligned,
            "ema_full_series": {
                "identical": bool(
                    np.array_equal(whole_fast, fast, equal_nan=True)
                    and np.array_equal(whole_slow, slow, equal_nan=True)
                ),
                "max_rel_diff": float(np.nanmax(gaps)) if np.isfinite(gaps).any() else None,
                "same_crosses": bool(
                    np.array_equal(
                        cross_signals(whole_fast, whole_slow)[first_next - 1 :],
                        cross_signals(fast, slow)[first_next - 1 :],
                    )
                ),
            },
        },
    )


def run_peer(frame: pd.DataFrame, fast: np.ndarray, slow: np.ndarray, fee: float) -> Any:
    """One backtesting.py run; the stats (``_trades`` in BTC and USD, not units)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = FractionalBacktest(
            frame,
            EmaCrossStrategy,
            cash=float(CAPITAL),
            commission=fee,
            spread=0.0,
            trade_on_close=False,
            finalize_trades=False,
            fractional_unit=FRACTIONAL_UNIT,
        )
        return test.run(fast_values=fast, slow_values=slow)


def peer_fills(stats: Any) -> list[FillKey]:
    """The peer's fills: each closed trade's entry and exit, and a trade left open."""
    trades = stats["_trades"]
    fills: list[FillKey] = []
    for row in trades.itertuples():
        fills.append((pd.Timestamp(row.EntryTime), "buy", float(row.EntryPrice)))
        fills.append((pd.Timestamp(row.ExitTime), "sell", float(row.ExitPrice)))
    for trade in stats["_strategy"].trades:  # still open (finalize_trades=False)
        price = float(trade.entry_price) / FRACTIONAL_UNIT
        fills.append((pd.Timestamp(trade.entry_time), "buy", price))
    fills.sort(key=lambda f: (f[0], f[1]))
    return fills


def lyra_fills(fills: Sequence[Fill]) -> list[FillKey]:
    return [(pd.Timestamp(f.time), f.side, float(f.price)) for f in fills]


def _same(a: FillKey, b: FillKey) -> bool:
    return a[0] == b[0] and a[1] == b[1] and math.isclose(a[2], b[2], rel_tol=1e-9)


def _key(fill: FillKey) -> tuple[pd.Timestamp, str, float]:
    return (fill[0], fill[1], round(fill[2], 6))


def compare_fills(ours: list[FillKey], theirs: list[FillKey]) -> dict[str, Any]:
    """Counts per side, how many fills match exactly (time, side, price) and where the
    two lists first part."""
    matching = sum((Counter(map(_key, ours)) & Counter(map(_key, theirs))).values())
    first: dict[str, Any] | None = None
    for i in range(max(len(ours), len(theirs))):
        mine = ours[i] if i < len(ours) else None
        peer = theirs[i] if i < len(theirs) else None
        if mine is None or peer is None or not _same(mine, peer):
            first = {"index": i, "lyra": _show(mine), "backtesting_py": _show(peer)}
            break
    return {
        "same_trades": first is None,
        "lyra_trades": len(ours),
        "peer_trades": len(theirs),
        "lyra_sides": dict(Counter(f[1] for f in ours)),
        "peer_sides": dict(Counter(f[1] for f in theirs)),
        "matching": matching,
        "matching_prefix": first["index"] if first else len(ours),
        "first_mismatch": first,
    }


def compare_signals(run: TradingRun, theirs: list[FillKey]) -> dict[str, Any]:
    """Every decision Lyra took (traded or refused) against the peer's fills: a decision
    at ``t`` is an order filling in the candle opening at ``t``, as the peer's is."""
    outcome = {
        (pd.Timestamp(m.as_of), m.action): "traded"
        if m.traded
        else (m.refused or "").partition(":")[0]
        for m in run.decisions
    }
    peer = [(t, side) for t, side, _ in theirs]
    common = sum((Counter(outcome.keys()) & Counter(peer)).values())
    peer_only = sorted(set(peer) - set(outcome))
    lyra_only = sorted(set(outcome) - set(peer))
    return {
        "lyra_decisions": len(outcome),
        "signals_matching": common,
        "refused": dict(sorted(Counter(v for v in outcome.values() if v != "traded").items())),
        "refused_where_the_peer_traded": dict(
            sorted(Counter(outcome[k] for k in set(peer) & set(outcome)).items())
        ),
        "peer_fills_without_a_lyra_decision": len(peer_only),
        "examples_peer_only": [_show((t, s, math.nan)) for t, s in peer_only[:5]],
        "lyra_decisions_without_a_peer_fill": dict(
            sorted(Counter(outcome[k] for k in lyra_only).items())
        ),
        "examples_lyra_only": [
            {"time": _stamp(t.to_pydatetime()), "side": s, "lyra": outcome[(t, s)]}
            for t, s in lyra_only[:5]
        ],
    }


async def compare_with_peer(
    runtime: Runtime,
    window: tuple[datetime, datetime],
    candles: pd.DataFrame,
    full_series: pd.DataFrame,
    *,
    rounds: int,
    with_report: bool,
) -> dict[str, Any]:
    """Lyra and backtesting.py on ``window``: timed ``rounds`` times each, interleaved;
    ``run_backtest`` once beside them when ``with_report``. The fills of the last round."""
    plan = plan_of(window, ("coinbase",), slippage_bps=Decimal(0))
    fee = taker_fee("coinbase")
    assert plan.fee_rate is None  # so the broker charges taker_fee("coinbase") too
    panel: list[Analyst] = [EmaCrossAnalyst()]
    label = f"peer {window[0]:%Y-%m-%d} to {window[1]:%Y-%m-%d %H:%M}"
    load_s, series = await timed(lambda: load_series(runtime, plan))
    given = peer_input(candles, full_series, series[("coinbase", SYMBOL)], plan)

    passes: list[Pass] = []
    peer_times: list[float] = []
    stats: Any = None
    for round_ in range(rounds):
        passes.append(await votes_and_trades(runtime, plan, series, panel, (THRESHOLD,)))
        started = time.perf_counter()
        stats = run_peer(given.frame, given.fast, given.slow, float(fee))
        peer_times.append(time.perf_counter() - started)
        mine = passes[-1]
        print(
            f"{label}, round {round_ + 1}: lyra {mine.seconds:.2f} s"
            f" (votes {mine.votes_s:.2f}, trading {mine.trades_s:.2f}),"
            f" backtesting.py {peer_times[-1]:.2f} s"
            f" (ratio {mine.seconds / peer_times[-1]:.2f})",
            flush=True,
        )
    run = passes[-1].runs[THRESHOLD]
    lyra_times = [p.seconds for p in passes]
    lyra_s, peer_s = statistics.median(lyra_times), statistics.median(peer_times)

    ours, theirs = lyra_fills(run.fills), peer_fills(stats)
    fills = compare_fills(ours, theirs)
    tripped = run.kill_switch.tripped_at
    before = (
        None
        if tripped is None
        else compare_fills(
            [f for f in ours if f[0] < pd.Timestamp(tripped)],
            [f for f in theirs if f[0] < pd.Timestamp(tripped)],
        )
    )
    result: dict[str, Any] = {
        "window": [_stamp(window[0]), _stamp(window[1])],
        "candles": len(given.frame),
        "same_input": given.same_input,
        "input": given.details,
        "lyra_load_series_s": round(load_s, 3),
        "lyra_s": round(lyra_s, 3),
        "lyra_votes_s": round(statistics.median(p.votes_s for p in passes), 3),
        "lyra_trading_s": round(statistics.median(p.trades_s for p in passes), 3),
        "backtesting_py_s": round(peer_s, 3),
        "ratio": round(lyra_s / peer_s, 3),
    }
    if rounds > 1:
        result["rounds"] = {
            "lyra_s": _rounded(lyra_times),
            "backtesting_py_s": _rounded(peer_times),
        }
    if with_report:
        full_s, report = await timed(lambda: run_backtest(runtime, plan, BacktestPanel(panel)))
        assert lyra_fills(report.primary.fills) == ours
        result["lyra_run_backtest_s"] = round(full_s, 3)
        result["ratio_run_backtest"] = round(full_s / peer_s, 3)
    result.update(
        {
            **fills,
            "kill_switch_tripped_at": _stamp(tripped),
            "kill_switch_reason": run.kill_switch.reason,
            "before_kill_switch": before,
            "signals": compare_signals(run, theirs),
            "peer_return_pct": round(float(stats["Return [%]"]), 4),
            "lyra_final_equity": round(float(run.equity.iloc[-1]), 2),
        }
    )
    result["note"] = peer_note(result)
    print(
        f"{label}: lyra {lyra_s:.2f} s, backtesting.py {peer_s:.2f} s,"
        f" ratio {lyra_s / peer_s:.2f}; same input: {given.same_input};"
        f" fills lyra {len(ours)}, peer {len(theirs)}, matching {fills['matching']},"
        f" same: {fills['same_trades']}; kill switch: {_stamp(tripped) or 'armed'}",
        flush=True,
    )
    return result


async def peer(runtime: Runtime) -> dict[str, Any]:
    """The comparison on PEER_WINDOW (timed REPEATS times, ``run_backtest`` beside it),
    and once on the full history (``history``), where Lyra's kill switch trips."""
    candles = read_candles(PEER_FEED)
    full_series = add_indicators(candles)
    main = await compare_with_peer(
        runtime, PEER_WINDOW, candles, full_series, rounds=REPEATS, with_report=True
    )
    history = await compare_with_peer(
        runtime, FULL_WINDOW, candles, full_series, rounds=REPEATS, with_report=False
    )
    history_keys = (
        "window",
        "candles",
        "same_input",
        "lyra_s",
        "backtesting_py_s",
        "ratio",
        "same_trades",
        "lyra_trades",
        "peer_trades",
        "matching",
        "matching_prefix",
        "first_mismatch",
        "kill_switch_tripped_at",
        "kill_switch_reason",
        "before_kill_switch",
        "signals",
        "note",
    )
    history_note = history["note"]
    result: dict[str, Any] = {
        "market": f"coinbase {SYMBOL} 1h",
        "fee": float(taker_fee("coinbase")),
        "capital": float(CAPITAL),
        **main,
        "history": {k: history[k] for k in history_keys},
        "target": PEER_TARGET,
        "ok": main["ratio"] <= PEER_TARGET,
    }
    result["note"] = (
        f"{result['window'][0]} to {result['window'][1]}: {main['note']};"
        f" full history ({history['window'][0]} to {history['window'][1]}): {history_note}"
    )
    return result


def peer_note(result: dict[str, Any]) -> str:
    """Why the fills differ (or that they do not), from the figures."""
    if result["same_trades"]:
        return "same fills: every entry and exit at the same candle open"
    parts: list[str] = []
    signals = result["signals"]
    before = result["before_kill_switch"]
    if result["kill_switch_tripped_at"]:
        same_before = before is not None and before["same_trades"]
        parts.append(
            f"Lyra's kill switch tripped at {result['kill_switch_tripped_at']}"
            f" ({result['kill_switch_reason']}); from then on it refuses every buy"
            " (no new risk until a person resets it) while backtesting.py keeps trading;"
            f" before the trip the fills are {'identical' if same_before else 'NOT identical'}"
            + ("" if before is None else f" ({before['matching']} of {before['lyra_trades']})")
        )
    where = {k: v for k, v in signals["refused_where_the_peer_traded"].items() if k != "traded"}
    if where:
        shown = ", ".join(f"{k} {v}" for k, v in where.items())
        parts.append(
            f"peer fills that Lyra decided too but refused, by check: {shown}"
            + (
                " (a nothing_held there is the peer's exit of a buy Lyra refused)"
                if "nothing_held" in where
                else ""
            )
        )
    if signals["peer_fills_without_a_lyra_decision"]:
        parts.append(
            f"{signals['peer_fills_without_a_lyra_decision']} peer fills have no Lyra decision"
            f" at the same candle (first ones: {signals['examples_peer_only']})"
        )
    lyra_only = signals["lyra_decisions_without_a_peer_fill"]
    if lyra_only:
        shown = ", ".join(f"{k} {v}" for k, v in lyra_only.items())
        parts.append(
            f"Lyra decisions with no peer fill: {shown}"
            + (
                " (sells with nothing held: the flat peer does not sell either, so not a"
                " trade difference)"
                if set(lyra_only) == {"nothing_held"}
                else ""
            )
        )
    return "; ".join(parts)


# --- main --------------------------------------------------------------------------------


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _show(fill: FillKey | None) -> dict[str, Any] | None:
    if fill is None:
        return None
    price = None if math.isnan(fill[2]) else round(fill[2], 8)
    return {"time": _stamp(fill[0].to_pydatetime()), "side": fill[1], "price": price}


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 3) for v in values]


def _quiet_backtesting() -> None:
    """No progress bars from backtesting.py (it draws them with tqdm when installed)."""

    def plain(seq: Any, **_: Any) -> Any:
        return seq

    backtesting_core._tqdm = plain
    warnings.filterwarnings("ignore", module="backtesting")


MEASUREMENTS: dict[str, Callable[[Runtime], Awaitable[dict[str, Any]]]] = {
    "full_history": full_history,
    # issue 16: every registered strategy over the whole history, within the same 60 s
    "full_panel": lambda runtime: full_history(runtime, list(OFFLINE_ANALYSTS)),
    "sweep": sweep_ratio,
    "peer": peer,
}


def warm_up_checks() -> float:
    """Build the data checks' engine (great_expectations, seconds to import) once before
    the timings: a process's start-up, paid once whatever it runs, not a backtest's."""
    started = time.perf_counter()
    candles = read_candles(PEER_FEED).tail(50).reset_index(drop=True)
    last = pd.Timestamp(candles["timestamp"].iloc[-1]).to_pydatetime()
    check_candles(candles, exchange="coinbase", symbol=SYMBOL, timeframe="1h", as_of=last)
    return time.perf_counter() - started


async def measure(runtime: Runtime, only: Sequence[str]) -> dict[str, Any]:
    warm = warm_up_checks()
    print(f"data checks' engine built in {warm:.1f} s (before the timings)", flush=True)
    out: dict[str, Any] = {"checks_engine_warmup_s": round(warm, 3)}
    for name in only:
        out[name] = await MEASUREMENTS[name](runtime)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(MEASUREMENTS),
        help="run only this measurement (repeatable); default: all of them",
    )
    only = parser.parse_args().only or list(MEASUREMENTS)
    _quiet_backtesting()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lyra-bench-backtest-") as folder:
        try:
            runtime = build_runtime(load_settings(home=Path(folder) / "home"), phase=1)
            report = asyncio.run(measure(runtime, only))
        finally:
            dispose_all()
    report.update(
        benchmark="backtest",
        python=sys.version.split()[0],
        pandas=pd.__version__,
        numpy=np.__version__,
        backtesting_py=backtesting.__version__,
        cpus=os.cpu_count(),
        load_average_1m=round(os.getloadavg()[0], 2),
        seconds=round(time.perf_counter() - started, 1),
    )
    report["ok"] = all(report[name]["ok"] for name in only)
    for name in only:
        print(f"{name}: {'met' if report[name]['ok'] else 'NOT MET'}", flush=True)
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
