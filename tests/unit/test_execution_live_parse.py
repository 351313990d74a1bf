"""The live broker's translation of ccxt's order structure, and live keys from settings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from lyra.bootstrap.brokers import build_brokers, live_credentials
from lyra.config import load_settings
from lyra.errors import ConfigError
from lyra.exchanges.ccxt_orders import parse_ccxt_order
from lyra.execution import OrderState
from lyra.rollout.phases import OrderMode


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


def test_live_keys_are_parsed_and_a_missing_one_is_named() -> None:
    settings = load_settings(
        exchange_credentials=SecretStr("binance=KEY123:SEC456,okx=K:S:PASS"),
        exchanges="binance,okx",
    )
    assert live_credentials(settings) == {
        "binance": ("KEY123", "SEC456", None),
        "okx": ("K", "S", "PASS"),
    }
    with pytest.raises(ConfigError, match="kraken") as caught:
        build_brokers(load_settings(exchanges="kraken"), OrderMode.LIVE, settings.replay_start)
    assert "KEY123" not in str(caught.value)
    with pytest.raises(ConfigError, match="apikey:secret") as bad:
        live_credentials(load_settings(exchange_credentials=SecretStr("binance=onlyonepart")))
    assert "onlyonepart" not in str(bad.value)
