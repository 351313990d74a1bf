"""`LYRA_MARKET_SOURCE=ccxt`: the market-analysis flow end to end through canned exchanges.

ccxt's own exchange classes send real HTTP requests to canned exchanges served on loopback
(tests/support/ccxt_http.py), named by ``LYRA_EXCHANGE_ENDPOINTS`` as a user would name a
proxy: the flow builds its Runtime from the settings as in production, no seam patched.
The servers' candles are moved to the wall clock (tests/support/ccxt_recent.py) because a
ccxt cycle runs at the real "now" and holds stale candles. BTC/AUD on Binance, Kraken
and BTC Markets: three venues of one symbol, so the cycle also measures cross-exchange
spreads (Binance about +15 bps over BTC Markets; Kraken -72 bps since 09:00 of the canned
day: an episode).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from flows.market_analysis import market_analysis
from lyra import bootstrap
from lyra.config import load_settings
from lyra.store.models import CandleRow, CycleRow, DecisionRow
from tests.support.ccxt_canned import Reply
from tests.support.ccxt_http import LoopbackExchange
from tests.support.ccxt_recent import recent_offset, recent_server

EXCHANGES = ("binance", "kraken", "btcmarkets")
RATE_LIMITED = Reply(
    429,
    {"code": -1003, "msg": "Too much request weight used; current limit is 6000."},
    {"Content-Type": "application/json;charset=UTF-8", "Retry-After": "120"},
)


@pytest.fixture
def servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[dict[str, Any]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    monkeypatch.setenv("LYRA_MARKET_SOURCE", "ccxt")
    monkeypatch.setenv("LYRA_EXCHANGES", ",".join(EXCHANGES))
    monkeypatch.setenv("LYRA_SYMBOLS", "BTC/AUD")
    offset = recent_offset()
    canned = {name: recent_server(name, offset) for name in EXCHANGES}
    with ExitStack() as stack:
        loopbacks = {name: stack.enter_context(LoopbackExchange(s)) for name, s in canned.items()}
        endpoints = ",".join(f"{name}={server.url}" for name, server in loopbacks.items())
        monkeypatch.setenv("LYRA_EXCHANGE_ENDPOINTS", endpoints)
        yield canned
    bootstrap.dispose_all()


def _decisions() -> dict[str, DecisionRow]:
    with bootstrap.open_database(load_settings()).transaction() as session:
        rows = session.execute(select(DecisionRow)).scalars().all()
        for row in rows:
            session.expunge(row)
    return {row.exchange: row for row in rows}


def test_a_ccxt_cycle_decides_every_canned_market_with_trends_and_spreads(
    servers: dict[str, Any],
) -> None:
    summary = market_analysis()

    assert [(d.exchange, d.symbol) for d in summary.decisions] == [
        (name, "BTC/AUD") for name in EXCHANGES
    ]
    prices = {d.exchange: d.price for d in summary.decisions}
    # the canned tickers' last prices, parsed by ccxt
    assert prices == {
        "binance": Decimal("4971.39"),
        "kraken": Decimal("4928.5"),
        "btcmarkets": Decimal("4916.6"),
    }
    for decision in summary.decisions:
        assert len(decision.votes) == 4
        assert decision.action in ("buy", "sell", "hold")
        assert not decision.reason.startswith("held:")
        assert decision.trends in {f"1h {trend}, 1d unknown" for trend in ("up", "down", "flat")}
    for server in servers.values():  # every market came from its canned exchange
        assert server.count("klines") + server.count("OHLC") + server.count("candles") >= 2

    stored = _decisions()
    binance, kraken = stored["binance"].indicators, stored["kraken"].indicators
    # about 20 days of canned hourly candles: too few for a daily EMA 26. The candles are
    # shifted by whole hours to the wall clock, so whether the span covers 19 or 20
    # complete UTC days depends on the hour the test runs at.
    assert binance["trends"]["1d"] == "unknown"
    assert re.fullmatch(
        r"insufficient history: (19|20) complete days, 26 needed", binance["trend_notes"]["1d"]
    )
    assert binance["trends"]["1h"] in ("up", "down", "flat")
    # Binance quotes at 1.4021 AUD per USD against BTC Markets' 1.40: about +15 bps
    calm = binance["spreads"]["btcmarkets"]
    assert calm["spread_bps"] == pytest.approx(15.0, abs=0.3)
    assert calm["episode_candles"] == 0
    assert calm["zscore"] is not None  # 250 aligned candles > the 168 of the window
    # Kraken at 1.3900 since 09:00 of the canned day: -72 bps, an episode in progress
    dislocated = kraken["spreads"]["btcmarkets"]
    assert dislocated["spread_bps"] == pytest.approx(-71.7, abs=0.5)
    assert dislocated["episode_candles"] >= 3
    assert dislocated["threshold_bps"] == 50.0
    assert stored["btcmarkets"].indicators["spreads"]["kraken"]["spread_bps"] == pytest.approx(
        71.7, abs=0.5
    )
    assert set(binance["spreads"]) == {"kraken", "btcmarkets"}

    report = Path(summary.report_path or "").read_text(encoding="utf-8")
    assert "## Cross-exchange spreads" in report
    assert "| kraken | BTC/AUD | btcmarkets |" in report
    with bootstrap.open_database(load_settings()).transaction() as session:
        assert session.scalar(select(func.count()).select_from(CandleRow)) == 3 * 250
        assert session.scalar(select(CycleRow.status)) == "completed"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_exchange_error_is_a_recorded_hold_and_the_others_go_on(
    servers: dict[str, Any],
) -> None:
    # Binance keeps answering the ticker with 429 and a Retry-After too long to wait;
    # BTC Markets answers one 503 and then recovers (the adapter's own retry).
    servers["binance"].script("/api/v3/ticker/24hr", *[RATE_LIMITED] * 4)
    servers["btcmarkets"].script("/ticker", servers["btcmarkets"].error("service_unavailable"))

    summary = market_analysis()

    by_exchange = {d.exchange: d for d in summary.decisions}
    held = by_exchange["binance"]
    assert (held.action, held.price, held.actionable) == ("hold", None, False)
    assert held.reason.startswith("held: binance ticker of BTC/AUD")
    assert "asked to wait 120 s" in held.reason
    assert "429 Too Many Requests" in held.reason  # ccxt: DDoSProtection, a NetworkError
    # One layer decides: the adapter does not wait 120 s and gives up at once, marking the
    # error as exhausted, so Prefect does not run the task again (one request in all)
    assert servers["binance"].count("/ticker/24hr") == 1
    for name in ("kraken", "btcmarkets"):
        assert by_exchange[name].price is not None
        assert not by_exchange[name].reason.startswith("held:")
    assert servers["btcmarkets"].count("/ticker") == 2
    # spreads are measured between the markets that have data only
    stored = _decisions()
    assert set(stored["kraken"].indicators["spreads"]) == {"btcmarkets"}
    assert stored["binance"].indicators == {}
