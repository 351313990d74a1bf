"""Binance's transaction history statement and spot trade history read into records."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lyra.compliance.importers.binance import FORMATS, STATEMENT, TRADE_HISTORY
from lyra.compliance.importers.detect import detect_format, export_rows
from lyra.compliance.importers.formats import ExportFormat, ExportRowError, normalised_header
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

EXPORTS = Path(__file__).resolve().parents[1] / "support" / "exports" / "binance"
SYDNEY = ZoneInfo("Australia/Sydney")
D = Decimal
STATEMENT_V3 = "User ID,Time,Account,Operation,Coin,Change,Remark"


def _read(path: Path, zone: ZoneInfo = SYDNEY) -> tuple[ExportFormat, list[Record]]:
    found = detect_format(path, FORMATS, shown=path.name)
    rows = export_rows(path, found.header_line, shown=path.name)
    return found.format, list(found.format.read(path.name, found.header, rows, zone))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _write(tmp_path: Path, name: str, header: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def test_statement_merges_each_trades_rows_and_types_every_other_row() -> None:
    """A trade's rows at one UTC_Time become one trade (fee in BNB or in the coin
    received; two fills in one second summed; a reward row between them read on its
    own); money deposits yield nothing; coin deposits and withdrawals are movements;
    rewards are income; wallet transfers, dust conversion and two trades of different
    coins in one second are review items."""
    fmt, records = _read(EXPORTS / "statement.csv")
    src = "statement.csv"
    assert fmt is STATEMENT
    assert records == [
        Trade(_utc("2024-01-05 02:00:00"), "binance", "buy", "BTC", D("0.015"), "AUD",
              D("1000"), "BNB", D("0.002"), D("1000"), "", SourceRef(src, (3, 4, 5))),
        Receipt(_utc("2024-01-06 03:00:00"), "binance", "USDT", D("0.0123"), None,
                "Simple Earn Flexible Interest", "", SourceRef(src, (8,))),
        Trade(_utc("2024-01-06 03:00:00"), "binance", "sell", "ETH", D("0.5"), "USDT",
              D("1150"), "USDT", D("1.15"), None, "", SourceRef(src, (6, 7, 9))),
        Trade(_utc("2024-01-07 04:00:00"), "binance", "buy", "BTC", D("0.03"), "USDT",
              D("1260"), "BNB", D("0.0015"), None, "",
              SourceRef(src, (10, 11, 12, 13, 14, 15))),
        Movement(_utc("2024-01-08 05:00:00"), "binance", "in", "BTC", D("0.05"), D("0"), "",
                 "", "", SourceRef(src, (16,))),
        Movement(_utc("2024-01-09 06:00:00"), "binance", "out", "ETH", D("0.2"), D("0"), "",
                 "", "", SourceRef(src, (17,))),
        Receipt(_utc("2024-01-10 07:00:00"), "binance", "DOT", D("0.5"), None,
                "Staking Rewards", "", SourceRef(src, (18,))),
        Receipt(_utc("2024-01-11 08:00:00"), "binance", "ARB", D("10"), None, "Distribution",
                "", SourceRef(src, (19,))),
        Receipt(_utc("2024-01-12 09:00:00"), "binance", "BNB", D("0.0001"), None,
                "Commission Rebate", "", SourceRef(src, (20,))),
        Unrecognised("binance", "Transfer Between Main and Funding Wallet", "Spot -100 USDT",
                     SourceRef(src, (21,))),
        Unrecognised("binance", "Small Assets Exchange BNB", "Spot -12000 SHIB",
                     SourceRef(src, (22,))),
        Unrecognised("binance", "trade",
                     "Spot 2024-01-15 12:00:00: 0.01 BTC, -650 USDT, 0.1 ETH is not one coin "
                     "for another", SourceRef(src, (23, 24, 25, 26))),
    ]  # fmt: skip


def test_trade_history_splits_each_quantity_from_its_coin() -> None:
    """``Executed``/``Amount``/``Fee`` carry their coin; the pair is split by them (so
    1INCH is one coin), fees in BNB or the base or quote coin, USDT, BTC and AUD quotes,
    thousands separators."""
    fmt, records = _read(EXPORTS / "trades.csv")
    assert fmt is TRADE_HISTORY

    def src(line: int) -> SourceRef:
        return SourceRef("trades.csv", (line,))

    assert records == [
        Trade(_utc("2024-02-01 10:00:00"), "binance", "buy", "BTC", D("0.001"), "USDT",
              D("42"), "BNB", D("0.000075"), None, "", src(2)),
        Trade(_utc("2024-02-02 11:00:00"), "binance", "sell", "ETH", D("1"), "BTC",
              D("0.055"), "BTC", D("0.000055"), None, "", src(3)),
        Trade(_utc("2024-02-03 12:00:00"), "binance", "sell", "BTC", D("0.01"), "AUD",
              D("650"), "AUD", D("0.65"), D("650"), "", src(4)),
        Trade(_utc("2024-02-04 13:00:00"), "binance", "buy", "1INCH", D("100.0"), "USDT",
              D("50.005"), "1INCH", D("0.1"), None, "", src(5)),
        Trade(_utc("2024-02-05 14:00:00"), "binance", "buy", "BNB", D("5"), "USDT",
              D("1500"), "BNB", D("0.00375"), None, "", src(6)),
    ]  # fmt: skip


def test_older_trade_history_with_market_and_fee_coin_columns() -> None:
    """``Market`` split by its quote; a two-digit year (``21-05-02``) is 2021."""
    fmt, records = _read(EXPORTS / "trades_2021.csv")
    assert fmt is TRADE_HISTORY
    assert records == [
        Trade(_utc("2021-05-01 01:02:03"), "binance", "buy", "ETH", D("2"), "BTC", D("0.12"),
              "BNB", D("0.0015"), None, "", SourceRef("trades_2021.csv", (2,))),
        Trade(_utc("2021-05-02 01:02:03"), "binance", "sell", "BTC", D("0.1"), "USDT",
              D("5000"), "USDT", D("5"), None, "", SourceRef("trades_2021.csv", (3,))),
    ]  # fmt: skip


def test_a_date_header_with_an_offset_reads_times_at_that_offset(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "trades.csv",
        "Date(UTC+8),Pair,Side,Price,Executed,Amount,Fee",
        "2024-02-01 18:00:00,BTCUSDT,BUY,42000,0.001BTC,42USDT,0",
    )
    _, records = _read(path)
    assert [r.at for r in records if isinstance(r, Trade)] == [_utc("2024-02-01 10:00:00")]


def test_newer_statement_times_use_the_offset_binance_puts_in_the_file_name(
    tmp_path: Path,
) -> None:
    """``User ID,Time,...``: times in the timezone chosen at export, named in the file
    (a fixed offset, not the declared timezone's daylight saving)."""
    path = _write(
        tmp_path,
        "Binance-Transaction-History-(UTC+10)-part1.csv",
        STATEMENT_V3,
        "1,2024-04-07 02:30:00,Spot,Deposit,BTC,0.1,",
    )
    _, records = _read(path)
    assert [r.at for r in records if isinstance(r, Movement)] == [_utc("2024-04-06 16:30:00")]


def test_newer_statement_without_an_offset_reads_the_declared_timezone(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "statement.csv", STATEMENT_V3, "1,2024-01-15 10:00:00,Spot,Deposit,BTC,0.1,"
    )
    _, records = _read(path, SYDNEY)
    assert [r.at for r in records if isinstance(r, Movement)] == [_utc("2024-01-14 23:00:00")]


def test_a_time_daylight_saving_makes_ambiguous_is_an_error_naming_the_row(
    tmp_path: Path,
) -> None:
    """02:30 on 7 April 2024 happens twice in Sydney: refused, never guessed."""
    path = _write(
        tmp_path,
        "statement.csv",
        STATEMENT_V3,
        "1,2024-04-06 12:00:00,Spot,Deposit,BTC,0.1,",
        "1,2024-04-07 02:30:00,Spot,Deposit,BTC,0.1,",
    )
    with pytest.raises(ExportRowError) as caught:
        _read(path, SYDNEY)
    assert str(caught.value) == (
        "statement.csv line 3 field 'Time': 2024-04-07 02:30:00 happens twice in "
        "Australia/Sydney (daylight saving ends); add the UTC offset"
    )


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("User_ID,UTC_Time,Account,Operation,Coin,Change,Remark",
         "1,2024-01-05 02:00:00,Spot,Transaction Buy,BTC,0.0.1,",
         "statement.csv line 2 field 'Change': '0.0.1' is not a number"),
        ("User_ID,UTC_Time,Account,Operation,Coin,Change,Remark",
         "1,05/01/2024 02:00,Spot,Deposit,BTC,0.1,",
         "statement.csv line 2 field 'UTC_Time': '05/01/2024 02:00' is not a date and time"),
        ("Date(UTC),Pair,Side,Price,Executed,Amount,Fee",
         "2024-02-01 10:00:00,ETHUSDT,BUY,42000,0.001BTC,42USDT,0",
         "statement.csv line 2 field 'Pair': 'ETHUSDT' does not split into the coins of "
         "Executed and Amount"),
        ("Date(UTC),Pair,Side,Price,Executed,Amount,Fee",
         "2024-02-01 10:00:00,BTCUSDT,BUY,42000,0.001BTC,lotsUSDT,0",
         "statement.csv line 2 field 'Amount': 'lotsUSDT' is not a quantity and its coin"),
        ("Date(UTC),Pair,Side,Price,Executed,Amount,Fee",
         "2024-02-01 10:00:00,BTCUSDT,BUY,42000,0.001BTC,42USDT,some BNB",
         "statement.csv line 2 field 'Fee': 'some BNB' is not a quantity and its coin"),
    ],
)  # fmt: skip
def test_a_bad_cell_names_the_file_line_and_field(
    tmp_path: Path, header: str, row: str, message: str
) -> None:
    path = _write(tmp_path, "statement.csv", header, row)
    with pytest.raises(ExportRowError) as caught:
        _read(path)
    assert str(caught.value) == message


