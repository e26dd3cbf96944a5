"""Reports as of a date: the Sachstand at the end of a day, reconstructed from history."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner, Result
from conftest import NOW
from support import add_proposal, walk_to

from workflow.audit.asof import cutoff_of, heads_as_of, reconstruct
from workflow.cli.main import cli
from workflow.engine.engine import Engine

DAY = timedelta(days=1)


def run(database_url: str, *args: str, now: str = "2019-12-01T10:00") -> Result:
    env = {"RUHRFLOW_AUDIT_KEY": None, "RUHRFLOW_ACTOR": None}
    return CliRunner().invoke(cli, ["--db", database_url, "--now", now, *args], env=env)


@pytest.fixture
def timeline(engine: Engine) -> Engine:
    """RK-03-01: decided on 15 Jul, started 1 Aug, completed 1 Sep 2019 (UTC 08:00 + hours).

    RK-03-02: still an idea; RK-02-01: decided on 15 Jul and discontinued on 20 Aug.
    """
    walk_to(engine, add_proposal(engine, NOW, key="RK-03-01"), "approved", NOW)
    walk_to(engine, "RK-03-01", "implementation", NOW + 17 * DAY)
    walk_to(engine, "RK-03-01", "completed", NOW + 48 * DAY)
    add_proposal(engine, NOW, key="RK-03-02")
    walk_to(engine, add_proposal(engine, NOW, key="RK-02-01", handlungsfeld=2), "approved", NOW)
    engine.advance("RK-02-01", "discontinue", actor="koordination", now=NOW + 36 * DAY,
                   fields={"reason": "Finanzierung nicht gesichert"})  # fmt: skip
    return engine


def groups_as_of(database_url: str, day: str) -> dict[str, int]:
    result = run(database_url, "report", "status", "--as-of", day, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["as_of"] == day
    return {**doc["groups"], **doc["outside"]}


def test_status_as_of_follows_the_history(timeline: Engine, database_url: str) -> None:
    # before anything was decided: all three are in Vorbereitung, none is counted
    assert groups_as_of(database_url, "2019-07-14") == {}.fromkeys(
        ("in Prüfung", "in Umsetzung", "abgeschlossen", "nicht weiterverfolgt", "nicht gezählt"),
        0,
    ) | {"in Vorbereitung": 0}
    assert groups_as_of(database_url, "2019-07-15") == {
        "in Prüfung": 2, "in Umsetzung": 0, "abgeschlossen": 0, "nicht weiterverfolgt": 0,
        "in Vorbereitung": 1, "nicht gezählt": 0,
    }  # fmt: skip
    assert groups_as_of(database_url, "2019-08-20") == {
        "in Prüfung": 0, "in Umsetzung": 1, "abgeschlossen": 0, "nicht weiterverfolgt": 1,
        "in Vorbereitung": 1, "nicht gezählt": 0,
    }  # fmt: skip
    assert groups_as_of(database_url, "2019-09-01") == {
        "in Prüfung": 0, "in Umsetzung": 0, "abgeschlossen": 1, "nicht weiterverfolgt": 1,
        "in Vorbereitung": 1, "nicht gezählt": 0,
    }  # fmt: skip


def test_as_of_today_equals_the_current_state(timeline: Engine, database_url: str) -> None:
    now = run(database_url, "report", "status", "--format", "json")
    as_of = run(database_url, "report", "status", "--as-of", "2019-12-01", "--format", "json")
    assert json.loads(now.stdout)["rows"] == json.loads(as_of.stdout)["rows"]


def test_reconstruction_gives_since_and_a_public_timeline(timeline: Engine) -> None:
    with timeline.store.read() as conn:
        (p,) = [p for p in reconstruct(conn, NOW + 20 * DAY) if p.key == "RK-03-01"]
    assert p.state == "implementation"
    assert p.since.date() == (NOW + 17 * DAY).date()
    assert [s.to_state for s in p.timeline][-3:] == ["budget", "funded", "implementation"]


def test_a_backdated_entry_after_a_later_one_does_not_enter_the_past(timeline: Engine) -> None:
    # given RK-03-02 submitted on 3 Sep, then an entry appended with a back-dated time
    timeline.advance("RK-03-02", "submit", actor="koordination", now=NOW + 50 * DAY)
    timeline.advance("RK-03-02", "open_consultation", actor="koordination", now=NOW + DAY)
    cutoff = cutoff_of((NOW + 10 * DAY).date())
    # when the Sachstand of 25 Jul is reconstructed
    with timeline.store.read() as conn:
        states = {p.key: p.state for p in reconstruct(conn, cutoff)}
        heads = {c: s for c, s, _ in heads_as_of(conn, cutoff)}
    # then the chain's prefix stops at its first entry after the cut-off
    assert states["RK-03-02"] == "idea"
    assert heads["RK-03-02"] == 1


def test_lead_times_and_overdue_as_of(timeline: Engine, database_url: str) -> None:
    early = run(database_url, "report", "lead-times", "--as-of", "2019-07-20", "--format", "json")
    late = run(database_url, "report", "lead-times", "--as-of", "2019-11-30", "--format", "json")
    assert early.exit_code == 0 and late.exit_code == 0, early.output + late.output
    names = lambda doc: {r["name"] for r in json.loads(doc.stdout)}  # noqa: E731
    assert "implementation" not in names(early) and "implementation" in names(late)
    result = run(database_url, "report", "overdue", "--as-of", "2019-07-20", "--format", "json")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("31.12.2021", "is not a date"),
        ("2017-12-31", "before 2018"),
        ("2019-12-02", "in the future"),
    ],
)
def test_bad_as_of_is_one_error_line(database_url: str, value: str, message: str) -> None:
    for command in ("status", "lead-times", "overdue"):
        result = run(database_url, "report", command, "--as-of", value)
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith("error:") and message in line


# --- the public groups live in the definition --------------------------------------------


def _problems(text: str) -> list[str]:
    from workflow.errors import InvalidDefinition
    from workflow.process.definition import parse_definition

    with pytest.raises(InvalidDefinition) as info:
        parse_definition(text, "d.yaml")
    return [str(p) for p in info.value.problems]


def test_every_state_names_a_known_public_group() -> None:
    from conftest import DEFINITION

    shipped = DEFINITION.read_text(encoding="utf-8")
    lines = shipped.splitlines()
    # an unknown word: file, line and key
    bad = shipped.replace("    public: in Umsetzung\n", "    public: laufend\n", 1)
    line = next(i for i, s in enumerate(bad.splitlines(), 1) if "public: laufend" in s)
    assert any(p.startswith(f"d.yaml:{line}: states.implementation.public: must be one of")
               for p in _problems(bad))  # fmt: skip
    # a missing one
    missing = shipped.replace("    public: in Umsetzung\n", "", 1)
    assert any("states.implementation.public: must be a non-empty string" in p
               for p in _problems(missing))  # fmt: skip
    # a final state cannot be ongoing
    final = shipped.replace("    final: true\n    public: abgeschlossen\n",
                            "    final: true\n    public: in Umsetzung\n", 1)  # fmt: skip
    assert any("states.completed.public: 'in Umsetzung' is an ongoing status" in p
               for p in _problems(final))  # fmt: skip
    assert sum("public:" in s for s in lines) >= 14
