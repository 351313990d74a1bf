"""The backtest: no look-ahead (truncation), fills at the next candle, the sweep on one
tape of votes, the kill switch, and the report's figures (docs/evidence.md)."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from lyra.bootstrap import build_runtime
from lyra.config import Settings
from lyra.decision.analysts import build_offline_panel
from lyra.decision.votes import Action, AnalystKind, Ballot, MarketSnapshot, Vote
from lyra.execution import taker_fee
from lyra.services import backtest_snapshots, backtest_votes
from lyra.services.backtest import BacktestPanel, BacktestReport, run_backtest
from lyra.services.backtest_plan import PHASE_THRESHOLDS, BacktestPlan, BacktestPlanError
from lyra.services.runtime import Runtime

A = datetime(2019, 5, 1, tzinfo=UTC)
B = datetime(2019, 5, 21, tzinfo=UTC)
C = datetime(2019, 5, 14, tzinfo=UTC)
MARKETS = {"exchanges": ("coinbase", "bitfinex"), "symbols": ("BTC/USD",)}


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    return build_runtime(settings, phase=1)


def _run(runtime: Runtime, panel: BacktestPanel | None = None, **plan: Any) -> BacktestReport:
    chosen = panel or BacktestPanel(build_offline_panel())
    fields = {**MARKETS, "thresholds": (Decimal("0.5"),), **plan}
    return asyncio.run(run_backtest(runtime, BacktestPlan(**fields), chosen))


def _before(report: BacktestReport, cut: datetime) -> dict[str, Any]:
    """Every vote, decision and fill of ``report`` strictly before ``cut``."""
    primary = report.primary
    return {
        "votes": [
            (v.analyst, v.ballot)
            for key, votes in _tallies(report).items()
            if key[1] < cut
            for v in votes
        ],
        "decisions": [
            (m.market, m.as_of, m.action, m.traded, m.refused)
            for m in primary.decisions
            if m.as_of < cut
        ],
        "fills": [f for f in primary.fills if f.time < cut],
        "equity": primary.equity[primary.equity.index < cut].round(6).tolist(),
    }


def _tallies(report: BacktestReport) -> dict[tuple[tuple[str, str], datetime], tuple[Vote, ...]]:
    assert report.tape is not None
    return {(t.market, t.as_of): t.votes for t in report.tape.tallies}


def test_truncated_run_agrees_on_every_vote_decision_and_fill_before_the_cut(
    runtime: Runtime,
) -> None:
    long_run = _run(runtime, start=A, end=B)
    short_run = _run(runtime, start=A, end=C)
    assert long_run.primary.fills, "the window must trade, or the test shows nothing"
    early, late = _before(long_run, C), _before(short_run, C)
    assert early["fills"], "fills before the cut are what is compared"
    assert early == late


def test_truncation_test_catches_an_indicator_that_peeks_ahead(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = backtest_votes.add_indicators

    def peeking(candles: pd.DataFrame) -> pd.DataFrame:
        frame = honest(candles)
        # a centred window: each row sees the next candles' closes
        frame["ema_12"] = frame["close"].rolling(12, center=True, min_periods=1).mean()
        return frame

    monkeypatch.setattr(backtest_votes, "add_indicators", peeking)
    long_run = _run(runtime, start=A, end=B)
    short_run = _run(runtime, start=A, end=C)
    assert _before(long_run, C)["votes"] != _before(short_run, C)["votes"]


def test_fills_at_the_next_candle_open_with_slippage_and_the_venue_fee(runtime: Runtime) -> None:
    report = _run(runtime, start=A, end=B, slippage_bps=Decimal(10))
    assert report.primary.fills
    for fill in report.primary.fills:
        one = report.tape.series[(fill.exchange, fill.symbol)]
        row = one.row_closing_at(fill.time)
        assert row is not None
        following = row + 1  # the candle that opens when the decision's candle closes
        assert int(one.open_ns[following]) == int(one.close_ns[row])
        open_price = Decimal(repr(float(one.opens[following])))
        factor = Decimal("1.001") if fill.side == "buy" else Decimal("0.999")
        assert fill.price == (open_price * factor).quantize(Decimal("1e-8"))
        expected_fee = fill.quantity * fill.price * taker_fee(fill.exchange)
        assert abs(fill.fee - expected_fee) < Decimal("1e-9")
        assert fill.quantity <= Decimal(repr(float(one.volumes[following]))) * Decimal("0.10")


def test_the_sweep_reads_one_tape_of_votes_taken_once(runtime: Runtime) -> None:
    counted = _Counting(build_offline_panel())
    report = _run(runtime, panel=BacktestPanel(counted.panel), start=A, end=C)
    tallies = len(report.tape.tallies)
    assert counted.calls == tallies * len(counted.panel)
    thresholds = [row.threshold for row in report.sweep]
    assert thresholds[0] == Decimal("0.5")
    assert set(PHASE_THRESHOLDS) <= set(thresholds)
    by_threshold = {row.threshold: row for row in report.sweep}
    # a looser threshold acts on at least every decision a stricter one acts on
    assert by_threshold[Decimal("0.5")].decisions >= by_threshold[Decimal("0.70")].decisions


@dataclass
class _Counting:
    members: list[Any]
    calls: int = 0
    panel: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.panel = [_CountingAnalyst(m, self) for m in self.members]


@dataclass
class _CountingAnalyst:
    inner: Any
    counter: _Counting

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def kind(self) -> AnalystKind:
        return "offline"

    @property
    def weight(self) -> Decimal:
        return Decimal(self.inner.weight)

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        self.counter.calls += 1
        vote: Vote = await self.inner.vote(snapshot)
        return vote


@dataclass(frozen=True)
class _AlwaysBuy:
    """An analyst that buys every candle with full confidence (a falling market ruins it)."""

    name: str
    kind: AnalystKind = "offline"
    weight: Decimal = Decimal(1)

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        stop = (snapshot.price * Decimal("0.97")).quantize(Decimal("0.01"))
        return Vote(self.name, "offline", self.weight, Ballot(Action.BUY, Decimal(1), "buy", stop))


def test_kill_switch_trips_on_drawdown_and_stops_new_risk(runtime: Runtime) -> None:
    # November 2018: bitcoin fell from about 6,400 to about 4,000 USD.
    panel = BacktestPanel([_AlwaysBuy(f"offline:buyer-{i}") for i in range(3)])
    start = datetime(2018, 11, 10, tzinfo=UTC)
    # a tighter kill switch (limits only tighten): 3% below the peak trips it
    strict = replace(runtime.limits, max_drawdown=Decimal("0.03"))
    bold = replace(runtime, limits=strict)
    report = _run(bold, panel=panel, start=start, end=start + timedelta(days=20))
    switch = report.primary.kill_switch
    assert switch.tripped
    assert switch.tripped_at is not None
    after = [f for f in report.primary.fills if f.time > switch.tripped_at and f.side == "buy"]
    assert after == []
    assert report.primary.refusals.get("kill_switch", 0) > 0
    assert report.metrics.max_drawdown >= 0.03


def test_report_has_metrics_and_buy_and_hold_of_the_same_window(runtime: Runtime) -> None:
    report = _run(runtime, start=A, end=C)
    data = report.to_json()
    assert set(data["metrics"]) >= {  # type: ignore[arg-type]
        "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "exposure", "trades",
        "win_rate", "profit_factor", "fees",
    }  # fmt: skip
    closes = report.tape.series[("coinbase", "BTC/USD")]
    inside = closes.window_mask(report.plan)
    first, last = closes.closes[inside][0], closes.closes[inside][-1]
    both = report.tape.series[("bitfinex", "BTC/USD")]
    bmask = both.window_mask(report.plan)
    basket = ((last / first) + (both.closes[bmask][-1] / both.closes[bmask][0])) / 2
    fee = float((taker_fee("coinbase") + taker_fee("bitfinex")) / 2)  # each bought at its own
    assert report.buy_and_hold.total_return == pytest.approx(basket * (1 - fee) - 1, rel=1e-6)
    assert data["contaminated"] is False
    assert data["equity"][0]["time"].endswith("Z")  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"thresholds": (Decimal("1.5"),)}, "threshold"),
        ({"thresholds": (Decimal(0),)}, "threshold"),
        ({"end": A}, "end"),
        ({"start": datetime(2019, 5, 1)}, "start"),  # noqa: DTZ001 - naive on purpose
        ({"capital": Decimal(-1)}, "capital"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"symbols": ("BTC/USD", "BTC/EUR")}, "symbol: one quote currency"),
    ],
)
def test_bad_plans_are_refused_by_name(change: dict[str, Any], named: str) -> None:
    fields = {**MARKETS, "start": A, "end": B, **change}
    with pytest.raises(BacktestPlanError, match=f"^{named}"):
        BacktestPlan(**fields)


def test_a_window_without_data_names_the_market_and_what_the_data_covers(
    runtime: Runtime,
) -> None:
    from lyra.errors import UserError

    with pytest.raises(UserError, match="bitfinex"):
        _run(runtime, start=datetime(2019, 8, 1, tzinfo=UTC), end=datetime(2019, 9, 1, tzinfo=UTC))


def test_offline_analysts_vote_the_same_on_the_fast_snapshot_as_on_the_frame(
    runtime: Runtime,
) -> None:
    plan = BacktestPlan(**MARKETS, start=A, end=C)
    series = asyncio.run(backtest_votes.load_series(runtime, plan))
    one = series[("coinbase", "BTC/USD")]
    panel = build_offline_panel()
    rows = range(len(one.frame) - 300, len(one.frame) - 1, 7)
    for row in rows:
        as_of = one.closes_at[row].to_pydatetime()
        fast = backtest_snapshots.offline_snapshot(one, row, as_of)
        framed = dataclasses.replace(
            fast, frame=one.frame.iloc[row + 1 - 50 : row + 1], columns=None
        )
        for analyst in panel:
            a, b = asyncio.run(analyst.vote(fast)), asyncio.run(analyst.vote(framed))
            assert (a.ballot, a.abstain_reason) == (b.ballot, b.abstain_reason)


def test_verdicts_decided_once_for_the_sweep_trade_as_deciding_inline(runtime: Runtime) -> None:
    from lyra.decision.consensus import ConsensusPolicy
    from lyra.services.backtest_trading import consensus_verdicts, trade_tape

    report = _run(runtime, start=A, end=C)
    assert report.tape is not None
    tape, plan = report.tape, report.plan
    quorum = ConsensusPolicy(threshold=Decimal("0.5"), min_votes=3)
    thresholds = [Decimal("0.5"), Decimal("0.55"), Decimal("0.7")]
    verdicts = consensus_verdicts(tape, quorum, thresholds)
    assert sum(v is not None for v in verdicts[Decimal("0.5")]) > 0
    for threshold in thresholds:
        policy = dataclasses.replace(quorum, threshold=threshold)

        async def run(precomputed: bool, policy: ConsensusPolicy = policy) -> Any:
            from lyra.services.backtest import backtest_brokers

            async with backtest_brokers(runtime, plan, tape.series) as (brokers, rules):
                return await trade_tape(
                    tape, policy=policy, limits=runtime.limits, capital=plan.capital,
                    brokers=brokers, rules=rules,
                    verdicts=verdicts[policy.threshold] if precomputed else None,
                )  # fmt: skip

        inline, precomputed = asyncio.run(run(False)), asyncio.run(run(True))
        assert precomputed.fills == inline.fills
        assert precomputed.decisions == inline.decisions
        assert precomputed.equity.equals(inline.equity)


def test_a_decision_whose_next_candle_is_missing_is_not_filled(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gap after a decision: no fill at any other time's price (never the ticker)."""
    gap_open = datetime(2019, 5, 3, 10, tzinfo=UTC)
    honest = backtest_votes.add_indicators

    def with_gap(candles: pd.DataFrame) -> pd.DataFrame:
        return honest(candles[candles["timestamp"] != gap_open].reset_index(drop=True))

    monkeypatch.setattr(backtest_votes, "add_indicators", with_gap)
    panel = BacktestPanel([_AlwaysBuy(f"offline:buyer-{i}") for i in range(3)])
    report = _run(
        runtime, panel=panel, start=gap_open, end=gap_open + timedelta(hours=3),
        exchanges=("coinbase",),
    )  # fmt: skip
    decided = {m.as_of: m for m in report.primary.decisions}
    assert decided[gap_open].traded is False
    assert decided[gap_open].refused is not None
    assert "next candle is not in the data" in decided[gap_open].refused
    assert all(f.time != gap_open for f in report.primary.fills)


