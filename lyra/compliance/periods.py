"""Income years and BAS periods, in Australian (Sydney) calendar dates.

The income year runs 1 July to 30 June and is written ``2024-25`` (ATO usage). A BAS
period is a calendar quarter ``2025-Q3`` (July to September, due 28 October), a month
``2025-07`` or, for annual reporting, an income year ``2024-25``. Law counts local days,
so a UTC instant is turned into its Sydney date before it is placed in a period.
``2010-11`` and ``2011-12`` read as income years, not months (write months after 2012).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from lyra.errors import UserError

__all__ = [
    "SYDNEY",
    "Period",
    "bas_period",
    "income_year",
    "income_year_of",
    "last_closed_quarter",
    "sydney_date",
]

SYDNEY: Final = ZoneInfo("Australia/Sydney")
_YEAR = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, slots=True)
class Period:
    """Dates ``start`` to ``end`` inclusive, with the label the user gave."""

    label: str
    start: date
    end: date

    def contains(self, day: date) -> bool:
        """True when ``day`` falls in the period."""
        return self.start <= day <= self.end


def sydney_date(moment: datetime) -> date:
    """The Sydney calendar date of an instant. Cached per UTC quarter hour: every
    offset Sydney has used is a whole number of quarter hours, so the key is exact."""
    return _sydney_date_of_quarter_hour(int(moment.timestamp()) // 900)


@lru_cache(maxsize=262144)
def _sydney_date_of_quarter_hour(quarter: int) -> date:
    return datetime.fromtimestamp(quarter * 900, UTC).astimezone(SYDNEY).date()


def income_year(label: str) -> Period:
    """The income year ``YYYY-YY`` (e.g. ``2024-25``: 1 July 2024 to 30 June 2025)."""
    match = _YEAR.fullmatch(label.strip())
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise UserError(f"income year {label!r} must look like 2024-25")
    first = int(match.group(1))
    return Period(f"{first}-{(first + 1) % 100:02d}", date(first, 7, 1), date(first + 1, 6, 30))


def income_year_of(day: date) -> Period:
    """The income year holding ``day``."""
    first = day.year if day.month >= 7 else day.year - 1
    return income_year(f"{first}-{(first + 1) % 100:02d}")


def _month_end(year: int, month: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return following - timedelta(days=1)


def bas_period(label: str) -> Period:
    """A BAS period: ``2025-Q3`` (calendar quarter), ``2025-07`` (month) or ``2024-25``."""
    text = label.strip().upper()
    if match := _QUARTER.fullmatch(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        first_month = 3 * quarter - 2
        return Period(text, date(year, first_month, 1), _month_end(year, first_month + 2))
    if (match := _MONTH.fullmatch(text)) and 1 <= int(match.group(2)) <= 12:
        year, month = int(match.group(1)), int(match.group(2))
        if (year + 1) % 100 != month or month > 12:
            return Period(text, date(year, month, 1), _month_end(year, month))
    try:
        return income_year(text)
    except UserError:
        raise UserError(
            f"BAS period {label!r} must be a quarter (2025-Q3), a month (2025-07) "
            "or an income year (2024-25)"
        ) from None


def last_closed_quarter(today: date) -> Period:
    """The most recent calendar quarter that ended before ``today``."""
    quarter = (today.month - 1) // 3 + 1
    year = today.year
    quarter -= 1
    if quarter == 0:
        year, quarter = year - 1, 4
    return bas_period(f"{year}-Q{quarter}")
