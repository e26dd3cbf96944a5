"""``ruhrflow deadlines move``: the calendar entry moves, nothing is added (issue 13, item 5).

Through click's runner on SQLite and PostgreSQL; the notice is delivered and its calendar
part read with icalendar and vobject: same UID as the entry the ministries already have,
SEQUENCE one higher, the new time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import icalendar
import vobject
from click.testing import CliRunner
from conftest import NOW
from sqlalchemy import select
from support import add_proposal, delivery_of, walk_to

from notifications.mail.transport import MemoryTransport
from workflow.app.runtime import Runtime
from workflow.cli.main import cli
from workflow.notices.delivery import deliver
from workflow.store.schema import deadline_rungs, deadlines, history

AT = "2019-07-20T10:00"  # five days into the consultation (opened 15 Jul, due 5 Aug 09:00)
SENT_AT = datetime(2019, 7, 20, 8, 30, tzinfo=UTC)


def run(runtime: Runtime, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--db", runtime.settings.database_url, "--now", AT, *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def _calendar_of(message: EmailMessage) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            assert isinstance(part, EmailMessage)
            content = part.get_content()
            return content if isinstance(content, str) else content.decode("utf-8")
    raise AssertionError("no calendar part")


def _event(text: str) -> Any:
    (event,) = icalendar.Calendar.from_ical(text).walk("VEVENT")
    return event


def test_a_coordinator_moves_the_consultation_and_the_calendar_entry_follows(
    runtime: Runtime,
) -> None:
    # given a consultation whose opening notice (with its calendar entry) went out
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    first = MemoryTransport()
    deliver(delivery_of(runtime), first, NOW + timedelta(hours=3))
    (opened,) = [m for m in first.outbox if m["X-Ruhrflow-Key"].endswith("consultation_opened")]
    before = _event(_calendar_of(opened))
    # when the office moves it by two weeks
    code, out, err = run(
        runtime, "--as", "koordination", "deadlines", "move", key, "consultation",
        "--to", "2019-08-19", "--reason", "Sommerferien: Frist für die Kammern verlängert",
    )  # fmt: skip
    # then it says so, with the re-planned rungs at their own times
    assert code == 0, err
    assert out.splitlines() == [
        f"{key}: consultation moved from 2019-08-05 09:00 to 2019-08-19 09:00"
        " (calendar sequence 1)",
        "  remind-7d  at 2019-08-12 09:00",
        "  remind-1d  at 2019-08-18 09:00",
        "  escalate-2wd  at 2019-08-21 09:00",
    ]
    with runtime.store.read() as conn:
        (deadline,) = conn.execute(
            select(deadlines).where(deadlines.c.kind == "consultation")
        ).mappings()
        rungs = {
            r["rung"]: r["fire_at"]
            for r in conn.execute(
                select(deadline_rungs).where(deadline_rungs.c.deadline_id == deadline["id"])
            ).mappings()
        }
        (entry,) = conn.execute(
            select(history).where(history.c.kind == "deadline_moved")
        ).mappings()
    assert deadline["due_at"] == datetime(2019, 8, 19, 7, 0, tzinfo=UTC)
    assert deadline["sequence"] == 1
    assert rungs["remind-7d"] == datetime(2019, 8, 12, 7, 0, tzinfo=UTC)
    # and the history has the move with its reason
    assert entry["comment"] == "Sommerferien: Frist für die Kammern verlängert"
    assert entry["data"]["from"].startswith("2019-08-05T07:00")
    # and the ministries get a notice whose calendar entry replaces the old one
    second = MemoryTransport()
    deliver(delivery_of(runtime), second, SENT_AT)
    (moved,) = [m for m in second.outbox if m["X-Ruhrflow-Key"].startswith("deadline-moved:")]
    assert str(moved["Subject"]).startswith("Frist verschoben: „Ende der Beteiligung")
    text = _calendar_of(moved)
    after = _event(text)
    assert str(after["UID"]) == str(before["UID"])
    assert (int(before["SEQUENCE"]), int(after["SEQUENCE"])) == (0, 1)
    assert after.decoded("DTSTART") == datetime(
        2019, 8, 19, 9, 0, tzinfo=after.decoded("DTSTART").tzinfo
    )
    parsed = vobject.readOne(text)
    assert parsed.vevent.uid.value == str(before["UID"])
    assert int(parsed.vevent.sequence.value) == 1
    assert parsed.vevent.dtstart.value.astimezone(UTC) == datetime(2019, 8, 19, 7, 0, tzinfo=UTC)
    recipients = {a.addr_spec for a in moved["To"].addresses}
    assert {"ruhr-konferenz@im.nrw.example", "koordination@ruhrkonferenz.nrw.example"} <= recipients


def test_only_a_coordinator_may_move_a_deadline(runtime: Runtime) -> None:
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    code, _, err = run(
        runtime, "--as", "im", "deadlines", "move", key, "consultation",
        "--to", "2019-08-19", "--reason", "mehr Zeit",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("error: im may not move a deadline on ")
    with runtime.store.read() as conn:
        assert conn.execute(select(history).where(history.c.kind == "deadline_moved")).all() == []


def test_bad_moves_are_bad_input_or_refused(runtime: Runtime) -> None:
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    move = ("--as", "koordination", "deadlines", "move", key)
    # an unknown deadline, a day in the past, no reason: bad input
    for args in (
        ("nonsense", "--to", "2019-08-19", "--reason", "x"),
        ("consultation", "--to", "2019-07-01", "--reason", "x"),
        ("consultation", "--to", "2019-08-19", "--reason", "  "),
    ):
        code, _, err = run(runtime, *move, *args)
        assert code == 2 and err.startswith("error: "), (args, err)
        assert len(err.splitlines()) == 1
    # a deadline of another state: refused by the process
    code, _, err = run(runtime, *move, "kabinettvorlage", "--to", "2019-10-28", "--reason", "x")
    assert code == 1 and "no open deadline 'kabinettvorlage'" in err
