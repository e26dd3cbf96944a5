"""The coordinator CLI through click's CliRunner, on SQLite and on PostgreSQL.

Every command gets the test database as ``--db`` and a fixed ``--now``; errors must be
one line on stderr with the right exit code, never a traceback.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import NOW, REPO
from support import CLEAN_ENV, Cli, walk_to

from workflow.cli.main import cli
from workflow.engine.engine import Engine

NOW_TEXT = "2019-07-15T10:00"  # Berlin; conftest.NOW
PROPOSAL_KEYS = {"key", "title", "state", "handlungsfeld", "themenforum", "lead", "version",
                 "cost_estimate"}  # fmt: skip
HISTORY_KEYS = {"seq", "trigger", "from_state", "to_state", "actor", "at", "comment"}
CSV_HEADER = "key,title,handlungsfeld,themenforum,lead,participating,cost_estimate,summary\n"


@pytest.fixture
def run(database_url: str) -> Cli:
    return Cli(database_url)


def one_error_line(result: Result, *fragments: str) -> str:
    """The only stderr line, which starts with ``error:`` and names every fragment."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def add(run: Cli, key: str, *extra: str, lead: str = "IM", forum: str = "3") -> None:
    run("proposal", "add", "--key", key, "--title", f"Vorhaben {key}", "--handlungsfeld", "3",
        "--forum", forum, "--lead", lead, "--cost", "2500000", *extra)  # fmt: skip


def write_csv(path: Path, rows: Sequence[str], *, header: str = CSV_HEADER) -> Path:
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


# --- init ----------------------------------------------------------------------------------


def test_init_is_idempotent(run: Cli) -> None:
    # Given a migrated database with the definition registered (the fixture), when init runs
    # twice, then nothing changes and both runs succeed.
    for _ in range(2):
        out = run("init", actor=None).stdout
        assert "is up to date" in out
        assert "definition ruhr_konferenz version 3 already registered" in out


def test_init_with_import_loads_the_shipped_2019_proposals(run: Cli) -> None:
    csv_path = REPO / "definitions" / "data" / "ruhr_konferenz_2019.csv"
    out = run("init", "--import", str(csv_path)).stdout
    assert "imported 75 proposals" in out
    rows = run.json("proposal", "list", actor=None)
    assert len(rows) == 75
    assert {r["state"] for r in rows} == {"idea"}


# --- proposals -----------------------------------------------------------------------------


def test_proposal_add_list_show_in_every_format(run: Cli) -> None:
    # Given two proposals
    add(run, "RK-03-01", "--participating", "MSB,MAGS", "--summary", "Sicherheit im Revier")
    add(run, "RK-01-01", lead="VM", forum="1")
    # When listed as a table, then both appear with their state
    table = run("proposal", "list", actor=None).stdout.splitlines()
    assert table[0].split()[:3] == ["KEY", "STATE", "HF"]
    assert [line.split()[0] for line in table[1:]] == ["RK-01-01", "RK-03-01"]
    # as JSON, with the keys the issue names
    rows = run.json("proposal", "list", actor=None)
    assert [r["key"] for r in rows] == ["RK-01-01", "RK-03-01"]
    assert all(r.keys() >= PROPOSAL_KEYS for r in rows)
    # as CSV that parses back to the same values
    parsed = list(csv.DictReader(io.StringIO(run("proposal", "list", "--format", "csv").stdout)))
    assert [r["key"] for r in parsed] == ["RK-01-01", "RK-03-01"]
    assert parsed[1]["lead"] == "IM" and parsed[1]["state"] == "idea"
    assert parsed[1]["cost_estimate"] == "2500000.00"
    # filters
    assert [r["key"] for r in run.json("proposal", "list", "--lead", "VM")] == ["RK-01-01"]
    assert run.json("proposal", "list", "--state", "cabinet") == []
    # show as JSON and as text
    detail = run.json("proposal", "show", "RK-03-01", actor=None)
    assert detail.keys() >= PROPOSAL_KEYS
    assert detail["state"] == "idea" and detail["version"] == 1
    assert detail["cost_estimate"] == "2500000.00" and detail["participating"] == ["MSB", "MAGS"]
    text = run("proposal", "show", "RK-03-01", actor=None).stdout
    assert "RK-03-01  Vorhaben RK-03-01" in text and "Sicherheit im Revier" in text


