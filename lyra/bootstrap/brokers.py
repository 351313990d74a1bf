"""Brokers from settings: the paper broker over the configured market source, or the
live ccxt broker with the exchange's keys (the composition root for execution; like
:mod:`lyra.bootstrap`, the only place that builds these from settings).

Live keys come from ``LYRA_EXCHANGE_CREDENTIALS`` (``exchange=apikey:secret[:password]``,
comma separated). They are never logged: errors name the exchange, not the key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from lyra.bootstrap import exchange_client
from lyra.config import Settings
from lyra.errors import ConfigError, ReplayExhaustedError
from lyra.exchanges.ccxt_orders import CcxtBroker
from lyra.execution.broker import Broker
from lyra.execution.paper import Bar, FillModel, NextBar, PaperBroker
from lyra.market.types import timeframe_delta, to_decimal
from lyra.rollout.phases import OrderMode

__all__ = ["build_brokers", "live_credentials", "paper_broker"]


def _next_bar_source(settings: Settings, exchange_id: str) -> NextBar:
    step = timeframe_delta(settings.timeframe)

    async def next_bar(symbol: str, after: datetime) -> Bar | None:
        # The candle opening at `after` is visible once it closed: a client one step on.
        client = exchange_client(settings, exchange_id, after + step)
        try:
            frame = await client.fetch_ohlcv(symbol, settings.timeframe, since=after, limit=1)
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


def paper_broker(settings: Settings, exchange_id: str, now: datetime) -> PaperBroker:
    """The paper broker of ``exchange_id``, seeing the market at ``now``."""
    return PaperBroker(
        exchange_id,
        data=exchange_client(settings, exchange_id, now),
        next_bar=_next_bar_source(settings, exchange_id),
        model=FillModel(settings.paper_slippage_bps, settings.paper_volume_share),
        fee_rate=settings.paper_fee_rate,
    )


def live_credentials(settings: Settings) -> dict[str, tuple[str, str, str | None]]:
    """``LYRA_EXCHANGE_CREDENTIALS`` parsed: exchange -> (api key, secret, password)."""
    if settings.exchange_credentials is None:
        return {}
    found: dict[str, tuple[str, str, str | None]] = {}
    for part in settings.exchange_credentials.get_secret_value().split(","):
        if not part.strip():
            continue
        name, sep, value = part.strip().partition("=")
        fields = value.split(":")
        if not sep or len(fields) not in (2, 3) or not all(fields[:2]):
            raise ConfigError(
                f"LYRA_EXCHANGE_CREDENTIALS: entry for {name.strip() or '?'!r} is not "
                "exchange=apikey:secret[:password]"
            )
        found[name.strip().lower()] = (
            fields[0],
            fields[1],
            fields[2] if len(fields) == 3 else None,
        )
    return found


def build_brokers(
    settings: Settings,
    mode: OrderMode,
    now: datetime,
    *,
    exchanges: list[str] | None = None,
    ccxt_factory: Callable[[str, dict[str, Any]], Any] | None = None,
) -> dict[str, Broker]:
    """A broker per exchange for ``mode``: paper for every mode but live (phases 1-2 use it
    only for market rules and prices; nothing is sent)."""
    names = exchanges or settings.exchanges
    if mode is not OrderMode.LIVE:
        return {name: paper_broker(settings, name, now) for name in names}
    keys = live_credentials(settings)
    brokers: dict[str, Broker] = {}
    for name in names:
        if name not in keys:
            raise ConfigError(
                f"live trading on {name} needs its keys in LYRA_EXCHANGE_CREDENTIALS "
                f"({name}=apikey:secret)"
            )
        api_key, secret, password = keys[name]
        brokers[name] = CcxtBroker(
            name,
            api_key=api_key,
            secret=secret,
            password=password,
            sandbox=settings.ccxt_sandbox,
            ccxt_factory=ccxt_factory,
        )
    return brokers
