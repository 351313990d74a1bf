"""Client order ids: derived from the decision, the same every time, within each venue's
limits (binance 36 chars [A-Za-z0-9_-], kraken 18, bitfinex an integer)."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.execution.client_ids import CLIENT_ID_RULES, client_order_id, is_lyra_client_id

DECISION = "9f1c0c6e-3c1a-4a57-9d4e-2f2f5f3b8a11"


def test_same_decision_and_leg_give_the_same_id_every_time() -> None:
    assert client_order_id("binance", DECISION) == client_order_id("binance", DECISION)
    assert client_order_id("binance", DECISION, leg=1) != client_order_id("binance", DECISION)
    assert client_order_id("binance", DECISION) != client_order_id("binance", str(uuid.uuid4()))


@pytest.mark.parametrize(
    ("exchange", "pattern"),
    [
        ("binance", r"^ly[0-9a-f]{34}$"),
        ("kraken", r"^ly[0-9a-f]{16}$"),
        ("coinbase", r"^ly[0-9a-f]{34}$"),
        ("bitfinex", r"^[0-9]{1,14}$"),
        ("someexchange", r"^ly[0-9a-f]{30}$"),
    ],
)
def test_ids_fit_each_venues_field(exchange: str, pattern: str) -> None:
    value = client_order_id(exchange, DECISION)
    assert re.fullmatch(pattern, value), value
    assert is_lyra_client_id(exchange, value)


def test_bitfinex_cid_is_a_45_bit_integer() -> None:
    assert 0 <= int(client_order_id("bitfinex", DECISION)) < 2**45


def test_orders_placed_by_a_person_are_not_taken_for_lyras() -> None:
    assert not is_lyra_client_id("binance", "web_3f6286480b194b079870ac75fb6978b7")
    assert not is_lyra_client_id("binance", None)
    assert not is_lyra_client_id("binance", "ly-too-short")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="decision_id"):
        client_order_id("binance", "")
    with pytest.raises(ValueError, match="leg"):
        client_order_id("binance", DECISION, leg=-1)


@given(st.uuids(), st.integers(min_value=0, max_value=99), st.sampled_from(sorted(CLIENT_ID_RULES)))
def test_every_id_is_within_its_venues_length_and_charset(
    decision: uuid.UUID, leg: int, exchange: str
) -> None:
    value = client_order_id(exchange, str(decision), leg)
    rule = CLIENT_ID_RULES[exchange]
    assert len(value) <= max(rule.max_length, 14)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", value)
    assert value == client_order_id(exchange, str(decision), leg)