def test_proposal_add_without_key_takes_the_next_free_key_of_the_forum(run: Cli) -> None:
    add(run, "RK-07-01", forum="7")
    out = run("proposal", "add", "--title", "Noch eins", "--handlungsfeld", "2", "--forum", "7",
              "--lead", "MWIDE").stdout  # fmt: skip
    assert out.strip() == "added RK-07-02"


def test_proposal_add_refuses_bad_input(run: Cli) -> None:
    result = run("proposal", "add", "--title", "X", "--handlungsfeld", "3", "--forum", "3",
                 "--lead", "XYZ", code=2)  # fmt: skip
    one_error_line(result, "unknown lead ministry 'XYZ'")
    result = run("proposal", "add", "--title", "X", "--handlungsfeld", "6", "--forum", "3",
                 "--lead", "IM", code=2)  # fmt: skip
    assert "Invalid value for '--handlungsfeld'" in result.stderr
    add(run, "RK-03-01")
    result = run("proposal", "add", "--key", "RK-03-01", "--title", "X", "--handlungsfeld", "3",
                 "--forum", "3", "--lead", "IM", code=1)  # fmt: skip
    one_error_line(result, "RK-03-01", "exists already")


# --- import --------------------------------------------------------------------------------

GOOD_ROWS = [
    "RK-02-01,Gründerallianz,2,2,MWIDE,MKW,5000000,Gründungen fördern",
    'RK-02-02,"Flächen, Flächen",2,2,MWIDE,,,',
    "RK-04-01,Grüne Infrastruktur,4,4,MULNV,MHKBG;VM,12000000.50,Klimaschutz",
]


def test_import_a_good_file(run: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "good.csv", GOOD_ROWS)
    assert run("proposal", "import", str(path)).stdout.strip() == "imported 3 proposals"
    rows = {r["key"]: r for r in run.json("proposal", "list", actor=None)}
    assert set(rows) == {"RK-02-01", "RK-02-02", "RK-04-01"}
    assert rows["RK-02-02"]["title"] == "Flächen, Flächen"
    assert rows["RK-02-02"]["cost_estimate"] is None
    assert rows["RK-04-01"]["participating"] == ["MHKBG", "VM"]
    assert rows["RK-04-01"]["cost_estimate"] == "12000000.50"


def test_import_with_bad_rows_imports_nothing_and_names_every_bad_row(
    run: Cli, tmp_path: Path
) -> None:
    # Given a file whose lines 3 and 5 are bad (line 1 is the header)
    path = write_csv(
        tmp_path / "bad.csv",
        [
            GOOD_ROWS[0],
            "RK-02-09,Falsches Feld,9,2,MWIDE,,,",
            GOOD_ROWS[1],
            "RK-02-10,Unbekanntes Ressort,2,2,XX,,,",
            GOOD_ROWS[2],
        ],
    )
    # When imported, then exit 2, both rows are reported with their line, nothing is imported
    result = run("proposal", "import", str(path), code=2)
    assert f"{path}:3: handlungsfeld must be 1 to 5, not 9" in result.stderr
    assert f"{path}:5: unknown lead ministry 'XX'" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "nothing was imported" in result.stderr
    assert run.json("proposal", "list", actor=None) == []


def test_import_reports_duplicate_keys_in_the_file_and_in_the_database(
    run: Cli, tmp_path: Path
) -> None:
    add(run, "RK-02-01", forum="2")
    path = write_csv(tmp_path / "dup.csv", [GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[1]])
    result = run("proposal", "import", str(path), code=2)
    assert f"{path}:2: proposal RK-02-01 exists already" in result.stderr
    assert f"{path}:4: key RK-02-02 appears again (first on line 3)" in result.stderr
    assert [r["key"] for r in run.json("proposal", "list", actor=None)] == ["RK-02-01"]


def test_import_skip_invalid_imports_the_good_rows(run: Cli, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv", [GOOD_ROWS[0], "RK-02-09,Kaputt,2,zwei,MWIDE,,,", GOOD_ROWS[2]]
    )
    result = run("proposal", "import", str(path), "--skip-invalid")
    assert result.stdout.strip() == "imported 2 proposals, skipped 1"
    assert f"{path}:3: skipped: themenforum 'zwei' is not a whole number" in result.stderr
    keys = [r["key"] for r in run.json("proposal", "list", actor=None)]
    assert keys == ["RK-02-01", "RK-04-01"]


