"""Sydney dates (the law counts local days, across daylight saving) and the collector
pause that keeps big ledgers linear."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime

from lyra.compliance.gcpause import paused_gc
from lyra.compliance.periods import income_year, income_year_of, sydney_date


def test_sydney_dates_follow_daylight_saving() -> None:
    """AEST is UTC+10, AEDT UTC+11: 13:00Z is the next day in summer only."""
    assert sydney_date(datetime(2024, 1, 15, 12, 59, tzinfo=UTC)) == date(2024, 1, 15)
    assert sydney_date(datetime(2024, 1, 15, 13, 0, tzinfo=UTC)) == date(2024, 1, 16)
    assert sydney_date(datetime(2024, 7, 15, 13, 59, tzinfo=UTC)) == date(2024, 7, 15)
    assert sydney_date(datetime(2024, 7, 15, 14, 0, tzinfo=UTC)) == date(2024, 7, 16)


def test_income_years_run_1_july_to_30_june() -> None:
    """ATO income year 2024-25: 1 July 2024 to 30 June 2025."""
    year = income_year("2024-25")
    assert (year.start, year.end) == (date(2024, 7, 1), date(2025, 6, 30))
    assert income_year_of(date(2025, 6, 30)).label == "2024-25"
    assert income_year_of(date(2025, 7, 1)).label == "2025-26"
    assert income_year("1999-00").end == date(2000, 6, 30)


def test_paused_gc_restores_the_collector_state() -> None:
    """The pause never leaves the collector off, nor turns it on if it was off."""
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
