"""Coinbase's transaction history report read into records, every version and quirk."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lyra.compliance.importers.coinbase import FORMAT
from lyra.compliance.importers.detect import detect_format, export_rows
from lyra.compliance.importers.formats import ExportRowError, normalised_header
from lyra.compliance.importers.records import (
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

EXPORTS = Path(__file__).resolve().parents[1] / "support" / "exports" / "coinbase"
SYDNEY = ZoneInfo("Australia/Sydney")
D = Decimal
V4 = (
    "ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,"
    "Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),"
    "Fees and/or Spread,Notes"
)
V3 = (
    "Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,"
    "Spot Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),"
    "Fees and/or Spread,Notes"
)
V2 = (
    "Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,"
    "Spot Price at Transaction,Subtotal,Total (inclusive of fees),Fees,Notes"
)
V1 = (
    "Timestamp,Transaction Type,Asset,Quantity Transacted,USD Spot Price at Transaction,"
    "USD Subtotal,USD Total (inclusive of fees),USD Fees,Notes"
)


def _read(path: Path, zone: ZoneInfo = SYDNEY) -> tuple[int, list[Record]]:
    found = detect_format(path, (FORMAT,), shown=path.name)
    rows = export_rows(path, found.header_line, shown=path.name)
    return found.header_line, list(FORMAT.read(path.name, found.header, rows, zone))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _write(tmp_path: Path, header: str, *rows: str) -> Path:
    path = tmp_path / "transactions.csv"
    path.write_text("\n".join(("Transactions", "User,Jane,1", "", header, *rows)) + "\n",
                    encoding="utf-8")  # fmt: skip
    return path


def test_2024_report_in_aud_after_its_preamble() -> None:
    """The header below ``Transactions``/``User`` lines; AUD money with its ``A$`` and
    sign; a Buy/Sell at the Subtotal with the fee apart and Coinbase's AUD value; an
    Advanced Trade on USDC at quantity x price with the note's difference as its fee; a
    two-row Convert (same ID) and a one-row Convert (its note); Send/Receive movements
    with the address; staking income at its AUD value; money moves skipped; an unknown
    type a review item."""
    header_line, records = _read(EXPORTS / "transactions_2024.csv")

    def src(*lines: int) -> SourceRef:
        return SourceRef("transactions_2024.csv", lines)

    assert header_line == 4
    assert records == [
        Trade(_utc("2024-07-01 10:00:00"), "coinbase", "buy", "BTC", D("0.01"), "AUD",
              D("980"), "AUD", D("14.70"), D("980"), "66a1b2c3d4e5f6a7b8c9d0e1", src(5)),
        Trade(_utc("2024-07-02 11:00:00"), "coinbase", "sell", "ETH", D("0.5"), "AUD",
              D("2500"), "AUD", D("37.50"), D("2500"), "66a1b2c3d4e5f6a7b8c9d0e2", src(6)),
        Trade(_utc("2024-07-03 12:00:00"), "coinbase", "buy", "SOL", D("2"), "USDC",
              D("330"), "USDC", D("0.66"), D("500"), "66a1b2c3d4e5f6a7b8c9d0e3", src(7)),
        Trade(_utc("2024-07-04 13:00:00"), "coinbase", "buy", "ETH", D("0.0301"), "USDC",
              D("100"), "AUD", D("2"), D("150"), "66a1b2c3d4e5f6a7b8c9d0e4", src(8, 9)),
        Trade(_utc("2024-07-05 14:00:00"), "coinbase", "sell", "ETH", D("0.1"), "USDC",
              D("328.5"), "AUD", D("5"), D("495"), "66a1b2c3d4e5f6a7b8c9d0e5", src(10)),
        Movement(_utc("2024-07-06 15:00:00"), "coinbase", "out", "BTC", D("0.005"), D("0"), "",
                 "bc1qexampleaddress000000000000000000000", "66a1b2c3d4e5f6a7b8c9d0e6",
                 src(11)),
        Movement(_utc("2024-07-07 16:00:00"), "coinbase", "in", "ETH", D("0.2"), D("0"), "",
                 "", "66a1b2c3d4e5f6a7b8c9d0e7", src(12)),
        Receipt(_utc("2024-07-08 17:00:00"), "coinbase", "SOL", D("0.01"), D("1.65"),
                "Staking Income", "66a1b2c3d4e5f6a7b8c9d0e8", src(13)),
        Unrecognised("coinbase", "Admin Debit", "-0.001 ETH", src(16)),
    ]  # fmt: skip


def test_2022_report_in_usd_has_no_aud_values_and_reads_rewards() -> None:
    """Seven preamble lines (the tax sentence, blanks, ``Transactions``, ``User``); USD
    prices: no AUD value is taken from them (valued later); ``Coinbase Earn``, a
    ``Receive`` whose note names Coinbase Rewards and ``Learning Reward`` are income."""
    header_line, records = _read(EXPORTS / "transactions_2022.csv")

    def src(line: int) -> SourceRef:
        return SourceRef("transactions_2022.csv", (line,))

    assert header_line == 8
    assert records == [
        Trade(_utc("2022-01-10 09:00:00"), "coinbase", "buy", "BTC", D("0.01"), "USD",
              D("420"), "USD", D("4.99"), None, "", src(9)),
        Trade(_utc("2022-01-11 09:00:00"), "coinbase", "sell", "CLV", D("2.5"), "DAI", D("2"),
              "USD", D("0.02"), None, "", src(10)),
        Receipt(_utc("2022-01-12 09:00:00"), "coinbase", "GRT", D("5"), None, "Coinbase Earn",
                "", src(11)),
        Receipt(_utc("2022-01-13 09:00:00"), "coinbase", "XLM", D("10"), None,
                "Receive (coinbase rewards)", "", src(12)),
        Receipt(_utc("2022-01-14 09:00:00"), "coinbase", "AMP", D("20"), None,
                "Learning Reward", "", src(13)),
    ]  # fmt: skip


def test_oldest_report_names_its_currency_in_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path, V1, "2019-03-01T00:00:00Z,Sell,BTC,0.1,3800,380,374.3,5.7,")
    _, records = _read(path)
    assert records == [
        Trade(_utc("2019-03-01 00:00:00"), "coinbase", "sell", "BTC", D("0.1"), "USD",
              D("380"), "USD", D("5.7"), None, "", SourceRef("transactions.csv", (5,))),
    ]  # fmt: skip


def test_the_second_leg_of_a_convert_read_apart_is_not_a_second_trade(tmp_path: Path) -> None:
    """Both legs of a Convert with the same note, not next to each other: one trade."""
    note = "Converted 0.05 BTC to 1.2 ETH"
    path = _write(
        tmp_path, V4,
        f"c1,2025-06-02 12:00:00 UTC,Convert,BTC,-0.05,AUD,A$100000,A$5000,A$5000,A$0,{note}",
        "r1,2025-06-02 12:00:01 UTC,Rewards Income,ETH,0.001,AUD,A$4000,A$4,A$4,A$0,",
        f"c1,2025-06-02 12:00:00 UTC,Convert,ETH,1.2,AUD,A$4100,A$4920,A$5000,A$80,{note}",
    )  # fmt: skip
    _, records = _read(path)
    assert [type(r).__name__ for r in records] == ["Trade", "Receipt"]
    trade = records[0]
    assert isinstance(trade, Trade)
    assert (trade.base, trade.base_quantity, trade.quote, trade.quote_quantity) == (
        "ETH", D("1.2"), "BTC", D("0.05"))  # fmt: skip


def test_a_naive_time_is_read_in_the_declared_timezone(tmp_path: Path) -> None:
    path = _write(
        tmp_path, V4, "x,2024-07-08 17:00:00,Staking Income,SOL,0.01,AUD,A$1,A$1,A$1,A$0,"
    )
    _, records = _read(path, SYDNEY)
    assert [r.at for r in records if isinstance(r, Receipt)] == [_utc("2024-07-08 07:00:00")]


def test_a_time_daylight_saving_makes_ambiguous_is_an_error_naming_the_row(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path, V4, "x,2024-04-07 02:30:00,Staking Income,SOL,0.01,AUD,A$1,A$1,A$1,A$0,"
    )
    with pytest.raises(ExportRowError) as caught:
        _read(path, SYDNEY)
    assert str(caught.value) == (
        "transactions.csv line 5 field 'Timestamp': 2024-04-07 02:30:00 happens twice in "
        "Australia/Sydney (daylight saving ends); add the UTC offset"
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,2024-07-01 10:00:00 UTC,Buy,BTC,0.0l,AUD,A$1,A$980,A$994,A$14,",
         "transactions.csv line 5 field 'Quantity Transacted': '0.0l' is not a number"),
        ("x,2024-07-01 10:00:00 UTC,Buy,BTC,0.01,AUD,A$1,A$98O.00,A$994,A$14,",
         "transactions.csv line 5 field 'Subtotal': 'A$98O.00' is not a number"),
        ("x,2024-07-01 10:00:00 UTC,Buy,BTC,0.01,AUD,A$1,,A$994,A$14,",
         "transactions.csv line 5 field 'Subtotal': is empty (the quote amount)"),
        ("x,July 1 2024,Buy,BTC,0.01,AUD,A$1,A$980,A$994,A$14,",
         "transactions.csv line 5 field 'Timestamp': 'July 1 2024' is not a date and time"),
        ("x,2024-07-05 14:00:00 UTC,Convert,ETH,-0.1,AUD,A$1,A$495,A$500,A$5,"
         "Converted 0.1 BTC to 328.5 USDC",
         "transactions.csv line 5 field 'Notes': 'Converted 0.1 BTC to 328.5 USDC' does not "
         "name the row's ETH"),
    ],
)  # fmt: skip
def test_a_bad_cell_names_the_file_line_and_field(tmp_path: Path, row: str, message: str) -> None:
    path = _write(tmp_path, V4, row)
    with pytest.raises(ExportRowError) as caught:
        _read(path)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("header", "known"),
    [
        (V4, True),
        (V4 + ",Sender Address,Recipient Address", True),
        (V4.removeprefix("ID,"), True),
        (V3, True),
        (V2, True),
        (V1, True),
        ("txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol,margin,misc,ledgers", False),
        ("txid,refid,time,type,subtype,aclass,asset,amount,fee,balance", False),
        ("User_ID,UTC_Time,Account,Operation,Coin,Change,Remark", False),
        ("Date(UTC),Pair,Side,Price,Executed,Amount,Fee", False),
        ("Transactions", False),
        ("User,Jane,1", False),
    ],
)
def test_detect_knows_each_coinbase_header_and_no_other(header: str, known: bool) -> None:
    assert FORMAT.detect(tuple(normalised_header(header.split(",")))) is known
