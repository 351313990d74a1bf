"""The steps of one pre-trade run, each a plain function the flow's tasks wrap.

docs/domain.md, "Risk" and "Execution". A run, on the Runtime it is given:

1. **start**: the phase run's order mode and account, a new paper account funded;
2. **reconcile**: the stored open and unconfirmed orders looked up on every exchange by
   their client ids (an order sent by a run that died before recording it is found and
   recorded once);
3. **guard**: mark the account to market, check the drawdown against the peak (tripping
   the kill switch at 15%), and while the switch is tripped cancel every open order on
   every exchange;
4. **per decision** (given ids, or every pending one): :mod:`lyra.services.trade_decision`
   assesses it in code as a run of its phase and, by the run's order mode, records it as
   analysis only, validates the order without sending it, or places it once;
5. **finish**: an equity snapshot (with the peak) and the equity-curve PNG.

Everything is recorded (orders, fills, positions, cash, snapshots, decision status) and
audited in transactions. Each step opens the brokers it needs from the Runtime (one per
exchange: paper up to phase 3, the exchange's own for live orders) and closes them, so
steps can run as separate Prefect tasks with their own event loops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from lyra.errors import LyraError
from lyra.execution import Broker
from lyra.portfolio import Valuation
from lyra.rollout.phases import OrderMode, PhaseRun
from lyra.services.charts import plot_equity_curve
from lyra.services.pre_trade_summary import PreTradeSummary, TradeOutcome
from lyra.services.runtime import Runtime
from lyra.services.submission import cancel_all, reconcile
from lyra.store.accounts import ensure_funded, equity_curve, record_snapshot, value_account
from lyra.store.killswitch import check_drawdown_and_trip
from lyra.store.orders import open_order_rows

__all__ = [
    "FLOW_NAME",
    "GuardResult",
    "Marks",
    "PreTradeContext",
    "account_for",
    "finish",
    "guard",
    "mark_to_market",
    "opened_brokers",
    "reconcile_orders",
    "start",
]

FLOW_NAME = "pre-trade-risk"

Marks = dict[tuple[str, str], Decimal]


def account_for(mode: OrderMode) -> str:
    """The account a mode values and trades: live for live, paper otherwise (a validating
    run is assessed as if it had the paper capital, see lyra.risk.limits)."""
    return "live" if mode is OrderMode.LIVE else "paper"


@dataclass(frozen=True, slots=True)
class PreTradeContext:
    """What every step of one run works with: the phase run (carried into every risk
    request and order), the account and the market's instant. Plain values, so Prefect
    can hand it from task to task."""

    run: PhaseRun
    account: str
    market_time: datetime

    @property
    def mode(self) -> OrderMode:
        """The run's order mode."""
        return self.run.order_mode


@dataclass(frozen=True, slots=True)
class GuardResult:
    """The kill-switch check of a run."""

    tripped: bool
    cancelled_orders: int
    equity: Decimal
    peak_equity: Decimal


def start(runtime: Runtime) -> PreTradeContext:
    """The run's account and market instant; a new paper account is funded."""
    run = runtime.run
    account = account_for(run.order_mode)
    now = runtime.clock.now()
    limits = runtime.limits
    capital = limits.paper_capital_usd if account == "paper" else limits.live_capital_cap_usd
    with runtime.database.transaction() as session:
        ensure_funded(session, account, capital, now)
    return PreTradeContext(run, account, now)


@asynccontextmanager
async def opened_brokers(
    runtime: Runtime, context: PreTradeContext, only: str | None = None
) -> AsyncIterator[Mapping[str, Broker]]:
    """The brokers a step uses, closed after it: every configured exchange and every one
    with an open order (``only``: just that exchange's, for a step about one decision)."""
    if only is not None:
        exchanges = [only]
    else:
        with runtime.database.transaction() as session:
            pending = {r.exchange for r in open_order_rows(session, context.account)}
        exchanges = sorted(set(runtime.markets.exchanges) | pending)
    built = runtime.brokers.brokers(context.mode, exchanges, context.market_time)
    try:
        yield built
    finally:
        for broker in built.values():
            await broker.close()


async def reconcile_orders(runtime: Runtime, context: PreTradeContext) -> tuple[str, ...]:
    """Reconcile stored open and unconfirmed orders with every exchange (on start); the
    client ids recorded or marked failed."""
    if not context.run.sends_orders:
        return ()
    touched: list[str] = []
    async with opened_brokers(runtime, context) as opened:
        for broker in opened.values():
            result = await reconcile(runtime.database, broker)
            touched.extend(result.recorded + result.failed)
    return tuple(touched)


async def mark_to_market(
    runtime: Runtime, context: PreTradeContext, brokers: Mapping[str, Broker]
) -> Marks:
    """The last price of every held market whose broker is open (a market without one,
    or whose ticker fails, is valued at its last known price)."""
    marks: Marks = {}
    with runtime.database.transaction() as session:
        held = value_account(session, context.account).lines
    for line in held:
        broker = brokers.get(line.exchange)
        if broker is None or not line.quantity:
            continue
        try:
            marks[(line.exchange, line.symbol)] = (await broker.ticker(line.symbol)).last
        except LyraError:
            continue
    return marks


async def guard(runtime: Runtime, context: PreTradeContext) -> GuardResult:
    """Mark to market, check the drawdown (trip at the limit), and while the kill switch is
    tripped cancel every open order on every exchange."""
    database = runtime.database
    async with opened_brokers(runtime, context) as opened:
        marks = await mark_to_market(runtime, context, opened)
        with database.transaction() as session:
            valuation = value_account(session, context.account, marks)
            state = check_drawdown_and_trip(
                session,
                equity=valuation.equity,
                peak_equity=valuation.peak_equity,
                now=datetime.now(UTC),
                limits=runtime.limits,
            )
        cancelled = 0
        if state.tripped and context.run.sends_orders:
            result = await cancel_all(
                database, list(opened.values()), reason=f"kill switch tripped: {state.reason}"
            )
            cancelled = result.total
    return GuardResult(state.tripped, cancelled, valuation.equity, valuation.peak_equity)


async def finish(
    runtime: Runtime,
    context: PreTradeContext,
    outcomes: Sequence[TradeOutcome],
    *,
    reconciled: Sequence[str] = (),
    guard_result: GuardResult | None = None,
) -> PreTradeSummary:
    """Snapshot the equity marked to market (with its peak) and draw the equity curve."""
    async with opened_brokers(runtime, context) as opened:
        marks = await mark_to_market(runtime, context, opened)
    with runtime.database.transaction() as session:
        valuation: Valuation = value_account(session, context.account, marks)
        record_snapshot(session, valuation, context.market_time, marks)
        points = [
            (s.taken_at, s.equity, s.peak_equity) for s in equity_curve(session, context.account)
        ]
    chart = plot_equity_curve(
        points,
        runtime.reports.path(f"equity-{context.account}.png"),
        title=f"{context.account} equity (phase {context.run.number})",
    )
    return PreTradeSummary(
        phase=context.run.number,
        mode=context.mode.value,
        threshold=context.run.threshold,
        account=context.account,
        market_time=context.market_time,
        outcomes=tuple(outcomes),
        reconciled=tuple(reconciled),
        kill_switch_tripped=guard_result.tripped if guard_result else False,
        cancelled_orders=guard_result.cancelled_orders if guard_result else 0,
        cash=valuation.cash,
        equity=valuation.equity,
        peak_equity=valuation.peak_equity,
        realised_pnl=valuation.realised_pnl,
        unrealised_pnl=valuation.unrealised_pnl,
        fees=valuation.fees,
        chart_path=str(chart),
    )
