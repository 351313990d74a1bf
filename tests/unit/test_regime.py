"""lyra.market.regime: the rule on synthetic markets, and on BTC's real 2017-2019."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lyra.exchanges.datafiles import FEEDS, read_candles
from lyra.market.indicators import add_indicators
from lyra.market.regime import (
    DEFAULT_RULE,
    RegimeKind,
    RegimeRule,
    detect_regime,
    regime_figures,
    regime_series,
)

ROWS = 400


def candles(close: np.ndarray, relative_range: np.ndarray | float) -> pd.DataFrame:
    """Hourly candles around ``close`` whose high-low range is ``relative_range`` x close."""
    close = np.asarray(close, dtype=np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    half = np.broadcast_to(relative_range, close.shape) * close / 2.0
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=len(close), freq="1h", tz="UTC"),
            "open": open_,
            "high": np.maximum(open_, close) + half,
            "low": np.minimum(open_, close) - half,
            "close": close,
            "volume": np.ones(len(close)),
        }
    )


def calming(rows: int = ROWS) -> np.ndarray:
    """Ranges from 1.2 % down to 0.8 % of the price: volatility never beats its history."""
    return np.linspace(0.012, 0.008, rows)


def feed(exchange: str, timeframe: str) -> pd.DataFrame:
    chosen = next(
        f for f in FEEDS if (f.exchange, f.symbol, f.timeframe) == (exchange, "BTC/USD", timeframe)
    )
    return read_candles(chosen)


def test_a_steady_rise_is_bull() -> None:
    frame = add_indicators(candles(100.0 * np.exp(np.linspace(0, 0.4, ROWS)), calming()))
    regime = detect_regime(frame)
    assert regime.kind is RegimeKind.BULL
    assert regime.close > regime.ema_12 > regime.ema_26
    assert regime.trend_slope > DEFAULT_RULE.trend_atr
    assert regime.reason.startswith("bull: ")
    assert regime.as_of == frame["timestamp"].iloc[-1]


def test_a_steady_fall_is_bear() -> None:
    frame = add_indicators(candles(100.0 * np.exp(np.linspace(0, -0.4, ROWS)), calming()))
    regime = detect_regime(frame)
    assert regime.kind is RegimeKind.BEAR
    assert regime.trend_slope < -DEFAULT_RULE.trend_atr
    assert regime.reason.startswith("bear: ")


def test_an_oscillation_without_drift_is_sideways() -> None:
    close = 100.0 + np.sin(np.arange(ROWS) * 2 * np.pi / 20)
    regime = detect_regime(add_indicators(candles(close, calming())))
    assert regime.kind is RegimeKind.SIDEWAYS
    assert abs(regime.trend_slope) <= DEFAULT_RULE.trend_atr
    assert regime.reason.startswith("sideways: ")


def test_a_drift_smaller_than_an_atr_is_sideways_even_with_aligned_emas() -> None:
    # +0.02 % a candle: 0.5 % over 26 candles, against candles 1 % wide.
    close = 100.0 * np.exp(np.arange(ROWS) * 0.0002)
    regime = detect_regime(add_indicators(candles(close, calming())))
    assert regime.close > regime.ema_12 > regime.ema_26
    assert 0.0 < regime.trend_slope < DEFAULT_RULE.trend_atr
    assert regime.kind is RegimeKind.SIDEWAYS
    assert "not beyond 1 ATR up" in regime.reason
    loose = RegimeRule(trend_atr=regime.trend_slope / 2)
    assert detect_regime(add_indicators(candles(close, calming())), loose).kind is RegimeKind.BULL


def test_a_burst_of_wide_candles_is_high_volatility_even_inside_a_trend() -> None:
    close = 100.0 * np.exp(np.linspace(0, 0.4, ROWS))
    ranges = np.r_[np.full(ROWS - 20, 0.01), np.full(20, 0.05)]
    frame = add_indicators(candles(close, ranges))
    regime = detect_regime(frame)
    assert regime.kind is RegimeKind.HIGH_VOLATILITY
    assert regime.volatility > regime.volatility_threshold
    assert regime.reason.startswith("high volatility: ")
    # Without the burst the same prices are a bull market: volatility is tested first.
    assert detect_regime(add_indicators(candles(close, calming()))).kind is RegimeKind.BULL


def test_an_absolute_volatility_ceiling_overrides_the_relative_test() -> None:
    frame = add_indicators(candles(100.0 * np.exp(np.linspace(0, 0.4, ROWS)), calming()))
    ceiling = RegimeRule(volatility_ceiling=0.005)
    regime = detect_regime(frame, ceiling)
    assert regime.kind is RegimeKind.HIGH_VOLATILITY
    assert regime.volatility_threshold == 0.005


def test_figures_follow_the_stated_formulas() -> None:
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, 900)))
    frame = add_indicators(candles(close, rng.uniform(0.005, 0.02, 900)))
    figures = regime_figures(frame)
    t = len(frame) - 1
    natr = (frame["atr_14"] / frame["close"]).to_numpy()
    previous = natr[t - DEFAULT_RULE.volatility_lookback : t]
    assert figures["volatility"].iloc[-1] == pytest.approx(natr[t], rel=1e-12)
    assert figures["volatility_threshold"].iloc[-1] == pytest.approx(
        np.quantile(previous, 0.90), rel=1e-9
    )
    ema = frame["ema_26"].to_numpy()
    assert figures["trend_slope"].iloc[-1] == pytest.approx(
        (ema[t] - ema[t - 26]) / frame["atr_14"].iloc[-1], rel=1e-12
    )


def test_regime_needs_min_rows_candles_and_says_so() -> None:
    frame = add_indicators(candles(100.0 * np.exp(np.linspace(0, 0.4, ROWS)), calming()))
    assert DEFAULT_RULE.min_rows == 14 + 100 + 1
    detect_regime(frame.iloc[: DEFAULT_RULE.min_rows])
    with pytest.raises(ValueError, match=f"at least {DEFAULT_RULE.min_rows} candles"):
        detect_regime(frame.iloc[: DEFAULT_RULE.min_rows - 1])
    series = regime_series(frame)
    assert series.isna().sum() == DEFAULT_RULE.min_rows - 1
    assert series.iloc[DEFAULT_RULE.min_rows - 1 :].notna().all()


def test_regime_needs_the_indicator_columns() -> None:
    with pytest.raises(ValueError, match="'atr_14': run add_indicators first"):
        detect_regime(candles(np.full(200, 100.0), 0.01).assign(ema_12=1.0, ema_26=1.0))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"volatility_history": 600}, "volatility_history <= volatility_lookback"),
        ({"volatility_quantile": 1.0}, "strictly between 0 and 1"),
        ({"volatility_ceiling": 0.0}, "positive when set"),
        ({"slope_candles": 0}, "slope_candles must be >= 1"),
        ({"trend_atr": -1.0}, "trend_atr >= 0"),
    ],
)
def test_rule_refuses_thresholds_that_mean_nothing(
    settings: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RegimeRule(**settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hourly_regimes() -> tuple[pd.DataFrame, pd.Series]:
    frame = add_indicators(feed("coinbase", "1h"))
    return frame, regime_series(frame)


def test_detect_regime_equals_the_series_on_the_last_row(
    hourly_regimes: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, series = hourly_regimes
    cuts = np.random.default_rng(3).integers(DEFAULT_RULE.min_rows, len(frame), 40)
    for cut in [*cuts.tolist(), len(frame)]:
        assert detect_regime(frame.iloc[:cut]).kind.value == series.iloc[cut - 1]


def test_all_four_regimes_occur_on_real_hourly_btc_2017_2019(
    hourly_regimes: tuple[pd.DataFrame, pd.Series],
) -> None:
    _, series = hourly_regimes
    shares = series.value_counts(normalize=True)
    assert set(shares.index) == {kind.value for kind in RegimeKind}
    # The 90th-percentile test marks about a tenth of the hours as high volatility.
    assert 0.05 < shares["high_volatility"] < 0.15
    assert all(shares[kind.value] > 0.15 for kind in RegimeKind if kind.value != "high_volatility")


@pytest.fixture(scope="module")
def daily_regimes() -> pd.Series:
    """Bitstamp daily BTC/USD from 2014-11: enough history before 2017 for every figure."""
    frame = add_indicators(feed("bitstamp", "1d"))
    return regime_series(frame).set_axis(frame["timestamp"].dt.strftime("%Y-%m-%d"))


def share(series: pd.Series, start: str, end: str, kind: RegimeKind) -> float:
    window = series[(series.index >= start) & (series.index <= end)]
    return float((window == kind.value).mean())


def test_real_daily_btc_regimes_fall_on_the_known_market_phases(daily_regimes: pd.Series) -> None:
    """BTC/USD: the 2017 run-up, the wild top and crash of Dec 2017 - Feb 2018, the 2018
    bear market, the quiet September 2018, and the spring 2019 rally."""
    assert share(daily_regimes, "2017-08-01", "2017-11-30", RegimeKind.BULL) > 0.6
    assert share(daily_regimes, "2017-08-01", "2017-11-30", RegimeKind.BEAR) == 0.0
    assert share(daily_regimes, "2017-12-15", "2018-02-10", RegimeKind.HIGH_VOLATILITY) > 0.6
    in_2018 = {kind: share(daily_regimes, "2018-01-01", "2018-12-31", kind) for kind in RegimeKind}
    assert in_2018[RegimeKind.BEAR] > 2 * in_2018[RegimeKind.BULL]
    assert share(daily_regimes, "2018-09-01", "2018-09-30", RegimeKind.SIDEWAYS) > 0.9
    assert share(daily_regimes, "2018-11-20", "2018-12-20", RegimeKind.BEAR) > 0.8
    assert share(daily_regimes, "2019-04-01", "2019-06-30", RegimeKind.BULL) > 0.8
    for kind in RegimeKind:  # each of the four regimes in 2017-2019
        assert share(daily_regimes, "2017-01-01", "2019-12-31", kind) > 0.05
