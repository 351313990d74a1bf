"""Client order ids derived from decisions (docs/domain.md, "Execution").

The id is a pure function of the decision id and the leg, so every retry and every
restarted process computes the same one, and the exchange (or ``orders``' UNIQUE key)
can tell a repeat from a new order. Each venue limits the field differently; the rules
are data, not branches (docs/style.md, "Differences as data"):

- binance ``newClientOrderId``: at most 36 characters of ``[.A-Za-z0-9_-]``
  (developers.binance.com, Spot API "New order");
- kraken ``cl_ord_id``: a UUID or free text of at most 18 characters
  (docs.kraken.com, "Add Order");
- bitfinex ``cid``: an integer (45 bits; docs.bitfinex.com, "Submit Order");
- coinbase ``client_order_id``: free text (a UUID is customary);
- anything else: 32 characters, which every venue in the table accepts.

Hex digits of a SHA-256 are safe in every charset above. Lyra's ids start with ``ly`` so a
reconciliation can tell its own orders from a person's.

Usage::

    client_order_id("binance", "9f1c...-uuid", leg=0)   # 'ly' + 34 hex digits
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["CLIENT_ID_PREFIX", "ClientIdRule", "client_order_id", "is_lyra_client_id"]

CLIENT_ID_PREFIX: Final = "ly"


@dataclass(frozen=True, slots=True)
class ClientIdRule:
    """How a venue's client order id field is shaped."""

    style: Literal["text", "integer"]
    max_length: int


_DEFAULT_RULE: Final = ClientIdRule("text", 32)
CLIENT_ID_RULES: Final[dict[str, ClientIdRule]] = {
    "binance": ClientIdRule("text", 36),
    "kraken": ClientIdRule("text", 18),
    "bitfinex": ClientIdRule("integer", 13),  # digits of a 45-bit integer
    "coinbase": ClientIdRule("text", 36),
    "okx": ClientIdRule("text", 32),
    "bybit": ClientIdRule("text", 36),
    "kucoin": ClientIdRule("text", 32),
}


def client_order_id(exchange: str, decision_id: str, leg: int = 0) -> str:
    """The client order id of leg ``leg`` of ``decision_id`` on ``exchange``."""
    if not decision_id:
        raise ValueError("decision_id must not be empty")
    if leg < 0:
        raise ValueError(f"leg must be >= 0, got {leg}")
    digest = hashlib.sha256(f"{decision_id}:{leg}".encode()).hexdigest()
    rule = CLIENT_ID_RULES.get(exchange, _DEFAULT_RULE)
    if rule.style == "integer":
        return str(int(digest, 16) % (1 << 45))
    return CLIENT_ID_PREFIX + digest[: rule.max_length - len(CLIENT_ID_PREFIX)]


def is_lyra_client_id(exchange: str, value: str | None) -> bool:
    """Whether an order seen on the exchange could be one of Lyra's (by its id's shape)."""
    if not value:
        return False
    rule = CLIENT_ID_RULES.get(exchange, _DEFAULT_RULE)
    if rule.style == "integer":
        return value.isdigit()
    return value.startswith(CLIENT_ID_PREFIX) and len(value) == rule.max_length
