"""Independent Reserve's CSV exports: the trade history and the transaction history.

Independent Reserve documents the records both exports carry in its API,
https://www.independentreserve.com/features/api (``GetTrades``, ``GetTransactions``,
``GetValidTransactionTypes``), and in its own client, independentreserve/dotNetApiClient
``src/DotNetClientApi/Data/TradeDetails.cs``, ``Transaction.cs``, ``TransactionType.cs``,
``TransactionStatus.cs``. The columns are those field names; they are matched with case,
spaces and punctuation ignored, so ``TradeTimestampUtc`` and ``Trade Timestamp Utc`` are
the same column, in any order:

- Trade history: ``TradeGuid, TradeTimestampUtc, OrderGuid, OrderType,
  OrderTimestampUtc, VolumeTraded, Price, PrimaryCurrencyCode, SecondaryCurrencyCode``
  and, when the export has them, ``Brokerage`` and ``BrokerageCurrencyCode``. The order
  type says the side: ``LimitBid``/``MarketBid`` buy, ``LimitOffer``/``MarketOffer``
  sell. The quote traded is ``VolumeTraded x Price``.
- Transaction history (the account ledger): ``CreatedTimestampUtc,
  SettleTimestampUtc, Type, Status, CurrencyCode, Credit, Debit, Balance, Comment,
  BitcoinTransactionId, EthereumTransactionId`` (``TransactionGuid`` when present). Types:
  ``Deposit``/``Withdrawal`` are movements; ``WithdrawalFee``/``BitcoinNetworkFee``/
  ``DepositFee`` in a coin are charges; ``ReferralCommission`` in a coin is income; AUD,
  USD, NZD and SGD rows move no CGT asset. ``Trade``, ``Brokerage`` and ``GST`` rows are
  the ledger's side of trades that the trade history carries whole, and the ledger does
  not say which trade a row belongs to, so they are left to the trade history (importing
  both files counts each trade once). Only ``Confirmed`` rows happened; ``Rejected``
  ones did not; ``Pending``, ``Unconfirmed`` and ``Disappeared`` ones are review items.

Independent Reserve calls bitcoin ``Xbt`` (its currency table): read as BTC. Times are
UTC with an offset (``2020-04-01T05:26:30.5093622+00:00``); one without is read in the
declared timezone.
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
    moment,
    moment_day_first,
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

VENUE: Final = "independentreserve"
_RENAMED: Final = {"XBT": "BTC"}
_TRADES: Final = (
    "tradetimestamputc",
    "ordertype",
    "volumetraded",
    "price",
    "primarycurrencycode",
    "secondarycurrencycode",
)
_LEDGER: Final = ("createdtimestamputc", "type", "currencycode", "credit", "debit")
_NOT_ALNUM: Final = re.compile(r"[^a-z0-9]+")
_CHARGES: Final = frozenset({"withdrawalfee", "bitcoinnetworkfee", "depositfee"})
_LEFT_TO_TRADES: Final = frozenset({"trade", "brokerage", "gst"})


def _key(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


def _columns(header: tuple[str, ...]) -> dict[str, int]:
    return {_key(name): at for at, name in enumerate(header)}


def detect(header: tuple[str, ...]) -> bool:
    """True for Independent Reserve's trade history or transaction history header."""
    names = _columns(header)
    return all(c in names for c in _TRADES) or all(c in names for c in _LEDGER)


