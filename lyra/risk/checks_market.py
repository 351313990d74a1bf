"""Checks on the market and the order: collar, staleness, exchange limits, rate,
volatility, and the premium vote for large trades.

The same checks run for paper and live orders (docs/domain.md, Risk): the paper broker must
refuse what the exchange would. Exchange figures (minimum notional and amount, amount
step, price tick) come from the exchange's market data (ccxt's ``limits`` and
``precision``, :class:`lyra.market.types.Market`); a figure the exchange does not publish
is not checked, and the detail says so.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from lyra.risk.check import CheckContext, RiskCheck
from lyra.risk.figures import fmt, pct

__all__ = [
    "min_notional_check",
    "order_rate_check",
    "precision_check",
    "premium_vote_check",
    "price_collar_check",
    "stale_data_check",
    "volatility_check",
]


def price_collar_check(ctx: CheckContext) -> RiskCheck:
    """The order's price within the collar around the last traded price (fat fingers,
    decisions made on a price the market has left)."""
    price, last = ctx.request.proposal.price, ctx.request.market.last_price
    off = abs(price - last) / last
    ok = off <= ctx.limits.price_collar
    relation = "<=" if ok else ">"
    detail = (
        f"price {fmt(price)} is {pct(off)} from the last price {fmt(last)} "
        f"{relation} {pct(ctx.limits.price_collar)}"
    )
    return RiskCheck("price_collar", ok, detail)


def stale_data_check(ctx: CheckContext) -> RiskCheck:
    """Market data no older than ``max_data_age_s``: never trade on garbage or old news."""
    age, limit = ctx.request.market.age_seconds, ctx.limits.max_data_age_s
    ok = age <= limit
    relation = "<=" if ok else ">"
    return RiskCheck("stale_data", ok, f"market data {fmt(age)} s old {relation} {fmt(limit)} s")


def min_notional_check(ctx: CheckContext) -> RiskCheck:
    """The exchange's minimum order value and amount (ccxt ``limits.cost.min`` and
    ``limits.amount.min``)."""
    market, order = ctx.request.market, ctx.order
    problems: list[str] = []
    said: list[str] = []
    if market.min_notional is not None:
        if order.notional < market.min_notional:
            problems.append(f"notional {fmt(order.notional)} < minimum {fmt(market.min_notional)}")
        else:
            said.append(f"notional {fmt(order.notional)} >= minimum {fmt(market.min_notional)}")
    if market.min_amount is not None:
        if order.quantity < market.min_amount:
            problems.append(f"quantity {fmt(order.quantity)} < minimum {fmt(market.min_amount)}")
        else:
            said.append(f"quantity {fmt(order.quantity)} >= minimum {fmt(market.min_amount)}")
    if problems:
        return RiskCheck("min_notional", False, "; ".join(problems))
    if not said:
        return RiskCheck("min_notional", True, "the market publishes no minimum order")
    return RiskCheck("min_notional", True, "; ".join(said))


def _on_grid(value: Decimal, step: Decimal) -> bool:
    with localcontext() as ctx:
        ctx.prec = 80  # a remainder needs every digit of the quotient
        return (value % step) == 0


def precision_check(ctx: CheckContext) -> RiskCheck:
    """The quantity on the amount step and the price on the tick (ccxt ``precision``)."""
    order, market = ctx.order, ctx.request.market
    price = ctx.request.proposal.price
    problems: list[str] = []
    if not _on_grid(order.quantity, order.step):
        problems.append(f"quantity {fmt(order.quantity)} is not a multiple of {fmt(order.step)}")
    tick = market.price_precision
    if tick is not None and not _on_grid(price, tick):
        problems.append(f"price {fmt(price)} is not a multiple of the tick {fmt(tick)}")
    if problems:
        return RiskCheck("precision", False, "; ".join(problems))
    ticked = f"price on the tick {fmt(tick)}" if tick is not None else "no price tick published"
    return RiskCheck("precision", True, f"quantity on the step {fmt(order.step)}; {ticked}")


def order_rate_check(ctx: CheckContext) -> RiskCheck:
    """At most ``max_orders_per_interval`` orders per ``order_interval_s`` (a runaway
    loop stops here); counts every order, closing ones too."""
    sent, limit = ctx.request.orders_in_interval, ctx.limits.max_orders_per_interval
    ok = sent < limit
    detail = f"{sent} orders in the last {ctx.limits.order_interval_s} s; at most {limit}" + (
        "" if ok else ": no more orders in this interval"
    )
    return RiskCheck("order_rate", ok, detail)


def volatility(ctx: CheckContext) -> Decimal | None:
    """ATR / price: the market's figure, else derived from its ATR and last price."""
    market = ctx.request.market
    if market.volatility is not None:
        return market.volatility
    if market.atr is not None:
        return market.atr / market.last_price
    return None


def volatility_check(ctx: CheckContext) -> RiskCheck:
    """The volatility circuit breaker: no new risk while ATR / price exceeds the limit."""
    value, limit = volatility(ctx), ctx.limits.max_volatility
    if value is None:
        return RiskCheck("volatility", True, "not measured: no market.volatility or market.atr")
    ok = value <= limit
    relation = "<=" if ok else ">"
    detail = f"ATR/price {pct(value)} {relation} {pct(limit)}"
    if not ok and not ctx.opening:
        return RiskCheck("volatility", True, f"{detail}; closing trade allowed")
    if not ok:
        detail += ": circuit breaker open, no new risk"
    return RiskCheck("volatility", ok, detail)


def premium_vote_check(ctx: CheckContext) -> RiskCheck:
    """A trade above 10,000 USD also needs an approving premium-tier validation vote
    (docs/domain.md, "Risk"). The vote is an LLM call made by the pre-trade flow; risk only
    requires its outcome. An exit needs none: it takes risk off, and it must never depend
    on an LLM being up or affordable."""
    notional, threshold = ctx.order.notional, ctx.limits.premium_vote_above_usd
    if ctx.order.closing:
        return RiskCheck(
            "premium_vote",
            True,
            f"closing trade of {fmt(notional)}: reduces a position, not needed",
        )
    if notional <= threshold:
        return RiskCheck(
            "premium_vote", True, f"notional {fmt(notional)} <= {fmt(threshold)}: not needed"
        )
    head = f"notional {fmt(notional)} > {fmt(threshold)}"
    if ctx.premium_approved is True:
        return RiskCheck("premium_vote", True, f"{head}: the premium-tier vote approved")
    if ctx.premium_approved is False:
        return RiskCheck("premium_vote", False, f"{head}: the premium-tier vote rejected it")
    return RiskCheck("premium_vote", False, f"{head}: needs a premium-tier validation vote")
