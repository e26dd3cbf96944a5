"""Correcting a proposal (#27.5): ``ruhrflow proposal edit`` on SQLite and PostgreSQL.

Every edit is one history entry with the old and the new value of each field it changed,
checked as at creation, permitted by the definition (``permissions.edit``, default: the
coordinator)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NOW
from support import Cli, add_proposal, walk_to

from workflow.engine.engine import Engine
from workflow.errors import ConcurrentUpdate
from workflow.store import repo


@pytest.fixture
def run(database_url: str) -> Cli:
    return Cli(database_url, now="2019-08-20T10:00")


def test_a_missing_cost_estimate_is_added_and_the_proposal_moves_on(
    run: Cli, engine: Engine
) -> None:
    # Given a proposal in the ministry's review without a cost estimate: it cannot go on
    key = add_proposal(engine, NOW, key="RK-03-94", cost=None)
    walk_to(engine, key, "ministry_review", NOW)
    blocked = run("advance", key, "submit_to_cabinet", code=1)
    assert "cost_estimated" in blocked.stderr
    # when the coordinator adds it
    done = run.json("proposal", "edit", key, "--set", "cost_estimate=1250000.50",
                    "--comment", "Kostenschätzung des Ressorts nachgetragen")  # fmt: skip
    # then the history keeps the old and the new value, and the proposal can move on
    assert done["changes"] == {"cost_estimate": {"old": None, "new": "1250000.50"}}
    entry = run.json("history", key, actor=None)[-1]
    assert (entry["kind"], entry["trigger"], entry["actor"]) == ("edit", "edit", "koordination")
    assert entry["data"]["changes"] == done["changes"]
    assert entry["comment"] == "Kostenschätzung des Ressorts nachgetragen"
    assert run.json("proposal", "show", key, actor=None)["cost_estimate"] == "1250000.50"
    run("advance", key, "submit_to_cabinet")
    assert "ok:" in run("audit", "verify", actor=None).stdout


def test_several_fields_at_once_only_the_changed_ones_recorded(run: Cli, engine: Engine) -> None:
    key = add_proposal(engine, NOW, key="RK-03-95", title="Radweg (Testdaten)")
    done = run.json("proposal", "edit", key, "--set", "title=Radschnellweg (Testdaten)",
                    "--set", "participating=FM, VM", "--set", "handlungsfeld=3")  # fmt: skip
    assert done["changes"] == {
        "title": {"old": "Radweg (Testdaten)", "new": "Radschnellweg (Testdaten)"},
        "participating": {"old": [], "new": ["FM", "VM"]},
    }
    shown = run.json("proposal", "show", key, actor=None)
    assert shown["title"] == "Radschnellweg (Testdaten)" and shown["participating"] == ["FM", "VM"]


@pytest.mark.parametrize(
    ("assignment", "fragment"),
    [
        ("state=approved", "cannot edit 'state'"),
        ("title=\u200b", "title must not be empty"),
        ("cost_estimate=1_000", "cost_estimate"),
        ("participating=XX", "unknown participating ministry 'XX'"),
        ("participating=IM", "IM is the lead ministry"),
        ("handlungsfeld=9", "handlungsfeld must be one of 1, 2, 3, 4, 5"),
        ("handlungsfeld=٣", "not a whole number"),
        ("title", "--set takes FIELD=VALUE"),
        ("title=Zentrale Sicherheitskooperation Ruhr (Testdaten)", "nothing changes"),
    ],
)
def test_a_bad_edit_is_one_line_and_changes_nothing(
    run: Cli, engine: Engine, assignment: str, fragment: str
) -> None:
    key = add_proposal(engine, NOW, key="RK-03-96", title="Zentrale Sicherheitskooperation"
                       " Ruhr (Testdaten)")  # fmt: skip
    before = run.json("history", key, actor=None)
    refused = run("proposal", "edit", key, "--set", assignment, code=2)
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], lines
    assert run.json("history", key, actor=None) == before


def test_only_whom_the_definition_allows_may_edit(run: Cli, engine: Engine) -> None:
    key = add_proposal(engine, NOW, key="RK-03-97")
    for actor in ("im", "forum-03", "pruefung"):
        refused = run("proposal", "edit", key, "--set", "summary=Neu", actor=actor, code=1)
        assert "needs coordinator" in refused.stderr
    assert len(run.json("history", key, actor=None)) == 1


def _row(engine: Engine, key: str) -> Any:
    with engine.store.read() as conn:
        return repo.load_proposal(conn, key)


def test_an_edit_against_a_version_changed_since_is_refused_and_writes_nothing(
    engine: Engine,
) -> None:
    # Given a proposal whose form showed version v, corrected since by somebody else
    key = add_proposal(engine, NOW, key="RK-03-97", title="Radweg (Testdaten)")
    shown = _row(engine, key)["row_version"]
    engine.edit_proposal(key, {"title": "Radweg Nord (Testdaten)"}, actor="koordination", now=NOW)
    # when the form is sent with the version it showed
    with pytest.raises(ConcurrentUpdate):
        engine.edit_proposal(key, {"title": "Radweg Süd (Testdaten)"}, actor="koordination",
                             now=NOW, expected_version=shown)  # fmt: skip
    # then nothing of it was written; with the version now shown it goes through
    row = _row(engine, key)
    assert row["title"] == "Radweg Nord (Testdaten)"
    engine.edit_proposal(key, {"title": "Radweg Süd (Testdaten)"}, actor="koordination",
                         now=NOW, expected_version=row["row_version"])  # fmt: skip
    assert _row(engine, key)["title"] == "Radweg Süd (Testdaten)"
