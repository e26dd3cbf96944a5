"""Pure time arithmetic for deadlines: calendar days, NRW working days, local anchoring.

Every function takes the dates it works on; nothing here reads the clock. Durations are
counted on *local* dates (Europe/Berlin) and then anchored at a local wall-clock time, so
that a deadline at 09:00 stays at 09:00 across the clock changes in March and October.
Working days are Monday to Friday without the public holidays of Nordrhein-Westfalen
(Fronleichnam and Allerheiligen are, unlike in Berlin; rules checked against the
``holidays`` library, subdivision ``NW``).
"""

from __future__ import annotations

import calendar as _stdcal
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from workflow.process.vocabulary import BERLIN

SUBDIVISION = "NW"
# Clock changes happen between 02:00 and 03:00 local time: nothing is anchored there.
_QUIET_START = time(2, 0)
_QUIET_END = time(3, 0)

UNITS = {"d": "calendar days", "wd": "working days", "w": "weeks", "mo": "months"}
_DURATION = re.compile(r"^\s*([0-9]+)\s*(d|wd|w|mo)\s*$")
# A century, the most a deadline or a report window spans; more overflows a date.
_MAX_AMOUNT = {"d": 36_600, "wd": 26_100, "w": 5_220, "mo": 1_200}


@dataclass(frozen=True)
class Duration:
    """An amount of calendar days, working days, weeks or months (``21d``, ``2wd``, ``3mo``)."""

    amount: int
    unit: str

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def describe(self) -> str:
        """In words, e.g. ``2 working days``."""
        return f"{self.amount} {UNITS[self.unit]}"


def parse_duration(text: object) -> Duration:
    """Parse ``21d`` / ``2wd`` / ``1w`` / ``3mo``; ValueError with the accepted forms."""
    match = _DURATION.match(str(text)) if isinstance(text, str | int) else None
    if match is None or isinstance(text, bool):
        raise ValueError(
            f"{text!r} is no duration: use a number with d (days), wd (working days),"
            " w (weeks) or mo (months), e.g. 21d or 2wd"
        )
    amount, unit = int(match.group(1)), match.group(2)
    if amount > _MAX_AMOUNT[unit]:
        raise ValueError(f"{text!r} is too long: at most {_MAX_AMOUNT[unit]}{unit} (a century)")
    return Duration(amount, unit)


def parse_local_time(text: object) -> time:
    """Parse ``HH:MM``; refuses the hour of the clock changes (02:00–03:00)."""
    if not isinstance(text, str):
        raise ValueError(f'{text!r} is no time of day: write it quoted as "HH:MM"')
    try:
        value = time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is no time of day HH:MM") from None
    if _QUIET_START <= value < _QUIET_END:
        raise ValueError(
            f"{text} lies between 02:00 and 03:00, where the clocks change; choose another time"
        )
    return value.replace(second=0, microsecond=0)


# The first year the rules of ``_nrw_holidays`` hold (Buß- und Bettag was one until 1994).
_OWN_RULES_FROM = 1995


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    if year >= _OWN_RULES_FROM:
        return _nrw_holidays(year)
    import holidays  # the library knows the history before that (and loads in 0.2 s)

    return frozenset(holidays.country_holidays("DE", subdiv=SUBDIVISION, years=year))


def _easter(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    j = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * j) // 451
    month, day = divmod(h + j - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nrw_holidays(year: int) -> frozenset[date]:
    """The public holidays of Nordrhein-Westfalen in ``year`` (from 1995).

    Our own rules rather than ``holidays.country_holidays``: that call imports the holidays
    of every country (0.2 s), which a cold ``ruhrflow advance`` paid whenever a deadline
    counted working days. ``tests/process/test_calendar.py`` checks these rules against the
    ``holidays`` library for every year from 1995 to 2100, so a change in the law that the
    library learns shows up as a failing test.
    """
    easter = _easter(year)
    days = {
        date(year, 1, 1),  # Neujahr
        easter - timedelta(days=2),  # Karfreitag
        easter + timedelta(days=1),  # Ostermontag
        date(year, 5, 1),  # Tag der Arbeit
        easter + timedelta(days=39),  # Christi Himmelfahrt
        easter + timedelta(days=50),  # Pfingstmontag
        easter + timedelta(days=60),  # Fronleichnam (NRW)
        date(year, 10, 3),  # Tag der Deutschen Einheit
        date(year, 11, 1),  # Allerheiligen (NRW)
        date(year, 12, 25),  # Erster Weihnachtstag
        date(year, 12, 26),  # Zweiter Weihnachtstag
    }
    if year == 2017:
        days.add(date(2017, 10, 31))  # Reformationstag, once nationwide (500 years)
    return frozenset(days)


def is_holiday(day: date) -> bool:
    """True on a public holiday in Nordrhein-Westfalen."""
    return day in _holidays(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Friday, and no public holiday in NRW."""
    return day.weekday() < 5 and not is_holiday(day)


def add_working_days(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (before it, for negative ``n``).

    ``day`` itself is never counted, so one working day after a Friday is the Monday.
    """
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def add_months(day: date, n: int) -> date:
    """``day`` moved by ``n`` calendar months; the 31st becomes the last day of short months."""
    index = day.year * 12 + (day.month - 1) + n
    year, month = divmod(index, 12)
    last = _stdcal.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def shift(day: date, duration: Duration, *, sign: int = 1) -> date:
    """``day`` moved by ``duration`` forwards (``sign=1``) or backwards (``sign=-1``)."""
    amount = duration.amount * sign
    if duration.unit == "d":
        return day + timedelta(days=amount)
    if duration.unit == "w":
        return day + timedelta(weeks=amount)
    if duration.unit == "wd":
        return add_working_days(day, amount)
    return add_months(day, amount)


def local_date(moment: datetime, tz: ZoneInfo = BERLIN) -> date:
    """The local calendar date of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware moment")
    return moment.astimezone(tz).date()


def anchor(day: date, at: time, tz: ZoneInfo = BERLIN) -> datetime:
    """The aware UTC moment of local wall-clock time ``at`` on ``day``.

    A time inside the skipped hour of the March change is moved to 03:00; in the
    repeated hour of October the first (summer-time) occurrence is taken.
    """
    if _QUIET_START <= at < _QUIET_END:
        at = _QUIET_END
    return datetime.combine(day, at, tzinfo=tz).replace(fold=0).astimezone(UTC)


def end_of_local_day(day: date, tz: ZoneInfo = BERLIN) -> datetime:
    """The first moment after ``day`` in local time (midnight), as aware UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
