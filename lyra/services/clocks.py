"""The market's clock: the persisted replay clock on shipped candles, the wall clock live.

On the replay data every cycle is a new instant one candle after the last, taken
atomically from the database (:func:`lyra.store.cycles.next_replay_instant`), so two runs
never analyse the same instant and a rerun after a crash moves on. The news cycle scores
headlines up to the instant the *next* market cycle will serve, and pre-trade risk and
the nightly run take the last cycle's instant as "now": all of them read one clock,
named once here (``market-analysis:<timeframe>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from lyra.store.cycles import next_replay_instant, replay_position
from lyra.store.db import Database

__all__ = ["MARKET_CLOCK", "ReplayMarketClock", "WallClock", "replay_clock_name"]

#: The flow whose cycles move the replay clock.
MARKET_CLOCK: Final = "market-analysis"


def replay_clock_name(timeframe: str) -> str:
    """The stored clock of market cycles on ``timeframe`` candles."""
    return f"{MARKET_CLOCK}:{timeframe}"


@dataclass(frozen=True, slots=True)
class ReplayMarketClock:
    """The replay clock in the database: ``start`` before the first cycle, then one
    ``step`` per market cycle."""

    database: Database
    timeframe: str
    start: datetime
    step: timedelta

    def now(self) -> datetime:
        """The last cycle's instant (``start`` before the first cycle)."""
        with self.database.transaction() as session:
            position = replay_position(session, replay_clock_name(self.timeframe))
        return position or self.start

    def upcoming(self) -> datetime:
        """The instant the next market cycle will take."""
        with self.database.transaction() as session:
            position = replay_position(session, replay_clock_name(self.timeframe))
        return self.start if position is None else position + self.step

    def advance(self) -> datetime:
        """Take the next instant (atomically: racing runs get different instants)."""
        with self.database.transaction() as session:
            return next_replay_instant(
                session, replay_clock_name(self.timeframe), self.start, self.step
            )


@dataclass(frozen=True, slots=True)
class WallClock:
    """Real exchanges: the market's now is the wall clock's."""

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.now(UTC)

    def upcoming(self) -> datetime:
        """Now: a live cycle serves the present."""
        return datetime.now(UTC)

    def advance(self) -> datetime:
        """Now: live cycles are not numbered instants."""
        return datetime.now(UTC)