OTHERS = (
    "txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol,margin,misc,ledgers",
    "txid,refid,time,type,subtype,aclass,asset,amount,fee,balance",
    "ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,"
    "Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),"
    "Fees and/or Spread,Notes",
    "Transaction Date,Type,Market,Amount,Rate inc. fee,Rate ex. fee,Fee,Fee AUD (inc GST),"
    "GST AUD,Total AUD,Total (inc GST)",
)


@pytest.mark.parametrize(
    ("header", "statement", "history"),
    [
        ("User_ID,UTC_Time,Account,Operation,Coin,Change,Remark", True, False),
        ("UTC_Time,Account,Operation,Coin,Change,Remark", True, False),
        ("\ufeff" + STATEMENT_V3, True, False),
        ("Date(UTC),Pair,Side,Price,Executed,Amount,Fee", False, True),
        ("Date(UTC+10),Pair,Side,Price,Executed,Amount,Fee", False, True),
        ("Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin", False, True),
        ("Date,Pair,Side,Price,Executed,Amount,Fee", False, False),
        *((other, False, False) for other in OTHERS),
    ],
)  # fmt: skip
def test_detect_knows_each_binance_header_and_no_other(
    header: str, statement: bool, history: bool
) -> None:
    cells = tuple(normalised_header(header.split(",")))
    assert (STATEMENT.detect(cells), TRADE_HISTORY.detect(cells)) == (statement, history)


def test_a_trade_with_fees_in_two_coins_charges_the_second_on_its_own(tmp_path: Path) -> None:
    """Only one fee fits a trade; a fee in a second coin is a disposal of that coin."""
    path = _write(
        tmp_path, "statement.csv", "User_ID,UTC_Time,Account,Operation,Coin,Change,Remark",
        "1,2024-03-01 00:00:00,Spot,Transaction Spend,USDT,-100,",
        "1,2024-03-01 00:00:00,Spot,Transaction Buy,ETH,0.03,",
        "1,2024-03-01 00:00:00,Spot,Transaction Fee,BNB,-0.0001,",
        "1,2024-03-01 00:00:00,Spot,Transaction Fee,ETH,-0.00001,",
    )  # fmt: skip
    _, records = _read(path)
    src = SourceRef("statement.csv", (2, 3, 4, 5))
    at = _utc("2024-03-01 00:00:00")
    assert records == [
        Trade(at, "binance", "buy", "ETH", D("0.03"), "USDT", D("100"), "BNB", D("0.0001"),
              None, "", src),
        Charge(at, "binance", "ETH", D("0.00001"), "", src),
    ]  # fmt: skip
