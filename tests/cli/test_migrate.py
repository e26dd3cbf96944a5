"""Changing the process while proposals run (#16): versions, the plan, apply and revert.

Through the CLI on SQLite and PostgreSQL, with a fixed now. Version 4 of the test is the
shipped version 3 with the state ``ministry_review`` renamed ``ressortpruefung`` and a
consultation of 28 days instead of 21.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import DEFINITION, NOW
from sqlalchemy import func, select
from support import Cli, add_proposal, definition_next_version, walk_to

from workflow.engine.engine import Engine
from workflow.store.schema import deadlines, history, outbox, proposals

LATER = "2019-09-02T10:00"


def one_error_line(result: Result, *fragments: str) -> str:
    """The only stderr line: it starts with ``error:`` and names every fragment."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def run(database_url: str) -> Cli:
    return Cli(database_url, now=LATER)


@pytest.fixture
def v4(tmp_path: Path) -> Path:
    return definition_next_version(tmp_path)


@pytest.fixture
def running(engine: Engine) -> dict[str, str]:
    """Given proposals in consultation, ministry review and cabinet (all on version 3)."""
    keys = {
        "consultation": add_proposal(engine, NOW, key="RK-03-11"),
        "ministry_review": add_proposal(engine, NOW, key="RK-03-12"),
        "cabinet": add_proposal(engine, NOW, key="RK-03-13"),
    }
    for state, key in keys.items():
        walk_to(engine, key, state, NOW)
    return keys


def count(engine: Engine, table: Any) -> int:
    with engine.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def open_deadlines(engine: Engine, key: str) -> list[tuple[str, str, datetime]]:
    """(kind, state, due_at) of the open deadlines of ``key``."""
    with engine.store.read() as conn:
        rows = conn.execute(
            select(deadlines.c.kind, deadlines.c.state, deadlines.c.due_at)
            .join(proposals, proposals.c.id == deadlines.c.proposal_id)
            .where(proposals.c.key == key, deadlines.c.status == "open")
        ).all()
    return [(r.kind, r.state, r.due_at) for r in rows]


# --- 1. versions ---------------------------------------------------------------------------


def test_init_registers_a_new_version_and_new_proposals_start_on_it(
    run: Cli, engine: Engine, v4: Path
) -> None:
    # Given a proposal on version 3, when version 4 is registered and a proposal is added
    old = add_proposal(engine, NOW, key="RK-03-21")
    assert "version 4 registered" in run("init", "--definition", str(v4), actor=None).stdout
    run("proposal", "add", "--key", "RK-03-22", "--title", "Neues Vorhaben", "--handlungsfeld",
        "3", "--forum", "3", "--lead", "IM")  # fmt: skip
    # then show and list carry version and hash; the new one starts on version 4
    shown = run.json("proposal", "show", "RK-03-22", actor=None)
    assert shown["definition_version"] == 4 and len(shown["definition_hash"]) == 64
    assert run.json("proposal", "show", old, actor=None)["definition_version"] == 3
    on_old = run.json("proposal", "list", "--definition-version", "3", actor=None)
    assert [r["key"] for r in on_old] == [old]
    assert {r["definition_version"] for r in run.json("proposal", "list", actor=None)} == {3, 4}
    csv_text = run("proposal", "list", "--format", "csv", actor=None).stdout
    assert "definition_version,definition_hash" in csv_text.splitlines()[0]
    assert f",4,{shown['definition_hash']}" in csv_text
    table = run("proposal", "list", "--definition-version", "4", actor=None).stdout
    assert "DEF" in table.splitlines()[0] and "RK-03-22" in table and old not in table
    assert "version 4 (" in run("proposal", "show", "RK-03-22", actor=None).stdout


def test_a_changed_file_under_a_registered_number_is_refused(run: Cli, tmp_path: Path) -> None:
    # Given version 3 registered, when a changed file claims version 3, then init refuses it
    changed = tmp_path / "changed.yaml"
    changed.write_text(DEFINITION.read_text(encoding="utf-8") + "\n# changed\n", "utf-8")
    result = run("init", "--definition", str(changed), actor=None, code=1)
    one_error_line(result, "version 3 is registered with other content")


