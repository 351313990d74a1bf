"""The exchange's equity and its reconciliation with the ledger (pure), and the holdings
read through ccxt's real kraken and coinbase parsers (fetch_balance, tickers)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.portfolio import ExchangeHoldings, PositionLine, Valuation, reconcile_equity
from tests.support.ccxt_canned import Reply, canned_json
from tests.support.ccxt_venue_orders import KRAKEN_SECRET, CoinbaseOrders, KrakenOrders


def ledger(cash: str, btc: str = "0", mark: str = "3511.4") -> Valuation:
    quantity = Decimal(btc)
    value = quantity * Decimal(mark)
    line = PositionLine(
        "kraken",
        "BTC/USD",
        "BTC",
        quantity,
        None,
        Decimal(mark),
        value,
        value,
        Decimal(0),
        Decimal(0),
    )
    equity = Decimal(cash) + value
    return Valuation(
        "live", Decimal(cash), value, equity, equity, Decimal(0), Decimal(0), Decimal(0), (line,)
    )


def kraken_holdings(usd: str, btc: str) -> ExchangeHoldings:
    return ExchangeHoldings(
        "kraken", {"USD": Decimal(usd), "BTC": Decimal(btc)}, {"BTC": Decimal("3511.4")}
    )


def test_books_that_agree_within_the_tolerance_have_no_discrepancy() -> None:
    # 0.09 USD of fee dust: under 0.5% of ~1,000
    result = reconcile_equity(
        ledger("964.91", "0.01"), [kraken_holdings("964.825", "0.01")], tolerance=Decimal("0.005")
    )
    assert result.agrees
    assert result.exchange_equity == Decimal("999.939")
    assert result.tolerance == Decimal("5.00")


def test_a_fill_the_ledger_missed_is_a_named_discrepancy_per_asset() -> None:
    result = reconcile_equity(
        ledger("1000"), [kraken_holdings("964.825", "0.01")], tolerance=Decimal("0.005")
    )
    assert not result.agrees
    [btc, cash] = result.discrepancies  # the equity differs by 0.06 only: within
    assert (btc.exchange, btc.asset, btc.ledger, btc.exchange_figure) == (
        "kraken",
        "BTC",
        Decimal(0),
        Decimal("0.01"),
    )
    assert btc.value == Decimal("35.114")
    assert (cash.asset, cash.ledger, cash.exchange_figure) == (
        "cash",
        Decimal(1000),
        Decimal("964.825"),
    )
    assert (
        btc.describe()
        == "kraken BTC: ledger 0 vs exchange 0.01 (worth 35.11 USD, tolerance 5.00 USD)"
    )


def test_unpriced_dust_is_listed_not_counted_nor_a_discrepancy() -> None:
    held = ExchangeHoldings("kraken", {"USD": Decimal(1000), "DOGE": Decimal(12)}, {})
    result = reconcile_equity(ledger("1000"), [held], tolerance=Decimal("0.005"))
    assert result.agrees
    assert result.unpriced == ("kraken:DOGE",)
    assert result.exchange_equity == Decimal(1000)


async def test_kraken_balances_are_marked_at_its_own_last_price() -> None:
    server = KrakenOrders()
    exchange = CcxtExchange(
        "kraken", api_key="k" * 56, secret=KRAKEN_SECRET, ccxt_factory=server.factory
    )
    try:
        held = await exchange.holdings()
    finally:
        await exchange.close()
    # BalanceEx: ZUSD and XXBT as ccxt's USD and BTC; the zero XETH is left out
    assert dict(held.balances) == {"USD": Decimal("964.825"), "BTC": Decimal("0.01")}
    assert dict(held.marks) == {"BTC": Decimal("3511.4")}  # Ticker XXBTZUSD's last
    assert held.equity == Decimal("999.939")


@pytest.mark.parametrize(
    ("close", "why"), [(None, "no last price"), (["0.00000", "0.00000000"], "a zero last price")]
)
async def test_a_kraken_ticker_without_a_price_leaves_the_asset_unpriced(
    close: list[str] | None, why: str
) -> None:
    server = KrakenOrders()
    ticker = canned_json("kraken", "Ticker_XXBTZUSD")
    fields = ticker["result"]["XXBTZUSD"]
    fields.pop("c")
    if close is not None:
        fields["c"] = close
    server.script("/0/public/Ticker", Reply(body=ticker))
    exchange = CcxtExchange(
        "kraken", api_key="k" * 56, secret=KRAKEN_SECRET, ccxt_factory=server.factory
    )
    try:
        held = await exchange.holdings()
    finally:
        await exchange.close()
    assert held.balances["BTC"] == Decimal("0.01"), why
    assert held.unpriced == ("BTC",)  # listed, not counted
    assert held.equity == Decimal("964.825")


async def test_coinbase_accounts_count_held_funds_and_leave_unlisted_coins_unpriced() -> None:
    server = CoinbaseOrders()
    exchange = CcxtExchange(
        "coinbase", api_key="k" * 32, secret="s" * 64, ccxt_factory=server.factory
    )
    try:
        held = await exchange.holdings()
    finally:
        await exchange.close()
    assert server.count("/api/v3/brokerage/accounts") == 1  # Advanced Trade's List Accounts
    assert held.balances["BTC"] == Decimal("0.3")  # available 0.25 + hold 0.05
    assert held.unpriced == ("DOGE",)  # no DOGE-USD product listed
    assert held.equity == Decimal("1200.5") + Decimal("0.3") * Decimal("3510.81")
