"""The engine API on SQLite and PostgreSQL: permissions, guards, fields, bulk, versions,
concurrency and atomicity."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from conftest import DEFINITION, NOW, REPO
from sqlalchemy import Connection, func, insert, select, update
from support import add_proposal, prepare, walk_to

from workflow.access.directory import Directory
from workflow.app.bootstrap import register_definition
from workflow.engine.changes import Applied, Batch
from workflow.engine.definitions import Machines
from workflow.engine.effects import Effect
from workflow.engine.engine import Engine
from workflow.engine.intake import read_csv
from workflow.engine.records import history_of
from workflow.errors import (
    ConcurrentUpdate,
    DateInFuture,
    DefinitionConflict,
    InvalidInput,
    PermissionDenied,
    TransitionNotAllowed,
)
from workflow.process.definition import load_definition, parse_definition
from workflow.store import repo
from workflow.store.db import Store
from workflow.store.schema import deadlines, history, proposals

LATER = NOW + timedelta(days=1)
CABINET_DAY = datetime(2019, 11, 5, 11, 0, tzinfo=UTC)  # the 2019 round's cabinet, at noon
SHIPPED = load_definition(DEFINITION)


def row(engine: Engine, key: str) -> dict[str, Any]:
    with engine.store.read() as conn:
        found = repo.load_proposal(conn, key)
    assert found is not None
    return dict(found)


def entries(engine: Engine, key: str) -> list[dict[str, Any]]:
    with engine.store.read() as conn:
        return history_of(conn, key)


def snapshot(engine: Engine, key: str) -> tuple[Any, ...]:
    """What must not change when a write is refused or rolled back."""
    r = row(engine, key)
    return (r["state"], r["row_version"], r["history_seq"], r["history_head"], r["data"],
            len(entries(engine, key)))  # fmt: skip


def statements_from(engine: Engine, key: str, groups: Sequence[str], now: datetime) -> None:
    for group in groups:
        engine.record_statement(key, party=f"Test-{group}", group=group, position="support",
                                text="", actor="koordination", now=now)  # fmt: skip


# --- who may do what -------------------------------------------------------------------------


def test_lead_ministry_acts_only_on_its_own_proposals(engine: Engine) -> None:
    key = add_proposal(engine, NOW, lead="IM")
    now = walk_to(engine, key, "ministry_review", NOW)
    before = snapshot(engine, key)
    # Another ministry may not bring IM's proposal to the cabinet …
    with pytest.raises(PermissionDenied) as info:
        engine.advance(key, "submit_to_cabinet", actor="vm", now=now)
    assert info.value.actor == "vm" and info.value.key == key
    assert "the lead ministry (IM)" in info.value.reason
    assert snapshot(engine, key) == before
    # … the lead ministry may.
    assert engine.advance(key, "submit_to_cabinet", actor="im", now=now).to_state == "cabinet"


def test_only_the_lead_ministry_reports_progress(engine: Engine) -> None:
    key = add_proposal(engine, NOW, lead="IM")
    now = walk_to(engine, key, "implementation", NOW)
    for other in ("vm", "koordination", "forum-03"):
        with pytest.raises(PermissionDenied):
            engine.advance(key, "report_progress", actor=other, now=now, fields={"progress": 10})
    applied = engine.advance(key, "report_progress", actor="im", now=now, fields={"progress": 10})
    assert applied.actor == "im"


def test_lead_ministry_may_add_funding_only_to_its_own_proposals(engine: Engine) -> None:
    own = add_proposal(engine, NOW, lead="IM")
    other = add_proposal(engine, NOW, lead="VM", forum=1)
    engine.add_funding(own, source="eu", amount=Decimal(5), year=2021, secured=False,
                       actor="im", now=NOW)  # fmt: skip
    with pytest.raises(PermissionDenied):
        engine.add_funding(other, source="eu", amount=Decimal(5), year=2021, secured=False,
                           actor="im", now=NOW)  # fmt: skip
    with pytest.raises(PermissionDenied):  # statements are the coordination office's job
        engine.record_statement(own, party="x", group="ihk", position="support", text="",
                                actor="im", now=NOW)  # fmt: skip


def test_forum_lead_acts_only_for_its_own_forum(engine: Engine) -> None:
    from workflow.engine.intake import ProposalInput

    item = ProposalInput(title="Idee aus Forum 3", handlungsfeld=3, themenforum=3, lead="IM")
    with pytest.raises(PermissionDenied):
        engine.create_proposals([item], actor="forum-04", now=NOW)
    (key,) = engine.create_proposals([item], actor="forum-03", now=NOW)
    with pytest.raises(PermissionDenied) as info:
        engine.advance(key, "submit", actor="forum-04", now=NOW)
    assert "Themenforum 3" in info.value.reason
    engine.advance(key, "submit", actor="forum-03", now=NOW)
    with pytest.raises(PermissionDenied):  # opening the consultation is the office's
        engine.advance(key, "open_consultation", actor="forum-03", now=NOW)
    assert row(engine, key)["state"] == "proposed"


def test_the_auditor_can_write_nothing(engine: Engine) -> None:
    # Given one proposal in every state some transition leaves
    sources = sorted({s for t in SHIPPED.transitions for s in t.sources})
    at: dict[str, str] = {}
    for i, state in enumerate(sources):
        key = add_proposal(engine, NOW, key=f"RK-09-{i + 1:02d}")
        walk_to(engine, key, state, NOW)
        at[state] = key
    assert {row(engine, k)["state"] for k in at.values()} == set(sources)
    # When the auditor tries every trigger from every source state, then every one is refused
    fields = {"decision_date": "2019-11-05", "reason": "x", "progress": 5}
    for t in SHIPPED.transitions:
        for state in t.sources:
            before = snapshot(engine, at[state])
            with pytest.raises(PermissionDenied):
                engine.advance(at[state], t.trigger, actor="pruefung", now=LATER, fields=fields)
            assert snapshot(engine, at[state]) == before
    with pytest.raises(PermissionDenied):
        engine.advance_many("submit", where_state="idea", actor="pruefung", now=LATER)
    with pytest.raises(PermissionDenied):
        engine.record_statement(at["consultation"], party="p", group="ihk", position="support",
                                text="", actor="pruefung", now=LATER)  # fmt: skip
    with pytest.raises(PermissionDenied):
        engine.add_funding(at["budget"], source="land", amount=Decimal(1), year=2020,
                           secured=True, actor="pruefung", now=LATER)  # fmt: skip
    with pytest.raises(PermissionDenied):
        add_proposal_as(engine, "pruefung")
    # … but the auditor may read what could happen next
    assert engine.triggers(at["idea"], actor="pruefung", now=LATER)[0].can_fire is False


def add_proposal_as(engine: Engine, actor: str) -> None:
    from workflow.engine.intake import ProposalInput

    item = ProposalInput(title="t", handlungsfeld=1, themenforum=1, lead="VM")
    engine.create_proposals([item], actor=actor, now=NOW)


# --- guards ------------------------------------------------------------------------------------


def test_close_consultation_needs_every_group_and_says_which_are_missing(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    now = walk_to(engine, key, "consultation", NOW)
    with pytest.raises(TransitionNotAllowed) as info:
        engine.advance(key, "close_consultation", actor="koordination", now=now)
    assert info.value.failed_guards == ("consultation_complete",)
    assert "Kommunen, IHK, HWK, Verbände" in str(info.value)
    statements_from(engine, key, ["kommune", "ihk", "townhall"], now)
    with pytest.raises(TransitionNotAllowed) as info:
        engine.advance(key, "close_consultation", actor="koordination", now=now)
    assert "no statement yet from HWK, Verbände" in str(info.value)
    statements_from(engine, key, ["hwk", "verband"], now)
    applied = engine.advance(key, "close_consultation", actor="koordination", now=now)
    assert applied.to_state == "ministry_review"


def _deadline(conn: Connection, key: str, state: str, due_at: datetime) -> None:
    proposal_id = conn.execute(select(proposals.c.id).where(proposals.c.key == key)).scalar_one()
    conn.execute(
        insert(deadlines).values(
            proposal_id=proposal_id, proposal_key=key, kind="consultation", state=state,
            entry_seq=99, due_at=due_at, status="open", created_at=NOW,
        )
    )  # fmt: skip


def test_close_consultation_passes_once_the_consultation_deadline_has_passed(
    engine: Engine,
) -> None:
    # given a proposal in consultation without statements, whose deadline (the real one,
    # opened by the deadline effect: 21 days) has not passed; a past deadline of the same
    # kind but of another state must not count
    key = add_proposal(engine, NOW)
    now = walk_to(engine, key, "consultation", NOW)
    with engine.store.write() as conn:
        _deadline(conn, key, "proposed", now)
    with engine.store.read() as conn:
        due = conn.execute(
            select(deadlines.c.due_at).where(
                deadlines.c.kind == "consultation", deadlines.c.state == "consultation"
            )
        ).scalar_one()
    assert due > now + timedelta(days=20)
    # when the coordinator closes it a minute before the deadline, then it is refused
    with pytest.raises(TransitionNotAllowed):
        engine.advance(
            key, "close_consultation", actor="koordination", now=due - timedelta(minutes=1)
        )
    # and at the deadline it passes
    applied = engine.advance(key, "close_consultation", actor="koordination", now=due)
    assert applied.to_state == "ministry_review"


def test_cabinet_needs_a_cost_estimate(engine: Engine) -> None:
    key = add_proposal(engine, NOW, cost=None)
    now = walk_to(engine, key, "ministry_review", NOW)
    with pytest.raises(TransitionNotAllowed) as info:
        engine.advance(key, "submit_to_cabinet", actor="koordination", now=now)
    assert info.value.failed_guards == ("cost_estimated",)
    assert "no cost estimate" in str(info.value)
    blocked = {o.trigger: o.blocked_by for o in engine.triggers(key, actor="im", now=now)}
    assert any("cost_estimated" in b for b in blocked["submit_to_cabinet"])


def test_secure_funding_needs_secured_money_covering_the_estimate(engine: Engine) -> None:
    key = add_proposal(engine, NOW, cost=3_000_000)
    now = walk_to(engine, key, "budget", NOW)
    engine.add_funding(key, source="land", amount=Decimal(5_000_000), year=2020, secured=False,
                       actor="koordination", now=now)  # fmt: skip
    engine.add_funding(key, source="bund", amount=Decimal(2_000_000), year=2020, secured=True,
                       actor="koordination", now=now)  # fmt: skip
    with pytest.raises(TransitionNotAllowed) as info:
        engine.advance(key, "secure_funding", actor="koordination", now=now)
    assert info.value.failed_guards == ("financing_secured",)
    assert "2,000,000.00 EUR is below the cost estimate 3,000,000.00 EUR" in str(info.value)
    engine.add_funding(key, source="eu", amount=Decimal(1_000_000), year=2021, secured=True,
                       actor="koordination", now=now)  # fmt: skip
    assert engine.advance(key, "secure_funding", actor="koordination", now=now).to_state == "funded"


# --- required fields -------------------------------------------------------------------------


def test_approve_needs_a_decision_date_that_is_a_date(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "cabinet", NOW)
    now = CABINET_DAY  # a decision is not dated after the engine's day (test_decision_date)
    before = snapshot(engine, key)
    with pytest.raises(TransitionNotAllowed) as info:
        engine.advance(key, "approve", actor="koordination", now=now)
    assert "missing field decision_date" in str(info.value)
    for bad in ("05.11.2019", "2019-13-01", "", "morgen", 20191105, "2019-W45-2", LATER):
        with pytest.raises(InvalidInput) as bad_info:
            engine.advance(key, "approve", actor="koordination", now=now,
                           fields={"decision_date": bad})  # fmt: skip
        assert bad_info.value.exit_code == 2
    assert snapshot(engine, key) == before
    applied = engine.advance(key, "approve", actor="koordination", now=now,
                             fields={"decision_date": date(2019, 11, 5)})  # fmt: skip
    assert applied.fields == {"decision_date": "2019-11-05"}
    assert row(engine, key)["data"]["decision_date"] == "2019-11-05"


def test_reject_needs_decision_date_and_reason(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "cabinet", NOW)
    now = CABINET_DAY
    with pytest.raises(TransitionNotAllowed) as info:
        engine.advance(key, "reject", actor="koordination", now=now,
                       fields={"decision_date": "2019-11-05"})  # fmt: skip
    assert info.value.reasons == ("missing field reason (--set reason=…)",)
    with pytest.raises(InvalidInput):
        engine.advance(key, "reject", actor="koordination", now=now,
                       fields={"decision_date": "2019-11-05", "reason": "   "})  # fmt: skip
    with pytest.raises(InvalidInput, match="unknown field 'grund'"):
        engine.advance(key, "reject", actor="koordination", now=now,
                       fields={"decision_date": "2019-11-05", "grund": "x"})  # fmt: skip
    engine.advance(key, "reject", actor="koordination", now=now,
                   fields={"decision_date": "2019-11-05", "reason": "zu teuer"})  # fmt: skip
    assert row(engine, key)["state"] == "rejected"


def test_progress_is_a_whole_number_from_0_to_100_and_stays_in_state(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    now = walk_to(engine, key, "implementation", NOW)
    entered = row(engine, key)["state_entered_at"]
    for bad in (-1, 101, "fünfzig", "50.5", True, ""):
        with pytest.raises(InvalidInput):
            engine.advance(key, "report_progress", actor="im", now=now, fields={"progress": bad})
    seq = row(engine, key)["history_seq"]
    for i, good in enumerate((0, "75", 100)):
        applied = engine.advance(key, "report_progress", actor="im", now=now + timedelta(days=i),
                                 fields={"progress": good})  # fmt: skip
        assert (applied.from_state, applied.to_state) == ("implementation", "implementation")
    r = row(engine, key)
    assert r["state"] == "implementation" and r["state_entered_at"] == entered
    assert r["data"]["progress"] == 100
    assert r["history_seq"] == seq + 3
    assert [e["data"]["fields"]["progress"] for e in entries(engine, key)[-3:]] == [0, 75, 100]


# --- the cabinet decision of 5 Nov 2019 -------------------------------------------------------


class Recorder(Effect):
    """An effect that remembers each call (one call = one transaction)."""

    def __init__(self) -> None:
        self.calls: list[list[Applied]] = []

    def on_transition(self, batch: Batch) -> None:
        self.calls.append(list(batch.applied))


def import_2019(engine: Engine) -> list[str]:
    data = (REPO / "definitions" / "data" / "ruhr_konferenz_2019.csv").read_bytes()
    created, bad = engine.import_proposals(read_csv(data), actor="koordination", now=NOW)
    assert bad == []
    return created


def test_the_cabinet_approves_74_at_once_and_the_altschulden_proposal_is_withdrawn(
    store: Store, directory: Directory
) -> None:
    recorder = Recorder()
    engine = Engine(store, directory, effects=[recorder])
    keys = import_2019(engine)
    assert len(keys) == 75
    # Given all 75 proposals brought to the cabinet (in bulk, statements recorded)
    t = NOW
    for trigger in ("submit", "open_consultation"):
        t += timedelta(days=7)
        engine.advance_many(trigger, keys=keys, actor="koordination", now=t)
    for key in keys:
        statements_from(engine, key, ["kommune", "ihk", "hwk", "verband"], t)
    for trigger in ("close_consultation", "submit_to_cabinet"):
        t += timedelta(days=7)
        engine.advance_many(trigger, where_state=trigger_source(trigger), actor="koordination",
                            now=t)  # fmt: skip
    # The Altschulden proposal is taken out by consensus with the Kommunen
    altschulden = "RK-05-01"
    assert "Altschulden" in row(engine, altschulden)["title"]
    with pytest.raises(TransitionNotAllowed, match="missing field reason"):
        engine.advance(altschulden, "withdraw", actor="koordination", now=t)
    reason = "Im Konsens mit den Kommunen außerhalb der Ruhr-Konferenz zu lösen"
    engine.advance(altschulden, "withdraw", actor="koordination", now=t,
                   comment="Kabinett 5.11.2019", fields={"reason": reason})  # fmt: skip
    gone = entries(engine, altschulden)[-1]
    assert (gone["trigger"], gone["to_state"]) == ("withdraw", "withdrawn")
    assert gone["data"]["fields"]["reason"] == reason and gone["comment"] == "Kabinett 5.11.2019"
    assert engine.triggers(altschulden, actor="koordination", now=t) == []
    # All or nothing: naming all 75 approves none, because one is withdrawn
    seqs = {k: row(engine, k)["history_seq"] for k in keys}
    recorder.calls.clear()
    cabinet_day = datetime(2019, 11, 5, 9, 0, tzinfo=NOW.tzinfo)
    with pytest.raises(TransitionNotAllowed, match="RK-05-01"):
        engine.advance_many("approve", keys=keys, actor="koordination", now=cabinet_day,
                            fields={"decision_date": "2019-11-05"})  # fmt: skip
    assert recorder.calls == []
    assert {k: row(engine, k)["history_seq"] for k in keys} == seqs
    # When the cabinet approves every proposal before it
    result = engine.advance_many("approve", where_state="cabinet", actor="koordination",
                                 now=cabinet_day, comment="Kabinettbeschluss vom 5.11.2019",
                                 fields={"decision_date": "2019-11-05"})  # fmt: skip
    # Then 74 are approved in one transaction, each with its own history entry
    assert len(result.applied) == 74 and result.refused == []
    assert len(recorder.calls) == 1 and len(recorder.calls[0]) == 74
    approved = [k for k in keys if k != altschulden]
    for key in approved:
        r = row(engine, key)
        assert r["state"] == "approved" and r["history_seq"] == seqs[key] + 1
        last = entries(engine, key)[-1]
        assert (last["seq"], last["trigger"], last["from_state"]) == (
            seqs[key] + 1, "approve", "cabinet",
        )  # fmt: skip
        assert last["at"] == cabinet_day.isoformat()
    assert row(engine, altschulden)["state"] == "withdrawn"


def trigger_source(trigger: str) -> str:
    (t,) = [t for t in SHIPPED.transitions if t.trigger == trigger]
    (source,) = t.sources
    return source


def test_bulk_partial_applies_what_it_can(engine: Engine) -> None:
    a, b, c = (add_proposal(engine, NOW, key=f"RK-03-0{i}") for i in (1, 2, 3))
    engine.advance(b, "submit", actor="koordination", now=NOW)
    result = engine.advance_many("submit", keys=[a, b, "RK-77-77", c], actor="koordination",
                                 now=LATER, partial=True)  # fmt: skip
    assert [x.key for x in result.applied] == [a, c]
    assert {k: type(e).__name__ for k, e in result.refused} == {
        b: "TransitionNotAllowed",
        "RK-77-77": "UnknownProposal",
    }
    assert {row(engine, k)["state"] for k in (a, b, c)} == {"proposed"}


def test_a_bulk_preview_names_every_blocker_and_agrees_with_the_advance(engine: Engine) -> None:
    from workflow.engine.options import english, german

    # given three proposals: one admissible, one outside the Handlungsfelder without secured
    # money (two guards fail), one still an idea (admit does not leave its state)
    now = datetime(2021, 6, 1, 10, 0, tzinfo=UTC)
    ok, blocked, idea = (add_proposal(engine, NOW, cost=4_000_000) for _ in range(3))
    for key in (ok, blocked):
        walk_to(engine, key, "proposed", NOW)
    engine.add_funding(ok, source="stiftung", amount=Decimal(4_000_000), year=2021, secured=True,
                       actor="koordination", now=now)  # fmt: skip
    with engine.store.write() as conn:
        conn.execute(update(proposals).where(proposals.c.key == blocked).values(handlungsfeld=0))
    keys = [ok, blocked, idea, "RK-77-77"]
    admit = {"decision_date": "2021-06-01"}
    before = {k: snapshot(engine, k) for k in keys[:3]}
    # when the coordinator previews admit on them, and a ministry does
    seen = engine.preview_many("admit", keys=keys, actor="koordination", now=now, fields=admit)
    other = engine.preview_many("admit", keys=[blocked], actor="vm", now=now, fields=admit)
    # then the preview says which apply and every reason for the others, as data, said in
    # English and German from the proposal's definition; nothing was written
    assert [(p.key, p.applies) for p in seen] == [
        (ok, True),
        (blocked, False),
        (idea, False),
        ("RK-77-77", False),
    ]
    assert seen[0].blocked == []
    assert [(b.kind, b.name) for b in seen[1].blocked] == [
        ("guard", "in_handlungsfeld"),
        ("guard", "financing_secured"),
    ]
    assert [(b.kind, b.name) for b in seen[2].blocked] == [("state", "idea")]
    assert [b.kind for b in seen[3].blocked] == ["refused"] and seen[3].definition is None
    assert [b.kind for b in other[0].blocked] == ["role", "guard", "guard"]  # not only the first
    definition = seen[1].definition
    assert definition is not None
    said = [english(definition, b) for b in other[0].blocked]
    assert said[0].startswith("role: needs coordinator") and said[2].startswith(
        "guard financing_secured:"
    )
    assert german(definition, other[0].blocked[0]).startswith(
        "Das darf nur die Koordinierungsstelle"
    )
    assert "(Voraussetzung: " in german(definition, other[0].blocked[2])
    # a decision dated tomorrow blocks each proposal (with its other reasons) in the preview,
    # as it refuses the whole real advance
    tomorrow = {"decision_date": "2021-06-02"}
    late = engine.preview_many("admit", keys=keys[:2], actor="koordination", now=now,
                               fields=tomorrow)  # fmt: skip
    assert [[b.kind for b in p.blocked] for p in late] == [["date"], ["date", "guard", "guard"]]
    assert german(definition, late[0].blocked[0]).startswith("Datum des Beschlusses: Der 02.06.")
    with pytest.raises(DateInFuture):
        engine.advance_many("admit", keys=keys[:2], actor="koordination", now=now,
                            fields=tomorrow, partial=True)  # fmt: skip
    assert {k: snapshot(engine, k) for k in keys[:3]} == before
    # and the real bulk advance then applies exactly those
    result = engine.advance_many("admit", keys=keys, actor="koordination", now=now, fields=admit,
                                 partial=True)  # fmt: skip
    assert [a.key for a in result.applied] == [p.key for p in seen if p.applies]
    assert {k for k, _ in result.refused} == {p.key for p in seen if not p.applies}


# --- later admission -------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["proposed", "ministry_review"])
def test_later_admission_needs_handlungsfeld_and_secured_financing(
    engine: Engine, state: str
) -> None:
    key = add_proposal(engine, NOW, cost=4_000_000)
    walk_to(engine, key, state, NOW)
    now = datetime(2021, 6, 1, 10, 0, tzinfo=UTC)  # admitted on the day of the decision
    admit = {"decision_date": "2021-06-01"}
    with pytest.raises(TransitionNotAllowed, match="missing field decision_date"):
        engine.advance(key, "admit", actor="koordination", now=now)
    with pytest.raises(TransitionNotAllowed) as info:
        engine.advance(key, "admit", actor="koordination", now=now, fields=admit)
    assert info.value.failed_guards == ("financing_secured",)
    # A proposal outside the five Handlungsfelder fails both guards
    with engine.store.write() as conn:
        conn.execute(update(proposals).where(proposals.c.key == key).values(handlungsfeld=0))
    with pytest.raises(TransitionNotAllowed) as info:
        engine.advance(key, "admit", actor="koordination", now=now, fields=admit)
    assert info.value.failed_guards == ("in_handlungsfeld", "financing_secured")
    with engine.store.write() as conn:
        conn.execute(update(proposals).where(proposals.c.key == key).values(handlungsfeld=4))
    engine.add_funding(key, source="stiftung", amount=Decimal(4_000_000), year=2021, secured=True,
                       actor="koordination", now=now)  # fmt: skip
    applied = engine.advance(key, "admit", actor="koordination", now=now, fields=admit)
    assert (applied.from_state, applied.to_state) == (state, "funded")


# --- definition versions ----------------------------------------------------------------------


def version_2() -> str:
    """The shipped definition (version 3) as a next version with another trigger label."""
    text = DEFINITION.read_text(encoding="utf-8")
    assert text.count("version: 3\n") == 1 and text.count("label: Vorschlag einreichen\n") == 1
    return text.replace("version: 3\n", "version: 4\n").replace(
        "label: Vorschlag einreichen\n", "label: Vorschlag beim Kabinett einreichen\n"
    )


def test_proposals_stay_on_the_definition_version_they_started_on(
    engine: Engine, store: Store
) -> None:
    old = add_proposal(engine, NOW)
    v1 = row(engine, old)["definition_id"]
    v2, registered = register_definition(store, parse_definition(version_2(), "v2.yaml"), NOW)
    assert registered and v2 != v1
    assert register_definition(store, parse_definition(version_2(), "v2.yaml"), NOW) == (v2, False)
    new = add_proposal(engine, LATER)
    assert row(engine, old)["definition_id"] == v1
    assert row(engine, new)["definition_id"] == v2
    label = {k: engine.triggers(k, actor=None, now=LATER)[0].label for k in (old, new)}
    assert label == {old: "Vorschlag einreichen", new: "Vorschlag beim Kabinett einreichen"}
    applied = engine.advance(old, "submit", actor="koordination", now=LATER)
    assert applied.definition.version == 3
    assert row(engine, old)["definition_id"] == v1


def test_a_changed_definition_under_an_old_version_number_is_refused(store: Store) -> None:
    changed = version_2().replace("version: 4\n", "version: 3\n")
    with pytest.raises(DefinitionConflict, match="version 3 is registered with other content"):
        register_definition(store, parse_definition(changed, "changed.yaml"), NOW)
    with store.read() as conn:
        assert repo.newest_definition(conn)["version"] == 3  # type: ignore[index]


# --- concurrency ----------------------------------------------------------------------------


def test_two_engines_with_the_same_version_one_wins(
    engine: Engine, store: Store, directory: Directory
) -> None:
    key = add_proposal(engine, NOW)
    other = Engine(store, directory)
    seen = row(engine, key)["row_version"]
    engine.advance(key, "submit", actor="koordination", now=NOW, expected_version=seen)
    with pytest.raises(ConcurrentUpdate) as info:
        other.advance(key, "withdraw", actor="koordination", now=LATER, expected_version=seen,
                      fields={"reason": "x"})  # fmt: skip
    assert info.value.exit_code == 1 and info.value.state == "proposed"
    assert info.value.actor == "koordination"
    r = row(engine, key)
    assert (r["state"], r["row_version"], r["history_seq"]) == ("proposed", seen + 1, 2)


class _SignallingMachines(Machines):
    """Machines that tell the test when the engine has read its proposal row."""

    def __init__(self, read: threading.Event) -> None:
        super().__init__()
        self.read = read

    def get(self, conn: Connection, definition_id: int) -> Any:
        self.read.set()
        return super().get(conn, definition_id)


def test_two_concurrent_writers_on_postgresql_no_lost_update(
    engine: Engine, store: Store, directory: Directory, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE; see the test above")
    key = add_proposal(engine, NOW)
    b_read, a_wrote = threading.Event(), threading.Event()

    class HoldUntilBHasRead(Effect):
        def on_transition(self, batch: Batch) -> None:
            a_wrote.set()
            assert b_read.wait(10), "B never read the row"

    a = Engine(store, directory, effects=[HoldUntilBHasRead()])
    b = Engine(store, directory, machines=_SignallingMachines(b_read))
    outcome: dict[str, Any] = {}

    def run_b() -> None:
        assert a_wrote.wait(10)
        try:
            outcome["b"] = b.advance(key, "withdraw", actor="koordination", now=LATER,
                                     fields={"reason": "B"})  # fmt: skip
        except Exception as exc:
            outcome["b"] = exc

    thread = threading.Thread(target=run_b)
    thread.start()
    outcome["a"] = a.advance(key, "submit", actor="koordination", now=NOW)
    thread.join(20)
    assert not thread.is_alive()
    # A won; B read the same version and was refused instead of overwriting A
    assert isinstance(outcome["a"], Applied)
    assert isinstance(outcome["b"], ConcurrentUpdate), outcome["b"]
    r = row(engine, key)
    assert (r["state"], r["row_version"]) == ("proposed", 2)
    assert [e["trigger"] for e in entries(engine, key)] == ["create", "submit"]


# --- atomicity --------------------------------------------------------------------------------


class Boom(RuntimeError):
    pass


class Exploding(Effect):
    def on_transition(self, batch: Batch) -> None:
        raise Boom("the effect failed half-way")


def test_a_failing_effect_leaves_nothing_behind(
    engine: Engine, store: Store, directory: Directory
) -> None:
    key = add_proposal(engine, NOW)
    keys = [key, add_proposal(engine, NOW)]
    before = {k: snapshot(engine, k) for k in keys}
    with store.read() as conn:
        count_before = conn.execute(select(func.count()).select_from(history)).scalar_one()
    crashing = Engine(store, directory, effects=[Exploding()])
    with pytest.raises(Boom):
        crashing.advance(key, "submit", actor="koordination", now=LATER)
    with pytest.raises(Boom):
        crashing.advance_many("submit", keys=keys, actor="koordination", now=LATER)
    assert {k: snapshot(engine, k) for k in keys} == before
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(history)).scalar_one() == count_before
    # and the same proposal advances normally afterwards
    assert engine.advance(key, "submit", actor="koordination", now=LATER).seq == 2


def test_row_version_and_chain_advance_with_every_write(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    now = walk_to(engine, key, "consultation", NOW)
    prepare(engine, key, "close_consultation", now)
    engine.advance(key, "close_consultation", actor="koordination", now=now)
    r = row(engine, key)
    with engine.store.read() as conn:
        rows = list(conn.execute(select(history).where(history.c.chain == key)
                                 .order_by(history.c.seq)).mappings())  # fmt: skip
    assert [h["seq"] for h in rows] == list(range(1, len(rows) + 1))
    assert r["row_version"] == len(rows) == r["history_seq"]
    assert r["history_head"] == rows[-1]["hash"]
    assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(rows))


def test_a_bulk_advance_pauses_the_collector_only_while_it_runs(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    keys = [add_proposal(engine, NOW) for _ in range(3)]
    seen: list[bool] = []
    real = repo.write_changes  # every history entry of a command is written here

    def spy(
        conn: Connection, params: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]
    ) -> int:
        seen.append(gc.isenabled())
        return real(conn, params, rows)

    monkeypatch.setattr(repo, "write_changes", spy)
    engine.advance_many("submit", keys=keys, actor="koordination", now=NOW)
    assert seen == [False] and gc.isenabled()
    # refused (all or nothing): collection is back on after the failure, too
    with pytest.raises(TransitionNotAllowed):
        engine.advance_many("approve", keys=keys, actor="koordination", now=NOW)
    assert gc.isenabled()
    # a single advance leaves the collector alone
    seen.clear()
    engine.advance(keys[0], "open_consultation", actor="koordination", now=NOW)
    assert seen == [True]
