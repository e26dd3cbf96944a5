"""``ruhrflow publish``: the static board, its open data and the checkpoint behind it."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import NOW
from sqlalchemy import select
from support import add_proposal, walk_to

from workflow.audit.asof import cutoff_of, heads_as_of
from workflow.audit.checkpoint import heads_digest
from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.publish.opendata import neutralise
from workflow.store.schema import actor_refs

DAY = timedelta(days=1)
STATEMENT = "Geheime Stellungnahme der Stadt Musterstadt"
COMMENT = "Rückfrage an referent.in@musterstadt.example"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def run(database_url: str, *args: str, now: str = "2019-12-01T10:00") -> Result:
    env = {"RUHRFLOW_AUDIT_KEY": None, "RUHRFLOW_ACTOR": None}
    return CliRunner().invoke(cli, ["--db", database_url, "--now", now, *args], env=env)


@pytest.fixture
def portfolio(engine: Engine) -> Engine:
    """Decided projects in every public group, one before the decision, one withdrawn."""
    add_proposal(engine, NOW, key="RK-01-01", handlungsfeld=1)  # in Vorbereitung
    walk_to(engine, add_proposal(engine, NOW, key="RK-02-01", handlungsfeld=2), "approved", NOW)
    key = add_proposal(engine, NOW, key="RK-03-01", title='=HYPERLINK("http://x")')
    walk_to(engine, key, "implementation", NOW)
    engine.advance(key, "report_progress", actor="im", now=NOW + DAY, fields={"progress": 40},
                   comment=COMMENT)  # fmt: skip
    walk_to(engine, add_proposal(engine, NOW, key="RK-03-02"), "completed", NOW)
    walk_to(engine, add_proposal(engine, NOW, key="RK-03-03"), "funded", NOW)
    engine.advance("RK-03-03", "discontinue", actor="koordination", now=NOW + DAY,
                   fields={"reason": "Interne Begründung"}, comment=COMMENT)  # fmt: skip
    key = add_proposal(engine, NOW, key="RK-05-01")
    walk_to(engine, key, "consultation", NOW)
    engine.record_statement(key, party="Stadt Musterstadt", group="kommune", position="oppose",
                            text=STATEMENT, actor="koordination", now=NOW)  # fmt: skip
    engine.advance(key, "withdraw", actor="koordination", now=NOW + DAY,
                   fields={"reason": "Außerhalb behandelt"})  # fmt: skip
    return engine


def publish(database_url: str, out: Path, *extra: str) -> Result:
    return run(database_url, "--as", "koordination", "publish", "--output", str(out), *extra)


def test_the_board_shows_the_decided_projects(portfolio: Engine, database_url: str,
                                              tmp_path: Path) -> None:  # fmt: skip
    result = publish(database_url, tmp_path / "site")
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<html lang="de">' in index
    assert "<h1>" in index and '<th scope="col"' in index and '<th scope="row"' in index
    assert 'role="img"' in index and '<title id="chart-title">' in index
    assert "<script" not in index
    # four decided projects: one in each public group; idea and withdrawn not counted
    assert "Balkendiagramm: in Prüfung 1, in Umsetzung 1, abgeschlossen 1, nicht" in index
    assert "Sachstand 01.12.2019" in index
    pages = sorted(p.name for p in site.glob("projekt-*.html"))
    assert pages == ["projekt-rk-02-01.html", "projekt-rk-03-01.html",
                     "projekt-rk-03-02.html", "projekt-rk-03-03.html"]  # fmt: skip
    page = (site / "projekt-rk-03-01.html").read_text(encoding="utf-8")
    # autoescaped title; status, since, Projektvolumen, progress with its date
    assert "=HYPERLINK(&#34;http://x&#34;)" in page
    assert "in Umsetzung</strong> seit 15.07.2019" in page
    assert "1.000.000 €" in page and "40 % (gemeldet am 16.07.2019)" in page
    assert "Ministerium des Innern (IM)" in page
    fields = (site / "fields.html").read_text(encoding="utf-8")
    for name in ("kennung", "status_seit", "projektvolumen_eur", "umsetzungsstand_prozent"):
        assert f"<code>{name}</code>" in fields


def test_a_board_of_real_data_carries_no_sample_note_and_one_of_sample_data_does(
    portfolio: Engine, database_url: str, tmp_path: Path
) -> None:
    from workflow.store.installation import mark_sample_data

    assert publish(database_url, tmp_path / "real").exit_code == 0
    for page in (tmp_path / "real").glob("*.html"):
        assert 'class="sample"' not in page.read_text(encoding="utf-8")
    # when the database says it holds sample data (as `ruhrflow demo` makes it)
    with portfolio.store.write() as conn:
        mark_sample_data(conn, "Beispieldaten <erfunden> & zum Testen.")
    assert publish(database_url, tmp_path / "sample").exit_code == 0
    pages = list((tmp_path / "sample").glob("*.html"))
    assert len(pages) == 6  # index, fields and four projects
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<strong>Hinweis:</strong> Beispieldaten &lt;erfunden&gt; &amp; zum Testen." in html
    catalog = (tmp_path / "sample" / "catalog.ttl").read_text(encoding="utf-8")
    assert 'dct:description "Beispieldaten <erfunden> & zum Testen. Sachstand' in catalog


def test_the_cabinet_decision_is_the_date_recorded_with_it(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # given a decision of 5 Nov 2019 entered two days later, and an admission without a date
    key = add_proposal(engine, NOW, key="RK-03-01")
    walk_to(engine, key, "cabinet", NOW)
    entered = datetime(2019, 11, 7, 9, 0, tzinfo=UTC)
    engine.advance(key, "approve", actor="koordination", now=entered,
                   fields={"decision_date": "2019-11-05"})  # fmt: skip
    # when the board is published
    assert publish(database_url, tmp_path).exit_code == 0
    # then its Kabinettbeschluss is the cabinet's date, not the day it was entered
    rows = list(csv.DictReader(io.StringIO(
        (tmp_path / "proposals.csv").read_text(encoding="utf-8-sig")), delimiter=";"))  # fmt: skip
    assert [(r["kennung"], r["beschluss"]) for r in rows] == [("RK-03-01", "2019-11-05")]
    page = (tmp_path / "projekt-rk-03-01.html").read_text(encoding="utf-8")
    assert "<dt>Kabinettbeschluss</dt><dd>05.11.2019</dd>" in " ".join(page.split()).replace(
        "> <", "><"
    )


def test_the_csv_opens_in_german_excel(portfolio: Engine, database_url: str,
                                       tmp_path: Path) -> None:  # fmt: skip
    assert publish(database_url, tmp_path).exit_code == 0
    raw = (tmp_path / "proposals.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert [r["kennung"] for r in rows] == ["RK-02-01", "RK-03-01", "RK-03-02", "RK-03-03"]
    row = rows[1]
    assert row["titel"] == '\'=HYPERLINK("http://x")'  # neutralised (OWASP)
    assert row["projektvolumen_eur"] == "1000000,00"
    assert row["status"] == "in Umsetzung" and row["umsetzungsstand_prozent"] == "40"
    assert row["status_seit"] == "2019-07-15"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_starts_are_neutralised(start: str) -> None:
    assert neutralise(start + "1+1") == "'" + start + "1+1"
    assert neutralise("Ruhr" + start) == "Ruhr" + start


def test_json_and_catalog(portfolio: Engine, database_url: str, tmp_path: Path) -> None:
    rdflib = pytest.importorskip("rdflib")
    result = publish(database_url, tmp_path, "--base-url", "https://daten.example/ruhr/")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "proposals.json").read_text(encoding="utf-8"))
    assert doc["stichtag"] == "2019-12-01"
    assert doc["status"] == {"in Prüfung": 1, "in Umsetzung": 1, "abgeschlossen": 1,
                             "nicht weiterverfolgt": 1}  # fmt: skip
    project = next(p for p in doc["projekte"] if p["kennung"] == "RK-03-01")
    assert project["projektvolumen_eur"] == 1_000_000 and project["umsetzungsstand_prozent"] == 40
    assert project["verlauf"][-1] == {"datum": "2019-07-15", "schritt": "In Umsetzung",
                                      "status": "in Umsetzung"}  # fmt: skip
    # a completed project is done: 100 %, as of its completion, not its last report (50 %)
    done = next(p for p in doc["projekte"] if p["kennung"] == "RK-03-02")
    assert done["status"] == "abgeschlossen"
    assert (done["umsetzungsstand_prozent"], done["umsetzungsstand_datum"]) == (100, "2019-07-15")
    g = rdflib.Graph().parse(tmp_path / "catalog.ttl", format="turtle")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    dct = rdflib.Namespace("http://purl.org/dc/terms/")
    dcatde = rdflib.Namespace("http://dcat-ap.de/def/dcatde/")
    rdf_type = rdflib.RDF.type
    (catalog,) = g.subjects(rdf_type, dcat.Catalog)
    (dataset,) = g.subjects(rdf_type, dcat.Dataset)
    assert (catalog, dcat.dataset, dataset) in g
    for prop in (dct.title, dct.description, dct.publisher, dct.issued, dct.modified,
                 dcatde.contributorID, dct.license):  # fmt: skip
        assert g.value(dataset, prop) is not None, prop
    assert doc["audit_digest"] in str(g.value(dataset, dct.description))
    media = {}
    for dist in g.objects(dataset, dcat.distribution):
        assert (dist, rdf_type, dcat.Distribution) in g
        assert g.value(dist, dct.license) is not None
        media[str(g.value(dist, dcat.mediaType))] = str(g.value(dist, dcat.downloadURL))
    assert media == {
        "https://www.iana.org/assignments/media-types/text/csv":
            "https://daten.example/ruhr/proposals.csv",
        "https://www.iana.org/assignments/media-types/application/json":
            "https://daten.example/ruhr/proposals.json",
    }  # fmt: skip


def test_nothing_personal_or_internal_is_published(portfolio: Engine, database_url: str,
                                                   tmp_path: Path) -> None:  # fmt: skip
    site = tmp_path / "site"
    assert publish(database_url, site).exit_code == 0
    with portfolio.store.read() as conn:
        refs = [r for (r,) in conn.execute(select(actor_refs.c.ref))]
    assert refs
    forbidden = [*refs, "koordination", "pruefung", "forum-03", COMMENT, STATEMENT,
                 "Stadt Musterstadt", "Interne Begründung", "Außerhalb behandelt"]  # fmt: skip
    for path in site.iterdir():
        text = path.read_text(encoding="utf-8-sig")
        for word in forbidden:
            assert word not in text, (path.name, word)
        assert not EMAIL.search(text), (path.name, EMAIL.search(text))


def test_the_published_digest_is_a_checkpoint_of_the_cut_off(
    portfolio: Engine, database_url: str, tmp_path: Path
) -> None:
    # given a board published as of 16 Jul 2019, and history that went on afterwards
    result = publish(database_url, tmp_path, "--as-of", "2019-07-16")
    assert result.exit_code == 0, result.output
    digest = json.loads((tmp_path / "proposals.json").read_text(encoding="utf-8"))["audit_digest"]
    assert digest in (tmp_path / "index.html").read_text(encoding="utf-8")
    assert digest in result.stdout
    walk_to(portfolio, "RK-03-01", "completed", NOW + 30 * DAY)
    # then the digest covers the chain heads as of the end of that day ...
    with portfolio.store.read() as conn:
        heads = heads_as_of(conn, cutoff_of((NOW + DAY).date()))
    assert heads_digest(heads) == digest
    # ... and `audit verify --checkpoint` accepts it
    verified = run(database_url, "audit", "verify", "--checkpoint", digest, now="2019-12-02T10:00")
    assert verified.exit_code == 0, verified.output
    assert "nothing truncated or deleted since" in verified.stdout
    assert "the history as of the end of 2019-07-16" in verified.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--as-of", "2019-13-01"), "is not a date"),
        (("--as-of", "2017-06-30"), "before 2018"),
        (("--as-of", "2020-01-01"), "in the future"),
        (("--base-url", "ftp://x"), "--base-url"),
    ],
)
def test_bad_input_is_one_error_line(database_url: str, tmp_path: Path, args: tuple[str, ...],
                                     message: str) -> None:  # fmt: skip
    result = publish(database_url, tmp_path / "site", *args)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error:") and message in line
    assert not (tmp_path / "site" / "index.html").exists()


def test_an_unwritable_output_is_one_error_line(database_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = publish(database_url, blocker / "site")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: --output:")
