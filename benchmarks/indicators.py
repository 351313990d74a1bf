"""Benchmark: ``add_indicators`` (every column the strategies read) against TA-Lib's bare
calls for the same indicators, in the same run, on the same data.

Two sizes: the real Coinbase BTC/USD hourly series (20,111 candles) and a 1,000,000-row
series built from it by concatenating the real candles forwards, then backwards in time
(open and close swapped), then forwards again, and so on: every copy starts exactly where
the previous one ended, so prices stay real, positive, continuous and within the real
range, and every hourly move is one that BTC made (time-reversed in every other copy).

Timed, each the best of several rounds that alternate them (so all see the same machine
load):

- ``lyra_seconds``: ``add_indicators(candles)``, frame in and frame out: the input checks,
  the 40 columns and the new frame.
- ``talib_seconds``: TA-Lib's bare calls on ready float64 arrays, one per indicator TA-Lib
  has (``EMA`` eight times, ``RSI``, ``MACD``, ``BBANDS``, ``ATR`` 14 and 10, ``MAX`` and
  ``MIN`` 20, ``ADX``, ``PLUS_DI``, ``MINUS_DI``, ``STOCH``, ``WILLR``, ``CCI``,
  ``MIDPRICE`` 9 and 26, ``SAR``, ``SUPERTREND``, ``OBV`` and its ``EMA``, ``MFI``,
  ``TYPPRICE`` and ``VWMA``, ``SMA``, ``STDDEV``), plus the TA-Lib calls the hand-written
  columns are built on (``MIDPRICE`` 52 for the Ichimoku span B; three ``SUM`` and
  ``MAX``/``MIN`` 24 for the VWAP's deviation). No frame, no checks, no arithmetic.
  ``ratio`` = lyra / this; ``meets_target`` is ``ratio <= 1.3`` on the million rows
  (null on the real series, where the frame's fixed costs weigh more).
- ``supertrend_seconds``: TA-Lib's ``SUPERTREND`` alone (the one path-dependent
  indicator); ``ichimoku_seconds`` and ``vwap_seconds``: the functions that add the
  hand-written columns, TA-Lib calls included. Each with its share of ``lyra_seconds``.

``talib_columns_equal`` says every column TA-Lib computes equals the bare call bit for
bit, NaN in the same places.

Run from the repository root: ``.venv/bin/python benchmarks/indicators.py``. The last
line of output is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.talib_reference import real_hourly_candles  # noqa: E402
from lyra.market.indicators import add_indicators  # noqa: E402
from lyra.market.indicators_custom import ichimoku, rolling_vwap  # noqa: E402

LARGE_ROWS = 1_000_000
REAL_REPEATS = 30
LARGE_REPEATS = 7
TARGET_RATIO = 1.3


def mirrored_candles(real: pd.DataFrame, rows: int) -> pd.DataFrame:
    """``rows`` candles: the real ones forwards, backwards, forwards... joined end to start."""
    forward = real[["open", "high", "low", "close", "volume"]].to_numpy()
    backward = forward[::-1][:, [3, 1, 2, 0, 4]]  # reversed in time: open <-> close
    copies = -(-rows // len(forward))
    values = np.concatenate([forward if i % 2 == 0 else backward for i in range(copies)])[:rows]
    start = real["timestamp"].iloc[0]
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=rows, freq="h"),
            "open": values[:, 0],
            "high": values[:, 1],
            "low": values[:, 2],
            "close": values[:, 3],
            "volume": values[:, 4],
        }
    )


def bare_talib(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> dict:
    """Every TA-Lib call behind the frame's columns, by column name (the building blocks
    of the hand-written ones under names starting with ``_``)."""
    sma = 0  # talib.MA_Type.SMA
    out: dict[str, np.ndarray] = {}
    for period in (12, 26, 8, 13, 21, 34, 55):
        out[f"ema_{period}"] = talib.EMA(close, timeperiod=period)
    out["rsi_14"] = talib.RSI(close, timeperiod=14)
    out["macd"], out["macd_signal"], out["macd_hist"] = talib.MACD(close, 12, 26, 9)
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = talib.BBANDS(close, 20, 2, 2, sma)
    out["atr_14"] = talib.ATR(high, low, close, timeperiod=14)
    out["kc_middle"] = talib.EMA(close, timeperiod=20)
    out["_atr_10"] = talib.ATR(high, low, close, timeperiod=10)
    out["donchian_high_20"] = talib.MAX(high, timeperiod=20)
    out["donchian_low_20"] = talib.MIN(low, timeperiod=20)
    out["adx_14"] = talib.ADX(high, low, close, timeperiod=14)
    out["plus_di_14"] = talib.PLUS_DI(high, low, close, timeperiod=14)
    out["minus_di_14"] = talib.MINUS_DI(high, low, close, timeperiod=14)
    out["stoch_k"], out["stoch_d"] = talib.STOCH(high, low, close, 14, 3, sma, 3, sma)
    out["willr_14"] = talib.WILLR(high, low, close, timeperiod=14)
    out["cci_20"] = talib.CCI(high, low, close, timeperiod=20)
    out["ichimoku_tenkan"] = talib.MIDPRICE(high, low, timeperiod=9)
    out["ichimoku_kijun"] = talib.MIDPRICE(high, low, timeperiod=26)
    out["_midprice_52"] = talib.MIDPRICE(high, low, timeperiod=52)
    out["sar"] = talib.SAR(high, low, acceleration=0.02, maximum=0.2)
    out["supertrend"], trend = talib.SUPERTREND(high, low, close, 10, 3.0)
    out["supertrend_direction"] = np.where(trend == 0, np.nan, trend.astype(np.float64))
    out["obv"] = talib.OBV(close, volume)
    out["obv_ema_20"] = talib.EMA(out["obv"], timeperiod=20)
    out["mfi_14"] = talib.MFI(high, low, close, volume, timeperiod=14)
    typical = talib.TYPPRICE(high, low, close)
    out["vwap_24"] = talib.VWMA(typical, volume, timeperiod=24)
    out["_sma_20"] = talib.SMA(close, timeperiod=20)
    out["_stddev_20"] = talib.STDDEV(close, timeperiod=20, nbdev=1)
    for name in ("_sum_v", "_sum_vd", "_sum_vd2"):
        out[name] = talib.SUM(volume, timeperiod=24)
    out["_max_24"] = talib.MAX(typical, timeperiod=24)
    out["_min_24"] = talib.MIN(typical, timeperiod=24)
    return out


def best_of(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Fastest of ``repeats`` rounds per run, the runs alternating inside each round."""
    for run in runs.values():
        run()  # warm-up
    fastest = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            fastest[name] = min(fastest[name], time.perf_counter() - started)
    return fastest


