"""Kraken's trades and ledgers exports read into the importers' records, quirks included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lyra.compliance.importers.detect import detect_format, export_rows
from lyra.compliance.importers.formats import ExportFormat, ExportRowError, normalised_header
from lyra.compliance.importers.kraken import FORMATS, LEDGERS, TRADES, kraken_asset, split_pair
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

EXPORTS = Path(__file__).resolve().parents[1] / "support" / "exports" / "kraken"
SYDNEY = ZoneInfo("Australia/Sydney")
D = Decimal


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


def test_trades_export_pairs_fees_and_quotes_as_kraken_documents_them() -> None:
    """Legacy pair codes split and renamed (XXBTZAUD -> BTC/AUD), cost and fee in the
    quote, AUD value only on an AUD pair; a margin trade and an unknown pair are review
    items, not guesses."""
    fmt, records = _read(EXPORTS / "trades.csv")
    src = "trades.csv"
    assert fmt is TRADES
    assert records == [
        Trade(_utc("2024-01-15 03:12:45.1234"), "kraken", "buy", "BTC", D("0.02"), "AUD",
              D("1240"), "AUD", D("3.224"), D("1240"), "TQ7BNF-2Y4GI-ZMU2TD",
              SourceRef(src, (2,))),
        Trade(_utc("2024-02-01 10:00:00.5"), "kraken", "sell", "ETH", D("0.5"), "USD",
              D("1150"), "USD", D("2.99"), None, "TH3SEL-L5ETH-USDTAA", SourceRef(src, (3,))),
        Trade(_utc("2024-03-03 23:59:59"), "kraken", "buy", "BTC", D("0.01"), "USDT",
              D("650"), "USDT", D("1.69"), None, "TUSDT1-BTC00-AAAAAA", SourceRef(src, (4,))),
        Trade(_utc("2024-03-04 00:00:01"), "kraken", "sell", "ETH", D("1"), "BTC",
              D("0.052"), "BTC", D("0.0001352"), None, "TETHBT-C0000-AAAAAA",
              SourceRef(src, (5,))),
        Unrecognised("kraken", "trade buy", "TMARGN-00000-AAAAAA XXBTZUSD: a margin trade",
                     SourceRef(src, (6,))),
        Unrecognised("kraken", "trade buy", "TODDPR-00000-AAAAAA FOO: pair 'FOO'",
                     SourceRef(src, (7,))),
    ]  # fmt: skip


def test_newer_trades_header_with_asset_class_columns_reads_the_same() -> None:
    """The 2024 layout adds ``aclass,subclass`` after ``pair``: columns are found by
    name. ``BLZEUR`` is BLZ/EUR, not BL/ZEUR."""
    fmt, records = _read(EXPORTS / "trades_2024.csv")
    src = SourceRef("trades_2024.csv", (2,))
    assert fmt is TRADES
    assert records == [
        Trade(_utc("2024-05-20 07:30:00.0001"), "kraken", "buy", "SOL", D("2"), "AUD",
              D("500"), "AUD", D("1.3"), D("500"), "TSOL01-AUD00-AAAAAA", src),
        Trade(_utc("2024-05-21 07:30:00"), "kraken", "sell", "BLZ", D("100"), "EUR",
              D("25"), "EUR", D("0.065"), None, "TBLZ01-EUR00-AAAAAA",
              SourceRef("trades_2024.csv", (3,))),
    ]  # fmt: skip


def test_ledgers_merge_a_trades_rows_and_type_every_other_row() -> None:
    """One trade = the rows sharing a refid (in any order, fee on either row); a crypto
    withdrawal's quantity is what left the balance (amount plus fee) with the fee stated;
    money deposits yield nothing; staking and Earn rewards are income; transfers, Earn
    allocations, a lone trade row and a row without a txid are review items."""
    fmt, records = _read(EXPORTS / "ledgers.csv")
    src = "ledgers.csv"
    assert fmt is LEDGERS
    assert records == [
        Trade(_utc("2024-01-15 03:12:45.1234"), "kraken", "buy", "BTC", D("0.02"), "AUD",
              D("1240"), "AUD", D("3.224"), D("1240"), "TQ7BNF-2Y4GI-ZMU2TD",
              SourceRef(src, (3, 4))),
        Trade(_utc("2024-02-01 10:00:00.5"), "kraken", "sell", "ETH", D("0.5"), "USDT",
              D("1150"), "USDT", D("2.99"), None, "TL5ETH-USDT0-AAAAAA",
              SourceRef(src, (5, 6))),
        Movement(_utc("2024-02-10 08:00:00"), "kraken", "out", "BTC", D("0.01505"),
                 D("0.00005"), "", "", "LWD001-AAAAA-AAAAAA", SourceRef(src, (7,))),
        Movement(_utc("2024-02-11 09:30:00"), "kraken", "in", "ETH", D("1"), D("0"), "", "",
                 "LDEP02-AAAAA-AAAAAA", SourceRef(src, (8,))),
        Receipt(_utc("2024-03-01 00:10:00"), "kraken", "DOT", D("0.123456"), None, "staking",
                "LSTK01-AAAAA-AAAAAA", SourceRef(src, (9,))),
        Receipt(_utc("2024-03-02 00:10:00"), "kraken", "SOL", D("0.01"), None, "earn/reward",
                "LERN01-AAAAA-AAAAAA", SourceRef(src, (10,))),
        Unrecognised("kraken", "earn/allocation", "ERNBBBB-BBBBB-CCCCCC -2.0100000000 SOL",
                     SourceRef(src, (11,))),
        Unrecognised("kraken", "transfer/spotfromfutures",
                     "TRFAAAA-BBBBB-CCCCCC 0.0100000000 XXBT", SourceRef(src, (12,))),
        Trade(_utc("2024-03-04 06:00:00"), "kraken", "buy", "SOL", D("0.5"), "AUD", D("100"),
              "AUD", D("1.5"), D("100"), "BUYCRYP-TOBTN-AAAAAA", SourceRef(src, (13, 14))),
        Unrecognised("kraken", "withdrawal",
                     "FTpend-V6Za8qrWnhzTx67rYHz8Tg -0.2000000000 XETH: no txid",
                     SourceRef(src, (16,))),
        Unrecognised("kraken", "trade",
                     "refid TLONE0-AAAAA-AAAAAA (-50.0000 USD) is not one asset for another",
                     SourceRef(src, (15,))),
    ]  # fmt: skip


def test_one_trade_in_both_exports_is_the_same_record_with_the_same_ref() -> None:
    """The ledger rows' refid is the trades export's txid: both files give one record
    (one ledger id), so importing both finds a duplicate instead of adding a trade."""
    _, trades = _read(EXPORTS / "trades.csv")
    _, ledgers = _read(EXPORTS / "ledgers.csv")
    in_trades = [r for r in trades if isinstance(r, Trade) and r.ref == "TQ7BNF-2Y4GI-ZMU2TD"]
    in_ledgers = [r for r in ledgers if isinstance(r, Trade) and r.ref == "TQ7BNF-2Y4GI-ZMU2TD"]
    assert len(in_trades) == len(in_ledgers) == 1
    assert replace(in_trades[0], source=in_ledgers[0].source) == in_ledgers[0]


def test_old_ledgers_header_and_a_fee_in_fee_credits_become_the_trades_fee() -> None:
    """The 2019 layout (no subclass or wallet, a trailing empty column); the fee paid in
    KFEE credits on a third row with amount 0 is the trade's fee, in KFEE."""
    fmt, records = _read(EXPORTS / "ledgers_2019.csv")
    assert fmt is LEDGERS
    assert records == [
        Trade(_utc("2019-06-01 12:00:00.0001"), "kraken", "buy", "BTC", D("1"), "USD",
              D("8000"), "KFEE", D("1280"), None, "TKFEE0-AAAAA-AAAAAA",
              SourceRef("ledgers_2019.csv", (2, 3, 4))),
    ]  # fmt: skip


