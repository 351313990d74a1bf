"""The steps of one pre-trade run, each a plain function the flow's tasks wrap.

docs/domain.md, "Risk" and "Execution". A run, on the Runtime it is given:

1. **start**: the phase run's order mode and account, a new paper account funded;
2. **reconcile**: the stored open and unconfirmed orders looked up on every exchange by
   their client ids (an order sent by a run that died before recording it is found and
   recorded once);
3. **guard**: mark the account to market, check the drawdown against the peak (tripping
   the kill switch at 15%), and while the switch is tripped cancel every open order on
   every exchange. In the live order mode the equity the switch observes is the
   exchanges' (their balances marked to market, :mod:`lyra.portfolio.exchange_equity`),
   and the ledger is reconciled against it: an :class:`EquityDiscrepancy` beyond the
   tolerance is audited, surfaced in the summary, and trips the switch;
4. **per decision** (given ids, or every pending one): :mod:`lyra.services.trade_decision`
   assesses it in code as a run of its phase and, by the run's order mode, records it as
   analysis only, validates the order without sending it, or places it once;
5. **finish**: an equity snapshot (with the peak) and the equity-curve PNG.

One peak (docs/domain.md, "Risk"): every equity the kill switch observes for the account
(the guard's and the finish's) is recorded as the account's snapshot carrying the
switch's peak (:func:`lyra.risk.killswitch.running_peak`), so the portfolio report, the
summary and the switch show one figure. One equity: in the live order mode both are the
exchanges' (:func:`lyra.portfolio.exchange_valuation`; the finish re-reads the balances
when the run sent an order, else keeps the guard's figure), never the ledger's equity
against the exchanges' peak.

Everything is recorded (orders, fills, positions, cash, snapshots, decision status) and
audited in transactions. Each step opens the brokers it needs from the Runtime (one per
exchange: paper up to phase 3, the exchange's own for live orders) and closes them, so
steps can run as separate Prefect tasks with their own event loops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from lyra.errors import LyraError
from lyra.execution import Broker
from lyra.portfolio import (
    EquityReconciliation,
    HoldingsSource,
    Valuation,
    exchange_valuation,
    reconcile_equity,
)
from lyra.risk.killswitch import KillSwitchState, running_peak
from lyra.rollout.phases import OrderMode, PhaseRun
from lyra.services.charts import plot_equity_curve
from lyra.services.pre_trade_summary import PreTradeSummary, TradeOutcome
from lyra.services.runtime import Runtime
from lyra.services.submission import cancel_all, reconcile
from lyra.store.accounts import ensure_funded, equity_curve, record_snapshot, value_account
from lyra.store.audit import append_audit
from lyra.store.db import Session
from lyra.store.killswitch import check_drawdown_and_trip, killswitch_state, trip_killswitch
from lyra.store.orders import open_order_rows

__all__ = [
    "FLOW_NAME",
    "GuardResult",
    "Marks",
    "PreTradeContext",
    "account_for",
    "exchange_equity",
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
    #: ``exchange`` in the live order mode (balances marked to market), else ``ledger``.
    equity_source: str = "ledger"
    #: The reconciliation's discrepancies beyond tolerance, one line each.
    discrepancies: tuple[str, ...] = ()
    #: The exchanges' cash, part of ``equity`` (``exchange`` source only).
    exchange_cash: Decimal | None = None


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


async def exchange_equity(
    runtime: Runtime,
    context: PreTradeContext,
    brokers: Mapping[str, Broker],
    valuation: Valuation,
) -> EquityReconciliation | None:
    """In the live order mode, the exchanges' holdings reconciled with the ledger's
    ``valuation`` (None on paper, or when no broker can tell its holdings)."""
    if context.mode is not OrderMode.LIVE:
        return None
    sources = [b for b in brokers.values() if isinstance(b, HoldingsSource)]
    if not sources:
        return None
    holdings = [await source.holdings() for source in sources]
    return reconcile_equity(valuation, holdings, tolerance=runtime.limits.reconcile_tolerance)


def _observe(
    session: Session,
    runtime: Runtime,
    context: PreTradeContext,
    valuation: Valuation,
    marks: Marks,
    reconciliation: EquityReconciliation | None,
    *,
    judge: bool = True,
) -> tuple[KillSwitchState, Valuation]:
    """The kill switch observes the account's equity (the exchanges' in live, else the
    ledger's), a discrepancy trips it (``judge``: the guard's reconciliation, audited),
    and the observation is the account's snapshot with the switch's peak: one figure,
    one equity (module docstring)."""
    now = datetime.now(UTC)
    seen = valuation
    if reconciliation is None:
        equity, peak = valuation.equity, valuation.peak_equity
    else:
        seen = exchange_valuation(
            valuation, reconciliation.exchange_equity, reconciliation.exchange_cash
        )
        equity = seen.equity
        peak = running_peak(killswitch_state(session).high_water, equity)
        if judge:
            _audit_reconciliation(session, context, reconciliation, now)
    if peak > 0:
        state = check_drawdown_and_trip(
            session, equity=equity, peak_equity=peak, now=now, limits=runtime.limits
        )
    else:  # an exchange account never seen above zero has no drawdown to measure
        state = killswitch_state(session)
    if judge and reconciliation is not None and not reconciliation.agrees:
        first = reconciliation.discrepancies[0].describe()
        more = len(reconciliation.discrepancies) - 1
        state = trip_killswitch(
            session,
            reason=f"ledger and exchange disagree: {first}"
            + (f" (and {more} more)" if more else ""),
            equity=equity,
            details={"discrepancies": [d.describe() for d in reconciliation.discrepancies]},
            now=now,
        )
    shown = replace(seen, peak_equity=running_peak(state.high_water, seen.equity))
    record_snapshot(session, shown, context.market_time, marks)
    return state, shown


def _audit_reconciliation(
    session: Session, context: PreTradeContext, result: EquityReconciliation, now: datetime
) -> None:
    append_audit(
        session,
        "equity.reconciled" if result.agrees else "equity.discrepancy",
        f"account:{context.account}",
        {
            "exchange_equity": result.exchange_equity,
            "ledger_equity": result.ledger_equity,
            "tolerance": result.tolerance,
            "discrepancies": [
                {
                    "exchange": d.exchange,
                    "asset": d.asset,
                    "ledger": d.ledger,
                    "exchange_figure": d.exchange_figure,
                    "value": d.value,
                }
                for d in result.discrepancies
            ],
            "unpriced": list(result.unpriced),
        },
        now=now,
    )


async def guard(runtime: Runtime, context: PreTradeContext) -> GuardResult:
    """Mark to market, check the drawdown (trip at the limit; in live on the exchanges'
    equity, reconciled with the ledger), and while the kill switch is tripped cancel every
    open order on every exchange."""
    database = runtime.database
    async with opened_brokers(runtime, context) as opened:
        marks = await mark_to_market(runtime, context, opened)
        with database.transaction() as session:
            valuation = value_account(session, context.account, marks)
        reconciliation = await exchange_equity(runtime, context, opened, valuation)
        with database.transaction() as session:
            state, shown = _observe(session, runtime, context, valuation, marks, reconciliation)
        cancelled = 0
        if state.tripped and context.run.sends_orders:
            result = await cancel_all(
                database, list(opened.values()), reason=f"kill switch tripped: {state.reason}"
            )
            cancelled = result.total
    if reconciliation is None:
        return GuardResult(state.tripped, cancelled, shown.equity, shown.peak_equity)
    return GuardResult(
        state.tripped,
        cancelled,
        reconciliation.exchange_equity,
        shown.peak_equity,
        equity_source="exchange",
        discrepancies=tuple(d.describe() for d in reconciliation.discrepancies),
        exchange_cash=reconciliation.exchange_cash,
    )


def _guard_figure(
    valuation: Valuation, guard_result: GuardResult | None
) -> EquityReconciliation | None:
    """The exchanges' equity the guard observed, as a reconciliation already judged."""
    if guard_result is None or guard_result.equity_source != "exchange":
        return None
    cash = guard_result.exchange_cash if guard_result.exchange_cash is not None else Decimal(0)
    return EquityReconciliation(
        guard_result.equity, valuation.equity, Decimal(0), (), (), exchange_cash=cash
    )


