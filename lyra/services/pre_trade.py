"""The steps of one pre-trade run, each a plain function the flow's tasks wrap.

DESIGN.md, "Risk" and "Execution"; issue 5. A run:

1. **start**: pick the phase's order mode and account, fund a new paper account, and
   reconcile the stored open orders with every exchange (an order sent by a run that
   died before recording it is found by its client id and recorded once);
2. **guard**: mark the account to market, check the drawdown against the peak (tripping
   the kill switch at 15%), and while the switch is tripped cancel every open order on
   every exchange;
3. **per decision** (given ids, or every pending one: buy/sell, actionable, status
   ``recorded``): build the risk request from the account, the decision and the market;
   get the premium vote when the trade is above 10,000 USD (offline: none, so such a
   trade is refused by the named ``premium_vote`` check); assess in code; then by the
   phase's order mode: ``none`` records "analysis only", ``validate`` records the checked
   order as validated and never sends it, ``paper`` and ``live`` place it through the
   idempotent submission of :mod:`lyra.services.submission`;
4. **finish**: an equity snapshot (with the peak) and the equity-curve PNG.

Everything is recorded (orders, fills, positions, cash, snapshots, decision status) and
audited in transactions. Each step opens the brokers it needs (one per exchange: paper
in phases 1-3, ccxt in 4-5) and closes them, so steps can run as separate Prefect tasks
with their own event loops; :func:`run_pre_trade` runs them all in one process.

Usage::

    summary = await run_pre_trade(settings)                  # every pending decision
    summary = await run_pre_trade(settings, [decision_id])   # one decision
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from lyra.bootstrap import open_database
from lyra.bootstrap.brokers import build_brokers
from lyra.config import Settings
from lyra.errors import LyraError, UserError
from lyra.execution import (
    Broker,
    OrderCheckError,
    OrderIntent,
    Placement,
    Side,
    cancel_all,
    check_order,
    client_order_id,
    place_order,
    reconcile,
    validate_order,
)
from lyra.portfolio import (
    ensure_funded,
    equity_curve,
    held_quantity,
    record_snapshot,
    value_account,
)
from lyra.portfolio.chart import plot_equity_curve
from lyra.risk import RiskLimits, RiskRequest, needs_premium_vote
from lyra.risk.limits import phase_capital
from lyra.rollout.phases import OrderMode, get_phase
from lyra.services.pre_trade_inputs import (
    PENDING_STATUS,
    build_request,
    market_time,
    pending_decisions,
)
from lyra.services.pre_trade_summary import PreTradeSummary, TradeOutcome
from lyra.store.audit import append_audit
from lyra.store.execution_tables import OrderRow
from lyra.store.killswitch import assess_with_kill_switch, check_drawdown_and_trip
from lyra.store.models import DecisionRow
from lyra.store.orders import find_order, open_order_rows, set_decision_status

__all__ = [
    "FLOW_NAME",
    "GuardResult",
    "PreTradeContext",
    "PreTradeSummary",
    "PremiumVote",
    "TradeOutcome",
    "account_for",
    "finish",
    "guard",
    "no_premium_vote",
    "pending_decisions",
    "premium_vote_for",
    "reconcile_orders",
    "run_pre_trade",
    "start",
    "take_decision",
]

FLOW_NAME = "pre-trade-risk"

#: The premium-tier validation vote: True/False, or None when no vote could be had.
PremiumVote = Callable[[RiskRequest, str], Awaitable[bool | None]]


async def no_premium_vote(request: RiskRequest, decision_id: str) -> bool | None:
    """No premium vote available (the offline provider has no premium tier): None, so the
    assessment refuses the trade by its ``premium_vote`` check."""
    return None


def premium_vote_for(settings: Settings) -> PremiumVote:
    """The premium vote in force: with OpenRouter the gateway's premium tier
    (:mod:`lyra.services.premium_vote`); offline there is no premium tier, so no vote,
    and a trade above the threshold is refused by name."""
    if settings.llm_provider == "openrouter":
        from lyra.services.premium_vote import gateway_premium_vote

        return gateway_premium_vote(settings)
    return no_premium_vote


def _run_capital_cap(context: PreTradeContext, equity: Decimal) -> Decimal | None:
    """A phase run's lower capital cap, never above the phase's own figure."""
    cap = context.settings.capital_cap_usd
    if cap is None:
        return None
    phase = get_phase(context.settings.phase)
    return min(cap, phase_capital(phase, context.limits, equity=equity))


def account_for(mode: OrderMode) -> str:
    """The account a mode values and trades: live for live, paper otherwise (phase 2 is
    assessed as if it had the paper capital, see lyra.risk.limits)."""
    return "live" if mode is OrderMode.LIVE else "paper"


@dataclass(frozen=True, slots=True)
class PreTradeContext:
    """What every step of one run works with; plain values, so Prefect can hand it from
    task to task (brokers are opened by each step and closed after it)."""

    settings: Settings
    mode: OrderMode
    account: str
    market_time: datetime
    limits: RiskLimits


@dataclass(frozen=True, slots=True)
class GuardResult:
    """The kill-switch check of a run."""

    tripped: bool
    cancelled_orders: int
    equity: Decimal
    peak_equity: Decimal


Brokers = Mapping[str, Broker]


@asynccontextmanager
async def _opened(
    context: PreTradeContext, given: Brokers | None, only: str | None = None
) -> AsyncIterator[Brokers]:
    """The brokers a step uses: the caller's, or built from settings and closed after
    (``only``: just that exchange's, for a step about one decision)."""
    if given is not None:
        yield given
        return
    if only is not None:
        exchanges = [only]
    else:
        with open_database(context.settings).transaction() as session:
            pending = {r.exchange for r in open_order_rows(session, context.account)}
        exchanges = sorted(set(context.settings.exchanges) | pending)
    built = build_brokers(context.settings, context.mode, context.market_time, exchanges=exchanges)
    try:
        yield built
    finally:
        for broker in built.values():
            await broker.close()


def start(settings: Settings) -> PreTradeContext:
    """The run's mode, account and market instant; a new paper account is funded."""
    mode = settings.phase_spec.order_mode
    account = account_for(mode)
    now = market_time(settings)
    with open_database(settings).transaction() as session:
        capital = (
            settings.paper_capital_usd if account == "paper" else settings.live_capital_cap_usd
        )
        ensure_funded(session, account, capital, now)
    return PreTradeContext(settings, mode, account, now, RiskLimits.from_settings(settings))


async def reconcile_orders(
    context: PreTradeContext, brokers: Brokers | None = None
) -> tuple[str, ...]:
    """Reconcile stored open and unconfirmed orders with every exchange (on start); the
    client ids recorded or marked failed."""
    if context.mode not in (OrderMode.PAPER, OrderMode.LIVE):
        return ()
    database = open_database(context.settings)
    touched: list[str] = []
    async with _opened(context, brokers) as opened:
        for broker in opened.values():
            result = await reconcile(database, broker)
            touched.extend(result.recorded + result.failed)
    return tuple(touched)


async def _marks(context: PreTradeContext, brokers: Brokers) -> dict[tuple[str, str], Decimal]:
    marks: dict[tuple[str, str], Decimal] = {}
    with open_database(context.settings).transaction() as session:
        held = value_account(session, context.account).lines
    for line in held:
        broker = brokers.get(line.exchange)
        if broker is None or not line.quantity:
            continue
        try:
            marks[(line.exchange, line.symbol)] = (await broker.ticker(line.symbol)).last
        except LyraError:
            continue  # valued at its last known price
    return marks


async def guard(context: PreTradeContext, brokers: Brokers | None = None) -> GuardResult:
    """Mark to market, check the drawdown (trip at the limit), and while the kill switch is
    tripped cancel every open order on every exchange."""
    database = open_database(context.settings)
    async with _opened(context, brokers) as opened:
        marks = await _marks(context, opened)
        with database.transaction() as session:
            valuation = value_account(session, context.account, marks)
            state = check_drawdown_and_trip(
                session,
                equity=valuation.equity,
                peak_equity=valuation.peak_equity,
                now=datetime.now(UTC),
                limits=context.limits,
            )
        cancelled = 0
        if state.tripped and context.mode in (OrderMode.PAPER, OrderMode.LIVE):
            result = await cancel_all(
                database, list(opened.values()), reason=f"kill switch tripped: {state.reason}"
            )
            cancelled = result.total
    return GuardResult(state.tripped, cancelled, valuation.equity, valuation.peak_equity)


def _outcome(decision: DecisionRow, status: str, **figures: object) -> TradeOutcome:
    return TradeOutcome.model_validate(
        {
            "decision_id": decision.id,
            "exchange": decision.exchange,
            "symbol": decision.symbol,
            "side": decision.action,
            "status": status,
            **figures,
        }
    )


def _record_status(
    context: PreTradeContext, decision_id: str, status: str, event: str, payload: dict[str, object]
) -> None:
    with open_database(context.settings).transaction() as session:
        set_decision_status(session, decision_id, status)
        append_audit(session, event, f"decision:{decision_id}", payload)


async def take_decision(
    context: PreTradeContext,
    decision_id: str,
    *,
    premium_vote: PremiumVote = no_premium_vote,
    brokers: Brokers | None = None,
) -> TradeOutcome:
    """Assess, size and execute one decision by the phase's order mode (module docstring).

    Safe to retry and to run twice for the same decision: an order already written for
    it goes through the idempotent submission (looked up, never sent again).
    """
    database = open_database(context.settings)
    with database.transaction() as session:
        decision = session.get(DecisionRow, decision_id)
        if decision is None:
            raise UserError(f"unknown decision id {decision_id}")
        session.expunge(decision)
        existing = find_order(session, client_order_id(decision.exchange, decision_id))
        again = _intent_of(existing, decision) if existing is not None else None
    if existing is not None and (again is None or existing.account != context.account):
        # Validated in phase 2, or placed on another account: reported, never re-placed.
        return _outcome(
            decision,
            existing.status,
            client_order_id=existing.client_order_id,
            quantity=existing.amount,
            detail=f"already {existing.status} on the {existing.account} account",
        )
    if decision.status != PENDING_STATUS and again is None:
        return _outcome(decision, "skipped", detail=f"already taken up: {decision.status}")
    if again is None and (decision.action not in ("buy", "sell") or not decision.actionable):
        return _outcome(decision, "skipped", detail=f"not actionable: {decision.reason}")
    if again is None and context.mode is OrderMode.NONE:
        _record_status(
            context,
            decision_id,
            "analysis_only",
            "decision.analysis_only",
            {"phase": context.settings.phase},
        )
        return _outcome(decision, "analysis_only", detail="phase 1: analysis only, no order")
    async with _opened(context, brokers, only=decision.exchange) as opened:
        broker = opened.get(decision.exchange)
        if broker is None:
            return _outcome(decision, "skipped", detail=f"no broker for {decision.exchange}")
        if again is not None:
            # Taken before (a rerun, a retry): the idempotent path, which never sends twice.
            placement = await place_order(database, broker, again, decision_id=decision_id)
            return _placed(decision, placement, {"quantity": placement.order.amount})
        return await _assess_and_execute(context, decision, broker, premium_vote)


async def _assess_and_execute(
    context: PreTradeContext, decision: DecisionRow, broker: Broker, premium_vote: PremiumVote
) -> TradeOutcome:
    database = open_database(context.settings)
    rules = await broker.market_rules(decision.symbol)
    ticker = await broker.ticker(decision.symbol)
    marks = await _marks(context, {broker.exchange: broker})
    marks[(decision.exchange, decision.symbol)] = ticker.last
    since = datetime.now(UTC) - timedelta(seconds=context.limits.order_interval_s)
    with database.transaction() as session:
        valuation = value_account(session, context.account, marks)
        held = held_quantity(session, context.account, decision.exchange, decision.symbol)
        recent = session.scalar(
            select(func.count())
            .select_from(OrderRow)
            .where(
                OrderRow.created_at >= since,
                OrderRow.account.in_([context.account, "validate"]),
            )
        )
        request = build_request(
            context.settings.phase,
            context.market_time,
            decision,
            valuation,
            rules,
            ticker,
            int(recent or 0),
            held,
            _run_capital_cap(context, valuation.equity),
        )
    premium: bool | None = None
    premium_note = None
    if needs_premium_vote(request, context.limits):
        premium = await premium_vote(request, decision.id)
        premium_note = "premium vote: " + (
            "none available" if premium is None else "approved" if premium else "refused"
        )
    with database.transaction() as session:
        assessment = assess_with_kill_switch(
            session, request, context.limits, now=datetime.now(UTC), premium_approved=premium
        )
        set_decision_status(session, decision.id, "assessed" if assessment.approved else "rejected")
        append_audit(
            session,
            "risk.assessed",
            f"decision:{decision.id}",
            {
                "request": request.model_dump(mode="json"),
                "assessment": assessment.to_json(),
                "premium": premium_note,
            },
        )
    figures: dict[str, object] = {
        "approved": assessment.approved,
        "quantity": assessment.quantity,
        "notional": assessment.notional,
        "reasons": assessment.reasons,
    }
    if not assessment.approved:
        return _outcome(decision, "rejected", detail=premium_note, **figures)
    side = Side(decision.action)
    amount = min(assessment.quantity, held) if side is Side.SELL else assessment.quantity
    try:
        checked = check_order(rules, side, amount, ticker.last, held=held)
    except OrderCheckError as exc:
        _record_status(
            context,
            decision.id,
            "rejected",
            "order.refused",
            {"check": exc.check, "detail": str(exc)},
        )
        return _outcome(decision, "rejected", **{**figures, "reasons": (str(exc),)})
    intent = OrderIntent(
        client_order_id=client_order_id(decision.exchange, decision.id),
        exchange=decision.exchange,
        symbol=decision.symbol,
        side=side,
        amount=checked.amount,
        reference_price=ticker.last,
        as_of=decision.as_of,
    )
    if context.mode is OrderMode.VALIDATE:
        order = validate_order(
            database, intent, decision_id=decision.id, detail="phase 2: validated, not sent"
        )
        return _outcome(
            decision,
            order.status,
            client_order_id=order.client_order_id,
            detail=order.detail,
            **figures,
        )
    placement = await place_order(database, broker, intent, decision_id=decision.id)
    return _placed(decision, placement, {**figures, "quantity": placement.order.amount})


def _placed(
    decision: DecisionRow, placement: Placement, figures: dict[str, object]
) -> TradeOutcome:
    order = placement.order
    return _outcome(
        decision,
        order.status,
        client_order_id=order.client_order_id,
        sent=placement.sent,
        filled=order.filled,
        average=order.average,
        fee=order.fee,
        detail=order.detail,
        **figures,
    )


def _intent_of(row: OrderRow, decision: DecisionRow) -> OrderIntent | None:
    """The stored order as an intent again (None for a phase-2 validated one)."""
    if row.account == "validate":
        return None
    return OrderIntent(
        client_order_id=row.client_order_id,
        exchange=row.exchange,
        symbol=row.symbol,
        side=Side(row.side),
        amount=row.amount,
        reference_price=row.reference_price,
        as_of=decision.as_of,
    )


async def finish(
    context: PreTradeContext,
    outcomes: Sequence[TradeOutcome],
    *,
    reconciled: Sequence[str] = (),
    guard_result: GuardResult | None = None,
    brokers: Brokers | None = None,
) -> PreTradeSummary:
    """Snapshot the equity marked to market (with its peak) and draw the equity curve."""
    async with _opened(context, brokers) as opened:
        marks = await _marks(context, opened)
    with open_database(context.settings).transaction() as session:
        valuation = value_account(session, context.account, marks)
        record_snapshot(session, valuation, context.market_time, marks)
        points = [
            (s.taken_at, s.equity, s.peak_equity) for s in equity_curve(session, context.account)
        ]
    chart = plot_equity_curve(
        points,
        context.settings.reports_dir / f"equity-{context.account}.png",
        title=f"{context.account} equity (phase {context.settings.phase})",
    )
    return PreTradeSummary(
        phase=context.settings.phase,
        mode=context.mode.value,
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


async def run_pre_trade(
    settings: Settings,
    decision_ids: Sequence[str] | None = None,
    *,
    premium_vote: PremiumVote = no_premium_vote,
    brokers: Brokers | None = None,
) -> PreTradeSummary:
    """Every step in order, in this process (no Prefect): what the flow does, for the CLI,
    tests and callers with brokers of their own."""
    context = start(settings)
    reconciled = await reconcile_orders(context, brokers)
    guarded = await guard(context, brokers)
    outcomes = [
        await take_decision(context, decision_id, premium_vote=premium_vote, brokers=brokers)
        for decision_id in pending_decisions(settings, decision_ids)
    ]
    return await finish(
        context, outcomes, reconciled=reconciled, guard_result=guarded, brokers=brokers
    )
