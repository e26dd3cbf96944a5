"""Shipped data cites public sources only: no row, and no page shipped beside it, names a
path or note internal to the project, and what a user sees (``proposal show``) neither."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from click.testing import CliRunner

from workflow.app.resources import shipped_dir, shipped_file
from workflow.cli.main import cli

DATA = shipped_file("definitions", "data/ruhr_konferenz_2019.csv")
# A relative path to a file of the project (shared/…, docs/x.md, …) or a word for the
# project's internal notes: a user cannot follow either.
INTERNAL = re.compile(
    r"(?<![\w/.:])(?:shared|docs|tests|bench|workflow)/[\w./-]+|domain facts|fact sheet|\.md\b",
    re.IGNORECASE,
)
URL = re.compile(r"\bhttps?://[^\s;,)]+")


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(DATA.read_text(encoding="utf-8"), newline="")))


def test_no_shipped_row_names_an_internal_source() -> None:
    rows = _rows()
    assert len(rows) == 75
    for row in rows:
        without_urls = URL.sub("", row["source"])
        assert not INTERNAL.search(without_urls), (row["key"], row["source"])
        for url in URL.findall(row["source"]):
            assert url.startswith("https://"), (row["key"], url)


def test_the_data_readme_shipped_beside_it_cites_public_sources_only() -> None:
    page = (shipped_dir("definitions") / "data" / "README.md").read_text(encoding="utf-8")
    sources = page.split("## Sources", 1)[1]
    assert URL.findall(sources) and not INTERNAL.search(URL.sub("", sources))
    assert "domain facts" not in page and "shared/" not in page


def test_the_shipped_configuration_names_no_internal_source() -> None:
    for path in sorted(shipped_dir("config").glob("*.toml")):
        text = URL.sub("", path.read_text(encoding="utf-8"))
        assert not INTERNAL.search(text), (path.name, INTERNAL.search(text))


def test_proposal_show_prints_no_internal_note(tmp_path: Path) -> None:
    # given the shipped data imported into a fresh database
    db = f"sqlite:///{tmp_path / 'ruhrflow.db'}"
    runner = CliRunner(env={"RUHRFLOW_ACTOR": None, "RUHRFLOW_CONFIG": None})
    base = ["--db", db, "--now", "2019-07-01T10:00"]
    assert runner.invoke(cli, [*base, "init"]).exit_code == 0
    imported = runner.invoke(cli, [*base, "--as", "koordination", "proposal", "import", str(DATA)])
    assert imported.exit_code == 0, imported.output
    # when a named proposal is shown, then its source cites public statements and pages only
    shown = runner.invoke(cli, [*base, "proposal", "show", "RK-01-01"])
    assert shown.exit_code == 0 and "öffentliche Angaben der Landesregierung NRW" in shown.stdout
    assert not INTERNAL.search(URL.sub("", shown.stdout))
    detail = json.loads(runner.invoke(cli, [*base, "proposal", "show", "RK-03-01",
                                             "--format", "json"]).stdout)  # fmt: skip
    assert not INTERNAL.search(URL.sub("", detail["data"]["source"]))
