"""Issue 18, items 7, 8, 9 and 12: values beyond the schema, bad input that reached exit 70,
control characters, and the import niggles — each refused with one line and exit 2, the same
on SQLite and PostgreSQL, with nothing written.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import DEFINITION, NOW, REPO
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from support import add_proposal, walk_to

from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.errors import InvalidInput
from workflow.inputs import MAX_COMMENT, check_money, check_text, column_length, integer_range
from workflow.store import limits
from workflow.store.limits import integer_limit, money_limit, text_limit
from workflow.store.schema import definitions, funding, history, proposals, statements

NOW_TEXT = "2019-07-15T10:00"
CSV_HEADER = "key,title,handlungsfeld,themenforum,lead,participating,cost_estimate,summary"
GOOD_ROW = "Vorschlag {n},2,4,MWIDE,,1000,"
CLEAN_ENV = {"RUHRFLOW_ACTOR": None, "RUHRFLOW_DATABASE_URL": None}


def ruhrflow(url: str, *args: str, code: int) -> Result:
    """The CLI as koordination with a fixed now; asserts the exit code and one error line."""
    argv = ["--db", url, "--now", NOW_TEXT, "--as", "koordination", *args]
    result = CliRunner(env=CLEAN_ENV).invoke(cli, argv)
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output
    if code:
        lines = result.stderr.splitlines()
        assert lines[-1].startswith("error: "), result.stderr
        if args[0] != "proposal" or args[1] != "import":  # an import lists its bad rows first
            assert len(lines) == 1, result.stderr
    return result


def counts(engine: Engine) -> tuple[int, ...]:
    with engine.store.read() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (proposals, history, statements, funding)
        )


def csv_file(tmp_path: Path, *rows: str, header: str = CSV_HEADER) -> str:
    path = tmp_path / "import.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


# --- 18.7 values beyond the schema ----------------------------------------------------------


def test_limits_come_from_the_schema() -> None:
    # given the tables, then the limits are theirs (no number repeated in the checks)
    assert column_length(text_limit(proposals.c.key)) == proposals.c.key.type.length == 40
    assert column_length(limits.PROPOSAL_KEY) == 40
    assert column_length(text_limit(statements.c.party)) == 200
    assert integer_range(integer_limit(definitions.c.version)) == (-(2**31), 2**31 - 1)
    amount = money_limit(funding.c.amount)
    assert amount == limits.FUNDING_AMOUNT
    # Numeric(16, 2), of which SQLite's double keeps 15 digits exactly
    assert check_money(Decimal("9999999999999.99"), amount, "a") == Decimal("9999999999999.99")
    for too_much in ("1e13", "1e20", "0.001", "10.005", "-1", "NaN"):
        with pytest.raises(InvalidInput):
            check_money(Decimal(too_much), amount, "amount")
    assert check_money(Decimal("1.500"), amount, "amount") == Decimal("1.5")


def test_a_limit_of_the_wrong_kind_of_column_is_a_type_error() -> None:
    # given columns of other types, then no limit of the asked kind is made up
    with pytest.raises(TypeError, match="no length"):
        text_limit(funding.c.amount)
    with pytest.raises(TypeError, match="no integer column"):
        integer_limit(proposals.c.key)
    with pytest.raises(TypeError, match="Numeric"):
        money_limit(proposals.c.key)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--key", "RK-" + "-".join(["ABCDEFGHIJ"] * 4)), "longer than 40 characters"),
        (("--cost", "1e20"), "too large"),
        (("--cost", "1000.001"), "more than 2 decimal places"),
    ],
    ids=["key-beyond-column", "cost-1e20", "cost-three-decimals"],
)
def test_a_proposal_beyond_the_schema_is_refused_on_both_backends(
    engine: Engine, database_url: str, args: tuple[str, ...], message: str
) -> None:
    # given an empty database
    before = counts(engine)
    # when a proposal with a value the columns cannot hold is added
    result = ruhrflow(database_url, "proposal", "add", "--title", "Test", "--handlungsfeld", "1",
                      "--forum", "9", "--lead", "VM", *args, code=2)  # fmt: skip
    # then it is refused in one line, and nothing was written
    assert message in result.stderr
    assert counts(engine) == before


def test_a_party_over_the_column_and_amounts_beyond_it_are_refused(
    engine: Engine, database_url: str
) -> None:
    # given a proposal in consultation
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    before = counts(engine)
    # when a party of 201 characters is recorded, or an amount of 1e20 or 0.001 euros
    party = ruhrflow(database_url, "consult", "record", key, "--party", "P" * 201,
                     "--group", "kommune", "--position", "support", code=2)  # fmt: skip
    huge = ruhrflow(database_url, "funding", "add", key, "--source", "land", "--amount", "1e20",
                    "--year", "2020", code=2)  # fmt: skip
    tiny = ruhrflow(database_url, "funding", "add", key, "--source", "land", "--amount", "0.001",
                    "--year", "2020", code=2)  # fmt: skip
    # then each is refused by the same rule on both backends, and nothing was written
    assert "party is longer than 200 characters" in party.stderr
    assert "too large" in huge.stderr
    assert "more than 2 decimal places" in tiny.stderr
    assert counts(engine) == before
    # and the largest amount both backends hold to the cent is stored as given
    ruhrflow(database_url, "funding", "add", key, "--source", "land",
             "--amount", "9999999999999.99", "--year", "2020", code=0)  # fmt: skip
    with engine.store.read() as conn:
        assert conn.execute(select(funding.c.amount)).scalar_one() == Decimal("9999999999999.99")


def test_a_nul_in_the_csv_source_column_is_refused(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # given a CSV whose source cell holds a NUL character
    path = csv_file(tmp_path, ",Vorschlag,2,4,MWIDE,,1000,,Quelle\x00Ende",
                    header=CSV_HEADER + ",source")  # fmt: skip
    before = counts(engine)
    # when it is imported, then the row is refused (PostgreSQL used to crash, SQLite to store)
    result = ruhrflow(database_url, "proposal", "import", path, code=2)
    assert "source contains a control character (U+0000)" in result.stderr
    assert counts(engine) == before


# --- 18.8 bad input that reached exit 70 ----------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--now", "0001-01-01", "deadlines"),
        ("--now", "9999-12-31", "deadlines"),
        ("--now", "9999-12-31T23:59", "report", "overdue"),
        ("deadlines", "--due-within", "99999999d"),
        ("audit", "log", "--since", "0001-01-01"),
        ("audit", "log", "--until", "9999-12-31"),
        ("simulate", "--until", "9999-12-31"),
    ],
    ids=["now-year-1", "now-year-9999", "now-9999-report", "due-within", "since", "until", "sim"],
)
def test_times_and_durations_out_of_range_are_bad_input(
    engine: Engine, database_url: str, args: tuple[str, ...]
) -> None:
    # given a database with a proposal
    add_proposal(engine, NOW)
    # when a time or duration no date can hold is given, then exit 2 in one line
    result = CliRunner(env=CLEAN_ENV).invoke(cli, ["--db", database_url, *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("process_limit", [None, 2**31 - 1], ids=["csv-default", "raised"])
def test_a_csv_field_over_128_kib_is_bad_input(
    engine: Engine, database_url: str, tmp_path: Path, process_limit: int | None
) -> None:
    # (reading a CSV audit export raises the csv module's process-wide limit)
    old = csv.field_size_limit()
    if process_limit is not None:
        csv.field_size_limit(process_limit)
    # given a CSV whose summary cell is larger than the csv module's field limit
    path = csv_file(tmp_path, "," + GOOD_ROW.format(n=1) + "x" * (128 * 1024 + 1))
    before = counts(engine)
    # when it is imported, then it is refused in one line
    try:
        result = ruhrflow(database_url, "proposal", "import", path, code=2)
    finally:
        csv.field_size_limit(old)
    assert "field limit" in result.stderr
    assert counts(engine) == before


@pytest.mark.parametrize(
    "args",
    [
        ("--as", "koordination", "advance", "{key}", "submit", "--comment", b"Beschluss \xff\xfe"),
        ("proposal", "show", b"RK-03-01\xff"),
        ("history", b"\xff"),
        ("audit", "log", "--actor", b"\xff"),
        ("--as", "koordination", "audit", "pseudonymise", b"\xff"),
        ("deadlines", "--lead", b"\xff"),
    ],
    ids=["comment", "show", "history", "log-actor", "pseudonymise", "deadlines-lead"],
)
def test_invalid_utf8_in_any_argument_is_bad_input(
    engine: Engine, database_url: str, args: tuple[str | bytes, ...]
) -> None:
    # given a proposal, and a shell that passes bytes that are no UTF-8 (a real process:
    # Python turns them into lone surrogates in sys.argv, which the driver cannot encode)
    key = add_proposal(engine, NOW)
    before = counts(engine)
    argv = [sys.executable, "-m", "workflow", "--db", database_url, "--now", NOW_TEXT]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LC_ALL": "C.UTF-8"}
    env.pop("RUHRFLOW_ACTOR", None)
    given = [a if isinstance(a, bytes) else os.fsencode(a.format(key=key)) for a in args]
    # when the command runs
    done = subprocess.run(
        [*map(os.fsencode, argv), *given], env=env, capture_output=True, timeout=60
    )
    # then exit 2, one line naming the argument, nothing written
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode().startswith("error: argument ")
    assert b"is not valid UTF-8 text" in done.stderr and len(done.stderr.splitlines()) == 1
    assert counts(engine) == before


def test_the_engine_refuses_invalid_utf8_given_by_other_callers(engine: Engine) -> None:
    # given a caller past the CLI (a lone surrogate is what undecodable bytes become)
    key = add_proposal(engine, NOW)
    # then the text policy refuses it before the database is asked
    with pytest.raises(InvalidInput, match="comment is not valid UTF-8 text"):
        engine.advance(key, "submit", actor="koordination", now=NOW, comment="a\udcff")


@pytest.mark.parametrize("version", [2**31, 2**63, 2**64 + 1])
def test_a_definition_version_beyond_the_column_fails_the_check_and_init(
    database_url: str, tmp_path: Path, version: int
) -> None:
    # given the shipped definition with a version the definitions table cannot hold
    shipped = DEFINITION.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^version: \d+$", f"version: {version}", shipped)
    assert text != shipped
    path = tmp_path / "huge.yaml"
    path.write_text(text, encoding="utf-8")
    runner = CliRunner(env=CLEAN_ENV)
    # when it is checked and registered
    checked = runner.invoke(cli, ["definition", "check", str(path)])
    initialised = runner.invoke(cli, ["--db", database_url, "init", "--definition", str(path)])
    # then the check reports the problem (exit 1, as for every problem it finds) and init
    # refuses the file as bad input (exit 2) instead of crashing in the database
    assert checked.exit_code == 1, checked.output
    assert initialised.exit_code == 2, initialised.output
    for result in (checked, initialised):
        assert "version: must be a whole number from 1 to 2147483647" in result.output


# --- 18.9 one text policy -------------------------------------------------------------------

HOSTILE = {
    "crlf": "Stadt Essen\r\nX-Injected: 1",
    "esc": "Stadt \x1b[2J\x1b[31mEssen",
    "osc": "Stadt \x1b]8;;https://example.org\x07Essen\x1b]8;;\x07",
    "rlo": "Stadt \u202egnp.exe",
    "isolate": "Stadt \u2067Essen\u2069",
    "nel": "Stadt\x85Essen",
    "line-separator": "Stadt\u2028Essen",
    "tab": "Stadt\tEssen",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_single_line_fields_refuse_control_and_bidi_characters(
    engine: Engine, database_url: str, name: str
) -> None:
    # given a proposal in consultation
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    before = counts(engine)
    # when a party name or a title carries control or bidi characters
    ruhrflow(database_url, "consult", "record", key, "--party", HOSTILE[name],
             "--group", "kommune", "--position", "support", code=2)  # fmt: skip
    ruhrflow(database_url, "proposal", "add", "--title", HOSTILE[name], "--handlungsfeld", "1",
             "--forum", "9", "--lead", "VM", code=2)  # fmt: skip
    # then both are refused and nothing reaches a terminal or a mail subject
    assert counts(engine) == before


@pytest.mark.parametrize("name", [n for n in HOSTILE if n != "tab"])
def test_multi_line_fields_allow_only_lf_and_tab(
    engine: Engine, database_url: str, name: str
) -> None:
    # given a proposal
    key = add_proposal(engine, NOW)
    before = counts(engine)
    # when a comment, or a field's text, carries a control or bidi character (not LF/TAB)
    ruhrflow(database_url, "advance", key, "submit", "--comment", HOSTILE[name], code=2)
    ruhrflow(database_url, "advance", key, "withdraw", "--set", f"reason={HOSTILE[name]}", code=2)
    # then it is refused; and a comment with LF and TAB is stored as given
    assert counts(engine) == before
    ruhrflow(database_url, "advance", key, "submit", "--comment", "Zeile 1\n\tZeile 2", code=0)
    with engine.store.read() as conn:
        stored = conn.execute(select(history.c.comment).where(history.c.seq == 2)).scalar_one()
    assert stored == "Zeile 1\n\tZeile 2"


@given(st.text(max_size=40))
def test_what_the_policy_accepts_has_no_control_or_bidi_character(text: str) -> None:
    for multiline in (False, True):
        try:
            check_text(text, "t", multiline=multiline)
        except InvalidInput:
            continue
        allowed = "\n\t" if multiline else ""
        for ch in text:
            assert ch in allowed or not (ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F), repr(text)
            assert ch not in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
            assert not 0xD800 <= ord(ch) <= 0xDFFF


def test_right_to_left_text_itself_is_fine() -> None:
    assert check_text("مشروع النقل في الرور", "title") == "مشروع النقل في الرور"
    assert check_text("Stadt \u200fEssen", "party") == "Stadt \u200fEssen"  # RLM: a mark


# --- 18.12 import niggles -------------------------------------------------------------------


def test_a_duplicated_csv_header_is_refused(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, ",Vorschlag,2,4,MWIDE,,1000,,IM", header=CSV_HEADER + ",lead")
    result = ruhrflow(database_url, "proposal", "import", path, code=2)
    assert "names the columns lead more than once" in result.stderr
    assert counts(engine)[0] == 0


def test_a_keyless_row_does_not_take_the_key_a_later_row_names(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # given a key-less row of forum 4 followed by a row that names RK-04-01 itself
    path = csv_file(tmp_path, ",Ohne Schlüssel,2,4,MWIDE,,1000,", "RK-04-01,Mit,2,4,MWIDE,,1000,")
    # when imported (with and without --skip-invalid), then both rows are imported
    ruhrflow(database_url, "proposal", "import", path, "--skip-invalid", code=0)
    with engine.store.read() as conn:
        rows = dict(conn.execute(select(proposals.c.key, proposals.c.title)).all())
    assert rows == {"RK-04-01": "Mit", "RK-04-02": "Ohne Schlüssel"}


@pytest.mark.parametrize("digits", ["٤", "４", "۴"], ids=["arabic-indic", "fullwidth", "persian"])
def test_digits_of_other_scripts_are_no_themenforum(
    engine: Engine, database_url: str, tmp_path: Path, digits: str
) -> None:
    path = csv_file(tmp_path, f",Vorschlag,2,{digits},MWIDE,,1000,")
    imported = ruhrflow(database_url, "proposal", "import", path, code=2)
    added = ruhrflow(database_url, "proposal", "add", "--title", "T", "--handlungsfeld", "1",
                     "--forum", digits, "--lead", "VM", code=2)  # fmt: skip
    assert "digits 0-9" in imported.stderr and "digits 0-9" in added.stderr
    assert counts(engine)[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("submit", "--set", "decision_date=2019-11-05"), "submit does not take the field"),
        (("withdraw", "--set", "reason=a", "--set", "reason=b"), "--set reason is given more"),
        (("withdraw", "--set", "reason=x", "--set", "progress=٥"), "is not a whole number"),
        (("submit", "--comment", "x" * 120_000), f"longer than {MAX_COMMENT} characters"),
    ],
    ids=["undeclared-field", "duplicated-set", "undeclared-and-foreign-digit", "long-comment"],
)
def test_advance_refuses_what_it_would_have_stored_silently(
    engine: Engine, database_url: str, args: tuple[str, ...], message: str
) -> None:
    key = add_proposal(engine, NOW)
    before = counts(engine)
    result = ruhrflow(database_url, "advance", key, *args, code=2)
    assert message in result.stderr
    assert counts(engine) == before


def test_foreign_digits_in_a_field_are_refused(engine: Engine, database_url: str) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "implementation", NOW)
    before = counts(engine)
    result = ruhrflow(database_url, "--as", "im", "advance", key, "report_progress",
                      "--set", "progress=٥٠", code=2)  # fmt: skip
    assert "is not a whole number" in result.stderr
    assert counts(engine) == before


def test_rows_written_past_the_policy_are_shown_escaped(engine: Engine, database_url: str) -> None:
    # given a title and a party with terminal escapes, written past the intake (a database
    # edit, or rows from before the input policy)
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    engine.record_statement(key, party="Stadt Essen", group="kommune", position="support",
                            text="", actor="koordination", now=NOW)  # fmt: skip
    with engine.store.write() as conn:
        conn.execute(
            proposals.update().where(proposals.c.key == key).values(title="Plan\x1b[2J\u202eexe")
        )
        conn.execute(statements.update().values(party="Stadt \x1b]8;;http://x\x07Essen"))
    # when the proposal is shown as text
    shown = ruhrflow(database_url, "proposal", "show", key, code=0).stdout
    # then no control or bidi character reaches the terminal: they are shown escaped
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "Plan\\x1b[2J\\u202eexe" in shown and "Stadt \\x1b]8;;http://x\\x07Essen" in shown


def test_a_csv_summary_with_windows_line_breaks_is_imported_with_lf(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # given a CSV from a Windows tool: a quoted summary cell with a CRLF line break
    path = tmp_path / "import.csv"
    path.write_bytes(
        (CSV_HEADER + '\r\n,Vorschlag,2,4,MWIDE,,1000,"Zeile 1\r\nZeile 2"\r\n').encode()
    )
    # when imported, then the summary keeps its line break as LF (CR alone is refused)
    ruhrflow(database_url, "proposal", "import", str(path), code=0)
    with engine.store.read() as conn:
        assert conn.execute(select(proposals.c.summary)).scalar_one() == "Zeile 1\nZeile 2"