def test_import_refuses_a_file_that_is_not_utf8(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((CSV_HEADER + GOOD_ROWS[0] + "\n").encode("latin-1"))
    one_error_line(run("proposal", "import", str(path), code=2), "not UTF-8")
    assert run.json("proposal", "list", actor=None) == []


def test_import_refuses_missing_columns(run: Cli, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "cols.csv",
        ["RK-02-01,Gründerallianz,2,2,MWIDE"],
        header="key,title,handlungsfeld,themenforum,lead\n",
    )
    one_error_line(
        run("proposal", "import", str(path), code=2),
        "lacks the columns participating, cost_estimate, summary",
    )


def test_import_of_a_missing_file_is_bad_input(run: Cli, tmp_path: Path) -> None:
    one_error_line(run("proposal", "import", str(tmp_path / "nope.csv"), code=2), "nope.csv")


# --- statements, funding -------------------------------------------------------------------


def test_consult_record_and_funding_add(run: Cli, engine: Engine) -> None:
    add(run, "RK-03-01")
    run("advance", "RK-03-01", "submit")
    run("advance", "RK-03-01", "open_consultation")
    out = run("consult", "record", "RK-03-01", "--party", "Stadt Essen", "--group", "kommune",
              "--position", "support", "--text", "Wir sind dafür.").stdout  # fmt: skip
    assert out.strip() == "RK-03-01: statement of Stadt Essen (kommune, support) recorded as #4"
    out = run("funding", "add", "RK-03-01", "--source", "bund", "--amount", "1000000",
              "--year", "2020", "--secured").stdout  # fmt: skip
    assert "1.000.000,00 € bund 2020 (secured) recorded as #5" in out
    detail = run.json("proposal", "show", "RK-03-01", actor=None)
    assert detail["statements"][0]["party"] == "Stadt Essen"
    assert detail["statements"][0]["group"] == "kommune"
    assert detail["funding"] == [
        {"source": "bund", "amount": "1000000.00", "year": 2020, "status": "secured"}
    ]
    assert detail["funding_secured"] == "1000000.00"
    kinds = [e["trigger"] for e in run.json("history", "RK-03-01", actor=None)]
    assert kinds[-2:] == ["record_statement", "add_funding"]


def test_consult_record_outside_the_consultation_is_refused(run: Cli) -> None:
    add(run, "RK-03-01")
    result = run("consult", "record", "RK-03-01", "--party", "IHK Essen", "--group", "ihk",
                 "--position", "neutral", code=1)  # fmt: skip
    one_error_line(result, "statements are recorded in the states consultation, ministry_review")


def test_funding_add_refuses_a_bad_amount(run: Cli) -> None:
    add(run, "RK-03-01")
    for amount in ("viel", "-5", "0"):
        result = run("funding", "add", "RK-03-01", "--source", "land", "--amount", amount,
                     "--year", "2020", code=2)  # fmt: skip
        one_error_line(result)


# --- advance -------------------------------------------------------------------------------


def test_advance_one_proposal_and_its_history(run: Cli) -> None:
    add(run, "RK-03-01")
    out = run("advance", "RK-03-01", "submit", "--comment", "aus dem Themenforum").stdout
    assert out.strip() == "RK-03-01: idea → proposed (submit, #2)"
    history = run.json("history", "RK-03-01", actor=None)
    assert all(e.keys() >= HISTORY_KEYS for e in history)
    assert [(e["seq"], e["trigger"], e["from_state"], e["to_state"]) for e in history] == [
        (1, "create", None, "idea"),
        (2, "submit", "idea", "proposed"),
    ]
    assert history[1]["actor"] == "koordination"
    assert history[1]["comment"] == "aus dem Themenforum"
    assert history[1]["at"] == "2019-07-15T08:00:00Z"
    text = run("history", "RK-03-01", actor=None).stdout
    assert "idea → proposed" in text and "15.07.2019 10:00" in text


def test_advance_with_fields(run: Cli, engine: Engine) -> None:
    add(run, "RK-03-01")

    walk_to(engine, "RK-03-01", "cabinet", NOW)
    cabinet = "2019-11-05T12:00"  # the cabinet cannot have decided tomorrow
    refused = run("advance", "RK-03-01", "approve", "--set", "decision_date=2019-11-06",
                  now=cabinet, code=2)  # fmt: skip
    assert "decision_date: 2019-11-06 lies in the future (today is 2019-11-05)" in refused.output
    run("advance", "RK-03-01", "approve", "--set", "decision_date=2019-11-05", now=cabinet)
    assert run.state("RK-03-01") == "approved"
    detail = run.json("proposal", "show", "RK-03-01", actor=None)
    assert detail["data"]["decision_date"] == "2019-11-05"
    last = run.json("history", "RK-03-01", actor=None)[-1]
    assert last["data"] == {"fields": {"decision_date": "2019-11-05"}}


def test_advance_many_by_key(run: Cli) -> None:
    for key in ("RK-03-01", "RK-03-02", "RK-03-03"):
        add(run, key)
    out = run("advance", "RK-03-01", "RK-03-03", "submit").stdout
    assert "applied 2, refused 0" in out
    states = {r["key"]: r["state"] for r in run.json("proposal", "list", actor=None)}
    assert states == {"RK-03-01": "proposed", "RK-03-02": "idea", "RK-03-03": "proposed"}


def test_advance_where_state(run: Cli) -> None:
    for key in ("RK-03-01", "RK-03-02", "RK-03-03"):
        add(run, key)
    run("advance", "RK-03-02", "submit")
    result = run.json("advance", "--where", "state=idea", "submit")
    assert sorted(a["key"] for a in result["applied"]) == ["RK-03-01", "RK-03-03"]
    assert result["refused"] == []
    assert {r["state"] for r in run.json("proposal", "list", actor=None)} == {"proposed"}
    one_error_line(run("advance", "--where", "state=cabinet", "approve", code=2), "cabinet")


def test_advance_where_needs_state_and_no_keys(run: Cli) -> None:
    add(run, "RK-03-01")
    assert "--where" in run("advance", "--where", "lead=IM", "submit", code=2).stderr
    assert "either KEY" in run("advance", "RK-03-01", "--where", "state=idea", "submit",
                               code=2).stderr  # fmt: skip
    assert "at least one KEY" in run("advance", "submit", code=2).stderr


def test_bulk_advance_is_all_or_nothing(run: Cli) -> None:
    # Given three proposals, one of which is already proposed
    for key in ("RK-03-01", "RK-03-02", "RK-03-03"):
        add(run, key)
    run("advance", "RK-03-02", "submit")
    # When all three are submitted at once, then the one refusal stops all of them
    result = run("advance", "RK-03-01", "RK-03-02", "RK-03-03", "submit", code=1)
    one_error_line(result, "RK-03-02", "'submit'", "'proposed'")
    states = {r["key"]: r["state"] for r in run.json("proposal", "list", actor=None)}
    assert states == {"RK-03-01": "idea", "RK-03-02": "proposed", "RK-03-03": "idea"}
    assert len(run.json("history", "RK-03-01", actor=None)) == 1


def test_bulk_advance_partial_commits_what_it_can(run: Cli) -> None:
    for key in ("RK-03-01", "RK-03-02", "RK-03-03"):
        add(run, key)
    run("advance", "RK-03-02", "submit")
    result = run("advance", "RK-03-01", "RK-03-02", "RK-99-99", "RK-03-03", "submit",
                 "--partial", code=1)  # fmt: skip
    assert "applied 2, refused 2" in result.stdout
    refused = [line for line in result.stderr.splitlines() if line.startswith("refused ")]
    assert len(refused) == 2
    assert any(line.startswith("refused RK-03-02: ") for line in refused)
    assert any(line.startswith("refused RK-99-99: unknown proposal") for line in refused)
    states = {r["key"]: r["state"] for r in run.json("proposal", "list", actor=None)}
    assert states == {"RK-03-01": "proposed", "RK-03-02": "proposed", "RK-03-03": "proposed"}
    as_json = run.json("advance", "RK-03-01", "RK-03-02", "proposed_no", "open_consultation",
                       "--partial", code=1)  # fmt: skip
    assert [a["key"] for a in as_json["applied"]] == ["RK-03-01", "RK-03-02"]
    assert [r["key"] for r in as_json["refused"]] == ["proposed_no"]


def test_a_refused_trigger_names_the_possible_ones(run: Cli) -> None:
    add(run, "RK-03-01")
    result = run("advance", "RK-03-01", "approve", "--set", "decision_date=2019-11-05", code=1)
    one_error_line(result, "no trigger 'approve' in state 'idea'", "possible: submit, withdraw")
    assert run.state("RK-03-01") == "idea"


def test_a_failed_guard_is_exit_1_with_its_reason(run: Cli) -> None:
    add(run, "RK-03-01")
    run("advance", "RK-03-01", "submit")
    run("advance", "RK-03-01", "open_consultation")
    result = run("advance", "RK-03-01", "close_consultation", code=1)
    one_error_line(result, "consultation_complete", "Kommunen, IHK, HWK, Verbände")


# --- triggers ------------------------------------------------------------------------------


def test_triggers_json_names_what_blocks_each_trigger(run: Cli) -> None:
    add(run, "RK-03-01")
    run("advance", "RK-03-01", "submit")
    run("advance", "RK-03-01", "open_consultation")
    run("consult", "record", "RK-03-01", "--party", "Stadt Bochum", "--group", "kommune",
        "--position", "support")  # fmt: skip
    # As the coordinator: close_consultation is blocked by its guard, withdraw by its field
    options = {o["trigger"]: o for o in run.json("triggers", "RK-03-01")}
    assert set(options) == {"close_consultation", "withdraw"}
    for o in options.values():
        assert {"trigger", "target", "can_fire", "blocked_by"} <= o.keys()
    close = options["close_consultation"]
    assert close["target"] == "ministry_review" and close["can_fire"] is False
    assert len(close["blocked_by"]) == 1
    assert "consultation_complete" in close["blocked_by"][0]
    assert "IHK, HWK, Verbände" in close["blocked_by"][0]
    assert "Kommunen" not in close["blocked_by"][0].split(":", 1)[1].split("(")[0]
    withdraw = options["withdraw"]
    assert withdraw["can_fire"] is False
    assert withdraw["blocked_by"] == ["missing field reason (--set reason=…)"]
    # with the field given, withdraw could fire
    given = {o["trigger"]: o for o in run.json("triggers", "RK-03-01", "--set", "reason=x")}
    assert given["withdraw"]["can_fire"] is True and given["withdraw"]["blocked_by"] == []
    # As a ministry: the role blocks
    as_im = {o["trigger"]: o for o in run.json("triggers", "RK-03-01", actor="im")}
    assert any(
        b.startswith("role: ") and "coordinator" in b for b in as_im["withdraw"]["blocked_by"]
    )


def test_triggers_text_and_final_state(run: Cli, engine: Engine) -> None:
    add(run, "RK-03-01")
    text = run("triggers", "RK-03-01", actor=None).stdout
    assert "submit" in text and "blocked: missing field reason" in text
    run("advance", "RK-03-01", "withdraw", "--set", "reason=Konsens mit den Kommunen")
    assert run.json("triggers", "RK-03-01", actor=None) == []
    assert "final state" in run("triggers", "RK-03-01", actor=None).stdout


# --- identities and errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("proposal", "list"),
        ("proposal", "show", "RK-03-01"),
        ("triggers", "RK-03-01"),
        ("history", "RK-03-01"),
    ],
)
def test_read_only_commands_need_no_identity(run: Cli, args: tuple[str, ...]) -> None:
    add(run, "RK-03-01")
    run(*args, actor=None)


