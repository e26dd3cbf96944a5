"""Checks for the shipped Ruhr-Konferenz 2019 proposal list (definitions/data)."""

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

CSV_PATH = Path(__file__).resolve().parents[2] / "definitions" / "data" / "ruhr_konferenz_2019.csv"

HEADER = [
    "key",
    "title",
    "handlungsfeld",
    "themenforum",
    "lead",
    "participating",
    "cost_estimate",
    "summary",
    "source",
]
MINISTRIES = {
    "StK",
    "MWIDE",
    "MHKBG",
    "MSB",
    "IM",
    "VM",
    "FM",
    "MKW",
    "MULNV",
    "MAGS",
    "MKFFI",
    "MBEI",
    "JM",
}
KEY_RE = re.compile(r"^RK-(\d{2})-(\d{2})$")
PLACEHOLDER_RE = re.compile(r"^Vorschlag (\d{2})-(\d{2}) \(Platzhalter\)$")
PLACEHOLDER_SOURCE = "Platzhalter – nicht öffentlich einzeln benannt"


@pytest.fixture(scope="module")
def header() -> list[str]:
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        return next(csv.reader(f))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_header(header: list[str]) -> None:
    assert header == HEADER


def test_row_count(rows: list[dict[str, str]]) -> None:
    assert len(rows) == 75


def test_no_missing_or_extra_cells(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert None not in row, f"extra cells in {row}"
        assert all(v is not None for v in row.values()), f"missing cells in {row}"


def test_keys_unique_and_well_formed(rows: list[dict[str, str]]) -> None:
    keys = [r["key"] for r in rows]
    assert len(set(keys)) == len(keys), [k for k, n in Counter(keys).items() if n > 1]
    for key in keys:
        assert KEY_RE.match(key), key


def test_key_forum_matches_themenforum(rows: list[dict[str, str]]) -> None:
    for row in rows:
        m = KEY_RE.match(row["key"])
        assert m is not None
        assert int(m.group(1)) == int(row["themenforum"]), row["key"]
        assert int(m.group(2)) >= 1, row["key"]


def test_twenty_forums_each_with_one_to_six_proposals(rows: list[dict[str, str]]) -> None:
    per_forum = Counter(int(r["themenforum"]) for r in rows)
    assert set(per_forum) == set(range(1, 21))
    for forum, n in per_forum.items():
        assert 1 <= n <= 6, (forum, n)


def test_all_five_handlungsfelder_used(rows: list[dict[str, str]]) -> None:
    values = {r["handlungsfeld"] for r in rows}
    assert values == {"1", "2", "3", "4", "5"}


def test_lead_codes_valid(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["lead"] in MINISTRIES, (row["key"], row["lead"])


def test_participating_codes_valid(rows: list[dict[str, str]]) -> None:
    for row in rows:
        if not row["participating"]:
            continue
        codes = row["participating"].split(";")
        assert len(set(codes)) == len(codes), row["key"]
        for code in codes:
            assert code in MINISTRIES, (row["key"], code)
            assert code != row["lead"], row["key"]


def test_cost_is_positive_integer(rows: list[dict[str, str]]) -> None:
    for row in rows:
        cost = row["cost_estimate"]
        assert cost.isdigit(), (row["key"], cost)
        assert int(cost) > 0, row["key"]


def test_exactly_one_altschulden_proposal(rows: list[dict[str, str]]) -> None:
    hits = [r for r in rows if "altschulden" in r["title"].lower()]
    assert len(hits) == 1
    assert hits[0]["lead"] in {"MHKBG", "FM"}


def test_every_row_has_source_and_text(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["source"].strip(), row["key"]
        assert row["title"].strip(), row["key"]
        assert row["summary"].strip(), row["key"]


def test_placeholders_are_labelled(rows: list[dict[str, str]]) -> None:
    for row in rows:
        is_placeholder_title = "Platzhalter" in row["title"]
        is_placeholder_source = row["source"].startswith(PLACEHOLDER_SOURCE)
        assert is_placeholder_title == is_placeholder_source, row["key"]
        if is_placeholder_title:
            m = PLACEHOLDER_RE.match(row["title"])
            assert m is not None, row["title"]
            assert row["key"] == f"RK-{m.group(1)}-{m.group(2)}", row["key"]


def test_known_figures(rows: list[dict[str, str]]) -> None:
    by_title = {r["title"]: r for r in rows}
    assert by_title["Familiengrundschulzentren"]["cost_estimate"] == "3600000"
    assert by_title["chemstars.nrw"]["cost_estimate"] == "440000"
    assert by_title["ÖPNV-Initiative"]["cost_estimate"] == "1200000000"
    klima = by_title["Klimaresiliente Region mit internationaler Strahlkraft"]
    assert klima["cost_estimate"] == "250000000"
    siko = next(r for r in rows if "SiKo Ruhr" in r["title"])
    assert (siko["key"], siko["lead"]) == ("RK-03-01", "IM")


def test_neue_mobilitaet_has_its_six_proposals(rows: list[dict[str, str]]) -> None:
    named = {
        "ÖPNV-Initiative",
        "Vernetzte Mobilität",
        "Mobilitätszentrale",
        "Mobilität für den Industriestandort",
        "Mobil in der Stadt",
        "Mobilitätsregion",
    }
    forum_rows = [r for r in rows if r["title"] in named]
    assert len(forum_rows) == 6
    assert {r["themenforum"] for r in forum_rows} == {forum_rows[0]["themenforum"]}
    assert all(r["lead"] == "VM" for r in forum_rows)
    assert sum(1 for r in rows if r["themenforum"] == forum_rows[0]["themenforum"]) == 6