def test_a_definition_that_does_not_lint_is_bad_input(run: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = DEFINITION.read_text(encoding="utf-8").replace("version: 3\n", "version: 5\n")
    broken.write_text(text.replace("to: approved", "to: genehmigt", 1), "utf-8")
    result = run("init", "--definition", str(broken), actor=None, code=2)
    one_error_line(result, "broken.yaml:", "unknown state 'genehmigt'")


def test_unknown_version_filter_is_bad_input(run: Cli) -> None:
    result = run("proposal", "list", "--definition-version", "9", actor=None, code=2)
    one_error_line(result, "unknown definition version 9", "registered: 3")


def test_definition_diff_between_versions_and_files(run: Cli, v4: Path) -> None:
    # Given version 4 registered, when version 3 and 4 are compared (numbers or files)
    run("init", "--definition", str(v4), actor=None)
    by_number = run.json("definition", "diff", "3", "4", actor=None)
    by_file = run.json("definition", "diff", str(DEFINITION), str(v4), actor=None)
    # then both name the renamed state, the moved transitions and the changed deadlines
    assert by_number == by_file
    changes = {(c["category"], c["item"], c["change"]) for c in by_number["changes"]}
    assert ("states", "ministry_review", "removed") in changes
    assert ("states", "ressortpruefung", "added") in changes
    assert ("transitions", "close_consultation", "changed") in changes
    assert ("deadlines", "consultation", "changed") in changes
    assert by_number["old"]["version"] == 3 and by_number["new"]["version"] == 4
    detail = next(c["detail"] for c in by_number["changes"] if c["item"] == "consultation")
    assert detail == "after: 21d → 28d"
    table = run("definition", "diff", "3", str(v4), actor=None).stdout
    assert "ressortpruefung" in table.splitlines()[2] and "added" in table
    same = run("definition", "diff", "3", str(DEFINITION), actor=None).stdout
    assert same.startswith("no difference")


def test_definition_diff_of_an_unknown_version_is_bad_input(run: Cli) -> None:
    one_error_line(run("definition", "diff", "3", "7", actor=None, code=2), "version 7")
    huge = "99999999999999999999"
    one_error_line(run("definition", "diff", huge, "3", actor=None, code=2), f"version {huge}")


# --- 2. the plan ----------------------------------------------------------------------------


def test_plan_refuses_an_occupied_state_without_target(
    run: Cli, engine: Engine, running: dict[str, str], v4: Path
) -> None:
    # Given a proposal in ministry_review, which version 4 no longer has
    run("init", "--definition", str(v4), actor=None)
    # when the plan names no target for it, then the plan is refused as a whole
    result = run("migrate", "plan", "--to", "4", actor=None, code=2)
    one_error_line(result, "'ministry_review'", "1 proposal(s)", "--map ministry_review=")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--to", "9"), ("unknown definition version 9",)),
        (("--to", "99999999999999999999"), ("unknown definition version 9999",)),
        (("--to", "4", "--map", "ministry_review=nowhere"), ("no state 'nowhere'",)),
        (("--to", "4", "--map", "ministry_review"), ("--map expects OLD=NEW",)),
        (("--to", "4", "--map", "=x"), ("--map expects OLD=NEW",)),
        (("--to", "4", "--map", "nothing=idea"), ("no version has a state 'nothing'",)),
        (("--to", "4", "--set", "nofield=1"), ("unknown field 'nofield'",)),
        (("--to", "x"), ("--to",)),
        (("--to", "4", "--where", "stat=idea"), ("state=S",)),
    ],
)
def test_plan_bad_input_is_one_line_and_exit_2(
    run: Cli, running: dict[str, str], v4: Path, args: tuple[str, ...],
    fragments: tuple[str, ...],
) -> None:  # fmt: skip
    run("init", "--definition", str(v4), actor=None)
    one_error_line(run("migrate", "plan", *args, actor=None, code=2), *fragments)


