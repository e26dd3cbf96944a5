"""The review's definition probes, kept: each is a problem with file, line and key — never
exit 70, never a traceback, never a check that passes and a later command that fails.

Given the shipped definition with one value changed, when ``ruhrflow definition check``
reads it, then it lists the problem (exit 1); a file that is no definition at all (a
device, a binary, a huge file) is bad input (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
SHIPPED = (REPO / "definitions" / "ruhr_konferenz.yaml").read_text(encoding="utf-8")


def changed(old: str, new: str) -> str:
    assert old in SHIPPED, old
    return SHIPPED.replace(old, new, 1)


def check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["definition", "check", str(path)])
    return result.exit_code, result.output


DAY = "date: 2019-07-15"
IDEA = "label: Idee im Themenforum"
FORUM = "label: Einreichung der Vorschläge durch die Themenforen"
BOUNDS = "    min: 0\n    max: 100"
PROBES = [
    (changed(DAY, "date: 2019-02-30"), "deadlines.forum_submission.date", "2019-02-30"),
    (changed(DAY, "date: 0001-01-01"), "deadlines.forum_submission.date", "must lie between"),
    (changed(IDEA, 'label: "Idee \\e[31m"'), "states.idea.label", "control character"),
    (changed(IDEA, 'label: "Idee \\u202e"'), "states.idea.label", "bidi control"),
    (changed(FORUM, 'label: "X \\u202e"'), "deadlines.forum_submission.label", "bidi control"),
    (changed(BOUNDS, "    min: 100\n    max: 0"), "fields.progress.min", "greater than max"),
    (changed("    min: 0\n", "    min: .nan\n"), "fields.progress.min", "finite number"),
    (changed("    max: 100\n", "    max: .inf\n"), "fields.progress.max", "finite number"),
    (changed("    min: 0\n", "    min: true\n"), "fields.progress.min", "finite number"),
    (changed(f"    {IDEA}", "    lable: Idee"), "states.idea.lable", "did you mean 'label'?"),
    (
        changed("  auditor: Prüfung (nur lesend)", '  auditor: "Prüfung \\e[8m"'),
        "roles.auditor",
        "control character",
    ),
    (
        changed("  auditor: Prüfung (nur lesend)", "  auditor: 7"),
        "roles.auditor",
        "non-empty string",
    ),
    (
        changed("    remind: [7d, 1d]", "    remnd: [7d]"),
        "deadlines.forum_submission.remnd",
        "did you mean 'remind'?",
    ),
]


@pytest.mark.parametrize(("text", "key", "message"), PROBES)
def test_a_bad_value_is_a_problem_with_its_key(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    path = tmp_path / "def.yaml"
    path.write_text(text, encoding="utf-8")
    code, output = check(path)
    assert code == 1, output
    assert f": {key}: " in output and message in output, output


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_before_it_is_read(special: str) -> None:
    code, output = check(Path(special))
    assert code == 2 and "not a regular file" in output and output.count("\n") == 1, output


def test_a_binary_or_huge_file_is_refused(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe")
    code, output = check(binary)
    assert code == 2 and "not UTF-8" in output, output
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * (4 * 1024 * 1024) + "\n", encoding="utf-8")
    code, output = check(huge)
    assert code == 2 and "larger than" in output, output


def test_a_description_may_span_lines(tmp_path: Path) -> None:
    text = changed(f"    {IDEA}", f"    {IDEA}\n    description: |\n      Zeile 1\n      Zeile 2")
    path = tmp_path / "def.yaml"
    path.write_text(text, encoding="utf-8")
    code, output = check(path)
    assert code == 0, output


def test_the_shipped_definition_is_still_clean() -> None:
    path = REPO / "definitions" / "ruhr_konferenz.yaml"
    code, output = check(path)
    assert code == 0 and output.startswith(f"{path}: clean\n"), output
