"""Benchmark: ``lyra tax import`` of generated exchange exports of 100,000 and 1,000,000
rows, against two baselines reading the same file in the same run.

The export: Binance's spot trade history (``Date(UTC),Pair,Side,Price,Executed,Amount,
Fee``, each quantity with its coin: ``0.00120000BTC``), the largest file an active
trader's records usually are. Rows are evenly spaced over two income years (1 July 2022
to 30 June 2024) on seven pairs: BTCAUD and ETHAUD (valued at their AUD amount),
BTCUSDT, ETHUSDT, SOLUSDT, BNBUSDT (swaps valued at the day's USDT close) and ETHBTC (a
swap valued at the day's BTC close); about 60 % of fees are paid in BNB (their own
``fee`` line, a disposal valued at BNB's close), the rest in the coin received. Prices
follow a seeded random walk per coin; the generator is seeded, so every run sees the same
rows. A price file (``--prices``: ``date,asset,quote,price,source``) gives the daily AUD
close of BTC, ETH, SOL, BNB and USDT over the span, so every row is valued and the
valuation runs on each non-AUD row.

Timed (best of ``REPEATS`` on shared machines): :func:`lyra.compliance.importers.
pipeline.import_exports`, the function the command runs, from the files to the written
ledger and manifest (detection, reading, conversion, valuation, transfer matching, the
merge, the atomic write), into a fresh ``--out`` each time with a fresh valuer (its
per-day cache warms inside the timing). Building the valuer (reading the price file and
the shipped candles) is timed apart (``valuer_build_seconds``): the command pays it once
whatever the file's size.

In parallel: a Binance trade history's rows stand alone, so a file of 50,000 rows or
more is cut into chunks on line boundaries and read, converted, valued and rendered as
ledger text by one forked worker process per CPU the process may use
(:mod:`lyra.compliance.importers.chunks`); the parent process detects the format, joins
the chunks' text in file order, merges (ids, duplicates, time order) and writes, as for
any file. Both sizes here take that path. ``cpus`` is the CPUs the process may use,
``workers_1m`` the worker processes that read the 1,000,000-row file, ``cpu_seconds_1m``
the CPU time of the best 1,000,000-row import, parent and workers together (what the
import costs whatever the load), and ``peak_rss_mb_workers`` the largest worker's peak
resident memory (``peak_rss_mb_1m`` is the parent's).

Baselines, in the same run on the same 1,000,000-row file:

- ``baseline_csv_seconds``: the :mod:`csv` module reading every row and splitting it
  into cells, nothing else. Any importer that streams the file in Python pays at least
  this; ``import / csv`` says how much of the import is the work beyond reading.
- ``baseline_pandas_seconds``: ``pandas.read_csv`` (its C parser) and a vectorised
  minimal conversion to the ledger's columns (dates parsed, coin suffixes stripped,
  quantities as float64, AUD pairs' values, written with ``to_csv``): what a quick
  dataframe script would do. It is not a like-for-like import (floats, no USDT/BTC
  valuation, no fee lines, no checks, no provenance) -- a floor for the row-at-a-time
  work of the vectorised kind, shown for scale, not as a target.

``ratio_1m_100k`` is the 1,000,000-row time over the 100,000-row time (the 100,000 size is
timed before and after the larger one, best kept, so a load change does not skew it):
near-linear means at most 12. Target (issue 15): 1,000,000 rows in at most 30 s.
``load_average_1m`` is printed beside: other work on the two CPUs slows every timing.

Run from the repository root: ``.venv/bin/python benchmarks/tax_import.py`` (about four
minutes on the shared two-CPU machine). The last line of output is one JSON object.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lyra.compliance.importers.manifest import manifest_path  # noqa: E402
from lyra.compliance.importers.pipeline import ImportSummary, import_exports  # noqa: E402
from lyra.compliance.localtime import DEFAULT_TIMEZONE  # noqa: E402
from lyra.config import load_settings  # noqa: E402
from lyra.services.tax_prices import build_valuer  # noqa: E402

SIZES = (100_000, 1_000_000)
REPEATS = 2
TARGET_SECONDS = 30.0
MAX_RATIO = 12.0
START = datetime(2022, 7, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
HEADER = "Date(UTC),Pair,Side,Price,Executed,Amount,Fee"
#: (base, quote, weight): AUD pairs, USDT pairs and one BTC pair.
PAIRS = (
    ("BTC", "AUD", 20), ("ETH", "AUD", 15), ("BTC", "USDT", 25), ("ETH", "USDT", 15),
    ("SOL", "USDT", 10), ("BNB", "USDT", 5), ("ETH", "BTC", 10),
)  # fmt: skip
#: AUD prices at the start and their yearly volatility.
START_AUD = {"BTC": 30000.0, "ETH": 1600.0, "SOL": 50.0, "BNB": 350.0, "USDT": 1.45}
VOLATILITY = {"BTC": 0.6, "ETH": 0.7, "SOL": 1.0, "BNB": 0.6, "USDT": 0.05}


def price_path(seed: int) -> dict[str, list[float]]:
    """Daily AUD closes per coin over the span (a seeded random walk)."""
    rng = random.Random(seed)
    days = SPAN.days + 1
    paths: dict[str, list[float]] = {}
    for coin, first in START_AUD.items():
        sigma = VOLATILITY[coin] / math.sqrt(365)
        value, path = first, []
        for _ in range(days):
            path.append(value)
            value *= math.exp(rng.gauss(0, sigma))
        paths[coin] = path
    return paths


def write_price_file(path: Path, paths: dict[str, list[float]]) -> None:
    """The ``--prices`` file of the daily AUD closes."""
    lines = ["date,asset,quote,price,source"]
    for coin, closes in paths.items():
        for n, close in enumerate(closes):
            day = (START + timedelta(days=n)).date()
            lines.append(f"{day},{coin},AUD,{close:.6f},generated close")
    path.write_text("\n".join(lines) + "\n")


def write_export(path: Path, rows: int, paths: dict[str, list[float]], seed: int) -> None:
    """A Binance spot trade history of ``rows`` rows (module docstring)."""
    rng = random.Random(seed)
    weighted = [(b, q) for b, q, w in PAIRS for _ in range(w)]
    step = SPAN / rows
    out = [HEADER]
    for i in range(rows):
        at = START + step * i
        day = min((at - START).days, SPAN.days)
        base, quote = weighted[rng.randrange(len(weighted))]
        in_aud = paths[base][day] * (1 + rng.uniform(-0.01, 0.01))
        price = in_aud / paths[quote][day] if quote != "AUD" else in_aud
        qty = rng.randrange(1, 200_000) / 10**5 * (1000.0 / paths[base][day])
        total = qty * price
        side = "BUY" if rng.random() < 0.55 else "SELL"
        if rng.random() < 0.6:  # 0.075 % in BNB
            fee = f"{qty * in_aud * 0.00075 / paths['BNB'][day]:.8f}BNB"
        else:
            received_qty, received = (qty, base) if side == "BUY" else (total, quote)
            fee = f"{received_qty * 0.001:.8f}{received}"
        out.append(
            f"{at:%Y-%m-%d %H:%M:%S},{base}{quote},{side},{price:.8f},{qty:.8f}{base},"
            f"{total:.8f}{quote},{fee}"
        )
    path.write_text("\n".join(out) + "\n")


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def cpu_seconds() -> float:
    """CPU time so far of this process and its finished children (the import's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_import(export: Path, prices: Path, out: Path) -> tuple[float, float, ImportSummary]:
    """One import into a fresh ledger, timed without building the valuer: wall and CPU
    seconds (parent and workers)."""
    out.unlink(missing_ok=True)
    manifest_path(out).unlink(missing_ok=True)
    valuer = build_valuer(load_settings(), prices)
    started, cpu = time.perf_counter(), cpu_seconds()
    summary = import_exports(
        [export], exchange="auto", zone=ZoneInfo(DEFAULT_TIMEZONE), valuer=valuer, out=out
    )
    return time.perf_counter() - started, cpu_seconds() - cpu, summary


def time_import(
    export: Path, prices: Path, out: Path, repeats: int
) -> tuple[float, float, ImportSummary]:
    """The best wall time of ``repeats`` imports, with that import's CPU seconds."""
    best, best_cpu, summary = float("inf"), 0.0, None
    for _ in range(repeats):
        elapsed, cpu, summary = run_import(export, prices, out)
        if elapsed < best:
            best, best_cpu = elapsed, cpu
    assert summary is not None
    return best, best_cpu, summary


def baseline_csv(export: Path) -> int:
    """Every row read and split into cells by the csv module."""
    count = 0
    with export.open(encoding="utf-8-sig", newline="") as handle:
        for _ in csv.reader(handle):
            count += 1
    return count


def baseline_pandas(export: Path, out: Path) -> int:
    """pandas.read_csv and a vectorised minimal conversion (module docstring)."""
    import pandas as pd

    frame = pd.read_csv(export, dtype=str)
    executed = frame["Executed"].str.extract(r"^([0-9.]+)([A-Z0-9]+)$")
    spent = frame["Amount"].str.extract(r"^([0-9.]+)([A-Z0-9]+)$")
    fee = frame["Fee"].str.extract(r"^([0-9.]+)([A-Z0-9]+)$")
    when = pd.to_datetime(frame["Date(UTC)"], utc=True)
    aud = spent[1] == "AUD"
    ledger = pd.DataFrame(
        {
            "timestamp": when.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "type": frame["Side"].str.lower().where(aud, "swap"),
            "asset": executed[1],
            "quantity": executed[0].astype(float),
            "aud_value": spent[0].astype(float).where(aud),
            "fee_aud": fee[0].astype(float).where(fee[1] == "AUD"),
            "to_asset": spent[1].where(~aud, ""),
            "to_quantity": spent[0].astype(float).where(~aud),
            "exchange": "binance",
        }
    )
    ledger.to_csv(out, index=False)
    return len(ledger)


def peak_rss_mb() -> int:
    """The process's peak resident memory so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    figures: dict[str, Any] = {"format": "binance-trades"}
    small, large = SIZES
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        paths = price_path(seed=11)
        prices = work / "prices.csv"
        write_price_file(prices, paths)
        exports = {}
        for size in SIZES:
            exports[size] = work / f"binance_{size}.csv"
            write_export(exports[size], size, paths, seed=size)
        started = time.perf_counter()
        build_valuer(load_settings(), prices)
        figures["valuer_build_seconds"] = round(time.perf_counter() - started, 3)
        out = work / "ledger.csv"
        seconds: dict[int, float] = {}
        for size in (small, large, small):
            elapsed, cpu, summary = time_import(exports[size], prices, out, REPEATS)
            seconds[size] = min(elapsed, seconds.get(size, elapsed))
            print(
                f"lyra tax import, {size:,} rows: {elapsed:.2f} s, {cpu:.2f} CPU s in "
                f"{summary.files[0].workers} worker process(es) and the parent "
                f"({summary.rows_added:,} ledger rows, {summary.estimated_values:,} AUD values "
                f"estimated, {summary.missing_values:,} missing; load {os.getloadavg()[0]:.2f})"
            )
            if size == large:
                figures["workers_1m"] = summary.files[0].workers
                figures["cpu_seconds_1m"] = round(cpu, 2)
                figures["ledger_rows_1m"] = summary.rows_added
                figures["estimated_values_1m"] = summary.estimated_values
                figures["missing_values_1m"] = summary.missing_values
                figures["file_mb_1m"] = round(exports[large].stat().st_size / 2**20, 1)
                figures["ledger_mb_1m"] = round(out.stat().st_size / 2**20, 1)
                figures["peak_rss_mb_1m"] = peak_rss_mb()
                figures["peak_rss_mb_workers"] = (
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
                )
        csv_s, csv_rows = best_of(REPEATS, lambda: baseline_csv(exports[large]))
        pandas_s, _ = best_of(REPEATS, lambda: baseline_pandas(exports[large], work / "pd.csv"))
    ratio = seconds[large] / seconds[small]
    print(f"ratio 1,000,000 / 100,000 rows: {ratio:.2f} (near-linear: <= {MAX_RATIO})")
    print(
        f"baselines on the 1,000,000-row file: csv module reading {csv_s:.2f} s "
        f"(import / csv = {seconds[large] / csv_s:.1f}); pandas read_csv + vectorised "
        f"minimal conversion {pandas_s:.2f} s (import / pandas = {seconds[large] / pandas_s:.1f})"
    )
    ok = seconds[large] <= TARGET_SECONDS and ratio <= MAX_RATIO
    figures.update(
        rows=large,
        seconds_1m=round(seconds[large], 3),
        seconds_100k=round(seconds[small], 3),
        ratio_1m_100k=round(ratio, 2),
        baseline_csv_seconds_1m=round(csv_s, 3),
        baseline_csv_rows=csv_rows - 1,
        baseline_pandas_seconds_1m=round(pandas_s, 3),
        import_over_csv=round(seconds[large] / csv_s, 1),
        import_over_pandas=round(seconds[large] / pandas_s, 1),
        target_seconds=TARGET_SECONDS,
        max_ratio=MAX_RATIO,
        ok=ok,
        load_average_1m=round(os.getloadavg()[0], 2),
        cpus=len(os.sched_getaffinity(0)),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
