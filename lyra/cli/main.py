"""The ``lyra`` command (typer + rich).

``lyra run`` is the main job on the embedded default (docs/domain.md, Contracts): it checks
settings, database and markets first, so a user's mistake ends with one line naming the
problem and exit code 2 before any flow starts, then runs the flows once against a
temporary Prefect server that dies with it (deployments/temporary_server.py) and prints
what they decided.

This module is an entry point like ``flows/``: it may import the ``flows`` package (and
so Prefect) inside a command, never at import time; the rest of ``lyra/`` never does.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.table import Table

from lyra import __version__
from lyra.cli import api as cli_api
from lyra.cli import backtest as cli_backtest
from lyra.cli import compliance as cli_compliance
from lyra.cli import execution as cli_execution
from lyra.cli import orchestration as cli_orchestration
from lyra.cli import risk as cli_risk
from lyra.cli import scorecard as cli_scorecard
from lyra.cli.llm import budget_command, keys_app, models_app
from lyra.config import Settings, load_settings
from lyra.errors import LyraError, UserError
from lyra.services.pre_trade_summary import PreTradeSummary
from lyra.services.summaries import CycleSummary, DecisionSummary, two_places

__all__ = ["app", "main"]

app = typer.Typer(
    name="lyra",
    help="Crypto trading decisions by weighted consensus, orchestrated by Prefect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.command("budget")(budget_command)
for _module in (
    cli_risk,
    cli_execution,
    cli_compliance,
    cli_orchestration,
    cli_backtest,
    cli_scorecard,
    cli_api,
):
    _module.register(app)

out = Console(highlight=False, soft_wrap=False, width=200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

#: Prefect settings the embedded default needs (docs/stack.md, "Prefect 3"); user values win.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}

PhaseOption = Annotated[
    int | None, typer.Option("--phase", min=1, max=5, help="Rollout phase (default LYRA_PHASE).")
]


def _settings(**overrides: object) -> Settings:
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


def _prepare_prefect(verbose: bool) -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        logging.getLogger("great_expectations").setLevel(logging.WARNING)


def _vote_columns(decisions: tuple[DecisionSummary, ...]) -> list[str]:
    names: list[str] = []
    for decision in decisions:
        for vote in decision.votes:
            if vote.analyst not in names:
                names.append(vote.analyst)
    return names


def _column_title(analyst: str) -> str:
    kind, _, name = analyst.partition(":")
    return f"{name}\n({kind})" if name else analyst


def decisions_table(summary: CycleSummary) -> Table:
    """The cycle's decisions: one row per market, one column per vote."""
    analysts = _vote_columns(summary.decisions)
    table = Table(
        title=(
            f"Market analysis at {summary.as_of:%Y-%m-%d %H:%M} UTC - phase {summary.phase}, "
            f"threshold {summary.threshold}"
        ),
        caption="offline = rule-based offline analyst, not an LLM",
    )
    for title in ("symbol", "exchange", "price"):
        table.add_column(title, justify="right" if title == "price" else "left")
    for analyst in analysts:
        table.add_column(_column_title(analyst))
    table.add_column("score", justify="right")
    table.add_column("decision")
    table.add_column("reason", overflow="fold", max_width=48)
    for d in summary.decisions:
        votes = {v.analyst: v.label() for v in d.votes}
        table.add_row(
            d.symbol,
            d.exchange,
            "n/a" if d.price is None else f"{d.price:,.2f}",
            *(votes.get(a, "-") for a in analysts),
            two_places(d.score),
            d.action.upper() if d.actionable else d.action,
            d.reason,
        )
    return table


#: The phase `lyra run` uses when neither --phase nor LYRA_PHASE says: the paper phase, so
#: the main job runs every flow, paper execution included (docs/domain.md, Contracts).
RUN_DEFAULT_PHASE = 3


