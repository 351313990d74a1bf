"""Brokers from settings: the paper broker over the market source, or the one ccxt adapter
(:class:`lyra.exchanges.ccxt_exchange.CcxtExchange`) with the exchange's keys.

Live keys come from ``LYRA_EXCHANGE_CREDENTIALS`` (``exchange=apikey:secret[:password]``,
comma separated). They are never logged: errors name the exchange, not the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import SecretStr

from lyra.bootstrap.market import CcxtMarket
from lyra.config.credentials import parse_exchange_credentials as live_credentials
from lyra.errors import ConfigError, ReplayExhaustedError
from lyra.execution.broker import Broker
from lyra.execution.paper import Bar, FillModel, NextBar, PaperBook, PaperBroker
from lyra.market.types import to_decimal
from lyra.rollout.phases import OrderMode
from lyra.services.runtime import MarketSource

__all__ = ["Brokers", "live_credentials"]


@dataclass(frozen=True, slots=True)
class Brokers:
    """A broker per exchange for an order mode: paper for every mode but live (phases
    1-2 use it only for market rules and prices; nothing is sent)."""

    market: MarketSource
    timeframe: str
    step: timedelta
    fill_model: FillModel
    fee_rate: Decimal | None
    live: CcxtMarket | None = None
    credentials: SecretStr | None = None
    #: the paper exchange's book (the database's in a run: paper orders outlive a crash)
    paper_book: PaperBook | None = None

    def brokers(
        self, mode: OrderMode, exchanges: Sequence[str], now: datetime
    ) -> Mapping[str, Broker]:
        """One broker per exchange; the caller closes them."""
        if mode is not OrderMode.LIVE:
            return {name: self.paper(name, now) for name in exchanges}
        keys = live_credentials(self.credentials)
        if self.live is None:
            raise ConfigError("live trading needs real exchanges: no ccxt adapter is wired")
        missing = [name for name in exchanges if name not in keys]
        if missing:
            raise ConfigError(
                f"live trading on {missing[0]} needs its keys in LYRA_EXCHANGE_CREDENTIALS "
                f"({missing[0]}=apikey:secret)"
            )
        brokers: dict[str, Broker] = {}
        for name in exchanges:
            api_key, secret, password = keys[name]
            brokers[name] = self.live.exchange(
                name, api_key=api_key, secret=secret, password=password
            )
        return brokers

    def paper(self, exchange_id: str, now: datetime) -> PaperBroker:
        """The paper broker of ``exchange_id``, seeing the market at ``now``."""
        return PaperBroker(
            exchange_id,
            data=self.market.client(exchange_id, now),
            next_bar=self._next_bar(exchange_id),
            model=self.fill_model,
            fee_rate=self.fee_rate,
            book=self.paper_book,
        )

    def _next_bar(self, exchange_id: str) -> NextBar:
        market, timeframe, step = self.market, self.timeframe, self.step

        async def next_bar(symbol: str, after: datetime) -> Bar | None:
            # The candle opening at `after` is visible once it closed: a client one step on.
            client = market.client(exchange_id, after + step)
            try:
                frame = await client.fetch_ohlcv(symbol, timeframe, since=after, limit=1)
            except ReplayExhaustedError:
                return None
            finally:
                await client.close()
            if frame.empty:
                return None
            row = frame.iloc[0]
            return Bar(
                open_time=row["timestamp"].to_pydatetime(),
                open=to_decimal(row["open"]),
                volume=to_decimal(row["volume"]),
            )

        return next_bar
