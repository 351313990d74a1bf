"""Canned exchanges whose candles are recent: the canned servers, shifted to the wall clock.

A flow run on ``LYRA_MARKET_SOURCE=ccxt`` takes its instant from the wall clock and holds
a market whose newest candle is older than two timeframes (the data checks' ``not_stale``).
The canned candles are of January 2019, so these servers move them in time instead of
freezing the clock (Prefect's own timing needs the real one): every timestamp in an answer
is moved forward by ``offset``, a whole number of hours, and every time in a request back by
it, so that the canned server's "now" (``CANNED_NOW``'s hour plus the wall clock's minutes)
lines up with the wall clock. Prices, volumes and the exchanges' JSON layouts are untouched;
ccxt parses the answers with its own code as in :mod:`tests.support.ccxt_canned`.

The BTC/AUD candles of Binance (``klines_BTCAUD_1h.json``) and Kraken
(``ohlc_XXBTZAUD_60.json``) and their tickers were derived for the flow test from the
BTC Markets BTC-AUD file (itself the shipped Coinbase BTC/USD at 1.40 AUD per USD): at 1.4021
AUD per USD for Binance (+15 bps against BTC Markets, rounded to cents) and 1.3985 for
Kraken (-10.7 bps, rounded to Kraken's one decimal), and at 1.3900 for Kraken from 2019-01-21
09:00 on (-71 bps: a spread episode in progress at the canned "now").

Usage::

    server = recent_server("kraken")
    exchange = CcxtExchange("kraken", ccxt_factory=server.factory)   # wall-clock adapter
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.support.ccxt_canned import (
    CANNED_DIR,
    CANNED_NOW,
    Answer,
    BinanceServer,
    BtcMarketsServer,
    CannedServer,
    KrakenServer,
    Reply,
    canned_json,
)

_HOUR = timedelta(hours=1)


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def recent_offset(now: datetime | None = None) -> timedelta:
    """Whole hours between the canned ``now``'s hour and the wall clock's."""
    wall = now or datetime.now(UTC)
    return _floor_hour(wall) - _floor_hour(CANNED_NOW)


class _Shifted(CannedServer):
    """A canned server whose times are moved by ``offset`` (see the module docstring)."""

    #: query parameters that carry a time, and their unit: "ms", "s" or "iso"
    time_params: ClassVar[dict[str, str]] = {}

    def __init__(self, offset: timedelta | None = None) -> None:
        self.offset = recent_offset() if offset is None else offset
        super().__init__(datetime.now(UTC) - self.offset)

    @property
    def offset_ms(self) -> int:
        return int(self.offset.total_seconds() * 1000)

    def answer(self, method: str, url: str, *more: Any) -> Answer:
        self.now = datetime.now(UTC) - self.offset  # the canned clock follows the wall
        parts = urlsplit(url)
        query = [(k, self._back(k, v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        answer = super().answer(method, urlunsplit(parts._replace(query=urlencode(query))), *more)
        if isinstance(answer, Reply) and answer.status == 200 and answer.body is not None:
            body = self.forward(parts.path, answer.body)
            return Reply(answer.status, body, answer.headers)
        return answer

    def _back(self, name: str, value: str) -> str:
        unit = self.time_params.get(name)
        if unit == "ms":
            return str(int(value) - self.offset_ms)
        if unit == "s":
            return str(int(value) - self.offset_ms // 1000)
        if unit == "iso":
            return _iso(_parse_iso(value) - self.offset)
        return value

    def forward(self, path: str, body: Any) -> Any:
        """``body`` with its times moved forward by ``offset`` (per exchange)."""
        return body

    def ticker_file(self, name: str) -> Reply | None:
        """A canned ticker added for the flow test, when the file exists."""
        if not (CANNED_DIR / self.exchange / f"{name}.json").exists():
            return None
        return Reply(body=canned_json(self.exchange, name))


class RecentBinance(_Shifted, BinanceServer):
    time_params: ClassVar[dict[str, str]] = {"startTime": "ms", "endTime": "ms"}

    def route(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/api/v3/ticker/24hr":
            found = self.ticker_file(f"ticker_24hr_{query.get('symbol', '')}")
            if found is not None:
                return found
        return super().route(path, query)

    def forward(self, path: str, body: Any) -> Any:
        if path == "/api/v3/klines":
            return [[r[0] + self.offset_ms, *r[1:6], r[6] + self.offset_ms, *r[7:]] for r in body]
        if path == "/api/v3/ticker/24hr":
            return {
                **body,
                "openTime": body["openTime"] + self.offset_ms,
                "closeTime": body["closeTime"] + self.offset_ms,
            }
        return body


class RecentKraken(_Shifted, KrakenServer):
    time_params: ClassVar[dict[str, str]] = {"since": "s"}

    def route(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/0/public/Ticker":
            found = self.ticker_file(f"Ticker_{query.get('pair', '')}")
            if found is not None:
                return found
        return super().route(path, query)

    def forward(self, path: str, body: Any) -> Any:
        if path != "/0/public/OHLC" or body.get("error"):
            return body
        seconds = self.offset_ms // 1000
        result = {
            key: value + seconds if key == "last" else [[r[0] + seconds, *r[1:]] for r in value]
            for key, value in body["result"].items()
        }
        return {**body, "result": result}


class RecentBtcMarkets(_Shifted, BtcMarketsServer):
    time_params: ClassVar[dict[str, str]] = {"from": "iso", "to": "iso"}

    def forward(self, path: str, body: Any) -> Any:
        if path.endswith("/candles"):
            return [[_iso(_parse_iso(r[0]) + self.offset), *r[1:]] for r in body]
        if path.endswith("/ticker"):
            return {**body, "timestamp": _iso(_parse_iso(body["timestamp"]) + self.offset)}
        return body


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


RECENT_SERVERS = {
    "binance": RecentBinance,
    "kraken": RecentKraken,
    "btcmarkets": RecentBtcMarkets,
}


def recent_server(exchange: str, offset: timedelta | None = None) -> _Shifted:
    """The canned server of ``exchange`` with its times moved to the wall clock."""
    server: _Shifted = RECENT_SERVERS[exchange](offset)
    return server
