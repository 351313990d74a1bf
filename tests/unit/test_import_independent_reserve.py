"""Independent Reserve's trade history and transaction history read into import
records, quirks included: ``Xbt`` for bitcoin, Bid/Offer order types, a USD market, a
7-digit fraction of a second, brokerage, AUD rows, trade and brokerage ledger rows left
to the trade history, pending and rejected withdrawals, referral commission, unknown
types, and the field names written with spaces."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lyra.compliance.importers.detect import export_rows
from lyra.compliance.importers.formats import ExportRowError, normalised_header
from lyra.compliance.importers.independent_reserve import FORMAT
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

EXPORTS = Path(__file__).parents[1] / "support" / "exports" / "independent_reserve"
SYDNEY = ZoneInfo("Australia/Sydney")
TRADES = "trade_history.csv"
LEDGER = "transactions.csv"
VENUE = "independentreserve"


def _header(name: str) -> tuple[str, ...]:
    with (EXPORTS / name).open(encoding="utf-8-sig", newline="") as handle:
        return normalised_header(next(csv.reader(handle)))


def _read(name: str) -> list[Record]:
    rows = export_rows(EXPORTS / name, 1, shown=name)
    return list(FORMAT.read(name, _header(name), rows, SYDNEY))


def _utc(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    micro: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def test_trade_history_becomes_trades_worth_volume_times_price() -> None:
    assert _read(TRADES) == [
        Trade(
            _utc(2024, 3, 5, 3, 30, 0, 123456),
            VENUE,
            "buy",
            "BTC",
            Decimal("0.01"),
            "AUD",
            Decimal("1000.00"),
            "AUD",
            Decimal("5.00"),
            Decimal("1000.00"),
            "0f6a1c2e-0001",
            SourceRef(TRADES, (2,)),
        ),
        Trade(
            _utc(2024, 3, 6, 1),
            VENUE,
            "sell",
            "ETH",
            Decimal("0.5"),
            "USD",
            Decimal("1750.00"),
            "USD",
            Decimal("1.75"),
            None,
            "0f6a1c2e-0002",
            SourceRef(TRADES, (3,)),
        ),
        Trade(
            _utc(2024, 3, 7, 2),
            VENUE,
            "sell",
            "USDT",
            Decimal(100),
            "AUD",
            Decimal("152"),
            "AUD",
            Decimal(0),
            Decimal("152"),
            "0f6a1c2e-0003",
            SourceRef(TRADES, (4,)),
        ),
        Unrecognised(VENUE, "Transfer", "Transfer BTC/AUD", SourceRef(TRADES, (5,))),
    ]


def test_transaction_history_becomes_movements_charges_and_income() -> None:
    def src(line: int) -> SourceRef:
        return SourceRef(LEDGER, (line,))

    assert _read(LEDGER) == [
        # line 2 AUD deposit: nothing; lines 4-5 trade and brokerage: the trade history's
        Movement(
            _utc(2024, 3, 2),
            VENUE,
            "in",
            "BTC",
            Decimal("0.5"),
            Decimal(0),
            "btctx0001",
            "",
            "a0000000-0002",
            src(3),
        ),
        Movement(
            _utc(2024, 3, 9),
            VENUE,
            "out",
            "ETH",
            Decimal("1.0"),
            Decimal(0),
            "0xethtx0001",
            "",
            "a0000000-0005",
            src(6),
        ),
        Charge(_utc(2024, 3, 9), VENUE, "ETH", Decimal("0.002"), "a0000000-0006", src(7)),
        Unrecognised(VENUE, "Withdrawal (Pending)", "Withdrawal BTC", src(8)),
        # line 9, a rejected withdrawal, moved nothing
        Receipt(
            _utc(2024, 3, 12),
            VENUE,
            "BTC",
            Decimal("0.0001"),
            None,
            "referral commission",
            "a0000000-0009",
            src(10),
        ),
        Unrecognised(VENUE, "Unclaimed", "Unclaimed BTC", src(11)),
    ]


def test_field_names_with_spaces_and_a_local_day_first_time() -> None:
    header = normalised_header(
        [
            "Trade Guid",
            "Trade Timestamp Utc",
            "Order Type",
            "Volume Traded",
            "Price",
            "Primary Currency Code",
            "Secondary Currency Code",
        ]
    )
    assert FORMAT.detect(header)
    cells = ["g", "05/03/2024 14:30:00", "LimitBid", "2", "3", "Eth", "Aud"]
    (trade,) = FORMAT.read("ir.csv", header, [(2, cells)], SYDNEY)
    assert isinstance(trade, Trade)
    assert (trade.at, trade.base, trade.quote_quantity) == (
        _utc(2024, 3, 5, 3, 30),
        "ETH",
        Decimal(6),
    )


@pytest.mark.parametrize(
    ("name", "cells", "field"),
    [
        (
            TRADES,
            ["g", "2024-03-05T03:30:00Z", "o", "LimitBid", "", "0.0l", "1", "Xbt", "Aud", "", ""],
            "VolumeTraded",
        ),
        (
            TRADES,
            ["g", "yesterday", "o", "LimitBid", "", "1", "1", "Xbt", "Aud", "", ""],
            "TradeTimestampUtc",
        ),
        (
            LEDGER,
            [
                "2024-03-02T00:00:00Z",
                "",
                "Deposit",
                "Confirmed",
                "Xbt",
                "0.5",
                "0.5",
                "",
                "",
                "",
                "",
                "",
            ],
            "Credit",
        ),
    ],
)
def test_a_bad_cell_names_the_file_line_and_field(name: str, cells: list[str], field: str) -> None:
    with pytest.raises(ExportRowError, match=re.escape(f"ir.csv line 3 field {field!r}")):
        list(FORMAT.read("ir.csv", _header(name), [(3, cells)], SYDNEY))


def test_a_local_time_repeated_when_daylight_saving_ends_is_refused() -> None:
    cells = ["g", "07/04/2024 02:30:00", "o", "LimitBid", "", "1", "1", "Xbt", "Aud", "", ""]
    with pytest.raises(ExportRowError, match=r"ir\.csv line 2 field 'TradeTimestampUtc'.*twice"):
        list(FORMAT.read("ir.csv", _header(TRADES), [(2, cells)], SYDNEY))