def test_plan_lists_every_proposal_and_writes_nothing(
    run: Cli, engine: Engine, running: dict[str, str], v4: Path
) -> None:
    # Given three running proposals and version 4
    run("init", "--definition", str(v4), actor=None)
    before = (count(engine, history), count(engine, deadlines), count(engine, outbox))
    # when the plan maps the renamed state
    plan = run.json("migrate", "plan", "--to", "4", "--map", "ministry_review=ressortpruefung",
                    actor=None)  # fmt: skip
    # then every proposal is listed with its move, the deadlines it closes and opens
    by_key = {p["key"]: p for p in plan["proposals"]}
    assert plan["to_version"] == 4 and len(plan["to_hash"]) == 64
    review = by_key[running["ministry_review"]]
    assert (review["from_version"], review["from_state"], review["to_state"]) == (
        3, "ministry_review", "ressortpruefung",
    )  # fmt: skip
    assert review["can_move"] and review["reasons"] == []
    consultation = by_key[running["consultation"]]
    assert consultation["to_state"] == "consultation"
    assert consultation["closes"] == ["consultation"]
    # the consultation keeps its start: 28 days after it was opened, at 09:00 Berlin
    (opening,) = consultation["opens"]
    assert opening["kind"] == "consultation"
    ((_, _, old_due),) = open_deadlines(engine, running["consultation"])
    assert datetime.fromisoformat(opening["due_at"]) - old_due == timedelta(days=7)
    assert by_key[running["cabinet"]]["closes"] == [] and by_key[running["cabinet"]]["can_move"]
    # and nothing was written
    assert (count(engine, history), count(engine, deadlines), count(engine, outbox)) == before
    table = run("migrate", "plan", "--to", "4", "--map", "ministry_review=ressortpruefung",
                actor=None).stdout  # fmt: skip
    assert "ministry_review → ressortpruefung" in table
    assert "3 proposal(s) to version 4: 3 can move, 0 cannot" in table


def test_plan_needs_the_fields_the_target_state_requires(
    run: Cli, running: dict[str, str], v4: Path
) -> None:
    # Given version 4, when the ministry review is mapped onto `approved` (which every way
    # in requires a decision_date) without the field, then that proposal cannot move
    run("init", "--definition", str(v4), actor=None)
    key = running["ministry_review"]
    plan = run.json("migrate", "plan", "--to", "4", "--map", "ministry_review=approved", key,
                    actor=None)  # fmt: skip
    (item,) = plan["proposals"]
    assert not item["can_move"]
    assert "missing field decision_date" in item["reasons"][0]
    # and with --set it can
    plan = run.json("migrate", "plan", "--to", "4", "--map", "ministry_review=approved",
                    "--set", "decision_date=2019-11-05", key, actor=None)  # fmt: skip
    assert plan["proposals"][0]["can_move"]


def test_plan_selects_by_state(run: Cli, running: dict[str, str], v4: Path) -> None:
    run("init", "--definition", str(v4), actor=None)
    plan = run.json("migrate", "plan", "--to", "4", "--where", "state=cabinet", actor=None)
    assert [p["key"] for p in plan["proposals"]] == [running["cabinet"]]


# --- 3. apply --------------------------------------------------------------------------------


def test_only_a_coordinator_may_migrate(run: Cli, running: dict[str, str], v4: Path) -> None:
    run("init", "--definition", str(v4), actor=None)
    result = run("migrate", "apply", "--to", "4", "--map", "ministry_review=ressortpruefung",
                 actor="im", code=1)  # fmt: skip
    one_error_line(result, "im may not migrate proposals", "needs coordinator")


