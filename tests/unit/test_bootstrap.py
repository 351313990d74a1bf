"""The composition root turns settings into the right adapters (no network involved)."""

from __future__ import annotations

import asyncio
import pickle
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from lyra import bootstrap
from lyra.config import Settings, load_settings
from lyra.errors import ConfigError, UnknownExchangeError
from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.exchanges.replay import ReplayExchange
from lyra.rollout.phases import OrderMode
from lyra.services.clocks import ReplayMarketClock, WallClock

AS_OF = datetime(2019, 1, 1, tzinfo=UTC)


def test_replay_is_the_default_market_source(settings: Settings) -> None:
    runtime = bootstrap.build_runtime(settings)
    client = runtime.market.client("coinbase", AS_OF)
    assert isinstance(client, ReplayExchange)
    assert isinstance(runtime.clock, ReplayMarketClock)
    assert runtime.models is None
    assert runtime.spend is None
    bootstrap.dispose_all()


def test_ccxt_market_source_builds_the_one_ccxt_adapter_with_a_database_cache(
    settings: Settings,
) -> None:
    live = load_settings(home=settings.home, market_source="ccxt", exchanges=["kraken"])
    runtime = bootstrap.build_runtime(live)
    client = runtime.market.client("kraken", AS_OF)
    try:
        assert isinstance(client, CcxtExchange)
        assert client.id == "kraken"
        assert isinstance(runtime.clock, WallClock)
    finally:
        asyncio.run(client.close())
        bootstrap.dispose_all()


def test_ccxt_refuses_an_exchange_that_cannot_serve_candles(settings: Settings) -> None:
    live = load_settings(home=settings.home, market_source="ccxt")
    runtime = bootstrap.build_runtime(live)
    with pytest.raises(ConfigError, match="fetchOHLCV"):
        runtime.market.client("independentreserve", AS_OF)
    with pytest.raises(UnknownExchangeError, match="mtgox"):
        runtime.market.client("mtgox", AS_OF)
    bootstrap.dispose_all()


def test_live_brokers_are_the_ccxt_adapter_with_the_exchanges_keys(settings: Settings) -> None:
    live = load_settings(
        home=settings.home,
        phase=4,
        exchanges=["kraken"],
        exchange_credentials="kraken=k3y:s3cret",
    )
    runtime = bootstrap.build_runtime(live)
    brokers = runtime.brokers.brokers(OrderMode.LIVE, ["kraken"], AS_OF)
    try:
        assert isinstance(brokers["kraken"], CcxtExchange)
        assert brokers["kraken"].account == "live"
        with pytest.raises(ConfigError, match="live trading on binance needs its keys"):
            runtime.brokers.brokers(OrderMode.LIVE, ["binance"], AS_OF)
    finally:
        asyncio.run(brokers["kraken"].close())
        bootstrap.dispose_all()


def test_a_bad_endpoint_is_refused_by_name(settings: Settings) -> None:
    bad = load_settings(home=settings.home, exchange_endpoints="kraken=ftp://127.0.0.1")
    with pytest.raises(ConfigError, match="LYRA_EXCHANGE_ENDPOINTS"):
        bootstrap.build_runtime(bad)
    bootstrap.dispose_all()


def test_openrouter_without_keys_is_refused_when_the_gateway_opens(settings: Settings) -> None:
    live = load_settings(home=settings.home, llm_provider="openrouter")
    runtime = bootstrap.build_runtime(live)  # the price sync needs no key
    assert runtime.models is not None
    models = runtime.models

    async def open_gateway() -> None:
        async with models.open():
            pass

    with pytest.raises(ConfigError, match="needs keys"):
        asyncio.run(open_gateway())
    bootstrap.dispose_all()


def test_the_run_carries_the_parameters_and_the_consensus_reads_them(settings: Settings) -> None:
    runtime = bootstrap.build_runtime(settings, phase=3, consensus_threshold=Decimal("0.85"))
    assert (runtime.run.number, runtime.run.threshold) == (3, Decimal("0.85"))
    assert runtime.consensus.threshold == Decimal("0.85")
    assert runtime.phase_in_force.source == "parameter"
    bootstrap.dispose_all()


def test_a_built_runtime_crosses_a_process_as_its_recipe(settings: Settings) -> None:
    runtime = bootstrap.build_runtime(settings, phase=2)
    again = pickle.loads(pickle.dumps(runtime))  # what a Dask worker receives
    assert again.run == runtime.run
    assert again.markets == runtime.markets
    hand_made = type(runtime)(**{**_fields(runtime), "recipe": None})
    with pytest.raises(TypeError, match="cannot cross a process"):
        pickle.dumps(hand_made)
    bootstrap.dispose_all()


def _fields(runtime: object) -> dict[str, object]:
    return {name: getattr(runtime, name) for name in runtime.__dataclass_fields__}  # type: ignore[attr-defined]
