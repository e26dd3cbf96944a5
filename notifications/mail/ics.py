"""The calendar part of a notice (``termin.ics``), built with the ``icalendar`` library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import icalendar

from notifications.mail.model import CalendarEntry

PRODID = "-//Land NRW//ruhrflow Ruhr-Konferenz//DE"
EVENT_DURATION = timedelta(minutes=30)
METHODS = ("PUBLISH", "CANCEL")
TZID = "Europe/Berlin"
"""The one zone this writer knows: :func:`berlin_vtimezone` spells out its rules."""
_ZONE = ZoneInfo(TZID)


def berlin_vtimezone() -> icalendar.Timezone:
    """Return the VTIMEZONE for Europe/Berlin as two yearly rules (EU summer time since 1996).

    ``Calendar.add_missing_timezones()`` would derive the zone from zoneinfo, but it writes every
    transition as an RDATE list, and Outlook ignores RDATE-based zones and shifts summer-time
    events by an hour. The RRULE form below is what Google Calendar and Thunderbird emit and what
    Outlook understands; ``tests/notifications`` checks it against zoneinfo, 1996–2037.
    """
    daylight = icalendar.TimezoneDaylight()
    daylight.add("tzname", "CEST")
    daylight.add("tzoffsetfrom", timedelta(hours=1))
    daylight.add("tzoffsetto", timedelta(hours=2))
    daylight.add("dtstart", datetime(1970, 3, 29, 2, 0, 0))
    daylight.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})

    standard = icalendar.TimezoneStandard()
    standard.add("tzname", "CET")
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=1))
    standard.add("dtstart", datetime(1970, 10, 25, 3, 0, 0))
    standard.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})

    timezone = icalendar.Timezone()
    timezone.add("tzid", TZID)
    timezone.add("x-lic-location", "Europe/Berlin")
    timezone.add_component(daylight)
    timezone.add_component(standard)
    return timezone


def _event_time(moment: datetime) -> datetime:
    """Return ``moment`` in Europe/Berlin, or in UTC where Berlin wall time would be ambiguous.

    A local time written with TZID means its *first* occurrence (RFC 5545, 3.3.5); the second
    02:xx on the night clocks go back can only be written in UTC.
    """
    local = moment.astimezone(_ZONE)
    if local.replace(fold=0).astimezone(UTC) != moment.astimezone(UTC):
        return moment.astimezone(UTC)
    return local


def calendar_bytes(
    entry: CalendarEntry,
    *,
    method: str = "PUBLISH",
    stamp: datetime | None = None,
    organizer: tuple[str, str] | None = None,
) -> bytes:
    """Serialise ``entry`` as an iCalendar object (RFC 5545) with one VEVENT.

    The event starts at ``entry.starts_at`` (written with ``TZID=Europe/Berlin``, or in UTC for
    the repeated hour when clocks go back), lasts
    :data:`EVENT_DURATION` and is transparent (does not block the calendar). ``method`` is
    ``PUBLISH`` (add or update) or ``CANCEL`` (remove an entry published earlier with the same
    UID; use a higher ``sequence``). ``stamp`` is the DTSTAMP, the moment the notice was made; it
    defaults to the current time, so pass it when the output must be reproducible.
    ``organizer`` is ``(name, address)`` of the configured sender: RFC 5546 requires an
    ORGANIZER in a ``PUBLISH`` (and ``CANCEL``) event; notices always give it.
    """
    if method not in METHODS:
        raise ValueError(f"unsupported iCalendar method {method!r}; use one of {METHODS}")
    if stamp is None:
        stamp = datetime.now(UTC)
    elif stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError("stamp must be timezone-aware")

    # Add the duration in UTC: wall-clock arithmetic in Berlin would be wrong across a DST switch.
    ends_at = entry.starts_at.astimezone(UTC) + EVENT_DURATION
    event = icalendar.Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", _event_time(entry.starts_at))
    event.add("dtend", _event_time(ends_at))
    event.add("summary", entry.summary)
    event.add("description", entry.description)
    if organizer is not None:
        name, address = organizer
        who = icalendar.vCalAddress(f"mailto:{address}")
        if name:
            who.params["cn"] = icalendar.vText(name)
        event.add("organizer", who)
    event.add("transp", "TRANSPARENT")
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(event)
    # The VTIMEZONE goes before the event, as add_component(berlin_vtimezone()) would put it;
    # it never changes, so it is serialised once per process instead of once per notice
    # (half the cost of a calendar part). tests/notifications compare with the library's own.
    data = bytes(calendar.to_ical())
    at = data.index(_EVENT_START) + 2  # the calendar's own properties come first
    return data[:at] + _vtimezone_bytes() + data[at:]


_EVENT_START = b"\r\nBEGIN:VEVENT\r\n"


@cache
def _vtimezone_bytes() -> bytes:
    return bytes(berlin_vtimezone().to_ical())