def test_apply_is_all_or_nothing_unless_partial(
    run: Cli, engine: Engine, running: dict[str, str], v4: Path
) -> None:
    # Given a plan in which one proposal cannot move (approved needs a decision_date)
    run("init", "--definition", str(v4), actor=None)
    args = ("migrate", "apply", "--to", "4", "--map", "ministry_review=approved")
    before = count(engine, history)
    # when it is applied, then nothing moves
    result = run(*args, code=1)
    one_error_line(result, running["ministry_review"], "missing field decision_date")
    assert count(engine, history) == before
    assert run.json("proposal", "list", "--definition-version", "4", actor=None) == []
    # and with --partial the others move, the refused one is named, exit 1
    result = run(*args, "--partial", code=1)
    assert "migrated 2 to version 4, refused 1" in result.stdout
    assert f"refused {running['ministry_review']}:" in result.stderr
    on_new = run.json("proposal", "list", "--definition-version", "4", actor=None)
    assert sorted(r["key"] for r in on_new) == sorted([running["consultation"], running["cabinet"]])


def test_apply_records_the_migration_re_derives_deadlines_and_can_be_reverted(
    run: Cli, engine: Engine, running: dict[str, str], v4: Path
) -> None:
    # Given three running proposals and version 4
    run("init", "--definition", str(v4), actor=None)
    review, consultation = running["ministry_review"], running["consultation"]
    ((kind, _, due_21),) = open_deadlines(engine, consultation)
    assert kind == "consultation"
    notices_before = count(engine, outbox)
    # when the migration is applied
    out = run.json("migrate", "apply", "--to", "4", "--map", "ministry_review=ressortpruefung",
                   "--comment", "Ressortprüfung umbenannt")  # fmt: skip
    # then every proposal is on version 4, the renamed state holds the review
    assert {a["key"] for a in out["applied"]} == set(running.values()) and out["refused"] == []
    shown = run.json("proposal", "show", review, actor=None)
    assert (shown["state"], shown["definition_version"]) == ("ressortpruefung", 4)
    # each has a migration entry naming versions, hashes, states and the actor
    last = run.json("history", review, actor=None)[-1]
    assert last["kind"] == "migration" and last["trigger"] == "migrate"
    assert (last["from_state"], last["to_state"], last["actor"]) == (
        "ministry_review", "ressortpruefung", "koordination",
    )  # fmt: skip
    assert last["comment"] == "Ressortprüfung umbenannt"
    assert (last["data"]["from_version"], last["data"]["to_version"]) == (3, 4)
    assert last["data"]["to_hash"] == shown["definition_hash"]
    assert last["data"]["from_hash"] != last["data"]["to_hash"]
    # the deadlines come from version 4's rules: the consultation now lasts 28 days
    ((kind, state, due_28),) = open_deadlines(engine, consultation)
    assert (kind, state) == ("consultation", "consultation")
    assert (due_28 - due_21).days == 7
    assert [(k, s) for k, s, _ in open_deadlines(engine, review)] == [
        ("kabinettvorlage", "ressortpruefung")
    ]
    # a migration tells nobody, and the audit trail stays whole
    assert count(engine, outbox) == notices_before
    assert run("audit", "verify", actor=None).stdout.startswith("ok:")
    # the process goes on under version 4
    run("advance", review, "submit_to_cabinet")
    # when the migration is reverted by a migration back to version 3
    run("migrate", "apply", "--to", "3", "--map", "ressortpruefung=ministry_review",
        running["consultation"], now="2019-09-03T10:00")  # fmt: skip
    # then the proposal is on version 3 again with its 21-day consultation
    back = run.json("proposal", "show", consultation, actor=None)
    assert back["definition_version"] == 3
    assert open_deadlines(engine, consultation) == [("consultation", "consultation", due_21)]
    assert run("audit", "verify", actor=None).stdout.startswith("ok:")


