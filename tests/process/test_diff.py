"""``definition diff``: what changed between two versions, by category (pure, no database)."""

from __future__ import annotations

from pathlib import Path

from workflow.process.definition import parse_definition
from workflow.process.diff import CATEGORIES, diff_definitions

SHIPPED = (Path(__file__).resolve().parents[2] / "definitions" / "ruhr_konferenz.yaml").read_text(
    encoding="utf-8"
)


def changed(*replacements: tuple[str, str]) -> str:
    text = SHIPPED.replace("version: 3\n", "version: 4\n", 1)
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_a_version_compared_with_itself_has_no_difference() -> None:
    d = parse_definition(SHIPPED, "a.yaml")
    assert diff_definitions(d, d) == []


def test_guards_fields_roles_and_notices_added_removed_and_changed() -> None:
    # Given a next version without the consultation guard, with the progress capped at 99, a
    # new field, the auditor role renamed and the reminder sent to the coordinators too
    old = parse_definition(SHIPPED, "a.yaml")
    new = parse_definition(
        changed(
            ("    guards: [consultation_complete]\n", ""),
            ("    max: 100\n", "    max: 99\n"),
            ("  reason:\n    type: text\n", "  note:\n    type: text\n    label: Notiz\n"
             "  reason:\n    type: text\n"),
            ("  auditor: Prüfung (nur lesend)\n", "  auditor: Rechnungsprüfung (nur lesend)\n"),
            ("  - event: reminder\n    template: reminder\n    to: [lead_ministry]\n",
             "  - event: reminder\n    template: reminder\n    to: [lead_ministry, coordinator]\n"),
        ),
        "b.yaml",
    )  # fmt: skip
    # when they are compared
    found = {(c.category, c.item, c.change): c.detail for c in diff_definitions(old, new)}
    # then each difference is named in its category, with the attribute that changed
    assert ("guards", "close_consultation:consultation_complete", "removed") in found
    assert found[("fields", "progress", "changed")] == "max: 100 → 99"
    assert ("fields", "note", "added") in found
    assert found[("roles", "auditor", "changed")] == (
        "label: Prüfung (nur lesend) → Rechnungsprüfung (nur lesend)"
    )
    assert found[("notices", "reminder:*:reminder", "changed")] == (
        "to: [lead_ministry] → [lead_ministry, coordinator]"
    )
    assert {category for category, _, _ in found} <= set(CATEGORIES)
