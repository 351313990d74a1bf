"""The composition root turns settings into the right adapters (no network involved)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from lyra import bootstrap
from lyra.config import Settings, load_settings
from lyra.errors import ConfigError, UnknownExchangeError
from lyra.exchanges.ccxt_market import CcxtExchange
from lyra.exchanges.replay import ReplayExchange

AS_OF = datetime(2019, 1, 1, tzinfo=UTC)


def test_replay_is_the_default_market_source(settings: Settings) -> None:
    client = bootstrap.exchange_client(settings, "coinbase", AS_OF)
    assert isinstance(client, ReplayExchange)


def test_ccxt_market_source_builds_a_ccxt_client_with_a_database_cache(
    settings: Settings,
) -> None:
    live = load_settings(home=settings.home, market_source="ccxt", exchanges=["kraken"])
    client = bootstrap.exchange_client(live, "kraken", AS_OF)
    try:
        assert isinstance(client, CcxtExchange)
        assert client.id == "kraken"
    finally:
        asyncio.run(client.close())
        bootstrap.dispose_all()


def test_ccxt_refuses_an_exchange_that_cannot_serve_candles(settings: Settings) -> None:
    live = load_settings(home=settings.home, market_source="ccxt")
    with pytest.raises(ConfigError, match="fetchOHLCV"):
        bootstrap.exchange_client(live, "independentreserve", AS_OF)
    with pytest.raises(UnknownExchangeError, match="mtgox"):
        bootstrap.exchange_client(live, "mtgox", AS_OF)
    bootstrap.dispose_all()


def test_openrouter_without_keys_is_refused_at_start(settings: Settings) -> None:
    live = load_settings(home=settings.home, llm_provider="openrouter")
    with pytest.raises(ConfigError, match="needs keys"):
        bootstrap.check_panel(live)
