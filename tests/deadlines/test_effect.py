"""Deadline rules: validation with file and line, and the effect on state changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import DEFINITION, NOW
from sqlalchemy import select
from support import add_proposal, prepare, walk_to

from workflow.app.runtime import Runtime
from workflow.engine.engine import Engine
from workflow.errors import InvalidDefinition, TransitionNotAllowed
from workflow.process.calendar import BERLIN
from workflow.process.deadline_rules import plan_deadline, rule_of, rules_of
from workflow.process.definition import load_definition, parse_definition
from workflow.store.schema import deadline_rungs, deadlines, proposals

SHIPPED = DEFINITION.read_text(encoding="utf-8")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


def with_deadlines(section: str) -> str:
    start = SHIPPED.index("\ndeadlines:\n")
    end = SHIPPED.index("\n# Who is told what")
    return SHIPPED[:start] + "\ndeadlines:\n" + section + SHIPPED[end:]


def deadline_rows(engine: Engine, key: str) -> list[dict[str, object]]:
    with engine.store.read() as conn:
        pid = conn.execute(select(proposals.c.id).where(proposals.c.key == key)).scalar_one()
        rows = conn.execute(
            select(deadlines).where(deadlines.c.proposal_id == pid).order_by(deadlines.c.id)
        ).mappings()
        result = []
        for row in rows:
            rungs = conn.execute(
                select(deadline_rungs)
                .where(deadline_rungs.c.deadline_id == row["id"])
                .order_by(deadline_rungs.c.fire_at)
            ).mappings()
            result.append({**row, "rungs": [dict(r) for r in rungs]})
        return result


# --- the definition --------------------------------------------------------------------------


def test_the_shipped_definition_declares_the_ruhr_konferenz_deadlines() -> None:
    rules = {r.kind: r for r in rules_of(load_definition(DEFINITION))}
    assert set(rules) == {
        "forum_submission", "consultation", "kabinettvorlage", "budget_amendment",
        "progress_report",
    }  # fmt: skip
    consultation = rules["consultation"]
    assert (consultation.state, str(consultation.after)) == ("consultation", "21d")
    assert [r.name for r in consultation.rungs] == ["remind-7d", "remind-1d", "escalate-2wd"]
    assert rules["escalate-2wd" and "consultation"].rung("escalate-2wd").recipients == (  # type: ignore[union-attr]
        "coordinator",
    )
    assert rules["kabinettvorlage"].state == "ministry_review"
    assert rules["forum_submission"].fixed_date == date(2019, 7, 15)
    assert rules["progress_report"].reset_by == ("report_progress",)


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ("  x:\n    state: nowhere\n    label: X\n    after: 1d\n", "deadlines.x.state", "state"),
        ("  x:\n    state: idea\n    label: X\n    after: 3x\n", "deadlines.x.after", "duration"),
        ("  x:\n    state: idea\n    label: X\n    after: 1d\n    at: '02:30'\n", "deadlines.x.at",
         "02:00 and 03:00"),
        ("  x:\n    state: idea\n    label: X\n    after: 1d\n    date: 2019-07-15\n",
         "deadlines.x", "exactly one of"),
        ("  x:\n    state: cabinet\n    label: X\n    field: reason\n", "deadlines.x.field",
         "not date"),
        ("  x:\n    state: idea\n    label: X\n    after: 1d\n    reset_by: [submit]\n",
         "deadlines.x.reset_by", "back to it"),
        ("  x:\n    state: idea\n    label: X\n    after: 1d\n    remind_to: [mayor]\n",
         "deadlines.x.remind_to", "unknown role"),
        ("  x:\n    state: idea\n    label: X\n    after: 1d\n    colour: red\n",
         "deadlines.x.colour", "unknown key"),
    ],
)  # fmt: skip
def test_a_bad_deadline_rule_is_reported_with_file_line_and_key(
    section: str, key: str, message: str
) -> None:
    # given a definition whose deadlines section has one mistake
    text = with_deadlines(section)
    # when it is parsed
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, "defs/rk.yaml")
    # then the problem names the file, the line of the key and the key
    problem = caught.value.problems[0]
    assert (problem.file, problem.key) == ("defs/rk.yaml", key)
    assert message in problem.message
    lines = text.splitlines()
    assert problem.line is not None
    assert key.rsplit(".", 1)[-1] in lines[problem.line - 1] or key == "deadlines.x"


def test_a_consultation_opened_in_march_is_due_at_nine_across_the_clock_change() -> None:
    # given the consultation rule and a state entered on 20 Mar 2019, 10:00 (CET)
    rule = rule_of(load_definition(DEFINITION), "consultation")
    assert rule is not None
    # when its deadline is planned
    planned = plan_deadline(rule, berlin(2019, 3, 20, 10), {}, {}, berlin(2019, 3, 20, 10))
    assert planned is not None
    # then it is due on 10 Apr 09:00 local (CEST) and each rung is at 09:00 local, too
    assert planned.due_at == berlin(2019, 4, 10, 9)
    assert planned.due_at.hour == 7  # UTC+2 after the change
    times = {rung.name: at.astimezone(BERLIN) for rung, at in planned.rungs}
    assert times["remind-7d"] == datetime(2019, 4, 3, 9, tzinfo=BERLIN)
    assert times["remind-1d"] == datetime(2019, 4, 9, 9, tzinfo=BERLIN)
    assert times["escalate-2wd"] == datetime(2019, 4, 12, 9, tzinfo=BERLIN)
    # and the same rule entered in October keeps 09:00 after the change back
    october = plan_deadline(rule, berlin(2019, 10, 7, 10), {}, {}, berlin(2019, 10, 7, 10))
    assert october is not None
    assert october.due_at.astimezone(BERLIN).hour == 9 and october.due_at.hour == 8


def test_reminders_already_past_are_left_out_escalations_kept() -> None:
    rule = rule_of(load_definition(DEFINITION), "forum_submission")
    assert rule is not None
    planned = plan_deadline(rule, NOW, {}, {}, NOW)  # 15 Jul 2019 10:00: the due day itself
    assert planned is not None
    assert planned.due_at == berlin(2019, 7, 15, 18)
    # escalation 2 working days after Monday 15 Jul: Wednesday 17 Jul, 18:00
    assert [(r.name, at) for r, at in planned.rungs] == [("escalate-2wd", berlin(2019, 7, 17, 18))]


# --- the effect on both backends --------------------------------------------------------------


def test_creating_a_proposal_opens_the_forum_deadline(engine: Engine) -> None:
    key = add_proposal(engine, NOW - timedelta(days=10))
    (row,) = deadline_rows(engine, key)
    assert (row["kind"], row["state"], row["status"], row["entry_seq"]) == (
        "forum_submission", "idea", "open", 1,
    )  # fmt: skip
    assert [r["rung"] for r in row["rungs"]] == ["remind-7d", "remind-1d", "escalate-2wd"]


def test_entering_and_leaving_consultation_opens_and_closes_its_deadline(engine: Engine) -> None:
    # given a proposal whose consultation opens on 15 Jul 2019 12:00
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)  # submit 11:00, open_consultation 12:00
    forum, consultation = deadline_rows(engine, key)
    # then the forum deadline was closed on submit and its pending rung cancelled
    assert forum["status"] == "closed"
    assert all(r["cancelled_at"] is not None for r in forum["rungs"])
    # and the consultation is due 21 days later at 09:00 Berlin (Monday 5 Aug 2019)
    assert consultation["status"] == "open"
    assert consultation["due_at"] == berlin(2019, 8, 5, 9)
    assert [r["fire_at"] for r in consultation["rungs"]] == [
        berlin(2019, 7, 29, 9), berlin(2019, 8, 4, 9), berlin(2019, 8, 7, 9),
    ]  # fmt: skip
    # when the consultation is closed
    later = NOW + timedelta(days=3)
    prepare(engine, key, "close_consultation", later)
    engine.advance(key, "close_consultation", actor="koordination", now=later)
    consultation = deadline_rows(engine, key)[1]
    # then its deadline is closed and no rung is left pending
    assert consultation["status"] == "closed"
    assert all(r["cancelled_at"] is not None for r in consultation["rungs"])


def test_the_consultation_guard_passes_once_the_deadline_has_passed(engine: Engine) -> None:
    # given a consultation opened on 15 Jul 2019 12:00 with no statement at all
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    # when it is closed after 20 days, it is refused
    with pytest.raises(TransitionNotAllowed, match="deadline has not passed"):
        engine.advance(
            key, "close_consultation", actor="koordination", now=NOW + timedelta(days=20)
        )
    # and after 21 days (5 Aug 2019, 10:00 > 09:00) it succeeds without the statements
    applied = engine.advance(
        key, "close_consultation", actor="koordination", now=berlin(2019, 8, 5, 10)
    )
    assert applied.to_state == "ministry_review"


def test_the_kabinettvorlage_is_due_eight_days_before_the_session(engine: Engine) -> None:
    # given the configured cabinet session of 5 Nov 2019
    key = add_proposal(engine, NOW)
    # when the proposal enters the review by its lead ministry
    walk_to(engine, key, "ministry_review", NOW)
    kabinett = deadline_rows(engine, key)[-1]
    # then the Kabinettvorlage is due 8 days before the session
    assert (kabinett["kind"], kabinett["state"]) == ("kabinettvorlage", "ministry_review")
    assert kabinett["due_at"] == berlin(2019, 10, 28, 9)  # after the change back to CET
    # and bringing it in (submit_to_cabinet) meets it
    walk_to(engine, key, "cabinet", NOW + timedelta(days=1))
    closed = next(r for r in deadline_rows(engine, key) if r["kind"] == "kabinettvorlage")
    assert closed["status"] != "open"


def test_without_a_cabinet_session_there_is_no_kabinettvorlage_deadline(
    runtime: Runtime,
) -> None:
    # given settings without a cabinet session
    from workflow.deadlines.effect import DeadlineEffect

    process = {
        k: v for k, v in runtime.settings.section("process").items() if k != "cabinet_session"
    }
    engine = Engine(
        runtime.store,
        runtime.directory,
        audit_key=runtime.settings.audit_key,
        effects=[DeadlineEffect(process)],
    )
    key = add_proposal(engine, NOW)
    # when the proposal enters ministry_review
    walk_to(engine, key, "ministry_review", NOW)
    # then no Kabinettvorlage deadline is opened
    assert "kabinettvorlage" not in [r["kind"] for r in deadline_rows(engine, key)]


def test_the_budget_amendment_is_due_on_the_configured_date(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "budget", NOW)
    budget = deadline_rows(engine, key)[-1]
    assert (budget["kind"], budget["due_at"]) == ("budget_amendment", berlin(2019, 12, 13, 9))


def test_a_progress_report_resets_the_quarterly_deadline(engine: Engine) -> None:
    # given a proposal that started implementation
    key = add_proposal(engine, NOW)
    started = walk_to(engine, key, "implementation", NOW)
    first = deadline_rows(engine, key)[-1]
    assert first["kind"] == "progress_report"
    assert first["due_at"] == berlin(2019, 10, 15, 9)  # three months after 15 Jul
    # when the lead ministry reports progress on 1 Sep 2019
    reported = berlin(2019, 9, 1, 12)
    engine.advance(key, "report_progress", actor="im", now=reported, fields={"progress": 20})
    *_, old, new = deadline_rows(engine, key)
    # then the old period is met and a new one is due three months after the report
    assert (old["status"], old["sequence"]) == ("met", 0)
    assert (new["status"], new["sequence"], new["due_at"]) == ("open", 1, berlin(2019, 12, 1, 9))
    assert started < reported


def test_every_deadline_carries_its_proposals_key(engine: Engine, tmp_path: Path) -> None:
    # The worklist orders by deadlines.proposal_key: each way a deadline is opened copies it.
    from support import definition_next_version

    from workflow.app.bootstrap import register_definition
    from workflow.engine.intake import ProposalInput

    # given deadlines opened by creating many proposals at once (the multi-row insert), by
    # one proposal's transitions (one row with its rungs) and by a reset (progress report)
    item = ProposalInput(title="Stapeltest", handlungsfeld=2, themenforum=12, lead="IM")
    many = engine.create_proposals([item] * 3, actor="koordination", now=NOW)
    one = add_proposal(engine, NOW, key="RK-03-41")
    walk_to(engine, one, "consultation", NOW)
    started = add_proposal(engine, NOW, key="RK-03-42")
    walk_to(engine, started, "implementation", NOW)
    engine.advance(started, "report_progress", actor="im", now=NOW + timedelta(days=30),
                   fields={"progress": 20})  # fmt: skip
    # and by a migration to a new version, which re-derives every open deadline
    register_definition(engine.store, load_definition(definition_next_version(tmp_path)), NOW)
    migrated = NOW + timedelta(days=31)
    engine.migrate(actor="koordination", now=migrated, to_version=4,
                   state_map={"ministry_review": "ressortpruefung"}, raw_fields={}, keys=None,
                   where_state=None, deadline_setting={})  # fmt: skip
    # then every deadline, open or closed, carries the key of its proposal
    with engine.store.read() as conn:
        rows = conn.execute(
            select(proposals.c.key, deadlines.c.proposal_key, deadlines.c.status,
                   deadlines.c.created_at)
            .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        ).all()  # fmt: skip
    assert {key for key, *_ in rows} == {*many, one, started}
    assert {created for *_, created in rows} >= {NOW, migrated}
    assert [(key, copied) for key, copied, *_ in rows if copied != key] == []
    assert {status for _, _, status, _ in rows} == {"open", "closed", "met"}
