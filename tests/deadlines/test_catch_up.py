"""Catching up after downtime sends no burst of stale mail (issue 13, item 2).

Six weeks without a tick: one tick then records every missed rung in the history, skips the
reminders whose deadline has passed and mails one escalation per deadline, which says that
it is late and since when. The mails are read from the Maildir as a mail client reads them.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from conftest import NOW
from sqlalchemy import func, select
from support import add_proposal, walk_to

from workflow.app.runtime import Runtime
from workflow.app.tick import scheduler_hooks, tick
from workflow.store.schema import history

PROPOSALS = 3
# Consultations opened on 15 Jul 2019 are due 5 Aug 09:00; the escalation (2 working days
# after) was meant for 7 Aug 09:00 Berlin. Six weeks later the scheduler runs again.
ESCALATION_TIME = datetime(2019, 8, 7, 7, 0, tzinfo=UTC)
AFTER_DOWNTIME = datetime(2019, 9, 16, 8, 0, tzinfo=UTC)


def _mails(maildir: Path) -> list[EmailMessage]:
    found = []
    for raw in mailbox.Maildir(maildir, create=False):
        parsed = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append(parsed)
    return found


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return " ".join(body.get_content().split())


def test_one_tick_after_six_weeks_mails_one_late_escalation_per_deadline(
    runtime: Runtime, tmp_path: Path
) -> None:
    # given consultations whose reminders and escalation all passed while nothing ran
    engine = runtime.engine
    keys = [add_proposal(engine, NOW) for _ in range(PROPOSALS)]
    for key in keys:
        walk_to(engine, key, "consultation", NOW)
    maildir = tmp_path / "mail"
    before = {m["Message-ID"] for m in _mails(maildir)} if maildir.exists() else set()
    # when one tick runs six weeks later
    done = tick(runtime, scheduler_hooks(runtime, clock=lambda: AFTER_DOWNTIME), AFTER_DOWNTIME)
    # then each reminder was skipped (its deadline had passed) and each escalation fired late
    assert done.sweep.counts() == {
        "reminder": 0, "escalation": PROPOSALS, "late": PROPOSALS, "skipped": 2 * PROPOSALS,
    }  # fmt: skip
    # and the history has all of them: nothing vanished silently
    with engine.store.read() as conn:
        skipped = conn.execute(
            select(func.count()).where(history.c.kind == "rung_skipped")
        ).scalar_one()
    assert skipped == 2 * PROPOSALS
    # and exactly one mail per proposal went out: the escalation, no "rechtzeitig" reminder
    new = [m for m in _mails(maildir) if m["Message-ID"] not in before]
    rung_mails = [m for m in new if str(m["X-Ruhrflow-Key"]).startswith("deadline-rung:")]
    assert len(rung_mails) == PROPOSALS
    for message in rung_mails:
        assert str(message["Subject"]).startswith("(verspätet) Frist überschritten")
        text = _text(message)
        assert "rechtzeitig" not in text
        # which says it is late, and since when: the escalation's own time
        assert (
            "Diese Nachricht wird verspätet versandt. Sie war für den 07.08.2019, 09:00 Uhr"
            " vorgesehen." in text
        )
    assert {str(m["Subject"]).split(" – ")[1].split()[0] for m in rung_mails} == set(keys)


def test_a_rung_on_time_says_nothing_about_being_late(runtime: Runtime, tmp_path: Path) -> None:
    # given a consultation; when the escalation fires at its own time
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    for at in (
        datetime(2019, 7, 29, 7, 0, tzinfo=UTC),
        datetime(2019, 8, 4, 7, 0, tzinfo=UTC),
        ESCALATION_TIME + timedelta(minutes=1),
    ):
        tick(runtime, scheduler_hooks(runtime, clock=lambda at=at: at), at)
    # then both reminders and the escalation went out, none marked late
    rung_mails = [
        m for m in _mails(tmp_path / "mail") if str(m["X-Ruhrflow-Key"]).startswith("deadline-")
    ]
    assert len(rung_mails) == 3
    assert not any("verspätet" in str(m["Subject"]) + _text(m) for m in rung_mails)
