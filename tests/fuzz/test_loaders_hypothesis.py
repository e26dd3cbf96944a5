"""Arbitrary values fed to the configuration and definition loaders: exit 2 or success — never
exit 70, never a traceback.

Given the shipped configuration (or definition) with one key set to an arbitrary TOML (or
YAML) value — a huge or negative number, NaN, a string with control characters, a date that
is a datetime, a list, a table — when a command loads it, then the command succeeds or
refuses the file in one line with exit 2 (``definition check`` lists problems with exit 1).
A value that passes must also pass every part that reads it later (the scheduler's options,
the web app's settings, a proposal added under the definition).
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow.app import config_schema
from workflow.app.settings import load_settings
from workflow.cli.main import cli
from workflow.errors import InvalidConfig, InvalidDefinition
from workflow.process.definition import load_definition
from workflow.scheduler.daemon import DaemonOptions

REPO = Path(__file__).resolve().parents[2]
DEFINITION = REPO / "definitions" / "ruhr_konferenz.yaml"
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", " ", "2019-02-30", "25:99", "02:30", "07:00", "Mars/Olympus", "no",
                     "Europe/Berlin", "mon", "smtp", "1e12", "\x1b[31m", "\u202e", "\u200b"]),
    st.dates(),
    st.datetimes(),
    st.times(),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def toml_value(value: Any) -> str:
    """``value`` written as TOML (None, which TOML lacks, as an empty inline table)."""
    if value is None:
        return "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value)  # JSON escapes are TOML's (a lone surrogate is bad TOML: fine)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


KEYS = [*config_schema.all_keys(), "process.further_day", "web.session_hour", "databse.url"]


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _one_line_or_success(result: Result) -> None:
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    assert "internal error" not in result.output and "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.output.startswith("error: ") and result.output.count("\n") == 1


@EXAMPLES
@given(key=st.sampled_from(KEYS), value=values)
def test_any_toml_value_is_refused_in_one_line_or_works(
    tmp_path: Path, key: str, value: Any
) -> None:
    # given a configuration that sets one key to an arbitrary value
    section, name = key.rsplit(".", 1)
    path = tmp_path / "fuzz.toml"
    path.write_text(f"[{section}]\n{json.dumps(name)} = {toml_value(value)}\n", encoding="utf-8")
    # when it is checked as every command loads it
    _one_line_or_success(_run("config", "check", str(path)))
    try:
        loaded = load_settings(path, env={})
    except InvalidConfig as exc:
        assert "\n" not in str(exc)
        return
    # then a value that passed is one every reader of it takes
    scheduler = loaded.section("scheduler")
    DaemonOptions.from_settings(scheduler, loaded.timezone)
    assert 0 < float(loaded.section("web").get("session_hours", 8)) <= 24 * 31
    assert isinstance(loaded.section("web").get("secure_cookies", False), bool)


SHIPPED = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
# Where a value sits in the shipped definition: (path of keys and indexes), one per kind.
PLACES: list[tuple[Any, ...]] = [
    ("version",),
    ("name",),
    ("title",),
    ("initial",),
    ("states", "idea", "label"),
    ("states", "idea", "final"),
    ("states", "idea", "public"),
    ("fields", "progress", "min"),
    ("fields", "progress", "max"),
    ("fields", "progress", "type"),
    ("fields", "decision_date", "label"),
    ("handlungsfelder", 1),
    ("transitions", 0, "roles"),
    ("transitions", 0, "from"),
    ("transitions", 0, "guards"),
    ("deadlines", "forum_submission", "date"),
    ("deadlines", "forum_submission", "at"),
    ("deadlines", "forum_submission", "remind"),
    ("deadlines", "forum_submission", "label"),
    ("deadlines", "consultation", "after"),
    ("statement_states",),
    ("notices",),
    ("extra_key",),
]


def yamlable(value: Any) -> Any:
    """``value`` with times of day as text (YAML has no time type)."""
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, list):
        return [yamlable(v) for v in value]
    if isinstance(value, dict):
        return {k: yamlable(v) for k, v in value.items()}
    return value


# Fewer: a definition that loads is then installed in a fresh database.
YAML_EXAMPLES = settings(EXAMPLES, max_examples=40)


def _set(document: Any, place: tuple[Any, ...], value: Any) -> None:
    target = document
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = value


@YAML_EXAMPLES
@given(place=st.sampled_from(PLACES), value=values.map(yamlable))
def test_any_yaml_value_in_a_definition_is_a_problem_or_works(
    tmp_path: Path, place: tuple[Any, ...], value: Any
) -> None:
    # given the shipped definition with one value replaced
    document = yaml.safe_load(yaml.safe_dump(SHIPPED))
    _set(document, place, value)
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    # when it is checked, then its problems are listed (1), it is refused (2) or clean (0)
    result = _run("definition", "check", str(path))
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "internal error" not in result.output and "Traceback" not in result.output
    try:
        load_definition(path)
    except InvalidDefinition:
        return
    # and a definition that loads takes a proposal in a fresh database
    config = tmp_path / "fuzz.toml"
    config.write_text(
        f'[process]\ndefinition = "{path.name}"\n[mail]\nmaildir = "{tmp_path / "mail"}"\n',
        encoding="utf-8",
    )
    fresh = tmp_path / f"{uuid.uuid4().hex}.db"  # a new database for every example
    db = ["--db", f"sqlite:///{fresh}", "--config", str(config)]
    _one_line_or_success(_run(*db, "init"))
    added = _run(
        *db, "--as", "koordination", "--now", "2019-07-15T10:00", "proposal", "add",
        "--title", "Radweg", "--handlungsfeld", "1", "--forum", "3", "--lead", "VM",
    )  # fmt: skip
    assert added.exit_code in (0, 1, 2), added.output
    assert "internal error" not in added.output