@app.command()
def run(
    phase: PhaseOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect logs.")] = False,
) -> None:
    """Run the main job once: news sentiment, market analysis, pre-trade risk with paper
    execution, nightly compliance (embedded default: replay exchange, sample feed,
    offline analysts, no network). The phase is the phase in force: --phase, else the
    newest recorded promotion, else LYRA_PHASE (environment or .env), else 3."""
    settings = _settings()
    from lyra.bootstrap import build_runtime
    from lyra.services.market_cycle import check_markets

    runtime = build_runtime(settings, phase=phase, default_phase=RUN_DEFAULT_PHASE)
    if runtime.models is not None:  # no keys is a set-up error, named before any flow runs
        from lyra.bootstrap.gateway import key_pool

        key_pool(settings)
    asyncio.run(check_markets(runtime))
    run = runtime.run
    out.print(f"{runtime.phase_in_force.describe()}: {run.describe()}", markup=False)
    _prepare_prefect(verbose)
    from deployments.temporary_server import temporary_server

    # Lyra's own temporary Prefect server, which dies with this process even on SIGKILL
    # (deployments/temporary_server.py), instead of Prefect's, which would be orphaned.
    with temporary_server():
        _run_flows(settings, run.number)


def _run_flows(settings: Settings, phase: int) -> None:
    """The flows of ``lyra run``, once each, with what they decided on stdout."""
    from deployments.task_runners import task_runner
    from flows.market_analysis import market_analysis
    from flows.news_sentiment import news_sentiment
    from flows.pre_trade_risk import pre_trade_risk
    from lyra.services.news_summary import NewsSummary

    news = news_sentiment()
    analysis = market_analysis.with_options(task_runner=task_runner(settings))
    summary = analysis(phase=phase)
    if isinstance(news, NewsSummary):
        sentiment = ", ".join(f"{s.asset} {s.value:+.2f} ({s.items} items)" for s in news.sentiment)
        out.print(f"news sentiment: {sentiment or 'no recent headlines'}; {news.new_items} new")
        for failed in news.failed_feeds:
            err.print(f"lyra: warning: feed failed: {failed}", markup=False)
    else:
        err.print(f"lyra: warning: news sentiment not run: {_why_not(news)}", markup=False)
    trades = None
    if isinstance(summary, CycleSummary):
        out.print(decisions_table(summary))
        out.print(f"cycle {summary.cycle_id} - report: {summary.report_path}")
        trades = summary.trades
    else:
        err.print(f"lyra: warning: market analysis not run: {_why_not(summary)}", markup=False)
    # The market analysis hands its actionable decisions over; with none, pre-trade risk
    # still runs once (reconcile, drawdown check, equity snapshot).
    trades = trades or pre_trade_risk(decision_ids=[], phase=phase)
    out.print(trades_table(trades))
    out.print(
        f"{trades.account} account: equity {trades.equity:,.2f} USD (peak "
        f"{trades.peak_equity:,.2f}), cash {trades.cash:,.2f}; kill switch "
        f"{'TRIPPED' if trades.kill_switch_tripped else 'armed'}"
        + (f"; equity curve: {trades.chart_path}" if trades.chart_path else "")
    )
    from flows.nightly_compliance import nightly_compliance

    tax = nightly_compliance()
    bas = tax.bas_period or tax.bas_skipped
    gst = "" if tax.net_gst is None else f", net GST {tax.net_gst}"
    out.print(
        f"nightly compliance {tax.as_of}: {tax.disposals} disposals, net capital gain "
        f"{tax.net_capital_gain} AUD ({tax.year}){' PROVISIONAL' if tax.provisional else ''}; "
        f"BAS {bas}{gst}; reconciled: {'yes' if tax.reconciled else 'NO'}"
    )
    how = f"replayed: {tax.replayed}" if tax.replayed else "resumed from the kept parcels"
    out.print(f"  parcels: {tax.rows_applied} ledger rows applied ({how})")
    for report in tax.reports:
        out.print(f"  report: {report}")
    out.print(
        "How each phase's threshold would have done on the shipped history, and each "
        "analyst's track record: `lyra backtest` (docs/evidence.md)."
    )


def _why_not(result: object) -> str:
    """Why a flow stopped short (the budget gate's ``Unaffordable`` result or state)."""
    reason = getattr(result, "reason", None) or getattr(result, "message", None)
    return str(reason or result)


