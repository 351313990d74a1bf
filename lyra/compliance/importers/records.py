"""What an exchange export says, before it is a ledger row: the importers' common language.

Each importer (one module per exchange, :mod:`lyra.compliance.importers`) reads its
export's rows and yields these records; nothing exchange-specific goes further. Turning a
record into ledger rows (docs/domain.md "Contracts"), valuing it in AUD where the export
has no AUD figure, matching transfers between one's own wallets and writing the ledger are
shared steps, so every exchange gets the same rules (docs/tax.md "Importing exchange
exports").

- :class:`Trade`: one trade, ``base`` bought or sold for ``quote`` (AUD, USDT, BTC...),
  with its fee in whatever asset the venue charged it.
- :class:`Receipt`: coins received as income (staking, rewards, interest, airdrops).
- :class:`Movement`: coins deposited to or withdrawn from the venue (``direction`` in or
  out); fiat deposits and withdrawals are not movements (no CGT asset moves).
- :class:`Charge`: a fee charged on its own row, in a crypto asset (a disposal of it).
- :class:`Unrecognised`: a row the importer read but whose kind it does not know (a
  review item, never silently dropped, never guessed).

``source`` names where the record came from (:class:`SourceRef`: file name and the
file's line numbers, several when one trade spans rows), kept in the ledger's ``source``
column. ``ref`` is the exchange's own id for it where the export has one (trade id, txid);
with the venue it makes the ledger id, so importing the same rows twice adds nothing.
Records are plain slotted dataclasses, not frozen: a frozen one costs about four times as
much to build (every field set through ``object.__setattr__``), and a million-row export
builds a million; nothing changes a record once it is built. Quantities are positive
:class:`~decimal.Decimal` parsed from the text as written; times
are aware UTC (the cell helpers of :mod:`lyra.compliance.importers.formats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

__all__ = ["Charge", "Movement", "Receipt", "Record", "SourceRef", "Trade", "Unrecognised"]


@dataclass(slots=True)
class SourceRef:
    """Where a record came from: the file's name and its line numbers (1 = header)."""

    file: str
    lines: tuple[int, ...]

    def __str__(self) -> str:
        lines = self.lines
        if len(lines) == 1:  # most records: no join
            return f"{self.file}:{lines[0]}"
        return f"{self.file}:{'+'.join(map(str, lines))}"


@dataclass(slots=True)
class Trade:
    """``side`` ``base_quantity`` of ``base`` for ``quote_quantity`` of ``quote``.

    ``aud_value``: the AUD value of the trade when the export states it (an AUD pair's
    quote amount, or an export's own AUD column), else None (valued later, estimated).
    ``base_quantity`` and ``quote_quantity`` are gross: what traded before the fee, which
    is charged on top (an importer whose export shows net amounts adds the fee back).
    ``fee_asset``/``fee_quantity``: the fee as charged (AUD, the quote, the base, or a
    third asset such as BNB); ``fee_quantity`` 0 when there is none."""

    at: datetime
    venue: str
    side: Literal["buy", "sell"]
    base: str
    base_quantity: Decimal
    quote: str
    quote_quantity: Decimal
    fee_asset: str
    fee_quantity: Decimal
    aud_value: Decimal | None
    ref: str
    source: SourceRef


@dataclass(slots=True)
class Receipt:
    """``quantity`` of ``asset`` received as income; ``label`` says what it was (staking,
    reward, interest, airdrop), as the export names it."""

    at: datetime
    venue: str
    asset: str
    quantity: Decimal
    aud_value: Decimal | None
    label: str
    ref: str
    source: SourceRef


@dataclass(slots=True)
class Movement:
    """Coins moved in or out of the venue. ``quantity`` is what left the account (out,
    the withdrawal fee included) or arrived (in); ``fee_quantity`` is the part of an
    outgoing ``quantity`` the venue kept as its withdrawal fee, when the export states it.
    ``txid``/``address`` help match the two sides of one's own transfer."""

    at: datetime
    venue: str
    direction: Literal["in", "out"]
    asset: str
    quantity: Decimal
    fee_quantity: Decimal
    txid: str
    address: str
    ref: str
    source: SourceRef


@dataclass(slots=True)
class Charge:
    """A fee charged on a row of its own, in a crypto asset (a disposal of that
    quantity, docs/tax.md "Capital gains": crypto spent on a fee)."""

    at: datetime
    venue: str
    asset: str
    quantity: Decimal
    ref: str
    source: SourceRef


@dataclass(slots=True)
class Unrecognised:
    """A row read but of a kind the importer does not know (``kind`` as the export names
    it): a review item, not a guess."""

    venue: str
    kind: str
    detail: str
    source: SourceRef


Record = Trade | Receipt | Movement | Charge | Unrecognised
