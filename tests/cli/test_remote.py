"""``ruhrflow --server URL``: the same commands, output and exit codes over the service.

The web application of web_fixtures (a round of proposals, an account per role) is served
on a loopback port; each command runs once on the database (``--db``, ``--as``) and once
over the API (``--server``, a token) and must print the same and exit the same.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from web_fixtures import PASSWORD
from werkzeug.serving import make_server

from workflow import Runtime
from workflow.access import accounts
from workflow.app.reads import history_rows
from workflow.cli.main import cli

NOW = re.compile(r'"as_of": "[0-9T:.-]+Z"')
CLEAN = {"RUHRFLOW_ACTOR": None, "RUHRFLOW_DATABASE_URL": None, "RUHRFLOW_SERVER": None,
         "RUHRFLOW_TOKEN": None}  # fmt: skip


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The app on a loopback port, served by a thread; its URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join()


@dataclass
class Both:
    """Run a command on the database and over the service, as the same account."""

    database_url: str
    server: str
    runtime: Runtime
    tmp_path: Path

    def token(self, actor: str) -> str:
        return accounts.create_token(self.runtime.store, actor, datetime.now(UTC), expires_in=None)[
            1
        ]

    def local(self, *args: str, actor: str | None = "koordination") -> Result:
        argv = ["--db", self.database_url] + (["--as", actor] if actor else [])
        return _invoke([*argv, *args])

    def remote(self, *args: str, actor: str = "koordination", **env: str) -> Result:
        token_file = str(self.tmp_path / "no-token-file")
        return _invoke(
            ["--server", self.server, *args],
            RUHRFLOW_TOKEN=self.token(actor),
            RUHRFLOW_TOKEN_FILE=token_file,
            **env,
        )

    def same(
        self, *args: str, actor: str = "koordination", code: int = 0, now_in: bool = False
    ) -> Result:
        """The command's result, checked to be the same both ways (``now_in``: but for the
        moment it was asked, which the output names)."""
        here = self.local(*args, actor=actor)
        there = self.remote(*args, actor=actor)
        pairs = [(here.stdout, there.stdout), (here.stderr, there.stderr)]
        if now_in:
            pairs = [(NOW.sub("NOW", a), NOW.sub("NOW", b)) for a, b in pairs]
        for a, b in pairs:
            diff = difflib.unified_diff(a.splitlines(), b.splitlines(), "database", "service")
            assert a == b, "\n".join([" ".join(args), *diff])
        assert there.exit_code == here.exit_code, args
        assert here.exit_code == code, here.output
        return there


def _invoke(argv: list[str], **env: str | None) -> Result:
    result = CliRunner(env={**CLEAN, **env}).invoke(cli, argv)
    assert "Traceback" not in result.output, result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture
def both(database_url: str, server: str, runtime: Runtime, tmp_path: Path) -> Both:
    return Both(database_url, server, runtime, tmp_path)


def test_the_reads_print_the_same_on_the_database_and_over_the_service(both: Both) -> None:
    # given the round on the database and the service on it
    # when each read runs both ways, then each prints the same, in every format
    for fmt in ("table", "json", "csv"):
        both.same("proposal", "list", "--format", fmt)
        both.same("history", "RK-03-01", "--format", fmt)
    both.same("proposal", "list", "--lead", "VM", "--state", "implementation")
    both.same("proposal", "list", "--handlungsfeld", "4", "--format", "json")
    for fmt in ("text", "json"):
        both.same("proposal", "show", "RK-03-02", "--format", fmt)
        both.same("triggers", "RK-03-01", "--format", fmt)
        both.same("triggers", "RK-03-01", "--set", "decision_date=2019-11-05", "--format", fmt)
    both.same("triggers", "RK-03-02", actor="im")
    both.same("proposal", "show", "RK-03-03")  # markup in the title, printed as text
    # and an unknown proposal is the same one-line refusal
    refused = both.same("proposal", "show", "RK-99-99", code=1)
    assert refused.stderr == "error: unknown proposal 'RK-99-99'\n"
    both.same("history", "RK-99-99", code=1)


def test_refusals_print_the_same_line_and_exit_code(both: Both) -> None:
    # a guard that fails, a permission the account lacks, a malformed field, a wrong trigger
    both.same("advance", "RK-03-03", "close_consultation", code=1)
    both.same("advance", "RK-03-01", "approve", "--set", "decision_date=2019-11-05",
              actor="im", code=1)  # fmt: skip
    both.same("advance", "RK-03-01", "approve", "--set", "decision_date=gestern", code=2)
    both.same("advance", "RK-03-01", "start", code=1)
    both.same("advance", "--where", "state=nowhere", "submit", code=2)
    both.same(
        "consult",
        "record",
        "RK-03-01",
        "--party",
        "Stadt Essen",
        "--group",
        "kommune",
        "--position",
        "support",
        code=1,
    )  # fmt: skip  (not in consultation)
    both.same("funding", "add", "RK-03-01", "--source", "land", "--amount", "-5", "--year",
              "2020", code=2)  # fmt: skip
    # and nothing was written by any of them
    assert [e["trigger"] for e in history_rows(both.runtime, "RK-03-01")][-1] == (
        "submit_to_cabinet"
    )


def test_a_dry_run_previews_the_same_and_changes_nothing(both: Both) -> None:
    # given the proposals in state proposed (one with its funding secured)
    before = both.local("proposal", "list", "--format", "json").stdout
    # when a bulk advance is previewed both ways, all or nothing and partial
    strict = both.same("advance", "--where", "state=proposed", "admit", "--dry-run",
                       "--set", "decision_date=2019-11-05", code=1)  # fmt: skip
    assert "guard" in strict.stderr
    partial = both.same("advance", "--where", "state=proposed", "admit", "--dry-run",
                        "--partial", "--set", "decision_date=2019-11-05", code=1)  # fmt: skip
    assert partial.stdout.startswith("RK-05-01: proposed → funded (admit, #")
    assert "applied 1, refused 2" in partial.stdout and "dry run: nothing was changed" in (
        partial.stdout
    )
    preview = both.same("advance", "RK-05-01", "RK-05-02", "admit", "--dry-run", "--partial",
                        "--set", "decision_date=2019-11-05", "--format", "json",
                        code=1)  # fmt: skip
    data = json.loads(preview.stdout)
    assert [a["key"] for a in data["applied"]] == ["RK-05-01"] and data["dry_run"] is True
    assert [r["key"] for r in data["refused"]] == ["RK-05-02"]
    # then nothing changed
    assert both.local("proposal", "list", "--format", "json").stdout == before


def test_changes_over_the_service_are_the_tokens_account(both: Both) -> None:
    # when the coordination office changes proposals over the service
    done = both.remote("advance", "RK-05-01", "admit", "--set", "decision_date=2019-11-05")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("RK-05-01: proposed → funded (admit, #")
    bulk = both.remote("advance", "--where", "state=proposed", "withdraw", "--comment", "nein",
                       "--set", "reason=zurückgezogen", "--format", "json")  # fmt: skip
    assert bulk.exit_code == 0, bulk.output
    assert sorted(a["key"] for a in json.loads(bulk.stdout)["applied"]) == ["RK-05-02", "RK-05-03"]
    statement = both.remote("consult", "record", "RK-03-03", "--party", "IHK Essen", "--group",
                            "ihk", "--position", "support")  # fmt: skip
    funding = both.remote("funding", "add", "RK-03-03", "--source", "bund", "--amount",
                          "2500000.5", "--year", "2021", "--secured")  # fmt: skip
    # then each prints what the database prints, and the history names the token's account
    seq = [e["seq"] for e in history_rows(both.runtime, "RK-03-03")]
    assert statement.stdout == (
        f"RK-03-03: statement of IHK Essen (ihk, support) recorded as #{seq[-2]}\n"
    )
    assert funding.stdout == (
        f"RK-03-03: 2.500.000,50 € bund 2021 (secured) recorded as #{seq[-1]}\n"
    )
    local = both.local("funding", "add", "RK-03-03", "--source", "bund", "--amount",
                       "2500000.5", "--year", "2021", "--secured")  # fmt: skip
    assert local.stdout == funding.stdout.replace(f"#{seq[-1]}", f"#{seq[-1] + 1}")
    actors = {e["actor"] for e in history_rows(both.runtime, "RK-03-03")[-3:]}
    assert actors == {"koordination"}
    assert history_rows(both.runtime, "RK-05-02")[-1]["comment"] == "nein"


def test_the_actor_is_never_given_with_server(both: Both) -> None:
    # --as, RUHRFLOW_ACTOR, --now and --db contradict --server: each is one clear error, exit 2
    for argv, env, word in (
        (["--as", "vm"], {}, "--as cannot be used with --server"),
        ([], {"RUHRFLOW_ACTOR": "vm"}, "RUHRFLOW_ACTOR cannot be used with --server"),
        (["--now", "2019-11-05"], {}, "--now cannot be used with --server"),
        (["--db", both.database_url], {}, "--db and --server exclude each other"),
    ):
        result = _invoke(
            [*argv, "--server", both.server, "advance", "RK-05-01", "withdraw"],
            RUHRFLOW_TOKEN=both.token("im"),
            **env,
        )
        assert result.exit_code == 2 and result.stderr.startswith(f"error: {word}"), result.output
    assert history_rows(both.runtime, "RK-05-01")[-1]["trigger"] == "add_funding"


def test_a_command_without_server_support_says_so(both: Both) -> None:
    result = both.remote("scheduler", "tick")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: `ruhrflow scheduler tick` is not available with --server yet: run it on the"
        " database (without --server and RUHRFLOW_SERVER)\n"
    )


def test_login_writes_a_private_token_file_that_server_uses(both: Both, tmp_path: Path) -> None:
    token_file = tmp_path / "config" / "token"
    env = {"RUHRFLOW_TOKEN_FILE": str(token_file)}
    # when the coordination office logs in with its password
    result = CliRunner(env={**CLEAN, **env}).invoke(
        cli, ["login", "--server", both.server, "--account", "koordination", "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"logged in to {both.server} as koordination; token in ")
    # then the token file is the owner's alone, and --server acts with it
    assert token_file.stat().st_mode & 0o777 == 0o600
    listed = _invoke(["--server", both.server, "history", "RK-03-01"], **env)
    assert listed.exit_code == 0 and listed.stdout == both.local("history", "RK-03-01").stdout
    done = _invoke(["--server", both.server, "advance", "RK-05-01", "withdraw", "--set",
                    "reason=zurückgezogen"], **env)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert history_rows(both.runtime, "RK-05-01")[-1]["actor"] == "koordination"
    # when others may read the file, it is refused
    os.chmod(token_file, 0o644)
    loose = _invoke(["--server", both.server, "proposal", "list"], **env)
    assert loose.exit_code == 2 and "may be read by others (mode 0644)" in loose.stderr
    # and a token is never sent to another server than the one that issued it
    os.chmod(token_file, 0o600)
    other = _invoke(["--server", "http://localhost:9", "proposal", "list"], **env)
    assert other.exit_code == 2 and f"is for {both.server}, not http://localhost:9" in (
        other.stderr
    )


def test_a_wrong_password_or_token_is_a_clear_error(both: Both, tmp_path: Path) -> None:
    env = {"RUHRFLOW_TOKEN_FILE": str(tmp_path / "token")}
    wrong = CliRunner(env={**CLEAN, **env}).invoke(
        cli, ["login", "--server", both.server, "--account", "im", "--password-stdin"],
        input="falsch\n",
    )  # fmt: skip
    assert (wrong.exit_code, wrong.stderr) == (2, "error: wrong account or password\n")
    assert not (tmp_path / "token").exists()
    bad = _invoke(["--server", both.server, "proposal", "list"], RUHRFLOW_TOKEN="rf_nope")
    assert (bad.exit_code, bad.stderr) == (2, "error: invalid, expired or revoked token\n")
    none = _invoke(["--server", both.server, "proposal", "list"], **env)
    assert none.exit_code == 2 and "run `ruhrflow login --server" in none.stderr


def test_an_unreachable_service_or_plain_http_elsewhere(both: Both) -> None:
    # a closed port: exit 3 as for an unreachable database
    gone = _invoke(["--server", "http://127.0.0.1:9", "proposal", "list"], RUHRFLOW_TOKEN="x")
    assert gone.exit_code == 3 and gone.stderr.startswith(
        "error: cannot reach the service at http://127.0.0.1:9"
    )
    # a token never travels in clear text over a network
    clear = _invoke(["--server", "http://ruhrflow.example", "proposal", "list"])
    assert clear.exit_code == 2 and "use https://" in clear.stderr


def test_deadlines_notices_reports_and_audit_read_the_same(both: Both) -> None:
    # given the round (RK-03-03 in its consultation with a deadline; notices in the outbox)
    # when the office's reads run both ways, then each prints the same
    for fmt in ("table", "json", "csv"):
        both.same("deadlines", "--format", fmt)
        both.same("notices", "list", "--format", fmt)
        both.same("report", "status", "--format", fmt, now_in=True)
        both.same("report", "lead-times", "--format", fmt)
        both.same("report", "overdue", "--format", fmt)
        both.same("report", "stuck", "--days", "1", "--format", fmt)
        both.same("audit", "log", "--format", fmt)
    both.same("deadlines", "--due-within", "30d", "--lead", "MSB")
    both.same("deadlines", "--overdue")
    both.same("notices", "list", "--status", "pending", "--limit", "2")
    both.same("report", "status", "--as-of", "2019-12-31")
    both.same("report", "overdue", "--as-of", "2019-12-31", "--format", "json")
    both.same("audit", "log", "RK-03-01", "--since", "2019-07-01", "--format", "csv")
    both.same("audit", "log", "--actor", "koordination", "--trigger", "submit")
    for fmt in ("text", "json"):
        both.same("audit", "verify", "--format", fmt)
    # and an unknown chain is the same refusal
    both.same("audit", "log", "RK-99-99", code=1)


def test_audit_acts_are_the_tokens_account_and_only_the_offices(both: Both) -> None:
    # when the auditor records a checkpoint and a verification over the service
    checkpoint = both.remote("audit", "checkpoint", actor="pruefung")
    assert checkpoint.exit_code == 0, checkpoint.output
    lines = checkpoint.stdout.splitlines()
    assert lines[0].startswith("checkpoint ") and lines[2].startswith("recorded as @system seq ")
    verified = both.remote("audit", "verify", "--record", "--format", "json", actor="pruefung")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True
    assert verified.stderr.startswith("recorded as @system seq ")
    # then both entries on @system are the auditor's, with the server's time
    system = json.loads(both.local("audit", "log", "@system", "--format", "json").stdout)
    assert [(e["trigger"], e["actor"]) for e in system[-2:]] == [
        ("checkpoint", "pruefung"),
        ("verify", "pruefung"),
    ]
    # and a ministry may neither read the audit log nor record over the service
    for argv in (("audit", "log"), ("audit", "checkpoint"), ("notices", "list")):
        refused = both.remote(*argv, actor="vm")
        assert refused.exit_code == 1 and refused.stderr.startswith("error: vm may not "), argv


def test_a_deadline_moves_over_the_service_as_the_office(both: Both) -> None:
    # given the consultation deadline of RK-03-03
    listed = json.loads(both.local("deadlines", "--format", "json").stdout)
    kind = next(d["deadline"] for d in listed if d["key"] == "RK-03-03")
    # when the office moves it over the service
    moved = both.remote("deadlines", "move", "RK-03-03", kind, "--to", "2031-03-03",
                        "--reason", "Verlängert", "--format", "json")  # fmt: skip
    # then it moved, and the history says by whom and why
    assert moved.exit_code == 0, moved.output
    data = json.loads(moved.stdout)
    assert data["key"] == "RK-03-03" and data["to"].startswith("2031-03-0")
    entry = history_rows(both.runtime, "RK-03-03")[-1]
    assert entry["actor"] == "koordination" and entry["comment"] == "Verlängert"
    # and a ministry may not (the engine's rule), with the same line as on the database
    both.same("deadlines", "move", "RK-03-03", kind, "--to", "2031-04-01", "--reason", "x",
              actor="im", code=1)  # fmt: skip


def test_proposals_are_added_and_imported_over_the_service(both: Both, tmp_path: Path) -> None:
    # given a CSV with a good row and a bad one
    csv = tmp_path / "neu.csv"
    csv.write_text(
        "key,title,handlungsfeld,themenforum,lead,participating,cost_estimate,summary\n"
        "RK-07-01,Hafenbahn Duisburg,2,7,VM,IM;MWIDE,750000,Güter auf die Schiene\n"
        "RK-07-02,,2,7,VM,,,ohne Titel\n",
        encoding="utf-8",
    )
    # when imported over the service all or nothing: refused as on the database
    local = both.local("proposal", "import", str(csv))
    remote = both.remote("proposal", "import", str(csv))
    assert (remote.exit_code, local.exit_code) == (2, 2)
    assert remote.stderr.splitlines()[-1] == local.stderr.splitlines()[-1]
    # when imported skipping the bad row: the same lines, the good row is in
    imported = both.remote("proposal", "import", str(csv), "--skip-invalid", "-q")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout == "imported 1 proposals, skipped 1\n"
    assert imported.stderr.startswith(f"{csv}:3: skipped: ")
    # and a single one is added, as the token's account, with the same refusal for a duplicate
    added = both.remote("proposal", "add", "--title", "Revierpark Gysenberg", "--handlungsfeld",
                        "3", "--forum", "7", "--lead", "MULNV", "--cost", "120000.50",
                        "--participating", "MKW, IM")  # fmt: skip
    assert added.exit_code == 0 and added.stdout == "added RK-07-02\n", added.output
    shown = json.loads(both.local("proposal", "show", "RK-07-02", "--format", "json").stdout)
    assert (shown["cost_estimate"], shown["participating"]) == ("120000.50", ["MKW", "IM"])
    assert history_rows(both.runtime, "RK-07-02")[0]["actor"] == "koordination"
    both.same("proposal", "add", "--title", "Doppelt", "--handlungsfeld", "3", "--forum", "7",
              "--lead", "IM", "--key", "RK-07-01", code=1)  # fmt: skip
    both.same("proposal", "add", "--title", "Fremd", "--handlungsfeld", "3", "--forum", "7",
              "--lead", "IM", actor="vm", code=1)  # fmt: skip


def test_migrations_are_planned_and_applied_over_the_service(both: Both, tmp_path: Path) -> None:
    from support import definition_next_version

    # given version 4 of the definition registered (an administrator, on the database)
    v4 = definition_next_version(tmp_path)
    assert both.local("init", "--definition", str(v4), actor=None).exit_code == 0
    # when the plan is asked both ways, then it is the same, in both formats
    both.same("migrate", "plan", "--to", "4")
    both.same("migrate", "plan", "--to", "4", "--where", "state=consultation", "--format", "json")
    both.same("migrate", "plan", "--to", "4", "--map", "nowhere", code=2)
    # and a ministry may not apply it, with the same line both ways
    both.same("migrate", "apply", "--to", "4", actor="im", code=1)
    # when the office applies it over the service
    moved = both.remote("migrate", "apply", "--to", "4", "--where", "state=consultation",
                        "--comment", "Version 4")  # fmt: skip
    # then RK-03-03 is on version 4, recorded as the office's
    assert moved.exit_code == 0, moved.output
    assert moved.stdout == (
        "RK-03-03: consultation → consultation (version 4)\nmigrated 1 to version 4, refused 0\n"
    )
    entry = history_rows(both.runtime, "RK-03-03")[-1]
    assert (entry["trigger"], entry["actor"]) == ("migrate", "koordination")


def test_the_history_is_exported_over_the_service_as_on_the_database(
    both: Both, tmp_path: Path
) -> None:
    # when the auditor exports the history both ways, as CSV for Excel and as JSON lines
    for fmt, extra in (("csv", ["--excel"]), ("jsonl", [])):
        here, there = tmp_path / f"here.{fmt}", tmp_path / f"there.{fmt}"
        local = both.local("audit", "export", "--format", fmt, *extra, "--output", str(here),
                           actor="pruefung")  # fmt: skip
        remote = both.remote("audit", "export", "--format", fmt, *extra, "--output", str(there),
                             actor="pruefung")  # fmt: skip
        # then the files are the same (but for the moment a JSON lines export was taken)
        assert (local.exit_code, remote.exit_code) == (0, 0), remote.output
        assert remote.stderr.replace(str(there), "FILE") == local.stderr.replace(str(here), "FILE")
        mine, theirs = here.read_bytes(), there.read_bytes()
        if fmt == "jsonl":
            mine, theirs = mine.split(b"\n", 1)[1], theirs.split(b"\n", 1)[1]
        assert theirs == mine
        # and the export verifies offline
        assert both.local("audit", "verify", "--file", str(there), actor=None).exit_code == 0
    # and a ministry may not export over the service
    refused = both.remote("audit", "export", "--output", "-", actor="vm")
    assert refused.exit_code == 1 and refused.stderr.startswith("error: vm may not export")


def test_the_token_is_never_printed() -> None:
    # given a token that a message would echo (here: as the key asked for)
    token = "rf_a-secret-token-value"
    # when the service cannot be reached, then the error line masks it
    result = _invoke(
        ["--server", "http://127.0.0.1:9", "proposal", "show", token], RUHRFLOW_TOKEN=token
    )
    assert result.exit_code == 3
    assert token not in result.stderr and "***" in result.stderr
