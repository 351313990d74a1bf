"""The account as the exchange holds it, and its reconciliation with the ledger. Pure.

docs/domain.md, "Risk" and "Execution": in the live phases the drawdown kill switch sees
the equity the exchange holds (``fetch_balance`` marked to market with the venue's own
last prices), not the equity Lyra's books compute: the venue sees what the books may miss
(a fill never recorded, a withdrawal, a fee charged in another currency). The books are
then reconciled against it, asset by asset, as NautilusTrader reconciles its cache with
the venue before trading (nautilustrader.io, "Live trading: execution reconciliation").

Valuation follows :mod:`lyra.store.accounts`: USD, USDT and USDC are cash at par; every
other currency is marked at the last price of its market against one of them on the same
exchange. A balance with no such market is *unpriced*: listed, not counted, and not a
discrepancy unless the ledger books that asset.

A discrepancy is an :class:`EquityDiscrepancy`: per exchange and asset, the ledger's
quantity against the exchange's, worth more than the tolerance at the asset's mark; cash
(all exchanges together: the ledger keeps one cash balance per account) likewise; and the
two equities as a whole. The tolerance is a share of the equity
(``LYRA_RISK_RECONCILE_TOLERANCE``, default 0.5%): fee dust and rounding pass, a missing
fill does not.

Usage::

    holdings = [await exchange.holdings() for exchange in live_exchanges]
    result = reconcile_equity(valuation, holdings, tolerance=Decimal("0.005"))
    result.exchange_equity      # what the kill switch observes
    result.discrepancies        # empty when the books agree
    seen = exchange_valuation(valuation, result.exchange_equity, result.exchange_cash)

One equity definition in the live phases: the account's snapshots record the exchanges'
figures (:func:`exchange_valuation`), the ones the switch's peak is made of, never the
ledger's equity against that peak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final, Protocol, runtime_checkable

from lyra.portfolio.valuation import Valuation

__all__ = [
    "CASH_AT_PAR",
    "EquityDiscrepancy",
    "EquityReconciliation",
    "ExchangeHoldings",
    "HoldingsSource",
    "exchange_valuation",
    "reconcile_equity",
]

#: Currencies counted as cash at par (lyra.store.accounts: USD-quoted markets only).
CASH_AT_PAR: Final = ("USD", "USDT", "USDC")
_ZERO: Final = Decimal(0)

#: The asset name of the whole-equity line of a reconciliation.
EQUITY: Final = "equity"
#: The asset name of the cash line (all exchanges together).
CASH: Final = "cash"


@dataclass(frozen=True, slots=True)
class ExchangeHoldings:
    """One exchange's balances (total per currency, held or free) and the marks of the
    non-cash ones in USD (a currency without a market against USD, USDT or USDC has
    none)."""

    exchange: str
    balances: Mapping[str, Decimal]
    marks: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def cash(self) -> Decimal:
        """USD, USDT and USDC at par."""
        return sum((self.balances.get(c, _ZERO) for c in CASH_AT_PAR), _ZERO)

    @property
    def assets(self) -> dict[str, Decimal]:
        """Every non-cash balance that is not zero."""
        return {a: q for a, q in self.balances.items() if a not in CASH_AT_PAR and q}

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Assets held without a mark: not counted in the equity."""
        return tuple(sorted(a for a in self.assets if a not in self.marks))

    @property
    def equity(self) -> Decimal:
        """Cash plus every priced asset at its mark."""
        valued = sum((q * self.marks[a] for a, q in self.assets.items() if a in self.marks), _ZERO)
        return self.cash + valued


@runtime_checkable
class HoldingsSource(Protocol):
    """An exchange that can tell its account's holdings (the live ccxt adapter)."""

    @property
    def exchange(self) -> str:
        """Exchange id."""
        ...

    async def holdings(self) -> ExchangeHoldings:
        """The account's balances marked to market on this exchange."""
        ...


