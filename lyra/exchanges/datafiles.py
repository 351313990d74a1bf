"""Parse the shipped CryptoDataDownload candle files into frames of ``CANDLE_COLUMNS``.

The files under ``lyra/market/data/`` are gzip copies of real exports (see ``ORIGIN.md``
there). Their formats differ per exchange, so each format is a :class:`Layout` and each
served market a :class:`Feed` row in :data:`FEEDS` -- differences as data, not branches::

    coinbase_btcusd_1h     banner line, then  date,symbol,open,...,volume_btc,volume
                           dates "2019-10-17 09-AM" (12-AM = 00:00, 12-PM = noon)
    bitfinex_btcusd_1h     Date,Symbol,Open,...,VolumeFrom,VolumeTo; "2019-07-04 01:00"
    *_1d (wide)            ,BTC:open,...,BTC:volume,ETH:open,...; empty cells before listing

Both hourly files are newest first; the result is always oldest first, ``timestamp`` the
candle's open time (tz-aware UTC), prices and volume float64, volume in the base asset
(``volume_btc``, ``VolumeFrom``, ``ASSET:volume``), as :mod:`lyra.market.types` defines.

The parser is strict on purpose (Lyra "never trades on garbage": docs/domain.md): an
unreadable file, a missing column, an unparseable date or number, or a repeated timestamp
raises :class:`~lyra.errors.DataFileError` naming the file and the line of the original
CSV; nothing is dropped or repaired. Gaps in time are kept as they are: flagging them is
the data-check stage's job. In a wide file an asset's cells may be empty only on its
leading rows (before it was listed); those rows are absent from that asset's candles.

Usage::

    frame = read_candles(FEEDS[0])                      # shipped coinbase BTC/USD 1h
    frame = read_candles(FEEDS[0], data_dir=Path("x"))  # same file name under ./x
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from lyra.errors import DataFileError
from lyra.market.types import CANDLE_COLUMNS

__all__ = [
    "BITFINEX_HOURLY",
    "COINBASE_HOURLY",
    "FEEDS",
    "WIDE_DAILY",
    "Feed",
    "Layout",
    "clear_cache",
    "default_data_dir",
    "feed_path",
    "read_candle_file",
    "read_candles",
]

_ASSET: Final = "{asset}"
_MAX_LISTED: Final = 3  # duplicates named in one error line


@dataclass(frozen=True, slots=True)
class Layout:
    """How one CSV format spells candles.

    ``columns`` are the source columns of open, high, low, close and volume (base asset),
    in that order; a ``{asset}`` placeholder marks a wide file holding several assets.
    ``date_column`` None means the first column (its header is empty in wide files).
    ``banner_lines`` are lines before the header (CryptoDataDownload's URL banner).
    """

    name: str
    date_format: str
    columns: tuple[str, str, str, str, str]
    date_column: str | None = None
    banner_lines: int = 0

    @property
    def wide(self) -> bool:
        """True when one file holds several assets as ``ASSET:field`` columns."""
        return any(_ASSET in column for column in self.columns)

    def source_columns(self, asset: str | None) -> tuple[str, ...]:
        """The five source column names for ``asset`` (None for single-market files)."""
        if self.wide:
            if asset is None:
                raise ValueError(f"layout {self.name} is wide: an asset is required")
            return tuple(column.replace(_ASSET, asset) for column in self.columns)
        if asset is not None:
            raise ValueError(f"layout {self.name} holds one market: no asset expected")
        return self.columns


COINBASE_HOURLY: Final = Layout(
    name="cryptodatadownload-coinbase-hourly",
    date_format="%Y-%m-%d %I-%p",
    columns=("open", "high", "low", "close", "volume_btc"),
    date_column="date",
    banner_lines=1,
)
BITFINEX_HOURLY: Final = Layout(
    name="cryptodatadownload-bitfinex-hourly",
    date_format="%Y-%m-%d %H:%M",
    columns=("Open", "High", "Low", "Close", "VolumeFrom"),
    date_column="Date",
)
WIDE_DAILY: Final = Layout(
    name="wide-daily",
    date_format="%Y-%m-%d",
    columns=("{asset}:open", "{asset}:high", "{asset}:low", "{asset}:close", "{asset}:volume"),
)


@dataclass(frozen=True, slots=True)
class Feed:
    """One market served from one shipped file: who, what, how often, where, in what format."""

    exchange: str
    symbol: str
    timeframe: str
    filename: str
    layout: Layout
    asset: str | None = None

    def __post_init__(self) -> None:
        self.layout.source_columns(self.asset)  # ValueError for a wide feed without asset

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"


#: Every market the shipped data can replay (see ``lyra/market/data/ORIGIN.md``).
FEEDS: Final[tuple[Feed, ...]] = (
    Feed("coinbase", "BTC/USD", "1h", "coinbase_btcusd_1h.csv.gz", COINBASE_HOURLY),
    Feed("bitfinex", "BTC/USD", "1h", "bitfinex_btcusd_1h.csv.gz", BITFINEX_HOURLY),
    Feed("bitstamp", "BTC/USD", "1d", "bitstamp_btc_eth_ltc_usd_1d.csv.gz", WIDE_DAILY, "BTC"),
    Feed("bitstamp", "ETH/USD", "1d", "bitstamp_btc_eth_ltc_usd_1d.csv.gz", WIDE_DAILY, "ETH"),
    Feed("bitstamp", "LTC/USD", "1d", "bitstamp_btc_eth_ltc_usd_1d.csv.gz", WIDE_DAILY, "LTC"),
    Feed("bitfinex", "BTC/USD", "1d", "bitfinex_btc_eth_usd_1d.csv.gz", WIDE_DAILY, "BTC"),
    Feed("bitfinex", "ETH/USD", "1d", "bitfinex_btc_eth_usd_1d.csv.gz", WIDE_DAILY, "ETH"),
)


def default_data_dir() -> Path:
    """The folder of the shipped files, found through the package's resources.

    A zipped install would not expose a file system path; then pass ``data_dir``.
    """
    folder = files("lyra.market") / "data"
    if not isinstance(folder, Path):
        raise DataFileError(
            f"shipped market data at {folder} is not on the file system; pass data_dir"
        )
    return folder


def feed_path(feed: Feed, data_dir: Path | None = None) -> Path:
    """Where ``feed``'s file is: under ``data_dir`` when given, else the shipped copy."""
    return (default_data_dir() if data_dir is None else Path(data_dir)) / feed.filename


def read_candles(feed: Feed, data_dir: Path | None = None) -> pd.DataFrame:
    """Candles of ``feed`` (a fresh copy; the parsed file is cached per process)."""
    return read_candle_file(feed_path(feed, data_dir), feed.layout, feed.asset)


def read_candle_file(path: Path, layout: Layout, asset: str | None = None) -> pd.DataFrame:
    """Candles of ``asset`` (wide files) or of the file's one market, oldest first.

    The cache key includes the file's modification time and size, so a rewritten file
    is parsed again. Callers get a copy and may change it freely.
    """
    path = Path(path)
    columns = layout.source_columns(asset)
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read market data file ({exc.strerror})") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    return _candles(path, stamp, layout, columns).copy()


def clear_cache() -> None:
    """Forget every parsed file (for cold-start timing and tests)."""
    _table.cache_clear()
    _candles.cache_clear()


@dataclass(frozen=True, slots=True)
class _Table:
    """A parsed file: rows sorted by time, each with its line in the original CSV."""

    timestamps: pd.Series
    lines: np.ndarray
    raw: pd.DataFrame


@lru_cache(maxsize=32)
def _candles(
    path: Path, stamp: tuple[int, int], layout: Layout, columns: tuple[str, ...]
) -> pd.DataFrame:
    table = _table(path, stamp, layout)
    missing = [column for column in columns if column not in table.raw.columns]
    if missing:
        found = ", ".join(str(column) for column in table.raw.columns)
        raise DataFileError(f"{path}: missing column {missing[0]!r} (found: {found})")
    values = np.column_stack(
        [_numbers(path, table.raw[column], column, table.lines) for column in columns]
    )
    keep = _listed_rows(path, values, columns, table.lines, wide=layout.wide)
    frame = pd.DataFrame(values[keep], columns=list(CANDLE_COLUMNS[1:]), dtype="float64")
    frame.insert(0, CANDLE_COLUMNS[0], table.timestamps.iloc[keep].reset_index(drop=True))
    return frame


@lru_cache(maxsize=8)
def _table(path: Path, stamp: tuple[int, int], layout: Layout) -> _Table:
    del stamp  # part of the cache key only
    raw = _read_csv(path, _decompress(path), layout.banner_lines)
    if raw.empty:
        raise DataFileError(f"{path}: no data rows")
    first_line = layout.banner_lines + 2  # 1-based, after the banner and the header
    lines = np.arange(first_line, first_line + len(raw))
    date_column = raw.columns[0] if layout.date_column is None else layout.date_column
    if date_column not in raw.columns:
        found = ", ".join(str(column) for column in raw.columns)
        raise DataFileError(f"{path}: missing column {date_column!r} (found: {found})")
    timestamps = _dates(path, raw[date_column], layout.date_format, lines)
    order = np.argsort(timestamps.to_numpy(), kind="stable")
    sorted_stamps = timestamps.iloc[order].reset_index(drop=True)
    return _Table(sorted_stamps, lines[order], raw.iloc[order].reset_index(drop=True))


def _decompress(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except OSError as exc:  # includes gzip.BadGzipFile
        reason = exc.strerror or str(exc)
        raise DataFileError(f"{path}: cannot read market data file ({reason})") from None
    except EOFError:
        raise DataFileError(f"{path}: truncated gzip file") from None
    except zlib.error as exc:
        raise DataFileError(f"{path}: corrupt gzip file ({exc})") from None


def _read_csv(path: Path, data: bytes, banner_lines: int) -> pd.DataFrame:
    """Read with the C parser; blank lines kept so row i stays on a known line."""
    try:
        return pd.read_csv(
            io.BytesIO(data),
            skiprows=banner_lines,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding="utf-8",
        )
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path}: empty file, no header line") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]  # the C parser counts original lines
        raise DataFileError(f"{path}: malformed CSV ({detail})") from None


def _dates(path: Path, text: pd.Series, date_format: str, lines: np.ndarray) -> pd.Series:
    if not pd.api.types.is_string_dtype(text.dtype):
        text = text.astype("str").where(text.notna())
    stamps = pd.to_datetime(text, format=date_format, utc=True, errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        value = text.iloc[row]
        shown = "empty" if pd.isna(value) else repr(value)
        raise DataFileError(
            f"{path}: line {lines[row]}: date {shown} does not match {date_format!r}"
        )
    _reject_duplicates(path, stamps, lines)
    return stamps


def _reject_duplicates(path: Path, stamps: pd.Series, lines: np.ndarray) -> None:
    repeated = stamps.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    rows = pd.DataFrame({"stamp": stamps[repeated], "line": lines[repeated]})
    groups = rows.groupby("stamp", sort=True)["line"]
    named = [
        f"{stamp:%Y-%m-%d %H:%M} UTC (lines {', '.join(str(n) for n in group)})"
        for stamp, group in list(groups)[:_MAX_LISTED]
    ]
    more = f" and {groups.ngroups - _MAX_LISTED} more" if groups.ngroups > _MAX_LISTED else ""
    raise DataFileError(f"{path}: duplicate timestamps {'; '.join(named)}{more}")


def _numbers(path: Path, raw: pd.Series, column: str, lines: np.ndarray) -> np.ndarray:
    """float64 values of one column; empty cells become NaN, anything else must parse."""
    if pd.api.types.is_float_dtype(raw.dtype) or pd.api.types.is_integer_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64")
    else:
        parsed = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero((parsed.isna() & raw.notna()).to_numpy())
        if bad.size:
            row = int(bad[0])
            raise DataFileError(
                f"{path}: line {lines[row]}: {column} is not a number: {raw.iloc[row]!r}"
            )
        values = parsed.to_numpy(dtype="float64")
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        row = int(infinite[0])
        raise DataFileError(f"{path}: line {lines[row]}: {column} is not finite: {raw.iloc[row]}")
    return values


def _listed_rows(
    path: Path, values: np.ndarray, columns: tuple[str, ...], lines: np.ndarray, *, wide: bool
) -> np.ndarray:
    """Rows to keep: all of them, or in a wide file those from the asset's listing on.

    An empty cell is an error except where all of an asset's cells are empty on the
    leading rows of a wide file (the asset was not listed yet).
    """
    empty = np.isnan(values)
    blank_rows = empty.all(axis=1)
    first_listed = int(np.argmin(blank_rows)) if wide and not blank_rows.all() else 0
    if wide and blank_rows.all():
        raise DataFileError(f"{path}: no values in columns {', '.join(columns)}")
    later = empty[first_listed:]
    if later.any():
        row, col = np.argwhere(later)[0]
        raise DataFileError(
            f"{path}: line {lines[first_listed + row]}: {columns[col]} is empty or not a number"
        )
    keep: np.ndarray = np.arange(first_listed, len(values))
    return keep
