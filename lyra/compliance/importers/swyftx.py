"""Swyftx's transaction report (Profile > Transaction reports > Download CSV).

Swyftx documents the report's columns, "Understanding the transaction report",
https://support.swyftx.com/hc/en-au/articles/13718823588505-Understanding-the-transaction-report
(and, for the older "tax report" with the same columns,
https://help.swyftx.com.au/en/articles/4148319-understanding-the-tax-report):

- ``Date``, ``Time``: "the date/time of the event in your local time", no offset, so
  read in the declared timezone (day first, ``31/12/2023``, or ISO ``2023-12-31``).
- ``Event``: buy, sell, deposit, withdraw; ``Reward`` rows are Earn payouts (income).
- ``Asset``, ``Amount``: the asset the event affects; a buy's amount is "the amount to
  receive after fees", a sell's "the amount to sell".
- ``Currency``, ``Value``: what the asset was traded for (AUD, USD, BTC...); a buy's
  value is "the amount to spend", a sell's "the amount to receive after fees".
- ``Fee Amount``, ``Fee Asset``: "The fee is deducted from the received asset."
- ``AUD Value``, ``Fee AUD Value``, ``GST``, ``Ex. GST`` (``ExGST`` in the older report).
- ``Transaction ID`` (the chain's or bank's), ``UUID`` (Swyftx's own id),
  ``Deposited To`` (the address), ``Reference``.

The columns are found by name, so their order may change. Quantities follow the
importers' convention (records.py): a trade's quantities are before its fee, so the fee,
taken from the received side, is added back to it (a buy's asset, a sell's currency).
A fee in another asset is kept as stated. On an AUD pair the AUD value is the quote
before the fee; on a USD or BTC pair it is Swyftx's own ``AUD Value`` (None when blank:
valued later). AUD deposits and withdrawals move no CGT asset and yield nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
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
    moment_day_first,
    normalised_header,
)
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

__all__ = ["FORMAT"]

VENUE: Final = "swyftx"
_REQUIRED: Final = ("date", "event", "asset", "amount", "currency", "fee amount", "fee asset")
_ISO_DAY: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})").fullmatch
_ADDRESS: Final = ("deposited to", "withdrawn to", "address")


def detect(header: tuple[str, ...]) -> bool:
    """True for Swyftx's transaction report header (any column order)."""
    return all(c in header for c in _REQUIRED)


class _Columns:
    """A row's cells by column name (the header's normalised names)."""

    def __init__(self, header: tuple[str, ...]) -> None:
        self.at = {name: at for at, name in enumerate(normalised_header(header))}

    def text(self, cells: list[str], name: str, file: str, line: int, field: str) -> str:
        if name not in self.at:
            return ""
        return cell(cells, self.at[name], file, line, field)

    def number(
        self, cells: list[str], name: str, file: str, line: int, field: str, *, blank: bool = False
    ) -> Decimal:
        text = self.text(cells, name, file, line, field)
        return abs(amount(text, file, line, field, signed=True, blank=blank))