def test_a_market_whose_data_ends_inside_the_window_is_read_to_its_end(runtime: Runtime) -> None:
    # the shipped Bitfinex hourly file ends on 2019-07-04; Coinbase goes on
    panel = BacktestPanel([_AlwaysBuy(f"offline:buyer-{i}") for i in range(3)])
    report = _run(
        runtime, panel=panel, start=datetime(2019, 7, 3, tzinfo=UTC),
        end=datetime(2019, 7, 6, tzinfo=UTC), exchanges=("bitfinex", "coinbase"),
    )  # fmt: skip
    assert report.tape is not None
    bitfinex = [t.as_of for t in report.tape.tallies if t.market[0] == "bitfinex"]
    coinbase = [t.as_of for t in report.tape.tallies if t.market[0] == "coinbase"]
    assert max(bitfinex) < max(coinbase)
    # bitfinex buys first (the 20% exposure room then belongs to its position)
    assert report.primary.fills[0].exchange == "bitfinex"


def test_the_equity_curve_starts_at_the_capital_before_the_first_decision(
    runtime: Runtime,
) -> None:
    panel = BacktestPanel([_AlwaysBuy(f"offline:buyer-{i}") for i in range(3)])
    report = _run(runtime, panel=panel, start=A, end=A + timedelta(hours=6))
    first_fill = report.primary.fills[0]
    assert report.primary.exact_equity[0] == report.plan.capital
    assert report.primary.equity.index[0] < first_fill.time
    assert report.primary.fills[0].time == A  # a trade at the very first instant
    # its fee counts: the return is measured from the capital, not after the first trade
    end = report.primary.exact_equity[-1]
    expected = float(end / report.plan.capital - 1)
    assert report.metrics.total_return == pytest.approx(expected, abs=1e-6)
    assert report.to_json()["equity"][0]["equity"] == "10000.00"  # type: ignore[index]