def read(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """The records of an Independent Reserve export (either layout, by its header)."""
    names = _columns(header)
    if all(c in names for c in _TRADES):
        for line, cells in rows:
            yield _trade(file, line, cells, names, zone)
    elif all(c in names for c in _LEDGER):
        for line, cells in rows:
            yield from _transaction(file, line, cells, names, zone)
    else:
        raise ExportRowError(file, 1, "is not an Independent Reserve history header")


def _asset(code: str) -> str:
    upper = code.strip().upper()
    return _RENAMED.get(upper, upper)


def _when(text: str, zone: ZoneInfo, file: str, line: int, field: str) -> datetime:
    """ISO 8601 as exported, or day first as a spreadsheet re-saves it."""
    return moment_day_first(text, zone, file, line, field) or moment(text, zone, file, line, field)


def _get(cells: list[str], names: dict[str, int], key: str, file: str, line: int) -> str:
    return cell(cells, names[key], file, line, key) if key in names else ""


def _trade(file: str, line: int, cells: list[str], names: dict[str, int], zone: ZoneInfo) -> Record:
    source = SourceRef(file, (line,))
    order_type = _get(cells, names, "ordertype", file, line)
    base = _asset(_get(cells, names, "primarycurrencycode", file, line))
    quote = _asset(_get(cells, names, "secondarycurrencycode", file, line))
    if "bid" in order_type.lower():
        side = "buy"
    elif "offer" in order_type.lower():
        side = "sell"
    else:
        return Unrecognised(VENUE, order_type, f"{order_type} {base}/{quote}", source)
    if not base or not quote:
        raise ExportRowError(
            file,
            line,
            "is empty",
            field="PrimaryCurrencyCode" if not base else "SecondaryCurrencyCode",
        )
    at = _when(
        _get(cells, names, "tradetimestamputc", file, line), zone, file, line, "TradeTimestampUtc"
    )
    volume = amount(_get(cells, names, "volumetraded", file, line), file, line, "VolumeTraded")
    price = amount(_get(cells, names, "price", file, line), file, line, "Price")
    fee = amount(_get(cells, names, "brokerage", file, line), file, line, "Brokerage", blank=True)
    fee_asset = _asset(_get(cells, names, "brokeragecurrencycode", file, line)) or quote
    quote_quantity = volume * price
    return Trade(
        at=at,
        venue=VENUE,
        side="buy" if side == "buy" else "sell",
        base=base,
        base_quantity=volume,
        quote=quote,
        quote_quantity=quote_quantity,
        fee_asset=fee_asset,
        fee_quantity=fee,
        aud_value=quote_quantity if quote == "AUD" else None,
        ref=_get(cells, names, "tradeguid", file, line),
        source=source,
    )


def _transaction(
    file: str, line: int, cells: list[str], names: dict[str, int], zone: ZoneInfo
) -> Iterator[Record]:
    source = SourceRef(file, (line,))
    kind_text = _get(cells, names, "type", file, line)
    kind = _key(kind_text)
    status = _get(cells, names, "status", file, line)
    asset = _asset(_get(cells, names, "currencycode", file, line))
    known = kind in ("deposit", "withdrawal", "referralcommission") or kind in _CHARGES
    if not known and kind not in _LEFT_TO_TRADES:
        yield Unrecognised(VENUE, kind_text, f"{kind_text} {asset}", source)
        return
    if _key(status) == "rejected" or kind in _LEFT_TO_TRADES or asset in FIAT:
        return  # did not happen / carried by the trade history / no CGT asset moves
    if status and _key(status) != "confirmed":
        yield Unrecognised(VENUE, f"{kind_text} ({status})", f"{kind_text} {asset}", source)
        return
    credit = amount(
        _get(cells, names, "credit", file, line), file, line, "Credit", signed=True, blank=True
    )
    debit = amount(
        _get(cells, names, "debit", file, line), file, line, "Debit", signed=True, blank=True
    )
    if (credit == 0) == (debit == 0):
        raise ExportRowError(
            file, line, "one of Credit and Debit must be set, not both", field="Credit"
        )
    quantity = abs(credit or debit)
    at = _when(
        _get(cells, names, "createdtimestamputc", file, line),
        zone,
        file,
        line,
        "CreatedTimestampUtc",
    )
    ref = _get(cells, names, "transactionguid", file, line)
    if kind in _CHARGES:
        yield Charge(at=at, venue=VENUE, asset=asset, quantity=quantity, ref=ref, source=source)
    elif kind == "referralcommission":
        yield Receipt(
            at=at,
            venue=VENUE,
            asset=asset,
            quantity=quantity,
            aud_value=None,
            label="referral commission",
            ref=ref,
            source=source,
        )
    else:
        txid = _get(cells, names, "bitcointransactionid", file, line) or _get(
            cells, names, "ethereumtransactionid", file, line
        )
        yield Movement(
            at=at,
            venue=VENUE,
            direction="in" if credit else "out",
            asset=asset,
            quantity=quantity,
            fee_quantity=Decimal(0),
            txid=txid,
            address="",
            ref=ref,
            source=source,
        )


FORMAT: Final = ExportFormat(
    name="independent-reserve",
    venue=VENUE,
    documented="https://www.independentreserve.com/features/api",
    detect=detect,
    read=read,
)
