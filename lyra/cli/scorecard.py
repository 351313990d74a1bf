"""Command: ``lyra scorecard``: every analyst's track record in the live and paper runs.

``lyra scorecard [--since ISO] [--until ISO] [--format table|json]`` first resolves the
votes that have come due (so the figures are current, as the market-analysis flow does
after each cycle), then prints one row per analyst and per model of an LLM slot, and one
for the consensus's own calls: votes, abstentions, resolved, hit rate, mean Brier score,
how often the vote was carried, and (JSON) the calibration bins. ``--since``/``--until``
keep the decisions made within that window (inclusive; UTC if no offset). Only outcomes
resolved by now (the market's clock) count. With ``--format json`` it prints a JSON list
of :meth:`lyra.evidence.track_record.AnalystRecord.to_json`; a bad option is one line
naming it and exit 2.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from lyra.errors import UserError

if TYPE_CHECKING:
    from lyra.evidence.track_record import AnalystRecord

__all__ = ["register"]

out = Console(highlight=False, soft_wrap=False, width=160)


def _instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"{name}: {value!r} is not an ISO 8601 date or time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def scorecard(
    since: Annotated[
        str | None, typer.Option(help="Decisions from this instant, ISO 8601 (UTC if no offset).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Decisions up to this instant, ISO 8601 (UTC if no offset).")
    ] = None,
    output: Annotated[Literal["table", "json"], typer.Option("--format")] = "table",
) -> None:
    """Each analyst's track record (hit rate, Brier score), votes resolved as they came
    due; only outcomes resolved by now count."""
    start, end = _instant(since, "--since"), _instant(until, "--until")
    if start is not None and end is not None and end < start:
        raise UserError(f"--until: {until!r} is before --since {since!r}")
    from lyra.bootstrap import build_runtime
    from lyra.config import load_settings
    from lyra.services.track_records import resolve_due_outcomes, scorecard_of

    runtime = build_runtime(load_settings(), phase=1)  # the phase plays no part here
    resolved = resolve_due_outcomes(runtime)
    records = scorecard_of(runtime, since=start, until=end)
    if output == "json":
        typer.echo(json.dumps([record.to_json() for record in records]))
        return
    _print(records, runtime.clock.now(), resolved)


def _print(records: list[AnalystRecord], now: datetime, resolved: int) -> None:
    from lyra.evidence.track_record import DEFAULT_HORIZON

    table = Table(
        title=(
            f"Track records at {now:%Y-%m-%d %H:%M} UTC: each vote scored "
            f"{DEFAULT_HORIZON} candles after its decision"
        ),
        caption=(
            "only outcomes resolved by now count; hit rate: direction right; Brier: 0 "
            "perfect, 0.25 a coin at 0.5, 1 sure and wrong; consensus: the actionable decisions"
        ),
    )
    for title in ("analyst", "model", "votes", "resolved", "hit rate", "Brier", "carried"):
        table.add_column(title, justify="left" if title in ("analyst", "model") else "right")
    for record in records:
        table.add_row(
            record.analyst,
            record.model or "-",
            str(record.votes),
            str(record.resolved),
            "-" if record.hit_rate is None else f"{record.hit_rate:.1%}",
            "-" if record.brier is None else f"{record.brier:.3f}",
            str(record.carried),
        )
    out.print(table)
    if not records:
        out.print("no votes recorded yet: run `lyra run`")
    out.print(f"{resolved} votes newly resolved")


def register(app: typer.Typer) -> None:
    """Add ``lyra scorecard`` to the ``lyra`` command."""
    app.command("scorecard")(scorecard)
