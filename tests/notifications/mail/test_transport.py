"""The Transport base checks, the in-memory twin and the Maildir backend."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from email.message import EmailMessage, Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notifications import (
    CalendarEntry,
    MaildirTransport,
    MemoryTransport,
    Recipient,
    RenderedNotice,
    Transport,
    TransportError,
    build_message,
)

INSTALLATION = "5f0c1e2d3b4a69788796a5b4c3d2e1f0"  # what migration 0007 makes: 32 hex digits

UTC = ZoneInfo("UTC")
NOTICE = RenderedNotice("Wochenübersicht für MULNV", "Grüße aus Düsseldorf\n", "<p>Grüße</p>")


def notice_message(key: str = "digest:MULNV:2019-45") -> EmailMessage:
    return build_message(
        sender="ruhrkonferenz@stk.nrw.invalid",
        recipients=[Recipient("Referat 42, MULNV", "referat42@mulnv.nrw.invalid")],
        rendered=NOTICE,
        idempotency_key=key,
        installation=INSTALLATION,
        date=datetime(2019, 11, 11, 7, 0, tzinfo=UTC),
        calendar=CalendarEntry(
            "u-1@ruhrflow.invalid", 0, "Frist", "Text", datetime(2019, 11, 26, 8, tzinfo=UTC)
        ),
    )


@pytest.fixture(params=["memory", "maildir"])
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> Transport:
    """Every local backend, for the checks all transports share."""
    if request.param == "memory":
        return MemoryTransport()
    return MaildirTransport(tmp_path / "mail")


def test_a_message_without_recipients_is_refused_permanently(transport: Transport) -> None:
    # given a message with no To header
    message = notice_message()
    del message["To"]
    # then
    with pytest.raises(TransportError, match="without recipients") as caught:
        transport.send(message)
    assert caught.value.temporary is False


@pytest.mark.parametrize("header", ["Cc", "Bcc"])
def test_a_message_with_cc_or_bcc_is_refused(transport: Transport, header: str) -> None:
    message = notice_message()
    message[header] = "evil@example.org"
    with pytest.raises(TransportError, match=header) as caught:
        transport.send(message)
    assert caught.value.temporary is False


def test_a_message_without_a_sender_is_refused(transport: Transport) -> None:
    message = notice_message()
    del message["From"]
    with pytest.raises(TransportError, match="From"):
        transport.send(message)


def test_a_legacy_message_with_unparsed_headers_is_refused(transport: Transport) -> None:
    # given a compat32 message, whose headers are plain strings
    legacy = email.message_from_bytes(notice_message().as_bytes())
    assert isinstance(legacy, Message) and isinstance(legacy["To"], str)
    # then
    with pytest.raises(TransportError, match="not structured"):
        transport.send(legacy)  # type: ignore[arg-type]


def test_memory_transport_keeps_sent_messages_in_order() -> None:
    transport = MemoryTransport()
    first, second = notice_message("k-1"), notice_message("k-2")
    transport.send(first)
    transport.send(second)
    assert transport.outbox == [first, second]


def test_memory_transport_fails_the_next_sends_as_told_then_recovers() -> None:
    # given
    transport = MemoryTransport()
    transport.fail_next(2)
    message = notice_message()
    # when / then: two temporary failures, nothing kept
    for _ in range(2):
        with pytest.raises(TransportError) as caught:
            transport.send(message)
        assert caught.value.temporary is True
    assert transport.outbox == []
    # and the third attempt goes through
    transport.send(message)
    assert transport.outbox == [message]


def test_memory_transport_can_simulate_permanent_failures() -> None:
    transport = MemoryTransport()
    transport.fail_next(1, temporary=False)
    with pytest.raises(TransportError) as caught:
        transport.send(notice_message())
    assert caught.value.temporary is False


def test_maildir_transport_writes_one_parseable_file_per_message(tmp_path: Path) -> None:
    # given a Maildir that does not exist yet
    path = tmp_path / "mail"
    transport = MaildirTransport(path)
    message = notice_message()
    # when
    transport.send(message)
    # then one file landed in new/, with LF line endings, and it parses back
    (delivered,) = (path / "new").iterdir()
    assert {p.name for p in path.iterdir()} == {"new", "cur", "tmp"}
    data = delivered.read_bytes()
    assert b"\r\n" not in data
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Wochenübersicht für MULNV"
    assert parsed["Message-ID"] == message["Message-ID"]
    assert [a.addr_spec for a in parsed["To"].addresses] == ["referat42@mulnv.nrw.invalid"]
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content() == "Grüße aus Düsseldorf\n"
    attachments = [part.get_filename() for part in parsed.iter_attachments()]
    assert attachments == ["termin.ics"]


def test_maildir_transport_reports_an_unwritable_maildir_as_temporary(tmp_path: Path) -> None:
    # given a Maildir whose tmp/ directory has been replaced by a file
    path = tmp_path / "mail"
    transport = MaildirTransport(path)
    (path / "tmp").rmdir()
    (path / "tmp").write_text("not a directory")
    # then
    with pytest.raises(TransportError, match="Maildir") as caught:
        transport.send(notice_message())
    assert caught.value.temporary is True
