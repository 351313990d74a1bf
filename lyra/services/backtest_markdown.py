"""A backtest's report as Markdown: the Prefect artifact of the ``backtest`` flow.

The sweep table first (what each phase's threshold would have done), the chosen
threshold's figures beside buy-and-hold's, each analyst's track record, the honesty notes
(contamination, data checks) and the charts embedded as data URIs, so the report is whole
in the Prefect UI without a file server.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

from lyra.services.backtest import BacktestReport

__all__ = ["backtest_markdown"]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def backtest_markdown(report: BacktestReport, charts: Mapping[str, Path]) -> str:
    """The report of ``report`` with ``charts`` (name -> PNG path) embedded."""
    plan, metrics, hold = report.plan, report.metrics, report.buy_and_hold
    lines = [
        f"# Backtest {plan.start:%Y-%m-%d %H:%M} to {plan.end:%Y-%m-%d %H:%M} UTC",
        "",
        f"{', '.join(plan.exchanges)} {', '.join(plan.symbols)} on {plan.timeframe} candles; "
        f"panel {report.panel}; {report.instants} instants, {report.votes} votes; "
        f"LLM calls {report.llm_calls}, cost {report.llm_cost_usd} USD.",
        "",
    ]
    if report.contaminated:
        lines += ["**contaminated: true**: " + " ".join(report.contamination), ""]
    lines += [
        "| threshold | decisions | trades | return | Sharpe | max drawdown | hit rate |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report.sweep:
        lines.append(
            f"| {row.threshold} | {row.decisions} | {row.trades} | {_pct(row.total_return)} "
            f"| {_num(row.sharpe)} | {_pct(row.max_drawdown)} | {_pct(row.hit_rate)} |"
        )
    lines += [
        "",
        f"| at {plan.sweep_thresholds[0]} | Lyra | buy-and-hold |",
        "|---|---:|---:|",
        f"| total return | {_pct(metrics.total_return)} | {_pct(hold.total_return)} |",
        f"| CAGR | {_pct(metrics.cagr)} | {_pct(hold.cagr)} |",
        f"| Sharpe | {_num(metrics.sharpe)} | {_num(hold.sharpe)} |",
        f"| Sortino | {_num(metrics.sortino)} | {_num(hold.sortino)} |",
        f"| max drawdown | {_pct(metrics.max_drawdown)} | {_pct(hold.max_drawdown)} |",
        f"| exposure | {_pct(metrics.exposure)} | {_pct(hold.exposure)} |",
        f"| trades | {metrics.trades} | {hold.trades} |",
        f"| win rate | {_pct(metrics.win_rate)} | - |",
        f"| fees (USD) | {metrics.fees:.2f} | - |",
        "",
        "| analyst | model | votes | resolved | hit rate | Brier | carried |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for record in report.scorecard:
        lines.append(
            f"| {record.analyst} | {record.model or '-'} | {record.votes} | {record.resolved} "
            f"| {_pct(record.hit_rate)} | {_num(record.brier)} | {record.carried} |"
        )
    if report.data_checks:
        lines += ["", "Data checks:"]
        lines += [f"- {market}: {reason}" for market, reason in report.data_checks.items()]
    for name, path in charts.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        lines += ["", f"![{name}](data:image/png;base64,{data})", "", str(path)]
    return "\n".join(lines) + "\n"
