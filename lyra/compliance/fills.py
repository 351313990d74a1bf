"""Lyra's own fills as tax ledger rows, each with its AUD value and the value's source.

A fill of ``BASE/QUOTE`` is a ``buy`` or ``sell`` of ``amount`` BASE at ``price`` QUOTE;
the exchange's fee is in the quote currency (the execution tables say so). The AUD value
is ``amount x price x rate`` and the fee ``fee x rate``, the rate from a
:class:`~lyra.compliance.fx.RateTable` on the fill's Sydney date, and ``aud_source``
names it (an assumed rate makes the reports provisional).

Paper fills (phase 3) are simulated: no coin changed hands, so they are no tax event.
They are converted only when the ``paper`` account is asked for (the embedded default, to
show the reports working) and their source says ``paper (simulated)``, which the reports
print as a note.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from lyra.compliance.fx import RateTable
from lyra.compliance.ledger import FILL_KEY_PREFIX, Txn
from lyra.compliance.periods import sydney_date

__all__ = ["PAPER_SOURCE", "FillRecord", "fill_key", "fills_to_ledger"]

PAPER_SOURCE: Final = "paper (simulated, not a tax event)"


@dataclass(frozen=True, slots=True)
class FillRecord:
    """The parts of a fill the tax ledger needs (read by the store's fill adapter)."""

    id: int
    account: str
    exchange: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    filled_at: datetime


def fill_key(account: str, fill_id: int) -> str:
    """The ledger id of a fill: unique per execution account and fill."""
    return f"{FILL_KEY_PREFIX}{account}-{fill_id}"


def fills_to_ledger(fills: Iterable[FillRecord], rates: RateTable) -> list[Txn]:
    """One ``buy`` or ``sell`` row per fill, in the order given."""
    rows: list[Txn] = []
    for index, fill in enumerate(fills, start=1):
        base, _, quote = fill.symbol.upper().partition("/")
        rate, source = rates.to_aud(quote or "USD", sydney_date(fill.filled_at))
        if fill.account == "paper":
            source = f"{PAPER_SOURCE}; {source}"
        rows.append(
            Txn(
                line=index,
                timestamp=fill.filled_at,
                type="buy" if fill.side.lower() == "buy" else "sell",
                asset=base,
                quantity=fill.amount,
                aud_value=fill.amount * fill.price * rate,
                fee_aud=fill.fee * rate,
                to_asset="",
                to_quantity=None,
                given_aud_value=None,
                exchange=fill.exchange.lower(),
                counterparty="",
                id=fill_key(fill.account, fill.id),
                lot="",
                aud_source=source,
            )
        )
    return rows
