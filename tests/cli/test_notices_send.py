"""``ruhrflow notices send`` against a real SMTP server (aiosmtpd) that refuses (issue 13, 4).

Exit 1 when a notice failed for good in the run (550, 535), 3 when the server was
unreachable, 0 when a server only refused for now (451, greylisting): those notices are
retried, and the pass goes on with the others. One line per notice not delivered, with the
server's status code and a bounded one-line text, never its raw multi-line reply.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW
from notify_fixtures import CollectingHandler, StartServer, free_port
from sqlalchemy import select
from support import add_proposal

from workflow.app.runtime import Runtime
from workflow.cli.main import cli
from workflow.store.schema import outbox

AT = "2019-07-15T11:00"  # NOW + 1 h, Berlin
NOTICES = 4  # more than delivery.STOP_AFTER_TEMPORARY
LONG_REPLY = "550-5.7.1 Message rejected by policy\r\n550-" + "x" * 400 + "\r\n550 5.7.1 see above"


def _given_notices(runtime: Runtime) -> None:
    engine = runtime.engine
    for _ in range(NOTICES):
        engine.advance(add_proposal(engine, NOW), "submit", actor="koordination", now=NOW)


def _send(
    runtime: Runtime, tmp_path: Path, port: int, smtp: str = "", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    config = tmp_path / "send.toml"
    config.write_text(
        f'[mail]\ntransport = "smtp"\n[mail.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        f"timeout_seconds = 5\n{smtp}",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli,
        ["--db", runtime.settings.database_url, "--config", str(config), "--now", AT,
         "notices", "send"],
        env=env or {},
        catch_exceptions=False,
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def _statuses(runtime: Runtime) -> list[str]:
    with runtime.store.read() as conn:
        return list(conn.execute(select(outbox.c.status).order_by(outbox.c.id)).scalars())


def test_a_permanent_refusal_exits_1_with_one_bounded_error_line_per_notice(
    runtime: Runtime, tmp_path: Path, smtp_server: StartServer
) -> None:
    # given notices and a server that refuses every message with a long multi-line 550
    _given_notices(runtime)
    controller, _ = smtp_server(CollectingHandler(data_reply=LONG_REPLY))
    # when they are sent
    code, out, err = _send(runtime, tmp_path, controller.port)
    # then the run exits 1, every notice has failed, and each says so on one line
    assert code == 1
    assert _statuses(runtime) == ["failed"] * NOTICES
    lines = err.splitlines()
    assert len(lines) == NOTICES
    for line in lines:
        assert line.startswith("error: notice ") and "failed: " in line
        assert "550 5.7.1 Message rejected by policy" in line  # code and the start of the text
        assert "see above" not in line and len(line) < 320  # the reply is cut, not dumped
    assert out.startswith(f"sent 0, to retry 0, failed {NOTICES};")


def test_greylisting_is_retried_for_every_notice_and_exits_0(
    runtime: Runtime, tmp_path: Path, smtp_server: StartServer
) -> None:
    # given a server that greylists: 451 for now
    _given_notices(runtime)
    controller, _ = smtp_server(CollectingHandler(data_reply="451 4.7.1 Greylisted, try later"))
    # when the notices are sent
    code, out, err = _send(runtime, tmp_path, controller.port)
    # then nobody calls the server unreachable, every notice was tried and stays pending
    assert code == 0, err
    assert "unreachable" not in out + err and err == ""
    assert _statuses(runtime) == ["pending"] * NOTICES
    retries = [line for line in out.splitlines() if line.startswith("retry: ")]
    assert len(retries) == NOTICES
    assert all(line.endswith("451 4.7.1 Greylisted, try later") for line in retries)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_wrong_password_535_exits_1(
    runtime: Runtime, tmp_path: Path, smtp_server: StartServer
) -> None:
    from aiosmtpd.smtp import AuthResult

    def refuse(*_: object) -> AuthResult:
        return AuthResult(success=False, handled=False)

    # given a server that requires AUTH and refuses the configured credentials
    _given_notices(runtime)
    controller, handler = smtp_server(
        authenticator=refuse, auth_required=True, auth_require_tls=False
    )
    # when the notices are sent
    code, _, err = _send(
        runtime, tmp_path, controller.port, 'username = "ruhrflow"\n',
        env={"RUHRFLOW_SMTP_PASSWORD": "falsch"},
    )  # fmt: skip
    # then each failed for good with the server's 535, and the password is nowhere
    assert code == 1
    assert handler.received == []
    lines = err.splitlines()
    assert len(lines) == NOTICES and all(" 535 " in line for line in lines)
    assert "falsch" not in err
    assert _statuses(runtime) == ["failed"] * NOTICES


def test_an_unreachable_server_exits_3_and_keeps_the_notices(
    runtime: Runtime, tmp_path: Path
) -> None:
    # given notices and no server listening
    _given_notices(runtime)
    # when they are sent
    code, _, err = _send(runtime, tmp_path, free_port())
    # then exit 3: they stay pending for a later pass, which stopped after a few tries
    assert code == 3
    assert err.startswith("error: the mail transport is unreachable")
    assert len(err.splitlines()) == 1
    assert set(_statuses(runtime)) == {"pending"}


def test_a_transport_error_that_reaches_the_cli_is_one_line_with_exit_4(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a delivery pass whose transport error is not caught below the CLI (the mail
    # library's TransportError is no WorkflowError: the CLI knows it by name)
    from notifications.mail.transport import TransportError

    def failing(*args: object, **kwargs: object) -> None:
        raise TransportError("smtp: connection lost", temporary=True, unreachable=True)

    monkeypatch.setattr("workflow.notices.delivery.deliver", failing)
    # when notices are sent
    code, out, err = _send(runtime, tmp_path, free_port())
    # then the error is one line with the transport's exit code, not an internal error
    assert code == 4, (out, err)
    assert err.strip() == "error: smtp: connection lost"
