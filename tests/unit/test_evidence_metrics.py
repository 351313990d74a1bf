"""The backtest metrics: empyrical's ratios, hand-checked drawdowns, FIFO round trips."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest

from lyra.evidence.metrics import (
    Fill,
    Performance,
    buy_and_hold,
    performance,
    periods_per_year,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
HOURLY = periods_per_year("1h")


def _curve(values: list[float], step: timedelta = timedelta(hours=1)) -> pd.Series:
    index = pd.DatetimeIndex([START + i * step for i in range(len(values))])
    return pd.Series(values, index=index)


def _fill(hour: int, side: str, quantity: str, price: str, fee: str = "0", **kw: str) -> Fill:
    return Fill(
        time=START + timedelta(hours=hour),
        exchange=kw.get("exchange", "kraken"),
        symbol=kw.get("symbol", "BTC/USD"),
        side=side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal(fee),
    )


def test_periods_per_year_counts_candles_of_a_market_open_all_year() -> None:
    assert periods_per_year("1h") == 24 * 365
    assert periods_per_year("1d") == 365
    assert periods_per_year("5m") == 365 * 24 * 12
    assert periods_per_year("4h") == 365 * 6


@pytest.mark.parametrize("timeframe", ["1y", "h", "0h", "", "1.5h"])
def test_periods_per_year_names_an_unknown_timeframe(timeframe: str) -> None:
    with pytest.raises(ValueError, match="unknown timeframe"):
        periods_per_year(timeframe)


def test_known_path_has_hand_checked_return_drawdown_and_duration() -> None:
    perf = performance(_curve([100, 120, 90, 130]), [], periods_per_year=HOURLY)
    assert perf.total_return == pytest.approx(0.30)
    assert perf.max_drawdown == pytest.approx(0.25)  # 120 -> 90
    assert perf.max_drawdown_duration_hours == 2.0  # from the 120 point to the 130 point
    assert perf.trades == 0
    assert perf.exposure == 0.0
    assert perf.fees == Decimal(0)


def test_decimal_equity_is_accepted_and_gives_the_same_figures() -> None:
    floats = performance(_curve([100, 120, 90, 130]), [], periods_per_year=HOURLY)
    decimals = _curve([Decimal(100), Decimal(120), Decimal(90), Decimal(130)])
    assert performance(decimals, [], periods_per_year=HOURLY) == floats


def test_unrecovered_drawdown_lasts_to_the_end_and_a_first_drop_counts() -> None:
    perf = performance(_curve([100, 80, 95, 90]), [], periods_per_year=HOURLY)
    assert perf.max_drawdown == pytest.approx(0.20)  # anchored at the first point
    assert perf.max_drawdown_duration_hours == 3.0
    assert perf.total_return == pytest.approx(-0.10)


def test_rising_equity_has_no_drawdown() -> None:
    perf = performance(_curve([100, 101, 102, 104]), [], periods_per_year=HOURLY)
    assert perf.max_drawdown == 0.0
    assert perf.max_drawdown_duration_hours == 0.0


def test_sharpe_sortino_and_cagr_are_empyricals_with_the_timeframes_annualisation() -> None:
    rng = np.random.default_rng(7)
    values = 100 * np.cumprod(1 + rng.normal(0.0005, 0.01, 500))
    returns = pd.Series(values).pct_change().dropna().to_numpy()
    hourly = performance(_curve(list(values)), [], periods_per_year=periods_per_year("1h"))
    daily = performance(
        _curve(list(values), timedelta(days=1)), [], periods_per_year=periods_per_year("1d")
    )
    assert hourly.sharpe == pytest.approx(empyrical.sharpe_ratio(returns, annualization=8760))
    assert daily.sharpe == pytest.approx(empyrical.sharpe_ratio(returns, annualization=365))
    assert hourly.sortino == pytest.approx(empyrical.sortino_ratio(returns, annualization=8760))
    assert daily.cagr == pytest.approx(empyrical.cagr(returns, annualization=365))
    assert hourly.max_drawdown == pytest.approx(-empyrical.max_drawdown(returns))
    assert hourly.sharpe is not None
    assert daily.sharpe is not None
    assert hourly.sharpe / daily.sharpe == pytest.approx(math.sqrt(8760 / 365))


def test_flat_equity_has_no_sharpe_and_no_sortino() -> None:
    perf = performance(_curve([100.0] * 10), [], periods_per_year=HOURLY)
    assert perf.sharpe is None
    assert perf.sortino is None
    assert perf.total_return == 0.0
    assert perf.max_drawdown == 0.0


def test_no_downside_gives_no_sortino_and_an_overflowing_cagr_is_none() -> None:
    perf = performance(_curve([100, 130, 170, 220]), [], periods_per_year=HOURLY)
    assert perf.sortino is None  # no return below zero: empyrical answers infinity
    assert perf.cagr is None  # 120% in three hours compounds past a float
    assert perf.sharpe is not None


def test_round_trips_are_fifo_with_fees_in_cost_and_proceeds() -> None:
    fills = [
        _fill(0, "buy", "1", "100", fee="1"),  # lot A: cost 101
        _fill(1, "buy", "1", "200", fee="1"),  # lot B: cost 201
        _fill(2, "sell", "1.5", "150", fee="1.5"),  # 223.5 - (101 + 100.5) = +22
        _fill(3, "sell", "0.5", "100", fee="0.5"),  # 49.5 - 100.5 = -51
        _fill(4, "buy", "2", "10", exchange="bitstamp"),
        _fill(5, "sell", "1", "13", exchange="bitstamp"),  # 13 - 10 = +3
    ]
    perf = performance(_curve([100] * 6), fills, periods_per_year=HOURLY)
    assert perf.trades == 6
    assert perf.win_rate == pytest.approx(2 / 3)
    assert perf.profit_factor == pytest.approx(25 / 51)
    assert perf.fees == Decimal("4.0")


def test_only_winning_trips_have_no_profit_factor() -> None:
    fills = [_fill(0, "buy", "1", "100"), _fill(1, "sell", "1", "110")]
    perf = performance(_curve([100, 110]), fills, periods_per_year=HOURLY)
    assert perf.win_rate == 1.0
    assert perf.profit_factor is None


def test_open_position_without_a_sell_has_no_win_rate() -> None:
    perf = performance(_curve([100, 110]), [_fill(0, "buy", "1", "100")], periods_per_year=1)
    assert perf.win_rate is None
    assert perf.profit_factor is None


def test_a_sell_beyond_what_is_held_names_the_fill() -> None:
    fills = [_fill(0, "buy", "1", "100"), _fill(1, "sell", "1.5", "110")]
    with pytest.raises(ValueError, match=r"more than held: .*kraken BTC/USD sell 1\.5"):
        performance(_curve([100, 110]), fills, periods_per_year=HOURLY)


def test_a_sell_on_another_market_does_not_use_this_markets_lots() -> None:
    fills = [_fill(0, "buy", "1", "100"), _fill(1, "sell", "1", "110", symbol="ETH/USD")]
    with pytest.raises(ValueError, match="ETH/USD"):
        performance(_curve([100, 110]), fills, periods_per_year=HOURLY)


def test_exposure_from_fills_holds_from_the_buy_until_the_position_is_flat() -> None:
    fills = [
        _fill(2, "buy", "1", "100"),
        _fill(3, "buy", "1", "100"),
        _fill(4, "sell", "1", "100"),  # still holding one
        _fill(6, "sell", "1", "100"),  # flat from hour 6
    ]
    perf = performance(_curve([100.0] * 10), fills, periods_per_year=HOURLY)
    assert perf.exposure == pytest.approx(4 / 10)  # hours 2, 3, 4, 5


def test_exposure_from_invested_flags_overrides_the_fills() -> None:
    equity = _curve([100.0] * 4)
    invested = pd.Series([True, False, False, True], index=equity.index)
    perf = performance(equity, [_fill(0, "buy", "1", "100")], periods_per_year=1, invested=invested)
    assert perf.exposure == 0.5


def test_invested_on_another_index_is_refused() -> None:
    equity = _curve([100.0] * 4)
    invested = pd.Series([True] * 3, index=equity.index[:3])
    with pytest.raises(ValueError, match="invested"):
        performance(equity, [], periods_per_year=1, invested=invested)


def test_buy_and_hold_on_a_rising_series_charges_the_entry_fee_once() -> None:
    closes = _curve([100, 110, 121], timedelta(days=1))
    free = buy_and_hold(closes, periods_per_year=periods_per_year("1d"))
    paid = buy_and_hold(closes, periods_per_year=365, fee_rate=Decimal("0.01"))
    assert free.total_return == pytest.approx(0.21)
    assert paid.total_return == pytest.approx(0.99 * 1.21 - 1)
    assert free.max_drawdown == 0.0
    assert (free.trades, free.exposure, free.win_rate, free.profit_factor) == (1, 1.0, None, None)
    assert free.fees == Decimal(0)
    assert free.cagr is not None
    assert free.cagr > 0


def test_to_json_rounds_floats_keeps_none_and_prints_fees_as_a_decimal_string() -> None:
    perf = Performance(
        total_return=0.123456789,
        cagr=None,
        sharpe=1.0000004,
        sortino=None,
        max_drawdown=0.25,
        max_drawdown_duration_hours=2.0,
        exposure=0.5,
        trades=3,
        win_rate=None,
        profit_factor=None,
        fees=Decimal("1E-8"),
    )
    out = perf.to_json()
    assert out["total_return"] == 0.123457
    assert out["sharpe"] == 1.0
    assert out["cagr"] is None
    assert out["fees"] == "0.00000001"
    assert out["trades"] == 3


def test_bad_equity_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="empty"):
        performance(
            pd.Series([], dtype=float, index=pd.DatetimeIndex([], tz="UTC")), [], periods_per_year=1
        )
    naive = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"]))
    with pytest.raises(ValueError, match="naive"):
        performance(naive, [], periods_per_year=1)
    with pytest.raises(ValueError, match="sorted"):
        performance(_curve([1.0, 2.0]).iloc[::-1], [], periods_per_year=1)
    with pytest.raises(ValueError, match="positive"):
        performance(_curve([1.0, 0.0]), [], periods_per_year=1)


def test_a_fill_with_a_naive_time_or_unknown_side_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Fill(
            time=datetime(2024, 1, 1),  # noqa: DTZ001 - the naive time under test
            exchange="kraken",
            symbol="BTC/USD",
            side="buy",
            quantity=Decimal(1),
            price=Decimal(1),
            fee=Decimal(0),
        )
    with pytest.raises(ValueError, match="side"):
        _fill(0, "short", "1", "100")
