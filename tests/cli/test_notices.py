"""``ruhrflow notices list|send|retry|preview`` through click's runner, on both backends."""

from __future__ import annotations

import json
import mailbox
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from conftest import NOW
from notify_fixtures import free_port
from sqlalchemy import update
from support import add_proposal, walk_to

from workflow.app.runtime import Runtime
from workflow.cli.main import cli
from workflow.store.schema import outbox

AT = "2019-07-15T11:00"  # NOW + 1 h, Berlin


def run(runtime: Runtime, config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli,
        ["--db", runtime.settings.database_url, "--config", str(config), "--now", AT, *args],
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "notices.toml"
    path.write_text(f'[mail]\nmaildir = "{tmp_path / "mail"}"\n{text}', encoding="utf-8")
    return path


def test_list_send_and_list_again(runtime: Runtime, tmp_path: Path) -> None:
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    engine.advance(key, "submit", actor="koordination", now=NOW)
    cfg = config(tmp_path)
    code, out, _ = run(runtime, cfg, "notices", "list")
    assert code == 0
    header, line = out.splitlines()
    assert header.split()[:4] == ["ID", "STATUS", "KIND", "PROPOSAL"]
    assert "pending" in line and key in line and "ruhr-konferenz@im.nrw.example" in line
    code, out, _ = run(runtime, cfg, "notices", "send")
    assert code == 0 and out == "sent 1, to retry 0, failed 0; outbox: 0 pending, 0 failed\n"
    assert len(mailbox.Maildir(tmp_path / "mail", create=False)) == 1
    code, out, _ = run(runtime, cfg, "notices", "list", "--status", "sent", "--format", "json")
    (row,) = json.loads(out)
    assert code == 0 and row["status"] == "sent" and row["key"] == key
    assert row["to"] == ["ruhr-konferenz@im.nrw.example"] and row["attempts"] == 1
    code, out, _ = run(runtime, cfg, "notices", "list", "--status", "failed")
    assert code == 0 and out == "no notices with status failed\n"


def test_send_exits_3_when_the_mail_server_is_unreachable(runtime: Runtime, tmp_path: Path) -> None:
    engine = runtime.engine
    engine.advance(add_proposal(engine, NOW), "submit", actor="koordination", now=NOW)
    cfg = config(
        tmp_path, f'transport = "smtp"\n[mail.smtp]\nhost = "127.0.0.1"\nport = {free_port()}\n'
    )
    code, out, err = run(runtime, cfg, "notices", "send")
    assert code == 3
    assert out.startswith("sent 0, to retry 1, failed 0; outbox: 1 pending")
    assert "unreachable" in err


def test_retry_puts_failed_notices_back_and_refuses_others(
    runtime: Runtime, tmp_path: Path
) -> None:
    engine = runtime.engine
    for _ in range(2):
        engine.advance(add_proposal(engine, NOW), "submit", actor="koordination", now=NOW)
    with runtime.store.write() as conn:
        failed = {"status": "failed", "attempts": 8, "last_error": "550 no"}
        conn.execute(update(outbox).where(outbox.c.id == 1).values(**failed))
    cfg = config(tmp_path)
    code, out, _ = run(runtime, cfg, "notices", "list", "--status", "failed")
    assert code == 0 and "550 no" in out
    code, _, err = run(runtime, cfg, "notices", "retry", "1", "2")
    assert code == 1 and "2 is pending" in err
    code, _, err = run(runtime, cfg, "notices", "retry", "99")
    assert code == 2 and "no notice with id 99" in err
    code, out, _ = run(runtime, cfg, "notices", "retry", "--all-failed")
    assert code == 0 and out == "1 notice(s) back to pending: 1\n"
    code, out, _ = run(runtime, cfg, "notices", "list", "--format", "json")
    assert {(r["id"], r["status"], r["attempts"]) for r in json.loads(out)} == {
        (1, "pending", 0),
        (2, "pending", 0),
    }


def test_preview_renders_without_storing(runtime: Runtime, tmp_path: Path) -> None:
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "proposed", NOW)
    cfg = config(tmp_path)
    before = run(runtime, cfg, "notices", "list", "--format", "json")[1]
    code, out, _ = run(runtime, cfg, "notices", "preview", key, "open_consultation")
    assert code == 0
    assert "To: Ministerium des Innern <ruhr-konferenz@im.nrw.example>" in out
    assert "Subject: Ruhr-Konferenz" in out and "Beteiligung eröffnen" in out
    assert "Ende der Beteiligung von Kommunen, Kammern und Verbänden: bis 05.08.2019" in out
    code, out, _ = run(runtime, cfg, "notices", "preview", key, "consultation_opened")
    assert code == 0 and "koordination@ruhrkonferenz.nrw.example" in out
    code, _, err = run(runtime, cfg, "notices", "preview", key, "reminder")
    assert code == 2 and "no open deadline" in err  # `proposed` has no deadline
    engine.advance(key, "open_consultation", actor="koordination", now=NOW + timedelta(hours=2))
    code, out, _ = run(runtime, cfg, "notices", "preview", key, "escalation", "--format", "json")
    assert code == 0 and json.loads(out)["subject"].startswith("Frist überschritten")
    code, _, err = run(runtime, cfg, "notices", "preview", key, "fly")
    assert code == 2 and "unknown event 'fly'" in err
    stored = json.loads(run(runtime, cfg, "notices", "list", "--format", "json")[1])
    assert len(stored) == len(json.loads(before)) + 2  # open_consultation's two, no preview's
    assert all(r["kind"] != "escalation" for r in stored)


def test_scheduler_tick_fires_rungs_and_delivers_their_notices(
    runtime: Runtime, tmp_path: Path
) -> None:
    engine = runtime.engine
    walk_to(engine, add_proposal(engine, NOW), "consultation", NOW)
    cfg = config(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["--db", runtime.settings.database_url, "--config", str(cfg), "--now", "2019-07-29T09:00",
         "scheduler", "tick", "--format", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["counts"]["reminder"] == 1
    # Monday 09:00: the digest is due too. Two transitions' three notices, the reminder and
    # the digest are all delivered in the same tick
    assert data["digest"]["enqueued"] == ["IM"] and data["delivery"]["sent"] == 5
    assert len(mailbox.Maildir(tmp_path / "mail", create=False)) == 5
