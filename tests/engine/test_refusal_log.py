"""Every command passes the engine's one unit of work, so every refusal is logged (#28.2).

Creations, edits, deadline moves, erasures and migrations are refused by the definition's
permissions (``permissions.<action>``, defaults in ``workflow/process/formats.py``) and leave
the same log line as a refused transition: actor, action, proposal, reason.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from conftest import NOW
from support import add_proposal, erase

from workflow.app.runtime import Runtime
from workflow.deadlines.move import deadline_move
from workflow.engine.engine import Engine
from workflow.engine.intake import ProposalInput
from workflow.errors import DuplicateProposal, PermissionDenied
from workflow.process.formats import DEFAULT_PERMISSIONS

LATER = NOW + timedelta(days=1)


def refusals(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str | None, str]]:
    return [
        (r.actor, r.trigger, r.proposal, r.reason)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "ruhrflow.engine" and "refused" in r.msg
    ]


def test_a_refused_creation_is_logged(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    # given a proposal RK-03-01
    add_proposal(engine, NOW, key="RK-03-01")
    caplog.set_level(logging.WARNING, logger="ruhrflow.engine")
    item = ProposalInput(key="RK-03-02", title="Radweg", handlungsfeld=3, themenforum=3, lead="IM")
    # when the lead of another Themenforum creates one, and the office creates RK-03-01 again
    with pytest.raises(PermissionDenied, match="forum-04 may not create proposals"):
        engine.create_proposals([item], actor="forum-04", now=LATER)
    with pytest.raises(DuplicateProposal):
        engine.create_proposals(
            [ProposalInput(key="RK-03-01", title="Doppelt", handlungsfeld=3, themenforum=3,
                           lead="IM")],
            actor="koordination", now=LATER,
        )  # fmt: skip
    # then both are in the refusal log, with the key they were refused for
    (forum, duplicate) = refusals(caplog)
    assert forum[:3] == ("forum-04", "create", "RK-03-02") and "Themenforum 3" in forum[3]
    assert duplicate[:3] == ("koordination", "create", "RK-03-01")
    assert "exists already" in duplicate[3]


def test_a_refused_edit_and_move_are_logged(
    runtime: Runtime, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    key = add_proposal(engine, NOW)
    caplog.set_level(logging.WARNING, logger="ruhrflow.engine")
    # when a ministry edits the proposal and moves one of its deadlines (coordinators only)
    with pytest.raises(PermissionDenied, match="mwide may not edit on"):
        engine.edit_proposal(key, {"title": "Neu"}, actor="mwide", now=LATER)
    move = deadline_move(key, "consultation", date(2019, 9, 1), reason="Sitzung", now=LATER)
    with pytest.raises(PermissionDenied, match="mwide may not move a deadline on"):
        engine.execute(key, move, actor="mwide", now=LATER)
    # then both refusals are logged under their action
    logged = refusals(caplog)
    assert [(a, t, k) for a, t, k, _ in logged] == [
        ("mwide", "edit", key),
        ("mwide", "move_deadline", key),
    ]
    assert all("needs coordinator" in reason for *_, reason in logged)


def test_a_refused_erasure_and_migration_are_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    add_proposal(engine, NOW)
    caplog.set_level(logging.WARNING, logger="ruhrflow.engine")
    with pytest.raises(PermissionDenied, match="pruefung may not pseudonymise actors"):
        erase(engine, "koordination", now=LATER, by="pruefung")
    with pytest.raises(PermissionDenied, match="im may not migrate proposals"):
        engine.migrate(actor="im", now=LATER, to_version=3, state_map={}, raw_fields={})
    assert [(a, t, k) for a, t, k, _ in refusals(caplog)] == [
        ("pruefung", "pseudonymise", None),
        ("im", "migrate", None),
    ]


def test_who_may_is_declared_for_every_action_the_engine_checks() -> None:
    # the actions that are no transition and that no format-1 file names have a default
    for action in ("attach_document", "edit", "move_deadline", "migrate", "pseudonymise"):
        assert DEFAULT_PERMISSIONS[action]


def test_permitted_answers_what_the_command_would_check(engine: Engine) -> None:
    # given a proposal of IM's, whose definition names no `edit` (the default: coordinator)
    key = add_proposal(engine, NOW, lead="IM")
    # then the page may offer an edit to the office only, documents also to the lead ministry
    assert engine.permitted(key, "edit", actor="koordination")
    assert not engine.permitted(key, "edit", actor="im")
    assert engine.permitted(key, "attach_document", actor="im")
    assert not engine.permitted(key, "attach_document", actor="mwide")
    # and the command agrees
    with pytest.raises(PermissionDenied):
        engine.edit_proposal(key, {"title": "Neu"}, actor="im", now=LATER)
