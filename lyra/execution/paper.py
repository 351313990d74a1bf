"""The paper broker: fills against the next candle, with fees, slippage and thin volume.

docs/domain.md, "Rollout phases" (phase 3, ``paper``) and "Execution": paper and live share
one interface and the same order checks. The fill model, decided here and applied the same
way every time:

- **When and at what price.** A decision is made on the candles closed at its instant
  ``as_of``; its order executes during the *next* candle (the one opening at ``as_of``),
  at that candle's open moved against the trader by ``slippage_bps`` (a buy pays more, a
  sell gets less). When that candle is not yet available (live data, candle still
  forming), the last ticker price is used instead, with the same slippage and no volume
  cap (the ticker carries no candle volume); the report says which.
- **Fee.** The market's taker fee (ccxt ``market['taker']``) when the data carries one,
  else the venue's base-tier taker fee (:mod:`lyra.execution.fees`); charged in the
  quote currency on the filled notional.
- **Thin volume.** At most ``max_volume_share`` (default 10%) of the candle's volume is
  filled, rounded down to the amount step: trading more would move the market in a way
  the candle cannot show.
- **The remainder is cancelled**, not left open: a paper market order is
  immediate-or-cancel. An open paper order would need a matching engine running between
  flow runs; cancelling keeps the simulation stateless and errs on the side of trading
  less. A partial fill therefore ends ``cancelled`` with ``filled`` > 0.
- **Deterministic.** The same intent against the same candle gives the same report, with
  fill ids derived from the client order id and the candle, so re-running a submission
  after a crash books nothing twice (the fills are UNIQUE per order and fill id).
- **A book that survives a crash.** The paper exchange keeps every order it took in a
  :class:`PaperBook`, as a real exchange does: the composition root gives it the
  database's (``paper_orders``, :mod:`lyra.store.paper_book`), written in a transaction
  of its own before the report is returned. A process killed between the paper fill and
  the recording of it leaves a ``submitting`` row that the next run's reconciliation
  finds in the book and records once; an order the book never took is marked failed, as
  for a live exchange (docs/domain.md, "Execution", crash points). A client id the
  database's book already holds is refused as a duplicate, so a paper order is never
  filled twice; the in-memory book of a backtest keeps the last outcome.

Usage::

    broker = PaperBroker("coinbase", data=replay_exchange, next_bar=bars)
    report = await broker.submit(intent)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, Protocol

from lyra.errors import ExchangeRejectedError, UnknownSymbolError
from lyra.execution.checks import round_down
from lyra.execution.fees import taker_fee
from lyra.execution.types import (
    FillReport,
    MarketRules,
    OrderIntent,
    OrderReport,
    OrderState,
    Side,
)
from lyra.market.exchange import ExchangeClient
from lyra.market.types import Ticker

__all__ = [
    "Bar",
    "FillModel",
    "MemoryPaperBook",
    "NextBar",
    "PaperBook",
    "PaperBroker",
    "duplicate_order",
    "simulate_fill",
]

_PRICE_PLACES: Final = Decimal("1e-8")
_MONEY_PLACES: Final = Decimal("1e-12")
_BPS: Final = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Bar:
    """The candle an order executes in (prices in quote, volume in base)."""

    open_time: datetime
    open: Decimal
    volume: Decimal


#: The next candle opening at or after an instant, or None when there is none yet.
NextBar = Callable[[str, datetime], Awaitable[Bar | None]]


@dataclass(frozen=True, slots=True)
class FillModel:
    """The paper fill model's knobs (settings ``paper_slippage_bps``, ``paper_volume_share``)."""

    slippage_bps: Decimal = Decimal(5)
    max_volume_share: Decimal = Decimal("0.10")

    def __post_init__(self) -> None:
        if self.slippage_bps < 0:
            raise ValueError(f"slippage_bps must be >= 0, got {self.slippage_bps}")
        if not 0 < self.max_volume_share <= 1:
            raise ValueError(f"max_volume_share must be in (0, 1], got {self.max_volume_share}")


def simulate_fill(
    intent: OrderIntent,
    rules: MarketRules,
    *,
    bar: Bar | None,
    ticker_price: Decimal | None,
    fee_rate: Decimal,
    model: FillModel,
) -> OrderReport:
    """The paper report of ``intent`` against ``bar`` (or the ticker when there is none).

    Pure: no I/O, the same inputs give the same report.
    """
    if bar is None and ticker_price is None:
        raise ValueError("a paper fill needs the next candle or a ticker price")
    base_price = bar.open if bar is not None else ticker_price
    assert base_price is not None
    slip = model.slippage_bps / _BPS
    factor = 1 + slip if intent.side is Side.BUY else 1 - slip
    price = (base_price * factor).quantize(_PRICE_PLACES, rounding=ROUND_HALF_EVEN)
    amount = intent.amount
    source = "ticker (next candle not available)"
    if bar is not None:
        source = f"candle {bar.open_time:%Y-%m-%d %H:%M} UTC open"
        capacity = round_down(bar.volume * model.max_volume_share, rules.amount_increment)
        amount = min(amount, capacity)
    exchange_id = f"paper-{intent.client_order_id}"
    if amount <= 0:
        return OrderReport(
            client_order_id=intent.client_order_id,
            exchange_order_id=exchange_id,
            state=OrderState.CANCELLED,
            filled=Decimal(0),
            average=None,
            fee=Decimal(0),
            symbol=intent.symbol,
            detail=f"paper: no volume to fill against ({source})",
        )
    fee = (amount * price * fee_rate).quantize(_MONEY_PLACES, rounding=ROUND_HALF_EVEN)
    stamp = bar.open_time if bar is not None else intent.as_of
    fill = FillReport(
        fill_id=f"paper-{stamp:%Y%m%dT%H%M}",
        amount=amount,
        price=price,
        fee=fee,
        timestamp=stamp,
    )
    partial = amount < intent.amount
    detail = f"paper: {source} {base_price} with {model.slippage_bps} bps slippage"
    if partial:
        detail += (
            f"; thin volume: {amount} of {intent.amount} filled "
            f"({model.max_volume_share} of the candle's volume), remainder cancelled"
        )
    return OrderReport(
        client_order_id=intent.client_order_id,
        exchange_order_id=exchange_id,
        state=OrderState.CANCELLED if partial else OrderState.FILLED,
        filled=amount,
        average=price,
        fee=fee,
        fills=(fill,),
        symbol=intent.symbol,
        detail=detail,
    )


