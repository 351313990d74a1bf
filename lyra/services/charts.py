"""The equity curve as a PNG (matplotlib, Agg backend: no display, safe in workers).

Drawn from the stored equity snapshots: equity and its running peak, so a drawdown is
the gap between the two lines. Written under ``settings.reports_dir`` and shown by the
pre-trade flow as a Prefect artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

__all__ = ["plot_equity_curve"]


def plot_equity_curve(
    points: Sequence[tuple[datetime, Decimal, Decimal]], path: Path, *, title: str
) -> Path:
    """Plot ``(time, equity, peak)`` points to ``path`` (PNG); returns the path."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(8, 3.5), dpi=100)
    try:
        # naive UTC as numpy datetimes: matplotlib's typed API takes arrays, not datetimes
        times = np.array([p[0].astimezone(UTC).replace(tzinfo=None) for p in points], "M8[s]")
        axes.plot(times, [float(p[1]) for p in points], label="equity", color="#1f77b4")
        axes.plot(
            times, [float(p[2]) for p in points], label="peak", color="#999999", linestyle="--"
        )
        axes.set_title(title)
        axes.set_ylabel("USD")
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best")
        figure.autofmt_xdate()
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path
