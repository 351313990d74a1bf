"""Daily prices for the AUD values an exchange export lacks: candles and the user's file.

docs/tax.md "AUD values of imported rows". ``lyra tax import`` values a trade on a USDT,
BTC or USD pair at the day's close (:mod:`lyra.compliance.importers.valuation`); this
module gathers those closes, with no network:

1. the user's price file (``--prices FILE``: ``date,asset,quote,price,source``), first:
   a person who states a price for a day has chosen it, and the ATO asks that the method
   and its source be kept ("Keeping crypto records");
2. the candles Lyra stored from the exchanges it trades on (the ``candles`` table), when
   the caller passes the database: real closes of those venues, AUD pairs among them;
3. the shipped CryptoDataDownload candles (:mod:`lyra.exchanges.datafiles`, BTC, ETH and
   LTC in USD from late 2014 to January 2020), last.

A *daily close* is the close of the last candle opened on that UTC day: the day's own
close for a ``1d`` candle, the 23:00 candle's for hourly ones (or the latest the feed
has that day). Daily feeds come before hourly ones for the same pair and day, since their
close is the day's by definition. Candles longer than a day give no daily close and are
left out.

Usage::

    valuer = build_valuer(settings, Path("prices.csv"))      # file + shipped candles
    valuer = build_valuer(settings, None, database=database)  # stored + shipped candles
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Final, Protocol

from lyra.compliance.fx import load_rate_table
from lyra.compliance.importers.valuation import (
    MAX_GAP_DAYS,
    DailyPrices,
    DailyPriceValuer,
    load_price_file,
)
from lyra.compliance.ledger_bounds import EARLIEST
from lyra.exchanges.datafiles import FEEDS, Feed, read_candles
from lyra.market.types import to_decimal
from lyra.store.db import Database
from lyra.store.evidence_queries import candle_closes

__all__ = [
    "TaxPriceSettings",
    "build_valuer",
    "daily_prices_from_candles",
    "daily_prices_from_closes",
    "stored_daily_prices",
]

_MINUTES: Final = {"m": 1, "h": 60, "d": 1440}
_TIMEFRAME: Final = re.compile(r"(\d+)([mhd])", re.ASCII).fullmatch


class TaxPriceSettings(Protocol):
    """The settings :func:`build_valuer` reads (``lyra.config.Settings`` has them; the
    services layer may not import the configuration, so it names what it needs)."""

    @property
    def tax_fx_file(self) -> Path | None: ...
    @property
    def tax_usd_aud_rate(self) -> Decimal: ...
    @property
    def exchanges(self) -> Sequence[str]: ...
    @property
    def symbols(self) -> Sequence[str]: ...
    @property
    def timeframe(self) -> str: ...


def build_valuer(
    settings: TaxPriceSettings,
    price_file: Path | None,
    *,
    database: Database | None = None,
    data_dir: Path | None = None,
    max_gap_days: int = MAX_GAP_DAYS,
) -> DailyPriceValuer:
    """The valuer ``lyra tax import`` uses: the user's price file, then the stored candles
    of the configured markets (when ``database`` is given), then the shipped candles; FX
    from ``LYRA_TAX_FX_FILE`` with the assumed USD rate as the labelled fallback, loaded
    as the nightly run loads it."""
    rates = load_rate_table(settings.tax_fx_file, settings.tax_usd_aud_rate)
    tables: list[DailyPrices] = []
    if price_file is not None:
        tables.append(load_price_file(price_file))
    if database is not None:
        markets = [(e, s) for e in settings.exchanges for s in settings.symbols]
        tables.append(stored_daily_prices(database, markets, settings.timeframe))
    tables.append(daily_prices_from_candles(data_dir=data_dir))
    return DailyPriceValuer(DailyPrices.layered(*tables), rates, max_gap_days=max_gap_days)


def daily_prices_from_candles(
    feeds: Sequence[Feed] = FEEDS, data_dir: Path | None = None
) -> DailyPrices:
    """Daily closes of the shipped candle files (or the same names under ``data_dir``)."""
    prices = DailyPrices()
    for feed in sorted(feeds, key=lambda f: _minutes(f.timeframe) != _MINUTES["d"]):
        if _minutes(feed.timeframe) is None:
            continue
        frame = read_candles(feed, data_dir)
        closes = zip(frame["timestamp"], frame["close"], strict=True)
        _add_last_of_day(
            prices,
            feed.symbol,
            ((stamp.to_pydatetime(), to_decimal(close)) for stamp, close in closes),
            f"{feed} candles, shipped",
        )
    return prices


def stored_daily_prices(
    database: Database, markets: Iterable[tuple[str, str]], timeframe: str
) -> DailyPrices:
    """Daily closes of the stored candles of ``markets`` ((exchange, symbol) pairs)."""
    if _minutes(timeframe) is None:
        return DailyPrices()
    with database.transaction() as session:
        found = {m: candle_closes(session, m, timeframe, EARLIEST) for m in dict.fromkeys(markets)}
    return daily_prices_from_closes(
        ((exchange, symbol, timeframe, closes) for (exchange, symbol), closes in found.items())
    )


def daily_prices_from_closes(
    markets: Iterable[tuple[str, str, str, Iterable[tuple[datetime, Decimal]]]],
) -> DailyPrices:
    """Daily closes of stored candles given as (exchange, symbol, timeframe, (open time,
    close) oldest first)."""
    prices = DailyPrices()
    for exchange, symbol, timeframe, closes in markets:
        if _minutes(timeframe) is not None:
            label = f"{exchange} {symbol} {timeframe} candles, stored"
            _add_last_of_day(prices, symbol, closes, label)
    return prices


def _add_last_of_day(
    prices: DailyPrices, symbol: str, closes: Iterable[tuple[datetime, Decimal]], label: str
) -> None:
    """Add the close of each UTC day's last candle (candles oldest first)."""
    base, slash, quote = symbol.upper().partition("/")
    if not slash or not base or not quote or ":" in quote:
        return  # not a spot pair (a derivative such as BTC/USDT:USDT has no spot price)
    last: dict[date, Decimal] = {}
    for opened, close in closes:
        last[opened.astimezone(UTC).date()] = close
    for day, close in last.items():
        prices.add(base, quote, day, close, label)


def _minutes(timeframe: str) -> int | None:
    """Minutes of a candle no longer than a day that divides the day; None otherwise."""
    match = _TIMEFRAME(timeframe.strip())
    if match is None:
        return None
    minutes = int(match[1]) * _MINUTES[match[2]]
    return minutes if 0 < minutes <= _MINUTES["d"] and _MINUTES["d"] % minutes == 0 else None
