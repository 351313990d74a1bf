"""Import records -> ledger lines: every exchange's rows under the same tax rules.

What each record becomes (docs/domain.md "Contracts" for the row types; ATO "Transactions
- acquisition and disposal of crypto assets",
https://www.ato.gov.au/individuals-and-families/investments-and-assets/crypto-asset-investments/transactions-acquisition-and-disposal-of-crypto-assets):

- :class:`~lyra.compliance.importers.records.Trade` against money (AUD, USD, EUR...,
  :data:`FIAT`): a ``buy`` or ``sell`` of the coin, valued at the money amount (AUD as
  it is; another currency through the valuer's FX rate). Against a crypto asset (USDT,
  BTC): a ``swap``, because crypto-to-crypto is a disposal (CGT event A1), valued at the
  market value of the coin *received*, else of the coin given (ATO "Crypto to crypto
  exchange or swap"; docs/tax.md "Capital gains").
- :class:`~lyra.compliance.importers.records.Receipt`: ``income`` at its AUD value when
  received; :class:`~lyra.compliance.importers.records.Charge`: a ``fee`` line (crypto
  spent on a fee is a disposal of it, docs/tax.md).
- :class:`~lyra.compliance.importers.records.Movement`: left for transfer matching
  (:mod:`lyra.compliance.importers.transfers`); :class:`Unrecognised`: a review item.
- Money alone is no CGT asset: a fiat deposit or withdrawal is left out (records.py says
  importers yield none); income or a fee row in money, or money exchanged for money,
  is a review item (``unknown_kind``) saying what to do with it, never silently lost.

Fees. A fee is an incidental cost (ITAA 1997 s 110-25), so its AUD value always goes to
the trade line's ``fee_aud``. A fee paid in a crypto asset (BNB, or the base or quote
coin) is, besides, a disposal of that coin: its own ``fee`` line (id ``<id>-fee``) at
the same AUD value. Both are needed: the fee line realises the gain or loss on the coin
spent, ``fee_aud`` lets its value count as a cost; without the latter the fee's cost is
never deducted.

The records' contract (records.py, ``Trade``: the fee "as charged") read here: trade
quantities are the *gross* amounts traded and the fee is charged on top, so the venue's
balance moves by ``+-base_quantity``, ``-+quote_quantity`` and ``-fee_quantity`` of
``fee_asset``. A fee taken out of the coin received is therefore not counted twice: the
trade line acquires the gross ``base_quantity`` and the fee line disposes of the fee, so
the holding is what the exchange credited. An importer whose export shows the *net*
amount received must add the fee back before yielding the record.

A fee in the base or quote coin is valued at the trade's own price (the trade's AUD
value times fee / leg quantity: the market value the trade itself evidences); a fee in
a third asset through the valuer. A fee's share of a trade's value is rounded to
:data:`AUD_PLACES` (1e-8 AUD; the ledger stores at most 18 places).

Ids: ``<venue>-<ref>`` with the exchange's own id, else ``<venue>-`` and 16 hex digits
of the SHA-1 of the record's identity (venue, kind, time, assets, quantities: never the
file or line, so the same row in two files gets the same id and the import finds it as
a duplicate). The n-th record of one file with the same id gets ``#n`` (two identical
fills in one second are two fills). ``aud_source``: ``<venue> export`` when the export
gave the value, the valuer's ``estimate:...`` or ``missing:...`` otherwise (weakest
first when a line's ``aud_value`` and ``fee_aud`` differ in source, so a prefix test
counts it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final, Protocol

from lyra.compliance.importers.formats import ExportRowError
from lyra.compliance.importers.ledger_lines import LedgerLine
from lyra.compliance.importers.money import FIAT
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)
from lyra.compliance.review_items import ReviewItem

__all__ = [
    "AUD_PLACES",
    "FIAT",
    "AudValuer",
    "Conversion",
    "LedgerIds",
    "rounded_aud",
    "to_ledger_lines",
]

#: Places kept in an AUD value worked out here (a fee's share of a trade's value).
AUD_PLACES: Final = Decimal("1e-8")
#: Longest ``<venue>-<ref>`` id kept as is; a longer ref is hashed (the ledger's id
#: column holds 128 characters, and transfers add ``transfer-`` and ``-fee``).
_LONGEST_REF_ID: Final = 96


class AudValuer(Protocol):
    """AUD values of amounts the export gives in another asset (valuation.py)."""

    def value(self, asset: str, quantity: Decimal, at: datetime) -> tuple[Decimal | None, str]:
        """The AUD value of ``quantity`` of ``asset`` at ``at`` and its ``aud_source``
        text (``estimate:...``), or ``(None, "missing:<why>")`` when it cannot be had.
        A value has at most the ledger's 18 places (it is written as it is)."""
        ...


