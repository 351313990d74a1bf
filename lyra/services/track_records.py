"""Track records of the live and paper runs: every stored vote resolved as it comes due.

Each market cycle stores its votes and the candles it fetched. Once a vote's horizon
(:data:`~lyra.evidence.track_record.DEFAULT_HORIZON` candles) has closed, the vote is
resolved against those stored candles (:func:`lyra.evidence.track_record.resolve_outcomes`)
and its outcome is stored once (:mod:`lyra.store.vote_outcomes`); the market-analysis flow
does it after every cycle, ``lyra scorecard`` before it prints. A scorecard then adds up
the outcomes per analyst and per model, with a row for the consensus itself (its
actionable decisions, at the score of their action).

Walk-forward rule (docs/architecture.md, "Track records"): "now" is the runtime's clock
(the replay clock on the replay data, the wall clock live), and only outcomes resolved by
now are stored or counted; a vote is due once its decision's instant plus the horizon is
not after now.

Which price a vote is judged from: a cycle's instant is the close of the last candle it
saw on the replay data, but any instant live (the wall clock). A vote is read from the
close of the last candle closed by its instant (exchanges open 1h and 1d candles on the
UTC grid of their length, as ccxt reports them) to the close ``horizon`` candles later,
on a regular grid of close times: a candle missing from the store leaves the vote
pending (a later cycle may fetch it), and never stretches the horizon.

Usage::

    resolved = resolve_due_outcomes(runtime)
    if resolved:
        print(scorecard_markdown(scorecard_of(runtime)))
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

import pandas as pd

from lyra.evidence.track_record import (
    DEFAULT_HORIZON,
    HOLD_BAND,
    AnalystRecord,
    CastVote,
    Outcome,
    resolve_outcomes,
    scorecard,
)
from lyra.market.types import TIMEFRAMES, timeframe_delta
from lyra.services.runtime import Runtime
from lyra.store.db import Session
from lyra.store.vote_outcomes import (
    actionable_decisions,
    cast_votes_with_outcomes,
    closes,
    record_outcomes,
    unresolved_votes,
)

__all__ = [
    "CONSENSUS",
    "RESOLVE_BATCH",
    "last_close",
    "resolve_due_outcomes",
    "scorecard_markdown",
    "scorecard_of",
]

#: How many votes one transaction resolves: the work of a run stays bounded in memory and
#: in lock time, however long the flow was stopped.
RESOLVE_BATCH: Final = 500
#: The scorecard row of the consensus's own calls (its actionable decisions).
CONSENSUS: Final = "consensus"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def last_close(instant: datetime, step: timedelta) -> datetime:
    """The close time of the last candle of length ``step`` closed by ``instant`` (candles
    open on the UTC grid of their length): ``instant`` itself when it is a close time."""
    return instant - (instant - _EPOCH) % step


def _resolve(
    session: Session,
    calls: Sequence[tuple[CastVote, str]],
    *,
    horizon: int,
    now: datetime,
) -> list[tuple[int, Outcome]]:
    """Resolve ``(vote, timeframe)`` pairs against the stored candles, by now.

    Returns ``(position in calls, outcome)`` for each vote resolved, the outcome naming
    the vote as given; the others are pending.
    """
    by_market: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for position, (vote, timeframe) in enumerate(calls):
        if vote.action is not None:
            by_market[(vote.exchange, vote.symbol, timeframe)].append(position)
    found: list[tuple[int, Outcome]] = []
    for (exchange, symbol, timeframe), positions in by_market.items():
        step = timeframe_delta(timeframe)
        seen = [replace(calls[p][0], as_of=last_close(calls[p][0].as_of, step)) for p in positions]
        since = min(vote.as_of for vote in seen)
        until = min(max(vote.as_of for vote in seen) + horizon * step, last_close(now, step))
        if until < since + horizon * step:
            continue  # not one of them can have closed its horizon
        grid = pd.date_range(since, until, freq=step).as_unit("ns")
        series = closes(session, exchange, symbol, timeframe, since, until).reindex(grid)
        position_of = {id(vote): p for vote, p in zip(seen, positions, strict=True)}
        for outcome in resolve_outcomes(
            seen, {(exchange, symbol): series}, horizon=horizon, now=now
        ):
            position = position_of[id(outcome.vote)]
            found.append((position, replace(outcome, vote=calls[position][0])))
    found.sort(key=lambda pair: pair[0])
    return found


def resolve_due_outcomes(
    runtime: Runtime, *, horizon: int = DEFAULT_HORIZON, batch: int = RESOLVE_BATCH
) -> int:
    """Resolve and store every vote due by the runtime's now; how many were resolved.

    Due: a valid vote whose decision's instant plus ``horizon`` candles is not after now
    and that has no outcome yet. Votes are taken ``batch`` at a time in vote order, one
    transaction each; a vote that cannot be priced yet (a candle missing) is passed over
    and tried again on the next run. Safe to run concurrently: a vote another run
    resolved first is not counted twice.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 candle, got {horizon}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1 vote, got {batch}")
    now = runtime.clock.now()
    resolved = 0
    for timeframe, step in TIMEFRAMES.items():
        after: int | None = None
        while True:
            with runtime.database.transaction() as session:
                pending = unresolved_votes(
                    session,
                    due_before=now - horizon * step,
                    limit=batch,
                    timeframe=timeframe,
                    after=after,
                )
                calls = [(vote.cast(), vote.timeframe) for vote in pending]
                found = _resolve(session, calls, horizon=horizon, now=now)
                resolved += record_outcomes(
                    session,
                    [(pending[p].vote_id, outcome) for p, outcome in found],
                    horizon=horizon,
                )
            if len(pending) < batch:
                break
            after = pending[-1].vote_id
    return resolved


