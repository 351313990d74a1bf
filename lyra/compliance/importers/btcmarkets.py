"""BTC Markets' CSV exports: the transaction report (a balance ledger) and the tax
transaction report.

BTC Markets documents the transaction records behind its transaction report in its v3
API, https://docs.btcmarkets.net/v3/#tag/Account-APIs (``/v3/accounts/me/transactions``:
``id, creationTime, description, assetName, amount, balance, type, recordType,
referenceId``; the Go client thrasher-corp/gocryptotrader
``exchanges/btcmarkets/btcmarkets_types.go`` ``TransactionData`` lists the same fields).
The CSV names two of them differently (``transactionId``, ``currency``, ``action``);
both spellings are read here. Its layout, and that of the tax transaction report, are
as open-source portfolio tools read them (e.g. an ``imports.js`` BTCMARKETS parser:
"paired rows per referenceId. Buy: AUD debit row + crypto credit row + Trading Fee row"):

- Transaction report: one row per balance change, signed ``amount``; a trade is
  several rows sharing ``referenceId`` (``action`` ``Buy Order``/``Sell Order`` for the
  two legs, ``Trading Fee`` for the fee, possibly several fills). They become one
  :class:`Trade`: bought = the credited asset of a buy (the debited one of a sell),
  the fee from the fee rows, the time of the earliest row, every line in its source.
  ``Deposit``/``Withdraw`` rows are movements (AUD ones move no CGT asset: skipped); a
  ``Withdraw Fee`` row in a coin is a :class:`Charge`. ``creationTime`` is ISO 8601 UTC
  (``2020-07-27T07:52:08.640000Z``).
- Tax transaction report: ``Transaction Id, Transaction Date and Timestamp,
  Transaction, Asset, Market Id, Volume, Price (AUD), Fee (AUD), Nett Value (AUD),
  Reference Id``, one row per fill with AUD prices. An AUD market's row is a trade
  worth ``Volume x Price (AUD)``; a BTC market's row does not say how much BTC changed
  hands, so it is a review item (import the transaction report for it), never a guess.

Quantities are before the fee (records.py); on an AUD market the AUD value is the AUD
traded, on a BTC market None (valued later).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.importers.formats import (
    ExportFormat,
    ExportRowError,
    Row,
    amount,
    cell,
    moment,
    normalised_header,
)
from lyra.compliance.importers.money import FIAT
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

__all__ = ["FORMAT"]

VENUE: Final = "btcmarkets"
#: ledger column -> its names (the CSV's first, the API's second)
_LEDGER: Final = {
    "id": ("transactionid", "id"),
    "time": ("creationtime",),
    "asset": ("currency", "assetname"),
    "amount": ("amount",),
    "action": ("action", "type"),
    "record": ("recordtype",),
    "reference": ("referenceid", "referrenceid"),
}
#: how an error names a ledger column (the CSV's spelling)
_LABELS: Final = {
    "id": "transactionId",
    "time": "creationTime",
    "asset": "currency",
    "amount": "amount",
    "action": "action",
    "record": "recordType",
    "reference": "referenceId",
}
_TAX: Final = (
    "transaction id",
    "transaction date and timestamp",
    "transaction",
    "asset",
    "market id",
    "volume",
    "price (aud)",
    "fee (aud)",
    "reference id",
)
_TRADE_LEGS: Final = frozenset({"buy order", "sell order"})
_FEES: Final = frozenset({"trading fee"})
_WITHDRAW_FEES: Final = frozenset({"withdraw fee", "withdrawal fee"})


def _ledger_columns(header: tuple[str, ...]) -> dict[str, int] | None:
    names = {name: at for at, name in enumerate(normalised_header(header))}
    found = {
        key: next((names[n] for n in aliases if n in names), -1) for key, aliases in _LEDGER.items()
    }
    return None if -1 in found.values() else found


def detect(header: tuple[str, ...]) -> bool:
    """True for BTC Markets' transaction report or tax transaction report header."""
    return _ledger_columns(header) is not None or all(c in header for c in _TAX)


