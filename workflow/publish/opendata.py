"""The open data of the board: proposals.csv, proposals.json and catalog.ttl (DCAT-AP.de).

The CSV is for German Excel: UTF-8 with BOM, ``;`` between cells, decimal comma, dates
as YYYY-MM-DD. Following the OWASP guidance on CSV injection, a cell that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'`` so that no
spreadsheet reads it as a formula. The JSON carries the same fields (numbers as JSON
numbers, dates as ISO strings) plus each project's public timeline.

The catalog is written as Turtle text (no RDF library at run time); the tests parse it
with rdflib.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from workflow.audit.reports import GROUPS
from workflow.publish.board import FIELDS, Board, PublicProject
from workflow.spreadsheet import neutralise  # the one rule for every CSV (OWASP)

CSV_NAME = "proposals.csv"
JSON_NAME = "proposals.json"
CATALOG_NAME = "catalog.ttl"
LICENSE = "http://dcat-ap.de/def/licenses/dl-zero-de/2.0"  # Datenlizenz Deutschland – Zero
# The contributor id of NRW's portal (Open.NRW) in DCAT-AP.de's list of GovData's direct
# data providers: GovData's metadata-quality queries use this IRI for NRW. The list grows
# outside DCAT-AP.de's releases; GovData (info@govdata.de) confirms an id at registration.
CONTRIBUTOR = "http://dcat-ap.de/def/contributors/openNRW"
PUBLISHER = "Land Nordrhein-Westfalen – Ruhr-Konferenz"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def proposals_csv(board: Board) -> bytes:
    """The projects as CSV for German Excel (UTF-8 with BOM, ``;``, decimal comma)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([name for name, _, _ in FIELDS])
    for p in board.projects:
        writer.writerow([_csv_cell(v) for v in p.values().values()])
    return out.getvalue().encode("utf-8-sig")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _project_json(p: PublicProject) -> dict[str, Any]:
    doc = {k: _json_value(v) for k, v in p.values().items()}
    doc["verlauf"] = [
        {"datum": s.on.isoformat(), "schritt": s.label, "status": s.status} for s in p.timeline
    ]
    return doc


def proposals_json(board: Board) -> bytes:
    """The projects as JSON, with the cut-off, the counts and the audit digest."""
    doc = {
        "stichtag": board.as_of.isoformat(),
        "veroeffentlicht": board.published_at.isoformat(timespec="seconds"),
        "audit_digest": board.digest,
        "status": board.counts,
        "projekte": [_project_json(p) for p in board.projects],
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _literal(text: str) -> str:
    """A Turtle string literal (long strings escaped the short way)."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def _iri(text: str) -> str:
    if any(c in text for c in '<>"{}|^`\\ '):
        raise ValueError(f"not usable as an IRI: {text!r}")
    return f"<{text}>"


def catalog_ttl(board: Board, base_url: str, *, modified: datetime) -> str:
    """A DCAT-AP.de catalog: one dataset, a CSV and a JSON distribution."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    counts = ", ".join(f"{board.counts[g]} {g}" for g in GROUPS)
    description = (
        f"Sachstand der vom Kabinett beschlossenen Projekte der Ruhr-Konferenz zum"
        f" {board.as_of:%d.%m.%Y}: {counts}. Je Projekt Handlungsfeld, Themenforum,"
        f" federführendes Ressort, Status, Projektvolumen (Kostenschätzung), gesicherte"
        f" Finanzierung und Umsetzungsstand. Die Zahlen sind durch den Audit-Checkpoint"
        f" {board.digest} der Verlaufshistorie nachprüfbar."
    )
    if board.sample_data:  # sample data says so, first
        description = f"{board.sample_data} {description}"
    dataset_title = f"Projekte der Ruhr-Konferenz, Sachstand {board.as_of:%d.%m.%Y}"
    end = f'"{board.as_of.isoformat()}"^^xsd:date'
    issued = f'"{board.published_at.date().isoformat()}"^^xsd:date'
    changed = f'"{modified.isoformat(timespec="seconds")}"^^xsd:dateTime'
    lines = [
        "@prefix dcat: <http://www.w3.org/ns/dcat#> .",
        "@prefix dct: <http://purl.org/dc/terms/> .",
        "@prefix dcatde: <http://dcat-ap.de/def/dcatde/> .",
        "@prefix foaf: <http://xmlns.com/foaf/0.1/> .",
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .",
        "",
        f"{_iri(base + 'catalog')} a dcat:Catalog ;",
        f"    dct:title {_literal(board.title + ' – Fortschritt')}@de ;",
        f"    dct:description {_literal('Offene Daten zum Fortschritt der Ruhr-Konferenz.')}@de ;",
        f"    dct:publisher {_iri(base + 'publisher')} ;",
        f"    foaf:homepage {_iri(base + 'index.html')} ;",
        "    dct:language <http://publications.europa.eu/resource/authority/language/DEU> ;",
        f"    dcat:dataset {_iri(base + 'dataset')} .",
        "",
        f"{_iri(base + 'publisher')} a foaf:Agent ;",
        f"    foaf:name {_literal(PUBLISHER)}@de .",
        "",
        f"{_iri(base + 'dataset')} a dcat:Dataset ;",
        f"    dct:title {_literal(dataset_title)}@de ;",
        f"    dct:description {_literal(description)}@de ;",
        f"    dct:publisher {_iri(base + 'publisher')} ;",
        f"    dct:issued {issued} ;",
        f"    dct:modified {changed} ;",
        f"    dct:identifier {_literal('ruhrflow-board-' + board.as_of.isoformat())} ;",
        f"    dcatde:contributorID {_iri(CONTRIBUTOR)} ;",
        f"    dct:license {_iri(LICENSE)} ;",
        f"    dcat:landingPage {_iri(base + 'index.html')} ;",
        '    dcat:keyword "Ruhr-Konferenz"@de, "Ruhrgebiet"@de, "Fortschrittsbericht"@de ;',
        f"    dct:temporal [ a dct:PeriodOfTime ; dcat:endDate {end} ] ;",
        f"    dcat:distribution {_iri(base + CSV_NAME)}, {_iri(base + JSON_NAME)} .",
    ]  # fmt: skip
    for name, media, fmt, title in (
        (CSV_NAME, "text/csv", "CSV", "Projekte als CSV (UTF-8, Semikolon, Dezimalkomma)"),
        (JSON_NAME, "application/json", "JSON", "Projekte als JSON mit Verlauf"),
    ):
        lines += [
            "",
            f"{_iri(base + name)} a dcat:Distribution ;",
            f"    dct:title {_literal(title)}@de ;",
            f"    dcat:accessURL {_iri(base + name)} ;",
            f"    dcat:downloadURL {_iri(base + name)} ;",
            f"    dcat:mediaType <https://www.iana.org/assignments/media-types/{media}> ;",
            f"    dct:format <http://publications.europa.eu/resource/authority/file-type/{fmt}> ;",
            f"    dct:license {_iri(LICENSE)} ;",
            f"    dct:issued {issued} ;",
            f"    dct:modified {changed} .",
        ]
    return "\n".join(lines) + "\n"
