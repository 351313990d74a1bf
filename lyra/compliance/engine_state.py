"""The CGT engine's results and resumable state as JSON: what the nightly run keeps so it
applies only the ledger rows that arrived since the night before.

- :func:`engine_config`: what the stored state and results depend on (entity type,
  identification method, same-day averaging, this format's version and a fingerprint of
  every rule set). A stored state made under another configuration is never resumed:
  the ledger is replayed instead, so a rules change re-works every disposal.
- :func:`disposal_to_json` / :func:`disposal_from_json` and the income pair: one result
  each, exact (Decimals as strings, dates and instants ISO 8601), so a report built from
  stored results equals the report built by replaying the ledger.
- :func:`holding_changes`: what a row does to the units held, used to keep the holdings
  of rows that are not Lyra's own fills (the reconciliation takes them out of the lot
  balances before comparing with the execution positions).

No pickle: the state lives in the database, and unpickling what a database holds would
run whatever it says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from lyra.compliance.cgt import Disposal, IncomeEvent, LotGain
from lyra.compliance.ledger import Txn
from lyra.compliance.rules import RULE_SETS

__all__ = [
    "STATE_VERSION",
    "disposal_from_json",
    "disposal_to_json",
    "engine_config",
    "holding_changes",
    "income_from_json",
    "income_to_json",
]

#: Bumped whenever the stored JSON or the engine's results change shape or meaning.
STATE_VERSION: Final = 1
_RULES_FINGERPRINT: Final = hashlib.sha256(repr(RULE_SETS).encode("utf-8")).hexdigest()[:16]


def engine_config(entity_type: str, method: str, same_day_average: bool) -> str:
    """The configuration stored results were worked out under (module docstring)."""
    average = "same-day-average" if same_day_average else "no-average"
    return f"v{STATE_VERSION}|{entity_type}|{method}|{average}|rules:{_RULES_FINGERPRINT}"


def holding_changes(txn: Txn) -> tuple[tuple[str, Decimal], ...]:
    """Units in (+) and out (-) per asset for one row; a transfer between one's own
    wallets changes nothing (TD 2014/26)."""
    kind = txn.type
    if kind in ("buy", "income", "chain_split"):
        return ((txn.asset, txn.quantity),)
    if kind in ("sell", "lost", "fee"):
        return ((txn.asset, -txn.quantity),)
    if kind == "swap":
        return ((txn.asset, -txn.quantity), (txn.to_asset, txn.to_quantity or Decimal(0)))
    return ()


def _lot_to_json(lot: LotGain) -> list[Any]:
    return [
        lot.lot_id,
        lot.acquired_on.isoformat(),
        *(str(v) for v in (lot.quantity, lot.cost_base, lot.proceeds, lot.gain)),
        lot.discount_eligible,
        str(lot.discount_rate),
    ]


def _lot_from_json(row: list[Any]) -> LotGain:
    lot_id, on, quantity, cost_base, proceeds, gain, eligible, rate = row
    return LotGain(str(lot_id), date.fromisoformat(on), Decimal(quantity), Decimal(cost_base),
                   Decimal(proceeds), Decimal(gain), bool(eligible), Decimal(rate))  # fmt: skip


def disposal_to_json(disposal: Disposal) -> dict[str, Any]:
    """One disposal with its parcels, exactly."""
    d = disposal
    return {
        "id": d.id,
        "line": d.line,
        "at": d.at.isoformat(),
        "on": d.on.isoformat(),
        "type": d.type,
        "asset": d.asset,
        "quantity": str(d.quantity),
        "proceeds": str(d.proceeds),
        "proceeds_source": d.proceeds_source,
        "cost_base": str(d.cost_base),
        "gain": str(d.gain),
        "discount_eligible": d.discount_eligible,
        "rule_set": d.rule_set,
        "provisional": d.provisional,
        "identification": d.identification,
        "lots": [_lot_to_json(lot) for lot in d.lots],
    }


def disposal_from_json(body: Mapping[str, Any]) -> Disposal:
    """The disposal :func:`disposal_to_json` stored."""
    return Disposal(
        id=str(body["id"]),
        line=int(body["line"]),
        at=datetime.fromisoformat(body["at"]),
        on=date.fromisoformat(body["on"]),
        type=str(body["type"]),
        asset=str(body["asset"]),
        quantity=Decimal(body["quantity"]),
        proceeds=Decimal(body["proceeds"]),
        proceeds_source=str(body["proceeds_source"]),
        cost_base=Decimal(body["cost_base"]),
        gain=Decimal(body["gain"]),
        discount_eligible=bool(body["discount_eligible"]),
        rule_set=str(body["rule_set"]),
        provisional=bool(body["provisional"]),
        identification=str(body["identification"]),
        lots=tuple(_lot_from_json(row) for row in body["lots"]),
    )


def income_to_json(event: IncomeEvent) -> dict[str, Any]:
    """One income event, exactly."""
    return {
        "id": event.id,
        "on": event.on.isoformat(),
        "asset": event.asset,
        "quantity": str(event.quantity),
        "aud_value": str(event.aud_value),
        "aud_source": event.aud_source,
    }


def income_from_json(body: Mapping[str, Any]) -> IncomeEvent:
    """The income event :func:`income_to_json` stored."""
    return IncomeEvent(
        id=str(body["id"]),
        on=date.fromisoformat(body["on"]),
        asset=str(body["asset"]),
        quantity=Decimal(body["quantity"]),
        aud_value=Decimal(body["aud_value"]),
        aud_source=str(body["aud_source"]),
    )
