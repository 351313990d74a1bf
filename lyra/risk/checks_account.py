"""Checks on the account: phase, consensus, kill switch, size, exposure, capital, cash.

Each states its rule (docs/domain.md, Risk and Rollout phases) and the figures it judged.
A closing trade (one that reduces a position) passes the checks that guard against new
risk: docs/domain.md, Risk, allows closing trades even while the kill switch is tripped.
"""

from __future__ import annotations

from lyra.risk.check import CheckContext, RiskCheck
from lyra.risk.figures import fmt, pct
from lyra.risk.killswitch import drawdown
from lyra.risk.sizing import gross_exposure
from lyra.rollout.phases import OrderMode

__all__ = [
    "capital_cap_check",
    "cash_check",
    "consensus_check",
    "exposure_check",
    "kill_switch_check",
    "phase_check",
    "position_size_check",
]


def phase_check(ctx: CheckContext) -> RiskCheck:
    """The run's order mode: none places no orders; validate checks orders that are never
    sent (a run may be more cautious than its phase, never bolder)."""
    run = ctx.run
    label = f"phase {run.number} ({run.phase.name})"
    if run.order_mode is not run.phase.order_mode:
        label += f" run with {run.order_mode.value} orders"
    if run.order_mode is OrderMode.NONE:
        return RiskCheck("phase", False, f"{label} places no orders: analysis only")
    if run.order_mode is OrderMode.VALIDATE:
        return RiskCheck(
            "phase", True, f"{label}: order validated against the paper capital, never sent"
        )
    return RiskCheck("phase", True, f"{label}: {run.order_mode.value} orders")


def consensus_check(ctx: CheckContext) -> RiskCheck:
    """The proposal's consensus score must reach the run's threshold: the phase's, or the
    stricter one the run was given (docs/domain.md, "Consensus")."""
    score, threshold = ctx.request.proposal.consensus, ctx.run.threshold
    ok = score >= threshold
    relation = ">=" if ok else "<"
    detail = f"consensus {fmt(score)} {relation} phase {ctx.run.number} threshold {threshold}"
    return RiskCheck("consensus", ok, detail)


def kill_switch_check(ctx: CheckContext) -> RiskCheck:
    """No new risk while the kill switch is tripped, or while the drawdown measured on
    this request would trip it; closing trades allowed."""
    portfolio = ctx.request.portfolio
    fall = drawdown(portfolio.equity, portfolio.peak_equity)
    limit = ctx.limits.max_drawdown
    if ctx.request.kill_switch_tripped:
        state = "kill switch tripped"
    elif fall >= limit:
        state = f"drawdown {pct(fall)} >= {pct(limit)} trips the kill switch"
    else:
        return RiskCheck("kill_switch", True, f"drawdown {pct(fall)} below {pct(limit)}")
    if not ctx.opening:
        return RiskCheck("kill_switch", True, f"{state}; closing trade allowed")
    return RiskCheck(
        "kill_switch",
        False,
        f"{state}: no new risk until a person resets it (lyra killswitch reset)",
    )


def position_size_check(ctx: CheckContext) -> RiskCheck:
    """The 2% rule: risk = quantity x |entry - stop| <= 2% of equity, and a size above 0."""
    order = ctx.order
    if order.closing:
        if order.quantity <= 0:
            return RiskCheck(
                "position_size",
                False,
                f"closing quantity rounds to 0 on the step {fmt(order.step)}",
            )
        return RiskCheck(
            "position_size",
            True,
            f"closing trade of {fmt(order.quantity)}: reduces a position, no new risk",
        )
    budget = ctx.limits.risk_per_trade * ctx.request.portfolio.equity
    binding = order.binding
    stop_rule = order.stop.rule if order.stop else "no stop"
    set_by = f"set by {binding.name}: {binding.detail}" if binding else "no bound"
    if order.quantity <= 0:
        return RiskCheck("position_size", False, f"quantity rounds to 0 ({set_by}); {stop_rule}")
    ok = order.risk_amount <= budget
    relation = "<=" if ok else ">"
    detail = (
        f"risk {fmt(order.risk_amount)} {relation} {pct(ctx.limits.risk_per_trade)} of equity "
        f"({fmt(budget)}); quantity {fmt(order.quantity)} {set_by}; {stop_rule}"
    )
    return RiskCheck("position_size", ok, detail)


def exposure_check(ctx: CheckContext) -> RiskCheck:
    """At most 20% of equity in one asset after the trade (closing only ever lowers it)."""
    equity = ctx.request.portfolio.equity
    asset = ctx.request.proposal.base
    after = abs(ctx.position_after)
    share = after / equity
    limit = ctx.limits.max_asset_share
    if not ctx.opening:
        return RiskCheck("exposure", True, f"closing: {asset} falls to {pct(share)} of equity")
    ok = after <= limit * equity
    relation = "<=" if ok else ">"
    detail = (
        f"{asset} {fmt(after)} after the trade = {pct(share)} of equity {relation} {pct(limit)}"
    )
    return RiskCheck("exposure", ok, detail)


def capital_cap_check(ctx: CheckContext) -> RiskCheck:
    """Gross exposure after the trade within the phase capital (docs/domain.md, Rollout phases)."""
    gross = gross_exposure(ctx.request)
    after = gross - abs(ctx.position) + abs(ctx.position_after)
    cap = ctx.order.capital
    if not ctx.opening:
        return RiskCheck("capital_cap", True, f"closing: gross exposure falls to {fmt(after)}")
    ok = after <= cap
    relation = "<=" if ok else ">"
    detail = (
        f"gross exposure {fmt(after)} after the trade {relation} phase {ctx.run.number} "
        f"capital {fmt(cap)}"
    )
    return RiskCheck("capital_cap", ok, detail)


def cash_check(ctx: CheckContext) -> RiskCheck:
    """A buy spends no more than the cash it has (spot: no borrowing)."""
    if ctx.request.proposal.side != "buy":
        return RiskCheck("cash", True, "a sell spends no cash")
    cash = ctx.request.portfolio.cash
    notional = ctx.order.notional
    ok = notional <= cash
    relation = "<=" if ok else ">"
    return RiskCheck("cash", ok, f"notional {fmt(notional)} {relation} cash {fmt(cash)}")
