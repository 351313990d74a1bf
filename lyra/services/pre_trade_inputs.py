"""The inputs of a pre-trade run: which decisions are pending, the market's "now", and the
risk request built from the account, the decision and the market (DESIGN.md contract of
``lyra risk assess``, with the optional market fields filled from exchange market data).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from lyra.bootstrap import open_database
from lyra.config import Settings
from lyra.errors import UserError
from lyra.execution.types import MarketRules
from lyra.market.types import Ticker
from lyra.portfolio import Valuation
from lyra.risk import RiskRequest
from lyra.services.market_cycle import FLOW_NAME as MARKET_FLOW
from lyra.store.cycles import replay_position
from lyra.store.models import DecisionRow

__all__ = ["PENDING_STATUS", "build_request", "market_time", "pending_decisions"]

#: The status market analysis gives a decision: not yet taken up by pre-trade risk.
PENDING_STATUS = "recorded"


def market_time(settings: Settings) -> datetime:
    """Now, for the market: the replay clock's position (the last cycle's instant), or
    the wall clock with real exchanges."""
    if settings.market_source != "replay":
        return datetime.now(UTC)
    with open_database(settings).transaction() as session:
        position = replay_position(session, f"{MARKET_FLOW}:{settings.timeframe}")
    return position or settings.replay_start


def pending_decisions(settings: Settings, decision_ids: Sequence[str] | None = None) -> list[str]:
    """The given ids (checked to exist), or every pending actionable buy/sell decision."""
    with open_database(settings).transaction() as session:
        if decision_ids is not None:
            known = set(
                session.scalars(select(DecisionRow.id).where(DecisionRow.id.in_(decision_ids)))
            )
            missing = [d for d in decision_ids if d not in known]
            if missing:
                raise UserError(f"unknown decision id {missing[0]}")
            return list(dict.fromkeys(decision_ids))
        query = (
            select(DecisionRow.id)
            .where(
                DecisionRow.status == PENDING_STATUS,
                DecisionRow.actionable.is_(True),
                DecisionRow.action.in_(["buy", "sell"]),
            )
            .order_by(DecisionRow.created_at, DecisionRow.exchange, DecisionRow.symbol)
        )
        return list(session.scalars(query))


def _consensus(decision: DecisionRow) -> Decimal:
    return decision.score_buy if decision.action == "buy" else decision.score_sell


def _figure(indicators: dict[str, object], name: str) -> Decimal | None:
    value = indicators.get(name)
    if isinstance(value, int | float) and value > 0:
        return Decimal(repr(float(value)))
    return None


def build_request(
    phase: int,
    now: datetime,
    decision: DecisionRow,
    valuation: Valuation,
    rules: MarketRules,
    ticker: Ticker,
    orders_in_interval: int,
    held: Decimal,
    capital_cap: Decimal | None = None,
) -> RiskRequest:
    """The ``lyra risk assess`` request of one decision, from the account and the market
    (``capital_cap``: a phase run's lower capital, ``LYRA_CAPITAL_CAP_USD``)."""
    price = decision.price if decision.price is not None else ticker.last
    atr = _figure(decision.indicators, "atr_14")
    # The proposal is as old as the older of its decision and the last price: a decision
    # left pending from an earlier cycle is stale even when the ticker is fresh.
    age = max((now - ticker.timestamp).total_seconds(), (now - decision.as_of).total_seconds(), 0.0)
    return RiskRequest.model_validate(
        {
            "phase": phase,
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
            "is_closing": decision.action == "sell" and held > 0,
            "capital_cap": capital_cap,
        }
    )
