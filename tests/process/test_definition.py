"""The definition loader and linter, through ``ruhrflow definition check|show``.

Each broken definition is a copy of the shipped one with one precise edit, written to
tmp_path; the linter must name the file, the line and the key of every problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import DEFINITION

from workflow.cli.main import cli
from workflow.errors import InvalidDefinition
from workflow.process.definition import load_definition, parse_definition

SHIPPED = DEFINITION.read_text(encoding="utf-8")
CLEAN_ENV = {"RUHRFLOW_ACTOR": None, "RUHRFLOW_CONFIG": None, "RUHRFLOW_DATABASE_URL": None}


def run(*args: str) -> Result:
    result = CliRunner(env=CLEAN_ENV).invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result


@dataclass
class Broken:
    """A broken copy of the shipped definition and where its edit landed."""

    path: Path
    text: str

    def line_of(self, fragment: str) -> int:
        """The 1-based line of the only line containing ``fragment``."""
        hits = [i for i, line in enumerate(self.text.splitlines(), 1) if fragment in line]
        assert len(hits) == 1, f"{fragment!r} occurs on lines {hits}"
        return hits[0]


def broken(tmp_path: Path, *edits: tuple[str, str], name: str = "broken.yaml") -> Broken:
    """Write the shipped definition with each (old, new) edit applied exactly once."""
    text = SHIPPED
    for old, new in edits:
        assert text.count(old) == 1, f"the shipped definition no longer has {old!r} once"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Broken(path, text)


def transition_index(trigger: str) -> int:
    """Position of ``trigger`` in the shipped transitions list (keys say transitions[i])."""
    triggers = [t.trigger for t in load_definition(DEFINITION).transitions]
    return triggers.index(trigger)


def problem_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.endswith("problem(s)")]


def assert_reports(result: Result, b: Broken, line: int, key: str, message: str) -> None:
    """The check failed (exit 1) and reported ``file:line: key: …message…``."""
    assert result.exit_code == 1, result.output
    expected = f"{b.path}:{line}: {key}: "
    hits = [p for p in problem_lines(result) if p.startswith(expected)]
    assert hits, f"no problem {expected!r} in:\n{result.stderr}"
    assert any(message in h for h in hits), f"{message!r} not in {hits}"


# --- the shipped definition ----------------------------------------------------------------


def test_the_shipped_definition_is_clean() -> None:
    # Given the shipped definition, when it is checked, then the linter finds nothing.
    result = run("definition", "check", str(DEFINITION))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{DEFINITION}: clean"
    # and it says which format the file uses, and what a newer one would add
    assert lines[1] == f"{DEFINITION}: format 2 (inferred from the keys it uses, ruhrflow 0.2.0)"
    assert lines[2].startswith("  format 3 (ruhrflow 0.3.0) would add: format, ")
    assert result.stderr == ""


def test_the_shipped_definition_has_the_ids_of_the_issue() -> None:
    d = load_definition(DEFINITION)
    assert set(d.states) >= {
        "idea", "proposed", "consultation", "ministry_review", "cabinet", "approved", "budget",
        "funded", "implementation", "completed", "discontinued", "rejected", "withdrawn",
    }  # fmt: skip
    finals = {s for s, st in d.states.items() if st.final}
    assert finals == {"completed", "discontinued", "rejected", "withdrawn", "merged"}
    assert d.initial == "idea"
    edges = {(t.trigger, s, t.dest) for t in d.transitions for s in t.sources}
    assert ("admit", "ministry_review", "funded") in edges
    assert ("report_progress", "implementation", "implementation") in edges
    assert {("withdraw", s, "withdrawn") for s in ("idea", "cabinet")} <= edges
    assert d.transition("secure_funding", "budget") is not None
    assert d.transition("secure_funding", "budget").guards == ("financing_secured",)  # type: ignore[union-attr]


# --- one problem at a time -----------------------------------------------------------------


def test_malformed_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    b = broken(tmp_path, ("label: Beteiligung eröffnen\n", "label: [Beteiligung eröffnen\n"))
    result = run("definition", "check", str(b.path))
    assert result.exit_code == 1
    (problem,) = problem_lines(result)
    match = re.match(rf"^{re.escape(str(b.path))}:(\d+): \(yaml\): not valid YAML", problem)
    assert match, problem
    # The parser notices the open bracket on the broken line or the one after it.
    assert int(match[1]) - b.line_of("[Beteiligung eröffnen") in (0, 1)


def test_an_empty_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    result = run("definition", "check", str(path))
    assert result.exit_code == 1
    assert f"{path}:1: (document): the file is empty" in result.stderr


def test_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    # a file that is not there is the caller's mistake: one error line, exit 2
    missing = tmp_path / "nope.yaml"
    result = run("definition", "check", str(missing))
    assert result.exit_code == 2
    assert result.stderr == f"error: {missing}: no such file\n"
    result = run("definition", "check", str(tmp_path))
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    assert "is a directory" in result.stderr and len(result.stderr.splitlines()) == 1


def test_duplicate_key(tmp_path: Path) -> None:
    b = broken(
        tmp_path,
        ("label: Idee im Themenforum\n", "label: Idee im Themenforum\n    label: Nochmal\n"),
    )
    result = run("definition", "check", str(b.path))
    assert_reports(result, b, b.line_of("label: Nochmal"), "states.idea.label", "duplicate key")


def test_wrong_types(tmp_path: Path) -> None:
    b = broken(
        tmp_path,
        ("version: 3\n", "version: eins\n"),
        (
            "    label: Abgeschlossen\n    phase: handeln\n    final: true\n",
            "    label: Abgeschlossen\n    phase: handeln\n    final: vielleicht\n",
        ),
        ("    label: Datum des Beschlusses\n", "    label: [Datum, des, Beschlusses]\n"),
    )
    result = run("definition", "check", str(b.path))
    assert_reports(result, b, b.line_of("version: eins"), "version", "positive integer")
    assert_reports(
        result, b, b.line_of("final: vielleicht"), "states.completed.final", "true or false"
    )
    assert_reports(
        result,
        b,
        b.line_of("[Datum, des, Beschlusses]"),
        "fields.decision_date.label",
        "non-empty string",
    )


def test_unknown_state_in_from(tmp_path: Path) -> None:
    i = transition_index("open_consultation")
    edge = "from: proposed\n    to: consultation"
    b = broken(tmp_path, (edge, edge.replace("proposed", "proposd")))
    result = run("definition", "check", str(b.path))
    assert_reports(
        result, b, b.line_of("from: proposd"), f"transitions[{i}].from", "unknown state 'proposd'"
    )


def test_unknown_state_in_to(tmp_path: Path) -> None:
    i = transition_index("open_consultation")
    edge = "from: proposed\n    to: consultation"
    b = broken(tmp_path, (edge, edge.replace("consultation", "konsultation")))
    result = run("definition", "check", str(b.path))
    assert_reports(
        result, b, b.line_of("to: konsultation"), f"transitions[{i}].to", "unknown state"
    )


def test_unknown_guard(tmp_path: Path) -> None:
    i = transition_index("close_consultation")
    b = broken(tmp_path, ("guards: [consultation_complete]", "guards: [consultation_done]"))
    result = run("definition", "check", str(b.path))
    assert_reports(
        result,
        b,
        b.line_of("consultation_done"),
        f"transitions[{i}].guards",
        "unknown guard 'consultation_done'",
    )


def test_unknown_role(tmp_path: Path) -> None:
    i = transition_index("submit")
    b = broken(tmp_path, ("roles: [forum_lead, coordinator]", "roles: [forum_leader, coordinator]"))
    result = run("definition", "check", str(b.path))
    assert_reports(result, b, b.line_of("forum_leader"), f"transitions[{i}].roles", "unknown role")


def test_unknown_field_in_requires(tmp_path: Path) -> None:
    i = transition_index("reject")
    b = broken(tmp_path, ("requires: [decision_date, reason]", "requires: [decision_date, grund]"))
    result = run("definition", "check", str(b.path))
    assert_reports(
        result,
        b,
        b.line_of("[decision_date, grund]"),
        f"transitions[{i}].requires",
        "unknown field 'grund'",
    )


ORPHAN_STATE = "  verwaist:\n    label: Verwaist\n    phase: handeln\n    final: true\n"


def test_unreachable_state(tmp_path: Path) -> None:
    b = broken(tmp_path, ("states:\n", "states:\n" + ORPHAN_STATE))
    result = run("definition", "check", str(b.path))
    assert_reports(result, b, b.line_of("verwaist:"), "states.verwaist", "unreachable")


def test_non_final_dead_end(tmp_path: Path) -> None:
    # Given a reachable state that is not final and that no transition leaves
    b = broken(
        tmp_path,
        ("states:\n", "states:\n  stillstand:\n    label: Stillstand\n    phase: handeln\n"),
        (
            "transitions:\n",
            "transitions:\n  - trigger: stall\n    from: implementation\n    to: stillstand\n"
            "    roles: [coordinator]\n",
        ),
    )
    result = run("definition", "check", str(b.path))
    assert_reports(result, b, b.line_of("stillstand:"), "states.stillstand", "no way out")


def test_duplicate_trigger_from_one_state(tmp_path: Path) -> None:
    # Given a second 'submit' leaving idea (appended first, so the shipped one is the duplicate)
    b = broken(
        tmp_path,
        (
            "transitions:\n",
            "transitions:\n  - trigger: submit\n    from: idea\n    to: withdrawn\n"
            "    roles: [coordinator]\n",
        ),
    )
    shipped_index = transition_index("submit") + 1
    result = run("definition", "check", str(b.path))
    lines = [i for i, line in enumerate(b.text.splitlines(), 1) if "trigger: submit" in line]
    assert_reports(
        result,
        b,
        lines[1],
        f"transitions[{shipped_index}].trigger",
        "trigger 'submit' leaves state 'idea' twice",
    )


# --- many problems at once -------------------------------------------------------------------


def test_every_problem_is_listed_and_counted(tmp_path: Path) -> None:
    b = broken(
        tmp_path,
        ("guards: [consultation_complete]", "guards: [consultation_done]"),
        ("roles: [forum_lead, coordinator]", "roles: [forum_leader, coordinator]"),
        ("requires: [decision_date, reason]", "requires: [decision_date, grund]"),
        ("version: 3\n", "version: 0\n"),
    )
    result = run("definition", "check", str(b.path))
    assert result.exit_code == 1
    problems = problem_lines(result)
    assert len(problems) == 4, problems
    for fragment in ("consultation_done", "forum_leader", "grund", "version: must"):
        assert any(fragment in p for p in problems), fragment
    assert result.stderr.splitlines()[-1] == f"{b.path}: 4 problem(s)"
    assert result.stdout == ""


def test_graph_problems_are_listed_beside_other_problems(tmp_path: Path) -> None:
    # Given an unknown guard AND an unreachable state, when checked, then both are listed.
    b = broken(
        tmp_path,
        ("guards: [consultation_complete]", "guards: [consultation_done]"),
        ("states:\n", "states:\n" + ORPHAN_STATE),
    )
    result = run("definition", "check", str(b.path))
    problems = problem_lines(result)
    assert any("unknown guard 'consultation_done'" in p for p in problems), problems
    assert any("states.verwaist: unreachable state" in p for p in problems), problems


def test_the_loader_raises_with_every_problem(tmp_path: Path) -> None:
    b = broken(
        tmp_path,
        ("guards: [consultation_complete]", "guards: [consultation_done]"),
        ("roles: [forum_lead, coordinator]", "roles: [forum_leader, coordinator]"),
    )
    with pytest.raises(InvalidDefinition) as info:
        load_definition(b.path)
    assert len(info.value.problems) == 2
    assert {p.file for p in info.value.problems} == {str(b.path)}
    assert all(p.line is not None for p in info.value.problems)
    assert info.value.exit_code == 2


def test_a_changed_text_has_another_content_hash() -> None:
    a = parse_definition(SHIPPED, "a.yaml")
    b = parse_definition(SHIPPED.replace("version: 3\n", "version: 4\n"), "b.yaml")
    assert a.content_hash != b.content_hash
    assert (a.version, b.version) == (3, 4)


# --- drawing -------------------------------------------------------------------------------


def test_show_text() -> None:
    result = run("definition", "show", str(DEFINITION), "--format", "text")
    assert result.exit_code == 0, result.output
    assert "ruhr_konferenz v3" in result.stdout
    assert "Idee im Themenforum" in result.stdout
    assert re.search(r"approve\s+cabinet → approved", result.stdout)


def test_show_defaults_to_the_configured_definition_as_text() -> None:
    result = run("definition", "show")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Ruhr-Konferenz (ruhr_konferenz v")


def test_show_mermaid() -> None:
    result = run("definition", "show", str(DEFINITION), "--format", "mermaid")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> idea" in lines
    # German labels on the transitions too, not the English trigger ids
    assert "    cabinet --> approved : Kabinettbeschluss (Umsetzung)" in lines
    assert "    implementation --> implementation : Umsetzungsstand melden" in lines
    assert "    withdrawn --> [*]" in lines
    # one box per phase, holding its states
    phases = _blocks(lines, "    state ")
    assert list(phases) == ['"Zuhören" as phase_zuhoeren {', '"Entscheiden" as phase_entscheiden {',
                            '"Handeln" as phase_handeln {']  # fmt: skip
    assert "        cabinet : Kabinettvorlage" in phases['"Entscheiden" as phase_entscheiden {']
    assert "        approved : Vom Kabinett beschlossen" in phases['"Handeln" as phase_handeln {']
    # Mermaid takes everything after ':' as the label; a second ':' would break it.
    assert all(line.count(":") <= 1 for line in lines)


def test_show_dot() -> None:
    result = run("definition", "show", str(DEFINITION), "--format", "dot")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith('digraph "ruhr_konferenz" {')
    assert out.rstrip().endswith("}")
    assert 'cabinet -> approved [label="Kabinettbeschluss (Umsetzung)"];' in out
    assert re.search(r"completed \[label=\"Abgeschlossen\", peripheries=2\]", out)
    # top to bottom, one cluster per phase with its states, the phases stacked
    assert "rankdir=TB;" in out and "rankdir=LR" not in out
    clusters = _blocks(out.splitlines(), "    subgraph ")
    assert list(clusters) == ['"cluster_zuhoeren" {', '"cluster_entscheiden" {',
                              '"cluster_handeln" {']  # fmt: skip
    assert '        label="Entscheiden";' in clusters['"cluster_entscheiden" {']
    assert any(line.startswith("        cabinet [") for line in clusters['"cluster_entscheiden" {'])
    assert "    proposed -> consultation [style=invis, weight=10];" in out


def _blocks(lines: list[str], opener: str) -> dict[str, list[str]]:
    """The lines inside each ``opener … {`` block, by the rest of its first line."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith(opener):
            current = blocks.setdefault(line.removeprefix(opener), [])
        elif line == "    }":
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_show_of_a_broken_file_is_one_error_line(tmp_path: Path) -> None:
    b = broken(tmp_path, ("guards: [consultation_complete]", "guards: [consultation_done]"))
    result = run("definition", "show", str(b.path))
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "consultation_done" in line


def test_show_rejects_an_unknown_format() -> None:
    result = run("definition", "show", str(DEFINITION), "--format", "svg")
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr
