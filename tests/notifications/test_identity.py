"""Message-IDs and calendar UIDs are unique across databases (issue 13, items 1 and 5).

Each database gets a random installation id (migration 0007, ``ruhrflow init``); the
Message-ID of a notice derives from it and the idempotency key, the UID of a calendar part
from it and the deadline, both with the configured sender's domain. Parsed back with the
stdlib (policy.default), icalendar and vobject, two independent iCalendar parsers.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import conftest
import icalendar
import pytest
import vobject
from conftest import DEFINITION, NOW
from sqlalchemy import select
from support import add_proposal, delivery_of, walk_to

from notifications.mail.transport import MemoryTransport
from workflow.app.bootstrap import initialise
from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import load_settings
from workflow.notices.delivery import deliver
from workflow.process.definition import load_definition
from workflow.store.installation import installation_id
from workflow.store.schema import outbox

SENDER_DOMAIN = "ruhrkonferenz.nrw.example"  # of [mail] sender in config/ruhrflow.toml


@pytest.fixture
def second_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """Another database set up as `ruhrflow init` does (a demo next to production)."""
    url = f"sqlite:///{tmp_path / 'second.db'}"
    config = tmp_path / "second.toml"
    config.write_text(conftest.test_config_text(tmp_path / "second-mail"), encoding="utf-8")
    rt = open_runtime(load_settings(config, database_url=url, env={}))
    initialise(rt.store, load_definition(DEFINITION), NOW)
    yield rt
    rt.close()


def _rows(runtime: Runtime) -> dict[str, dict[str, Any]]:
    with runtime.store.read() as conn:
        return {r["idempotency_key"]: dict(r) for r in conn.execute(select(outbox)).mappings()}


def _same_story(runtime: Runtime) -> None:
    key = add_proposal(runtime.engine, NOW, key="RK-03-01")
    walk_to(runtime.engine, key, "consultation", NOW)


def test_two_databases_give_the_same_event_different_message_ids_and_uids(
    runtime: Runtime, second_runtime: Runtime
) -> None:
    # given two databases in which the same thing happens to RK-03-01
    _same_story(runtime)
    _same_story(second_runtime)
    first, second = _rows(runtime), _rows(second_runtime)
    key = "transition:RK-03-01:3:status_change"  # opening the consultation
    assert key in first and key in second
    # when both are delivered
    sent = []
    for rt in (runtime, second_runtime):
        transport = MemoryTransport()
        deliver(delivery_of(rt), transport, NOW + timedelta(days=1))
        (message,) = [m for m in transport.outbox if m["X-Ruhrflow-Key"] == key]
        sent.append(email.message_from_bytes(message.as_bytes(), policy=email.policy.default))
    # then the Message-IDs differ, each in the sender's domain, and match the stored ones
    ids = [str(m["Message-ID"]) for m in sent]
    assert ids == [first[key]["message_id"], second[key]["message_id"]]
    assert ids[0] != ids[1]
    assert all(re.fullmatch(rf"<[0-9a-f]{{32}}@{re.escape(SENDER_DOMAIN)}>", i) for i in ids)
    # and so do the calendar UIDs of the consultation deadline
    uids = [str(_event(m)["UID"]) for m in sent]
    assert uids[0] != uids[1]
    assert all(uid.endswith(f"@{SENDER_DOMAIN}") for uid in uids)
    assert not any("ruhrflow" in uid for uid in uids)


def test_the_installation_id_is_made_once_per_database_and_kept(
    runtime: Runtime, second_runtime: Runtime
) -> None:
    # given a database set up by the migrations; when init runs again
    with runtime.store.read() as conn:
        before = installation_id(conn)
    again = initialise(runtime.store, load_definition(DEFINITION), NOW).installation_id
    # then it keeps its id, a random 128-bit hex value another database does not share
    assert again == before
    assert re.fullmatch(r"[0-9a-f]{32}", before)
    with second_runtime.store.read() as conn:
        assert installation_id(conn) != before


def test_recurring_progress_periods_keep_one_uid_and_count_the_sequence(
    runtime: Runtime,
) -> None:
    # given a proposal in implementation that reports its progress twice
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    now = walk_to(engine, key, "implementation", NOW)
    for progress in (30, 60):
        now += timedelta(days=20)
        engine.advance(key, "report_progress", actor="im", now=now, fields={"progress": progress})
    # when the notices are delivered
    transport = MemoryTransport()
    deliver(delivery_of(runtime), transport, now)
    progress_mails = [
        m
        for m in transport.outbox
        if m["X-Ruhrflow-Key"].startswith(f"transition:{key}:")
        and _calendar(m) is not None
        and "Quartalsbericht" in str(_event(m)["SUMMARY"])
    ]
    # then the start and both reports carry one calendar entry, its SEQUENCE 0, 1, 2 ...
    assert len(progress_mails) == 3
    events = [_event(m) for m in progress_mails]
    assert len({str(e["UID"]) for e in events}) == 1
    assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
    starts = [e.decoded("DTSTART") for e in events]
    assert starts == sorted(starts) and len(set(starts)) == 3
    # ... and a second, independent parser reads the same
    for message, event in zip(progress_mails, events, strict=True):
        parsed = vobject.readOne(_calendar(message))
        assert parsed.vevent.uid.value == str(event["UID"])
        assert int(parsed.vevent.sequence.value) == int(event["SEQUENCE"])


def _calendar(message: EmailMessage) -> str | None:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            assert isinstance(part, EmailMessage)
            content = part.get_content()
            return content if isinstance(content, str) else content.decode("utf-8")
    return None


def _event(message: EmailMessage) -> Any:
    text = _calendar(message)
    assert text is not None
    (event,) = icalendar.Calendar.from_ical(text).walk("VEVENT")
    return event


def test_every_published_calendar_part_names_the_configured_sender_as_organizer(
    runtime: Runtime,
) -> None:
    # given a proposal entering the consultation (a status change and the coordinators'
    # notice, both with the consultation deadline)
    _same_story(runtime)
    # when the notices are delivered
    transport = MemoryTransport()
    deliver(delivery_of(runtime), transport, NOW + timedelta(days=1))
    parts = [text for m in transport.outbox if (text := _calendar(m)) is not None]
    assert parts
    for text in parts:
        # then METHOD:PUBLISH comes with the ORGANIZER RFC 5546 requires: the From of the mail
        calendar = icalendar.Calendar.from_ical(text)
        assert str(calendar["METHOD"]) == "PUBLISH"
        (event,) = calendar.walk("VEVENT")
        assert str(event["ORGANIZER"]) == "mailto:koordination@ruhrkonferenz.nrw.example"
        assert str(event["ORGANIZER"].params["CN"]) == "Ruhr-Konferenz Koordination"
        # and the second parser reads the same
        parsed = vobject.readOne(text)
        assert parsed.vevent.organizer.value == "mailto:koordination@ruhrkonferenz.nrw.example"
        assert parsed.vevent.organizer.params["CN"] == ["Ruhr-Konferenz Koordination"]