@dataclass(slots=True)
class Conversion:
    """What :func:`to_ledger_lines` made: ledger lines, the movements left for transfer
    matching, review items (unknown kinds) and how many lines carry an estimated or a
    missing AUD value (their ``aud_source`` starts ``estimate:`` / ``missing:``)."""

    lines: list[LedgerLine] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)
    estimated: int = 0
    missing: int = 0


class LedgerIds:
    """Deterministic ledger ids of records (module docstring, "Ids"); one instance per
    import so the ``#n`` of repeated rows counts within each file."""

    __slots__ = ("_files",)

    def __init__(self) -> None:
        self._files: dict[str, dict[str, int]] = {}

    def of(self, record: Trade | Receipt | Movement | Charge) -> str:
        """The id of ``record``: the same for the same row content in any file."""
        venue = record.venue.lower()
        ref = record.ref.strip()
        if ref and len(venue) + len(ref) < _LONGEST_REF_ID:
            ident = f"{venue}-{ref}"
        else:
            text = ref or _identity(record)
            digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
            ident = f"{venue}-{digest[:16]}"
        file = record.source.file
        seen = self._files.get(file)
        if seen is None:
            seen = self._files[file] = {}
        count = seen.get(ident, 0) + 1
        seen[ident] = count
        return ident if count == 1 else f"{ident}#{count}"


def _identity(record: Trade | Receipt | Movement | Charge) -> str:
    """What makes a row the same row: its content, never where it was read. The instant
    is its POSIX timestamp (exact to the microsecond for any date Lyra accepts, and
    several times cheaper to write than ISO 8601)."""
    r = record
    at = r.at.timestamp()
    if isinstance(r, Trade):
        return (
            f"trade\x1f{r.venue}\x1f{at!r}\x1f{r.side}\x1f{r.base}\x1f{r.base_quantity!s}"
            f"\x1f{r.quote}\x1f{r.quote_quantity!s}\x1f{r.fee_asset}\x1f{r.fee_quantity!s}"
        )
    if isinstance(r, Receipt):
        return f"receipt\x1f{r.venue}\x1f{at!r}\x1f{r.asset}\x1f{r.quantity!s}\x1f{r.label}"
    if isinstance(r, Movement):
        return (
            f"movement\x1f{r.venue}\x1f{at!r}\x1f{r.direction}\x1f{r.asset}\x1f{r.quantity!s}"
            f"\x1f{r.fee_quantity!s}\x1f{r.txid}\x1f{r.address}"
        )
    return f"charge\x1f{r.venue}\x1f{at!r}\x1f{r.asset}\x1f{r.quantity!s}"


def rounded_aud(value: Decimal) -> Decimal:
    """``value`` with at most 8 places (:data:`AUD_PLACES`): a worked-out AUD value (a
    share of a trade's value, price x quantity x rate) can carry 28 digits, more than
    the ledger's 18 places hold; 1e-8 AUD is far below the cent a report rounds to."""
    text = str(value)  # its places counted in the text: a third of as_tuple()'s cost
    if "E" not in text and text[-1].isdigit():  # plain notation: places after the point
        dot = text.find(".")
        return value.quantize(AUD_PLACES) if dot >= 0 and len(text) - dot - 9 > 0 else value
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        return value.quantize(AUD_PLACES)
    return value


def _rank(source: str) -> int:
    return 0 if source.startswith("missing:") else 1 if source.startswith("estimate:") else 2


def _sources(value_source: str, fee_source: str | None) -> str:
    """One ``aud_source`` for a line whose ``fee_aud`` may come from elsewhere."""
    if fee_source is None or fee_source == value_source:
        return value_source
    parts = sorted(
        ((value_source, "aud_value"), (fee_source, "fee_aud")), key=lambda p: _rank(p[0])
    )
    return "; ".join(f"{text} [{name}]" for text, name in parts)


