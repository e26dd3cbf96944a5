"""A built message as bytes (notifications/mail/wire.py): what ``as_bytes`` gives, always.

Given the messages notices make — any subject, name and body text, with and without the
calendar part, an attachment the stdlib must encode, a Reply-To — and messages the short
way does not take (headers the stdlib parsed, a preamble, non-ASCII payloads), when they are
written with CRLF (SMTP) and with LF (Maildir), then the bytes are exactly those of
``message.as_bytes(policy=…)``.
"""

from __future__ import annotations

import email.errors
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from user_text import USER_TEXT

from notifications import CalendarEntry, Recipient, build_message
from notifications.mail.headers import POLICY
from notifications.mail.model import Attachment, RenderedNotice
from notifications.mail.wire import message_bytes

BERLIN = ZoneInfo("Europe/Berlin")
WHEN = datetime(2019, 11, 5, 9, 30, tzinfo=BERLIN)
POLICIES = (POLICY, POLICY.clone(linesep="\n"))


def _notice(subject: str, name: str, text: str, *, calendar: bool, odd: bool) -> EmailMessage:
    entry = CalendarEntry("rk-03-01.frist@ruhrflow.invalid", 2, subject or "Frist", text, WHEN)
    unusual = Attachment(  # a long, non-ASCII file name: the stdlib's way (RFC 2231)
        "Übersicht der Fristen im Revier " * 3 + ".txt", "text", "plain", (), text.encode()
    )
    return build_message(
        sender="Koordinierung der Ruhr-Konferenz <koordination@ruhrflow.invalid>",
        recipients=[Recipient(name, "ruhr-konferenz@im.nrw.example"), Recipient("", "a@b.de")],
        rendered=RenderedNotice(subject, text, f"<p>{text}</p>"),
        idempotency_key="transition:RK-03-01:2:status_change",
        date=WHEN,
        calendar=entry if calendar else None,
        attachments=[unusual] if odd else [],
        reply_to="Koordinierung <antwort@ruhrflow.invalid>" if odd else "",
        mailer="ruhrflow 0.3.0",
        installation="5f0c1e2d3b4a69788796a5b4c3d2e1f0",
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=USER_TEXT,
    name=USER_TEXT,
    text=USER_TEXT | st.text(alphabet="ab =\t\r\n.ü", max_size=400),
    calendar=st.booleans(),
    odd=st.booleans(),
)
def test_a_notice_is_written_as_the_generator_writes_it(
    subject: str, name: str, text: str, calendar: bool, odd: bool
) -> None:
    message = _notice(subject, name, text, calendar=calendar, odd=odd)
    expected = [message.as_bytes(policy=policy) for policy in POLICIES]
    if not odd:  # and the notice's own parts are written the short way, not the generator's
        message.as_bytes = None  # type: ignore[assignment,method-assign]
    assert [message_bytes(message, policy) for policy in POLICIES] == expected


def _stdlib_message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Grüße aus dem Revier"
    message["To"] = "Amt <amt@example.org>"
    message.set_content("Zeile 1\nZeile 2 mit Ümlaut\n")
    message.add_alternative("<p>Ümlaut</p>", subtype="html")
    return message


def _with_preamble() -> EmailMessage:
    message = _notice("Betreff", "Amt", "Text", calendar=False, odd=False)
    message.preamble = "This is a multi-part message in MIME format."
    message.epilogue = "Ende"
    return message


def _eight_bit() -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message.set_content("Grüße\n", cte="8bit")
    return message


@pytest.mark.parametrize("make", [_stdlib_message, _with_preamble, _eight_bit])
def test_other_messages_go_the_generators_way(make: object) -> None:
    assert callable(make)
    message = make()
    for policy in POLICIES:
        assert message_bytes(message, policy) == message.as_bytes(policy=policy)


@pytest.mark.parametrize("value", ["a\x0bb", "a\x1cb", "a\rb", "a\nb", "a\r\nb"])
@pytest.mark.parametrize("linesep", ["\r\n", "\n"])
def test_a_policy_that_verifies_headers_refuses_a_line_break_without_folding_space(
    value: str, linesep: str
) -> None:
    # Python 3.11.10/3.12.5/3.13's generator checks every written header when
    # verify_generated_headers is on (set here on a clone where the stdlib has no such field).
    message = EmailMessage(policy=POLICY)
    message.set_raw("X-Note", value)
    message.set_raw("X-Folded", "a\r\n b")  # folded: passes
    message.set_payload("text\n")
    policy = POLICY.clone(linesep=linesep)
    assert message_bytes(message, policy) == message.as_bytes(policy=policy)
    checking = policy.clone()
    object.__setattr__(checking, "verify_generated_headers", True)

    refused = getattr(email.errors, "HeaderWriteError", email.errors.MessageError)
    with pytest.raises(refused, match="folded header contains newline"):
        message_bytes(message, checking)
    if hasattr(email.errors, "HeaderWriteError"):  # the stdlib's own check says the same
        with pytest.raises(email.errors.HeaderWriteError):
            message.as_bytes(policy=checking)


def test_a_policy_that_verifies_headers_writes_folded_ones_as_before() -> None:
    message = EmailMessage(policy=POLICY)
    message.set_raw("X-Folded", "a\r\n b\n\tc")
    message.set_payload("text\n")
    checking = POLICY.clone()
    object.__setattr__(checking, "verify_generated_headers", True)
    assert message_bytes(message, checking) == message.as_bytes(policy=POLICY)