@pytest.mark.parametrize(
    "args",
    [
        ("proposal", "add", "--title", "X", "--handlungsfeld", "3", "--forum", "3", "--lead", "IM"),
        ("advance", "RK-03-01", "submit"),
        (
            "consult",
            "record",
            "RK-03-01",
            "--party",
            "P",
            "--group",
            "ihk",
            "--position",
            "support",
        ),
        ("funding", "add", "RK-03-01", "--source", "land", "--amount", "5", "--year", "2020"),
    ],
)
def test_write_commands_need_an_identity(run: Cli, args: tuple[str, ...]) -> None:
    add(run, "RK-03-01")
    one_error_line(run(*args, actor=None, code=2), "--as ID")
    assert run.state("RK-03-01") == "idea"


def test_the_identity_may_come_from_the_environment(run: Cli) -> None:
    add(run, "RK-03-01")
    result = CliRunner(env={**CLEAN_ENV, "RUHRFLOW_ACTOR": "koordination"}).invoke(
        cli, ["--db", run.database_url, "--now", NOW_TEXT, "advance", "RK-03-01", "submit"]
    )
    assert result.exit_code == 0, result.output
    assert run.json("history", "RK-03-01", actor=None)[-1]["actor"] == "koordination"


def test_an_unknown_actor_is_refused(run: Cli) -> None:
    add(run, "RK-03-01")
    one_error_line(run("advance", "RK-03-01", "submit", actor="mallory", code=2), "'mallory'")
    # even a read command refuses an identity that is given but unknown
    one_error_line(run("triggers", "RK-03-01", actor="mallory", code=2), "'mallory'")
    assert run.state("RK-03-01") == "idea"


