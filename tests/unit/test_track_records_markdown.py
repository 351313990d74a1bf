"""The track records' pure helpers: the close a live instant was judged from, and the
scorecard as a Markdown artifact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from lyra.evidence.track_record import AnalystRecord
from lyra.services.track_records import last_close, scorecard_markdown

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def test_the_last_close_of_an_instant_is_itself_on_the_grid_else_the_close_before() -> None:
    on_grid = datetime(2025, 9, 1, 13, tzinfo=UTC)
    assert last_close(on_grid, HOUR) == on_grid
    assert last_close(on_grid + timedelta(minutes=59, seconds=59), HOUR) == on_grid
    assert last_close(on_grid, DAY) == datetime(2025, 9, 1, tzinfo=UTC)
    sydney = on_grid.astimezone(ZoneInfo("Australia/Sydney"))
    assert last_close(sydney + timedelta(minutes=5), HOUR) == on_grid


def test_the_scorecard_markdown_is_a_table_with_how_to_read_it() -> None:
    record = AnalystRecord(
        analyst="llm:premium",
        model="openai/gpt-5",
        votes=10,
        abstentions=2,
        resolved=8,
        hit_rate=0.625,
        brier=0.1875,
        carried=3,
        calibration=(),
    )
    text = scorecard_markdown([record], as_of=datetime(2025, 9, 2, 1, tzinfo=UTC))
    assert text.startswith("# Track records at 2025-09-02 01:00 UTC\n")
    assert "| analyst | model | votes | resolved | hit rate | Brier | carried |" in text
    assert "| llm:premium | openai/gpt-5 | 10 | 8 | 62.5% | 0.188 | 3 |" in text
    assert "resolved by now" in text
    assert "Brier: (confidence - right)^2" in text.splitlines()[-1]
    assert "| - | - | 0 | 0 | - | - | 0 |" in scorecard_markdown([])