def test_revert_maps_the_renamed_state_back(
    run: Cli, engine: Engine, running: dict[str, str], v4: Path
) -> None:
    run("init", "--definition", str(v4), actor=None)
    review = running["ministry_review"]
    run("migrate", "apply", "--to", "4", "--map", "ministry_review=ressortpruefung", review)
    # version 3 has no `ressortpruefung`: going back without a map is refused
    one_error_line(
        run("migrate", "apply", "--to", "3", review, code=2), "'ressortpruefung'", "1 proposal"
    )
    run("migrate", "apply", "--to", "3", "--map", "ressortpruefung=ministry_review", review)
    shown = run.json("proposal", "show", review, actor=None)
    assert (shown["state"], shown["definition_version"]) == ("ministry_review", 3)
    kinds = [e["kind"] for e in run.json("history", review, actor=None)]
    assert kinds[-2:] == ["migration", "migration"]
    assert open_deadlines(engine, review)[0][:2] == ("kabinettvorlage", "ministry_review")


def test_a_proposal_on_the_target_version_is_not_migrated_again(
    run: Cli, running: dict[str, str], v4: Path
) -> None:
    run("init", "--definition", str(v4), actor=None)
    key = running["cabinet"]
    run("migrate", "apply", "--to", "4", key)
    # named again, it cannot move; unnamed, it is not selected
    result = run("migrate", "apply", "--to", "4", key, code=1)
    one_error_line(result, "already on version 4")
    plan = run.json("migrate", "plan", "--to", "4", "--map", "ministry_review=ressortpruefung",
                    actor=None)  # fmt: skip
    assert key not in {p["key"] for p in plan["proposals"]}


# --- 5. stuck proposals -------------------------------------------------------------------


def test_report_stuck_lists_proposals_without_a_transition_for_n_days(
    run: Cli, engine: Engine, running: dict[str, str]
) -> None:
    # Given three proposals last moved on 15 Jul 2019 and one moved on 1 Sep 2019
    moved = add_proposal(engine, NOW, key="RK-03-31")
    run("advance", moved, "submit", now="2019-09-01T10:00")
    # when the stuck report runs on 2 Sep with --days 30
    rows = run.json("report", "stuck", "--days", "30", actor=None)
    # then the three are listed with the full days since their last transition (the walk
    # ended at 14:00 on 15 Jul: 48 days and 20 hours); the fresh one is not
    by_key = {r["key"]: r for r in rows}
    assert set(by_key) == set(running.values())
    cabinet = by_key[running["cabinet"]]
    assert (cabinet["state"], cabinet["definition_version"], cabinet["days"]) == ("cabinet", 3, 48)
    assert cabinet["reason"] == "no transition for 48 days"
    # with --days 60 nobody is stuck yet
    assert run.json("report", "stuck", "--days", "60", actor=None) == []
    assert run("report", "stuck", "--days", "60", actor=None).stdout.startswith("no proposal")
    table = run("report", "stuck", actor=None).stdout
    assert running["cabinet"] in table and moved not in table
    one_error_line(run("report", "stuck", "--days", "0", actor=None, code=2), "--days")


def test_a_state_no_transition_leaves_is_stuck_at_once() -> None:
    # Given a version whose `cabinet` has lost every way out (the linter refuses such a file;
    # built here without it, as an old or careless registration could have left it)
    from dataclasses import replace

    from workflow.audit.reports import stuck_reason
    from workflow.process.definition import load_definition

    shipped = load_definition(DEFINITION)
    dead_end = replace(
        shipped, transitions=tuple(t for t in shipped.transitions if "cabinet" not in t.sources)
    )
    # then a proposal there is stuck on day 0; a final state and a fresh state are not
    assert stuck_reason(dead_end, "cabinet", 0, 30) == "no transition leaves 'cabinet' in version 3"
    assert stuck_reason(dead_end, "completed", 400, 30) is None
    assert stuck_reason(shipped, "cabinet", 29, 30) is None
    assert stuck_reason(shipped, "cabinet", 30, 30) == "no transition for 30 days"
    assert stuck_reason(shipped, "gone", 0, 30) == "state 'gone' is not in version 3"


# --- 4. notices declared in the definition ------------------------------------------------


def recipients_of(engine: Engine, key: str, seq: int) -> list[str]:
    """The addresses of the status_change notice of history entry ``seq`` of ``key``."""
    with engine.store.read() as conn:
        found = conn.execute(
            select(outbox.c.recipients).where(
                outbox.c.idempotency_key == f"transition:{key}:{seq}:status_change"
            )
        ).scalar_one()
    return sorted(r["address"] for r in found)