def read(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """The records of a Swyftx transaction report."""
    columns = _Columns(header)
    for line, cells in rows:
        yield from _row(file, line, cells, columns, zone)


def _when(cells: list[str], columns: _Columns, zone: ZoneInfo, file: str, line: int) -> datetime:
    """``Date`` and ``Time`` (local), day first or ISO, 24- or 12-hour."""
    day = columns.text(cells, "date", file, line, "Date")
    iso = _ISO_DAY(day)
    if iso:
        day = f"{iso[3]}/{iso[2]}/{iso[1]}"
    time = columns.text(cells, "time", file, line, "Time")
    field = "Time" if time else "Date"
    at = moment_day_first(f"{day} {time}".strip(), zone, file, line, field)
    if at is None:
        raise ExportRowError(
            file,
            line,
            f"{day[:20]!r} {time[:20]!r} is not a Swyftx date and time (e.g. 31/12/2023 14:30:25)",
            field=field,
        )
    return at


def _row(
    file: str, line: int, cells: list[str], columns: _Columns, zone: ZoneInfo
) -> Iterator[Record]:
    source = SourceRef(file, (line,))
    event = columns.text(cells, "event", file, line, "Event")
    kind = event.lower()
    asset = columns.text(cells, "asset", file, line, "Asset").upper()
    if kind not in ("buy", "sell", "deposit", "withdraw", "withdrawal", "reward"):
        yield Unrecognised(VENUE, event, f"{event} {asset}", source)
        return
    if not asset:
        raise ExportRowError(file, line, "is empty", field="Asset")
    at = _when(cells, columns, zone, file, line)
    quantity = columns.number(cells, "amount", file, line, "Amount")
    fee = columns.number(cells, "fee amount", file, line, "Fee Amount", blank=True)
    fee_asset = columns.text(cells, "fee asset", file, line, "Fee Asset").upper()
    uuid = columns.text(cells, "uuid", file, line, "UUID")
    if kind in ("buy", "sell"):
        yield _trade(file, line, cells, columns, at, asset, quantity, fee, fee_asset, uuid)
        return
    if kind == "reward":
        aud_text = columns.text(cells, "aud value", file, line, "AUD Value")
        yield Receipt(
            at=at,
            venue=VENUE,
            asset=asset,
            quantity=quantity,
            aud_value=abs(amount(aud_text, file, line, "AUD Value", signed=True))
            if aud_text
            else None,
            label="reward",
            ref=uuid,
            source=source,
        )
        return
    if asset in FIAT:
        return  # money in or out: no CGT asset moves
    same_asset = fee_asset in ("", asset)
    address = next(
        (a for n in _ADDRESS if (a := columns.text(cells, n, file, line, n.title()))), ""
    )
    yield Movement(
        at=at,
        venue=VENUE,
        direction="in" if kind == "deposit" else "out",
        asset=asset,
        quantity=quantity,
        fee_quantity=fee if same_asset else Decimal(0),
        txid=columns.text(cells, "transaction id", file, line, "Transaction ID"),
        address=address,
        ref=uuid,
        source=source,
    )
    if fee and not same_asset and fee_asset not in FIAT:
        yield Charge(at=at, venue=VENUE, asset=fee_asset, quantity=fee, ref=uuid, source=source)


def _trade(
    file: str,
    line: int,
    cells: list[str],
    columns: _Columns,
    at: datetime,
    asset: str,
    quantity: Decimal,
    fee: Decimal,
    fee_asset: str,
    uuid: str,
) -> Trade:
    buy = columns.text(cells, "event", file, line, "Event").lower() == "buy"
    currency = columns.text(cells, "currency", file, line, "Currency").upper()
    if not currency:
        raise ExportRowError(
            file, line, "is empty (what the asset was traded for)", field="Currency"
        )
    value = columns.number(cells, "value", file, line, "Value")
    received = asset if buy else currency
    fee_asset = fee_asset or received
    base_quantity, quote_quantity = quantity, value
    if fee_asset == received and buy:
        base_quantity = quantity + fee
    elif fee_asset == received:
        quote_quantity = value + fee
    aud_value: Decimal | None = quote_quantity if currency == "AUD" else None
    if aud_value is None:
        aud_text = columns.text(cells, "aud value", file, line, "AUD Value")
        if aud_text:
            aud_value = abs(amount(aud_text, file, line, "AUD Value", signed=True))
    return Trade(
        at=at,
        venue=VENUE,
        side="buy" if buy else "sell",
        base=asset,
        base_quantity=base_quantity,
        quote=currency,
        quote_quantity=quote_quantity,
        fee_asset=fee_asset,
        fee_quantity=fee,
        aud_value=aud_value,
        ref=uuid,
        source=SourceRef(file, (line,)),
    )


FORMAT: Final = ExportFormat(
    name="swyftx",
    venue=VENUE,
    documented=(
        "https://support.swyftx.com/hc/en-au/articles/"
        "13718823588505-Understanding-the-transaction-report"
    ),
    detect=detect,
    read=read,
)
