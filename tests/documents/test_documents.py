"""Documents (#27.6) on SQLite and PostgreSQL: attached through the CLI, checked by content,
kept byte for byte, their SHA-256 in the history entry, proven unchanged by ``audit verify``."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from conftest import NOW
from conftest import test_config_text as config_text
from sqlalchemy import text
from support import Cli, add_proposal, walk_to

from workflow.documents.sniff import sniff
from workflow.engine.engine import Engine

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def odt() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


@pytest.fixture
def run(database_url: str) -> Cli:
    return Cli(database_url, now="2019-11-06T10:00")


@pytest.fixture
def proposal(engine: Engine) -> str:
    """Given RK-03-01 (lead IM) in the consultation, with a statement of the Stadt Essen."""
    key = add_proposal(engine, NOW, key="RK-03-01")
    walk_to(engine, key, "consultation", NOW)
    engine.record_statement(key, party="Stadt Essen", group="kommune", position="support",
                            text="", actor="koordination", now=NOW)  # fmt: skip
    return key


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_a_pdf_attached_comes_back_byte_for_byte_and_its_hash_is_in_the_history(
    run: Cli, proposal: str, tmp_path: Path
) -> None:
    pdf = write(tmp_path, "Kabinettvorlage.pdf", PDF)
    said = run("document", "add", proposal, str(pdf), "--comment", "Vorlage (Test)").stdout
    sha = hashlib.sha256(PDF).hexdigest()
    assert sha in said
    (listed,) = run.json("document", "list", proposal, actor=None)
    assert listed["sha256"] == sha and listed["filename"] == "Kabinettvorlage.pdf"
    assert listed["content_type"] == "application/pdf" and listed["size"] == len(PDF)
    entries = run.json("history", proposal, actor=None)
    entry = next(e for e in entries if e["seq"] == listed["entry"])
    assert entry["kind"] == "document" and entry["data"]["document"]["sha256"] == sha
    assert entry["comment"] == "Vorlage (Test)"
    back = tmp_path / "back.pdf"
    run("document", "get", proposal, sha, "--output", str(back), actor=None)
    assert back.read_bytes() == PDF
    assert "documents: 1 verified" in run("audit", "verify", actor=None).stdout


def test_the_content_decides_the_type_never_the_name(
    run: Cli, proposal: str, tmp_path: Path
) -> None:
    refused = run("document", "add", proposal, str(write(tmp_path, "x.pdf", b"hello")), code=2)
    assert "not accepted" in refused.stderr and "no type ruhrflow knows" in refused.stderr
    run("document", "add", proposal, str(write(tmp_path, "bild.pdf", PNG)))
    run("document", "add", proposal, str(write(tmp_path, "brief.bin", docx())))
    types = {d["filename"]: d["content_type"]
             for d in run.json("document", "list", proposal, actor=None)}  # fmt: skip
    assert types["bild.pdf"] == "image/png"
    assert types["brief.bin"].endswith("wordprocessingml.document")
    assert run.json("history", proposal, actor=None)[-1]["kind"] == "document"


@pytest.mark.parametrize(
    ("content", "name"),
    [(PDF, "pdf"), (PNG, "png"), (b"\xff\xd8\xff\xe0jpeg", "jpeg"), (docx(), "docx"),
     (odt(), "odt"), (b"PK\x03\x04not really a zip", None), (b"MZ\x90\x00", None),
     (b"<html><script>", None)],
)  # fmt: skip
def test_sniffing(content: bytes, name: str | None) -> None:
    found = sniff(content)
    assert (found.name if found else None) == name


def test_the_same_file_twice_and_a_foreign_statement_are_refused(
    run: Cli, engine: Engine, proposal: str, tmp_path: Path
) -> None:
    pdf = str(write(tmp_path, "a.pdf", PDF))
    (statement,) = run.json("proposal", "show", proposal, actor=None)["statements"]
    run("document", "add", proposal, pdf, "--statement", str(statement["id"]))
    again = run("document", "add", proposal, pdf, code=2)
    assert "attached already" in again.stderr
    other = add_proposal(engine, NOW, key="RK-03-02")
    foreign = run("document", "add", other, pdf, "--statement", str(statement["id"]), code=2)
    assert f"is not one of {other}'s" in foreign.stderr
    no_transition = run("document", "add", other, pdf, "--transition", "1", code=2)
    assert "is no transition" in no_transition.stderr
    (listed,) = run.json("document", "list", proposal, actor=None)
    assert listed["statement"] == statement["id"]


def test_who_may_attach_coordinator_and_the_lead_ministry_only(
    run: Cli, proposal: str, tmp_path: Path
) -> None:
    pdf = str(write(tmp_path, "a.pdf", PDF))
    refused = run("document", "add", proposal, pdf, actor="vm", code=1)
    assert "lead ministry (IM)" in refused.stderr
    run("document", "add", proposal, pdf, actor="forum-03", code=1)
    run("document", "add", proposal, pdf, actor="im")
    assert len(run.json("document", "list", proposal, actor=None)) == 1


def test_documents_are_append_only_in_the_database(
    run: Cli, database_url: str, proposal: str, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine

    run("document", "add", proposal, str(write(tmp_path, "a.pdf", PDF)))
    eng = create_engine(database_url)
    try:
        for statement in ("UPDATE documents SET filename = 'x.pdf'", "DELETE FROM documents"):
            with pytest.raises(Exception, match="append-only"), eng.begin() as conn:
                conn.execute(text(statement))
    finally:
        eng.dispose()


def test_a_document_directory_keeps_files_and_verify_finds_a_changed_one(
    database_url: str, proposal: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a configuration that keeps documents in a directory
    store = tmp_path / "dokumente"
    config = tmp_path / "ruhrflow.toml"
    config.write_text(config_text(tmp_path / "mail")
                      + f'[documents]\ndirectory = "{store}"\n', encoding="utf-8")  # fmt: skip
    monkeypatch.setenv("RUHRFLOW_CONFIG", str(config))
    run = Cli(database_url, now="2019-11-06T10:00")
    run("document", "add", proposal, str(write(tmp_path, "a.pdf", PDF)))
    sha = hashlib.sha256(PDF).hexdigest()
    # then the file lives there under its SHA-256, not in the row
    stored = store / sha[:2] / sha
    assert stored.read_bytes() == PDF
    assert "documents: 1 verified" in run("audit", "verify", actor=None).stdout
    # when somebody changes the file on disk
    stored.write_bytes(PDF.replace(b"Catalog", b"Katalog"))
    # then it is not served, and verify names it (exit 1)
    got = run("document", "get", proposal, sha, "--output", str(tmp_path / "b.pdf"),
              actor=None, code=1)  # fmt: skip
    assert "changed" in got.stderr and not (tmp_path / "b.pdf").exists()
    broken = run("audit", "verify", actor=None, code=1)
    assert sha in broken.stderr and "bytes changed" in broken.stderr


def test_the_export_lists_the_documents_and_verify_holds_the_list_to_the_entries(
    run: Cli, proposal: str, tmp_path: Path
) -> None:
    run("document", "add", proposal, str(write(tmp_path, "a.pdf", PDF)))
    export = tmp_path / "history.jsonl"
    run("audit", "export", "--format", "jsonl", "--output", str(export), actor=None)
    lines = export.read_text(encoding="utf-8").splitlines()
    end = json.loads(lines[-1])["end"]
    assert [d["sha256"] for d in end["documents"]] == [hashlib.sha256(PDF).hexdigest()]
    run("audit", "verify", "--file", str(export), actor=None)
    end["documents"][0]["sha256"] = "0" * 64
    lines[-1] = json.dumps({"end": end})
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    forged = run("audit", "verify", "--file", str(export), actor=None, code=1)
    assert "document list" in forged.stderr


def test_a_file_over_the_limit_or_of_a_type_not_configured_is_refused(
    database_url: str, proposal: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "ruhrflow.toml"
    config.write_text(config_text(tmp_path / "mail")
                      + '[documents]\nmax_megabytes = 0.00001\ntypes = ["png"]\n',
                      encoding="utf-8")  # fmt: skip
    monkeypatch.setenv("RUHRFLOW_CONFIG", str(config))
    run = Cli(database_url, now="2019-11-06T10:00")
    big = run("document", "add", proposal, str(write(tmp_path, "a.pdf", PDF)), code=2)
    assert "larger than" in big.stderr
    typed = run("document", "add", proposal, str(write(tmp_path, "b.pdf", PDF[:9])), code=2)
    assert "it is pdf" in typed.stderr and "accepted: png" in typed.stderr