def test_a_new_version_routes_a_notice_differently_and_a_migration_applies_it(
    run: Cli, engine: Engine, tmp_path: Path
) -> None:
    # Given a version 4 that tells only the coordination office when a proposal is submitted
    text = DEFINITION.read_text(encoding="utf-8").replace("version: 3\n", "version: 4\n", 1)
    rule = (
        "  - event: transition\n    trigger: submit\n    template: status_change\n"
        "    to: [coordinator]\n"
    )
    text = text.replace("notices:\n", "notices:\n" + rule, 1)
    v4 = tmp_path / "v4.yaml"
    v4.write_text(text, encoding="utf-8")
    first, second = add_proposal(engine, NOW, key="RK-03-41"), add_proposal(engine, NOW)
    run("init", "--definition", str(v4), actor=None)
    # when one proposal is submitted on version 3, the other after its migration to version 4
    run("advance", first, "submit")
    run("migrate", "apply", "--to", "4", second)
    run("advance", second, "submit")
    # then version 3 told the lead and participating ministries, version 4 the coordinators
    # (the history: #1 created, #2 submitted; #2 migrated, #3 submitted)
    assert recipients_of(engine, first, 2) == ["ruhr-konferenz@im.nrw.example"]
    assert recipients_of(engine, second, 3) == ["koordination@ruhrkonferenz.nrw.example"]
    diff = run.json("definition", "diff", "3", "4", actor=None)["changes"]
    assert {"category": "notices", "item": "transition:submit:status_change",
            "change": "added", "detail": ""} in diff  # fmt: skip


def test_apply_where_a_state_holds_nobody_is_bad_input(
    run: Cli, running: dict[str, str], v4: Path
) -> None:
    run("init", "--definition", str(v4), actor=None)
    result = run("migrate", "apply", "--to", "4", "--where", "state=budget", code=2)
    one_error_line(result, "no proposal in state 'budget' to migrate to version 4")


def test_a_migration_in_chunks_is_still_one_transaction(engine: Engine, v4: Path) -> None:
    # Given more proposals than one chunk (500), the last of which cannot move: its state is
    # mapped onto `approved`, which needs a decision_date it does not have
    from workflow.app.bootstrap import register_definition
    from workflow.engine.intake import ProposalInput
    from workflow.errors import TransitionNotAllowed
    from workflow.process.definition import load_definition
    from workflow.store.direct import CHUNK

    item = ProposalInput(title="Stapeltest", handlungsfeld=2, themenforum=12, lead="IM")
    keys = engine.create_proposals([item] * (CHUNK + 50), actor="koordination", now=NOW)
    last = add_proposal(engine, NOW, key="RK-99-01")
    walk_to(engine, last, "ministry_review", NOW)
    register_definition(engine.store, load_definition(v4), NOW)
    options: dict[str, Any] = {
        "to_version": 4, "state_map": {"ministry_review": "approved"}, "raw_fields": {},
        "keys": None, "where_state": None, "deadline_setting": {},
    }  # fmt: skip
    entries = count(engine, history)
    # when it is applied, all or nothing, then the refusal in the second chunk undoes the first
    with pytest.raises(TransitionNotAllowed, match="missing field decision_date"):
        engine.migrate(actor="koordination", now=NOW, **options)
    assert count(engine, history) == entries
    with engine.store.read() as conn:
        on_old = conn.execute(select(func.count()).select_from(proposals)).scalar_one()
    # and with partial, every other proposal moves, each with one migration entry
    _, result = engine.migrate(actor="koordination", now=NOW, partial=True, **options)
    assert result.planned == on_old and len(result.moved) == on_old - 1
    assert [key for key, _ in result.refused] == [last]
    assert {m.key for m in result.moved} >= set(keys)
    assert count(engine, history) == entries + on_old - 1
