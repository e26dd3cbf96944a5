"""The RFC 2047 encoder of notifications.mail.headers and the envelope a built message carries."""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from datetime import datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from user_text import USER_TEXT

from notifications import (
    MemoryTransport,
    Recipient,
    RenderedNotice,
    TransportError,
    build_message,
)
from notifications.mail.headers import encoded_words
from notifications.mail.mime import _attachment_part
from notifications.mail.model import Attachment
from notifications.mail.sanitize import one_line
from notifications.mail.transport import NoticeMessage

INSTALLATION = "5f0c1e2d3b4a69788796a5b4c3d2e1f0"  # what migration 0007 makes: 32 hex digits

UTC = ZoneInfo("UTC")
SENDER = "ruhrkonferenz@stk.nrw.invalid"
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# One encoded word: charset utf-8, Q encoding, only the characters RFC 2047 5(3) allows.
ENCODED_WORD = re.compile(r"=\?utf-8\?q\?[A-Za-z0-9!*+/_=-]+\?=")
HEADER_NAMES = st.sampled_from(["Subject", "From", "To"])


def decoded(value: str) -> str:
    """What a classic RFC 2047 decoder (Thunderbird, Outlook, email.header) reads."""
    return str(make_header(decode_header(value)))


@PROPERTY
@given(text=USER_TEXT, name=HEADER_NAMES)
def test_the_encoded_words_decode_to_exactly_the_text(text: str, name: str) -> None:
    # when
    value = encoded_words(text, name)
    # then every character, spaces included, comes back (nothing dropped between words)
    assert decoded(value) == text
    # and the modern parser of the stdlib reads the same unstructured text
    if name == "Subject":
        assert email.policy.default.header_factory(name, value.replace("\n", "")) == text


@PROPERTY
@given(text=USER_TEXT, name=HEADER_NAMES)
def test_the_encoded_words_are_folded_ascii_without_a_line_break_of_their_own(
    text: str, name: str
) -> None:
    value = encoded_words(text, name)
    assert value.isascii()
    assert "\r" not in value
    lines = value.split("\n")
    # every line but the first is a continuation: a space, then one encoded word
    assert all(line.startswith(" ") for line in lines[1:])
    words = [line.strip() for line in lines]
    assert all(ENCODED_WORD.fullmatch(word) for word in words if word) or value == ""
    # RFC 2047: a word is at most 75 characters; RFC 5322: a line at most 78
    assert all(len(word) <= 75 for word in words)
    assert len(f"{name}: {lines[0]}") <= 78 and all(len(line) <= 78 for line in lines)


def test_a_word_never_splits_a_character() -> None:
    # "€" is three bytes: a word boundary between them would make two invalid words
    value = encoded_words("€" * 60, "Subject")
    for word in value.split("\n "):
        payload = word.removeprefix("=?utf-8?q?").removesuffix("?=")
        assert payload.count("=") % 3 == 0 and payload.startswith("=E2")
        assert bytes.fromhex(payload.replace("=", "")).decode("utf-8")
    assert decoded(value) == "€" * 60


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        (" ", "=?utf-8?q?_?="),
        ("Grüße_=?", "=?utf-8?q?Gr=C3=BC=C3=9Fe=5F=3D=3F?="),
        ("a\r\nb", "=?utf-8?q?a=0D=0Ab?="),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert encoded_words(text, "Subject") == expected


# --- the envelope ----------------------------------------------------------------------------


def message(*recipients: Recipient) -> NoticeMessage:
    return build_message(
        sender=SENDER,
        recipients=list(recipients),
        rendered=RenderedNotice("Betreff", "Text\n", "<p>Text</p>"),
        idempotency_key="RK-03-01:approve:7",
        installation=INSTALLATION,
        date=datetime(2019, 11, 5, 8, 0, tzinfo=UTC),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(USER_TEXT, min_size=1, max_size=3))
def test_the_envelope_is_what_the_headers_say_for_any_display_name(names: list[str]) -> None:
    # given a message built for recipients with arbitrary display names
    recipients = [Recipient(name, f"referat{i}@mulnv.nrw.invalid") for i, name in enumerate(names)]
    built = message(*recipients)
    # when its headers go over the wire and are parsed back
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    # then the envelope the transport takes is exactly the From and To the receiver sees
    assert built.envelope is not None
    assert built.envelope.sender == parsed["From"].addresses[0].addr_spec
    assert built.envelope.recipients == tuple(a.addr_spec for a in parsed["To"].addresses)
    assert built.envelope.recipients == tuple(r.address for r in recipients)
    # and the header values it vouches for are the ones stored in the message
    assert ("From", built.envelope.from_header) in built.raw_items()
    assert ("To", built.envelope.to_header) in built.raw_items()


