"""The ten indicator columns of ``add_indicators`` as TA-Lib computes them.

Shared by ``benchmarks/indicators.py`` (the peer it is timed against) and
``tests/unit/test_indicators.py`` (the reference it must equal), so both hold TA-Lib to
the same calls: ``EMA``, ``RSI``, ``MACD(12, 26, 9)``, ``BBANDS(20, 2, 2, SMA)``, ``ATR``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib

from lyra.exchanges.datafiles import FEEDS, read_candles


def talib_columns(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> dict[str, np.ndarray]:
    """The ten indicator columns as TA-Lib computes them."""
    macd, signal, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
    return {
        "ema_12": talib.EMA(close, timeperiod=12),
        "ema_26": talib.EMA(close, timeperiod=26),
        "rsi_14": talib.RSI(close, timeperiod=14),
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": hist,
        "bb_upper": upper,
        "bb_middle": middle,
        "bb_lower": lower,
        "atr_14": talib.ATR(high, low, close, timeperiod=14),
    }


def talib_reference(candles: pd.DataFrame) -> dict[str, np.ndarray]:
    """TA-Lib's columns for a candle frame."""
    return talib_columns(
        candles["high"].to_numpy(dtype=np.float64),
        candles["low"].to_numpy(dtype=np.float64),
        candles["close"].to_numpy(dtype=np.float64),
    )


def real_hourly_candles() -> pd.DataFrame:
    """The shipped Coinbase BTC/USD hourly series (20,111 rows), through Lyra's parser."""
    feed = next(
        f for f in FEEDS if (f.exchange, f.symbol, f.timeframe) == ("coinbase", "BTC/USD", "1h")
    )
    return read_candles(feed)
