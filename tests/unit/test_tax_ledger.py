"""The transactions CSV of docs/domain.md "Contracts": every row checked, all-or-nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lyra.compliance.ledger import HEADER, LedgerError, parse_ledger, read_ledger
from tests.support.tax import csv_text, ledger

SAMPLE = Path(__file__).resolve().parents[1] / "support" / "tax" / "sample.csv"


def test_header_is_exactly_the_contract() -> None:
    """docs/domain.md "Contracts": the header, in this order."""
    assert ",".join(HEADER) == (
        "timestamp,type,asset,quantity,aud_value,fee_aud,to_asset,to_quantity,"
        "given_aud_value,exchange,counterparty,id,lot"
    )


def test_sample_file_reads_with_values_and_their_source() -> None:
    """docs/tax.md "Records": each row keeps its AUD value and the value's source."""
    rows = read_ledger(SAMPLE)
    assert len(rows) == 11
    first = rows[0]
    assert first.timestamp == datetime(2023, 8, 1, tzinfo=UTC)
    assert first.aud_value == Decimal("20000.00")
    assert first.fee_aud == Decimal("20.00")
    assert first.aud_source == "csv:sample.csv"
    assert {r.type for r in rows} >= {"buy", "sell", "swap", "income", "chain_split", "lost"}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2024-01-01T00:00:00Z,trade,BTC,1,100,,,,,x,,a,", "type 'trade'"),
        ("2024-01-01T00:00:00,buy,BTC,1,100,,,,,x,,a,", "no timezone"),
        ("yesterday,buy,BTC,1,100,,,,,x,,a,", "not ISO 8601"),
        ("2024-01-01T00:00:00Z,buy,BTC,0,100,,,,,x,,a,", "quantity must be greater than 0"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,,,,,,x,,a,", "aud_value is required for buy"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,1e,,,,,x,,a,", "aud_value '1e' is not a number"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,NaN,,,,,x,,a,", "not a finite number"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,-5,,,,,x,,a,", "must not be negative"),
        ("2024-01-01T00:00:00Z,swap,BTC,1,100,,,,,x,,a,", "swap needs to_asset"),
        ("2024-01-01T00:00:00Z,swap,BTC,1,,,ETH,2,,x,,a,", "aud_value (received) or given"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,x,,a,Z", "lot is only for disposals"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,100", "expected 13 fields"),
    ],
)
def test_a_bad_row_names_its_line_and_reason(row: str, reason: str) -> None:
    """Import stops at a bad row with its line number (the header is line 1)."""
    good = "2023-01-01T00:00:00Z,buy,ETH,1,100,,,,,x,,g,"
    with pytest.raises(LedgerError) as caught:
        ledger(good, row)
    assert caught.value.line == 3
    assert reason in str(caught.value)
    assert "line 3" in str(caught.value)


def test_nothing_is_returned_when_a_later_row_is_bad() -> None:
    """All-or-nothing: 1,000 good rows then a bad one give an error, not 1,000 rows."""
    rows = [f"2023-01-01T00:00:00Z,buy,ETH,1,100,,,,,x,,g{i}," for i in range(1000)]
    rows.append("2023-01-01T00:00:00Z,buy,ETH,1,oops,,,,,x,,bad,")
    result = None
    with pytest.raises(LedgerError, match="line 1002"):
        result = ledger(*rows)
    assert result is None


def test_duplicate_ids_and_wrong_header_are_refused() -> None:
    """An id names one row (the ``lot`` column refers to it), and the header is fixed."""
    with pytest.raises(LedgerError, match="used twice"):
        ledger(
            "2023-01-01T00:00:00Z,buy,ETH,1,100,,,,,x,,same,",
            "2023-01-02T00:00:00Z,buy,ETH,1,100,,,,,x,,same,",
        )
    with pytest.raises(LedgerError, match="header"):
        parse_ledger(io.StringIO("date,kind\n"))
    with pytest.raises(LedgerError, match="empty"):
        parse_ledger(io.StringIO(""))


def test_timestamps_with_offsets_become_utc_and_ids_default_to_the_line() -> None:
    """Time is tz-aware UTC inside; a row without id gets ``L<line>``."""
    (row,) = ledger("2024-07-01T10:00:00+10:00,buy,btc,1,100,,,,,BTCMarkets,,,")
    assert row.timestamp == datetime(2024, 7, 1, 0, tzinfo=UTC)
    assert row.asset == "BTC"
    assert row.exchange == "btcmarkets"
    assert row.id == "L2"


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    """A clear error naming the file."""
    with pytest.raises(Exception, match="does not exist"):
        read_ledger(tmp_path / "nope.csv")
    assert csv_text().startswith("timestamp,")
