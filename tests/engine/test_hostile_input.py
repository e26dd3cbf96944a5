"""Hostile and broken input, driven by Hypothesis: the CLI, the CSV importer, the loader.

The rule for every input: a clear one-line error (exit 1 or 2) or safe handling (exit 0,
stored and shown literally) — never a traceback, never an internal error, never a
partial import. Jinja syntax is data, not a template; CR/LF never reaches a title.
"""

from __future__ import annotations

import copy
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import DEFINITION, NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from support import add_proposal

from workflow.audit.verify import verify_store
from workflow.cli.main import cli
from workflow.engine.chain import canonical_data
from workflow.engine.engine import Engine
from workflow.errors import InvalidDefinition, InvalidInput
from workflow.process.definition import Definition, parse_definition
from workflow.store.repo import load_proposal
from workflow.store.schema import history, proposals

DB_EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PURE_EXAMPLES = settings(max_examples=150, deadline=None)

# Text an attacker or a careless spreadsheet produces.
NASTY = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{{ config.__class__.__init__.__globals__ }}",
    "'; DROP TABLE proposals; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM history;--",
    "مشروع النقل في الرور",  # right-to-left text
    "\u202egnp.exe",  # right-to-left override
    "Zeile 1\r\nBcc: opfer@example.org",
    "Zeile 1\nSubject: gefälscht",
    "nul\x00byte",
    "bell\x07 and esc\x1b[31m red",
    "\u2028line separator",
    "\ufeffBOM",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🚇",
    "",
    "   ",
    "x" * 10_000,
]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=80))


