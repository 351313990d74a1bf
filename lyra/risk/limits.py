"""The rule constants of pre-trade risk (docs/domain.md, Risk) and each phase's capital.

Three figures are the core rules of docs/domain.md and may only be tightened by settings,
never loosened: risk at most 2% of equity per trade, at most 20% of equity in one asset
after the trade, and the kill switch at a 15% drawdown. The others are operating limits
whose defaults are stated and argued below.

Phase capital (docs/domain.md, Rollout phases) is a ceiling on *gross exposure*: the sum
of the absolute market values of every position after the trade. Decisions:

- phase 1 (analysis only) has no capital: every order is refused by the ``phase`` check
  and sized against a capital of 0;
- phase 2 (orders validated, never sent) is assessed *as if* it had the paper capital,
  so that its validation says something; ``RiskAssessment.order_mode`` is ``validate``
  and the caller never sends it (an approved phase-2 assessment means "would pass");
- phase 3 paper capital (``LYRA_PAPER_CAPITAL_USD``), phase 4 the live cap
  (``LYRA_LIVE_CAPITAL_CAP_USD``), phase 5 the whole equity.

Usage::

    limits = RiskLimits(live_capital_cap_usd=Decimal(1_000))
    cap = phase_capital(PhaseRun.of(4), limits, equity=Decimal(50_000))   # Decimal(1000)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from lyra.rollout.phases import CapitalSource, OrderMode, PhaseRun

__all__ = [
    "DEFAULT_SYMBOLS",
    "MAX_ASSET_SHARE",
    "MAX_DRAWDOWN",
    "PREMIUM_VOTE_ABOVE_USD",
    "RISK_PER_TRADE",
    "RiskLimits",
    "phase_capital",
]

#: docs/domain.md, Risk: "at most 2% of equity is at risk per trade".
RISK_PER_TRADE: Final = Decimal("0.02")
#: docs/domain.md, Risk: "at most 20% of equity in one asset after the trade".
MAX_ASSET_SHARE: Final = Decimal("0.20")
#: docs/domain.md, Risk: equity "15% or more below its peak" trips the kill switch.
MAX_DRAWDOWN: Final = Decimal("0.15")
#: docs/domain.md, Risk: a trade above 10,000 USD "also needs a premium-tier validation vote".
PREMIUM_VOTE_ABOVE_USD: Final = Decimal(10_000)
#: The markets of the shipped replay data (``lyra/market/data/ORIGIN.md``).
DEFAULT_SYMBOLS: Final = frozenset({"BTC/USD", "ETH/USD", "LTC/USD"})


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every constant the checks use; money in USD (the account currency).

    - ``risk_per_trade`` 0.02, ``max_asset_share`` 0.20, ``max_drawdown`` 0.15,
      ``premium_vote_above_usd`` 10,000: the rules of docs/domain.md, Risk.
    - ``price_collar`` 0.02: a limit price more than 2% from the last traded price is a
      fat finger or a stale decision (exchanges' own "percent price" filters are wider;
      ours is the tighter, first line).
    - ``max_data_age_s`` 300: one market-analysis interval (every 5 minutes); older
      market data is stale.
    - ``max_orders_per_interval`` 10 per ``order_interval_s`` 3600: a runaway loop sends
      at most ten orders an hour (counted over orders of any kind, closing ones too).
    - ``max_volatility`` 0.10: the volatility circuit breaker stops new risk while the
      ATR is more than 10% of the price (ATR/price of the decision's candles; BTC hourly
      2017-2019 runs at about 1%, daily at about 4-5%).
    - ``atr_stop_multiple`` 2: a decision without a stop gets one 2 x ATR from the entry
      (the common "2 ATR stop"; the rule is stated in the sizing check's detail).
    - ``equity_tolerance`` 0.001: the stated equity must match cash plus the positions
      at market within 0.1%, so a drawdown is never measured on equity that leaves the
      open positions out.
    - ``amount_step`` 1e-8: quantities are rounded down to this step when the market's
      amount precision is not given (the satoshi).
    - ``symbols``: the markets that may be traded; any other symbol is refused.
    - ``paper_capital_usd`` / ``live_capital_cap_usd``: phase capital (module docstring).
    - ``reconcile_tolerance`` 0.005: in live phases, the share of the equity by which the
      ledger may differ from the exchange's holdings before the difference is an
      ``EquityDiscrepancy`` that trips the kill switch (lyra/portfolio/exchange_equity.py).
    """

    risk_per_trade: Decimal = RISK_PER_TRADE
    max_asset_share: Decimal = MAX_ASSET_SHARE
    max_drawdown: Decimal = MAX_DRAWDOWN
    premium_vote_above_usd: Decimal = PREMIUM_VOTE_ABOVE_USD
    price_collar: Decimal = Decimal("0.02")
    max_data_age_s: Decimal = Decimal(300)
    max_orders_per_interval: int = 10
    order_interval_s: int = 3600
    max_volatility: Decimal = Decimal("0.10")
    atr_stop_multiple: Decimal = Decimal(2)
    equity_tolerance: Decimal = Decimal("0.001")
    reconcile_tolerance: Decimal = Decimal("0.005")
    amount_step: Decimal = Decimal("0.00000001")
    symbols: frozenset[str] = field(default=DEFAULT_SYMBOLS)
    paper_capital_usd: Decimal = Decimal(100_000)
    live_capital_cap_usd: Decimal = Decimal(1_000)

    def __post_init__(self) -> None:
        for name, value, ceiling in (
            ("risk_per_trade", self.risk_per_trade, RISK_PER_TRADE),
            ("max_asset_share", self.max_asset_share, MAX_ASSET_SHARE),
            ("max_drawdown", self.max_drawdown, MAX_DRAWDOWN),
            ("premium_vote_above_usd", self.premium_vote_above_usd, PREMIUM_VOTE_ABOVE_USD),
        ):
            if not (0 < value <= ceiling):
                raise ValueError(f"{name} must be in (0, {ceiling}]: settings only tighten it")
        positives = (
            self.price_collar,
            self.max_data_age_s,
            self.max_volatility,
            self.atr_stop_multiple,
            self.equity_tolerance,
            self.amount_step,
        )
        if any(not v.is_finite() or v <= 0 for v in positives):
            raise ValueError("risk limits must be positive finite figures")
        if self.max_orders_per_interval < 1 or self.order_interval_s < 1:
            raise ValueError("max orders and their interval must be at least 1")
        if not self.reconcile_tolerance.is_finite() or not 0 <= self.reconcile_tolerance < 1:
            raise ValueError("reconcile_tolerance must be a share in [0, 1)")
        if self.paper_capital_usd < 0 or self.live_capital_cap_usd < 0:
            raise ValueError("phase capital must not be negative")


def phase_capital(run: PhaseRun, limits: RiskLimits, *, equity: Decimal) -> Decimal:
    """The gross exposure a run of a phase may reach (module docstring for phases 1-2).

    A run's own ``capital_cap`` only lowers the phase's figure; nothing lifts it above the
    equity: no phase trades more than the account holds.
    """
    if run.order_mode is OrderMode.NONE:
        return Decimal(0)
    capital = run.phase.capital
    if capital is CapitalSource.FULL:
        figure = equity
    elif capital is CapitalSource.LIVE_CAP:
        figure = min(limits.live_capital_cap_usd, equity)
    else:  # PAPER, and phase 2 (CapitalSource.NONE, but orders validated) as if it were paper
        figure = min(limits.paper_capital_usd, equity)
    return figure if run.capital_cap is None else min(run.capital_cap, figure)
