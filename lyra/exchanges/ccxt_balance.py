"""An exchange account's balances through ccxt, marked to market on the same exchange.

ccxt's ``fetch_balance`` parses each venue's own format into one structure whose
``total`` maps a unified currency code to free plus held (Kraken's BalanceEx ``balance``,
ZUSD as USD and XXBT as BTC; Coinbase's List Accounts ``available_balance`` plus
``hold``). Each non-cash currency held is marked at the last price of its spot market
against USD, USDT or USDC on the same exchange, in that order (the cash currencies of
:mod:`lyra.portfolio.exchange_equity`); one without such a market, or whose ticker has no
price (none, or zero: ccxt's parser leaves ``last`` empty when the venue sends none), stays
unpriced: listed, not counted (never valued at zero, never a crash).

Figures are Decimal through :func:`~lyra.exchanges.ccxt_numbers.number`. The balance read
is an idempotent read (retried on network errors), as is every ticker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from lyra.errors import ExchangeRejectedError
from lyra.exchanges.ccxt_calls import CcxtCalls
from lyra.exchanges.ccxt_numbers import number
from lyra.market.types import Market, Ticker
from lyra.portfolio.exchange_equity import CASH_AT_PAR, ExchangeHoldings

__all__ = ["read_holdings"]


async def read_holdings(
    exchange_id: str,
    calls: CcxtCalls,
    client: Any,
    markets: Mapping[str, Market],
    ticker: Callable[[str], Awaitable[Ticker]],
) -> ExchangeHoldings:
    """The account's total balances and the marks of its non-cash currencies."""
    raw = await calls.read("balance", lambda: client.fetch_balance())
    balances: dict[str, Decimal] = {}
    for code, amount in (raw.get("total") or {}).items():
        figure = number(amount)
        if figure:
            balances[str(code)] = figure
    marks: dict[str, Decimal] = {}
    for code in sorted(balances):
        if code in CASH_AT_PAR:
            continue
        symbol = next((f"{code}/{q}" for q in CASH_AT_PAR if f"{code}/{q}" in markets), None)
        if symbol is None:
            continue
        try:
            last: Decimal | None = (await ticker(symbol)).last
        except ExchangeRejectedError:  # a ticker without a price (CcxtExchange.fetch_ticker)
            continue
        if last is not None and last > 0:
            marks[code] = last
    return ExchangeHoldings(exchange=exchange_id, balances=balances, marks=marks)
