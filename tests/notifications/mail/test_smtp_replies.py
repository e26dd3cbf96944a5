"""Issue 18.11: what of a server's reply ruhrflow repeats (notifications/mail/replies.py).

Masking echoes of the password failed for URL-encoded or split echoes, and rewrote innocent
text when a secret was a common word. Now the reply to the login is repeated as its status
code only, other replies as a bounded, sanitised text, and only secrets long enough to be
told from words are masked in error lines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from notify_contexts import status_change_full
from notify_fixtures import CollectingHandler, StartServer

from notifications import Recipient, Renderer, SMTPTransport, TransportError, build_message
from notifications.mail.replies import MAX_REPLY, credential_forms, sanitised, server_reply
from workflow.process.german import FILTERS

USERNAME = "ruhrflow"
PASSWORD = "Zollverein-Schacht-XII"
RECIPIENTS = [Recipient("Referat 42, MULNV", "referat42@mulnv.nrw.invalid")]
# aiosmtpd warns (rightly) about AUTH without TLS; these tests use it on purpose.
PLAIN_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def notice_message() -> EmailMessage:
    return build_message(
        sender="ruhrkonferenz@stk.nrw.invalid",
        recipients=RECIPIENTS,
        rendered=Renderer(formatting=FILTERS).render("status_change", status_change_full()),
        idempotency_key="RK-03-01:approve:7",
        date=datetime(2019, 11, 5, 8, 0, tzinfo=UTC),
        installation="test-installation",
    )


def echoing(transform: Any) -> Any:
    """An authenticator that refuses every login and echoes ``transform(password)``."""

    def authenticator(
        server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        said = transform(auth_data.password.decode())
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 no: {said}")

    return authenticator


ECHOES = {
    "url-encoded": lambda p: quote(p, safe=""),
    "split": lambda p: f"{p[:9]} ... {p[9:]}",
    "reversed": lambda p: p[::-1],
    "spaced": lambda p: " ".join(p),
}


@PLAIN_AUTH
@pytest.mark.parametrize("name", ECHOES)
def test_no_echo_of_the_password_in_any_form_is_repeated(
    smtp_server: StartServer, name: str
) -> None:
    # given a server that refuses the login and echoes the password in a form masking misses
    controller, _ = smtp_server(
        authenticator=echoing(ECHOES[name]), auth_required=True, auth_require_tls=False
    )
    transport = SMTPTransport("127.0.0.1", controller.port, "none", USERNAME, PASSWORD, timeout=5)
    # when a notice is sent
    with pytest.raises(TransportError) as caught:
        transport.send(notice_message())
    # then the error gives the status code and says why the text is left out
    error = str(caught.value)
    assert "server replied 535 5.7.8 (the reply to the login is not repeated" in error
    # and no piece of the password is in it
    for piece in (PASSWORD[:9], PASSWORD[9:], ECHOES[name](PASSWORD)):
        assert piece not in error


@PLAIN_AUTH
def test_a_reply_after_the_login_is_bounded_and_sanitised(smtp_server: StartServer) -> None:
    # given a server that accepts the login and refuses a recipient with a long reply that
    # carries terminal escapes, a bidi override and the password URL-encoded
    hostile = (
        f"550 5.1.1 \x1b]8;;https://evil.example\x07klick\x1b]8;;\x07 \u202eenil "
        f"{quote(PASSWORD, safe='')} " + "x" * 400
    )
    handler = CollectingHandler(rcpt_replies={RECIPIENTS[0].address: hostile})

    def accept(server: Any, session: Session, envelope: Envelope, mech: str, data: Any) -> Any:
        return AuthResult(success=True)

    controller, _ = smtp_server(
        handler, authenticator=accept, auth_required=True, auth_require_tls=False
    )
    transport = SMTPTransport("127.0.0.1", controller.port, "none", USERNAME, PASSWORD, timeout=5)
    # when the notice is sent
    with pytest.raises(TransportError) as caught:
        transport.send(notice_message())
    # then the reply is there, as one bounded, printable line without the password
    error = str(caught.value)
    assert "550" in error and "klick" in error
    assert error.isprintable() and "\u202e" not in error
    assert quote(PASSWORD, safe="") not in error and PASSWORD not in error
    assert len(error) < MAX_REPLY * 2 + 200


def test_reply_helpers() -> None:
    # the login's reply: status code and enhanced code only
    assert server_reply(535, b"5.7.8 bad user:pw", answers_credentials=True).startswith(
        "535 5.7.8 (the reply"
    )
    assert "pw" not in server_reply(535, b"bad pw", answers_credentials=True)
    # every form in which a password can come back is masked in later replies
    forms = credential_forms(USERNAME, "a b/c")
    assert {"a b/c", "a%20b%2Fc", "a+b%2Fc"} <= set(forms)
    assert sanitised("x a%20b%2Fc y", forms) == "x *** y"
    assert len(sanitised("y" * 1000)) == MAX_REPLY
