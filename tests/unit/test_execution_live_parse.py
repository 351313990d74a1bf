"""The ccxt adapter's translation of ccxt's order structure, and live brokers from settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from lyra.bootstrap.brokers import Brokers, live_credentials
from lyra.bootstrap.market import CcxtMarket, ReplayMarket
from lyra.errors import ConfigError
from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.exchanges.ccxt_order_parse import parse_ccxt_order
from lyra.execution import OrderState
from lyra.execution.broker import Broker
from lyra.execution.paper import FillModel
from lyra.rollout.phases import OrderMode
from lyra.store.db import Database
from tests.support.ccxt_canned import canned_server

AS_OF = datetime(2019, 1, 1, tzinfo=UTC)


def _order(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "28",
        "clientOrderId": "ly" + "a" * 34,
        "symbol": "BTC/USDT",
        "status": "closed",
        "filled": 0.5,
        "average": 4000.0,
        "cost": 2000.0,
        "timestamp": 1547987400000,
        "trades": [],
    }
    return {**base, **fields}


def test_trades_become_fills_with_their_exchange_ids_and_quote_fees() -> None:
    report = parse_ccxt_order(
        _order(
            trades=[
                {
                    "id": "56",
                    "price": 4000.0,
                    "amount": 0.3,
                    "fee": {"cost": 1.2, "currency": "USDT"},
                },
                {
                    "id": "57",
                    "price": 4000.0,
                    "amount": 0.2,
                    "fee": {"cost": 0.0002, "currency": "BTC"},
                },
            ]
        ),
        "BTC",
        "USDT",
    )
    assert report.state is OrderState.FILLED
    assert [f.fill_id for f in report.fills] == ["56", "57"]
    assert report.fills[1].fee == Decimal("0.8000")  # 0.0002 BTC at 4000
    assert report.fee == Decimal("2.0000")
    assert report.fills[0].timestamp.year == 2019


def test_a_fee_in_a_third_currency_is_noted_not_guessed() -> None:
    report = parse_ccxt_order(
        _order(
            trades=[
                {"id": "1", "price": 4000, "amount": 0.5, "fee": {"cost": 0.01, "currency": "BNB"}}
            ]
        ),
        "BTC",
        "USDT",
    )
    assert report.fee == 0
    assert "BNB" in (report.detail or "")


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("open", OrderState.OPEN),
        ("canceled", OrderState.CANCELLED),
        ("expired", OrderState.CANCELLED),
        ("rejected", OrderState.REJECTED),
    ],
)
def test_ccxt_statuses_map_to_lyras(status: str, state: OrderState) -> None:
    assert parse_ccxt_order(_order(status=status), "BTC", "USDT").state is state


def test_average_from_cost_when_the_exchange_sends_none() -> None:
    report = parse_ccxt_order(_order(average=None, cost=1000.0, filled=0.3), "BTC", "USDT")
    assert report.average == Decimal("3333.333333333333")


def test_a_trade_without_a_time_takes_the_order_time_and_float_stamps_are_read() -> None:
    report = parse_ccxt_order(
        _order(
            timestamp=1547987400123.0,  # a float: the former int(str(ms)) raised here
            trades=[{"id": "9", "price": 4000.0, "amount": 0.5, "timestamp": None}],
        ),
        "BTC",
        "USDT",
    )
    assert report.fills[0].timestamp == datetime(2019, 1, 20, 12, 30, 0, 123000, tzinfo=UTC)


def test_a_trade_without_an_id_is_left_to_the_total_and_the_order_fee_is_used() -> None:
    report = parse_ccxt_order(
        _order(
            trades=[{"id": None, "price": 4000.0, "amount": 0.5}],
            fee={"cost": 0.0005, "currency": "BTC"},
        ),
        "BTC",
        "USDT",
    )
    assert report.fills == ()
    assert report.fee == Decimal("2.0000")  # 0.0005 BTC at the 4000 average


def test_the_composition_roots_broker_is_the_one_ccxt_adapter_with_keys() -> None:
    server = canned_server("binance")
    broker = _brokers("binance=KEY12345:SEC45678", server.factory).brokers(
        OrderMode.LIVE, ["binance"], AS_OF
    )["binance"]
    assert isinstance(broker, CcxtExchange)
    assert isinstance(broker, Broker)
    assert broker.markets_cache_key == "binance:keyed"
    assert (server.configs[0]["apiKey"], server.configs[0]["secret"]) == ("KEY12345", "SEC45678")
    assert server.requests == []


def _brokers(credentials: str | None, factory: Any = None) -> Brokers:
    return Brokers(
        market=ReplayMarket(),
        timeframe="1h",
        step=timedelta(hours=1),
        fill_model=FillModel(),
        fee_rate=None,
        live=CcxtMarket(Database.from_url("sqlite://"), timedelta(hours=6), ccxt_factory=factory),
        credentials=None if credentials is None else SecretStr(credentials),
    )


def test_live_keys_are_parsed_and_a_missing_one_is_named() -> None:
    keys = SecretStr("binance=KEY123:SEC456,okx=K:S:PASS")
    assert live_credentials(keys) == {
        "binance": ("KEY123", "SEC456", None),
        "okx": ("K", "S", "PASS"),
    }
    server = canned_server("binance")
    live = _brokers("binance=KEY123:SEC456", server.factory).brokers(
        OrderMode.LIVE, ["binance"], AS_OF
    )
    assert isinstance(live["binance"], CcxtExchange)
    with pytest.raises(ConfigError, match="kraken") as caught:
        _brokers("binance=KEY123:SEC456").brokers(OrderMode.LIVE, ["kraken"], AS_OF)
    assert "KEY123" not in str(caught.value)
    with pytest.raises(ConfigError, match="apikey:secret") as bad:
        live_credentials(SecretStr("binance=onlyonepart"))
    assert "onlyonepart" not in str(bad.value)
