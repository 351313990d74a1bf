"""The replay exchange: real shipped candles served through the ``ExchangeClient`` port.

It is Lyra's embedded market source (docs/domain.md, "Embedded default") and the fake the
tests use: same interface as the ccxt adapter, but time is a :class:`ReplayClock` that the
caller sets and advances, so a run is reproducible and needs no network.

What is visible at the clock's ``now`` follows what a live exchange would show::

    open time            close time = open + timeframe
    |---- candle k ----|                 visible once close time <= now
                        |-- candle k+1 --|   (still forming at now: not served)
                                   ^ now

``since`` is inclusive on open time and ``limit`` caps the count, as in ccxt's
``fetch_ohlcv``: from ``since`` forward, or the most recent ``limit`` without ``since``.
The clock must lie within the data: before the first candle closes, or more than one
timeframe after the last one closed, :class:`~lyra.errors.ReplayExhaustedError` is raised
instead of serving a stale price as if it were current.

Usage::

    clock = ReplayClock(datetime(2019, 1, 1, tzinfo=UTC))
    exchange = ReplayExchange("coinbase", clock)
    markets = await exchange.load_markets()       # parses every feed: fails early
    candles = await exchange.fetch_ohlcv("BTC/USD", "1h", limit=200)
    clock.advance(timedelta(hours=1))             # the next candle becomes visible
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final

import pandas as pd

from lyra.errors import (
    InvariantError,
    ReplayExhaustedError,
    UnknownExchangeError,
    UnknownSymbolError,
)
from lyra.exchanges.datafiles import FEEDS, Feed, read_candles
from lyra.market.types import Market, Ticker, timeframe_delta, to_decimal

__all__ = [
    "REPLAY_EXCHANGES",
    "ReplayClock",
    "ReplayExchange",
    "replay_exchange_ids",
]

#: Exchange ids that have shipped feeds, in the order of :data:`FEEDS`.
REPLAY_EXCHANGES: Final[tuple[str, ...]] = tuple(dict.fromkeys(feed.exchange for feed in FEEDS))

# Plausible trading rules for every replayed market. The files carry no market metadata;
# these match the order of magnitude of BTC/USD on Coinbase and Bitfinex (cent prices,
# satoshi amounts) so order checks behave realistically. They are defaults, not facts.
_PRICE_INCREMENT: Final = Decimal("0.01")
_AMOUNT_INCREMENT: Final = Decimal("1e-8")
_MIN_AMOUNT: Final = Decimal("1e-5")


def replay_exchange_ids() -> tuple[str, ...]:
    """Exchange ids the replay source can serve (see :data:`REPLAY_EXCHANGES`)."""
    return REPLAY_EXCHANGES


def _require_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _show(moment: datetime | pd.Timestamp) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


class ReplayClock:
    """The replay's notion of now: tz-aware UTC, moved only by :meth:`set` and :meth:`advance`.

    Several exchanges can share one clock so that they stay in step.
    """

    def __init__(self, now: datetime) -> None:
        self._now = _require_utc(now, "replay clock time")

    @property
    def now(self) -> datetime:
        """The current replay instant (UTC)."""
        return self._now

    def set(self, now: datetime) -> None:
        """Jump to ``now`` (forward or back); naive datetimes raise ValueError."""
        self._now = _require_utc(now, "replay clock time")

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``; a negative delta raises ValueError (use :meth:`set`)."""
        if delta < timedelta(0):
            raise ValueError(f"cannot advance the replay clock by a negative {delta}")
        self._now = self._now + delta

    def __repr__(self) -> str:
        return f"ReplayClock({self._now.isoformat()})"


@dataclass(frozen=True, slots=True)
class _Series:
    """One feed's candles with the open times indexed for binary search."""

    feed: Feed
    step: timedelta
    candles: pd.DataFrame
    opens: pd.DatetimeIndex