def impersonation_config(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.toml"
    path.write_text(
        f'[mail]\nmaildir = "{tmp_path / "mail"}"\n[security]\nallow_impersonation = true\n',
        encoding="utf-8",
    )
    return path


def run(url: str, config: Path, *args: str) -> Result:
    """The CLI in-process, as koordination; asserts the universal rules for every result."""
    result = CliRunner().invoke(
        cli, ["--db", url, "--config", str(config), "--as", "koordination", *args]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, result.stderr
    return result


def count(engine: Engine, table: Any) -> int:
    with engine.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# --- the CLI: titles and comments --------------------------------------------------------


@DB_EXAMPLES
@given(title=nasty_text)
def test_hostile_titles_are_refused_or_stored_literally(
    engine: Engine, database_url: str, tmp_path: Path, title: str
) -> None:
    config = impersonation_config(tmp_path)
    before = count(engine, proposals)
    added = run(database_url, config, "proposal", "add", "--title", title,
                "--handlungsfeld", "1", "--forum", "9", "--lead", "VM")  # fmt: skip
    if added.exit_code:
        assert count(engine, proposals) == before  # refused: nothing stored
        return
    # stored: exactly as given (trimmed), one line, never rendered as a template
    assert "\n" not in title.strip() and "\r" not in title.strip()
    key = added.stdout.split()[-1]
    shown = run(database_url, config, "proposal", "show", key, "--format", "json")
    assert json.loads(shown.stdout)["title"] == title.strip()
    if "{{ 7*7 }}" in title:
        # the title line shows the template text as it is (not "49": the line below it
        # has the time of day, which may well contain 49)
        text = run(database_url, config, "proposal", "show", key)
        title_line = text.stdout.splitlines()[0]
        assert title_line.count("{{ 7*7 }}") == title.count("{{ 7*7 }}")


@DB_EXAMPLES
@given(comment=nasty_text)
def test_hostile_comments_are_kept_literally_in_the_history(
    engine: Engine, database_url: str, tmp_path: Path, comment: str
) -> None:
    config = impersonation_config(tmp_path)
    key = add_proposal(engine, NOW)
    result = run(database_url, config, "advance", key, "submit", "--comment", comment)
    entries = json.loads(run(database_url, config, "history", key, "--format", "json").stdout)
    if result.exit_code:
        assert len(entries) == 1
        return
    assert entries[-1]["comment"] == comment  # byte for byte; no template was evaluated
    table = run(database_url, config, "history", key).stdout
    # the table keeps one row per entry: header + two rows, whatever the comment holds
    assert len(table.splitlines()) == 3


@DB_EXAMPLES
@given(
    key=nasty_text,
    trigger=nasty_text,
    assignment=st.one_of(nasty_text, st.sampled_from(["decision_date={{ 7*7 }}", "=", "a=b=c"])),
)
def test_hostile_keys_triggers_and_fields_are_refused_cleanly(
    engine: Engine, database_url: str, tmp_path: Path, key: str, trigger: str, assignment: str
) -> None:
    config = impersonation_config(tmp_path)
    before = (count(engine, proposals), count(engine, history))
    run(database_url, config, "advance", key, trigger, "--set", assignment)
    run(database_url, config, "triggers", key)
    run(database_url, config, "history", key)
    run(database_url, config, "proposal", "list", "--state", trigger)
    assert (count(engine, proposals), count(engine, history)) == before


# --- the CSV importer --------------------------------------------------------------------

HEADER = "key,title,handlungsfeld,themenforum,lead,participating,cost_estimate,summary"
cell = st.one_of(
    nasty_text,
    st.sampled_from(["1", "5", "0", "-3", "1e400", "NaN", "IM", "VM", "IM;IM", "XX", "RK-01-01"]),
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A CSV as a careless or hostile sender makes it: columns, cells, encoding."""
    header = draw(
        st.one_of(
            st.just(HEADER),
            st.just(HEADER + ",source"),
            st.just(HEADER.replace("lead", "ressort")),
            st.just(HEADER + ",extra"),
            st.just(HEADER.replace(",", ";")),
            st.just(""),
        )
    )
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            good = ["", f"Vorschlag {draw(nasty_text)}", "2", "4", "MWIDE", "", "1000", ""]
            rows.append(good)
        else:
            rows.append([draw(cell) for _ in range(draw(st.integers(1, 9)))])
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow(row)
    text = header + "\n" + buf.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


@DB_EXAMPLES
@given(data=csv_files())
def test_broken_csv_imports_all_or_nothing(
    engine: Engine, database_url: str, tmp_path: Path, data: bytes
) -> None:
    config = impersonation_config(tmp_path)
    path = tmp_path / "import.csv"
    path.write_bytes(data)
    before = count(engine, proposals)
    result = run(database_url, config, "proposal", "import", str(path))
    after = count(engine, proposals)
    if result.exit_code:
        assert after == before, "a refused import left rows behind"
    else:
        imported = int(result.stdout.split()[1])
        assert after == before + imported
        assert count(engine, history) >= after


def test_csv_with_formula_and_jinja_cells_is_stored_literally(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    config = impersonation_config(tmp_path)
    path = tmp_path / "import.csv"
    path.write_text(
        HEADER + '\nRK-30-01,{{ 7*7 }} {% for %},2,4,MWIDE,,1000,=HYPERLINK("x")\n',
        encoding="utf-8",
    )
    assert run(database_url, config, "proposal", "import", str(path)).exit_code == 0
    shown = json.loads(
        run(database_url, config, "proposal", "show", "RK-30-01", "--format", "json").stdout
    )
    assert shown["title"] == "{{ 7*7 }} {% for %}"
    assert shown["summary"] == '=HYPERLINK("x")'


# --- history data a backend would give back changed ----------------------------------------

# JSON values PostgreSQL's JSONB does not give back as they were written: numeric has no
# negative zero and no exponent (1e16 comes back as an int), and no NaN or infinity at all.
storable_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-0.0, 0.0, 1e16, -1.5e16, 1e300, 5e-324, 0.1, 1.5e-7]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**12),
    storable_text,
)
json_data = st.dictionaries(
    storable_text,
    st.recursive(
        json_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.tuples(inner, inner),
            st.dictionaries(storable_text, inner, max_size=4),
        ),
        max_leaves=12,
    ),
    max_size=6,
)


def append(engine: Engine, key: str, data: dict[str, Any]) -> None:
    """One history entry with ``data`` through ``Engine.append_event``."""
    with engine.store.write() as conn:
        row = load_proposal(conn, key)
        assert row is not None
        engine.append_event(
            conn, row, kind="note", trigger="note", actor="koordination", now=NOW, data=data
        )


def stored_data(engine: Engine, key: str) -> Any:
    with engine.store.read() as conn:
        return (
            conn.execute(
                select(history.c.data).where(history.c.chain == key).order_by(history.c.seq.desc())
            )
            .scalars()
            .first()
        )


def test_data_that_jsonb_changes_is_hashed_as_stored_and_verifies(engine: Engine) -> None:
    # given data that JSONB would give back changed (and a Decimal json cannot even write)
    key = add_proposal(engine, NOW)
    data = {
        "negative_zero": -0.0,
        "big": 1e16,
        "bigger": -2.5e300,
        "tiny": 5e-324,
        "amount": Decimal("1250000.50"),
        "pair": (1, -0.0),
        "nested": {"x": [-0.0, {"y": 1e20}]},
    }
    # when it is appended to the chain
    append(engine, key, data)
    # then the store gives back exactly the canonical form that was hashed, and it verifies
    expected = canonical_data(data)
    assert expected["negative_zero"] == 0.0 and math.copysign(1, expected["negative_zero"]) == 1
    assert expected["big"] == 10**16 and isinstance(expected["big"], int)
    assert expected["amount"] == "1250000.50" and expected["pair"] == [1, 0.0]
    stored = stored_data(engine, key)
    assert json.dumps(stored, sort_keys=True) == json.dumps(expected, sort_keys=True)
    result = verify_store(engine.store, key=engine.audit_key)
    assert result.ok, result.broken


@DB_EXAMPLES
@given(data=json_data)
def test_any_json_data_appended_to_history_verifies(engine: Engine, data: dict[str, Any]) -> None:
    key = add_proposal(engine, NOW)
    append(engine, key, data)
    assert json.dumps(stored_data(engine, key), sort_keys=True) == json.dumps(
        canonical_data(data), sort_keys=True
    )
    result = verify_store(engine.store, key=engine.audit_key)
    assert result.ok, result.broken


@pytest.mark.parametrize(
    "data",
    [
        {"x": float("nan")},
        {"x": [float("inf")]},
        {"x": {"y": -float("inf")}},
        {"x": Decimal("NaN")},
        {"x": "nul\x00"},
        {"nul\x00": 1},
        {"x": "\ud800"},
    ],
    ids=["nan", "inf", "-inf", "decimal-nan", "nul", "nul-key", "surrogate"],
)
def test_data_no_backend_can_store_is_refused_and_nothing_written(
    engine: Engine, data: dict[str, Any]
) -> None:
    key = add_proposal(engine, NOW)
    before = count(engine, history)
    with pytest.raises(InvalidInput):
        append(engine, key, data)
    assert count(engine, history) == before
    assert verify_store(engine.store, key=engine.audit_key).ok


# --- the definition loader ---------------------------------------------------------------

SHIPPED = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    nasty_text,
    st.lists(nasty_text, max_size=3),
    st.dictionaries(nasty_text, nasty_text, max_size=3),
    st.sampled_from(["no_such_state", "idea", "completed", "no_such_guard"]),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(SHIPPED)


def _load(text: str) -> Definition | None:
    """parse_definition, allowed to fail only with InvalidDefinition naming the file."""
    try:
        return parse_definition(text, "hostile.yaml")
    except InvalidDefinition as exc:
        assert str(exc).startswith("hostile.yaml")
        return None


@PURE_EXAMPLES
@given(path=st.sampled_from(PATHS), value=hostile_values, delete=st.booleans())
def test_a_mutated_definition_loads_or_names_its_problem(
    path: tuple[Any, ...], value: Any, delete: bool
) -> None:
    doc = copy.deepcopy(SHIPPED)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    _load(yaml.safe_dump(doc, allow_unicode=True))


@PURE_EXAMPLES
@given(text=st.one_of(st.text(max_size=300), st.sampled_from(NASTY)))
def test_arbitrary_text_as_a_definition_is_refused_cleanly(text: str) -> None:
    _load(text)


BILLION_LAUGHS = (
    "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "states: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "name: [unclosed",
        "a: &a [1]\nb: *a\nc: *c",
        "!!python/object/apply:os.system ['echo pwned']",
        "\x00\x01\x02",
        "name: {{ 7*7 }}\n",
        BILLION_LAUGHS,
    ],
)
def test_broken_definition_files_fail_with_one_line_over_the_cli(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    for args in (["definition", "check", str(path)], ["definition", "show", str(path)]):
        result = CliRunner().invoke(cli, args)
        assert isinstance(result.exception, SystemExit | None), result.output
        assert result.exit_code in (1, 2), result.output
        assert "Traceback" not in result.output and "internal error" not in result.output
        if args[1] == "show":
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_definition_file_in_a_wrong_encoding_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(DEFINITION.read_text(encoding="utf-8").encode("latin-1", errors="replace"))
    path16 = tmp_path / "utf16.yaml"
    path16.write_bytes(DEFINITION.read_text(encoding="utf-8").encode("utf-16"))
    for p in (path, path16):
        result = CliRunner().invoke(cli, ["definition", "check", str(p)])
        assert isinstance(result.exception, SystemExit | None), result.output
        assert result.exit_code in (0, 1, 2)
        assert "internal error" not in result.output
