"""The inputs of a pre-trade run: which decisions are pending, and the risk request built
from the account, the decision, the market and the phase run (the ``lyra risk assess``
contract of docs/domain.md, with the optional market fields filled from exchange market
data and the run's figures carried into it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from lyra.errors import UserError
from lyra.execution.types import MarketRules
from lyra.market.types import Ticker
from lyra.portfolio import Valuation
from lyra.risk import RiskRequest
from lyra.rollout.phases import PhaseRun
from lyra.services.runtime import Runtime
from lyra.store.decisions import existing_decision_ids, pending_decision_ids
from lyra.store.models import DecisionRow

__all__ = ["build_request", "pending_decisions"]


def pending_decisions(runtime: Runtime, decision_ids: Sequence[str] | None = None) -> list[str]:
    """The given ids (checked to exist), or every pending actionable buy/sell decision."""
    with runtime.database.transaction() as session:
        if decision_ids is None:
            return pending_decision_ids(session)
        known = existing_decision_ids(session, decision_ids)
    missing = [d for d in decision_ids if d not in known]
    if missing:
        raise UserError(f"unknown decision id {missing[0]}")
    return list(dict.fromkeys(decision_ids))


def _consensus(decision: DecisionRow) -> Decimal:
    return decision.score_buy if decision.action == "buy" else decision.score_sell


def _figure(indicators: dict[str, object], name: str) -> Decimal | None:
    value = indicators.get(name)
    if isinstance(value, int | float) and value > 0:
        return Decimal(repr(float(value)))
    return None


def build_request(
    run: PhaseRun,
    now: datetime,
    decision: DecisionRow,
    valuation: Valuation,
    rules: MarketRules,
    ticker: Ticker,
    orders_in_interval: int,
) -> RiskRequest:
    """The ``lyra risk assess`` request of one decision, judged as a run of its phase.

    Whether the trade is an exit is not said here: the risk domain reads it from the
    position and the side, for this request and for the CLI's alike.
    """
    price = decision.price if decision.price is not None else ticker.last
    atr = _figure(decision.indicators, "atr_14")
    # The proposal is as old as the older of its decision and the last price: a decision
    # left pending from an earlier cycle is stale even when the ticker is fresh.
    age = max((now - ticker.timestamp).total_seconds(), (now - decision.as_of).total_seconds(), 0.0)
    return RiskRequest.model_validate(
        {
            "phase": run.number,
            "consensus_threshold": run.threshold,
            "order_mode": run.order_mode.value,
            "capital_cap": run.capital_cap,
            "portfolio": {
                "equity": valuation.equity,
                "peak_equity": valuation.peak_equity,
                "cash": max(valuation.cash, Decimal(0)),
                "positions": valuation.asset_values(),
            },
            "proposal": {
                "symbol": decision.symbol,
                "side": decision.action,
                "price": price,
                "stop_price": decision.stop_price,
                "consensus": _consensus(decision),
            },
            "market": {
                "last_price": ticker.last,
                "age_seconds": Decimal(str(age)),
                "min_notional": rules.min_notional,
                "min_amount": rules.min_amount,
                "amount_precision": rules.amount_increment,
                "price_precision": rules.price_increment,
                "atr": atr,
                "volatility": atr / price if atr is not None else None,
            },
            "orders_in_interval": orders_in_interval,
        }
    )
