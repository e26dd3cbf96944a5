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
    written = _written(entry, method, stamp, ends_at, organizer)
    return written if written is not None else _built(entry, method, stamp, ends_at, organizer)


def _built(
    entry: CalendarEntry,
    method: str,
    stamp: datetime,
    ends_at: datetime,
    organizer: tuple[str, str] | None,
) -> bytes:
    """The calendar as the library builds it."""
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


# --- the same bytes without building the calendar -----------------------------------------------
#
# A notice's calendar always has the same shape: the calendar's four properties, the zone, one
# event with ten properties in the library's order, of which only the texts, the times, the
# UID and the sequence change. Building it with the library is most of the cost of a notice
# with a calendar part (the demo makes 1,900), so :func:`_written` writes those lines itself —
# the library's escaping of TEXT values and its folding of lines at 75 octets, copied below —
# and takes the head of the calendar and the ORGANIZER line, which depend only on the method
# and the sender, from the library once. Whatever it does not write exactly as the library
# would (fractions of seconds, no organizer) goes the library's way; tests/notifications
# compare the two on any text.


def _written(
    entry: CalendarEntry,
    method: str,
    stamp: datetime,
    ends_at: datetime,
    organizer: tuple[str, str] | None,
) -> bytes | None:
    starts, ends = _event_time(entry.starts_at), _event_time(ends_at)
    stamp = stamp.astimezone(UTC)
    if organizer is None or any(t.microsecond for t in (starts, ends, stamp)):
        return None
    lines = [
        _folded("SUMMARY:" + _text(entry.summary)),
        "DTSTART" + _time(starts),
        "DTEND" + _time(ends),
        f"DTSTAMP:{stamp:%Y%m%dT%H%M%S}Z",
        _folded("UID:" + _text(entry.uid)),
        f"SEQUENCE:{int(entry.sequence)}",
        _folded("DESCRIPTION:" + _text(entry.description)),
    ]
    event = "\r\n".join(lines).encode("utf-8")
    status = b"CANCELLED" if method == "CANCEL" else b"CONFIRMED"
    return b"".join(
        (
            _head(method),
            _vtimezone_bytes(),
            b"BEGIN:VEVENT\r\n",
            event,
            b"\r\n",
            _organizer_line(*organizer),
            b"STATUS:" + status + b"\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
    )


def _text(value: str) -> str:
    # icalendar's TEXT escaping (parser/string.py, _escape_char): the order matters. As of
    # 7.3.0, pyproject's floor: before it a lone \r stayed as it is (tests/notifications)
    return (
        value.replace(r"\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", r"\;")
        .replace(",", r"\,")
        .replace("\r\n", r"\n")
        .replace("\n", r"\n")
        .replace("\r", r"\n")
    )


def _folded(line: str, limit: int = 75) -> str:
    # icalendar's folding (parser/string.py, _foldline): a line reaches at most limit - 1
    # octets; an escape's backslash (or ^) is not left at the end of a line (as of 7.3.0)
    if len(line) < limit // 4 or len(line.encode("utf-8")) < limit:
        return line
    folded: list[str] = []
    current: list[str] = []
    count = 0
    for char in line:
        size = len(char.encode("utf-8"))
        if current and count + size >= limit:
            if len(current) > 1 and current[-1] in "\\^":
                escape = current.pop()
                folded.append("".join(current))
                current, count = [escape], len(escape.encode("utf-8"))
            else:
                folded.append("".join(current))
                current, count = [], 0
        current.append(char)
        count += size
    if current:
        folded.append("".join(current))
    return "\r\n ".join(folded)


def _time(moment: datetime) -> str:
    if moment.tzinfo is UTC:
        return f":{moment:%Y%m%dT%H%M%S}Z"
    return f";TZID={TZID}:{moment:%Y%m%dT%H%M%S}"


@cache
def _head(method: str) -> bytes:
    """The calendar up to its first component, as the library writes it."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(icalendar.Event())
    data = bytes(calendar.to_ical())
    return data[: data.index(b"BEGIN:VEVENT\r\n")]


@cache
def _organizer_line(name: str, address: str) -> bytes:
    """The event's ORGANIZER line (folded), as the library writes it."""
    who = icalendar.vCalAddress(f"mailto:{address}")
    if name:
        who.params["cn"] = icalendar.vText(name)
    event = icalendar.Event()
    event.add("organizer", who)
    data = bytes(event.to_ical())
    return data[data.index(b"\r\n") + 2 : data.rindex(b"END:VEVENT")]
