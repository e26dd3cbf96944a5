"""Pure time arithmetic: NRW working days, months, and local anchoring across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.process.calendar import (
    BERLIN,
    Duration,
    add_months,
    add_working_days,
    anchor,
    is_holiday,
    is_working_day,
    parse_duration,
    parse_local_time,
    shift,
)


def test_working_days_skip_christmas_but_not_christmas_eve() -> None:
    # given Monday 23 Dec 2019; 24 Dec is a normal working day, 25 and 26 are holidays
    # when two working days are added
    # then the result is Friday 27 Dec
    assert add_working_days(date(2019, 12, 23), 2) == date(2019, 12, 27)


def test_working_days_across_new_year() -> None:
    # Monday 30 Dec + 2 working days: 31 Dec, (1 Jan holiday), 2 Jan
    assert add_working_days(date(2019, 12, 30), 2) == date(2020, 1, 2)
    # Friday 20 Dec + 5 working days: 23, 24, 27, 30, 31 Dec
    assert add_working_days(date(2019, 12, 20), 5) == date(2019, 12, 31)
    # backwards from 2 Jan 2020 one working day is 31 Dec 2019
    assert add_working_days(date(2020, 1, 2), -1) == date(2019, 12, 31)


def test_fronleichnam_is_a_holiday_in_nrw_but_not_in_berlin() -> None:
    # given Wednesday 19 Jun 2019; Thursday 20 Jun 2019 is Fronleichnam
    assert not is_working_day(date(2019, 6, 20))
    assert date(2019, 6, 20) not in holidays.country_holidays("DE", subdiv="BE", years=2019)
    # when one working day is added, then Fronleichnam is skipped
    assert add_working_days(date(2019, 6, 19), 1) == date(2019, 6, 21)
    assert shift(date(2019, 6, 19), Duration(2, "wd")) == date(2019, 6, 24)


def test_a_nine_o_clock_anchor_stays_nine_o_clock_across_march() -> None:
    # the clocks go forward on Sunday 31 Mar 2019
    before = anchor(date(2019, 3, 30), time(9))
    after = anchor(date(2019, 3, 31), time(9))
    assert before == datetime(2019, 3, 30, 8, 0, tzinfo=UTC)  # CET, UTC+1
    assert after == datetime(2019, 3, 31, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert before.astimezone(BERLIN).time() == after.astimezone(BERLIN).time() == time(9)
    # a week of calendar days is not 7 × 24 hours across the change
    assert anchor(date(2019, 4, 3), time(9)) - anchor(date(2019, 3, 27), time(9)) == timedelta(
        days=7, hours=-1
    )


def test_a_nine_o_clock_anchor_stays_nine_o_clock_across_october() -> None:
    # the clocks go back on Sunday 27 Oct 2019
    assert anchor(date(2019, 10, 26), time(9)) == datetime(2019, 10, 26, 7, 0, tzinfo=UTC)
    assert anchor(date(2019, 10, 27), time(9)) == datetime(2019, 10, 27, 8, 0, tzinfo=UTC)


def test_nothing_is_anchored_in_the_hour_of_the_clock_change() -> None:
    with pytest.raises(ValueError, match="02:00 and 03:00"):
        parse_local_time("02:30")
    # anchor moves a time in the skipped hour of 31 Mar 2019 to 03:00 local
    moved = anchor(date(2019, 3, 31), time(2, 30))
    assert moved.astimezone(BERLIN).time() == time(3, 0)
    assert parse_local_time("09:00") == time(9)


def test_months_clamp_to_the_end_of_short_months() -> None:
    assert add_months(date(2019, 11, 30), 3) == date(2020, 2, 29)
    assert add_months(date(2019, 1, 31), 1) == date(2019, 2, 28)
    assert add_months(date(2019, 12, 15), 1) == date(2020, 1, 15)
    assert add_months(date(2020, 1, 15), -1) == date(2019, 12, 15)


def test_durations_parse_and_refuse() -> None:
    assert parse_duration("21d") == Duration(21, "d")
    assert parse_duration("2wd") == Duration(2, "wd")
    assert parse_duration("3mo").describe() == "3 months"
    for bad in ("3x", "d", "", "-1d", True):
        with pytest.raises(ValueError, match="no duration"):
            parse_duration(bad)


days = st.dates(min_value=date(2018, 1, 1), max_value=date(2030, 12, 31))


@given(days, st.integers(min_value=1, max_value=40))
def test_adding_working_days_lands_on_a_working_day_and_counts_them(day: date, n: int) -> None:
    result = add_working_days(day, n)
    assert is_working_day(result)
    between = [day + timedelta(days=i) for i in range(1, (result - day).days + 1)]
    assert sum(is_working_day(d) for d in between) == n


@given(days, st.sampled_from([time(0), time(6, 30), time(9), time(18), time(23, 59)]))
def test_an_anchor_shows_its_local_time_on_every_day(day: date, at: time) -> None:
    moment = anchor(day, at)
    assert moment.tzinfo is UTC
    local = moment.astimezone(BERLIN)
    assert (local.date(), local.time()) == (day, at)


def test_our_nrw_holidays_are_the_librarys_for_every_year_to_2100() -> None:
    from workflow.process.calendar import _nrw_holidays

    for year in range(1995, 2101):
        library = frozenset(holidays.country_holidays("DE", subdiv="NW", years=year))
        assert _nrw_holidays(year) == library, year


def test_years_before_our_rules_ask_the_library() -> None:
    # Buß- und Bettag was a public holiday in NRW until 1994 (the library knows, our rules
    # start in 1995)
    assert is_holiday(date(1994, 11, 16)) and not is_holiday(date(1995, 11, 22))
