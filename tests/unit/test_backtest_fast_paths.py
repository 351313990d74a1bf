"""The backtest's fast paths give what the plain paths give (issue 16's 60 s target), and
the offline snapshots carry cross-exchange spreads read on candles closed by then.

- the report reuses the cast votes and outcomes that learned weights were computed from
  (:func:`~lyra.services.backtest_report.with_carried`) instead of casting and resolving
  every vote twice: the same votes, carried flags and outcomes;
- :func:`~lyra.evidence.weights.reweigh` builds votes equal to ``dataclasses.replace``;
- a backtest snapshot's columns hand out Decimals converted once
  (:class:`~lyra.decision.analysts.base.DecimalColumns`): the same readings as the plain
  conversion, and the same reasons to abstain;
- spreads: at each row, the reading of the spread module over the candles closed by then
  (later candles change nothing).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

from lyra.decision.analysts.base import DecimalColumns, Readings, read_indicators
from lyra.decision.votes import Action, Ballot, Vote
from lyra.evidence.track_record import resolve_outcomes
from lyra.evidence.weights import reweigh
from lyra.market.indicators import add_indicators
from lyra.market.spreads import spread_series
from lyra.services.backtest_report import cast_votes, closes_of, with_carried
from lyra.services.backtest_series import MarketSeries
from lyra.services.backtest_snapshots import offline_snapshot
from lyra.services.backtest_spreads import spread_tables
from lyra.services.backtest_votes import Tally, VoteTape
from lyra.services.market_context import SPREAD_THRESHOLD_BPS, SPREAD_WINDOW

START = datetime(2019, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _candles(closes: list[float]) -> pd.DataFrame:
    stamps = pd.date_range(START, periods=len(closes), freq="1h", tz="UTC")
    close = np.asarray(closes, dtype=float)
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": np.full(len(close), 10.0),
        }
    )


def _series(exchange: str, closes: list[float]) -> MarketSeries:
    frame = add_indicators(_candles(closes))
    return MarketSeries.of(exchange, "BTC/USD", "1h", frame, 250, cast(Any, None))


def _walk(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(10_000.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))


def _vote(name: str, action: Action | None, confidence: str = "0.6") -> Vote:
    if action is None:
        return Vote.abstain(name, "offline", Decimal("1.0"), "warming up")
    return Vote(name, "offline", Decimal("1.0"), Ballot(action, Decimal(confidence), "r"))


# --- outcomes once -----------------------------------------------------------------------


def test_the_report_reuses_the_cast_votes_and_outcomes_with_the_carried_flags() -> None:
    one = _series("coinbase", _walk(120, 1))
    market = one.market
    actions = [Action.BUY, Action.SELL, Action.HOLD, None]
    tallies = [
        Tally(
            market,
            row,
            datetime.fromtimestamp(int(one.close_ns[row]) / 1e9, UTC),
            one.price(row),
            tuple(_vote(f"a{i}", actions[(row + i) % 4]) for i in range(3)),
        )
        for row in range(60, 90)
    ]
    tape = VoteTape.of(tallies, {market: one}, len(tallies))
    traded = SimpleNamespace(market=market, as_of=tallies[5].as_of, traded=True, carried_by=("a1",))
    refused = SimpleNamespace(
        market=market, as_of=tallies[6].as_of, traded=False, carried_by=("a0",)
    )
    run = cast(Any, SimpleNamespace(decisions=(traded, refused)))

    plain = cast_votes(tape, None)
    carried = with_carried(plain, tape, run)
    assert [v.carried for v in carried].count(True) == 1
    assert carried[5 * 3 + 1].carried
    assert carried[5 * 3 + 1].analyst == "a1"
    assert [replace(v, carried=False) for v in carried] == plain
    assert cast_votes(tape, run) == carried
    closes = closes_of(tape)
    once = resolve_outcomes(plain, closes, horizon=24)
    twice = resolve_outcomes(carried, closes, horizon=24)
    assert len(once) > 0
    assert [replace(o, vote=replace(o.vote, carried=False)) for o in twice] == once


def test_reweigh_equals_dataclasses_replace_and_keeps_an_unchanged_vote() -> None:
    votes = (_vote("a", Action.BUY), _vote("b", None), _vote("c", Action.SELL))
    learned = {"a": Decimal("1.2"), "b": Decimal("0.7")}
    out = reweigh(votes, learned)
    assert out == (
        replace(votes[0], weight=Decimal("1.2")),
        replace(votes[1], weight=Decimal("0.7")),
        votes[2],
    )
    same = {"a": votes[0].weight}
    assert reweigh(votes, same)[0] is votes[0]


# --- Decimals converted once -------------------------------------------------------------


@pytest.mark.parametrize("row", [0, 1, 13, 14, 40, 119])
@pytest.mark.parametrize("rows", [1, 2, 3])
def test_snapshot_columns_read_as_the_plain_conversion(row: int, rows: int) -> None:
    one = _series("coinbase", _walk(120, 2))
    snapshot = offline_snapshot(one, row, START)
    columns = snapshot.columns
    assert isinstance(columns, DecimalColumns)
    plain = {name: list(columns[name]) for name in columns}  # a plain mapping of lists
    for names in (("atr_14",), ("ema_12", "ema_26"), ("rsi_14", "macd"), ("no_such",)):
        fast = read_indicators(columns, names, rows)
        slow = read_indicators(plain, names, rows)
        assert fast == slow
        if isinstance(fast, Readings):
            for name in names:
                assert [str(v) for v in fast.values[name]] == [
                    str(v) for v in slow.values[name]
                ]  # the same digits, not only equal values


# --- spreads point in time ---------------------------------------------------------------


def test_spreads_at_a_row_use_only_candles_closed_by_then() -> None:
    base = _walk(400, 3)
    other = [c * (1 + 0.002 * math.sin(i / 7)) for i, c in enumerate(base)]
    other[300] *= 1.03  # one wide spread: an episode
    a, b = _series("coinbase", base), _series("bitfinex", other)
    tables = spread_tables({a.market: a, b.market: b})
    for row in (50, 167, 168, 250, 299, 300, 301, 399):
        (reading,) = tables[a.market].at_row(row)
        truth = spread_series(
            _candles(base[: row + 1]), _candles(other[: row + 1]), window=SPREAD_WINDOW
        ).frame.iloc[-1]
        assert reading.other == "bitfinex"
        assert reading.at == START + row * HOUR
        assert reading.spread_bps == pytest.approx(float(truth["spread_bps"]), rel=1e-12)
        if math.isnan(truth["zscore"]):
            assert reading.zscore is None
        else:
            assert reading.zscore == pytest.approx(float(truth["zscore"]), rel=1e-6)
        expected_episode = (
            1 if row == 300 and abs(truth["spread_bps"]) > SPREAD_THRESHOLD_BPS else 0
        )
        assert reading.episode_candles == expected_episode
    # a later candle changes no earlier reading
    changed = other[:350] + [c * 1.2 for c in other[350:]]
    later = spread_tables({a.market: a, b.market: _series("bitfinex", changed)})
    for row in range(0, 350, 7):
        assert later[a.market].at_row(row) == tables[a.market].at_row(row)


def test_a_symbol_on_one_exchange_gets_no_spreads_and_identical_venues_no_zscore() -> None:
    base = _walk(300, 4)
    alone = _series("coinbase", base)
    assert spread_tables({alone.market: alone}) == {}
    twin = _series("bitfinex", base)
    tables = spread_tables({alone.market: alone, twin.market: twin})
    (reading,) = tables[alone.market].at_row(299)
    assert reading.spread_bps == 0.0
    assert reading.zscore is None
