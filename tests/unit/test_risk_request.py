"""Bad input is refused with the field named, never sized."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from lyra.errors import UserError
from lyra.risk import (
    RiskInputError,
    RiskLimits,
    assess,
    needs_premium_vote,
    parse_request,
    parse_request_json,
)

BASE: dict[str, Any] = {
    "phase": 3,
    "portfolio": {
        "equity": "100000",
        "peak_equity": "110000",
        "cash": "90000",
        "positions": {"BTC": "10000"},
    },
    "proposal": {
        "symbol": "BTC/USD",
        "side": "buy",
        "price": "40000",
        "stop_price": "38000",
        "consensus": "0.9",
    },
    "market": {"last_price": "40000", "age_seconds": 5},
}


def data(changes: dict[str, Any] | None = None, drop: str | None = None) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    for dotted, value in (changes or {}).items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node[part]
        node[leaf] = value
    if drop:
        *parents, leaf = drop.split(".")
        node = out
        for part in parents:
            node = node[part]
        del node[leaf]
    return out


def refused(raw: dict[str, Any], limits: RiskLimits | None = None) -> RiskInputError:
    with pytest.raises(RiskInputError) as caught:
        assess(parse_request(raw), limits or RiskLimits())
    return caught.value


def test_a_valid_request_is_assessed() -> None:
    result = assess(parse_request(data()))
    assert result.approved, result.reasons


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"portfolio.equity": "-5"}, "portfolio.equity", "greater than 0"),
        ({"portfolio.equity": "0"}, "portfolio.equity", "greater than 0"),
        ({"portfolio.cash": "-1"}, "portfolio.cash", "greater than or equal to 0"),
        ({"proposal.price": "NaN"}, "proposal.price", "finite"),
        ({"market.last_price": "Infinity"}, "market.last_price", "finite"),
        ({"proposal.stop_price": "nan"}, "proposal.stop_price", "finite"),
        ({"proposal.side": "hold"}, "proposal.side", "buy"),
        ({"proposal.consensus": "1.2"}, "proposal.consensus", "less than or equal to 1"),
        ({"proposal.symbol": "BTCUSD"}, "proposal.symbol", "BASE/QUOTE"),
        ({"phase": 6}, "phase", "less than or equal to 5"),
        ({"market.age_seconds": -3}, "market.age_seconds", "greater than or equal to 0"),
        ({"proposal.stop_prise": "38000"}, "proposal.stop_prise", "unknown field"),
        ({"portfolio.positions": {"BTC": "NaN"}}, "portfolio.positions.BTC", "finite"),
        ({"portfolio.equity": True}, "portfolio.equity", "decimal"),
        ({"proposal.price": "1e999999"}, "proposal.price", "out of range"),
        ({"market.last_price": "1e-999999"}, "market.last_price", "out of range"),
        ({"portfolio.cash": "1." + "1" * 40}, "portfolio.cash", "significant digits"),
    ],
)
def test_malformed_fields_are_named(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(RiskInputError) as caught:
        parse_request(data(changes))
    assert caught.value.field == field
    assert words in caught.value.problem
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, UserError)  # the CLI turns it into exit 2


def test_a_missing_field_is_named() -> None:
    with pytest.raises(RiskInputError, match=r"^market\.last_price: required$"):
        parse_request(data(drop="market.last_price"))


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"proposal.stop_price": "41000"}, "proposal.stop_price", "below price for a buy"),
        ({"proposal.stop_price": "40000"}, "proposal.stop_price", "below price for a buy"),
        (
            {"proposal.side": "sell", "proposal.stop_price": "39000"},
            "proposal.stop_price",
            "above price for a sell",
        ),
        ({"proposal.symbol": "DOGE/USD"}, "proposal.symbol", "unknown symbol DOGE/USD"),
        ({"portfolio.peak_equity": "90000"}, "portfolio.peak_equity", "at least equity"),
        (
            {"portfolio.positions": {}},
            "portfolio.equity",
            "must include the open positions",
        ),
        ({"proposal.stop_price": None}, "proposal.stop_price", "market.atr"),
        (
            {"proposal.stop_price": None, "market.atr": "30000"},
            "market.atr",
            "at or below zero",
        ),
        ({"is_closing": True, "proposal.side": "buy"}, "is_closing", "no BTC short position"),
    ],
)
def test_inconsistent_requests_are_refused_by_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    error = refused(data(changes))
    assert error.field == field
    assert words in error.problem


def test_premium_vote_question_validates_too() -> None:
    with pytest.raises(RiskInputError, match=r"^proposal\.stop_price: "):
        needs_premium_vote(parse_request(data({"proposal.stop_price": "50000"})))


def test_symbols_come_from_the_limits() -> None:
    limits = RiskLimits(symbols=frozenset({"BTC/USD"}))
    assert refused(data({"proposal.symbol": "eth/usd"}), limits).field == "proposal.symbol"


def test_json_numbers_are_read_exactly_and_not_json_is_named() -> None:
    raw = data({"portfolio.positions": {"btc": 10000.1}, "portfolio.equity": 100000.1})
    request = parse_request_json(json.dumps(raw))
    assert request.portfolio.equity == Decimal("100000.1")
    assert request.portfolio.positions == {"BTC": Decimal("10000.1")}  # asset codes upper-cased
    with pytest.raises(RiskInputError, match=r"^input: not JSON"):
        parse_request_json("{")
    with pytest.raises(RiskInputError, match=r"^input: must be a JSON object"):
        parse_request_json("[1]")
    nan = json.dumps(data()).replace('"40000"', "NaN", 1)
    with pytest.raises(RiskInputError, match="finite"):
        parse_request_json(nan)


def _text(changes: dict[str, Any] | None = None) -> str:
    return json.dumps(data(changes))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a 5,000-digit integer: past Python's own 4,300-digit limit, never a ValueError
        (_text().replace('"age_seconds": 5', '"age_seconds": 1' + "0" * 5000), "5,001 digits"),
        (_text().replace('"age_seconds": 5', '"age_seconds": 1.' + "0" * 100), "102 characters"),
        ("[" * 200_000 + "]" * 200_000, "nested more than 32 levels"),
        ('{"a":' * 200_000, "nested more than 32 levels"),
        (" " * 1_000_001 + "{}", "too long (at most 1,000,000)"),
        (_text().replace('"phase": 3', '"phase": 3, "phase": 5'), "key 'phase' appears twice"),
        (_text({"proposal.price": "1"}).replace('"1"', '"1", "price": "2"'), "'price' appears"),
    ],
)
def test_json_text_is_bounded_before_and_while_it_is_parsed(text: str, message: str) -> None:
    """docs/domain.md "Risk input bounds": size, depth, number length and duplicate keys
    are one RiskInputError each, not a traceback or a silently chosen value."""
    with pytest.raises(RiskInputError) as caught:
        parse_request_json(text)
    assert caught.value.field == "input"
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "field", "given"),
    [
        ({"phase": True}, "phase", "true"),
        ({"phase": "3"}, "phase", '"3"'),
        ({"phase": 3.0}, "phase", "3.0"),
        ({"orders_in_interval": False}, "orders_in_interval", "false"),
        ({"kill_switch_tripped": 1}, "kill_switch_tripped", "1"),
        ({"is_closing": "yes"}, "is_closing", '"yes"'),
    ],
)
def test_booleans_and_integers_are_not_mistaken_for_each_other(
    changes: dict[str, Any], field: str, given: str
) -> None:
    """``"phase": true`` is not phase 1, and ``1`` is not ``true``."""
    with pytest.raises(RiskInputError) as caught:
        parse_request_json(_text(changes))
    assert caught.value.field == field
    assert f"(got {given})" in str(caught.value)


def test_a_byte_order_mark_and_brackets_inside_strings_are_fine() -> None:
    """A UTF-8 BOM is skipped (as the ledger does); brackets in a string are not nesting."""
    request = parse_request_json("\ufeff" + _text())
    assert request.phase == 3
    deep_text = _text({"proposal.symbol": "BTC/USD"}).replace('"side"', '"side"', 1)
    nested_string = deep_text.replace('"BTC/USD"', '"' + "[{" * 100 + '"')
    with pytest.raises(RiskInputError, match=r"^proposal\.symbol: "):
        parse_request_json(nested_string)
