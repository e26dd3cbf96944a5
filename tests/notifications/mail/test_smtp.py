"""SMTPTransport against a real SMTP server (aiosmtpd on 127.0.0.1), including AUTH and TLS."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import traceback
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from notify_contexts import status_change_full
from notify_fixtures import Certificate, CollectingHandler, StartServer, free_port

from notifications import (
    CalendarEntry,
    Recipient,
    Renderer,
    SMTPTransport,
    TransportError,
    build_message,
)
from workflow.process.german import FILTERS

INSTALLATION = "5f0c1e2d3b4a69788796a5b4c3d2e1f0"  # what migration 0007 makes: 32 hex digits

UTC = ZoneInfo("UTC")
SENDER = "ruhrkonferenz@stk.nrw.invalid"
RECIPIENTS = [
    Recipient("Referat 42, MULNV", "referat42@mulnv.nrw.invalid"),
    Recipient("Büro des Ministers, IM", "buero@im.nrw.invalid"),
]
USERNAME = "ruhrflow"
PASSWORD = "Geheim-Ruhr-2019!"
# aiosmtpd warns (rightly) about AUTH without TLS; the AUTH tests below use it on purpose.
PLAIN_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def notice_message(
    title: str | None = None, recipients: list[Recipient] | None = None
) -> EmailMessage:
    context = status_change_full() if title is None else status_change_full(title=title)
    return build_message(
        sender=SENDER,
        recipients=RECIPIENTS if recipients is None else recipients,
        rendered=Renderer(formatting=FILTERS).render("status_change", context),
        idempotency_key="RK-03-01:approve:7",
        installation=INSTALLATION,
        date=datetime(2019, 11, 5, 8, 0, tzinfo=UTC),
        calendar=CalendarEntry(
            uid="rk-03-01.frist@ruhrflow.invalid",
            sequence=3,
            summary="Frist: Meldung zur Ergänzungsvorlage",
            description="Vorschlag RK-03-01",
            starts_at=datetime(2019, 11, 26, 8, 0, tzinfo=UTC),
        ),
    )


def parse(content: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def accept_only(password: str, echo: bool = False) -> Any:
    """An aiosmtpd authenticator for USERNAME/password; ``echo`` makes it repeat the input."""

    def authenticator(
        server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        if auth_data.login == USERNAME.encode() and auth_data.password == password.encode():
            return AuthResult(success=True)
        if echo:  # a badly behaved server that puts the credentials into its reply
            said = auth_data.password.decode()
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 wrong: {said}")
        return AuthResult(success=False, handled=False)

    return authenticator


def test_a_notice_arrives_with_recipients_subject_both_bodies_and_the_calendar(
    smtp_server: StartServer,
) -> None:
    # given a plain SMTP relay
    controller, handler = smtp_server()
    transport = SMTPTransport("127.0.0.1", controller.port, security="none", timeout=5)
    # when
    transport.send(notice_message())
    # then the envelope is the From address and exactly the To addresses
    (received,) = handler.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == [r.address for r in RECIPIENTS]
    # and the message parses back completely
    parsed = parse(received.content)
    assert parsed["Subject"] == (
        "Ruhr-Konferenz RK-03-01: Vom Kabinett beschlossen – "
        "Zentrale Sicherheitskooperation Ruhr gegen Clankriminalität"
    )
    assert [a.addr_spec for a in parsed["To"].addresses] == received.rcpt_tos
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and "Sehr geehrte Damen und Herren," in plain.get_content()
    assert html is not None and "<p>Sehr geehrte Damen und Herren,</p>" in html.get_content()
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    calendar = icalendar.Calendar.from_ical(attachment.get_payload(decode=True))
    (event,) = calendar.events
    assert str(event["UID"]) == "rk-03-01.frist@ruhrflow.invalid"
    assert int(event["SEQUENCE"]) == 3
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]


@pytest.mark.parametrize(
    "attack",
    ["Test\r\nBcc: evil@example.org", "=?utf-8?q?=0D=0ABcc:_evil@example.org?="],
    ids=["crlf", "encoded-word"],
)
def test_header_injection_reaches_neither_headers_nor_envelope(
    smtp_server: StartServer, attack: str
) -> None:
    # given a title and a display name that try to add a Bcc recipient
    controller, handler = smtp_server()
    transport = SMTPTransport("127.0.0.1", controller.port, security="none", timeout=5)
    recipients = [Recipient(attack, "referat42@mulnv.nrw.invalid")]
    # when
    transport.send(notice_message(attack, recipients))
    # then
    (received,) = handler.received
    assert received.rcpt_tos == ["referat42@mulnv.nrw.invalid"]
    parsed = parse(received.content)
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["referat42@mulnv.nrw.invalid"]
    head = received.content.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head
    assert "evil@example.org" in parsed["Subject"]  # still there, as harmless text


@PLAIN_AUTH
def test_auth_with_the_right_password_delivers(smtp_server: StartServer) -> None:
    # given a server that requires AUTH (over plain text, for this test only)
    controller, handler = smtp_server(
        authenticator=accept_only(PASSWORD), auth_required=True, auth_require_tls=False
    )
    transport = SMTPTransport("127.0.0.1", controller.port, "none", USERNAME, PASSWORD, timeout=5)
    # when
    transport.send(notice_message())
    # then
    assert len(handler.received) == 1


@PLAIN_AUTH
def test_sending_without_auth_to_a_server_that_requires_it_fails_permanently(
    smtp_server: StartServer,
) -> None:
    controller, handler = smtp_server(
        authenticator=accept_only(PASSWORD), auth_required=True, auth_require_tls=False
    )
    transport = SMTPTransport("127.0.0.1", controller.port, security="none", timeout=5)
    with pytest.raises(TransportError, match="530") as caught:
        transport.send(notice_message())
    assert caught.value.temporary is False
    assert handler.received == []


@PLAIN_AUTH
@pytest.mark.parametrize("echo", [False, True], ids=["plain-535", "server-echoes-password"])
def test_a_wrong_password_fails_permanently_and_never_shows_the_password(
    smtp_server: StartServer, echo: bool
) -> None:
    # given a server that knows a different password
    controller, handler = smtp_server(
        authenticator=accept_only("richtiges-Passwort", echo=echo),
        auth_required=True,
        auth_require_tls=False,
    )
    transport = SMTPTransport("127.0.0.1", controller.port, "none", USERNAME, PASSWORD, timeout=5)
    # when
    with pytest.raises(TransportError) as caught:
        transport.send(notice_message())
    # then
    error = caught.value
    assert error.temporary is False
    assert "535" in str(error)
    shown = "".join(traceback.format_exception(error)) + repr(error) + repr(transport)
    assert PASSWORD not in shown
    # the reply to the login is repeated as its status code only (see test_smtp_replies.py)
    assert "535 5.7.8 (the reply to the login is not repeated" in str(error)
    assert "wrong" not in str(error)
    assert handler.received == []


def test_starttls_with_a_verified_certificate_and_auth_delivers(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    # given a server that requires STARTTLS before anything else, and AUTH only under TLS
    controller, handler = smtp_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=accept_only(PASSWORD),
        auth_required=True,
    )
    transport = SMTPTransport(
        "127.0.0.1",
        controller.port,
        security="starttls",
        username=USERNAME,
        password=PASSWORD,
        timeout=5,
        ssl_context=certificate.client_context(),
    )
    # when
    transport.send(notice_message())
    # then
    (received,) = handler.received
    assert parse(received.content)["X-Ruhrflow-Key"] == "RK-03-01:approve:7"


def test_starttls_refuses_a_certificate_it_cannot_verify(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    # given the self-signed server certificate and the system trust store (which lacks it)
    controller, handler = smtp_server(
        tls_context=certificate.server_context(), require_starttls=True
    )
    transport = SMTPTransport("127.0.0.1", controller.port, security="starttls", timeout=5)
    # then
    with pytest.raises(TransportError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        transport.send(notice_message())
    assert handler.received == []


def test_plain_sending_to_a_server_that_requires_starttls_fails_permanently(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    controller, handler = smtp_server(
        tls_context=certificate.server_context(), require_starttls=True
    )
    transport = SMTPTransport("127.0.0.1", controller.port, security="none", timeout=5)
    with pytest.raises(TransportError, match="530") as caught:
        transport.send(notice_message())
    assert caught.value.temporary is False
    assert handler.received == []


def test_implicit_tls_delivers(smtp_server: StartServer, certificate: Certificate) -> None:
    # given a server that speaks TLS from the first byte (port 465 style)
    controller, handler = smtp_server(ssl_context=certificate.server_context())
    transport = SMTPTransport(
        "127.0.0.1",
        controller.port,
        security="ssl",
        timeout=5,
        ssl_context=certificate.client_context(),
    )
    # when
    transport.send(notice_message())
    # then
    assert len(handler.received) == 1


@pytest.mark.parametrize(
    ("reply", "temporary"),
    [
        ("451 4.3.0 Bitte spaeter erneut versuchen", True),
        ("452 4.3.1 Insufficient system storage", True),
        ("554 5.7.1 Message rejected", False),
        ("550 5.7.1 Policy violation", False),
    ],
)
def test_data_replies_4xx_are_temporary_and_5xx_permanent(
    smtp_server: StartServer, reply: str, temporary: bool
) -> None:
    # given a server that answers DATA with the reply
    controller, handler = smtp_server(CollectingHandler(data_reply=reply))
    transport = SMTPTransport("127.0.0.1", controller.port, security="none", timeout=5)
    # when
    with pytest.raises(TransportError) as caught:
        transport.send(notice_message())
    # then
    assert caught.value.temporary is temporary
    assert reply.split()[0] in str(caught.value)
    assert handler.received == []


@pytest.mark.parametrize(("code", "temporary"), [("450", True), ("550", False)])
def test_all_recipients_refused_is_classified_by_the_reply(
    smtp_server: StartServer, code: str, temporary: bool
) -> None:
    replies = {r.address: f"{code} mailbox unavailable" for r in RECIPIENTS}
    controller, handler = smtp_server(CollectingHandler(rcpt_replies=replies))
    transport = SMTPTransport("127.0.0.1", controller.port, security="none", timeout=5)
    with pytest.raises(TransportError, match="all recipients refused") as caught:
        transport.send(notice_message())
    assert caught.value.temporary is temporary
    assert handler.received == []


def test_a_partly_refused_message_is_a_permanent_error_naming_the_refused_address(
    smtp_server: StartServer,
) -> None:
    # given a server that knows only the first recipient
    refused = RECIPIENTS[1].address
    controller, handler = smtp_server(
        CollectingHandler(rcpt_replies={refused: "550 5.1.1 no such user"})
    )
    transport = SMTPTransport("127.0.0.1", controller.port, security="none", timeout=5)
    # when
    with pytest.raises(TransportError, match=f"refused by {refused}") as caught:
        transport.send(notice_message())
    # then: not retried (the first recipient has it already), and it did arrive there
    assert caught.value.temporary is False
    (received,) = handler.received
    assert received.rcpt_tos == [RECIPIENTS[0].address]


def test_a_server_that_is_down_is_a_temporary_error() -> None:
    # given a port nobody listens on
    transport = SMTPTransport("127.0.0.1", free_port(), security="none", timeout=5)
    # then
    with pytest.raises(TransportError, match="ConnectionRefused") as caught:
        transport.send(notice_message())
    assert caught.value.temporary is True


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket that accepts connections but never greets."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener.getsockname()[1]


def test_a_server_that_does_not_answer_in_time_is_a_temporary_error(silent_server: int) -> None:
    transport = SMTPTransport("127.0.0.1", silent_server, security="none", timeout=0.2)
    with pytest.raises(TransportError, match="timed out") as caught:
        transport.send(notice_message())
    assert caught.value.temporary is True


def test_settings_are_checked_when_the_transport_is_made() -> None:
    with pytest.raises(ValueError, match="security"):
        SMTPTransport("127.0.0.1", 25, security="tls")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="both username and password"):
        SMTPTransport("127.0.0.1", 25, username=USERNAME)
    with pytest.raises(ValueError, match="timeout"):
        SMTPTransport("127.0.0.1", 25, timeout=0)
    assert PASSWORD not in repr(SMTPTransport("h", 587, "starttls", USERNAME, PASSWORD))


def test_the_default_context_verifies_certificates() -> None:
    # the transport must never fall back to an unverified context
    transport = SMTPTransport("127.0.0.1", 587)
    context = transport._context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
