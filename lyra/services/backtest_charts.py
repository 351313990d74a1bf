"""A backtest's pictures, as PNG (matplotlib, Agg backend: no display, safe in workers).

Four, because people would rather look than read (docs/evidence.md, "Reading a backtest"):
equity against buy-and-hold of the same markets, the drawdown below the running peak, the
threshold sweep (return and trades per threshold), and the calibration of each analyst
(stated confidence against how often it was right: a calibrated analyst lies on the
diagonal). Written under ``<reports>/backtest/`` by :func:`write_charts`; the flow shows
them as Prefect artifacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lyra.services.backtest import BacktestReport
from lyra.services.runtime import ReportSink

__all__ = ["write_charts"]


@contextmanager
def _figure(path: Path, title: str) -> Iterator[Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 3.6), dpi=100)
    try:
        yield axes
        axes.set_title(title)
        axes.grid(True, alpha=0.3)
        figure.autofmt_xdate()
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)


def _times(series: pd.Series) -> Any:
    index = pd.DatetimeIndex(series.index).tz_convert(UTC).tz_localize(None)
    return index.to_numpy(dtype="datetime64[s]")


def write_charts(report: BacktestReport, sink: ReportSink, stem: str) -> dict[str, Path]:
    """Write the four charts of ``report`` as ``backtest/<stem>_<name>.png``; their paths."""
    equity = report.primary.equity
    capital = float(report.plan.capital)
    threshold = report.plan.sweep_thresholds[0]
    paths: dict[str, Path] = {}
    taint = " (contaminated: LLM memory, not skill)" if report.contaminated else ""

    paths["equity"] = path = sink.path(f"backtest/{stem}_equity.png")
    with _figure(path, f"Equity at threshold {threshold} vs buy-and-hold{taint}") as axes:
        axes.plot(_times(equity), equity.to_numpy(), label="Lyra (paper fills)", color="#1f77b4")
        hold = report.benchmark_curve * capital
        axes.plot(_times(hold), hold.to_numpy(), label="buy-and-hold", color="#999999")
        axes.set_ylabel("USD")
        axes.legend(loc="best")

    paths["drawdown"] = path = sink.path(f"backtest/{stem}_drawdown.png")
    with _figure(path, "Drawdown below the running peak") as axes:
        fall = equity / equity.cummax() - 1
        axes.fill_between(_times(fall), fall.to_numpy(), 0, color="#d62728", alpha=0.4)
        axes.set_ylabel("fraction")

    paths["sweep"] = path = sink.path(f"backtest/{stem}_sweep.png")
    with _figure(path, "Threshold sweep: total return (bars) and trades (labels)") as axes:
        labels = [f"{row.threshold}" for row in report.sweep]
        returns = [row.total_return for row in report.sweep]
        bars = axes.bar(labels, returns, color="#2ca02c")
        for bar, row in zip(bars, report.sweep, strict=True):
            axes.annotate(f"{row.trades}", (bar.get_x() + bar.get_width() / 2, bar.get_height()))
        axes.set_ylabel("total return")

    paths["calibration"] = path = sink.path(f"backtest/{stem}_calibration.png")
    with _figure(path, "Calibration: stated confidence against hit rate") as axes:
        axes.plot([0, 1], [0, 1], color="#999999", linestyle="--", label="calibrated")
        for record in report.scorecard:
            if record.model is not None:
                continue
            points = [
                (b.mean_confidence, b.hit_rate)
                for b in record.calibration
                if b.mean_confidence is not None and b.hit_rate is not None
            ]
            if points:
                xs, ys = np.array(points).T
                axes.plot(xs, ys, marker="o", label=record.analyst)
        axes.set_xlabel("confidence")
        axes.set_ylabel("hit rate")
        axes.legend(loc="best", fontsize="small")
    return paths
