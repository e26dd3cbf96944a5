"""The mail path and the secrets under attack: a real SMTP conversation (aiosmtpd) and the CLI.

- Jinja syntax in a title or a comment is data: the delivered mail shows it literally in
  the subject and in both bodies (status change and reminder), it is never evaluated.
- CR/LF, a Unicode line separator or an encoded word that decodes to CR/LF in a title
  adds no header and no recipient: the envelope and the parsed headers are those of a
  harmless notice.
- The SMTP password (RUHRFLOW_SMTP_PASSWORD) and the audit HMAC key (RUHRFLOW_AUDIT_KEY)
  appear in no output, no stored error, no history entry and no log record, even when the
  server refuses the login and echoes what it got.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from conftest import NOW
from conftest import test_config_text as config_text
from notify_fixtures import Received, StartServer, parse
from sqlalchemy import select, update
from support import add_proposal, walk_to

from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import load_settings
from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.engine.intake import ProposalInput
from workflow.errors import InvalidInput
from workflow.store.schema import history, outbox, proposals

IM = "ruhr-konferenz@im.nrw.example"
SENDER = "koordination@ruhrkonferenz.nrw.example"
AT = "2019-07-15T11:00"  # NOW + 1 h, Berlin
USERNAME = "ruhrflow-versand"
PASSWORD = "Kumpel-Passw0rt!Zeche-2019"
AUDIT_KEY = "Rechnungshof-HMAC-Schlüssel-7f3a"


# --- helpers -------------------------------------------------------------------------------


def smtp_config(tmp_path: Path, port: int, *, username: str = "") -> Path:
    """A config that delivers through the SMTP server on ``port`` (no TLS: loopback)."""
    path = tmp_path / "smtp.toml"
    path.write_text(
        '[mail]\ntransport = "smtp"\n'
        f'[mail.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'username = "{username}"\ntimeout_seconds = 5\n',
        encoding="utf-8",
    )
    return path


def cli_run(url: str, config: Path, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """The CLI in-process; never a traceback."""
    result = CliRunner().invoke(
        cli, ["--db", url, "--config", str(config), "--now", AT, *args], env=dict(env or {})
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def bodies(message: EmailMessage) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            assert isinstance(part, EmailMessage)
            found[part.get_content_type()] = part.get_content()
    return found


def by_kind(handler_received: list[Received], kind: str) -> list[Received]:
    return [r for r in handler_received if str(parse(r)["X-Ruhrflow-Key"]).endswith(kind)]


# --- template injection --------------------------------------------------------------------

JINJA_TITLE = "Plan {{ 7*7 }} {% for x in y %}{{ x }}{% endfor %} Ruhr"
JINJA_COMMENT = "Kommentar {{ 7*7 }} {% for x in y %}x{% endfor %} {{ config }}"


def assert_literal(message: EmailMessage, *texts: str) -> None:
    """Every text is in the subject (the title) and in both bodies, unevaluated."""
    body = bodies(message)
    assert set(body) == {"text/plain", "text/html"}
    assert JINJA_TITLE in str(message["Subject"])
    for kind, part in body.items():
        for text in texts:
            if kind == "text/plain":  # wrapped to 78 characters a line at spaces
                assert " ".join(text.split()) in " ".join(part.split())
            else:
                assert text in part
        assert "Plan 49" not in part and "Kommentar 49" not in part
    assert "Plan 49" not in str(message["Subject"])


def test_jinja_in_title_and_comment_is_shown_literally_in_a_delivered_status_change(
    runtime: Runtime, smtp_server: StartServer
) -> None:
    # given a proposal whose title and comment are Jinja templates
    engine = runtime.engine
    key = add_proposal(engine, NOW, title=JINJA_TITLE)
    engine.advance(key, "submit", actor="koordination", now=NOW, comment=JINJA_COMMENT)
    controller, handler = smtp_server()
    # when `ruhrflow notices send` delivers it over SMTP
    config = smtp_config(Path(runtime.settings.mail.maildir).parent, controller.port)
    result = cli_run(runtime.settings.database_url, config, "notices", "send")
    # then the mail shows both literally: in the subject and in both bodies
    assert result.exit_code == 0, result.output
    (received,) = handler.received
    assert_literal(parse(received), JINJA_TITLE, JINJA_COMMENT)


def test_jinja_in_a_title_is_shown_literally_in_a_delivered_reminder(
    runtime: Runtime, smtp_server: StartServer
) -> None:
    # given a proposal with a Jinja title in its consultation
    engine = runtime.engine
    key = add_proposal(engine, NOW, title=JINJA_TITLE)
    walk_to(engine, key, "consultation", NOW)
    controller, handler = smtp_server()
    config = smtp_config(Path(runtime.settings.mail.maildir).parent, controller.port)
    # when the scheduler ticks a week before the end of the consultation
    result = CliRunner().invoke(
        cli,
        ["--db", runtime.settings.database_url, "--config", str(config),
         "--now", "2019-07-29T09:00", "scheduler", "tick"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # then the reminder went out over SMTP with the title literal in subject and bodies
    (reminder,) = by_kind(handler.received, f"deadline-rung:{_rung_id(engine, key)}")
    assert_literal(parse(reminder), JINJA_TITLE)


def _rung_id(engine: Engine, key: str) -> int:
    with engine.store.read() as conn:
        keys = conn.execute(
            select(outbox.c.idempotency_key).where(outbox.c.kind == "reminder")
        ).scalars()
        (only,) = [int(k.rpartition(":")[2]) for k in keys]
    return only


# --- header injection ----------------------------------------------------------------------

EVIL = "evil@example.org"
# (title, whether the intake accepts it: the others are written past it, as a compromised
# import or a database edit could)
HOSTILE_TITLES = {
    "encoded-word": ("Ruhr =?utf-8?q?=0D=0ABcc:_evil@example.org?=", True),
    "encoded-word-b": ("Ruhr =?utf-8?b?DQpCY2M6IGV2aWxAZXhhbXBsZS5vcmc=?=", True),
    "crlf": (f"Ruhr\r\nBcc: {EVIL}", False),
    "lf": (f"Ruhr\nTo: {EVIL}", False),
    "cr": (f"Ruhr\rCc: {EVIL}", False),
    "crlf-body": (f"Ruhr\r\n\r\nBcc: {EVIL}", False),
    "line-separator": (f"Ruhr\u2028Bcc: {EVIL}\u2029Cc: {EVIL}", False),
    "next-line": (f"Ruhr\x85Bcc: {EVIL}", False),
}


def _headers_of_a_harmless_notice(runtime: Runtime, smtp_server: StartServer) -> list[str]:
    engine = runtime.engine
    key = add_proposal(engine, NOW, title="Harmlos")
    engine.advance(key, "submit", actor="koordination", now=NOW)
    controller, handler = smtp_server()
    config = smtp_config(Path(runtime.settings.mail.maildir).parent, controller.port)
    assert cli_run(runtime.settings.database_url, config, "notices", "send").exit_code == 0
    (received,) = handler.received
    return sorted(k.lower() for k in parse(received))


@pytest.mark.parametrize("name", list(HOSTILE_TITLES))
def test_a_hostile_title_adds_no_header_and_no_recipient(
    runtime: Runtime, smtp_server: StartServer, name: str
) -> None:
    title, accepted = HOSTILE_TITLES[name]
    engine = runtime.engine
    expected_headers = _headers_of_a_harmless_notice(runtime, smtp_server)
    # given a proposal with the hostile title (through the intake where it is accepted)
    item = ProposalInput(title=title, handlungsfeld=3, themenforum=3, lead="IM")
    if accepted:
        checked = engine.check_proposal(item)
        (key,) = engine.create_proposals([checked], actor="koordination", now=NOW)
    else:
        with pytest.raises(InvalidInput):
            engine.check_proposal(item)
        key = add_proposal(engine, NOW)
        with runtime.store.write() as conn:
            conn.execute(update(proposals).where(proposals.c.key == key).values(title=title))
    engine.advance(key, "submit", actor="koordination", now=NOW,
                   comment=f"=?utf-8?q?=0D=0ABcc:_{EVIL}?=\nBcc: {EVIL}")  # fmt: skip
    # when `ruhrflow notices send` delivers it over SMTP
    controller, handler = smtp_server()
    config = smtp_config(Path(runtime.settings.mail.maildir).parent, controller.port)
    result = cli_run(runtime.settings.database_url, config, "notices", "send")
    assert result.exit_code == 0, result.output
    # then the envelope is the sender and the lead ministry, nobody else
    (received,) = handler.received
    assert received.mail_from == SENDER and received.rcpt_tos == [IM]
    # and the parsed headers are exactly those of a harmless notice
    message = parse(received)
    assert sorted(k.lower() for k in message) == expected_headers
    assert [a.addr_spec for a in message["To"].addresses] == [IM]
    subject = str(message["Subject"])
    assert not any(ch in subject for ch in "\r\n\x85\u2028\u2029")
    assert all(EVIL not in str(v) for k, v in message.items() if k.lower() != "subject")
    # and the comment arrives as text in the body, not as a header
    assert f"Bcc: {EVIL}" in bodies(message)["text/plain"]


# --- secrets -------------------------------------------------------------------------------


def _secret_forms(secret: str, username: str = USERNAME) -> list[str]:
    """The secret and the encodings a protocol or a careless log would carry it in."""
    raw = secret.encode("utf-8")
    forms = [secret, raw.hex(), repr(raw)[2:-1]]
    for payload in (raw, f"\0{username}\0{secret}".encode(), f"{username}\0{secret}".encode()):
        forms.append(base64.b64encode(payload).decode("ascii"))
    return forms


def assert_nowhere(secret: str, *texts: str) -> None:
    for form in _secret_forms(secret):
        for text in texts:
            assert form not in text, f"the secret (as {form!r}) leaked"


class RefusingAuthenticator:
    """Refuses every login; with ``echo`` the refusal repeats the credentials it got."""

    def __init__(self, *, echo: bool) -> None:
        self.echo = echo
        self.tried: list[tuple[str, str]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.tried.append((login, password))
        if self.echo:
            message = f"535 5.7.8 bad credentials {login}:{password} ({mechanism})"
            return AuthResult(success=False, handled=False, message=message)
        return AuthResult(success=False, handled=False)


def _history_text(runtime: Runtime) -> str:
    with runtime.store.read() as conn:
        rows = conn.execute(select(history)).mappings().all()
    return json.dumps([dict(r) for r in rows], default=str, ensure_ascii=False)


@pytest.mark.parametrize("echo", [False, True], ids=["refusal", "refusal-echoing-the-password"])
def test_an_smtp_login_failure_never_shows_the_password(
    runtime: Runtime,
    smtp_server: StartServer,
    caplog: pytest.LogCaptureFixture,
    echo: bool,
) -> None:
    # given a pending notice and a server that refuses the login
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    engine.advance(key, "submit", actor="koordination", now=NOW)
    authenticator = RefusingAuthenticator(echo=echo)
    controller, handler = smtp_server(authenticator=authenticator, auth_require_tls=False)
    config = smtp_config(Path(runtime.settings.mail.maildir).parent, controller.port,
                         username=USERNAME)  # fmt: skip
    env = {"RUHRFLOW_SMTP_PASSWORD": PASSWORD}
    url = runtime.settings.database_url
    # when `ruhrflow notices send` tries, with every log record captured
    with caplog.at_level(logging.DEBUG):
        sent = cli_run(url, config, "notices", "send", env=env)
        listed = cli_run(url, config, "notices", "list", "--format", "json", env=env)
    # then the login was really tried with the password, and refused: the notice failed
    assert (USERNAME, PASSWORD) in authenticator.tried and handler.received == []
    with runtime.store.read() as conn:
        (row,) = conn.execute(select(outbox)).mappings().all()
    assert row["status"] == "failed" and "535" in row["last_error"]
    assert "notice_failed" in _history_text(runtime)
    # and the password is in no output, no stored error, no history entry, no log record
    # (but the server's own: aiosmtpd logs the conversation it received)
    records = [r for r in caplog.records if not r.name.startswith("mail.log")]
    assert any("failed" in r.getMessage() for r in records)
    assert_nowhere(
        PASSWORD,
        sent.output,
        listed.output,
        str(row["last_error"]),
        _history_text(runtime),
        "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text}" for r in records),
    )


@pytest.fixture
def keyed(database_url: str, tmp_path: Path) -> Runtime:
    """A runtime whose history is keyed with AUDIT_KEY, with a walked proposal."""
    config = tmp_path / "keyed.toml"
    config.write_text(config_text(tmp_path / "mail"), encoding="utf-8")
    settings = load_settings(
        config, database_url=database_url, env={"RUHRFLOW_AUDIT_KEY": AUDIT_KEY}
    )
    runtime = open_runtime(settings)
    key = add_proposal(runtime.engine, NOW)
    walk_to(runtime.engine, key, "ministry_review", NOW)
    return runtime


def test_audit_verify_and_export_never_show_the_hmac_key(
    keyed: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = keyed.settings.database_url
    config = tmp_path / "keyed.toml"
    env = {"RUHRFLOW_AUDIT_KEY": AUDIT_KEY}
    outputs: list[str] = []
    try:
        with caplog.at_level(logging.DEBUG):
            # the keyed history verifies with the key, in text and json
            for fmt in ("text", "json"):
                result = cli_run(url, config, "audit", "verify", "--format", fmt, env=env)
                assert result.exit_code == 0, result.output
                outputs.append(result.output)
            assert "HMAC-SHA-256" in outputs[0]
            # exports to stdout and to files, and their offline verification
            for fmt in ("jsonl", "csv"):
                result = cli_run(url, config, "audit", "export", "--format", fmt,
                                 "--output", "-", env=env)  # fmt: skip
                assert result.exit_code == 0, result.output
                outputs.append(result.output)
            export = tmp_path / "history.jsonl"
            result = cli_run(url, config, "audit", "export", "--output", str(export), env=env)
            assert result.exit_code == 0, result.output
            outputs += [result.output, export.read_text(encoding="utf-8")]
            result = cli_run(url, config, "audit", "verify", "--file", str(export), env=env)
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
            # a wrong key and no key: a clean break, naming neither key
            for other in ({"RUHRFLOW_AUDIT_KEY": "falsch"}, {}):
                for fmt in ("text", "json"):
                    result = cli_run(url, config, "audit", "verify", "--format", fmt, env=other)
                    assert result.exit_code == 1, result.output
                    outputs.append(result.output)
                result = cli_run(url, config, "audit", "verify", "--file", str(export), env=other)
                assert result.exit_code == 1, result.output
                outputs.append(result.output)
            # a checkpoint (an HMAC over the heads) is printed, the key is not
            result = cli_run(url, config, "--as", "koordination", "audit", "checkpoint", env=env)
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
    finally:
        keyed.close()
    logged = [f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text}" for r in caplog.records]
    assert_nowhere(AUDIT_KEY, *outputs, *logged)


def test_a_non_ascii_password_fails_the_notice_cleanly(
    runtime: Runtime, smtp_server: StartServer
) -> None:
    engine = runtime.engine
    key = add_proposal(engine, NOW)
    engine.advance(key, "submit", actor="koordination", now=NOW)
    controller, _ = smtp_server(
        authenticator=RefusingAuthenticator(echo=False), auth_require_tls=False
    )
    config = smtp_config(Path(runtime.settings.mail.maildir).parent, controller.port,
                         username=USERNAME)  # fmt: skip
    password = "Zeche§Zollverein"
    result = cli_run(runtime.settings.database_url, config, "notices", "send",
                     env={"RUHRFLOW_SMTP_PASSWORD": password})  # fmt: skip
    with runtime.store.read() as conn:
        (row,) = conn.execute(select(outbox)).mappings().all()
    assert row["status"] in ("failed", "pending")
    # failed for good: exit 1; left pending for a later attempt only if unreachable: exit 3
    assert result.exit_code == (1 if row["status"] == "failed" else 3)
    assert "internal error" not in result.output
    assert_nowhere(password, result.output, str(row["last_error"]))
    assert "§" not in result.output + str(row["last_error"])


def test_a_short_secret_that_is_a_word_does_not_rewrite_messages(
    keyed: Runtime, tmp_path: Path
) -> None:
    # given a keyed history, checked with the wrong key "wrong" (a word, not a secret)
    url = keyed.settings.database_url
    config = tmp_path / "keyed.toml"
    try:
        # when it is verified
        result = cli_run(url, config, "audit", "verify", env={"RUHRFLOW_AUDIT_KEY": "wrong"})
    finally:
        keyed.close()
    # then the message is intact, not "the audit key is ***" (issue 18.11)
    assert result.exit_code == 1, result.output
    assert "or the audit key is wrong" in result.output and "***" not in result.output
