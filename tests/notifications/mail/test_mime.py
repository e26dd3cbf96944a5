"""Building the email: structure, headers, and that untrusted text cannot add headers."""

from __future__ import annotations

import email
import email.policy
import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
from notify_contexts import status_change_full

from notifications import CalendarEntry, Recipient, RenderedNotice, Renderer, build_message
from notifications.mail.headers import POLICY, Verbatim
from workflow.process.german import FILTERS

INSTALLATION = "5f0c1e2d3b4a69788796a5b4c3d2e1f0"  # what migration 0007 makes: 32 hex digits

UTC = ZoneInfo("UTC")
SENT_AT = datetime(2019, 11, 5, 8, 0, tzinfo=UTC)
KEY = "RK-03-01:approve:7"
SENDER = "ruhrkonferenz@stk.nrw.invalid"
MULNV = Recipient("Referat 42, MULNV", "referat42@mulnv.nrw.invalid")
IM = Recipient("Ministerium des Innern – Büro", "buero@im.nrw.invalid")
NOTICE = RenderedNotice(
    subject="Ruhr-Konferenz RK-03-01: Prüfung abgeschlossen – Grüne Infrastruktur",
    text="Sehr geehrte Damen und Herren,\n\nGrüße aus Düsseldorf.\n",
    html="<p>Sehr geehrte Damen und Herren,</p><p>Grüße aus Düsseldorf.</p>",
)
ENTRY = CalendarEntry(
    uid="rk-03-01.frist@ruhrflow.invalid",
    sequence=1,
    summary="Frist: Meldung zur Ergänzungsvorlage",
    description="Vorschlag RK-03-01",
    starts_at=datetime(2019, 11, 26, 8, 0, tzinfo=UTC),
)


def build(**overrides: object) -> EmailMessage:
    arguments: dict[str, object] = {
        "sender": SENDER,
        "recipients": [MULNV, IM],
        "rendered": NOTICE,
        "idempotency_key": KEY,
        "date": SENT_AT,
        "installation": INSTALLATION,
    }
    arguments.update(overrides)
    return build_message(**arguments)  # type: ignore[arg-type]


def reparse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_the_message_is_mixed_with_an_alternative_of_text_and_html() -> None:
    # when
    parsed = reparse(build())
    # then
    assert parsed.get_content_type() == "multipart/mixed"
    (alternative,) = parsed.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    # (on the wire every line ends in CRLF; the parser keeps that)
    assert lf(plain.get_content()) == NOTICE.text
    assert lf(html.get_content()).rstrip("\n") == NOTICE.html
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and "Grüße aus Düsseldorf." in body.get_content()


def test_a_calendar_entry_becomes_the_termin_ics_attachment() -> None:
    # when
    parsed = reparse(build(calendar=ENTRY))
    # then
    alternative, attachment = parsed.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_param("charset") == "utf-8"
    assert attachment.get_filename() == "termin.ics"
    calendar = icalendar.Calendar.from_ical(attachment.get_payload(decode=True))
    event = calendar.events[0]
    assert str(event["UID"]) == ENTRY.uid
    assert event["DTSTAMP"].dt == SENT_AT  # the message date, so a re-send is reproducible


def test_headers_carry_addresses_encoded_subject_date_and_ids() -> None:
    # when
    message = build()
    raw = message.as_bytes()
    parsed = reparse(message)
    # then the subject is RFC 2047 encoded on the wire and decodes back with its umlauts
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in head
    assert parsed["Subject"] == NOTICE.subject
    assert [a.addr_spec for a in parsed["To"].addresses] == [MULNV.address, IM.address]
    assert [a.display_name for a in parsed["To"].addresses] == [MULNV.name, IM.name]
    assert parsed["From"].addresses[0].addr_spec == SENDER
    assert parsedate_to_datetime(parsed["Date"]) == SENT_AT
    expected_id = hashlib.sha256(f"{INSTALLATION}\0notice\0{KEY}".encode()).hexdigest()[:32]
    assert parsed["Message-ID"] == f"<{expected_id}@ruhrflow.invalid>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Ruhrflow-Key"] == KEY


