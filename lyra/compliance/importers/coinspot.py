"""CoinSpot's CSV exports: the order history and the send/receive history.

CoinSpot publishes no description of its CSV files (its API page,
https://www.coinspot.com.au/v2/api, covers the JSON API only), so the layouts here are
the ones open-source tax tools read and test against, files exported by CoinSpot users:

- Order history ("Orders" > "Export CSV"), HaydenDekker/cryptocgt
  ``src/test/resources/orderhistory-test.csv``::

      Transaction Date,Type,Market,Amount,Rate inc. fee,Rate ex. fee,Fee,
      Fee AUD (inc GST),GST AUD,Total AUD,Total (inc GST)

  (one line in the file), a row such as ``24/08/2021 10:46,Sell,UNI/AUD,0.19952114,39.2,
  39.5959596,0.07900231 AUD,0.08,0.01,7.82,7.82122869 AUD``.

  ``Market`` is ``BASE/QUOTE`` (``BTC/AUD``, ``ETH/BTC``, ``BTC/USDT``); the rates and
  ``Total (inc GST)`` are in the quote, ``Fee`` carries its unit (``0.079 AUD``,
  ``0.00001 BTC``); ``Total AUD`` and ``Fee AUD (inc GST)`` are CoinSpot's AUD figures.
  Some tools also meet ``Rate inc fee`` without the dot (a variant detected here).
- Send/receive history, cryptocgt ``src/test/resources/sendsreceives-test.csv`` and
  ccgc's ``coinspot_sends_receives_headers``::

      Transaction Date,Type,Coin,Status,Fee,Amount,Address,Txid,Aud

The dates are CoinSpot's local display, ``24/08/2021 10:46`` or ``24/08/2021 10:46 PM``
(day first, Australian), with no offset: read in the declared timezone.

Quantities follow the importers' convention (records.py): a trade's quantities are
before its fee, the fee separate. A sell's ``Total (inc GST)`` is the quote received
after the fee and a buy's the quote paid with it (``Amount x Rate inc. fee``), so the
quote traded is the total plus (sell) or minus (buy) the fee when the fee is in the quote.
The AUD value is that quote amount on an AUD market; on a BTC or USDT market it is
CoinSpot's own ``Total AUD`` corrected the same way by ``Fee AUD (inc GST)``, or None
when the cell is blank (valued later). The export has no ids, so ``ref`` is empty.
A send's ``Amount`` is what was sent and its ``Fee`` the network fee on top (as ccgc and
cryptocgt read it), so what left the account is their sum (a movement's quantity,
records.py). A send or receive that is not complete is a review item (it may still
move); a cancelled or failed one moved nothing and yields nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal
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
    Movement,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

__all__ = ["FORMAT"]

VENUE: Final = "coinspot"
_ORDERS: Final = ("transaction date", "type", "market", "amount", "total aud")
_RATE_INC: Final = ("rate inc. fee", "rate inc fee")
_SENDS: Final = ("transaction date", "type", "coin", "status", "fee", "amount", "address", "txid")
_WITH_UNIT: Final = re.compile(r"(?P<number>\S+?)\s*(?P<unit>[A-Za-z][A-Za-z0-9]*)?").fullmatch
_DONE: Final = frozenset({"complete", "completed"})
_VOID: Final = frozenset({"cancelled", "canceled", "failed", "rejected"})


def _is_orders(header: Sequence[str]) -> bool:
    return all(c in header for c in _ORDERS) and any(c in header for c in _RATE_INC)


def _is_sends(header: Sequence[str]) -> bool:
    return all(c in header for c in _SENDS)


def detect(header: tuple[str, ...]) -> bool:
    """True for CoinSpot's order history or send/receive history header."""
    return _is_orders(header) or _is_sends(header)


