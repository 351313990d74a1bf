"""The service steps run on a Runtime made by hand from fakes: an in-memory exchange, a
fixed clock, a panel that always says buy, the paper broker over the same fake. No
settings, no composition root, no patched module: what a backtest or another venue
would hand the same steps (docs/architecture.md, "The Runtime")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lyra.decision.analysts.base import Analyst
from lyra.decision.votes import Action, AnalystKind, Ballot, MarketSnapshot, Vote
from lyra.execution import Broker, PaperBroker
from lyra.market.types import CANDLE_COLUMNS, Market, Ticker
from lyra.risk import RiskLimits
from lyra.rollout.phases import OrderMode, PhaseInForce, PhaseRun
from lyra.services import market_cycle, pre_trade
from lyra.services.reports import ReportFolder
from lyra.services.runtime import MarketPlan, NewsPlan, Runtime, TaxPlan
from lyra.services.trade_decision import take_decision
from lyra.spend.catalog import ModelPrice
from lyra.store.db import Database
from lyra.store.migrate import upgrade_to_head

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _candles(count: int = 300) -> pd.DataFrame:
    """A gently rising hourly market whose last candle closed at NOW."""
    opens = [NOW - HOUR * (count - i) for i in range(count)]
    close = 40_000 * np.exp(np.linspace(0, 0.05, count))
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(opens, utc=True).astype("datetime64[us, UTC]"),
            "open": close * 0.999,
            "high": close * 1.002,
            "low": close * 0.997,
            "close": close,
            "volume": np.full(count, 50.0),
        }
    )
    return frame.loc[:, list(CANDLE_COLUMNS)]


@dataclass
class FakeExchange:
    """An ExchangeClient over a frame in memory, seeing only candles closed by ``as_of``."""

    id: str
    frame: pd.DataFrame
    as_of: datetime
    closed: bool = False

    async def load_markets(self) -> Mapping[str, Market]:
        return {"BTC/USD": Market(self.id, "BTC/USD", "BTC", "USD")}

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1h",
        since: datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        visible = self.frame[self.frame["timestamp"] + HOUR <= self.as_of]
        if since is not None:
            visible = visible[visible["timestamp"] >= since]
            return visible.head(limit).reset_index(drop=True)
        return visible.tail(limit).reset_index(drop=True)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        last = Decimal(repr(float(self.frame["close"].iloc[-1])))
        return Ticker(self.id, symbol, last, self.as_of)

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeMarket:
    frame: pd.DataFrame
    opened: list[FakeExchange] = field(default_factory=list)

    def client(self, exchange_id: str, as_of: datetime) -> FakeExchange:
        client = FakeExchange(exchange_id, self.frame, as_of)
        self.opened.append(client)
        return client


@dataclass(frozen=True)
class FixedClock:
    instant: datetime

    def now(self) -> datetime:
        return self.instant

    def upcoming(self) -> datetime:
        return self.instant

    def advance(self) -> datetime:
        return self.instant


@dataclass(frozen=True)
class Bull:
    """A panel member that always buys, with a stop 3% under the price."""

    name: str
    kind: AnalystKind = "offline"
    weight: Decimal = Decimal(1)

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        stop = (snapshot.price * Decimal("0.97")).quantize(Decimal("0.01"))
        ballot = Ballot(Action.BUY, Decimal("0.9"), "always", stop)
        return Vote(analyst=self.name, kind=self.kind, weight=self.weight, ballot=ballot)


@dataclass(frozen=True)
class BullPanel:
    llm_members: int = 0

    @asynccontextmanager
    async def open(self, cycle_id: str | None) -> AsyncIterator[Sequence[Analyst]]:
        yield [Bull("fake:a"), Bull("fake:b"), Bull("fake:c")]


@dataclass(frozen=True)
class PaperOnFake:
    market: FakeMarket

    def brokers(
        self, mode: OrderMode, exchanges: Sequence[str], now: datetime
    ) -> Mapping[str, Broker]:
        async def no_next_bar(symbol: str, after: datetime) -> None:
            return None  # the next candle has not closed: the ticker price is used

        return {
            name: PaperBroker(name, data=self.market.client(name, now), next_bar=no_next_bar)
            for name in exchanges
        }


@dataclass(frozen=True)
class NoPrices:
    async def prices(self) -> Mapping[str, ModelPrice]:
        return {}


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    database = Database.from_url(f"sqlite:///{tmp_path / 'fake.db'}")
    upgrade_to_head(database)
    market = FakeMarket(_candles())
    return Runtime(
        database=database,
        clock=FixedClock(NOW),
        market=market,
        brokers=PaperOnFake(market),
        panel=BullPanel(),
        models=None,
        price_list=NoPrices(),
        reports=ReportFolder(tmp_path / "reports"),
        run=PhaseRun.of(3),
        phase_in_force=PhaseInForce(3, "parameter"),
        phase_setting=None,
        default_phase=1,
        min_votes=3,
        min_weight_share=Decimal("0.6"),
        limits=RiskLimits(symbols=frozenset({"BTC/USD"}), paper_capital_usd=Decimal(25_000)),
        markets=MarketPlan("replay", ("fakex",), ("BTC/USD",), "1h", 250),
        news=NewsPlan("sample", None, ("BTC",), timedelta(hours=6)),
        tax=TaxPlan(None, None, "fifo", False, ("paper",), None, Decimal("1.5")),
        spend=None,
    )


async def _cycle(runtime: Runtime) -> market_cycle.CycleContext:
    assert await market_cycle.check_markets(runtime) == [("fakex", "BTC/USD")]
    return market_cycle.open_cycle(runtime)


def test_a_market_cycle_and_a_paper_trade_run_on_a_runtime_of_fakes(runtime: Runtime) -> None:
    async def scenario() -> tuple[Decimal, str, Decimal]:
        cycle = await _cycle(runtime)
        data = await market_cycle.fetch_market_data(runtime, cycle, "fakex", "BTC/USD")
        snapshot = market_cycle.build_snapshot(data)
        votes = await market_cycle.gather_votes(runtime, snapshot, cycle.cycle_id)
        decision = market_cycle.decide_and_record(runtime, cycle, snapshot, votes)
        assert decision.actionable
        context = pre_trade.start(runtime)
        outcome = await take_decision(runtime, context, decision.decision_id)
        return decision.score, outcome.status, outcome.filled

    score, status, filled = asyncio.run(scenario())
    assert score == Decimal("0.9")
    assert status == "filled"
    assert filled > 0
    assert all(client.closed for client in runtime.market.opened)  # type: ignore[attr-defined]


def test_the_same_steps_judge_a_stricter_run_by_its_own_threshold(runtime: Runtime) -> None:
    strict = replace(runtime, run=PhaseRun.of(3, threshold=Decimal("0.95")))

    async def scenario() -> tuple[bool, str]:
        cycle = await _cycle(strict)
        assert cycle.run.threshold == Decimal("0.95")
        data = await market_cycle.fetch_market_data(strict, cycle, "fakex", "BTC/USD")
        snapshot = market_cycle.build_snapshot(data)
        votes = await market_cycle.gather_votes(strict, snapshot, cycle.cycle_id)
        decision = market_cycle.decide_and_record(strict, cycle, snapshot, votes)
        return decision.actionable, decision.reason

    actionable, reason = asyncio.run(scenario())
    assert not actionable
    assert "0.95" in reason
