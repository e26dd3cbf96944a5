"""Rules that must hold for any text a user may type into a title or a comment."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import markupsafe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notify_contexts import FULL, status_change_full
from user_text import USER_TEXT

from notifications import KINDS, Recipient, Renderer, build_message
from notifications.mail.sanitize import one_line
from workflow.process.german import FILTERS

INSTALLATION = "5f0c1e2d3b4a69788796a5b4c3d2e1f0"  # what migration 0007 makes: 32 hex digits

UTC = ZoneInfo("UTC")
RENDERER = Renderer(formatting=FILTERS)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(title=USER_TEXT, comment=st.none() | USER_TEXT, kind=st.sampled_from(KINDS))
def test_any_title_and_comment_render_as_data_with_a_one_line_subject(
    title: str, comment: str | None, kind: str
) -> None:
    # given any text as title (and comment) in an otherwise valid context
    context = FULL[kind]()
    if kind == "digest":
        context["by_state"][0]["proposals"][0]["title"] = title
        context["changes"][0]["title"] = title
    else:
        context["proposal"]["title"] = title
    if kind == "status_change":
        context["transition"]["comment"] = comment
    # when
    notice = RENDERER.render(kind, context)
    # then the subject is exactly one line, without C0/C1 control characters
    assert notice.subject.splitlines() == [notice.subject]
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in notice.subject)
    # and the text appears in the plain text (wrapped at spaces to 78 characters a line, no
    # word broken), escaped in the HTML
    assert " ".join(title.split()) in " ".join(notice.text.split())
    assert all(len(line) <= 78 or " " not in line.strip() for line in notice.text.splitlines())
    assert str(markupsafe.escape(title)) in notice.html
    if kind != "digest":
        assert one_line(title) in notice.subject
    if kind == "status_change" and comment:
        assert " ".join(comment.split()) in " ".join(notice.text.split())


@PROPERTY
@given(title=USER_TEXT, display_name=USER_TEXT)
def test_any_title_or_display_name_leaves_headers_and_recipients_unchanged(
    title: str, display_name: str
) -> None:
    # given a notice whose title and recipient name are arbitrary text
    rendered = RENDERER.render("status_change", status_change_full(title=title))
    message = build_message(
        sender="ruhrkonferenz@stk.nrw.invalid",
        recipients=[Recipient(display_name, "referat42@mulnv.nrw.invalid")],
        rendered=rendered,
        idempotency_key="RK-03-01:approve:7",
        installation=INSTALLATION,
        date=datetime(2019, 11, 5, 8, 0, tzinfo=UTC),
    )
    # when it goes over the wire and is parsed back
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    # then it has exactly the headers we put there, once each
    assert sorted(parsed.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "X-Ruhrflow-Key",
            "MIME-Version",
            "Content-Type",
            "Content-Language",
        ]
    )
    (address,) = parsed["To"].addresses
    assert address.addr_spec == "referat42@mulnv.nrw.invalid"
    assert parsed["Subject"] == rendered.subject
    # and the display name decodes to the one-line name. (Decoded by the RFC 2047 decoder of
    # email.header: the modern stdlib parser puts a space between adjacent encoded words in a
    # display name, which RFC 2047 says to ignore and Outlook and Thunderbird do ignore.)
    raw_to = email.message_from_bytes(message.as_bytes())["To"]
    name = one_line(display_name)
    expected = f"{name} <referat42@mulnv.nrw.invalid>" if name else "<referat42@mulnv.nrw.invalid>"
    assert str(make_header(decode_header(raw_to))) == expected