class PaperBook(Protocol):
    """The paper exchange's own record of the orders it took (see the module docstring)."""

    def accept(self, intent: OrderIntent, report: OrderReport) -> OrderReport:
        """Keep ``report`` as the outcome of ``intent`` and return it, durably before
        returning; a durable book refuses a client id it holds (ExchangeRejectedError)."""
        ...

    def get(self, client_order_id: str) -> OrderReport | None:
        """The outcome kept for this client id, or None when the book never took it."""
        ...


def duplicate_order(client_order_id: str) -> ExchangeRejectedError:
    """The refusal of a client id the paper book already holds (as an exchange refuses it)."""
    return ExchangeRejectedError(f"paper: duplicate client order id {client_order_id}")


class MemoryPaperBook:
    """A paper book in this process's memory, lost with it (backtests, tests). The last
    outcome of a client id is kept: a backtest may simulate the same bar again."""

    def __init__(self) -> None:
        self._orders: dict[str, OrderReport] = {}

    def accept(self, intent: OrderIntent, report: OrderReport) -> OrderReport:
        self._orders[report.client_order_id] = report
        return report

    def get(self, client_order_id: str) -> OrderReport | None:
        return self._orders.get(client_order_id)


class PaperBroker:
    """A :class:`~lyra.execution.broker.Broker` that fills on paper from market data.

    ``data`` gives the markets (rules) and the ticker fallback; ``next_bar`` the candle an
    order executes in. ``ticker_fallback`` False (a backtest): an order whose next candle
    is not in the data is cancelled unfilled, never filled at a price from another time.
    A paper order is decided the moment it is submitted and kept in ``book`` (default: in
    memory), which :meth:`find` answers from: give it the database's book to have paper
    orders outlive the process, as the composition root does.
    """

    def __init__(
        self,
        exchange: str,
        *,
        data: ExchangeClient,
        next_bar: NextBar,
        model: FillModel | None = None,
        fee_rate: Decimal | None = None,
        ticker_fallback: bool = True,
        book: PaperBook | None = None,
    ) -> None:
        self._exchange = exchange
        self._ticker_fallback = ticker_fallback
        self._data = data
        self._next_bar = next_bar
        self._model = model or FillModel()
        self._fee_rate = fee_rate
        self._book: PaperBook = book if book is not None else MemoryPaperBook()

    @property
    def exchange(self) -> str:
        return self._exchange

    @property
    def account(self) -> str:
        return "paper"

    async def market_rules(self, symbol: str) -> MarketRules:
        markets = await self._data.load_markets()
        market = markets.get(symbol)
        if market is None:
            raise UnknownSymbolError(f"{self._exchange} has no market {symbol!r}")
        return MarketRules.of(market, taker_fee(self._exchange, self._fee_rate))

    async def ticker(self, symbol: str) -> Ticker:
        return await self._data.fetch_ticker(symbol)

    async def submit(self, intent: OrderIntent) -> OrderReport:
        rules = await self.market_rules(intent.symbol)
        bar = await self._next_bar(intent.symbol, intent.as_of)
        ticker_price = None
        if bar is None and not self._ticker_fallback:
            report = OrderReport(
                client_order_id=intent.client_order_id,
                exchange_order_id=f"paper-{intent.client_order_id}",
                state=OrderState.CANCELLED,
                filled=Decimal(0),
                average=None,
                fee=Decimal(0),
                symbol=intent.symbol,
                detail="paper: the next candle is not in the data; not filled",
            )
            return self._book.accept(intent, report)
        if bar is None:
            ticker_price = (await self._data.fetch_ticker(intent.symbol)).last
        report = simulate_fill(
            intent,
            rules,
            bar=bar,
            ticker_price=ticker_price,
            fee_rate=rules.taker_fee if rules.taker_fee is not None else taker_fee(self._exchange),
            model=self._model,
        )
        return self._book.accept(intent, report)

    async def find(
        self, client_order_id: str, symbol: str, *, since: datetime | None = None
    ) -> OrderReport | None:
        return self._book.get(client_order_id)

    async def open_orders(self) -> list[OrderReport]:
        return []  # immediate-or-cancel: a paper order is never left open

    async def cancel(self, report: OrderReport) -> OrderReport:
        return report

    async def close(self) -> None:
        await self._data.close()