def scorecard_of(
    runtime: Runtime,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    horizon: int = DEFAULT_HORIZON,
) -> list[AnalystRecord]:
    """The track record of every analyst (and model) over the decisions made within
    ``[since, until]``, at the runtime's now: only outcomes resolved by now count.

    The consensus has a row of its own, :data:`CONSENSUS`: its actionable decisions,
    each with the score of its action as its confidence, resolved like a vote.
    """
    now = runtime.clock.now()
    with runtime.database.transaction() as session:
        votes, outcomes = cast_votes_with_outcomes(
            session, since=since, until=until, horizon=horizon
        )
        calls = [
            (
                CastVote(
                    analyst=CONSENSUS,
                    model=None,
                    exchange=call.exchange,
                    symbol=call.symbol,
                    as_of=call.as_of,
                    action=call.action,
                    confidence=min(max(call.score, Decimal(0)), Decimal(1)),
                    carried=True,
                ),
                call.timeframe,
            )
            for call in actionable_decisions(session, since=since, until=until)
        ]
        decided = _resolve(session, calls, horizon=horizon, now=now)
    return scorecard(
        [*votes, *(vote for vote, _ in calls)],
        [*outcomes, *(outcome for _, outcome in decided)],
        as_of=now,
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _brier(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def scorecard_markdown(
    records: Sequence[AnalystRecord],
    *,
    as_of: datetime | None = None,
    horizon: int = DEFAULT_HORIZON,
) -> str:
    """The scorecard as Markdown (a Prefect artifact, a report): one row per analyst and
    per model, and a line on how to read it."""
    when = "" if as_of is None else f" at {as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    lines = [
        f"# Track records{when}",
        "",
        "| analyst | model | votes | resolved | hit rate | Brier | carried |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {_cell(r.analyst)} | {_cell(r.model or '-')} | {r.votes} | {r.resolved} | "
            f"{_rate(r.hit_rate)} | {_brier(r.brier)} | {r.carried} |"
        )
    if not records:
        lines.append("| - | - | 0 | 0 | - | - | 0 |")
    lines += [
        "",
        f"Each vote is scored {horizon} candles after its decision, only with outcomes "
        "resolved by now. Hit rate: the direction was right (a hold: the market moved "
        f"less than {HOLD_BAND:.0%}). Brier: (confidence - right)^2 averaged; 0 is "
        "perfect, 0.25 what always answering 0.5 earns, 1 sure and wrong. "
        f"`{CONSENSUS}`: the actionable decisions at their score; carried: votes for the "
        "action an actionable decision took.",
        "",
    ]
    return "\n".join(lines)
