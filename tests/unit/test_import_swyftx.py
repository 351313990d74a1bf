"""Swyftx's transaction report read into import records, quirks included: the fee taken
from the received asset (added back), USD and BTC pairs, a blank AUD value, AUD
deposits (no CGT asset), crypto deposits and withdrawals with txid and address, Earn
rewards, unknown events, and the older tax report's columns in another order."""

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
from lyra.compliance.importers.records import (
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)
from lyra.compliance.importers.swyftx import FORMAT

EXPORTS = Path(__file__).parents[1] / "support" / "exports" / "swyftx"
SYDNEY = ZoneInfo("Australia/Sydney")
REPORT = "transaction_report.csv"
#: The older "tax report" (help.swyftx.com.au): no ids, ``ExGST``, value before rate.
OLD_HEADER = normalised_header(
    [
        "Date",
        "Time",
        "Event",
        "Asset",
        "Amount",
        "Currency",
        "Value",
        "Rate",
        "AUD Value",
        "Fee Amount",
        "Fee Asset",
        "Fee AUD Value",
        "GST",
        "ExGST",
    ]
)


def _header() -> tuple[str, ...]:
    with (EXPORTS / REPORT).open(encoding="utf-8-sig", newline="") as handle:
        return normalised_header(next(csv.reader(handle)))


def _read(zone: ZoneInfo = SYDNEY) -> list[Record]:
    rows = export_rows(EXPORTS / REPORT, 1, shown=REPORT)
    return list(FORMAT.read(REPORT, _header(), rows, zone))


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


def _src(line: int) -> SourceRef:
    return SourceRef(REPORT, (line,))


def test_transaction_report_becomes_records_with_fees_added_back() -> None:
    assert _read() == [
        # line 2, an AUD deposit, moves no CGT asset: nothing
        # buy: 0.00998 BTC received after a 0.00002 BTC fee -> 0.01 BTC bought
        Trade(
            _utc(2024, 3, 5, 3, 30, 25),
            "swyftx",
            "buy",
            "BTC",
            Decimal("0.01000"),
            "AUD",
            Decimal("1000.00"),
            "BTC",
            Decimal("0.00002"),
            Decimal("1000.00"),
            "uuid-buy-2",
            _src(3),
        ),
        # sell for USD: 995 USD received after a 5 USD fee; AUD value = Swyftx's own
        Trade(
            _utc(2024, 3, 5, 22, 15),
            "swyftx",
            "sell",
            "ETH",
            Decimal("0.5"),
            "USD",
            Decimal("1000.00"),
            "USD",
            Decimal("5.00"),
            Decimal("1520.00"),
            "uuid-sell-3",
            _src(4),
        ),
        # a BTC pair with a blank AUD value: left for the valuation step
        Trade(
            _utc(2024, 3, 6, 23, 0),
            "swyftx",
            "buy",
            "XRP",
            Decimal("100.0"),
            "BTC",
            Decimal("0.001"),
            "XRP",
            Decimal("0.1"),
            None,
            "uuid-buy-4",
            _src(5),
        ),
        Movement(
            _utc(2024, 3, 8, 1, 0),
            "swyftx",
            "in",
            "BTC",
            Decimal("0.5"),
            Decimal(0),
            "txid-dep-5",
            "bc1qdeposit",
            "uuid-dep-5",
            _src(6),
        ),
        Movement(
            _utc(2024, 3, 9, 7, 45),
            "swyftx",
            "out",
            "ETH",
            Decimal("1.2"),
            Decimal("0.005"),
            "0xwithdrawtx",
            "0xdestination",
            "uuid-wd-6",
            _src(7),
        ),
        Receipt(
            _utc(2024, 3, 9, 13, 5),
            "swyftx",
            "ETH",
            Decimal("0.0012"),
            Decimal("4.10"),
            "reward",
            "uuid-rew-7",
            _src(8),
        ),
        Unrecognised("swyftx", "airdrop", "airdrop SWYFTX", _src(9)),
    ]


def test_the_local_date_and_time_are_read_in_the_declared_timezone() -> None:
    buy = _read(ZoneInfo("Australia/Perth"))[0]
    assert buy.at == _utc(2024, 3, 5, 6, 30, 25)  # type: ignore[union-attr]


def test_the_older_tax_report_is_read_by_column_name() -> None:
    assert FORMAT.detect(OLD_HEADER)
    cells = [
        "2024-03-05",
        "2:30:25 PM",
        "Sell",
        "BTC",
        "0.01",
        "AUD",
        "990",
        "100000",
        "990",
        "10",
        "AUD",
        "10",
        "0.91",
        "9.09",
    ]
    (trade,) = FORMAT.read("old.csv", OLD_HEADER, [(2, cells)], SYDNEY)
    assert trade == Trade(
        _utc(2024, 3, 5, 3, 30, 25),
        "swyftx",
        "sell",
        "BTC",
        Decimal("0.01"),
        "AUD",
        Decimal(1000),
        "AUD",
        Decimal(10),
        Decimal(1000),
        "",
        SourceRef("old.csv", (2,)),
    )


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        (
            ["05/03/2024", "14:30:25", "buy", "BTC", "0.0l", "AUD", "1", "1", "1", "0", "BTC"],
            "Amount",
        ),
        (
            ["05/03/2024", "25:30:25", "buy", "BTC", "0.01", "AUD", "1", "1", "1", "0", "BTC"],
            "Time",
        ),
        (
            ["05/03/2024", "14:30:25", "sell", "BTC", "0.01", "AUD", "1", "", "1", "0", "AUD"],
            "Value",
        ),
    ],
)
def test_a_bad_cell_names_the_file_line_and_field(cells: list[str], field: str) -> None:
    padded = cells + [""] * (len(_header()) - len(cells))
    with pytest.raises(ExportRowError, match=re.escape(f"sw.csv line 4 field {field!r}")):
        list(FORMAT.read("sw.csv", _header(), [(4, padded)], SYDNEY))


def test_a_time_repeated_when_daylight_saving_ends_is_refused() -> None:
    cells = ["07/04/2024", "02:30:00", "deposit", "BTC", "0.5", "BTC"] + [""] * 12
    with pytest.raises(ExportRowError, match=r"sw\.csv line 2 field 'Time'.*happens twice"):
        list(FORMAT.read("sw.csv", _header(), [(2, cells)], SYDNEY))
