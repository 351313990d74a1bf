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


GOOD = "2023-01-01T00:00:00Z,buy,ETH,1,100,,,,,x,,g,"


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        # values no exchange produces (docs/tax.md "Ledger input bounds")
        ("2024-01-01T00:00:00Z,buy,BTC,1,1e100000000,,,,,x,,a,", "aud_value", "out of range"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,1e50,,,,,x,,a,", "aud_value", "out of range"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,1e15,,,,,x,,a,", "aud_value", "below 1e+15"),
        ("2024-01-01T00:00:00Z,buy,BTC,1e999999999,1,,,,,x,,a,", "quantity", "out of range"),
        ("2024-01-01T00:00:00Z,buy,BTC,1e20,1,,,,,x,,a,", "quantity", "below 1e+20"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,100,1e-30,,,,x,,a,", "fee_aud", "18 decimal places"),
        ("2024-01-01T00:00:00Z,swap,BTC,1,,,ETH,1e21,5,x,,a,", "to_quantity", "out of range"),
        ("2024-01-01T00:00:00Z,swap,BTC,1,,,ETH,1,9e99,x,,a,", "given_aud_value", "range"),
        (
            "2024-01-01T00:00:00Z,buy,BTC,1," + "9" * 5000 + ",,,,,x,,a,",
            "aud_value",
            "5,000 characters",
        ),
        ("0001-01-01T00:00:00+10:00,buy,BTC,1,100,,,,,x,,a,", "timestamp", "outside 2009-01-03"),
        ("0001-01-01T00:00:00Z,buy,BTC,1,100,,,,,x,,a,", "timestamp", "bitcoin's first block"),
        ("2008-12-31T00:00:00Z,buy,BTC,1,100,,,,,x,,a,", "timestamp", "outside"),
        ("9999-12-31T23:59:59-10:00,buy,BTC,1,100,,,,,x,,a,", "timestamp", "outside"),
        ("2024-01-01T00:00:00Z,buy," + "B" * 33 + ",1,100,,,,,x,,a,", "asset", "at most 32"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,x," + "c" * 201 + ",a,", "counterparty", "200"),
        ("2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,x,,a" + "i" * 128 + ",", "id", "at most 128"),
    ],
)
def test_out_of_bounds_values_name_line_and_field(row: str, field: str, words: str) -> None:
    """Numbers bounded in length, places and magnitude; times in 2009-01-03 .. now + 1 day;
    text by its stored column: one error naming the file, the line and the field."""
    with pytest.raises(LedgerError) as caught:
        ledger(GOOD, row)
    error = caught.value
    assert (error.line, error.field, error.source) == (3, field, "test.csv")
    assert str(error).startswith(f"test.csv line 3: {field}")
    assert words in str(error)
    assert len(str(error)) < 200  # a 5,000-digit value is not echoed back
    assert "\n" not in str(error)


def test_the_bounds_themselves_are_accepted() -> None:
    """The largest and smallest values the store keeps exactly are read as written;
    trailing zeros past 18 places are only zeros."""
    (row,) = ledger(
        "2009-01-03T00:00:00Z,swap,BTC,99999999999999999999.999999999999999999,"
        "999999999999999.99,0.000000000000000001,ETH,0.1000000000000000000000,,x,,a,"
    )
    assert row.quantity == Decimal("99999999999999999999.999999999999999999")
    assert row.aud_value == Decimal("999999999999999.99")
    assert row.fee_aud == Decimal("1e-18")
    assert row.to_quantity == Decimal("0.1")
    assert row.to_quantity.as_tuple().exponent == -18


def test_a_row_dated_after_tomorrow_is_refused() -> None:
    """``now`` sets the window's end: a day's margin for clocks and time zones, no more."""
    now = datetime(2025, 1, 1, tzinfo=UTC)
    text = csv_text("2025-01-01T23:00:00Z,buy,BTC,1,100,,,,,x,,a,")
    assert len(parse_ledger(io.StringIO(text), now=now)) == 1
    late = csv_text("2025-01-02T00:00:01Z,buy,BTC,1,100,,,,,x,,a,")
    with pytest.raises(LedgerError, match=r"line 2: timestamp .* to 2025-01-02 \(a day after"):
        parse_ledger(io.StringIO(late), now=now)


def test_a_field_past_the_csv_size_limit_is_named_not_a_traceback() -> None:
    """A 200 KB field (past the ``csv`` module's 128 KiB limit) is a LedgerError with its
    line; one just under it is refused by its column's length."""
    huge = "2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,x," + "c" * 200_000 + ",a,"
    with pytest.raises(LedgerError, match=r"^test\.csv line 3: cannot be read as CSV: field"):
        ledger(GOOD, huge)
    big = "2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,x," + "c" * 100_000 + ",a,"
    with pytest.raises(LedgerError, match=r"line 3: counterparty is 100,000 characters long"):
        ledger(GOOD, big)


def test_line_numbers_count_physical_lines_with_quoted_newlines() -> None:
    """A quoted field holding a line break makes the next record start a line later."""
    with pytest.raises(LedgerError, match="line 4: aud_value"):
        ledger(
            '2023-01-01T00:00:00Z,buy,ETH,1,100,,,,,x,"two\nlines",g,',
            "2024-01-01T00:00:00Z,buy,BTC,1,x,,,,,x,,a,",
        )


def test_a_ledger_with_a_bom_reads(tmp_path: Path) -> None:
    """Spreadsheet exports start with a UTF-8 byte order mark; it is not part of the header."""
    path = tmp_path / "bom.csv"
    path.write_text(csv_text(GOOD), encoding="utf-8-sig")
    assert [t.id for t in read_ledger(path)] == ["g"]