def test_the_wire_format_is_seven_bit_ascii_with_crlf() -> None:
    raw = build(calendar=ENTRY).as_bytes()
    assert raw.isascii()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_the_message_id_depends_only_on_the_key_the_installation_and_the_domain() -> None:
    first = build()["Message-ID"]
    again = build(date=datetime(2019, 11, 6, 8, 0, tzinfo=UTC), recipients=[IM])["Message-ID"]
    other_key = build(idempotency_key="RK-03-01:approve:8")["Message-ID"]
    other_domain = build(domain="stk.nrw.invalid")["Message-ID"]
    # the same key in another database (the demo, a test copy) gives another Message-ID
    other_installation = build(installation="0" * 32)["Message-ID"]
    assert first == again
    assert other_key != first
    assert other_installation != first
    assert other_domain == first.replace("ruhrflow.invalid", "stk.nrw.invalid")


def test_without_an_installation_id_no_message_id_is_made() -> None:
    with pytest.raises(ValueError, match="installation id"):
        build(installation="")


def test_a_title_with_crlf_and_a_header_does_not_add_a_header() -> None:
    # given a rendered notice whose title tries to smuggle a Bcc header
    context = status_change_full(title="Test\r\nBcc: evil@example.org")
    rendered = Renderer(formatting=FILTERS).render("status_change", context)
    # when
    parsed = reparse(build(rendered=rendered))
    # then
    assert parsed["Bcc"] is None
    assert "evil@example.org" not in str(parsed["To"])
    assert [a.addr_spec for a in parsed["To"].addresses] == [MULNV.address, IM.address]
    assert parsed["Subject"].endswith("Test Bcc: evil@example.org")


def test_a_subject_with_crlf_is_one_line_even_without_the_renderer() -> None:
    notice = RenderedNotice("Hallo\r\nBcc: evil@example.org\r\n\r\nKörper", "t", "<p>h</p>")
    parsed = reparse(build(rendered=notice))
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Hallo Bcc: evil@example.org Körper"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and lf(body.get_content()) == "t\n"


@pytest.mark.parametrize(
    "display_name",
    [
        "Referat 42\r\nBcc: evil@example.org",
        "evil@example.org, other@example.org",
        '"Referat" <evil@example.org>',
        "Referat 42\nTo: evil@example.org",
    ],
)
def test_a_display_name_cannot_add_recipients_or_headers(display_name: str) -> None:
    # when
    parsed = reparse(build(recipients=[Recipient(display_name, MULNV.address)]))
    # then
    assert parsed["Bcc"] is None
    assert len(parsed.get_all("To", [])) == 1
    (address,) = parsed["To"].addresses
    assert address.addr_spec == MULNV.address
    assert "\n" not in address.display_name and "\r" not in address.display_name


@pytest.mark.parametrize(
    "address",
    [
        "referat42",
        "a@b@c.de",
        "x@",
        "@mulnv.nrw.invalid",
        "referat42@mulnv.nrw.invalid\r\nBcc: evil@example.org",
        "Referat 42 <referat42@mulnv.nrw.invalid>",
        "referat42@mulnv.nrw.invalid, evil@example.org",
        "réferat@mulnv.nrw.invalid",
        "a..b@mulnv.nrw.invalid",
        "",
    ],
)
def test_an_invalid_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="invalid email address"):
        build(recipients=[Recipient("Referat 42", address)])
    if address != "Referat 42 <referat42@mulnv.nrw.invalid>":  # a configured sender may be so
        with pytest.raises(ValueError, match="invalid email address"):
            build(sender=address)