def talib_columns_equal(frame: pd.DataFrame, bare: dict[str, np.ndarray]) -> bool:
    """Every TA-Lib column of ``frame`` equals the bare call, NaN in the same places."""
    return all(
        np.array_equal(frame[name].to_numpy(), values, equal_nan=True)
        for name, values in bare.items()
        if not name.startswith("_")
    )


def measure(candles: pd.DataFrame, repeats: int) -> dict[str, object]:
    """Timings and agreement for one candle frame."""
    high, low, close, volume = (
        candles[name].to_numpy(dtype=np.float64) for name in ("high", "low", "close", "volume")
    )
    times = best_of(
        {
            "lyra": lambda: add_indicators(candles),
            "talib": lambda: bare_talib(high, low, close, volume),
            "supertrend": lambda: talib.SUPERTREND(high, low, close, 10, 3.0),
            "ichimoku": lambda: ichimoku(high, low),
            "vwap": lambda: rolling_vwap(high, low, close, volume),
        },
        repeats,
    )
    lyra = times["lyra"]
    return {
        "rows": len(candles),
        "lyra_seconds": lyra,
        "talib_seconds": times["talib"],
        "ratio": lyra / times["talib"],
        # The target is set for the million-row case (fixed costs weigh more on less).
        "meets_target": lyra / times["talib"] <= TARGET_RATIO
        if len(candles) >= LARGE_ROWS
        else None,
        **{f"{name}_seconds": times[name] for name in ("supertrend", "ichimoku", "vwap")},
        **{f"{name}_share": times[name] / lyra for name in ("supertrend", "ichimoku", "vwap")},
        "talib_columns_equal": talib_columns_equal(
            add_indicators(candles), bare_talib(high, low, close, volume)
        ),
    }


def main() -> None:
    real = real_hourly_candles()
    cases = [
        ("real", real, REAL_REPEATS),
        ("mirrored", mirrored_candles(real, LARGE_ROWS), LARGE_REPEATS),
    ]
    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, object]] = {}
    for label, candles, repeats in cases:
        result = measure(candles, repeats)
        results[label] = result
        print(
            f"{label:>8} {result['rows']:>9,} rows: lyra {result['lyra_seconds'] * 1e3:8.2f} ms,"
            f" talib bare calls {result['talib_seconds'] * 1e3:8.2f} ms"
            f" (ratio {result['ratio']:.2f}); supertrend (TA-Lib)"
            f" {result['supertrend_seconds'] * 1e3:.2f} ms ({result['supertrend_share']:.0%}),"
            f" hand-written: ichimoku {result['ichimoku_seconds'] * 1e3:.2f} ms"
            f" ({result['ichimoku_share']:.0%}), vwap {result['vwap_seconds'] * 1e3:.2f} ms"
            f" ({result['vwap_share']:.0%}); TA-Lib columns equal:"
            f" {result['talib_columns_equal']}"
        )
    summary = {
        "benchmark": "indicators",
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "talib": talib.__version__,
        "columns": len(add_indicators(real.head(1)).columns) - len(real.columns),
        "target_ratio": TARGET_RATIO,
        "ratio_is": "add_indicators (frame in, frame out) / TA-Lib's bare calls on arrays",
        "load_average": [load_before, os.getloadavg()[0]],
        "sizes": [results["real"], results["mirrored"]],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