class Recording(MemoryTransport):
    """Records the envelope the base class hands to the backend."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[tuple[str, tuple[str, ...]]] = []

    def _deliver(self, message: EmailMessage, sender: str, recipients: tuple[str, ...]) -> None:
        self.envelopes.append((sender, recipients))
        super()._deliver(message, sender, recipients)


def test_the_transport_takes_the_envelope_of_an_untouched_message() -> None:
    transport = Recording()
    transport.send(message(Recipient("A", "a@x.invalid"), Recipient("B", "b@x.invalid")))
    assert transport.envelopes == [(SENDER, ("a@x.invalid", "b@x.invalid"))]


def test_a_to_header_changed_after_building_is_parsed_not_trusted() -> None:
    # given a built message whose To header is replaced afterwards
    built = message(Recipient("A", "a@x.invalid"))
    del built["To"]
    built["To"] = "c@x.invalid, d@x.invalid"
    transport = Recording()
    # when
    transport.send(built)
    # then the envelope is the new header's, not the stale one computed when it was built
    assert transport.envelopes == [(SENDER, ("c@x.invalid", "d@x.invalid"))]


@pytest.mark.parametrize("header", ["Cc", "BCC", "bcc"])
def test_cc_and_bcc_are_refused_in_any_spelling(header: str) -> None:
    built = message(Recipient("A", "a@x.invalid"))
    built[header] = "evil@example.org"
    with pytest.raises(TransportError, match=r"refusing a message with a B?[Cc]c header"):
        MemoryTransport().send(built)


# --- attachments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename", ["termin.ics", "Übersicht März.ics", 'a"b.ics', "x" * 90 + ".ics"]
)
def test_an_attachment_part_reads_back_with_its_name_type_and_content(filename: str) -> None:
    # given an attachment, plain or with a name only the stdlib's RFC 2231 path can write
    content = "BEGIN:VCALENDAR\r\nSUMMARY:Grüße\r\nEND:VCALENDAR\r\n".encode()
    params = (("method", "PUBLISH"), ("charset", "utf-8"))
    part = _attachment_part(Attachment(filename, "text", "calendar", params, content))
    built = message(Recipient("A", "a@x.invalid"))
    built.attach(part)
    # when
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    # then
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == filename
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_payload(decode=True) == content
    head = built.as_bytes().split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78


def test_a_body_that_contains_the_boundaries_cannot_end_its_part() -> None:
    # given bodies that contain the fixed boundary lines literally
    text = "Zeile\n--=_ruhrflow_mixed\nContent-Type: text/html\n\n--=_ruhrflow_alternative--\n"
    built = build_message(
        sender=SENDER,
        recipients=[Recipient("A", "a@x.invalid")],
        rendered=RenderedNotice("Betreff", text, f"<pre>{text}</pre>"),
        idempotency_key="k-1",
        installation=INSTALLATION,
        date=datetime(2019, 11, 5, 8, 0, tzinfo=UTC),
    )
    # when
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    # then the structure and both bodies are intact
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html",
    ]  # fmt: skip
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == text
    assert html is not None and html.get_content().replace("\r\n", "\n") == f"<pre>{text}</pre>\n"


@PROPERTY
@given(text=USER_TEXT)
def test_one_line_replaces_every_line_break_and_control_character(text: str) -> None:
    # the rule, spelled out character by character (one_line skips it for printable text)
    breaking = {"Cc", "Zl", "Zp"}
    bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # dropped (18.9)
    spaced = "".join(
        " " if unicodedata.category(c) in breaking else c for c in text if c not in bidi
    )
    assert one_line(text) == " ".join(spaced.split())
    assert one_line(text).splitlines() in ([], [one_line(text)])


@pytest.mark.parametrize("header", ["To", "from", "SUBJECT", "Message-ID", "Date"])
def test_a_header_that_may_occur_once_cannot_be_added_twice(header: str) -> None:
    built = message(Recipient("A", "a@x.invalid"))
    with pytest.raises(ValueError, match="at most 1"):
        built[header] = "c@x.invalid"
