"""AUD values estimated for imported rows: daily closes, FX rates, gaps, no look-ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lyra.compliance.fx import RateTable, load_rate_table
from lyra.compliance.importers.valuation import (
    ESTIMATE_PREFIX,
    MAX_GAP_DAYS,
    MISSING_PREFIX,
    DailyPrices,
    DailyPriceValuer,
    PriceFileError,
    load_price_file,
)
from lyra.compliance.localtime import parse_moment
from lyra.compliance.periods import SYDNEY
from lyra.compliance.taxreport import ASSUMED_RATE_PREFIX
from lyra.errors import UserError

ASSUMED = Decimal("1.50")
NOON = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # 1 March in UTC and in Sydney (13:00)


def prices(*rows: tuple[str, str, str, str, str]) -> DailyPrices:
    table = DailyPrices()
    for day, asset, quote, price, source in rows:
        table.add(asset, quote, date.fromisoformat(day), Decimal(price), source)
    return table


def published(*rows: tuple[str, str, str]) -> RateTable:
    table = RateTable(ASSUMED)
    for day, currency, rate in rows:
        table.add(currency, date.fromisoformat(day), Decimal(rate), "RBA F11")
    return table


def test_btc_on_an_aud_day_price_is_quantity_times_the_close() -> None:
    valuer = DailyPriceValuer(prices(("2024-03-01", "BTC", "AUD", "95000.50", "cg")), published())

    value, source = valuer.value("BTC", Decimal("0.25"), NOON)

    assert value == Decimal("0.25") * Decimal("95000.50")
    assert source.startswith(ESTIMATE_PREFIX)
    assert "BTC/AUD 95000.50 close of 2024-03-01 (cg)" in source
    assert ASSUMED_RATE_PREFIX not in source  # an AUD price needs no rate


def test_btc_via_usdt_close_and_the_assumed_usd_rate_says_fx_assumed() -> None:
    valuer = DailyPriceValuer(
        prices(("2024-03-01", "BTC", "USDT", "62000", "binance")), RateTable(ASSUMED)
    )

    value, source = valuer.value("BTC", Decimal(2), NOON)

    assert value == 2 * Decimal(62000) * ASSUMED
    assert source.startswith(ESTIMATE_PREFIX)
    assert "BTC/USDT 62000 close of 2024-03-01 (binance)" in source
    assert f"{ASSUMED_RATE_PREFIX}USDT taken as 1 USD" in source  # no USDT price: a peg
    assert f"{ASSUMED_RATE_PREFIX}USD/AUD {ASSUMED}" in source  # no published rate


def test_btc_via_usdt_uses_the_usdt_price_and_the_published_rate_when_there_are_both() -> None:
    table = prices(
        ("2024-03-01", "BTC", "USDT", "62000", "binance"),
        ("2024-03-01", "USDT", "USD", "0.998", "kraken"),
    )
    valuer = DailyPriceValuer(table, published(("2024-03-01", "USD", "1.53")))

    value, source = valuer.value("BTC", Decimal(1), NOON)

    assert value == Decimal(62000) * Decimal("0.998") * Decimal("1.53")
    assert "USDT/USD 0.998 close of 2024-03-01 (kraken)" in source
    assert "fx:RBA F11 USD/AUD 1.53 of 2024-03-01" in source
    assert ASSUMED_RATE_PREFIX not in source


def test_a_stablecoin_is_valued_at_its_price_else_its_own_rate_else_as_one_usd() -> None:
    priced = prices(("2024-03-01", "USDC", "USD", "1.0004", "coinbase"))
    rates = published(("2024-03-01", "USD", "1.50"), ("2024-03-01", "USDC", "1.49"))

    assert DailyPriceValuer(priced, rates).value("USDC", Decimal(10), NOON)[0] == Decimal("15.006")
    value, source = DailyPriceValuer(DailyPrices(), rates).value("USDC", Decimal(10), NOON)
    assert value == Decimal("14.90")
    assert source == f"{ESTIMATE_PREFIX}fx:RBA F11 USDC/AUD 1.49 of 2024-03-01"
    usd_only = published(("2024-03-01", "USD", "1.50"))
    value, source = DailyPriceValuer(DailyPrices(), usd_only).value("USDC", Decimal(10), NOON)
    assert value == Decimal("15.00")
    assert source.startswith(f"{ESTIMATE_PREFIX}{ASSUMED_RATE_PREFIX}USDC taken as 1 USD")


def test_a_coin_quoted_in_btc_goes_through_btcs_own_price() -> None:
    table = prices(
        ("2024-03-01", "ETH", "BTC", "0.055", "binance"),
        ("2024-03-01", "BTC", "AUD", "95000", "btcmarkets"),
    )
    valuer = DailyPriceValuer(table, published())

    value, source = valuer.value("ETH", Decimal(10), NOON)

    assert value == 10 * Decimal("0.055") * Decimal(95000)
    assert source.index("ETH/BTC") < source.index("BTC/AUD 95000")


def test_aud_is_its_own_value_and_usd_is_converted_at_the_rate_only() -> None:
    valuer = DailyPriceValuer(DailyPrices(), published(("2024-03-01", "USD", "1.53")))

    assert valuer.value("AUD", Decimal("12.34"), NOON) == (Decimal("12.34"), "AUD")
    value, source = valuer.value("USD", Decimal(100), NOON)
    assert value == Decimal(153)
    assert source == f"{ESTIMATE_PREFIX}fx:RBA F11 USD/AUD 1.53 of 2024-03-01"


def test_the_price_file_wins_over_candles_on_the_same_day_even_in_another_quote() -> None:
    user = prices(("2024-03-01", "BTC", "USD", "61000", "my file"))
    candles = prices(
        ("2024-03-01", "BTC", "USD", "62000", "candles"),
        ("2024-03-01", "BTC", "AUD", "99999", "candles"),
    )
    rates = published(("2024-03-01", "USD", "1.50"))
    valuer = DailyPriceValuer(DailyPrices.layered(user, candles), rates)

    value, source = valuer.value("BTC", Decimal(1), NOON)

    assert value == Decimal(61000) * Decimal("1.50")
    assert "(my file)" in source
    # alone, the candles would have given their AUD close
    assert DailyPriceValuer(candles, rates).value("BTC", Decimal(1), NOON)[0] == Decimal(99999)


def test_a_fresher_candle_beats_an_older_file_price() -> None:
    user = prices(("2024-02-28", "BTC", "AUD", "90000", "my file"))
    candles = prices(("2024-03-01", "BTC", "AUD", "95000", "candles"))
    valuer = DailyPriceValuer(DailyPrices.layered(user, candles), published())

    assert valuer.value("BTC", Decimal(1), NOON)[0] == Decimal(95000)


def test_a_gap_of_two_days_uses_the_earlier_day_and_says_so() -> None:
    valuer = DailyPriceValuer(prices(("2024-02-28", "BTC", "AUD", "90000", "cg")), published())

    value, source = valuer.value("BTC", Decimal(1), NOON)  # 1 March: 29 February between

    assert value == Decimal(90000)
    assert "close of 2024-02-28 (cg; 2 days before 2024-03-01, none since)" in source


def test_a_gap_beyond_the_limit_is_missing_with_the_reason() -> None:
    last = NOON.date() - timedelta(days=MAX_GAP_DAYS + 1)
    valuer = DailyPriceValuer(prices((last.isoformat(), "BTC", "AUD", "90000", "cg")), published())

    value, source = valuer.value("BTC", Decimal(1), NOON)

    assert value is None
    assert source.startswith(MISSING_PREFIX)
    assert f"within {MAX_GAP_DAYS} days" in source
    assert f"latest earlier: {last}" in source
    # on the limit itself the price still counts
    edge = NOON.date() - timedelta(days=MAX_GAP_DAYS)
    valuer = DailyPriceValuer(prices((edge.isoformat(), "BTC", "AUD", "90000", "cg")), published())
    assert valuer.value("BTC", Decimal(1), NOON)[0] == Decimal(90000)


def test_a_later_days_price_is_never_used() -> None:
    table = prices(
        ("2024-02-29", "BTC", "AUD", "90000", "cg"),
        ("2024-03-02", "BTC", "AUD", "99000", "cg"),
    )
    late_in_the_day = datetime(2024, 3, 1, 23, 59, tzinfo=UTC)

    value, source = DailyPriceValuer(table, published()).value("BTC", Decimal(1), late_in_the_day)

    assert value == Decimal(90000)
    assert "close of 2024-02-29" in source
    only_later = prices(("2024-03-02", "BTC", "AUD", "99000", "cg"))
    value, source = DailyPriceValuer(only_later, published()).value("BTC", Decimal(1), NOON)
    assert value is None
    assert "a later price is never used" in source


def test_a_date_alone_gets_the_utc_close_that_falls_on_that_sydney_day() -> None:
    table = prices(
        ("2024-02-29", "BTC", "AUD", "90000", "cg"),  # closes 1 March 11:00 in Sydney
        ("2024-03-01", "BTC", "AUD", "99000", "cg"),  # closes 2 March 11:00 in Sydney
    )
    at = parse_moment("2024-03-01", SYDNEY)  # the start of 1 March in Sydney

    assert DailyPriceValuer(table, published()).value("BTC", Decimal(1), at)[0] == Decimal(90000)


def test_fx_is_taken_on_the_instants_sydney_date() -> None:
    rates = published(("2024-03-01", "USD", "1.50"), ("2024-03-02", "USD", "1.60"))
    evening_utc = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)  # 2 March 07:00 in Sydney
    valuer = DailyPriceValuer(prices(("2024-03-01", "BTC", "USD", "100", "cg")), rates)

    value, source = valuer.value("BTC", Decimal(1), evening_utc)

    assert value == Decimal(160)
    assert "close of 2024-03-01" in source
    assert "1.60 of 2024-03-02" in source


def test_an_asset_without_any_price_is_missing_and_says_how_to_add_one() -> None:
    value, source = DailyPriceValuer(DailyPrices(), published()).value("XYZ", Decimal(1), NOON)

    assert value is None
    assert source.startswith(f"{MISSING_PREFIX}no daily price of XYZ")
    assert "date,asset,quote,price,source" in source


def test_a_quote_that_cannot_be_converted_gives_way_then_is_named() -> None:
    table = prices(("2024-03-01", "BTC", "EUR", "57000", "kraken"))
    valuer = DailyPriceValuer(table, published())

    value, source = valuer.value("BTC", Decimal(1), NOON)

    assert value is None
    assert "EUR" in source
    assert source.startswith(MISSING_PREFIX)
    with_usd = prices(
        ("2024-03-01", "BTC", "EUR", "57000", "kraken"),
        ("2024-02-29", "BTC", "USD", "61000", "kraken"),
    )
    assert DailyPriceValuer(with_usd, published()).value("BTC", Decimal(1), NOON)[0] == (
        Decimal(61000) * ASSUMED
    )


def test_coins_priced_only_in_each_other_are_missing_not_a_loop() -> None:
    table = prices(
        ("2024-03-01", "ETH", "BTC", "0.05", "x"),
        ("2024-03-01", "BTC", "ETH", "20", "x"),
    )

    value, source = DailyPriceValuer(table, published()).value("ETH", Decimal(1), NOON)

    assert value is None
    assert source.startswith(MISSING_PREFIX)


def test_values_fit_the_ledgers_eighteen_places() -> None:
    valuer = DailyPriceValuer(prices(("2024-03-01", "X", "AUD", "0.123456789", "x")), published())

    value, _ = valuer.value("X", Decimal("0.000000000123456789"), NOON)

    assert value is not None
    assert value.as_tuple().exponent == -18
    assert value == (Decimal("0.000000000123456789") * Decimal("0.123456789")).quantize(
        Decimal("1e-18")
    )


def test_a_time_without_timezone_is_refused() -> None:
    naive = datetime(2024, 3, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="no timezone"):
        DailyPriceValuer(DailyPrices(), published()).value("BTC", Decimal(1), naive)


def test_repeated_lookups_of_a_day_are_answered_from_the_cache() -> None:
    table = prices(("2024-03-01", "BTC", "AUD", "95000", "cg"))
    valuer = DailyPriceValuer(table, published())
    first = valuer.value("BTC", Decimal(1), NOON)
    table.add("BTC", "AUD", date(2024, 3, 1), Decimal(1), "later")  # not seen: the valuer
    # indexed the table when built, and the day's answer is cached
    assert valuer.value("BTC", Decimal(1), NOON + timedelta(hours=5)) == first


# --- the price file ------------------------------------------------------------------


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_price_file_is_read_with_its_line_as_the_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffDate,Asset,Quote,Price,Source",
        "2024-03-01,btc,aud,95000.50,CoinGecko daily close",
        "",
        "2024-03-01,ETH,USDT,3400,Binance",
    )

    table = load_price_file(path)

    assert len(table) == 2
    entry = table.get("BTC", "AUD", date(2024, 3, 1))
    assert entry is not None
    assert entry.price == Decimal("95000.50")
    assert entry.source == "CoinGecko daily close, prices.csv line 2"
    assert table.pairs() == [("BTC", "AUD"), ("ETH", "USDT")]


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("01/03/2024,BTC,AUD,95000,cg", "date", "not a date"),
        ("2024-02-30,BTC,AUD,95000,cg", "date", "not a date"),
        ("2008-12-31,BTC,AUD,95000,cg", "date", "before bitcoin"),
        ("2024-03-01,,AUD,95000,cg", "asset", "not an asset code"),
        ("2024-03-01,BTC,A UD,95000,cg", "quote", "not an asset code"),
        ("2024-03-01,BTC,BTC,1,cg", "quote", "priced in itself"),
        ('2024-03-01,BTC,AUD,"95,000",cg', "price", "not a number"),
        ("2024-03-01,BTC,AUD,-5,cg", "price", "not a number"),
        ("2024-03-01,BTC,AUD,0,cg", "price", "above 0"),
        ("2024-03-01,BTC,AUD,NaN,cg", "price", "not a number"),
        ("2024-03-01,BTC,AUD,1e20,cg", "price", "below"),
        ("2024-03-01,BTC,AUD,95000,", "source", "say where"),
    ],
)
def test_a_bad_price_line_names_its_line_and_field(
    tmp_path: Path, row: str, field: str, reason: str
) -> None:
    path = write(tmp_path, "date,asset,quote,price,source", "2024-02-29,BTC,AUD,90000,cg", row)

    with pytest.raises(PriceFileError, match=reason) as caught:
        load_price_file(path)

    assert caught.value.line == 3
    assert caught.value.field == field
    assert str(caught.value).startswith(f"price file {path} line 3 field {field!r}: ")


def test_a_price_line_with_too_few_fields_or_twice_the_same_day_is_refused(
    tmp_path: Path,
) -> None:
    short = write(tmp_path, "date,asset,quote,price,source", "2024-03-01,BTC,AUD,95000")
    with pytest.raises(PriceFileError, match="line 2: expected 5 fields"):
        load_price_file(short)
    twice = write(
        tmp_path,
        "date,asset,quote,price,source",
        "2024-03-01,BTC,AUD,95000,a",
        "2024-03-01,btc,AUD,95001,b",
    )
    with pytest.raises(PriceFileError, match="line 3: BTC/AUD on 2024-03-01 is also on line 2"):
        load_price_file(twice)


def test_a_price_file_with_another_header_or_none_at_all_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="line 1: header must be date,asset,quote"):
        load_price_file(write(tmp_path, "date,currency,aud_per_unit,source"))
    with pytest.raises(PriceFileError, match="line 1: header must be"):
        load_price_file(write(tmp_path))  # empty
    with pytest.raises(UserError, match=r"absent.csv cannot be read \(No such file"):
        load_price_file(tmp_path / "absent.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"date,asset,quote,price,source\n2024-03-01,BTC,AUD,1,caf\xe9\n")
    with pytest.raises(UserError, match="not UTF-8 text"):
        load_price_file(latin)


def test_a_price_file_and_a_rate_file_value_a_swap_end_to_end(tmp_path: Path) -> None:
    price_file = write(tmp_path, "date,asset,quote,price,source", "2024-03-01,BTC,USD,62000,cg")
    rate_file = tmp_path / "fx.csv"
    rate_file.write_text("date,currency,aud_per_unit,source\n2024-02-29,USD,1.5321,RBA F11\n")
    valuer = DailyPriceValuer(load_price_file(price_file), load_rate_table(rate_file, ASSUMED))

    value, source = valuer.value("BTC", Decimal("0.1"), NOON)

    assert value == Decimal("0.1") * Decimal(62000) * Decimal("1.5321")
    assert "fx:RBA F11 USD/AUD 1.5321 of 2024-02-29" in source
