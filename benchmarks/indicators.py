"""Benchmark: ``lyra.market.indicators.add_indicators`` against TA-Lib, same run, same data.

Two sizes: the real Coinbase BTC/USD hourly series (20,111 candles) and a 1,000,000-row
series built from it by concatenating the real candles forwards, then backwards in time
(open and close swapped), then forwards again, and so on: every copy starts exactly where
the previous one ended, so prices stay real, positive, continuous and within the real
range, and every hourly move is one that BTC made (time-reversed in every other copy).

Each timing is the best of several repeats. TA-Lib is timed two ways:

- ``talib_seconds``: the same job as ``add_indicators`` -- take the candle frame, compute
  the ten columns with ``EMA``, ``RSI``, ``MACD``, ``BBANDS`` and ``ATR`` and return a new
  frame with them appended; ``ratio`` = lyra / this.
- ``talib_kernel_seconds``: the six TA-Lib calls alone on ready float64 arrays;
  ``kernel_ratio`` = lyra / this.

``meets_target`` is ``ratio <= 3``.

``max_rel_diff`` is the largest ``|lyra - talib| / |talib|`` over every defined value of
every column; near a zero crossing of the MACD lines this measures rounding of a
difference of two prices, so ``max_scaled_diff`` (``|lyra - talib|`` over the column's
median magnitude) is reported too. ``nan_match`` says both put NaN in the same places.

Run from the repository root: ``.venv/bin/python benchmarks/indicators.py``. The last
line of output is one JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import talib

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.talib_reference import real_hourly_candles, talib_columns  # noqa: E402
from lyra.market.indicators import INDICATOR_COLUMNS, add_indicators  # noqa: E402

LARGE_ROWS = 1_000_000
REAL_REPEATS = 30
LARGE_REPEATS = 7
TARGET_RATIO = 3.0


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


def talib_frame(candles: pd.DataFrame) -> pd.DataFrame:
    """The same job as ``add_indicators``, done with TA-Lib."""
    columns = talib_columns(
        candles["high"].to_numpy(dtype="float64"),
        candles["low"].to_numpy(dtype="float64"),
        candles["close"].to_numpy(dtype="float64"),
    )
    return pd.concat([candles, pd.DataFrame(columns, index=candles.index)], axis=1)


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` timed calls (after one warm-up call)."""
    run()
    fastest = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


def compare(ours: pd.DataFrame, reference: dict[str, np.ndarray]) -> dict[str, object]:
    """Largest relative and scaled differences, and whether the NaN positions agree."""
    max_rel = 0.0
    max_scaled = 0.0
    nan_match = True
    per_column: dict[str, float] = {}
    for name in INDICATOR_COLUMNS:
        mine = ours[name].to_numpy()
        theirs = reference[name]
        nan_match = nan_match and bool(np.array_equal(np.isnan(mine), np.isnan(theirs)))
        defined = ~np.isnan(theirs) & ~np.isnan(mine)
        diff = np.abs(mine[defined] - theirs[defined])
        nonzero = theirs[defined] != 0
        rel = float(np.max(diff[nonzero] / np.abs(theirs[defined][nonzero]), initial=0.0))
        scale = float(np.median(np.abs(theirs[defined]))) if defined.any() else 1.0
        scaled = float(np.max(diff, initial=0.0)) / scale if scale else 0.0
        per_column[name] = rel
        max_rel = max(max_rel, rel)
        max_scaled = max(max_scaled, scaled)
    return {
        "max_rel_diff": max_rel,
        "max_scaled_diff": max_scaled,
        "nan_match": nan_match,
        "per_column": per_column,
    }


def measure(candles: pd.DataFrame, repeats: int) -> dict[str, object]:
    """Timings and agreement for one candle frame."""
    high = candles["high"].to_numpy(dtype="float64")
    low = candles["low"].to_numpy(dtype="float64")
    close = candles["close"].to_numpy(dtype="float64")
    lyra_seconds = best_seconds(lambda: add_indicators(candles), repeats)
    talib_seconds = best_seconds(lambda: talib_frame(candles), repeats)
    kernel_seconds = best_seconds(lambda: talib_columns(high, low, close), repeats)
    agreement = compare(add_indicators(candles), talib_columns(high, low, close))
    return {
        "rows": len(candles),
        "lyra_seconds": lyra_seconds,
        "talib_seconds": talib_seconds,
        "talib_kernel_seconds": kernel_seconds,
        "ratio": lyra_seconds / talib_seconds,
        "kernel_ratio": lyra_seconds / kernel_seconds,
        "meets_target": lyra_seconds / talib_seconds <= TARGET_RATIO,
        **agreement,
    }


def main() -> None:
    real = real_hourly_candles()
    cases = [
        ("real", real, REAL_REPEATS),
        ("mirrored", mirrored_candles(real, LARGE_ROWS), LARGE_REPEATS),
    ]
    results: dict[str, dict[str, object]] = {}
    for label, candles, repeats in cases:
        result = measure(candles, repeats)
        per_column = result.pop("per_column")
        results[label] = result
        print(
            f"{label:>8} {result['rows']:>9,} rows: lyra {result['lyra_seconds'] * 1e3:8.2f} ms,"
            f" talib same job {result['talib_seconds'] * 1e3:8.2f} ms"
            f" (ratio {result['ratio']:.2f}),"
            f" talib calls only {result['talib_kernel_seconds'] * 1e3:8.2f} ms"
            f" (ratio {result['kernel_ratio']:.2f})"
        )
        print(
            f"{'':>8} max rel diff {result['max_rel_diff']:.2e},"
            f" max scaled diff {result['max_scaled_diff']:.2e}, NaN positions match:"
            f" {result['nan_match']}"
        )
        assert isinstance(per_column, dict)
        print(f"{'':>8} " + ", ".join(f"{k} {v:.1e}" for k, v in per_column.items()))
    summary = {
        "benchmark": "indicators",
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "talib": talib.__version__,
        "target_ratio": TARGET_RATIO,
        "ratio_is": "lyra / talib_seconds (TA-Lib doing the same job, frame in and out)",
        "sizes": [results["real"], results["mirrored"]],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