class ReplayExchange:
    """An :class:`~lyra.market.exchange.ExchangeClient` over the shipped candle files.

    ``data_dir`` points at other files with the same names (tests, user data); None uses
    the files shipped in the package. Files are parsed on first use (and all of this
    exchange's by :meth:`load_markets`), through the per-process parse cache.
    """

    def __init__(self, exchange_id: str, clock: ReplayClock, data_dir: Path | None = None) -> None:
        feeds = {(f.symbol, f.timeframe): f for f in FEEDS if f.exchange == exchange_id}
        if not feeds:
            known = ", ".join(REPLAY_EXCHANGES)
            raise UnknownExchangeError(
                f"no replay data for exchange {exchange_id!r} (replay exchanges: {known})"
            )
        self._id = exchange_id
        self._clock = clock
        self._data_dir = data_dir
        self._feeds = feeds
        self._series: dict[tuple[str, str], _Series] = {}
        self._closed = False

    @property
    def id(self) -> str:
        """Exchange id in ccxt's spelling, e.g. ``"coinbase"``."""
        return self._id

    @property
    def clock(self) -> ReplayClock:
        """The clock this exchange reads (shared with whoever advances it)."""
        return self._clock

    async def load_markets(self) -> Mapping[str, Market]:
        """Markets by symbol; parses every feed of this exchange so bad files fail here."""
        self._check_open()
        for key in self._feeds:
            self._load(key)
        markets: dict[str, Market] = {}
        for symbol, _ in self._feeds:
            base, quote = symbol.split("/")
            markets[symbol] = Market(
                exchange=self._id,
                symbol=symbol,
                base=base,
                quote=quote,
                price_increment=_PRICE_INCREMENT,
                amount_increment=_AMOUNT_INCREMENT,
                min_amount=_MIN_AMOUNT,
            )
        return markets

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1h",
        since: datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Closed candles at the clock's now, oldest first (see the module docstring).

        With neither ``since`` nor ``limit`` every candle closed so far is returned.
        """
        self._check_open()
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number of candles, got {limit}")
        series = self._series_for(symbol, timeframe)
        end = self._visible_count(series)
        if since is not None:
            start = int(series.opens.searchsorted(_require_utc(since, "since"), side="left"))
            if limit is not None:
                end = min(end, start + limit)
        else:
            start = 0 if limit is None else max(0, end - limit)
        return series.candles.iloc[start:end].reset_index(drop=True)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """Close of the latest closed candle of the symbol's finest timeframe, at its close."""
        self._check_open()
        timeframes = [tf for sym, tf in self._feeds if sym == symbol]
        if not timeframes:
            raise self._unknown_symbol(symbol)
        series = self._series_for(symbol, min(timeframes, key=timeframe_delta))
        last = self._visible_count(series) - 1
        opened = series.opens[last].to_pydatetime()
        return Ticker(
            exchange=self._id,
            symbol=symbol,
            last=to_decimal(float(series.candles["close"].to_numpy(dtype="float64")[last])),
            timestamp=opened + series.step,
        )

    def data_range(self, symbol: str, timeframe: str) -> tuple[datetime, datetime]:
        """Open times of the first and the last candle the feed holds (UTC)."""
        series = self._series_for(symbol, timeframe)
        return series.opens[0].to_pydatetime(), series.opens[-1].to_pydatetime()

    async def close(self) -> None:
        """Drop the loaded candles; later calls raise :class:`~lyra.errors.InvariantError`."""
        self._series.clear()
        self._closed = True

    def __repr__(self) -> str:
        return f"ReplayExchange({self._id!r}, {self._clock!r})"

    # -- internals ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise InvariantError(f"replay exchange {self._id} was used after close()")

    def _unknown_symbol(self, symbol: str) -> UnknownSymbolError:
        symbols = ", ".join(dict.fromkeys(sym for sym, _ in self._feeds))
        return UnknownSymbolError(f"{self._id} has no symbol {symbol!r} (it has: {symbols})")

    def _series_for(self, symbol: str, timeframe: str) -> _Series:
        if (symbol, timeframe) not in self._feeds:
            timeframes = [tf for sym, tf in self._feeds if sym == symbol]
            if not timeframes:
                raise self._unknown_symbol(symbol)
            raise UnknownSymbolError(
                f"{self._id} {symbol} has no {timeframe!r} candles "
                f"(it has: {', '.join(timeframes)})"
            )
        return self._load((symbol, timeframe))

    def _load(self, key: tuple[str, str]) -> _Series:
        series = self._series.get(key)
        if series is None:
            feed = self._feeds[key]
            candles = read_candles(feed, self._data_dir)
            opens = pd.DatetimeIndex(candles["timestamp"])
            series = _Series(feed, timeframe_delta(feed.timeframe), candles, opens)
            self._series[key] = series
        return series

    def _visible_count(self, series: _Series) -> int:
        """How many candles are closed at now; raises when now lies outside the data."""
        now = self._clock.now
        first_close = series.opens[0].to_pydatetime() + series.step
        last_close = series.opens[-1].to_pydatetime() + series.step
        if now < first_close:
            raise ReplayExhaustedError(
                f"replay clock {_show(now)} is before the first candle of {series.feed} "
                f"closes (it opens {_show(series.opens[0])}, closes {_show(first_close)})"
            )
        if now - last_close > series.step:
            raise ReplayExhaustedError(
                f"replay clock {_show(now)} is past the end of {series.feed}: its data ends "
                f"with the candle closing {_show(last_close)}",
                last_close=last_close,
            )
        return int(series.opens.searchsorted(now - series.step, side="right"))
