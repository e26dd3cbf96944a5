"""Issue 18.5: the chain proves who acted — an edited actor in an export is detected.

A ref is a salted commitment to the actor id (workflow/audit/attribution.py); the export
carries actor and salt, so ``audit verify --file`` recomputes the commitment. An erasure
deletes salt and id: the ref — and every hash — stays and verifies, the person is gone.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import NOW
from sqlalchemy import insert, select, text, update
from support import add_proposal, erase, walk_to

from workflow.audit import verify_store
from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.store.attribution import attribution_problem, commitment, is_committed
from workflow.store.schema import actor_refs, history

LATER = NOW + timedelta(days=30)
CLEAN_ENV = {"RUHRFLOW_ACTOR": None, "RUHRFLOW_DATABASE_URL": None, "RUHRFLOW_AUDIT_KEY": None}


def ruhrflow(url: str, *args: str) -> Result:
    result = CliRunner(env=CLEAN_ENV).invoke(cli, ["--db", url, *args])
    assert "Traceback" not in result.output
    return result


def export(url: str, path: Path, fmt: str = "jsonl") -> Path:
    done = ruhrflow(url, "audit", "export", "--format", fmt, "--output", str(path))
    assert done.exit_code == 0, done.output
    return path


def jsonl_entries(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:-1]]


def rewrite_jsonl(path: Path, chain: str, trigger: str, **changes: object) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        doc = json.loads(line)
        if doc.get("chain") == chain and doc.get("trigger") == trigger:
            doc.update(changes)
            lines[i] = json.dumps(doc, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def walked(engine: Engine) -> str:
    """A proposal walked into implementation by koordination, with a report by im."""
    key = add_proposal(engine, NOW)
    later = walk_to(engine, key, "implementation", NOW)
    engine.advance(key, "report_progress", actor="im", now=later, fields={"progress": 10})
    return key


def test_new_refs_are_commitments_to_their_actor(engine: Engine, walked: str) -> None:
    with engine.store.read() as conn:
        rows = conn.execute(select(actor_refs)).mappings().all()
    assert {r["actor_id"] for r in rows} >= {"koordination", "im"}
    for r in rows:
        assert is_committed(r["ref"]) and commitment(r["salt"], r["actor_id"]) == r["ref"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_whose_actor_was_edited_fails_verification(
    engine: Engine, walked: str, database_url: str, tmp_path: Path, fmt: str
) -> None:
    # given an export that verifies
    path = export(database_url, tmp_path / f"history.{fmt}", fmt)
    assert ruhrflow(database_url, "audit", "verify", "--file", str(path)).exit_code == 0
    # when the actor of the progress report is changed from "im" to "vm"
    if fmt == "jsonl":
        rewrite_jsonl(path, walked, "report_progress", actor="vm")
    else:
        raw = path.read_text(encoding="utf-8")
        bom = "\ufeff" if raw.startswith("\ufeff") else ""
        body = raw.removeprefix(bom)
        first = body.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        rows = list(csv.DictReader(io.StringIO(body, newline=""), delimiter=delimiter))
        for row in rows:
            if row["chain"] == walked and row["trigger"] == "report_progress":
                row["actor"] = "vm"
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=list(rows[0]), delimiter=delimiter, lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(bom + out.getvalue(), encoding="utf-8")
    # then verification fails and names the entry and what is wrong
    result = ruhrflow(database_url, "audit", "verify", "--file", str(path))
    assert result.exit_code == 1, result.output
    assert walked in result.output and "the actor was changed: 'vm'" in result.output


def test_removing_the_salt_cannot_put_somebody_else_in(
    engine: Engine, walked: str, database_url: str, tmp_path: Path
) -> None:
    path = export(database_url, tmp_path / "history.jsonl")
    rewrite_jsonl(path, walked, "report_progress", actor="vm", actor_salt=None)
    result = ruhrflow(database_url, "audit", "verify", "--file", str(path))
    assert result.exit_code == 1, result.output
    assert "salt of its commitment is missing" in result.output


def test_after_an_erasure_the_export_verifies_and_names_nobody(
    engine: Engine, walked: str, database_url: str, tmp_path: Path
) -> None:
    # given the lead ministry "im" erased (GDPR)
    done = erase(engine, "im", now=LATER)
    # when the history is exported and verified
    path = export(database_url, tmp_path / "history.jsonl")
    result = ruhrflow(database_url, "audit", "verify", "--file", str(path))
    # then it verifies; the entry keeps its ref, names the pseudonym and carries no salt
    assert result.exit_code == 0, result.output
    (report,) = [e for e in jsonl_entries(path) if e["trigger"] == "report_progress"]
    assert report["actor"] == done.pseudonym and report["actor_salt"] is None
    assert all(e["actor"] != "im" for e in jsonl_entries(path))
    with engine.store.read() as conn:
        row = conn.execute(select(actor_refs).where(actor_refs.c.ref == report["actor_ref"]))
        (erased,) = row.mappings().all()
    assert erased["actor_id"] == done.pseudonym and erased["salt"] is None
    # and the database verifies too
    assert verify_store(engine.store, key=None).ok


def test_a_re_attribution_in_actor_refs_is_found_by_verify(
    engine: Engine, walked: str, database_url: str
) -> None:
    # given the person behind im's ref changed in the database (a file edit, or a superuser)
    with engine.store.read() as conn:
        ref = conn.execute(
            select(history.c.actor_ref).where(history.c.trigger == "report_progress")
        ).scalar_one()
    # (the trigger of migration 0006 refuses it; a superuser or the file's owner drops it)
    drop = "DROP TRIGGER actor_refs_pseudonymise_only"
    if engine.store.dialect == "postgresql":
        drop += " ON actor_refs"
    with engine.store.write() as conn:
        conn.execute(text(drop))
        conn.execute(update(actor_refs).where(actor_refs.c.ref == ref).values(actor_id="vm"))
    # when the database is verified, then the entry is named
    result = ruhrflow(database_url, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert (
        "the actor was changed: 'vm'" in result.output and "actor_refs was edited" in result.output
    )


def test_entries_by_refs_made_before_the_commitments_still_verify(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # given a random ref without salt, as every ref was before migration 0008_robust
    legacy = secrets.token_hex(12)
    with engine.store.write() as conn:
        conn.execute(
            insert(actor_refs).values(
                ref=legacy, actor_id="koordination", created_at=NOW, salt=None
            )
        )
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "proposed", NOW)
    with engine.store.read() as conn:
        used = set(
            conn.execute(select(history.c.actor_ref).where(history.c.chain == key)).scalars()
        )
    assert used == {legacy}
    # then the store and an export verify (their attribution cannot be proven, as before)
    assert verify_store(engine.store, key=None).ok
    path = export(database_url, tmp_path / "history.jsonl")
    assert ruhrflow(database_url, "audit", "verify", "--file", str(path)).exit_code == 0
    assert attribution_problem("ab" * 12, "anybody", None) is None
