"""One output module: every listing as table, JSON and CSV with the same fields; CSV that a
spreadsheet opens safely (formulas neutralised, German Excel); RFC 3339 ``Z`` in machine
formats, German numbers and dates in tables. On SQLite and PostgreSQL through CliRunner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from workflow.cli.main import cli
from workflow.spreadsheet import BOM, neutralise, restore

NOW_TEXT = "2019-07-15T10:00"
FORMULA = '=HYPERLINK("http://example.invalid/x","klick")'


def ruhrflow(database_url: str, *args: str, now: str = NOW_TEXT, code: int = 0) -> Result:
    argv = ["--db", database_url, "--now", now, "--as", "koordination", *args]
    result = CliRunner(env={"RUHRFLOW_ACTOR": None}).invoke(cli, argv)
    assert result.exit_code == code, f"exit {result.exit_code}:\n{result.output}"
    return result


@pytest.fixture
def walked(database_url: str) -> str:
    """Two proposals, one titled like a formula; comments that look like formulas too."""
    for key, title, cost in (("RK-03-01", FORMULA, "6000000"),
                             ("RK-03-02", "Grüne Höfe", "60800000.5")):  # fmt: skip
        ruhrflow(database_url, "proposal", "add", "--key", key, "--title", title, "--cost", cost,
                 "--handlungsfeld", "3", "--forum", "3", "--lead", "IM")  # fmt: skip
    ruhrflow(database_url, "advance", "RK-03-01", "submit", "--comment", "-1250.50",
             now="2019-07-15T11:00")  # fmt: skip
    ruhrflow(database_url, "advance", "RK-03-01", "open_consultation", "--comment", "@SUM(A1)",
             now="2019-07-15T12:00")  # fmt: skip
    ruhrflow(database_url, "advance", "RK-03-02", "submit", "--comment", "'=already quoted",
             now="2019-07-15T13:00")  # fmt: skip
    return database_url


# --- the neutralisation itself ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+49 201 123", "'+49 201 123"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-1250.50", "-1250.50"),  # a plain number is no formula and stays a number
        ("'=x", "''=x"),  # a quote of the writer's own, kept apart from ours
        ("'hello", "'hello"),
        ("Grüne Höfe", "Grüne Höfe"),
        ("", ""),
    ],
)
def test_formula_cells_get_a_quote_and_come_back(cell: str, written: str) -> None:
    assert neutralise(cell) == written
    assert restore(written) == cell


@given(st.text())
def test_restore_inverts_neutralise_for_every_text(cell: str) -> None:
    safe = neutralise(cell)
    assert restore(safe) == cell
    assert not safe.startswith(("=", "@", "\t", "\r")) or safe == cell == ""


# --- every listing: same fields in JSON and CSV, Z times, safe cells ----------------------

LISTINGS = [
    ("proposal", "list"),
    ("history", "RK-03-01"),
    ("notices", "list"),
    ("deadlines",),
    ("audit", "log"),
    ("report", "lead-times"),
]


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
def test_every_listing_offers_table_json_and_csv_with_the_same_fields(
    walked: str, command: tuple[str, ...]
) -> None:
    # given the walked database, when the listing is asked for in each format
    table = ruhrflow(walked, *command, "--format", "table").stdout
    as_json = json.loads(ruhrflow(walked, *command, "--format", "json").stdout)
    as_csv = ruhrflow(walked, *command, "--format", "csv").stdout
    # then the table has a header, and JSON and CSV carry the same fields in the same order
    assert table.strip()
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert as_json and len(rows) == len(as_json)
    assert list(rows[0]) == list(as_json[0])
    # machine times are RFC 3339 UTC with Z; no +00:00 anywhere
    assert "+00:00" not in as_csv and "+00:00" not in json.dumps(as_json)
    # `text` is still accepted as the old name of the table
    assert ruhrflow(walked, *command, "--format", "text").stdout == table


def test_report_status_rows_are_the_same_in_json_and_csv(walked: str) -> None:
    # the JSON is one document (as of, the public groups, the rows); its rows are the CSV's
    doc = json.loads(ruhrflow(walked, "report", "status", "--format", "json").stdout)
    rows = _rows_of(ruhrflow(walked, "report", "status", "--format", "csv"))
    assert doc["as_of"].endswith("Z") and doc["rows"]
    assert [list(r) for r in rows] == [list(r) for r in doc["rows"]]
    assert [r["total"] for r in rows] == [str(r["total"]) for r in doc["rows"]]


def test_proposal_fields_agree_with_history_and_tables_speak_german(walked: str) -> None:
    rows = {r["key"]: r for r in json.loads(ruhrflow(walked, "proposal", "list", "--format",
                                                         "json").stdout)}  # fmt: skip
    # amounts are exact decimal strings in JSON, the same form the history records
    assert rows["RK-03-02"]["cost_estimate"] == "60800000.50"
    history = json.loads(ruhrflow(walked, "history", "RK-03-02", "--format", "json").stdout)
    assert history[0]["data"]["cost_estimate"] == "60800000.50"
    assert rows["RK-03-01"]["state_entered_at"] == "2019-07-15T10:00:00Z"
    # the table: German number and date formats
    table = ruhrflow(walked, "proposal", "list").stdout
    assert "60.800.000,50 €" in table and "6.000.000,00 €" in table
    assert "15.07.2019 11:00" in ruhrflow(walked, "history", "RK-03-01").stdout
    shown = ruhrflow(walked, "proposal", "show", "RK-03-02").stdout
    assert "60.800.000,50 €" in shown


def test_csv_listings_neutralise_formulas(walked: str) -> None:
    # given a title and comments that a spreadsheet would run as formulas
    listed = ruhrflow(walked, "proposal", "list", "--format", "csv").stdout
    logged = ruhrflow(walked, "audit", "log", "--format", "csv").stdout
    # then every such cell starts with a quote; a plain negative number stays a number
    titles = {r["key"]: r["title"] for r in csv.DictReader(io.StringIO(listed))}
    assert titles["RK-03-01"] == "'" + FORMULA
    comments = [r["comment"] for r in csv.DictReader(io.StringIO(logged)) if r["comment"]]
    assert comments == ["-1250.50", "'@SUM(A1)", "''=already quoted"]
    cells = [c for r in csv.reader(io.StringIO(listed + logged)) for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]


def test_output_file_opens_in_german_excel(walked: str, tmp_path: Path) -> None:
    # when a listing is written to a file as CSV
    plain = tmp_path / "proposals.csv"
    result = ruhrflow(walked, "proposal", "list", "--format", "csv", "--output", str(plain))
    assert result.stdout == "" and "wrote 2 row(s)" in result.stderr
    # then it starts with a byte order mark, so Excel reads the umlauts as UTF-8
    raw = plain.read_bytes()
    assert raw.startswith(BOM.encode()) and "Grüne Höfe".encode() in raw
    # and with --excel: ';' between cells and a decimal comma
    excel = tmp_path / "excel.csv"
    ruhrflow(walked, "proposal", "list", "--format", "csv", "--excel", "--output", str(excel))
    text = excel.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert {r["key"]: r["cost_estimate"] for r in rows} == {
        "RK-03-01": "6000000,00",
        "RK-03-02": "60800000,50",
    }


@pytest.mark.parametrize("excel", [False, True], ids=["csv", "excel"])
def test_audit_export_csv_is_neutralised_and_still_verifies(
    walked: str, tmp_path: Path, excel: bool
) -> None:
    # given an export of the history as CSV (with or without --excel)
    path = tmp_path / "history.csv"
    ruhrflow(walked, "audit", "export", "--format", "csv", "--output", str(path),
             *(["--excel"] if excel else []))  # fmt: skip
    text = path.read_text(encoding="utf-8")
    assert text.startswith(BOM)
    reader = csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=";" if excel else ",")
    comments = [r["comment"] for r in reader]
    assert "'@SUM(A1)" in comments and "-1250.50" in comments
    # when it is verified offline, then the hashes over the original values still hold
    verified = ruhrflow(walked, "audit", "verify", "--file", str(path))
    assert verified.stdout.startswith("ok: ")
    # and a changed comment is still found
    tampered = tmp_path / "tampered.csv"
    tampered.write_text(text.replace("'@SUM(A1)", "'@SUM(A2)"), encoding="utf-8")
    broken = ruhrflow(walked, "audit", "verify", "--file", str(tampered), code=1)
    assert "broken at RK-03-01 seq 3" in broken.stderr


def _rows_of(result: Result) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_notices_and_history_have_csv(walked: str) -> None:
    notices = _rows_of(ruhrflow(walked, "notices", "list", "--format", "csv"))
    assert notices and {"id", "status", "kind", "key", "to", "created_at"} <= set(notices[0])
    history = _rows_of(ruhrflow(walked, "history", "RK-03-01", "--format", "csv"))
    assert [h["trigger"] for h in history] == ["create", "submit", "open_consultation"]
    assert history[1]["at"] == "2019-07-15T09:00:00Z"


def test_every_json_document_gives_times_with_z(walked: str) -> None:
    # given the walked database, when the commands that print one JSON document run
    documents = [  # the simulation first: the tick fires what it foresees
        ruhrflow(
            walked, "simulate", "--until", "2019-12-31", "--format", "json", now="2019-07-16T10:00"
        ).stdout,
        ruhrflow(walked, "scheduler", "tick", "--format", "json", now="2019-08-20T10:00").stdout,
        ruhrflow(walked, "audit", "checkpoint", "--format", "json").stdout,
        ruhrflow(walked, "proposal", "show", "RK-03-01", "--format", "json").stdout,
    ]
    # then every time is RFC 3339 in UTC with Z, none with +00:00
    for text in documents:
        json.loads(text)
        assert "+00:00" not in text and 'Z"' in text, text[:500]


def test_flags_read_the_same_in_json_and_csv(walked: str) -> None:
    # given open deadlines, one of them overdue on 20 Aug
    args = ("deadlines", "--overdue")
    as_json = json.loads(ruhrflow(walked, *args, "--format", "json", now="2019-08-20T10:00").stdout)
    as_csv = _rows_of(ruhrflow(walked, *args, "--format", "csv", now="2019-08-20T10:00"))
    # then true is true in both (and "yes" only in the table)
    assert [r["overdue"] for r in as_json] == [True] * len(as_json) and as_json
    assert [r["overdue"] for r in as_csv] == ["true"] * len(as_json)
    assert "yes" in ruhrflow(walked, *args, now="2019-08-20T10:00").stdout
