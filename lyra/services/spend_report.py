"""LLM spend of one flow run, per model and tier: a table, a text chart and a PNG.

A market-analysis run's calls carry its cycle id (the gateway records it with each
call), so its spend is exact even while other runs spend at the same time. A run
without a cycle (news sentiment) is measured by the calls of its tasks made between its
start and its end. Costs are the providers' ``usage.cost`` as recorded, in USD.

The PNG is drawn with matplotlib's Agg backend (no display) under the reports folder;
Prefect's image artifact only links a URL, which a local file is not for a browser, so
the flow publishes the same figures as a Markdown artifact with a text bar chart and
names the PNG's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lyra.services.runtime import Runtime
from lyra.store.spend import SpendLine, spend_of_run

__all__ = ["SpendLine", "run_spend", "spend_chart_png", "spend_markdown"]

_BAR_WIDTH = 30


def run_spend(
    runtime: Runtime,
    *,
    cycle_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tasks: Sequence[str] = (),
) -> list[SpendLine]:
    """Spend per tier and model of a cycle (exact), or of a time window and tasks."""
    with runtime.database.transaction() as session:
        return spend_of_run(session, cycle_id=cycle_id, since=since, until=until, tasks=tasks)


def spend_markdown(title: str, lines: Sequence[SpendLine], png: Path | None = None) -> str:
    """A Markdown table of the spend with a bar per model (the UI renders Markdown)."""
    total = sum((line.cost_usd for line in lines), Decimal(0))
    out = [
        f"# {title}",
        "",
        f"Total: **{total:.6f} USD** over {sum(x.calls for x in lines)} calls",
        "",
    ]
    if not lines:
        out.append("No LLM calls in this run (offline analysts or cache hits only).")
        return "\n".join(out) + "\n"
    top = max(line.cost_usd for line in lines) or Decimal(1)
    out += ["| tier | model | calls | cost (USD) | share |", "|---|---|---:|---:|---|"]
    for line in lines:
        bar = "█" * max(1 if line.cost_usd > 0 else 0, int(_BAR_WIDTH * line.cost_usd / top))
        out.append(f"| {line.tier} | {line.model} | {line.calls} | {line.cost_usd:.6f} | {bar} |")
    tiers: dict[str, Decimal] = {}
    for line in lines:
        tiers[line.tier] = tiers.get(line.tier, Decimal(0)) + line.cost_usd
    out += ["", "| tier | cost (USD) |", "|---|---:|"]
    out += [f"| {tier} | {cost:.6f} |" for tier, cost in sorted(tiers.items())]
    if png is not None:
        out += ["", f"Chart: `{png}`"]
    return "\n".join(out) + "\n"


def spend_chart_png(title: str, lines: Sequence[SpendLine], path: Path) -> Path:
    """Draw spend per model, coloured by tier, to ``path`` (PNG); returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tiers = sorted({line.tier for line in lines})
    colours = {tier: f"C{i}" for i, tier in enumerate(tiers)}
    figure, axes = plt.subplots(figsize=(8, 1.2 + 0.4 * max(len(lines), 1)))
    try:
        labels = [f"{line.model} ({line.tier})" for line in lines]
        values = [float(line.cost_usd) for line in lines]  # drawing only: money stays Decimal
        axes.barh(labels, values, color=[colours[line.tier] for line in lines])
        axes.set_xlabel("cost (USD)")
        axes.set_title(title)
        axes.invert_yaxis()
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    finally:
        plt.close(figure)
    return path