def read(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """The records of a BTC Markets export (either layout, told apart by its header)."""
    ledger = _ledger_columns(header)
    if ledger is not None:
        yield from _Ledger(file, ledger, zone).read(rows)
        return
    names = {name: at for at, name in enumerate(normalised_header(header))}
    if not all(c in names for c in _TAX):
        raise ExportRowError(file, 1, "is not a BTC Markets transaction report header")
    for line, cells in rows:
        yield from _tax_row(file, line, cells, names, zone)


@dataclass
class _Fill:
    """The rows of one trade (one ``referenceId``) gathered before they are merged."""

    lines: list[int] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    sides: set[str] = field(default_factory=set)
    legs: dict[str, Decimal] = field(default_factory=dict)
    fees: dict[str, Decimal] = field(default_factory=dict)


class _Ledger:
    """Reads the transaction report, holding each trade's rows until the file ends."""

    def __init__(self, file: str, columns: dict[str, int], zone: ZoneInfo) -> None:
        self.file, self.columns, self.zone = file, columns, zone
        self.trades: dict[str, _Fill] = {}

    def text(self, cells: list[str], key: str, line: int) -> str:
        return cell(cells, self.columns[key], self.file, line, _LABELS[key])

    def read(self, rows: Iterable[Row]) -> Iterator[Record]:
        for line, cells in rows:
            yield from self.row(line, cells)
        for reference, fill in self.trades.items():
            yield self.merge(reference, fill)

    def row(self, line: int, cells: list[str]) -> Iterator[Record]:
        file, source = self.file, SourceRef(self.file, (line,))
        action = self.text(cells, "action", line)
        kind = action.lower()
        asset = self.text(cells, "asset", line).upper()
        value = amount(self.text(cells, "amount", line), file, line, "amount", signed=True)
        if kind in _TRADE_LEGS or kind in _FEES:
            reference = self.text(cells, "reference", line)
            if not reference:
                raise ExportRowError(
                    file, line, "is empty (it ties a trade's rows together)", field="referenceId"
                )
            fill = self.trades.setdefault(reference, _Fill())
            fill.lines.append(line)
            fill.times.append(
                moment(self.text(cells, "time", line), self.zone, file, line, "creationTime")
            )
            book = fill.fees if kind in _FEES else fill.legs
            book[asset] = book.get(asset, Decimal(0)) + value
            if kind in _TRADE_LEGS:
                fill.sides.add(kind)
            return
        if kind not in ("deposit", "withdraw", "withdrawal") and kind not in _WITHDRAW_FEES:
            yield Unrecognised(VENUE, action, f"{action} {asset} {value}", source)
            return
        if asset in FIAT:
            return  # money in or out: no CGT asset moves
        at = moment(self.text(cells, "time", line), self.zone, file, line, "creationTime")
        ref = self.text(cells, "id", line)
        if kind in _WITHDRAW_FEES:
            yield Charge(
                at=at, venue=VENUE, asset=asset, quantity=abs(value), ref=ref, source=source
            )
            return
        yield Movement(
            at=at,
            venue=VENUE,
            direction="in" if kind == "deposit" else "out",
            asset=asset,
            quantity=abs(value),
            fee_quantity=Decimal(0),
            txid="",
            address="",
            ref=ref,
            source=source,
        )

    def merge(self, reference: str, fill: _Fill) -> Trade:
        file, first = self.file, min(fill.lines)

        def broken(reason: str) -> ExportRowError:
            return ExportRowError(file, first, f"trade {reference!r} {reason}", field="referenceId")

        if len(fill.sides) != 1:
            raise broken(
                "has no Buy Order/Sell Order row"
                if not fill.sides
                else "has both Buy Order and Sell Order rows"
            )
        credited = [(a, q) for a, q in fill.legs.items() if q > 0]
        debited = [(a, -q) for a, q in fill.legs.items() if q < 0]
        if len(credited) != 1 or len(debited) != 1:
            raise broken(
                "needs one credited and one debited asset "
                f"(has {len(credited)} and {len(debited)}: rows missing from the file?)"
            )
        fees = [(a, -q) for a, q in fill.fees.items() if q]
        if len(fees) > 1:
            raise broken("has trading fees in more than one asset")
        fee_asset, fee = fees[0] if fees else ("", Decimal(0))
        buy = fill.sides == {"buy order"}
        (base, base_quantity), (quote, quote_quantity) = (
            (credited[0], debited[0]) if buy else (debited[0], credited[0])
        )
        return Trade(
            at=min(fill.times),
            venue=VENUE,
            side="buy" if buy else "sell",
            base=base,
            base_quantity=base_quantity,
            quote=quote,
            quote_quantity=quote_quantity,
            fee_asset=fee_asset or quote,
            fee_quantity=abs(fee),
            aud_value=quote_quantity if quote == "AUD" else None,
            ref=reference,
            source=SourceRef(file, tuple(sorted(fill.lines))),
        )


def _tax_row(
    file: str, line: int, cells: list[str], names: dict[str, int], zone: ZoneInfo
) -> Iterator[Record]:
    def text(name: str, label: str) -> str:
        return cell(cells, names[name], file, line, label)

    source = SourceRef(file, (line,))
    action = text("transaction", "Transaction")
    kind = action.lower()
    asset = text("asset", "Asset").upper()
    market = text("market id", "Market Id").upper()
    ref = text("transaction id", "Transaction Id")
    if kind not in _TRADE_LEGS and kind not in ("deposit", "withdraw", "withdrawal"):
        yield Unrecognised(VENUE, action, f"{action} {asset} {market}".strip(), source)
        return
    at = moment(
        text("transaction date and timestamp", "Transaction Date and Timestamp"),
        zone,
        file,
        line,
        "Transaction Date and Timestamp",
    )
    volume = abs(amount(text("volume", "Volume"), file, line, "Volume", signed=True))
    if kind not in _TRADE_LEGS:
        if asset not in FIAT:
            yield Movement(
                at=at,
                venue=VENUE,
                direction="in" if kind == "deposit" else "out",
                asset=asset,
                quantity=volume,
                fee_quantity=Decimal(0),
                txid="",
                address="",
                ref=ref,
                source=source,
            )
        return
    base, _, quote = market.replace("/", "-").partition("-")
    if not base or not quote:
        raise ExportRowError(file, line, f"{market[:40]!r} is not BASE-QUOTE", field="Market Id")
    if quote != "AUD" or asset != base:
        yield Unrecognised(
            VENUE,
            f"{action} {market}",
            f"the tax report gives AUD prices, not the {quote} traded; import the "
            "BTC Markets transaction report for this trade",
            source,
        )
        return
    price = abs(amount(text("price (aud)", "Price (AUD)"), file, line, "Price (AUD)", signed=True))
    fee = abs(
        amount(text("fee (aud)", "Fee (AUD)"), file, line, "Fee (AUD)", signed=True, blank=True)
    )
    quote_quantity = volume * price
    yield Trade(
        at=at,
        venue=VENUE,
        side="buy" if kind == "buy order" else "sell",
        base=base,
        base_quantity=volume,
        quote="AUD",
        quote_quantity=quote_quantity,
        fee_asset="AUD",
        fee_quantity=fee,
        aud_value=quote_quantity,
        ref=ref,
        source=source,
    )


FORMAT: Final = ExportFormat(
    name="btcmarkets",
    venue=VENUE,
    documented="https://docs.btcmarkets.net/v3/#tag/Account-APIs",
    detect=detect,
    read=read,
)