def test_a_trade_with_fees_in_two_assets_charges_the_second_on_its_own(tmp_path: Path) -> None:
    """Only one fee fits a trade; a fee in a second asset is a disposal of that coin."""
    path = _write(
        tmp_path,
        "ledgers.csv",
        "txid,refid,time,type,subtype,aclass,asset,amount,fee,balance",
        "L1,T1,2024-06-01 00:00:00,trade,,currency,ZAUD,-100,0.26,0",
        "L2,T1,2024-06-01 00:00:00,trade,,currency,XETH,0.02,0.00001,0.02",
    )
    _, records = _read(path)
    src = SourceRef("ledgers.csv", (2, 3))
    assert records == [
        Trade(_utc("2024-06-01 00:00:00"), "kraken", "buy", "ETH", D("0.02"), "AUD", D("100"),
              "AUD", D("0.26"), D("100"), "T1", src),
        Charge(_utc("2024-06-01 00:00:00"), "kraken", "ETH", D("0.00001"), "L2-fee", src),
    ]  # fmt: skip


def test_kraken_times_are_utc_even_where_the_declared_zone_would_be_ambiguous(
    tmp_path: Path,
) -> None:
    """Kraken documents its times as UTC: 02:30 on 7 April 2024 (twice in Sydney as
    daylight saving ends) is an instant, read the same in any declared timezone."""
    path = _write(
        tmp_path,
        "ledgers.csv",
        "txid,refid,time,type,subtype,aclass,asset,amount,fee,balance",
        "L1,S1,2024-04-07 02:30:00,staking,,currency,ETH2.S,0.001,0,1",
    )
    for zone in (SYDNEY, ZoneInfo("America/New_York")):
        _, records = _read(path, zone)
        assert [r.at for r in records if isinstance(r, Receipt)] == [_utc("2024-04-07 02:30:00")]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("L1,T1,2024-06-01 00:00:00,trade,,currency,ZAUD,-1x0,0,0",
         "ledgers.csv line 2 field 'amount': '-1x0' is not a number"),
        ("L1,T1,1 June 2024,trade,,currency,ZAUD,-100,0,0",
         "ledgers.csv line 2 field 'time': '1 June 2024' is not a date and time"),
        ("L1,T1,2024-06-01 00:00:00,deposit,,currency,XETH,1,abc,1",
         "ledgers.csv line 2 field 'fee': 'abc' is not a number"),
        ("L1,T1,2024-06-01 00:00:00",
         "ledgers.csv line 2 field 'type': missing (row has 3 fields)"),
    ],
)  # fmt: skip
def test_a_bad_ledger_cell_names_the_file_line_and_field(
    tmp_path: Path, row: str, message: str
) -> None:
    path = _write(
        tmp_path,
        "ledgers.csv",
        "txid,refid,time,type,subtype,aclass,asset,amount,fee,balance",
        row,
    )
    with pytest.raises(ExportRowError) as caught:
        _read(path)
    assert str(caught.value) == message


