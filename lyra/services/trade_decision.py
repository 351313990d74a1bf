"""One decision through pre-trade risk: assessed in code as a run of its phase, then by
the run's order mode recorded as analysis only, validated without sending, or placed once.

The risk request is built from the account, the decision, the market and the phase run
(:func:`lyra.services.pre_trade_inputs.build_request`), so the assessment judges the
run's threshold, order mode and capital cap, never the base phase's. Whether the trade is
an exit is the risk domain's rule (:attr:`lyra.risk.RiskRequest.reduces_position`): an
exit is approved under a tripped kill switch and asks no premium vote, so it never
depends on an LLM being up or affordable. A sell is sized to what is held, and the order
is clipped to what is held on the decision's own exchange (a venue can only sell what its
account holds).

Safe to retry and to run twice for the same decision: an order already written for it
goes through the idempotent submission (:mod:`lyra.services.submission`: looked up,
never sent again).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lyra.errors import UserError
from lyra.execution import (
    Broker,
    OrderCheckError,
    OrderIntent,
    Side,
    check_order,
    client_order_id,
)
from lyra.risk import needs_premium_vote
from lyra.rollout.phases import OrderMode
from lyra.services.pre_trade import PreTradeContext, mark_to_market, opened_brokers
from lyra.services.pre_trade_inputs import build_request
from lyra.services.pre_trade_summary import TradeOutcome
from lyra.services.premium_vote import PremiumVote, no_premium_vote
from lyra.services.risk_assessment import assess_with_kill_switch
from lyra.services.runtime import Runtime
from lyra.services.submission import Placement, place_order, validate_order
from lyra.store.accounts import held_quantity, value_account
from lyra.store.audit import append_audit
from lyra.store.decisions import PENDING_STATUS, load_decision
from lyra.store.execution_tables import OrderRow
from lyra.store.models import DecisionRow
from lyra.store.orders import count_orders_since, find_order, set_decision_status

__all__ = ["take_decision"]


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
    runtime: Runtime, decision_id: str, status: str, event: str, payload: dict[str, object]
) -> None:
    with runtime.database.transaction() as session:
        set_decision_status(session, decision_id, status)
        append_audit(session, event, f"decision:{decision_id}", payload)


async def take_decision(
    runtime: Runtime,
    context: PreTradeContext,
    decision_id: str,
    *,
    premium_vote: PremiumVote = no_premium_vote,
) -> TradeOutcome:
    """Assess, size and execute one decision by the run's order mode (module docstring)."""
    with runtime.database.transaction() as session:
        decision = load_decision(session, decision_id)
        if decision is None:
            raise UserError(f"unknown decision id {decision_id}")
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
            runtime,
            decision_id,
            "analysis_only",
            "decision.analysis_only",
            {"phase_run": context.run.describe()},
        )
        return _outcome(decision, "analysis_only", detail=f"{context.run.describe()}: no order")
    async with opened_brokers(runtime, context, only=decision.exchange) as opened:
        broker = opened.get(decision.exchange)
        if broker is None:
            return _outcome(decision, "skipped", detail=f"no broker for {decision.exchange}")
        if again is not None:
            # Taken before (a rerun, a retry): the idempotent path, which never sends twice.
            placement = await place_order(runtime.database, broker, again, decision_id=decision_id)
            return _placed(decision, placement, {"quantity": placement.order.amount})
        return await _assess_and_execute(runtime, context, decision, broker, premium_vote)


async def _assess_and_execute(
    runtime: Runtime,
    context: PreTradeContext,
    decision: DecisionRow,
    broker: Broker,
    premium_vote: PremiumVote,
) -> TradeOutcome:
    database, limits = runtime.database, runtime.limits
    rules = await broker.market_rules(decision.symbol)
    ticker = await broker.ticker(decision.symbol)
    marks = await mark_to_market(runtime, context, {broker.exchange: broker})
    marks[(decision.exchange, decision.symbol)] = ticker.last
    since = datetime.now(UTC) - timedelta(seconds=limits.order_interval_s)
    with database.transaction() as session:
        valuation = value_account(session, context.account, marks)
        held = held_quantity(session, context.account, decision.exchange, decision.symbol)
        recent = count_orders_since(session, [context.account, "validate"], since)
    request = build_request(
        context.run, context.market_time, decision, valuation, rules, ticker, recent
    )
    premium: bool | None = None
    premium_note = None
    if needs_premium_vote(request, limits):
        premium = await premium_vote(request, decision.id)
        premium_note = "premium vote: " + (
            "none available" if premium is None else "approved" if premium else "refused"
        )
    with database.transaction() as session:
        assessment = assess_with_kill_switch(
            session, request, limits, now=datetime.now(UTC), premium_approved=premium
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
            runtime,
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
        amount=checked,
        reference_price=ticker.last,
        as_of=decision.as_of,
    )
    if context.mode is OrderMode.VALIDATE:
        order = validate_order(
            database,
            intent,
            decision_id=decision.id,
            detail=f"{context.run.describe()}: validated, not sent",
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
