"""The markets cache on SQLite and PostgreSQL, alone and under the ccxt adapter.

Flows run as separate processes every few minutes: the cache must hand one run's markets
to the next through the database, expire them, and take saves from racing processes.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.store.db import Database
from lyra.store.market_tables import MarketCacheRow
from lyra.store.markets_cache import DatabaseMarketsCache, load, save
from tests.support.ccxt_canned import CANNED_NOW, canned_server

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

MARKETS: dict[str, Any] = {
    "markets": {
        "BTC/AUD": {
            "id": "BTC-AUD",
            "precision": {"amount": 1e-08, "price": 0.01},
            "limits": {"amount": {"min": 0.0001, "max": None}},
            "active": True,
            "info": {"marketId": "BTC-AUD", "status": "Online", "note": "prix × 1,4 — ✓"},
        }
    },
    "helpers": {"marketsByAltname": {}, "delisted": []},
}


def test_saved_markets_load_until_they_expire(db: Database) -> None:
    with db.transaction() as session:
        save(session, "btcmarkets", MARKETS, T0, HOUR)
    with db.transaction() as session:
        assert load(session, "btcmarkets", T0 + timedelta(minutes=59)) == MARKETS
        assert load(session, "btcmarkets", T0 + HOUR) is None
        assert load(session, "kraken", T0) is None


def test_a_save_replaces_the_previous_markets_of_that_exchange_only(db: Database) -> None:
    newer = {"markets": {"ETH/AUD": {"id": "ETH-AUD"}}}
    with db.transaction() as session:
        save(session, "btcmarkets", MARKETS, T0, HOUR)
        save(session, "kraken", MARKETS, T0, HOUR)
    with db.transaction() as session:
        save(session, "btcmarkets", newer, T0 + 2 * HOUR, HOUR)
    with db.transaction() as session:
        assert load(session, "btcmarkets", T0 + 2 * HOUR) == newer
        assert load(session, "kraken", T0 + 2 * HOUR) is None  # expired, not overwritten
        assert load(session, "kraken", T0) == MARKETS
        rows = session.execute(select(func.count()).select_from(MarketCacheRow)).scalar_one()
        assert rows == 2
        row = session.get(MarketCacheRow, "btcmarkets")
        assert row is not None
        assert (row.fetched_at, row.expires_at) == (T0 + 2 * HOUR, T0 + 3 * HOUR)


def test_naive_times_and_non_positive_ttls_are_refused(db: Database) -> None:
    naive = datetime(2024, 3, 1, 9, 0)  # noqa: DTZ001 - the point of the test
    with db.transaction() as session:
        with pytest.raises(ValueError, match="timezone-aware"):
            save(session, "kraken", MARKETS, naive, HOUR)
        with pytest.raises(ValueError, match="timezone-aware"):
            load(session, "kraken", naive)
        with pytest.raises(ValueError, match="positive"):
            save(session, "kraken", MARKETS, T0, timedelta(0))
    with pytest.raises(ValueError, match="positive"):
        DatabaseMarketsCache(db, ttl=-HOUR)


def _save_in_child(url: str, worker: int) -> None:
    database = Database.from_url(url)
    cache = DatabaseMarketsCache(database, ttl=HOUR)
    for round_ in range(5):
        cache.save("kraken", {"worker": worker, "round": round_}, T0)
    database.dispose()


def test_racing_processes_saving_the_same_exchange_all_succeed(
    db: Database, database_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_save_in_child, args=(database_url, worker)) for worker in range(4)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    saved = DatabaseMarketsCache(db).load("kraken", T0)
    assert saved is not None
    assert saved["worker"] in range(4)
    assert saved["round"] == 4  # each worker's last save; one of them won


async def test_the_adapter_hands_markets_to_the_next_run_through_the_database(
    database_url: str, db: Database
) -> None:
    first = canned_server("kraken")
    exchange = CcxtExchange(
        "kraken",
        ccxt_factory=first.factory,
        clock=lambda: first.now,
        markets_cache=DatabaseMarketsCache(db, ttl=HOUR),
    )
    try:
        loaded = await exchange.load_markets()
    finally:
        await exchange.close()
    assert first.count("/0/public/AssetPairs") == 1

    # The next run: another engine on the same database, as a new process would have.
    other = Database.from_url(database_url)
    try:
        for now, reloads in ((CANNED_NOW + 55 * timedelta(minutes=1), 0), (CANNED_NOW + HOUR, 1)):
            server = canned_server("kraken", now=now)
            exchange = CcxtExchange(
                "kraken",
                ccxt_factory=server.factory,
                clock=lambda server=server: server.now,
                markets_cache=DatabaseMarketsCache(other, ttl=HOUR),
            )
            try:
                assert await exchange.load_markets() == loaded
                frame = await exchange.fetch_ohlcv("BTC/USD", "1h", limit=3)
            finally:
                await exchange.close()
            assert len(frame) == 3
            assert server.count("/0/public/AssetPairs") == reloads
    finally:
        other.dispose()