def test_a_negative_trade_volume_is_an_error_naming_the_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "trades.csv",
        "txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol",
        "T1,O1,XXBTZAUD,2024-06-01 00:00:00,buy,limit,1,1,0,-1",
    )
    with pytest.raises(ExportRowError, match=r"trades.csv line 2 field 'vol': '-1' is negative"):
        _read(path)


TRADES_HEADER = "txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol,margin,misc,ledgers"
LEDGERS_V1 = "txid,refid,time,type,subtype,aclass,asset,amount,fee,balance"
LEDGERS_V2 = "txid,refid,time,type,subtype,aclass,subclass,asset,wallet,amount,fee,balance"
OTHERS = (
    "User_ID,UTC_Time,Account,Operation,Coin,Change,Remark",
    "Date(UTC),Pair,Side,Price,Executed,Amount,Fee",
    "Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,"
    "Spot Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),"
    "Fees and/or Spread,Notes",
    "Date,Event,Asset,Amount,Currency,Value,Fee Amount,Fee Asset",
)


@pytest.mark.parametrize(
    ("header", "trades", "ledgers"),
    [
        (TRADES_HEADER, True, False),
        (TRADES_HEADER + ",postxid,posstatus,cprice,ccost,cfee,cvol,cmargin,net,trades",
         True, False),
        ("txid,ordertxid,pair,aclass,subclass,time,type,ordertype,price,cost,fee,vol,margin,"
         "misc,ledgers", True, False),
        (LEDGERS_V1, False, True),
        (LEDGERS_V1 + ",", False, True),
        (LEDGERS_V2, False, True),
        ("\ufeff" + LEDGERS_V2.upper(), False, True),
        *((other, False, False) for other in OTHERS),
    ],
)  # fmt: skip
def test_detect_knows_each_kraken_header_and_no_other(
    header: str, trades: bool, ledgers: bool
) -> None:
    cells = tuple(normalised_header(header.split(",")))
    assert (TRADES.detect(cells), LEDGERS.detect(cells)) == (trades, ledgers)


@pytest.mark.parametrize(
    ("code", "ticker"),
    [("XXBT", "BTC"), ("XBT", "BTC"), ("XETH", "ETH"), ("ZAUD", "AUD"), ("ZUSD", "USD"),
     ("XXDG", "DOGE"), ("DOT.S", "DOT"), ("XBT.M", "BTC"), ("USDT", "USDT"), ("XTZ", "XTZ")],
)  # fmt: skip
def test_kraken_asset_codes_become_the_usual_tickers(code: str, ticker: str) -> None:
    assert kraken_asset(code) == ticker


@pytest.mark.parametrize(
    ("pair", "split"),
    [("XXBTZAUD", ("BTC", "AUD")), ("XETHXXBT", ("ETH", "BTC")), ("XBTUSDT", ("BTC", "USDT")),
     ("USDTZUSD", ("USDT", "USD")), ("XTZAUD", ("XTZ", "AUD")), ("ETHPYUSD", ("ETH", "PYUSD")),
     ("XDGUSD", ("DOGE", "USD")), ("ETH/AUD", ("ETH", "AUD")), ("ZRXXBT", ("ZRX", "BTC")),
     ("FOO", None)],
)  # fmt: skip
def test_pairs_split_into_base_and_quote(pair: str, split: tuple[str, str] | None) -> None:
    assert split_pair(pair) == split
