"""A ledger line as the import writes it: the contract's 13 columns plus provenance.

The columns are :data:`lyra.compliance.ledger.HEADER` then the extension columns
``aud_source`` (where the AUD value came from: the export, ``estimate:...`` or
``missing:...``) and ``source`` (the export's ``file:line``), docs/domain.md "Contracts".
Values are typed here and turned into text only when written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

__all__ = ["LedgerLine"]


@dataclass(slots=True)
class LedgerLine:
    """One ledger row to write (field meanings: docs/domain.md "Contracts").

    Not frozen: a frozen slotted dataclass of 15 fields costs about nine times as much to
    build (each field set through ``object.__setattr__``), and a million-row import
    builds one per line; nothing mutates a line once built."""

    timestamp: datetime
    type: str
    asset: str
    quantity: Decimal
    aud_value: Decimal | None
    fee_aud: Decimal | None
    to_asset: str
    to_quantity: Decimal | None
    given_aud_value: Decimal | None
    exchange: str
    counterparty: str
    id: str
    lot: str
    aud_source: str
    source: str