def test_the_configured_sender_and_reply_to_are_from_and_reply_to() -> None:
    message = reparse(
        build(
            sender="Staatskanzlei NRW <ruhr@stk.nrw.invalid>",
            reply_to='"Geschäftsstelle, Ruhr-Konferenz" <gs@stk.nrw.invalid>',
        )
    )
    (sender,) = message["From"].addresses
    (reply_to,) = message["Reply-To"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Staatskanzlei NRW", "ruhr@stk.nrw.invalid")
    assert reply_to.display_name == "Geschäftsstelle, Ruhr-Konferenz"
    assert reply_to.addr_spec == "gs@stk.nrw.invalid"
    assert reparse(build())["Reply-To"] is None


def test_inputs_that_cannot_make_a_valid_message_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        build(recipients=[])
    with pytest.raises(ValueError, match="timezone-aware"):
        build(date=datetime(2019, 11, 5, 9, 0))
    with pytest.raises(ValueError, match="idempotency key"):
        build(idempotency_key="RK-03-01\r\nBcc: evil@example.org")
    with pytest.raises(ValueError, match="idempotency key"):
        build(idempotency_key="")
    with pytest.raises(ValueError, match="domain"):
        build(domain="ruhrflow.invalid>\r\nBcc: evil@example.org")


# Regressions for faults of the stdlib header folder (Python 3.11.7), found by Hypothesis;
# see notifications/headers.py.

ENCODED_WORD_ATTACK = "=?utf-8?q?=0D=0ABcc:_evil@example.org?="


def test_an_encoded_word_in_the_subject_is_text_not_a_header() -> None:
    # given a subject that is an RFC 2047 encoded word for "\r\nBcc: evil@example.org"
    notice = RenderedNotice(f"Ruhr {ENCODED_WORD_ATTACK} x", "t", "<p>h</p>")
    # when
    raw = build(rendered=notice).as_bytes()
    parsed = reparse(build(rendered=notice))
    # then no header was added and the subject reads as typed
    assert b"\r\nBcc:" not in raw.split(b"\r\n\r\n", 1)[0]
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == f"Ruhr {ENCODED_WORD_ATTACK} x"


def test_an_encoded_word_in_a_display_name_is_text_not_a_header() -> None:
    raw = build(recipients=[Recipient(ENCODED_WORD_ATTACK, MULNV.address)]).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert b"\r\nBcc:" not in raw.split(b"\r\n\r\n", 1)[0]
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == [MULNV.address]


@pytest.mark.parametrize(
    "subject",
    [
        "Ruhr-Konferenz RK-03-01: Vom Kabinett beschlossen – Übergabe an das Ministerium für "
        "Umwelt",
        "Ruhr-Konferenz RK-03-01: Vom Kabinett beschlossen – Ärger über Übergänge",
        "Frist „Meldung zur Ergänzungsvorlage“ endet heute – RK-03-01 Zentrale "
        "Sicherheitskooperation Ruhr gegen Clankriminalität",
    ],
)
def test_long_german_subjects_keep_every_space(subject: str) -> None:
    # (the stdlib folder turns the space after "–" into folding whitespace, which is dropped)
    parsed = reparse(build(rendered=RenderedNotice(subject, "t", "<p>h</p>")))
    assert parsed["Subject"] == subject


def test_header_lines_stay_within_78_characters() -> None:
    long_name = "Ministerium für Umwelt, Landwirtschaft, Natur- und Verbraucherschutz – Referat 42"
    notice = RenderedNotice("Wochenübersicht " * 12, "t", "<p>h</p>")
    raw = build(rendered=notice, recipients=[Recipient(long_name, MULNV.address), IM]).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78


def test_an_idempotency_key_with_an_encoded_word_is_refused() -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        build(idempotency_key=ENCODED_WORD_ATTACK)


def test_a_verbatim_header_value_must_be_correctly_folded() -> None:
    message = EmailMessage(policy=POLICY)
    with pytest.raises(ValueError, match="not correctly folded"):
        message["Subject"] = Verbatim("Hallo\nBcc: evil@example.org")
    with pytest.raises(ValueError, match="not correctly folded"):
        message["Subject"] = Verbatim("Hallo\r\n Welt")