@dataclass(frozen=True, slots=True)
class EquityDiscrepancy:
    """The ledger and the exchange disagree on ``asset`` by more than ``tolerance``.

    ``exchange`` is None for the lines that span every exchange (cash, equity). For the
    equity line the figures are the two equities. ``value`` is the difference at the
    asset's mark (None when the asset has none: then any difference counts).
    """

    exchange: str | None
    asset: str
    ledger: Decimal
    exchange_figure: Decimal
    value: Decimal | None
    tolerance: Decimal

    def describe(self) -> str:
        """One line naming the asset and both figures."""
        where = f"{self.exchange} " if self.exchange else ""
        worth = "unpriced" if self.value is None else f"worth {self.value:.2f} USD"
        return (
            f"{where}{self.asset}: ledger {self.ledger} vs exchange {self.exchange_figure} "
            f"({worth}, tolerance {self.tolerance:.2f} USD)"
        )


@dataclass(frozen=True, slots=True)
class EquityReconciliation:
    """The exchange's equity, the ledger's, and where they disagree."""

    exchange_equity: Decimal
    ledger_equity: Decimal
    tolerance: Decimal
    discrepancies: tuple[EquityDiscrepancy, ...]
    unpriced: tuple[str, ...]
    #: The exchanges' cash (USD, USDT and USDC at par), part of ``exchange_equity``.
    exchange_cash: Decimal = _ZERO

    @property
    def agrees(self) -> bool:
        """True when nothing is beyond the tolerance."""
        return not self.discrepancies


def reconcile_equity(
    ledger: Valuation, holdings: Iterable[ExchangeHoldings], *, tolerance: Decimal
) -> EquityReconciliation:
    """Compare the ledger's valuation with the exchanges' holdings (module docstring);
    ``tolerance`` is a share of the larger equity."""
    if not tolerance.is_finite() or tolerance < 0:
        raise ValueError(f"tolerance must be a share >= 0, got {tolerance}")
    held = list(holdings)
    exchange_equity = sum((h.equity for h in held), _ZERO)
    money = (tolerance * max(exchange_equity, ledger.equity, _ZERO)).quantize(Decimal("0.01"))
    found: list[EquityDiscrepancy] = []
    for h in held:
        booked: dict[str, Decimal] = {}
        marks: dict[str, Decimal] = {}
        for line in ledger.lines:
            if line.exchange == h.exchange:
                booked[line.asset] = booked.get(line.asset, _ZERO) + line.quantity
                if line.mark is not None:
                    marks[line.asset] = line.mark
        for asset in sorted(set(booked) | set(h.assets)):
            ours, theirs = booked.get(asset, _ZERO), h.balances.get(asset, _ZERO)
            mark = h.marks.get(asset, marks.get(asset))
            if asset not in booked and mark is None:
                continue  # a balance the books never held and nothing can value: unpriced
            _compare(found, h.exchange, asset, ours, theirs, mark, money)
    cash = sum((h.cash for h in held), _ZERO)
    _compare(found, None, CASH, ledger.cash, cash, Decimal(1), money)
    _compare(found, None, EQUITY, ledger.equity, exchange_equity, Decimal(1), money)
    unpriced = tuple(sorted({f"{h.exchange}:{a}" for h in held for a in h.unpriced}))
    return EquityReconciliation(
        exchange_equity, ledger.equity, money, tuple(found), unpriced, exchange_cash=cash
    )


def exchange_valuation(ledger: Valuation, equity: Decimal, cash: Decimal) -> Valuation:
    """The account valued as the exchanges hold it: their ``equity`` and ``cash`` (the rest
    of the equity is positions), the ledger's P&L, fees and lines kept; the peak is the
    caller's (the kill switch's running peak of these equities)."""
    return replace(ledger, cash=cash, positions_value=equity - cash, equity=equity)


def _compare(
    found: list[EquityDiscrepancy],
    exchange: str | None,
    asset: str,
    ours: Decimal,
    theirs: Decimal,
    mark: Decimal | None,
    tolerance: Decimal,
) -> None:
    if ours == theirs:
        return
    value = None if mark is None else abs(ours - theirs) * mark
    if value is not None and value <= tolerance:
        return
    found.append(EquityDiscrepancy(exchange, asset, ours, theirs, value, tolerance))