def _bad(source: SourceRef, reason: str, field_name: str) -> ExportRowError:
    return ExportRowError(
        source.file, source.lines[0] if source.lines else 0, reason, field=field_name
    )


class _Converter:
    """One file's conversion. Per-line work kept small for a million-row export: lines
    are counted by ``aud_source`` (the valuer hands out one text per price and day, so
    a few thousand keys) and the estimated and missing counts summed from that once
    (:meth:`finish`); a line's joined source (:func:`_sources`) is made once per pair."""

    __slots__ = ("exports", "ids", "joined", "out", "tally", "value")

    def __init__(self, valuer: AudValuer) -> None:
        self.value = valuer.value
        self.ids = LedgerIds()
        self.out = Conversion()
        self.exports: dict[str, str] = {}
        self.tally: dict[str, int] = {}
        self.joined: dict[tuple[str, str], str] = {}

    def finish(self) -> Conversion:
        """The conversion, its estimated and missing counts summed from the tally."""
        for source, count in self.tally.items():
            if source.startswith("estimate:"):
                self.out.estimated += count
            elif source.startswith("missing:"):
                self.out.missing += count
        return self.out

    def export(self, venue: str) -> str:
        """``<venue> export``: the aud_source of a value the export states."""
        text = self.exports.get(venue)
        if text is None:
            text = self.exports[venue] = f"{venue.lower()} export"
        return text

    def add(self, line: LedgerLine) -> None:
        self.out.lines.append(line)
        tally, source = self.tally, line.aud_source
        tally[source] = tally.get(source, 0) + 1

    def sources(self, value_source: str, fee_source: str | None) -> str:
        """:func:`_sources`, each pair joined once."""
        if fee_source is None or fee_source == value_source:
            return value_source
        joined = self.joined.get((value_source, fee_source))
        if joined is None:
            joined = self.joined[(value_source, fee_source)] = _sources(value_source, fee_source)
        return joined

    def review(self, source: SourceRef, detail: str) -> None:
        self.out.review.append(ReviewItem("unknown_kind", str(source), detail))

    def trade(self, t: Trade) -> None:
        base, quote, side = t.base.upper(), t.quote.upper(), t.side
        base_qty, quote_qty = t.base_quantity, t.quote_quantity
        if base in FIAT and quote not in FIAT:  # "buy AUD with BTC" is a sale of BTC
            base, quote, base_qty, quote_qty = quote, base, quote_qty, base_qty
            side = "sell" if side == "buy" else "buy"
        if base in FIAT:
            self.review(
                t.source,
                f"{t.venue} exchange of {base} for {quote}: money for money, no crypto "
                "asset; not in the ledger (foreign currency gains are outside Lyra)",
            )
            return
        if base_qty <= 0:
            raise _bad(t.source, "traded quantity must be greater than 0", "base_quantity")
        if base == quote:
            raise _bad(t.source, f"trades {base} for itself", "quote")
        venue = t.venue
        export = self.export(venue)
        ident = self.ids.of(t)
        aud: Decimal | None
        given: Decimal | None = None
        to_qty: Decimal | None
        kind: str
        if quote in FIAT:
            if t.aud_value is not None:
                aud, source = t.aud_value, export
            elif quote == "AUD":
                aud, source = quote_qty, export
            else:
                aud, source = self.value(quote, quote_qty, t.at)
            kind, asset, qty, to_asset, to_qty = side, base, base_qty, "", None
        else:
            if quote_qty <= 0:
                raise _bad(t.source, "quote quantity must be greater than 0", "quote_quantity")
            if side == "buy":  # the quote coin is given, the base coin received
                asset, qty, to_asset, to_qty = quote, quote_qty, base, base_qty
            else:
                asset, qty, to_asset, to_qty = base, base_qty, quote, quote_qty
            kind = "swap"
            if t.aud_value is not None:
                aud, source = t.aud_value, export
            else:  # proceeds: the market value received, else the value given (ATO)
                aud, source = self.value(to_asset, to_qty, t.at)
                if aud is None:
                    given, given_source = self.value(asset, qty, t.at)
                    source = given_source if given is not None else f"{source}; {given_source}"
        fee_aud, fee_source = self.fee(
            t, base, quote, base_qty, quote_qty, aud if aud is not None else given, source
        )
        where = str(t.source)
        self.add(
            LedgerLine(t.at, kind, asset, qty, aud, fee_aud, to_asset, to_qty, given, venue,
                       "", ident, "", self.sources(source, fee_source), where)
        )  # fmt: skip
        fee_asset = t.fee_asset.upper()
        if t.fee_quantity and fee_asset not in FIAT:  # crypto spent on a fee: a disposal
            fee_line_source = fee_source or source
            self.add(
                LedgerLine(t.at, "fee", fee_asset, t.fee_quantity, fee_aud, None, "", None,
                           None, venue, "", f"{ident}-fee", "", fee_line_source, where)
            )  # fmt: skip

    def fee(
        self,
        t: Trade,
        base: str,
        quote: str,
        base_qty: Decimal,
        quote_qty: Decimal,
        trade_aud: Decimal | None,
        trade_source: str,
    ) -> tuple[Decimal | None, str | None]:
        """The fee's AUD value and its source (None: no fee, or from the export as the
        trade's value is)."""
        fee = t.fee_quantity
        if not fee:
            return None, None
        fee_asset = t.fee_asset.upper()
        if not fee_asset:
            raise _bad(t.source, f"a fee of {fee} names no asset", "fee_asset")
        if fee_asset == "AUD":
            return fee, self.export(t.venue)
        leg = base_qty if fee_asset == base else quote_qty if fee_asset == quote else None
        if trade_aud is not None and leg:  # a base or quote coin: the trade's own price
            return rounded_aud(trade_aud * fee / leg), trade_source
        return self.value(fee_asset, fee, t.at)

    def receipt(self, r: Receipt) -> None:
        asset = r.asset.upper()
        if asset in FIAT:
            self.review(
                r.source,
                f"{r.venue} {r.label or 'receipt'} of {r.quantity} {asset}: income in money, "
                "not a crypto asset; not in the ledger (declare it as ordinary income)",
            )
            return
        if r.quantity <= 0:
            raise _bad(r.source, "received quantity must be greater than 0", "quantity")
        aud: Decimal | None
        if r.aud_value is not None:
            aud, source = r.aud_value, self.export(r.venue)
        else:
            aud, source = self.value(asset, r.quantity, r.at)
        self.add(
            LedgerLine(r.at, "income", asset, r.quantity, aud, None, "", None, None, r.venue,
                       "", self.ids.of(r), "", source, str(r.source))
        )  # fmt: skip

    def charge(self, c: Charge) -> None:
        asset = c.asset.upper()
        if asset in FIAT:
            self.review(
                c.source,
                f"{c.venue} fee of {c.quantity} {asset} on its own row: money, not a crypto "
                "disposal; not in the ledger (add it to the fee_aud of the trade it was for)",
            )
            return
        if c.quantity <= 0:
            raise _bad(c.source, "fee quantity must be greater than 0", "quantity")
        aud, source = self.value(asset, c.quantity, c.at)
        self.add(
            LedgerLine(c.at, "fee", asset, c.quantity, aud, None, "", None, None, c.venue, "",
                       self.ids.of(c), "", source, str(c.source))
        )  # fmt: skip


def to_ledger_lines(records: Iterable[Record], valuer: AudValuer) -> Conversion:
    """Ledger lines for ``records`` in their order (module docstring for the rules).

    A record that breaks the records' contract (a quantity of 0, a fee without an asset)
    raises :class:`~lyra.compliance.importers.formats.ExportRowError` naming its file and
    line, so the import writes nothing. Money movements (fiat deposits) are not CGT
    events and are left out; every other record becomes lines, a movement or a review
    item."""
    converter = _Converter(valuer)
    out = converter.out
    for record in records:
        if isinstance(record, Trade):
            converter.trade(record)
        elif isinstance(record, Movement):
            if record.asset.upper() not in FIAT:
                out.movements.append(record)
        elif isinstance(record, Receipt):
            converter.receipt(record)
        elif isinstance(record, Charge):
            converter.charge(record)
        elif isinstance(record, Unrecognised):
            converter.review(
                record.source,
                f"{record.venue} row of kind {record.kind!r} is not known: {record.detail}"
                " (not in the ledger)",
            )
    return converter.finish()
