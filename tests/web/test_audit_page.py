"""The auditor's page: the last recorded verification, checkpoints, and both done from the page.

A verification or a checkpoint is recorded on ``@system`` (hash-chained like every entry), so
what the page shows comes from the history itself; ``audit verify --record`` records the same
from the CLI.
"""

from __future__ import annotations

import re

from flask import Flask
from support import CLEAN_ENV, attacker
from web_fixtures import login

from workflow import Runtime
from workflow.audit.verify import last_verification, system_entries, verify_store


def test_an_auditor_verifies_from_the_page_and_sees_the_result(
    app: Flask, runtime: Runtime
) -> None:
    # given an auditor on the audit page, with no verification recorded yet
    b = login(app, "pruefung")
    assert "Noch keine Prüfung aufgezeichnet" in b.client.get("/audit").get_data(as_text=True)
    # when they press "Alle Ketten jetzt prüfen"
    response = b.post("/audit/verify", {})
    # then the result is recorded on @system and shown, and the chains still verify with it
    assert response.status_code == 302  # type: ignore[attr-defined]
    recorded = last_verification(runtime.store)
    assert recorded is not None and recorded["data"]["ok"] is True
    page = b.client.get("/audit").get_data(as_text=True)
    assert "Bestanden" in page and f"{recorded['data']['entries']} Einträge" in page
    assert "Prüfung bestanden" in page  # the flash message of the redirect
    assert verify_store(runtime.store, key=runtime.settings.audit_key).ok


def test_a_break_is_recorded_and_shown_as_failed(
    app: Flask, runtime: Runtime, database_url: str
) -> None:
    # given a history entry changed behind ruhrflow's back
    with attacker(database_url) as conn:
        conn.exec_driver_sql(
            "UPDATE history SET comment = 'nachträglich' WHERE chain = 'RK-03-01' AND seq = 1"
        )
    b = login(app, "pruefung")
    # when the auditor verifies
    b.post("/audit/verify", {})
    # then the failure is what is recorded and shown, naming the chain
    recorded = last_verification(runtime.store)
    assert recorded is not None and recorded["data"]["ok"] is False
    assert recorded["data"]["broken"]["chain"] == "RK-03-01"
    page = b.client.get("/audit").get_data(as_text=True)
    assert "Gescheitert" in page and "RK-03-01" in page


def test_a_checkpoint_set_on_the_page_is_listed_and_proves_nothing_was_cut(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "pruefung")
    b.post("/audit/checkpoint", {})
    page = b.client.get("/audit").get_data(as_text=True)
    digests = re.findall(r"<code>([0-9a-f]{64})</code>", page)
    assert len(digests) == 1
    result = verify_store(
        runtime.store, key=runtime.settings.audit_key, checkpoint_digest=digests[0]
    )
    assert result.ok and result.checkpoint is not None


def test_a_ministry_may_neither_verify_nor_set_a_checkpoint(app: Flask, runtime: Runtime) -> None:
    b = login(app, "im")
    assert b.post("/audit/verify", {}).status_code == 403  # type: ignore[attr-defined]
    assert b.post("/audit/checkpoint", {}).status_code == 403  # type: ignore[attr-defined]
    assert system_entries(runtime.store, "verification", limit=5) == []
    assert system_entries(runtime.store, "checkpoint", limit=5) == []


def test_verifying_without_the_csrf_token_is_refused(app: Flask, runtime: Runtime) -> None:
    b = login(app, "pruefung")
    assert b.client.post("/audit/verify", data={}).status_code == 400
    assert last_verification(runtime.store) is None


def test_the_cli_records_a_verification_with_record(runtime: Runtime, database_url: str) -> None:
    from click.testing import CliRunner

    from workflow.cli.main import cli

    runner = CliRunner(env=CLEAN_ENV)
    base = ["--db", database_url, "--now", "2019-12-01T10:00"]
    # without --record nothing is written
    plain = runner.invoke(cli, [*base, "audit", "verify"])
    assert plain.exit_code == 0, plain.output
    assert last_verification(runtime.store) is None
    # --record needs to know who records
    anonymous = runner.invoke(cli, [*base, "audit", "verify", "--record"])
    assert anonymous.exit_code != 0 and last_verification(runtime.store) is None
    # with --as it records the result on @system
    done = runner.invoke(cli, [*base, "--as", "pruefung", "audit", "verify", "--record"])
    assert done.exit_code == 0, done.output
    recorded = last_verification(runtime.store)
    assert recorded is not None and recorded["data"]["ok"] is True
    # and a file is not the database: a usage error (exit 2), nothing recorded
    wrong = runner.invoke(
        cli, [*base, "--as", "pruefung", "audit", "verify", "--record", "--file", "x.jsonl"]
    )
    assert wrong.exit_code == 2
    assert len(system_entries(runtime.store, "verification", limit=5)) == 1
