"""Command: ``lyra backtest``: the consensus over a window of history, honestly.

A contract (docs/evidence.md, "The backtest contract"): with ``--format json`` it prints one
JSON object on stdout: ``window``, ``metrics`` {total_return, cagr, sharpe, sortino,
max_drawdown, exposure, trades, win_rate, profit_factor, fees}, ``buy_and_hold``,
``equity`` [{time, equity}], ``trades`` [{time, exchange, symbol, side, quantity, price,
fee}], ``sweep`` [{threshold, trades, total_return, sharpe, max_drawdown, hit_rate}] and
``contaminated``. Without options it runs the offline panel over the embedded default's
window and prints the sweep table. Progress goes to stderr; a bad option is one line
naming it and exit 2.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lyra.errors import UserError
from lyra.services.backtest_plan import PHASE_THRESHOLDS

if TYPE_CHECKING:
    from lyra.services.backtest import BacktestReport

__all__ = ["register"]

out = Console(highlight=False, soft_wrap=False, width=160)
err = Console(stderr=True, highlight=False)


def _instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"{name}: {value!r} is not an ISO 8601 date or time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise UserError(f"{name}: {value!r} is not a number") from None
    if not number.is_finite():
        raise UserError(f"{name}: {value!r} is not a finite number")
    return number


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def backtest(
    start: Annotated[
        str | None, typer.Option(help="Window start, ISO 8601 (UTC if no offset).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Window end, ISO 8601 (UTC if no offset).")
    ] = None,
    exchange: Annotated[list[str] | None, typer.Option("--exchange", help="Repeatable.")] = None,
    symbol: Annotated[list[str] | None, typer.Option("--symbol", help="Repeatable.")] = None,
    timeframe: Annotated[str | None, typer.Option(help="Candle timeframe (1h, 1d).")] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option("--threshold", help="Any value in (0, 1]; the first is the one reported."),
    ] = None,
    panel: Annotated[
        Literal["offline", "llm"],
        typer.Option(help="offline rules, or LLMs from the vote journal."),
    ] = "offline",
    analyst: Annotated[
        list[str] | None, typer.Option("--analyst", help="Offline analysts (default: all).")
    ] = None,
    capital: Annotated[str | None, typer.Option(help="Starting cash in USD (10000).")] = None,
    fee: Annotated[str | None, typer.Option(help="Taker fee as a fraction (venue's).")] = None,
    slippage_bps: Annotated[str | None, typer.Option(help="Slippage in bps (5).")] = None,
    horizon: Annotated[
        int | None, typer.Option(help="Candles before a vote is scored (24).")
    ] = None,
    allow_contaminated: Annotated[
        bool,
        typer.Option(help="Let LLMs vote on a period before their training cutoff (labelled)."),
    ] = False,
    learned_weights: Annotated[
        bool,
        typer.Option(help="Weigh members by their hit rate so far (walk-forward, bounded)."),
    ] = False,
    anonymise: Annotated[
        bool,
        typer.Option(help="Ask LLMs with relative prices, no dates or symbols (a mitigation)."),
    ] = False,
    phase: Annotated[
        int,
        typer.Option(
            min=1, max=5, help="Whose panel votes: the panel file's table for this phase (1)."
        ),
    ] = 1,
    output: Annotated[Literal["table", "json"], typer.Option("--format")] = "table",
    charts: Annotated[bool, typer.Option(help="Write PNG charts under reports/backtest.")] = True,
) -> None:
    """Backtest the consensus over a window: metrics, buy-and-hold, the threshold sweep and
    each analyst's track record (no look-ahead; LLM votes replayed from the vote journal)."""
    from lyra.bootstrap import build_runtime
    from lyra.bootstrap.backtest import backtest_panel, backtest_plan
    from lyra.config import load_settings
    from lyra.services.backtest import run_backtest
    from lyra.services.backtest_charts import write_charts

    settings = load_settings()
    thresholds = [_decimal(value, "--threshold") for value in threshold or []]
    plan = backtest_plan(
        settings,
        start=_instant(start, "--start"),
        end=_instant(end, "--end"),
        exchanges=exchange or (),
        symbols=symbol or (),
        timeframe=timeframe,
        thresholds=[t for t in thresholds if t is not None],
        panel=panel,
        analysts=analyst or (),
        capital=_decimal(capital, "--capital"),
        fee_rate=_decimal(fee, "--fee"),
        slippage_bps=_decimal(slippage_bps, "--slippage-bps"),
        allow_contaminated=allow_contaminated,
        horizon=horizon,
        learned_weights=learned_weights,
        anonymise=anonymise,
    )
    runtime = build_runtime(settings, phase=1)
    chosen = backtest_panel(settings, runtime, plan, phase=phase)
    columns = (TextColumn("backtest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=not err.is_terminal, transient=True) as bar:
        task = bar.add_task("votes", total=None)

        def progress(done: int, total: int) -> None:
            if done % 200 == 0 or done == total:
                bar.update(task, completed=done, total=total)

        report = asyncio.run(run_backtest(runtime, plan, chosen, progress=progress))
    stem = f"{plan.start:%Y%m%d}-{plan.end:%Y%m%d}_{plan.sweep_thresholds[0]}"
    paths = write_charts(report, runtime.reports, stem) if charts else {}
    if output == "json":
        typer.echo(json.dumps(report.to_json()))
        return
    _print_report(report, [str(p) for p in paths.values()])


def _print_report(report: BacktestReport, charts: list[str]) -> None:
    plan, metrics, hold = report.plan, report.metrics, report.buy_and_hold
    out.print(
        f"Backtest {plan.start:%Y-%m-%d %H:%M} to {plan.end:%Y-%m-%d %H:%M} UTC "
        f"({plan.timeframe}), {', '.join(plan.exchanges)} {', '.join(plan.symbols)}, "
        f"panel {report.panel}, {report.instants} instants, {report.votes} votes"
    )
    table = Table(
        title="Threshold sweep (the same votes at every threshold)",
        caption="* the reported threshold; what-if: looser than any phase",
    )
    titles = ("threshold", "phase", "decisions", "trades", "return", "Sharpe", "max drawdown")
    for title in (*titles, "hit rate"):
        table.add_column(title, justify="right")
    phases = {t: str(n) for n, t in enumerate(PHASE_THRESHOLDS, start=1)}
    reported = plan.sweep_thresholds[0]
    for row in sorted(report.sweep, key=lambda r: r.threshold):
        looser = row.threshold < PHASE_THRESHOLDS[0]
        table.add_row(
            f"{row.threshold:.2f}{'*' if row.threshold == reported else ''}",
            phases.get(row.threshold, "what-if" if looser else "-"),
            str(row.decisions),
            str(row.trades),
            _pct(row.total_return),
            _num(row.sharpe),
            _pct(row.max_drawdown).lstrip("+"),
            _pct(row.hit_rate).lstrip("+"),
        )
    out.print(table)
    out.print(
        f"At {plan.sweep_thresholds[0]}: return {_pct(metrics.total_return)}, Sharpe "
        f"{_num(metrics.sharpe)}, max drawdown {_pct(metrics.max_drawdown).lstrip('+')}, "
        f"{metrics.trades} trades, fees {metrics.fees:.2f} USD; buy-and-hold "
        f"{_pct(hold.total_return)}, max drawdown {_pct(hold.max_drawdown).lstrip('+')}"
    )
    if report.contaminated:
        out.print("[bold red]contaminated: true[/] " + " ".join(report.contamination))
    rows = report.weights_rows
    if rows:
        fixed, learned = rows["fixed"], rows["learned"]
        out.print(
            f"Weights at {plan.sweep_thresholds[0]} on the same votes: fixed "
            f"{fixed.trades} trades, return {_pct(fixed.total_return)}; learned (walk-forward) "
            f"{learned.trades} trades, return {_pct(learned.total_return)}"
        )
    _print_scorecard(report)
    for market, reason in report.data_checks.items():
        out.print(f"data checks, {market}: {reason}", markup=False)
    for path in charts:
        out.print(f"chart: {path}", markup=False)


def _print_scorecard(report: BacktestReport) -> None:
    table = Table(
        title=f"Track records: each vote scored after {report.plan.horizon} candles",
        caption="hit rate: direction right; Brier: 0 perfect, 0.25 a coin at 0.5, 1 sure and wrong",
    )
    for title in ("analyst", "model", "votes", "resolved", "hit rate", "Brier", "carried"):
        table.add_column(title, justify="left" if title in ("analyst", "model") else "right")
    for record in report.scorecard:
        table.add_row(
            record.analyst,
            record.model or "-",
            str(record.votes),
            str(record.resolved),
            _pct(record.hit_rate).lstrip("+"),
            _num(record.brier),
            str(record.carried),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``lyra backtest`` to the ``lyra`` command."""
    app.command("backtest")(backtest)
