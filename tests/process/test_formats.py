"""Definition formats (#23): a file written for an earlier release keeps loading.

The rule (workflow/process/formats.py, README "Development"): a key added after format 1 is
never required of a file that does not use its format. These tests hold every later key to it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from workflow.errors import InvalidDefinition
from workflow.process.definition import PUBLIC_GROUPS, parse_definition
from workflow.process.formats import CURRENT, FORMATS, default_public
from workflow.process.guards import REGISTRY

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "definitions" / "ruhr_konferenz.yaml"
FIXTURES = REPO / "tests" / "upgrade" / "fixtures"


def _registered_sources() -> list[tuple[str, str]]:
    """Every definition source an earlier release registered in its fixture database."""
    found = []
    for db in sorted(FIXTURES.glob("*/ruhrflow.db")):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            for version, source in con.execute("SELECT version, source FROM definitions"):
                found.append((f"{db.parent.name}-v{version}", source))
        finally:
            con.close()
    return found


@pytest.mark.parametrize(("name", "source"), _registered_sources(), ids=lambda v: str(v)[:12])
def test_every_definition_an_earlier_release_registered_loads(name: str, source: str) -> None:
    definition = parse_definition(source, name)
    assert all(s.public in PUBLIC_GROUPS for s in definition.states.values())


def _without(raw: dict, path: str) -> dict:  # type: ignore[type-arg]
    """``raw`` with every value at ``path`` (``*`` any key) removed."""
    parts = path.split(".")

    def strip(node: object, rest: list[str]) -> None:
        if len(rest) == 1:
            if isinstance(node, dict):
                if rest[0] == "*":
                    node.clear()
                else:
                    node.pop(rest[0], None)
            elif isinstance(node, list) and rest[0] == "*":
                node.clear()
            return
        children = (
            list(node.values()) if isinstance(node, dict) and rest[0] == "*"
            else [node.get(rest[0])] if isinstance(node, dict) else []
        )  # fmt: skip
        for child in children:
            strip(child, rest[1:])

    strip(raw, parts)
    return raw


@pytest.mark.parametrize("fmt", [f.number for f in FORMATS[1:]])
def test_the_shipped_definition_without_the_keys_of_a_format_loads_under_the_one_before(
    fmt: int,
) -> None:
    # Given the shipped definition without every key that format `fmt` or a later one added
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for f in FORMATS:
        for key in f.added if f.number >= fmt else ():
            raw = _without(raw, key.path)
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    # then it loads, read under the format before
    definition = parse_definition(text, f"before format {fmt}")
    assert definition.file_format == fmt - 1


def test_a_format_1_file_gets_the_public_groups_by_the_documented_rule() -> None:
    raw = _without(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")), "states.*.public")
    raw["notices"] = {}
    definition = parse_definition(yaml.safe_dump(raw, allow_unicode=True), "v1-like")
    assert definition.file_format == 1 and not definition.format_declared
    shipped = parse_definition(SHIPPED.read_text(encoding="utf-8"), str(SHIPPED))
    # the Ruhr-Konferenz's own states keep the groups the shipped file gives them
    assert {s: d.public for s, d in definition.states.items()} == {
        s: d.public for s, d in shipped.states.items()
    }
    # any other state is never counted in the public figures
    assert default_public("pilotphase", final=False) == "in Vorbereitung"
    assert default_public("eingestellt", final=True) == "nicht gezählt"


def test_a_declared_format_is_checked_against_the_keys_used() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition("format: 1\n" + text, "f1.yaml")
    messages = [str(p) for p in refused.value.problems]
    assert any("states.*.public" in m and "declare format: 2" in m for m in messages), messages
    with pytest.raises(InvalidDefinition) as newer:
        parse_definition(f"format: {CURRENT + 1}\n" + text, "future.yaml")
    assert any("upgrade ruhrflow" in str(p) for p in newer.value.problems)
    # format 3 needs the German text of every guard the transitions name
    with pytest.raises(InvalidDefinition) as untold:
        parse_definition(f"format: {CURRENT}\n" + text, "current.yaml")
    assert any("needs its German text" in str(p) for p in untold.value.problems)
    texts = "".join(f"  {name}: {guard.text_de} (Test)\n" for name, guard in REGISTRY.items())
    declared = parse_definition(f"format: {CURRENT}\n{text}\nguards:\n{texts}", "current.yaml")
    assert declared.file_format == CURRENT and declared.format_declared
    assert declared.guard_text("cost_estimated") == "Eine Kostenschätzung liegt vor (Test)"
    # a file of an older format gets the registry's text
    older = parse_definition(text, "older.yaml")
    assert older.guard_text("cost_estimated") == "Eine Kostenschätzung liegt vor"


def test_a_format_2_file_still_needs_public_on_every_state() -> None:
    text = SHIPPED.read_text(encoding="utf-8").replace("    public: in Prüfung\n", "", 1)
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition(text, "partly.yaml")
    assert any(p.key == "states.approved.public" for p in refused.value.problems)
