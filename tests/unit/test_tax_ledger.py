"""The transactions CSV of docs/domain.md "Contracts": every row checked, all-or-nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import FrozenInstanceError, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lyra.compliance.csvsafe import safe_row
from lyra.compliance.ledger import HEADER, LedgerError, Txn, parse_ledger, read_ledger
from lyra.compliance.periods import sydney_date
from tests.support.tax import TEST_NOW, csv_text, ledger

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
        ("2024-10-06T02:30:00,buy,BTC,1,100,,,,,x,,a,", "does not exist in Australia/Sydney"),
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


# --- dates and timezones (docs/tax.md "Dates and timezones") -----------------------------


def _at(timestamp: str, zone: str = "Australia/Sydney") -> datetime:
    text = csv_text(f"{timestamp},buy,BTC,1,100,,,,,x,,a,")
    (row,) = parse_ledger(io.StringIO(text), now=TEST_NOW, timezone=ZoneInfo(zone))
    return row.timestamp


def test_a_date_alone_is_the_start_of_that_sydney_day() -> None:
    """The law counts local days: ``2024-03-01`` is midnight in Sydney (AEDT, +11:00),
    whatever timezone is declared for times without an offset."""
    assert _at("2024-03-01") == datetime(2024, 2, 29, 13, tzinfo=UTC)
    assert _at("2024-03-01", "UTC") == datetime(2024, 2, 29, 13, tzinfo=UTC)
    assert _at("2024-07-01", "America/New_York") == datetime(2024, 6, 30, 14, tzinfo=UTC)
    assert sydney_date(_at("2024-01-01", "UTC")) == date(2024, 1, 1)


def test_a_date_alone_keeps_its_sydney_date_in_standard_time_too() -> None:
    """Dates on the first day of an income year (AEST, +10:00) stay on that Sydney date,
    which the 12-month discount rule and the income year count (docs/tax.md)."""
    rows = ledger(
        "2023-07-01,buy,BTC,1,100,,,,,x,,b,",
        "2024-07-02,sell,BTC,1,300,,,,,x,,s,",
    )
    assert [sydney_date(r.timestamp) for r in rows] == [date(2023, 7, 1), date(2024, 7, 2)]
    assert [r.timestamp.hour for r in rows] == [14, 14]  # AEST midnight is 14:00 UTC


def test_a_time_without_offset_is_read_in_the_declared_timezone() -> None:
    """``2024-03-01T10:00:00`` in UTC and in Perth (+08:00) are eight hours apart; the
    default is Sydney."""
    naive = "2024-03-01T10:00:00"
    assert _at(naive, "UTC") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert _at(naive, "Australia/Perth") == datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert ledger(f"{naive},buy,BTC,1,100,,,,,x,,a,")[0].timestamp == datetime(
        2024, 2, 29, 23, tzinfo=UTC
    )
    assert _at("2024-03-01T10:00:00Z", "Australia/Perth") == datetime(2024, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timestamp", "why"),
    [
        ("2024-04-07T02:30:00", "happens twice in Australia/Sydney"),  # clocks go back at 3
        ("2024-10-06T02:30:00", "does not exist in Australia/Sydney"),  # forward at 2
        ("2024-04-07 02:30", "happens twice"),
    ],
)
def test_a_local_time_daylight_saving_makes_ambiguous_is_refused_by_line(
    timestamp: str, why: str
) -> None:
    """Never guessed: one error naming the file, the line and the field, with the reason
    and what to do (add the offset)."""
    with pytest.raises(LedgerError) as caught:
        ledger(GOOD, f"{timestamp},buy,BTC,1,100,,,,,x,,a,")
    error = caught.value
    assert (error.line, error.field) == (3, "timestamp")
    assert str(error).startswith("test.csv line 3: timestamp ")
    assert why in str(error)
    assert "add the UTC offset" in str(error)
    # the same wall-clock time with its offset, or in a zone without the change, is read
    assert _at(timestamp, "Australia/Brisbane").tzinfo is UTC


def test_wall_clock_times_outside_the_window_are_refused_not_overflowed() -> None:
    """Year 1 or 9999 without an offset cannot be placed in a zone (datetime overflows);
    it is outside the bounds, named as such."""
    for text in ("0001-01-01T00:00:00", "9999-12-31T23:59:59", "0001-01-01"):
        with pytest.raises(LedgerError, match=r"line 3: timestamp .* outside 2009-01-03"):
            ledger(GOOD, f"{text},buy,BTC,1,100,,,,,x,,a,")


def test_read_ledger_takes_the_timezone(tmp_path: Path) -> None:
    path = tmp_path / "naive.csv"
    path.write_text(csv_text("2024-03-01T10:00:00,buy,BTC,1,100,,,,,x,,a,"), encoding="utf-8")
    (row,) = read_ledger(path, timezone=ZoneInfo("UTC"))
    assert row.timestamp == datetime(2024, 3, 1, 10, tzinfo=UTC)


# --- extension columns -----------------------------------------------------------------


def _extended(header: str, *rows: str) -> tuple[Txn, ...]:
    text = "\n".join([",".join(HEADER) + header, *rows]) + "\n"
    return parse_ledger(io.StringIO(text), source="import.csv", now=TEST_NOW)


def test_extension_columns_keep_the_value_source_and_the_export_row() -> None:
    """``aud_source`` replaces ``csv:<file>`` when given; ``source`` is the export row."""
    base = "2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,kraken,"
    first, second = _extended(
        ",aud_source,source",
        f"{base},k1,,estimate:coingecko 2024-01-01 x fx:RBA,kraken.csv:12+13",
        f"{base},k2,,,kraken.csv:14",
    )
    assert (first.aud_source, first.source) == (
        "estimate:coingecko 2024-01-01 x fx:RBA",
        "kraken.csv:12+13",
    )
    assert (second.aud_source, second.source) == ("csv:import.csv", "kraken.csv:14")
    (only_source,) = _extended(",source", f"{base},k3,,coinspot.csv:2")
    assert (only_source.aud_source, only_source.source) == ("csv:import.csv", "coinspot.csv:2")
    (only_value,) = _extended(",aud_source", f"{base},k4,,export:kraken")
    assert (only_value.aud_source, only_value.source) == ("export:kraken", "")
    (plain,) = ledger(GOOD)
    assert plain.source == ""


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (",source,aud_source", "column 15 'aud_source' is repeated or out of order"),
        (",aud_source,aud_source", "column 15 'aud_source' is repeated or out of order"),
        (",provenance", "column 14 'provenance' is not a known column"),
        (",", "column 14 '' is not a known column"),
        (",aud_source,source,note", "column 16 'note' is not a known column"),
    ],
)
def test_unknown_or_misordered_extension_columns_are_refused(header: str, words: str) -> None:
    """Only aud_source then source may follow the contract's 13 columns: a typo is not
    silently ignored (its values would be lost)."""
    with pytest.raises(LedgerError) as caught:
        _extended(header)
    assert caught.value.line == 1
    assert str(caught.value).startswith(f"import.csv line 1: header {words}")
    assert "only aud_source, source may follow" in str(caught.value)


def test_extension_rows_have_every_column_and_bounded_lengths() -> None:
    base = "2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,kraken,,k1,"
    with pytest.raises(LedgerError, match="line 2: expected 15 fields, found 14"):
        _extended(",aud_source,source", f"{base},x")
    with pytest.raises(LedgerError, match=r"line 2: aud_source is 501 characters long"):
        _extended(",aud_source,source", f"{base},{'e' * 501},x")
    with pytest.raises(LedgerError, match=r"line 2: source is 4,097 characters long"):
        _extended(",source", f"{base},{'s' * 4097}")


# --- cells neutralised for spreadsheets (lyra.compliance.csvsafe) ------------------------


def test_neutralised_cells_read_back_as_written() -> None:
    """A ledger written through ``safe_cell`` (``'=HYPERLINK(...)``) reads back as the
    text it was given; an apostrophe inside a name is left alone."""
    given = [
        "2024-01-01T00:00:00+00:00",
        "swap",
        "=X",
        "1",
        "100",
        "",
        "@Y",
        "2",
        "",
        "+venue",
        '=HYPERLINK("http://evil.example","x")',
        "-id",
        "",
        "'=quoted already",
        "=cmd|' /C calc'!A0",
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [[*HEADER, "aud_source", "source"], safe_row(given)]
    )
    assert "'=HYPERLINK" in out.getvalue()
    (row,) = parse_ledger(io.StringIO(out.getvalue()), now=TEST_NOW)
    assert (row.asset, row.to_asset, row.exchange) == ("=X", "@Y", "+venue")
    assert row.counterparty == '=HYPERLINK("http://evil.example","x")'
    assert (row.id, row.aud_source, row.source) == ("-id", "'=quoted already", given[-1])
    (named,) = ledger("2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,x,O'Brien,'n,")
    assert (named.counterparty, named.id) == ("O'Brien", "'n")


def test_a_neutralised_cell_is_measured_without_its_quote() -> None:
    """An asset of the column's full 32 characters, written with its ``'``, still fits."""
    asset = "=" + "A" * 31
    (row,) = ledger(f"2024-01-01T00:00:00Z,buy,'{asset},1,100,,,,,x,,a,")
    assert row.asset == asset
    with pytest.raises(LedgerError, match="asset is 34 characters long"):
        ledger(f"2024-01-01T00:00:00Z,buy,'{asset}A,1,100,,,,,x,,a,")


# --- rows without an AUD value, for the review ------------------------------------------


def test_missing_values_are_refused_unless_the_caller_collects_them() -> None:
    """By default a buy without aud_value stops the file; with ``on_missing_value`` every
    such row (buy, sell, income; a swap with neither value) is reported and kept."""
    rows = (
        "2024-01-01T00:00:00Z,buy,BTC,1,,,,,,x,,b,",
        "2024-01-02T00:00:00Z,income,ETH,1,,,,,,x,,i,",
        "2024-01-03T00:00:00Z,swap,BTC,1,,,ETH,2,,x,,w,",
        "2024-01-04T00:00:00Z,sell,BTC,1,50,,,,,x,,s,",
        "2024-01-05T00:00:00Z,transfer,ETH,1,,,,,,x,,t,",
    )
    with pytest.raises(LedgerError, match="line 2: aud_value is required for buy"):
        ledger(*rows)
    missing: list[Txn] = []
    text = csv_text(*rows)
    parsed = parse_ledger(io.StringIO(text), now=TEST_NOW, on_missing_value=missing.append)
    assert [(t.line, t.type, t.id) for t in missing] == [
        (2, "buy", "b"),
        (3, "income", "i"),
        (4, "swap", "w"),
    ]
    assert [t.id for t in parsed] == ["b", "i", "w", "s", "t"]
    assert parsed[0].aud_value is None
    zero = io.StringIO(csv_text("2024-01-01T00:00:00Z,buy,BTC,0,,,,,,x,,b,"))
    with pytest.raises(LedgerError, match="line 2: quantity"):  # other checks still apply
        parse_ledger(zero, now=TEST_NOW, on_missing_value=missing.append)


def test_txn_source_defaults_to_empty_for_other_constructors() -> None:
    """Rows built from fills or the store name no export row."""
    (row,) = ledger(GOOD)
    rebuilt = Txn(*[getattr(row, f.name) for f in fields(Txn) if f.name != "source"])
    assert rebuilt == row
    assert hash(rebuilt) == hash(row)
    assert repr(rebuilt) == repr(row)


def test_a_parsed_row_is_as_frozen_as_any_txn() -> None:
    """The parser sets a Txn's slots directly (for speed): the result is still frozen."""
    (row,) = ledger(GOOD)
    with pytest.raises(FrozenInstanceError):
        row.asset = "X"  # type: ignore[misc]
    assert type(row) is Txn