def read(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """The records of a CoinSpot export (either layout, told apart by its header)."""
    columns = {name: at for at, name in enumerate(normalised_header(header))}
    if _is_orders(tuple(columns)):
        for line, cells in rows:
            yield _order(file, line, cells, columns, zone)
    elif _is_sends(tuple(columns)):
        for line, cells in rows:
            yield from _send_or_receive(file, line, cells, columns, zone)
    else:
        raise ExportRowError(file, 1, "is not a CoinSpot order or send/receive history header")


def _local_time(text: str, zone: ZoneInfo, file: str, line: int) -> datetime:
    at = moment_day_first(text, zone, file, line, "Transaction Date")
    if at is None:
        raise ExportRowError(
            file,
            line,
            f"{text.strip()[:40]!r} is not a CoinSpot time (e.g. 24/08/2021 10:46 PM)",
            field="Transaction Date",
        )
    return at


def _with_unit(text: str, file: str, line: int, field: str) -> tuple[Decimal, str]:
    """``0.07900231 AUD`` -> (0.07900231, "AUD"); a bare number has no unit ("")."""
    if not text.strip():
        return Decimal(0), ""
    match = _WITH_UNIT(text.strip())
    if match is None:
        raise ExportRowError(file, line, f"{text.strip()[:40]!r} is not a number", field=field)
    value = amount(match["number"], file, line, field)
    return value, (match["unit"] or "").upper()


def _order(
    file: str, line: int, cells: list[str], columns: dict[str, int], zone: ZoneInfo
) -> Record:
    source = SourceRef(file, (line,))
    kind = cell(cells, columns["type"], file, line, "Type")
    market = cell(cells, columns["market"], file, line, "Market").upper()
    if kind.lower() not in ("buy", "sell"):
        return Unrecognised(VENUE, kind, f"{kind} {market}", source)
    side: Literal["buy", "sell"] = "buy" if kind.lower() == "buy" else "sell"
    base, slash, quote = market.partition("/")
    if not slash or not base or not quote or "/" in quote:
        raise ExportRowError(file, line, f"{market[:40]!r} is not BASE/QUOTE", field="Market")
    at = _local_time(
        cell(cells, columns["transaction date"], file, line, "Transaction Date"), zone, file, line
    )
    quantity = amount(cell(cells, columns["amount"], file, line, "Amount"), file, line, "Amount")
    fee, fee_asset = _optional_with_unit(cells, columns, "fee", file, line, "Fee")
    fee_asset = fee_asset or quote
    quote_quantity = _quote_traded(cells, columns, side, quote, fee, fee_asset, file, line)
    aud_value = quote_quantity if quote == "AUD" else _aud_value(cells, columns, side, file, line)
    return Trade(
        at=at,
        venue=VENUE,
        side=side,
        base=base,
        base_quantity=quantity,
        quote=quote,
        quote_quantity=quote_quantity,
        fee_asset=fee_asset,
        fee_quantity=fee,
        aud_value=aud_value,
        ref="",
        source=source,
    )


def _optional_with_unit(
    cells: list[str], columns: dict[str, int], name: str, file: str, line: int, field: str
) -> tuple[Decimal, str]:
    if name not in columns:
        return Decimal(0), ""
    return _with_unit(cell(cells, columns[name], file, line, field), file, line, field)


def _quote_traded(
    cells: list[str],
    columns: dict[str, int],
    side: str,
    quote: str,
    fee: Decimal,
    fee_asset: str,
    file: str,
    line: int,
) -> Decimal:
    """The quote traded before the fee: ``Total (inc GST)`` -/+ the fee, or, when the
    total is missing, ``Amount x Rate ex. fee``."""
    field = "Total (inc GST)"
    total, unit = _optional_with_unit(cells, columns, "total (inc gst)", file, line, field)
    if unit and unit != quote:
        raise ExportRowError(
            file, line, f"is in {unit}, the market's quote is {quote}", field=field
        )
    if total == 0:
        if "rate ex. fee" not in columns:
            raise ExportRowError(file, line, "is empty and there is no Rate ex. fee", field=field)
        rate = cell(cells, columns["rate ex. fee"], file, line, "Rate ex. fee")
        quantity = cell(cells, columns["amount"], file, line, "Amount")
        return amount(rate, file, line, "Rate ex. fee") * amount(quantity, file, line, "Amount")
    if fee_asset != quote:
        return total
    gross = total + fee if side == "sell" else total - fee
    if gross <= 0:
        raise ExportRowError(file, line, f"{total} is not more than the fee {fee}", field=field)
    return gross


def _aud_value(
    cells: list[str], columns: dict[str, int], side: str, file: str, line: int
) -> Decimal | None:
    """CoinSpot's ``Total AUD`` (after the fee) back to the trade's value before it."""
    text = cell(cells, columns["total aud"], file, line, "Total AUD")
    if not text:
        return None
    total = amount(text.upper().removesuffix("AUD"), file, line, "Total AUD")
    fee = Decimal(0)
    if "fee aud (inc gst)" in columns:
        fee_text = cell(cells, columns["fee aud (inc gst)"], file, line, "Fee AUD (inc GST)")
        fee = amount(
            fee_text.upper().removesuffix("AUD"), file, line, "Fee AUD (inc GST)", blank=True
        )
    return total + fee if side == "sell" else total - fee


def _send_or_receive(
    file: str, line: int, cells: list[str], columns: dict[str, int], zone: ZoneInfo
) -> Iterator[Record]:
    source = SourceRef(file, (line,))
    kind = cell(cells, columns["type"], file, line, "Type")
    status = cell(cells, columns["status"], file, line, "Status")
    coin = cell(cells, columns["coin"], file, line, "Coin").upper()
    if kind.lower() not in ("send", "receive"):
        yield Unrecognised(VENUE, kind, f"{kind} {coin}", source)
        return
    if status.lower() in _VOID:
        return  # nothing moved
    if status.lower() not in _DONE:
        yield Unrecognised(VENUE, f"{kind} ({status})", f"{kind} {coin} not complete", source)
        return
    if coin in FIAT:
        return  # no CGT asset moves
    at = _local_time(
        cell(cells, columns["transaction date"], file, line, "Transaction Date"), zone, file, line
    )
    quantity = amount(
        cell(cells, columns["amount"], file, line, "Amount"), file, line, "Amount", signed=True
    )
    fee = amount(
        cell(cells, columns["fee"], file, line, "Fee"), file, line, "Fee", signed=True, blank=True
    )
    if quantity == 0:
        raise ExportRowError(file, line, "is zero (a send or receive moves coins)", field="Amount")
    out = kind.lower() == "send"
    yield Movement(
        at=at,
        venue=VENUE,
        direction="out" if out else "in",
        asset=coin,
        quantity=abs(quantity) + abs(fee) if out else abs(quantity),
        fee_quantity=abs(fee) if out else Decimal(0),
        txid=cell(cells, columns["txid"], file, line, "Txid"),
        address=cell(cells, columns["address"], file, line, "Address"),
        ref="",
        source=source,
    )


FORMAT: Final = ExportFormat(
    name="coinspot",
    venue=VENUE,
    documented="https://github.com/HaydenDekker/cryptocgt",
    detect=detect,
    read=read,
)