def test_permission_denied_is_exit_1(run: Cli) -> None:
    add(run, "RK-03-01")
    one_error_line(run("advance", "RK-03-01", "submit", actor="pruefung", code=1),
                   "pruefung may not submit on RK-03-01")  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ("proposal", "show", "RK-42-42"),
        ("history", "RK-42-42"),
        ("triggers", "RK-42-42"),
        ("advance", "RK-42-42", "submit"),
        (
            "consult",
            "record",
            "RK-42-42",
            "--party",
            "P",
            "--group",
            "ihk",
            "--position",
            "support",
        ),
        ("funding", "add", "RK-42-42", "--source", "land", "--amount", "5", "--year", "2020"),
    ],
)
def test_an_unknown_proposal_is_exit_1(run: Cli, args: tuple[str, ...]) -> None:
    one_error_line(run(*args, code=1), "unknown proposal 'RK-42-42'")


def test_a_bad_now_is_a_usage_error(run: Cli) -> None:
    result = run("proposal", "list", now="gestern", code=2)
    assert "Invalid value for --now: 'gestern' is not an ISO date or datetime" in result.stderr
    assert "Traceback" not in result.stderr


def test_naive_now_is_berlin_time(run: Cli) -> None:
    add(run, "RK-03-01")
    run("advance", "RK-03-01", "submit", now="2019-11-05T09:30")
    assert run.json("history", "RK-03-01", actor=None)[-1]["at"] == "2019-11-05T08:30:00Z"