def trades_table(trades: PreTradeSummary) -> Table:
    """What pre-trade risk did with each decision it took up."""
    table = Table(title=f"Pre-trade risk, phase {trades.phase} ({trades.mode})", show_lines=False)
    for column in ("exchange", "symbol", "side", "status", "quantity", "notional", "reasons"):
        table.add_column(column)
    for o in trades.outcomes:
        table.add_row(
            o.exchange,
            o.symbol,
            o.side,
            o.status,
            "" if o.quantity is None else f"{o.quantity.normalize():f}",
            "" if o.notional is None else f"{o.notional:,.2f}",
            "; ".join(o.reasons) or (o.detail or ""),
        )
    if not trades.outcomes:
        table.add_row("-", "-", "-", "no actionable decision", "", "", "")
    return table


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (harmless when current)."""
    from lyra.store.db import Database
    from lyra.store.migrate import head_revision, upgrade_to_head

    settings = _settings()
    applied = upgrade_to_head(Database.from_url(settings.effective_database_url))
    state = "upgraded to" if applied else "already at"
    out.print(f"database {state} revision {head_revision()}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole audit chain (keyed seals, the anchors outside the database, the
    append-only triggers); exit 1 naming the first broken record and the tamper kind."""
    from lyra.bootstrap import open_database
    from lyra.store.audit import audit_report

    with open_database(_settings()).transaction() as session:
        report = audit_report(session)
    verdict, anchor = report.verdict, report.anchor
    if verdict.intact:
        anchored = (
            f"anchor matched: record {anchor.seq} of {anchor.at} ({anchor.reason}), "
            f"{report.anchors_checked} anchors checked"
            if anchor
            else "no anchor yet"
        )
        out.print(f"audit log intact: {verdict.records} records; {anchored}", markup=False)
        if report.damaged_lines:
            lines = ", ".join(map(str, report.damaged_lines))
            out.print(f"note: anchor file lines {lines} are torn or unreadable", markup=False)
        return
    where = "" if verdict.first_broken_seq is None else f" at record {verdict.first_broken_seq}"
    kind = verdict.kind.value if verdict.kind else "broken"
    err.print(f"audit log broken{where} ({kind}): {verdict.problem}", markup=False)
    raise typer.Exit(1)


@app.command()
def decisions(
    limit: Annotated[int, typer.Option(min=1, help="How many recent cycles.")] = 3,
) -> None:
    """Show the decisions of the most recent cycles."""
    from lyra.bootstrap import open_database
    from lyra.store.decisions import decisions_of_cycle, recent_cycles

    with open_database(_settings()).transaction() as session:
        cycles = recent_cycles(session, limit)
        summaries = [
            CycleSummary(
                cycle_id=c.id,
                as_of=c.as_of,
                phase=c.phase,
                threshold=c.threshold,
                decisions=tuple(
                    DecisionSummary.from_row(r) for r in decisions_of_cycle(session, c.id)
                ),
            )
            for c in cycles
        ]
    if not summaries:
        out.print("no cycles yet: run `lyra run`")
    for summary in summaries:
        out.print(decisions_table(summary))


def _version(value: bool) -> None:
    if value:
        out.print(f"lyra {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Lyra: weighted-consensus crypto trading decisions with Prefect."""


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user errors as one line and exit 2, never a traceback."""
    try:
        result = app(args=argv, standalone_mode=False)
    except UserError as exc:
        err.print(f"lyra: error: {exc}", markup=False)
        return 2
    except LyraError as exc:
        err.print(f"lyra: failed: {exc}", markup=False)
        return 1
    except (typer.Exit, click.exceptions.Exit) as exc:
        return int(exc.exit_code)
    except (typer.Abort, click.exceptions.Abort):
        err.print("lyra: aborted")
        return 130
    except typer.TyperException as exc:
        # typer >= 0.24 parses with its own bundled click: a usage error (unknown or
        # missing option) is one of these, not a ``click.ClickException``.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"lyra: error: {exc.format_message()}", markup=False)
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    return result if isinstance(result, int) else 0
