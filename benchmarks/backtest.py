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
- ``sweep``: what the sweep costs. On the default window (2019-01-01 to 2019-07-01, both
  exchanges), with the series loaded once beforehand: (a) the votes once and
  :func:`~lyra.services.backtest_trading.trade_tape` at one threshold (0.5), against
  (b) the votes once and ``trade_tape`` at 0.5 and the five phase thresholds (0.70 to
  0.90), brokers and rules set up as ``run_backtest`` sets them up (fixed weights).
  Median of 3 of each, interleaved; target ``b / a <= 1.5``. ``ratio_from_parts`` is the
  same ratio from the medians of the votes pass (all six) and of the trading, steadier on
  a busy machine.
- ``peer``: one EMA-cross analyst (:class:`EmaCrossAnalyst`, defined here) on Coinbase
  BTC/USD hourly, the whole file, against backtesting.py running the same rule on the
  same EMAs (Lyra's own ``add_indicators`` columns, handed to backtesting.py as
  precomputed indicators). Same fill rule (the next candle's open: Lyra's paper broker,
  backtesting.py's default ``trade_on_close=False``), same fee (Coinbase's taker fee on
  both sides of a trade), no slippage and no spread, same capital (10,000). Sizes differ
  on purpose (Lyra's risk sizes its orders; backtesting.py buys 20% of equity): the
  comparison is about *when* and *at what price* each side trades. Lyra is timed as the
  votes + brokers + ``trade_tape`` at 0.5 with the series loaded beforehand (backtesting.py
  is handed its frame and indicators ready too); ``run_backtest`` with the whole sweep and
  the report is timed once beside it. Median of 3 each; target Lyra / backtesting.py
  ``<= 3``. backtesting.py trades whole units, so it runs as its ``FractionalBacktest``
  with a unit of 1e-8 BTC (Lyra's amount step).

  Trades are compared as (time, side, price) fills: Lyra's ``TradingRun.fills`` against
  backtesting.py's entries and exits (``stats._trades``, plus a trade still open at the
  end). Both stamp a fill with the open time of the candle it fills in. Lyra's risk may
  refuse trades the peer makes (the kill switch above all: 15% drawdown from the peak,
  then no new risk until a person resets it); the report says so in ``note`` and
  compares the signals too: every decision Lyra took, traded or refused, against the
  peer's fills (``signals_matching``).

Run from the repository root: ``.venv/bin/python benchmarks/backtest.py``. Progress
lines, then one JSON object on the last line. Lyra's home is a temporary folder; nothing
touches the network. About a minute and a half on two cores.
"""

from __future__ import annotations

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
from contextlib import AsyncExitStack
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
from lyra.decision.consensus import ConsensusPolicy  # noqa: E402
from lyra.decision.votes import Action  # noqa: E402
from lyra.evidence.metrics import Fill  # noqa: E402
from lyra.exchanges.datafiles import FEEDS, read_candles  # noqa: E402
from lyra.execution import Broker, FillModel, MarketRules, PaperBroker, taker_fee  # noqa: E402
from lyra.market.indicators import add_indicators  # noqa: E402
from lyra.services.backtest import BacktestPanel, _bar_source, run_backtest  # noqa: E402
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
        fast, slow = readings.values["ema_12"], readings.values["ema_26"]
        action = _crossing(fast, slow)  # OfflineAnalyst gives finite readings only
        if action is None:
            return "ema_12/ema_26 undefined"
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
    limits = replace(
        runtime.limits,
        paper_capital_usd=plan.capital,
        symbols=runtime.limits.symbols | frozenset(plan.symbols),
    )
    model = FillModel(slippage_bps=plan.slippage_bps, max_volume_share=plan.volume_share)
    runs: dict[Decimal, TradingRun] = {}
    async with AsyncExitStack() as stack:
        brokers: dict[str, Broker] = {}
        for exchange in plan.exchanges:
            data = runtime.market.client(exchange, plan.end + plan.step)
            broker = PaperBroker(
                exchange,
                data=data,
                next_bar=_bar_source(series, exchange),
                model=model,
                fee_rate=taker_fee(exchange, plan.fee_rate),
            )
            stack.push_async_callback(broker.close)
            brokers[exchange] = broker
        rules: dict[Market, MarketRules] = {
            market: await brokers[market[0]].market_rules(market[1]) for market in plan.markets
        }
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


async def full_history(runtime: Runtime) -> dict[str, Any]:
    plan = plan_of(FULL_WINDOW, EXCHANGES)
    seconds, report = await timed(
        lambda: run_backtest(runtime, plan, BacktestPanel(build_offline_panel()))
    )
    assert report.tape is not None
    result = {
        "seconds": round(seconds, 3),
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
        f"full history: {seconds:.1f} s for {result['market_candles']:,} market-candles"
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


async def peer(runtime: Runtime) -> dict[str, Any]:
    plan = plan_of(FULL_WINDOW, ("coinbase",), slippage_bps=Decimal(0))
    fee = taker_fee("coinbase")
    assert plan.fee_rate is None  # so the broker charges taker_fee("coinbase") too
    panel: list[Analyst] = [EmaCrossAnalyst()]
    load_s, series = await timed(lambda: load_series(runtime, plan))

    candles = read_candles(PEER_FEED)
    indicators = add_indicators(candles)
    fast = indicators["ema_12"].to_numpy(dtype=np.float64)
    slow = indicators["ema_26"].to_numpy(dtype=np.float64)
    frame = peer_frame(candles)
    lyra_frame = series[("coinbase", SYMBOL)].frame
    same_input = len(lyra_frame) == len(indicators) and bool(
        np.array_equal(lyra_frame["ema_12"].to_numpy(), fast, equal_nan=True)
        and np.array_equal(lyra_frame["ema_26"].to_numpy(), slow, equal_nan=True)
        and np.array_equal(lyra_frame["open"].to_numpy(), frame["Open"].to_numpy())
    )

    passes: list[Pass] = []
    peer_times: list[float] = []
    stats: Any = None
    for round_ in range(REPEATS):
        passes.append(await votes_and_trades(runtime, plan, series, panel, (THRESHOLD,)))
        started = time.perf_counter()
        stats = run_peer(frame, fast, slow, float(fee))
        peer_times.append(time.perf_counter() - started)
        mine = passes[-1]
        print(
            f"peer round {round_ + 1}: lyra {mine.seconds:.2f} s (votes {mine.votes_s:.2f},"
            f" trading {mine.trades_s:.2f}), backtesting.py {peer_times[-1]:.2f} s"
            f" (ratio {mine.seconds / peer_times[-1]:.2f})",
            flush=True,
        )
    run = passes[-1].runs[THRESHOLD]
    lyra_times = [p.seconds for p in passes]
    full_s, report = await timed(lambda: run_backtest(runtime, plan, BacktestPanel(panel)))
    assert lyra_fills(report.primary.fills) == lyra_fills(run.fills)

    ours, theirs = lyra_fills(run.fills), peer_fills(stats)
    fills = compare_fills(ours, theirs)
    signals = compare_signals(run, theirs)
    tripped = run.kill_switch.tripped_at
    before = (
        None
        if tripped is None
        else compare_fills(
            [f for f in ours if f[0] < pd.Timestamp(tripped)],
            [f for f in theirs if f[0] < pd.Timestamp(tripped)],
        )
    )
    lyra_s, peer_s = statistics.median(lyra_times), statistics.median(peer_times)
    result: dict[str, Any] = {
        "market": f"coinbase {SYMBOL} 1h",
        "candles": len(frame),
        "same_input": same_input,
        "fee": float(fee),
        "capital": float(CAPITAL),
        "lyra_load_series_s": round(load_s, 3),
        "lyra_s": round(lyra_s, 3),
        "lyra_votes_s": round(statistics.median(p.votes_s for p in passes), 3),
        "lyra_trading_s": round(statistics.median(p.trades_s for p in passes), 3),
        "lyra_run_backtest_s": round(full_s, 3),
        "backtesting_py_s": round(peer_s, 3),
        "ratio": round(lyra_s / peer_s, 3),
        "ratio_run_backtest": round(full_s / peer_s, 3),
        "rounds": {"lyra_s": _rounded(lyra_times), "backtesting_py_s": _rounded(peer_times)},
        **fills,
        "kill_switch_tripped_at": _stamp(tripped),
        "kill_switch_reason": run.kill_switch.reason,
        "before_kill_switch": before,
        "signals": signals,
        "peer_return_pct": round(float(stats["Return [%]"]), 4),
        "lyra_final_equity": round(float(run.equity.iloc[-1]), 2),
        "target": PEER_TARGET,
        "ok": lyra_s / peer_s <= PEER_TARGET,
    }
    result["note"] = peer_note(result)
    print(
        f"peer: lyra {lyra_s:.2f} s (run_backtest with the sweep {full_s:.2f} s),"
        f" backtesting.py {peer_s:.2f} s, ratio {lyra_s / peer_s:.2f}"
        f" (target <= {PEER_TARGET:.0f}); fills lyra {len(ours)}, peer {len(theirs)},"
        f" matching {fills['matching']}, same: {fills['same_trades']}",
        flush=True,
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


async def measure(runtime: Runtime) -> dict[str, Any]:
    return {
        "full_history": await full_history(runtime),
        "sweep": await sweep_ratio(runtime),
        "peer": await peer(runtime),
    }


def main() -> None:
    _quiet_backtesting()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lyra-bench-backtest-") as folder:
        try:
            runtime = build_runtime(load_settings(home=Path(folder) / "home"), phase=1)
            report = asyncio.run(measure(runtime))
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
    for name in ("full_history", "sweep", "peer"):
        print(f"{name}: {'met' if report[name]['ok'] else 'NOT MET'}", flush=True)
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
