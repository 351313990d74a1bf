"""BTC Markets' transaction report (a balance ledger) and tax transaction report read
into import records, quirks included: one trade over several rows sharing a
referenceId (two legs, a fee row, two fills, other rows in between) merged into one
Trade, a BTC market with its fee in BTC, AUD deposits, a coin withdrawal and its fee
row, unknown actions, and the API's column names."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lyra.compliance.importers.btcmarkets import FORMAT
from lyra.compliance.importers.detect import export_rows
from lyra.compliance.importers.formats import ExportRowError, normalised_header
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

EXPORTS = Path(__file__).parents[1] / "support" / "exports" / "btcmarkets"
SYDNEY = ZoneInfo("Australia/Sydney")
LEDGER = "transaction_report.csv"
TAX = "tax_transaction_report.csv"
#: The same ledger with the v3 API's field names (docs.btcmarkets.net).
API_HEADER = normalised_header(
    [
        "id",
        "creationTime",
        "description",
        "assetName",
        "amount",
        "balance",
        "type",
        "recordType",
        "referenceId",
    ]
)


def _header(name: str) -> tuple[str, ...]:
    with (EXPORTS / name).open(encoding="utf-8-sig", newline="") as handle:
        return normalised_header(next(csv.reader(handle)))


def _read(name: str, zone: ZoneInfo = SYDNEY) -> list[Record]:
    rows = export_rows(EXPORTS / name, 1, shown=name)
    return list(FORMAT.read(name, _header(name), rows, zone))


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


def test_a_trades_rows_are_merged_into_one_trade_with_its_fee() -> None:
    records = _read(LEDGER)
    trades = [r for r in records if isinstance(r, Trade)]
    assert trades == [
        Trade(
            _utc(2024, 3, 5, 3, 30),
            "btcmarkets",
            "buy",
            "BTC",
            Decimal("0.01"),
            "AUD",
            Decimal("1000.00"),
            "AUD",
            Decimal("8.50"),
            Decimal("1000.00"),
            "7001",
            SourceRef(LEDGER, (2, 3, 4)),
        ),
        # two fills of one ETH/BTC sell, a deposit row between them, the fee in BTC
        Trade(
            _utc(2024, 3, 6, 1, 0),
            "btcmarkets",
            "sell",
            "ETH",
            Decimal("0.5"),
            "BTC",
            Decimal("0.0265"),
            "BTC",
            Decimal("0.0000265"),
            None,
            "8002",
            SourceRef(LEDGER, (5, 6, 8, 9, 10)),
        ),
    ]


def test_the_ledgers_other_rows_are_movements_charges_and_review_items() -> None:
    others = [r for r in _read(LEDGER) if not isinstance(r, Trade)]
    assert others == [
        Movement(
            _utc(2024, 3, 6, 1, 0, 30),
            "btcmarkets",
            "in",
            "BTC",
            Decimal("0.5"),
            Decimal(0),
            "",
            "",
            "3001",
            SourceRef(LEDGER, (7,)),
        ),
        # line 11, an AUD deposit, moves no CGT asset: nothing
        Movement(
            _utc(2024, 3, 8),
            "btcmarkets",
            "out",
            "ETH",
            Decimal("0.995"),
            Decimal(0),
            "",
            "",
            "5001",
            SourceRef(LEDGER, (12,)),
        ),
        Charge(
            _utc(2024, 3, 8),
            "btcmarkets",
            "ETH",
            Decimal("0.005"),
            "5002",
            SourceRef(LEDGER, (13,)),
        ),
        Unrecognised("btcmarkets", "Reward", "Reward XRP 12.5", SourceRef(LEDGER, (14,))),
    ]


def test_the_api_column_names_are_the_same_ledger() -> None:
    assert FORMAT.detect(API_HEADER)
    rows = [
        (2, ["1", "2024-03-05T03:30:00Z", "", "AUD", "-100", "0", "Buy Order", "Trade", "r"]),
        (3, ["2", "2024-03-05T03:30:00Z", "", "BTC", "0.001", "0", "Buy Order", "Trade", "r"]),
    ]
    (trade,) = FORMAT.read("api.csv", API_HEADER, rows, SYDNEY)
    assert trade == Trade(
        _utc(2024, 3, 5, 3, 30),
        "btcmarkets",
        "buy",
        "BTC",
        Decimal("0.001"),
        "AUD",
        Decimal(100),
        "AUD",
        Decimal(0),
        Decimal(100),
        "r",
        SourceRef("api.csv", (2, 3)),
    )


def test_a_trade_missing_a_leg_is_refused_naming_its_first_line() -> None:
    rows = [(9, ["1", "2024-03-05T03:30:00Z", "", "AUD", "-100", "0", "Trade", "Buy Order", "r7"])]
    with pytest.raises(
        ExportRowError, match=re.escape("b.csv line 9 field 'referenceId': trade 'r7'")
    ):
        list(FORMAT.read("b.csv", _header(LEDGER), rows, SYDNEY))


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        (
            ["1", "2024-03-05T03:30:00Z", "", "AUD", "-1OO", "0", "Trade", "Buy Order", "r"],
            "amount",
        ),
        (["1", "05/03/2024 3:30", "", "BTC", "1", "0", "Trade", "Buy Order", "r"], "creationTime"),
        (
            ["1", "2024-03-05T03:30:00Z", "", "BTC", "1", "0", "Trade", "Buy Order", ""],
            "referenceId",
        ),
    ],
)
def test_a_bad_cell_names_the_file_line_and_field(cells: list[str], field: str) -> None:
    with pytest.raises(ExportRowError, match=re.escape(f"b.csv line 5 field {field!r}")):
        list(FORMAT.read("b.csv", _header(LEDGER), [(5, cells)], SYDNEY))


def test_tax_report_rows_of_aud_markets_are_trades_and_btc_markets_review_items() -> None:
    records = _read(TAX)
    assert records[0] == Trade(
        _utc(2024, 3, 5, 3, 30),
        "btcmarkets",
        "buy",
        "BTC",
        Decimal("0.01"),
        "AUD",
        Decimal("1000.00"),
        "AUD",
        Decimal("8.50"),
        Decimal("1000.00"),
        "T1",
        SourceRef(TAX, (2,)),
    )
    assert isinstance(records[1], Unrecognised)
    assert records[1].kind == "Sell Order ETH-BTC"
    assert records[1].source == SourceRef(TAX, (3,))
    # a naive time (in the declared zone, AEDT) and a thousands separator
    assert records[2] == Trade(
        _utc(2024, 3, 6, 23, 0),
        "btcmarkets",
        "sell",
        "BTC",
        Decimal("0.004"),
        "AUD",
        Decimal("404.000"),
        "AUD",
        Decimal("3.43"),
        Decimal("404.000"),
        "T3",
        SourceRef(TAX, (4,)),
    )
    assert records[3] == Movement(
        _utc(2024, 3, 8),
        "btcmarkets",
        "in",
        "ETH",
        Decimal("1.5"),
        Decimal(0),
        "",
        "",
        "T4",
        SourceRef(TAX, (5,)),
    )
    assert len(records) == 4


def test_a_tax_report_time_repeated_when_daylight_saving_ends_is_refused() -> None:
    cells = ["T9", "2024-04-07 02:30:00", "Buy Order", "BTC", "BTC-AUD", "1", "1", "0", "1", "r"]
    field = "Transaction Date and Timestamp"
    with pytest.raises(ExportRowError, match=f"t.csv line 6 field '{field}'.*happens twice"):
        list(FORMAT.read("t.csv", _header(TAX), [(6, cells)], SYDNEY))
