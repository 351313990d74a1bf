"""``--exchange auto`` tells the Australian venues' exports apart by their headers: each
fixture is detected by its own format only, every header variant is accepted, and no
other venue's export (every fixture under tests/support/exports, and the documented
headers of Kraken, Binance and Coinbase) is taken for an Australian one."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lyra.compliance.importers import btcmarkets, coinspot, independent_reserve, swyftx
from lyra.compliance.importers.formats import ExportFormat, normalised_header

EXPORTS = Path(__file__).parents[1] / "support" / "exports"
OURS: dict[str, ExportFormat] = {
    "coinspot": coinspot.FORMAT,
    "swyftx": swyftx.FORMAT,
    "btcmarkets": btcmarkets.FORMAT,
    "independent_reserve": independent_reserve.FORMAT,
}
#: Headers the other venues document (Kraken trades and ledgers, Binance trade
#: history, Coinbase transaction history), in case their fixtures are not there yet.
OTHER_HEADERS = (
    "txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol,margin,misc,ledgers",
    "txid,refid,time,type,subtype,aclass,asset,amount,fee,balance",
    "Date(UTC),Pair,Side,Price,Executed,Amount,Fee",
    "ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,"
    "Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),"
    "Fees and/or Spread,Notes",
)


def _first_rows(path: Path) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [
            normalised_header(cells)
            for _, cells in zip(range(10), csv.reader(handle), strict=False)
        ]


def _fixtures(venue: str) -> list[Path]:
    return sorted((EXPORTS / venue).glob("*.csv"))


@pytest.mark.parametrize("venue", sorted(OURS))
def test_each_export_is_detected_by_its_own_format_only(venue: str) -> None:
    files = _fixtures(venue)
    assert files, f"no {venue} fixtures"
    for path in files:
        header = _first_rows(path)[0]
        claimed = [name for name, fmt in OURS.items() if fmt.detect(header)]
        assert claimed == [venue], path.name


def test_no_other_venues_export_is_taken_for_an_australian_one() -> None:
    others = [p for p in sorted(EXPORTS.glob("*/*.csv")) if p.parent.name not in OURS]
    headers = [row for path in others for row in _first_rows(path)]
    headers += [normalised_header(h.split(",")) for h in OTHER_HEADERS]
    for header in headers:
        assert not any(fmt.detect(header) for fmt in OURS.values()), header


@pytest.mark.parametrize(
    ("venue", "header"),
    [
        (
            "coinspot",
            "Transaction Date,Type,Market,Amount,Rate inc fee,Rate ex fee,Fee,"
            "Fee AUD (inc GST),GST AUD,Total AUD,Total (inc GST)",
        ),
        ("coinspot", "\ufeffTransaction Date,Type,Coin,Status,Fee,Amount,Address,Txid,Aud"),
        (
            "swyftx",
            "Date,Time,Event,Asset,Amount,Currency,Value,Rate,AUD Value,Fee Amount,"
            "Fee Asset,Fee AUD Value,GST,ExGST",
        ),
        (
            "btcmarkets",
            "id,creationTime,description,assetName,amount,balance,type,recordType,referenceId",
        ),
        (
            "btcmarkets",
            "Transaction Id,Transaction Date and Timestamp,Transaction,Asset,"
            "Market Id,Volume,Price (AUD),Fee (AUD),Nett Value (AUD),Reference Id",
        ),
        (
            "independent_reserve",
            "Trade Guid,Trade Timestamp Utc,Order Guid,Order Type,"
            "Volume Traded,Price,Primary Currency Code,"
            "Secondary Currency Code",
        ),
        (
            "independent_reserve",
            "Created Timestamp Utc,Type,Status,Currency Code,Credit,Debit,Balance",
        ),
    ],
)
def test_header_variants_are_detected(venue: str, header: str) -> None:
    normalised = normalised_header(header.split(","))
    assert [name for name, fmt in OURS.items() if fmt.detect(normalised)] == [venue]


def test_the_formats_are_named_as_the_issue_contract_says() -> None:
    assert [(f.name, f.venue) for f in OURS.values()] == [
        ("coinspot", "coinspot"),
        ("swyftx", "swyftx"),
        ("btcmarkets", "btcmarkets"),
        ("independent-reserve", "independentreserve"),
    ]
    assert all(f.documented.startswith("https://") for f in OURS.values())
