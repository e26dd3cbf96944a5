"""The calendar part: what Outlook and Thunderbird need to import and update an entry."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from user_text import USER_TEXT

from notifications import CalendarEntry, calendar_bytes
from notifications.mail import ics
from notifications.mail.ics import METHODS, berlin_vtimezone

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2019, 11, 5, 8, 0, tzinfo=UTC)


def entry(starts_at: datetime = datetime(2019, 11, 26, 8, 0, tzinfo=UTC)) -> CalendarEntry:
    return CalendarEntry(
        uid="rk-03-01.ergaenzungsvorlage@ruhrflow.invalid",
        sequence=2,
        summary="Frist: Meldung zur Ergänzungsvorlage (RK-03-01)",
        description="Vorschlag RK-03-01\nMeldung an das FM; bitte rechtzeitig, vollständig.",
        starts_at=starts_at,
    )


def parse(data: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(data)


def test_the_calendar_has_prodid_version_method_and_the_berlin_timezone() -> None:
    # when
    calendar = parse(calendar_bytes(entry(), stamp=STAMP))
    # then
    assert str(calendar["VERSION"]) == "2.0"
    assert "ruhrflow" in str(calendar["PRODID"])
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert calendar.get_missing_tzids() == set()


def test_the_event_keeps_uid_sequence_stamp_times_and_texts() -> None:
    # when
    event = parse(calendar_bytes(entry(), stamp=STAMP)).events[0]
    # then
    assert str(event["UID"]) == "rk-03-01.ergaenzungsvorlage@ruhrflow.invalid"
    assert int(event["SEQUENCE"]) == 2
    assert event["DTSTAMP"].dt == STAMP
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTSTART"].dt == datetime(2019, 11, 26, 9, 0, tzinfo=BERLIN)
    assert event["DTEND"].dt - event["DTSTART"].dt == timedelta(minutes=30)
    assert str(event["SUMMARY"]) == "Frist: Meldung zur Ergänzungsvorlage (RK-03-01)"
    assert str(event["DESCRIPTION"]) == entry().description
    assert str(event["TRANSP"]) == "TRANSPARENT"


def test_the_wire_format_is_what_strict_importers_expect() -> None:
    data = calendar_bytes(entry(), stamp=STAMP)
    lines = data.split(b"\r\n")
    # CRLF line endings, nothing else, and folded lines of at most 75 octets
    assert data.endswith(b"END:VCALENDAR\r\n")
    assert all(b"\n" not in line and len(line) <= 75 for line in lines)
    assert b"DTSTART;TZID=Europe/Berlin:20191126T090000" in lines
    assert b"DTSTAMP:20191105T080000Z" in lines
    # the VTIMEZONE comes before the event that uses it
    assert data.index(b"BEGIN:VTIMEZONE") < data.index(b"BEGIN:VEVENT")


def test_the_same_entry_and_stamp_give_the_same_bytes() -> None:
    assert calendar_bytes(entry(), stamp=STAMP) == calendar_bytes(entry(), stamp=STAMP)


def test_the_timezone_uses_yearly_rules_not_rdate_lists() -> None:
    # Outlook ignores RDATE-based VTIMEZONEs and shifts summer-time events by an hour.
    data = berlin_vtimezone().to_ical()
    assert b"RDATE" not in data
    assert data.count(b"RRULE:FREQ=YEARLY") == 2


def test_the_timezone_definition_agrees_with_zoneinfo_from_1996_to_2037() -> None:
    # given the VTIMEZONE turned into a tzinfo from its own rules (not looked up by TZID)
    defined = icalendar.Timezone.from_ical(berlin_vtimezone().to_ical()).to_tz(lookup_tzid=False)
    assert not isinstance(defined, ZoneInfo)
    # then every hour around each switch, and mid-month all year, has the zoneinfo offset
    moments = []
    for year in range(1996, 2038):
        for month in (3, 10):
            start = datetime(year, month, 24, tzinfo=UTC)
            moments += [start + timedelta(hours=h) for h in range(8 * 24)]
        moments += [datetime(year, month, 15, 12, tzinfo=UTC) for month in range(1, 13)]
    mismatches = [
        m for m in moments if m.astimezone(defined).utcoffset() != m.astimezone(BERLIN).utcoffset()
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    ("starts_at", "start_in_utc", "end_in_utc"),
    [
        # 02:45 CEST, half an hour before clocks go back: the end, 02:15 CET, is the second
        # 02:15 of the night and can only be written in UTC
        (datetime(2019, 10, 27, 0, 45, tzinfo=UTC), False, True),
        # 02:45 CET, the second 02:45 of the night: the start must be written in UTC; the end,
        # 03:15 CET, is unambiguous again
        (datetime(2019, 10, 27, 1, 45, tzinfo=UTC), True, False),
        # 01:50 CET before the spring switch: the end, 03:20 CEST, is unambiguous
        (datetime(2019, 3, 31, 0, 50, tzinfo=UTC), False, False),
    ],
)
def test_events_at_a_clock_change_keep_their_real_moments(
    starts_at: datetime, start_in_utc: bool, end_in_utc: bool
) -> None:
    # when
    event = parse(calendar_bytes(entry(starts_at), stamp=STAMP)).events[0]
    start, end = event["DTSTART"].dt, event["DTEND"].dt
    # then a reader gets the same instants back, 30 real minutes apart (compared in UTC:
    # Python never calls an ambiguous wall time equal to a time in another zone, PEP 495)
    assert start.astimezone(UTC) == starts_at
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=30)
    assert ("TZID" not in event["DTSTART"].params) is start_in_utc
    assert ("TZID" not in event["DTEND"].params) is end_in_utc


def test_cancel_marks_the_event_cancelled() -> None:
    calendar = parse(calendar_bytes(entry(), method="CANCEL", stamp=STAMP))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(calendar.events[0]["STATUS"]) == "CANCELLED"


def test_unsupported_methods_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="REQUEST"):
        calendar_bytes(entry(), method="REQUEST")
    with pytest.raises(ValueError, match="aware"):
        calendar_bytes(entry(), stamp=datetime(2019, 11, 5, 9, 0))
    with pytest.raises(ValueError, match="aware"):
        entry(starts_at=datetime(2019, 11, 26, 9, 0))


def test_without_a_stamp_the_current_time_is_used() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    event = parse(calendar_bytes(entry())).events[0]
    assert event["DTSTAMP"].dt >= before


@pytest.mark.parametrize("method", ["PUBLISH", "CANCEL"])
@pytest.mark.parametrize(
    "starts_at",
    [
        datetime(2019, 11, 26, 8, 0, tzinfo=UTC),
        datetime(2019, 10, 27, 0, 30, tzinfo=UTC),  # the repeated hour: written in UTC
    ],
)
def test_the_cached_timezone_gives_the_bytes_of_the_whole_calendar(
    method: str, starts_at: datetime
) -> None:
    # given the calendar as icalendar serialises it with the VTIMEZONE as a component
    e = CalendarEntry(
        "rk-03-01.frist@ruhrflow.invalid", 3, "Frist: Grüße, „Anführung“; BEGIN:VEVENT",
        "Zeile 1\r\nBEGIN:VEVENT\r\nZeile 3 " + "lang " * 30, starts_at,
    )  # fmt: skip
    made = icalendar.Calendar.from_ical(calendar_bytes(e, method=method, stamp=STAMP))
    reference = icalendar.Calendar()
    for name in ("prodid", "version", "calscale", "method"):
        reference.add(name, made[name])
    reference.add_component(berlin_vtimezone())
    reference.add_component(made.events[0])
    # then the spliced serialisation is byte for byte the library's
    assert calendar_bytes(e, method=method, stamp=STAMP) == reference.to_ical()


# The short way (ics._written) against the library's (ics._built): any text in summary,
# description and UID (escapes, long lines, characters of several octets at a fold), the
# organizer with and without a name that needs quoting, times in summer, winter and the
# repeated hour, both methods: the same bytes; fractions of seconds and no organizer go the
# library's way.
_ANY_TEXT = USER_TEXT | st.text(alphabet='a \\;,:"^\r\nNü€😀’', max_size=200)
_MOMENTS = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))
_REPEATED_HOUR = datetime(2019, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 the second time in Berlin


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    summary=_ANY_TEXT, description=_ANY_TEXT, uid=_ANY_TEXT.filter(str.strip),
    sequence=st.integers(0, 10**6), starts=_MOMENTS, stamp=_MOMENTS,
    name=st.sampled_from(["", "Koordinierung der Ruhr-Konferenz", "Amt, NRW: Büro", 'Ein "Amt"',
                          "x" * 90, "Grüße ^ an’s Revier"]),
    method=st.sampled_from(METHODS),
)  # fmt: skip
def test_the_short_way_writes_the_librarys_bytes(
    summary: str, description: str, uid: str, sequence: int, starts: datetime,
    stamp: datetime, name: str, method: str,
) -> None:  # fmt: skip
    e = CalendarEntry(uid, sequence, summary, description, starts)
    ends = starts + ics.EVENT_DURATION
    organizer = (name, "koordination@ruhrflow.invalid")
    written = ics._written(e, method, stamp, ends, organizer)
    built = ics._built(e, method, stamp, ends, organizer)
    assert written == built
    assert calendar_bytes(e, method=method, stamp=stamp, organizer=organizer) == built
    assert ics._written(e, method, stamp, ends, None) is None  # the library's way
    fraction = stamp.replace(microsecond=1)
    assert ics._written(e, method, fraction, ends, organizer) is None
    at_the_repeated_hour = CalendarEntry(uid, sequence, summary, description, _REPEATED_HOUR)
    assert ics._written(
        at_the_repeated_hour, method, stamp, _REPEATED_HOUR + ics.EVENT_DURATION, organizer
    ) == ics._built(
        at_the_repeated_hour, method, stamp, _REPEATED_HOUR + ics.EVENT_DURATION, organizer
    )


@pytest.mark.parametrize("at", range(60, 70))
def test_an_escape_at_the_fold_stays_whole_as_the_library_keeps_it(at: int) -> None:
    text = "a" * at + ",;\\" + "ü" * 40
    e = CalendarEntry(text, 1, text, text, datetime(2019, 11, 26, 8, 0, tzinfo=UTC))
    ends = e.starts_at + ics.EVENT_DURATION
    organizer = ("Koordinierung", "koordination@ruhrflow.invalid")
    assert ics._written(e, "PUBLISH", STAMP, ends, organizer) == ics._built(
        e, "PUBLISH", STAMP, ends, organizer
    )


# termin.ics is written with the escaping and folding of icalendar 7.3 (ics._text, ics._folded):
# 6.0 to 7.2.2 fold every 74 octets without keeping an escape together and leave a lone \r
# (probed against each release: 7.3.0 is the first whose calendars are the same bytes).
FIRST_OF_THE_COPIED_RULES = "7.3.0"


def test_the_icalendar_floor_is_the_first_release_whose_rules_are_copied() -> None:
    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[3]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    (wanted,) = [
        Requirement(r)
        for r in project["project"]["dependencies"]
        if Requirement(r).name == "icalendar"
    ]
    assert wanted.specifier.contains(FIRST_OF_THE_COPIED_RULES)
    assert not wanted.specifier.contains("7.2.2") and not wanted.specifier.contains("6.3.2")


@pytest.mark.parametrize(
    "text", ["x\ry", "a" * 60 + ",b" * 20, "a" * 61 + "\\;" * 20, "a" * 59 + "ü," * 30]
)
@pytest.mark.parametrize("method", METHODS)
def test_an_escape_at_a_fold_and_a_lone_carriage_return_as_the_library_writes_them(
    text: str, method: str
) -> None:
    when = datetime(2019, 11, 5, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    entry = CalendarEntry("rk-03-01.frist@ruhrflow.invalid", 2, text, text, when)
    stamp = datetime(2019, 11, 5, 8, 0, tzinfo=ZoneInfo("UTC"))
    args = (entry, method, stamp, entry.starts_at + ics.EVENT_DURATION, ("Koord", "k@x.de"))
    written = ics._written(*args)
    assert written is not None and written == ics._built(*args)