async def finish(
    runtime: Runtime,
    context: PreTradeContext,
    outcomes: Sequence[TradeOutcome],
    *,
    reconciled: Sequence[str] = (),
    guard_result: GuardResult | None = None,
) -> PreTradeSummary:
    """Snapshot the equity marked to market (with its peak) and draw the equity curve.

    In the live order mode the equity is the exchanges' (module docstring): re-read when
    this run sent an order, else the guard's figure; the guard alone judges discrepancies.
    """
    database = runtime.database
    async with opened_brokers(runtime, context) as opened:
        marks = await mark_to_market(runtime, context, opened)
        with database.transaction() as session:
            valuation: Valuation = value_account(session, context.account, marks)
        seen = _guard_figure(valuation, guard_result)
        if context.mode is OrderMode.LIVE and (seen is None or any(o.sent for o in outcomes)):
            seen = await exchange_equity(runtime, context, opened, valuation) or seen
    with database.transaction() as session:
        state, valuation = _observe(session, runtime, context, valuation, marks, seen, judge=False)
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
        kill_switch_tripped=state.tripped or bool(guard_result and guard_result.tripped),
        cancelled_orders=guard_result.cancelled_orders if guard_result else 0,
        cash=valuation.cash,
        equity=valuation.equity,
        peak_equity=valuation.peak_equity,
        realised_pnl=valuation.realised_pnl,
        unrealised_pnl=valuation.unrealised_pnl,
        fees=valuation.fees,
        chart_path=str(chart),
        equity_source=guard_result.equity_source if guard_result else "ledger",
        exchange_equity=(
            guard_result.equity
            if guard_result and guard_result.equity_source == "exchange"
            else None
        ),
        equity_discrepancies=guard_result.discrepancies if guard_result else (),
    )