@pytest.mark.parametrize(
    ("assignment", "fragment"),
    [
        ("decision_date", "--set expects FIELD=VALUE"),
        ("=2019-11-05", "--set expects FIELD=VALUE"),
        ("datum=2019-11-05", "unknown field 'datum'"),
        ("decision_date=5.11.2019", "is not a date YYYY-MM-DD"),
    ],
)
def test_a_bad_set_is_bad_input(run: Cli, engine: Engine, assignment: str, fragment: str) -> None:

    add(run, "RK-03-01")
    walk_to(engine, "RK-03-01", "cabinet", NOW)
    one_error_line(run("advance", "RK-03-01", "approve", "--set", assignment, code=2), fragment)
    assert run.state("RK-03-01") == "cabinet"


def test_an_unreachable_database_is_exit_3(tmp_path: Path) -> None:
    result = Cli(f"sqlite:///{tmp_path}/no/such/dir/x.db")("proposal", "list", actor=None, code=3)
    one_error_line(result, "cannot use the database")


def test_an_unmigrated_database_says_run_init(tmp_path: Path) -> None:
    result = Cli(f"sqlite:///{tmp_path / 'empty.db'}")("proposal", "list", actor=None, code=3)
    one_error_line(result, "ruhrflow init")


# --- a light --help ------------------------------------------------------------------------


def test_help_imports_neither_sqlalchemy_nor_apscheduler() -> None:
    probe = (
        "import sys\n"
        "from workflow.cli.main import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='ruhrflow')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('sqlalchemy', 'apscheduler', 'alembic'))\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Commands:" in done.stdout and "advance" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "HEAVY []"


def test_advance_loads_neither_the_templates_nor_the_calendar_library(
    run: Cli, engine: Engine, database_url: str
) -> None:
    # given a proposal in implementation
    add(run, "RK-03-01")
    walk_to(engine, "RK-03-01", "implementation", NOW)
    # when `advance` runs in a process of its own (a transition only writes the outbox;
    # delivery renders: Jinja2 and icalendar are a tenth of a cold start; PostgreSQL's
    # dialect, loaded for nothing on SQLite, a twentieth)
    probe = (
        "import sys\n"
        "from workflow.cli.main import cli\n"
        "try:\n"
        f"    cli.main(['--db', {database_url!r}, '--now', '2019-12-01T10:00', '--as', 'im',\n"
        "              'advance', 'RK-03-01', 'report_progress', '--set', 'progress=20'],\n"
        "             prog_name='ruhrflow')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('jinja2', 'icalendar', 'apscheduler', 'alembic'))\n"
        f"if 'sqlite' in {database_url!r}:  # and on SQLite not PostgreSQL's dialect\n"
        "    heavy += [m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql')]\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RUHRFLOW_ACTOR", None)
    env.pop("RUHRFLOW_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    # then the transition happened and none of them was imported
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY []"
    history = run.json("history", "RK-03-01", actor=None)
    assert history[-1]["trigger"] == "report_progress"


def test_every_command_has_help() -> None:
    runner = CliRunner(env=CLEAN_ENV)
    for name in ("init", "proposal", "consult", "funding", "advance", "triggers", "history",
                 "definition"):  # fmt: skip
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.stdout
