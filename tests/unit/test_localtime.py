"""Times as people write them (lyra.compliance.localtime, docs/tax.md "Dates and timezones")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.compliance.localtime import DEFAULT_TIMEZONE, localize, parse_moment, timezone_named
from lyra.config import load_settings
from lyra.errors import ConfigError, UserError

SYDNEY = ZoneInfo("Australia/Sydney")
UTC_ZONE = ZoneInfo("UTC")


@pytest.mark.parametrize("text", ["2024-03-01", "20240301", "2024-W09-5"])
def test_a_date_alone_in_any_iso_spelling_is_the_sydney_day(text: str) -> None:
    """Every ISO 8601 spelling of a date without a time is midnight in Sydney (AEDT)."""
    assert parse_moment(text, UTC_ZONE) == datetime(2024, 2, 29, 13, tzinfo=UTC)


def test_a_short_date_and_time_is_not_taken_for_a_date() -> None:
    """``2024W09T10`` (ten characters) has a time: it is read in the declared zone."""
    assert parse_moment("2024W09T10", UTC_ZONE) == datetime(2024, 2, 26, 10, tzinfo=UTC)


def test_offsets_are_taken_as_written_and_naive_times_in_the_zone() -> None:
    assert parse_moment("2024-03-01T10:00:00+10:00", UTC_ZONE) == datetime(
        2024, 3, 1, 0, tzinfo=UTC
    )
    assert parse_moment("2024-03-01T10:00:00Z", SYDNEY) == datetime(2024, 3, 1, 10, tzinfo=UTC)
    perth = parse_moment("2024-03-01 10:00", ZoneInfo("Australia/Perth"))
    assert perth == datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert perth.tzinfo is UTC


@pytest.mark.parametrize(
    ("naive", "words"),
    [
        ("2024-04-07T02:30", "happens twice in Australia/Sydney"),  # clocks back at 03:00
        ("2024-04-07T02:00", "happens twice"),
        ("2024-04-07T02:59:59", "happens twice"),
        ("2024-10-06T02:30", "does not exist in Australia/Sydney"),  # forward at 02:00
        ("2024-10-06T02:00", "does not exist"),
    ],
)
def test_times_daylight_saving_repeats_or_skips_are_refused(naive: str, words: str) -> None:
    """PEP 495: the two folds give different offsets there; which one was meant is not
    known, so the time is refused with the reason."""
    with pytest.raises(ValueError, match=words):
        localize(datetime.fromisoformat(naive), SYDNEY)
    with pytest.raises(ValueError, match=words):
        parse_moment(naive, SYDNEY)


@pytest.mark.parametrize(
    ("naive", "expected"),
    [
        ("2024-04-07T01:59:59", "2024-04-06T14:59:59Z"),  # still AEDT
        ("2024-04-07T03:00", "2024-04-06T17:00Z"),  # AEST
        ("2024-10-06T01:59:59", "2024-10-05T15:59:59Z"),  # AEST
        ("2024-10-06T03:00", "2024-10-05T16:00Z"),  # AEDT
    ],
)
def test_times_either_side_of_a_change_have_one_reading(naive: str, expected: str) -> None:
    assert localize(datetime.fromisoformat(naive), SYDNEY) == datetime.fromisoformat(expected)


@given(
    st.datetimes(
        min_value=datetime.fromisoformat("2009-01-01"),
        max_value=datetime.fromisoformat("2040-12-31"),
        allow_imaginary=True,
    ),
    st.sampled_from(["Australia/Sydney", "Australia/Perth", "Australia/Lord_Howe", "UTC"]),
)
def test_localize_agrees_with_zoneinfo_or_refuses(naive: datetime, name: str) -> None:
    """Whenever a wall-clock time has one reading, it is zoneinfo's; it is refused exactly
    when the two folds disagree (Lord Howe's half-hour change included)."""
    zone = ZoneInfo(name)
    naive = naive.replace(fold=0)
    folds = {naive.replace(tzinfo=zone, fold=f).utcoffset() for f in (0, 1)}
    if len(folds) == 2:
        with pytest.raises(ValueError, match="add the UTC offset"):
            localize(naive, zone)
        return
    moment = localize(naive, zone)
    assert moment == naive.replace(tzinfo=zone).astimezone(UTC)
    assert moment.astimezone(zone).replace(tzinfo=None) == naive


def test_dates_outside_what_datetime_holds_are_a_value_error() -> None:
    """Year 1 in Sydney is before year 1 in UTC: a ValueError, not an OverflowError."""
    with pytest.raises(ValueError, match="outside the range of dates"):
        parse_moment("0001-01-01T00:00:00", SYDNEY)
    with pytest.raises(ValueError, match="outside the range of dates"):
        parse_moment("0001-01-01", UTC_ZONE)


def test_timezone_names_are_iana_names() -> None:
    assert timezone_named(" Australia/Perth ").key == "Australia/Perth"
    assert timezone_named(DEFAULT_TIMEZONE) == SYDNEY
    for bad in ("Mars/Olympus", "../etc/passwd", "", "+10:00"):
        with pytest.raises(UserError, match="is not an IANA timezone name"):
            timezone_named(bad)


def test_the_tax_timezone_setting_is_checked_when_settings_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``LYRA_TAX_TIMEZONE``: Sydney by default; a name that is not a timezone stops the
    command at start with one line naming the variable."""
    monkeypatch.delenv("LYRA_TAX_TIMEZONE", raising=False)
    assert load_settings().tax_timezone == DEFAULT_TIMEZONE
    monkeypatch.setenv("LYRA_TAX_TIMEZONE", "Australia/Perth")
    assert load_settings().tax_timezone == "Australia/Perth"
    monkeypatch.setenv("LYRA_TAX_TIMEZONE", "Sydney")
    with pytest.raises(ConfigError, match="LYRA_TAX_TIMEZONE: 'Sydney' is not an IANA"):
        load_settings()


def test_a_date_alone_is_never_moved_off_its_sydney_day() -> None:
    """Whatever the declared zone, the instant of a date alone is in that Sydney day."""
    for name in ("UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Australia/Perth"):
        moment = parse_moment("2024-07-01", ZoneInfo(name))
        local = moment.astimezone(SYDNEY)
        assert (local.date().isoformat(), local.time().isoformat()) == ("2024-07-01", "00:00:00")
        assert moment - datetime(2024, 6, 30, 14, tzinfo=UTC) == timedelta(0)
