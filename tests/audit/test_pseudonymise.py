"""GDPR erasure: the person behind the refs is replaced, history and its proof stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import NOW
from sqlalchemy import select
from support import add_proposal, erase, walk_to

from workflow.audit import verify_store
from workflow.audit.log import audit_log
from workflow.engine.engine import Engine
from workflow.errors import InvalidInput, PermissionDenied
from workflow.store.schema import actor_refs, history

LATER = NOW + timedelta(days=30)


def _all_history(engine: Engine) -> list[dict[str, object]]:
    with engine.store.read() as conn:
        stmt = select(history).where(history.c.chain != "@system").order_by(history.c.id)
        return [dict(r) for r in conn.execute(stmt).mappings()]


def test_pseudonymisation_keeps_history_and_verify_green(engine: Engine) -> None:
    # given a proposal the lead ministry "im" reported progress on
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "completed", NOW)
    before = _all_history(engine)
    # when the coordination office pseudonymises "im"
    done = erase(engine, "im", now=LATER)
    # then no history row changed, every chain verifies, and the log shows the pseudonym
    assert _all_history(engine) == before
    assert verify_store(engine.store, key=None).ok
    assert done.pseudonym.startswith("pseudonym-") and done.refs == 1
    with engine.store.read() as conn:
        entries = list(audit_log(conn, key=key))
        by_trigger = {e["trigger"]: e["actor"] for e in entries}
        assert by_trigger["report_progress"] == done.pseudonym
        assert by_trigger["submit"] == "koordination"
        assert not list(audit_log(conn, actor="im"))
        assert [e["trigger"] for e in audit_log(conn, actor=done.pseudonym)] == ["report_progress"]
        refs = conn.execute(select(actor_refs).where(actor_refs.c.actor_id == done.pseudonym))
        assert all(r.pseudonymised_at == LATER for r in refs)
        (system,) = list(audit_log(conn, key="@system"))
    # and the erasure itself is on the system chain, without the person's id
    assert system["kind"] == "pseudonymise" and system["actor"] == "koordination"
    assert system["data"] == {"pseudonym": done.pseudonym, "refs": 1}


def test_later_actions_of_the_same_id_get_a_new_ref(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    later = walk_to(engine, key, "implementation", NOW)
    engine.advance(key, "report_progress", actor="im", now=later, fields={"progress": 10})
    done = erase(engine, "im", now=LATER)
    engine.advance(key, "report_progress", actor="im", now=LATER, fields={"progress": 20})
    with engine.store.read() as conn:
        actors = [e["actor"] for e in audit_log(conn, key=key, trigger="report_progress")]
    assert actors == [done.pseudonym, "im"]
    assert verify_store(engine.store, key=None).ok


def test_only_the_coordination_office_may_pseudonymise(engine: Engine) -> None:
    add_proposal(engine, NOW)
    with pytest.raises(PermissionDenied):
        erase(engine, "koordination", now=LATER, by="pruefung")


def test_pseudonymising_an_unknown_or_erased_actor_is_refused(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "completed", NOW)
    with pytest.raises(InvalidInput, match="no history entry names"):
        erase(engine, "niemand", now=LATER)
    erase(engine, "im", now=LATER)
    with pytest.raises(InvalidInput, match="pseudonymised already"):
        erase(engine, "im", now=LATER)
    assert verify_store(engine.store, key=None).ok
