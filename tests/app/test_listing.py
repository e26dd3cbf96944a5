"""One CSV for the CLI's listings and the web's downloads (workflow/app/listing.py, #27.7)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

from workflow.app.listing import Field, csv_cell, write_csv

FIELDS = [
    Field("key", "KEY", german="Schlüssel"),
    Field("cost_estimate", "COST", "amount", german="Kostenschätzung"),
    Field("days", "DAYS", "number", german="Tage"),
    Field("participating", "PARTICIPATING", "list", german="Beteiligte Ressorts"),
    Field("updated_at", "UPDATED", "time", german="Letzte Änderung"),
    Field("arrow", "FROM → TO", machine=False),
    Field("title", "TITLE"),  # no German name: its key
]
ROW = {
    "key": "RK-03-01",
    "cost_estimate": Decimal("2500000.5"),
    "days": 12.25,
    "participating": ["MWIDE", "VM"],
    "updated_at": datetime(2019, 11, 5, 11, 0, tzinfo=UTC),
    "arrow": "x",
    "title": '=HYPERLINK("http://x")',
}


def _written(**options: bool) -> tuple[str, int]:
    out = io.StringIO()
    counts = list(write_csv(out, [ROW, ROW], FIELDS, **options))
    return out.getvalue(), counts[-1]


def test_plain_csv_names_the_columns_by_their_keys() -> None:
    text, count = _written()
    assert count == 2
    header, first, *_ = text.split("\n")
    assert header == "key,cost_estimate,days,participating,updated_at,title"
    assert first == (
        'RK-03-01,2500000.50,12.25,"MWIDE,VM",2019-11-05T11:00:00Z,"\'=HYPERLINK(""http://x"")"'
    )


def test_german_excel_has_a_bom_semicolons_decimal_commas_and_german_headers() -> None:
    text, _ = _written(excel=True, german=True)
    assert text.startswith(
        "\ufeffSchlüssel;Kostenschätzung;Tage;Beteiligte Ressorts;Letzte Änderung;title\n"
    )
    first = text.split("\n")[1]
    assert first.startswith("RK-03-01;2500000,50;12,25;MWIDE,VM;2019-11-05T11:00:00Z;")
    assert first.endswith(';"\'=HYPERLINK(""http://x"")"')  # the formula is text


def test_a_cell_by_kind() -> None:
    assert csv_cell(None, "amount", excel=True) == ""
    assert csv_cell(True, "flag", excel=False) == "true"
    assert csv_cell({"b": 1, "a": "ä"}, "json", excel=False) == '{"a":"ä","b":1}'
    assert csv_cell(Decimal("-1250.5"), "amount", excel=True) == "-1250,50"


def test_every_proposal_field_has_a_german_name() -> None:
    from workflow.app.listing import PROPOSAL_FIELDS

    assert all(f.german and f.german != f.key for f in PROPOSAL_FIELDS)
    assert len({f.german for f in PROPOSAL_FIELDS}) == len(PROPOSAL_FIELDS)