def test_a_backtest_refuses_a_market_source_other_than_the_replay(runtime: Runtime) -> None:
    from lyra.errors import UserError

    ccxt = dataclasses.replace(runtime.markets, source="ccxt")
    with pytest.raises(UserError, match="replay data"):
        _run(dataclasses.replace(runtime, markets=ccxt), start=A, end=C)


def test_an_llm_snapshot_is_the_live_cycles_with_the_spreads_of_the_instant(
    runtime: Runtime,
) -> None:
    plan = BacktestPlan(**MARKETS, start=A, end=C)
    series = asyncio.run(backtest_votes.load_series(runtime, plan))
    instant = C
    present = [(one, one.row_closing_at(instant)) for one in series.values()]
    snapshots = backtest_snapshots.live_snapshots([(o, r) for o, r in present if r is not None], C)
    assert {s.exchange for s in snapshots} == {"coinbase", "bitfinex"}
    for snapshot in snapshots:
        assert snapshot.spreads, "each market compared with the other exchange"
        assert snapshot.frame["timestamp"].iloc[-1] + timedelta(hours=1) == instant
        assert snapshot.regime is not None


def test_a_decision_risk_cannot_size_is_refused_not_a_crash(runtime: Runtime) -> None:
    # On the first hours of the shipped data atr_14 is still undefined, and Supertrend
    # (defined from row 10) votes with no stop: risk has nothing to size by. The backtest
    # refuses that decision by name and goes on, as before this fix it ended in
    # RiskInputError("proposal.stop_price: required when market.atr is not given").
    start = datetime(2017, 7, 1, tzinfo=UTC)
    panel = BacktestPanel(build_offline_panel(["supertrend"]))
    report = _run(runtime, panel=panel, start=start, end=start + timedelta(days=2))
    assert report.primary.refusals.get("risk_input", 0) > 0
    assert report.primary.decisions  # the run went on past them
