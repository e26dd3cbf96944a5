"""Display names split only between words; plain text wrapped to 78 characters (issue 13, 6).

Read back as mail clients do: Python's ``email`` with ``policy.default`` (whose address
parser puts a space between adjacent encoded words, and so read "Digitalisieru ng" when a
word was split across two) and the RFC 2047 decoder of ``email.header``.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notify_contexts import status_change_full

from notifications.mail.mime import build_message
from notifications.mail.model import Recipient, RenderedNotice
from notifications.mail.render import Renderer
from notifications.mail.wrap import wrap_plain
from workflow.process.german import FILTERS

INSTALLATION = "5f0c1e2d3b4a69788796a5b4c3d2e1f0"
ADDRESS = "poststelle@mwide.nrw.invalid"
LONG_NAMES = [
    "Ministerium für Wirtschaft, Innovation, Digitalisierung und Energie des Landes"
    " Nordrhein-Westfalen",
    "Ministerium für Umwelt, Landwirtschaft, Natur- und Verbraucherschutz",
    "Staatskanzlei NRW – Geschäftsstelle Ruhr-Konferenz",
    "Ministerium für Kultur und Wissenschaft",
]


def _sent(name: str, text: str = "Text\n") -> bytes:
    return build_message(
        sender="Ruhr-Konferenz Koordination <koordination@stk.nrw.invalid>",
        recipients=[Recipient(name, ADDRESS)],
        rendered=RenderedNotice("Betreff", text, "<p>Text</p>"),
        idempotency_key="RK-03-01:approve:7",
        installation=INSTALLATION,
        date=datetime(2019, 11, 5, 8, 0, tzinfo=UTC),
    ).as_bytes()


def _read(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("name", LONG_NAMES)
def test_a_long_display_name_reads_back_whole_in_both_decoders(name: str) -> None:
    # given a ministry with a long name that needs encoding
    # when a notice to it goes over the wire
    raw = _sent(name)
    # then Python's modern parser reads exactly the name: no word split, no space added
    (address,) = _read(raw)["To"].addresses
    assert address.display_name == name
    # and so does an RFC 2047 decoder
    raw_to = email.message_from_bytes(raw)["To"]
    assert str(make_header(decode_header(raw_to))) == f"{name} <{ADDRESS}>"
    # and no header line is longer than 78 characters
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78


# Words that fit into one encoded word (at most 9 characters of up to 2 UTF-8 bytes, such as
# "ß"; the dash and quotes are in LONG_NAMES): a longer word cannot be kept whole by any
# encoder (RFC 2047 limits an encoded word to 75 characters), a realistic one always is.
WORD = st.text(
    alphabet=st.characters(
        min_codepoint=0x21, max_codepoint=0x24F, exclude_categories=("Cc", "Cs", "Zs")
    ),
    min_size=1,
    max_size=9,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(WORD, min_size=1, max_size=14))
def test_no_word_of_any_display_name_is_split(words: list[str]) -> None:
    # given any display name made of words
    name = " ".join(words)
    # when it is sent and read back by Python's modern parser
    (address,) = _read(_sent(name))["To"].addresses
    # then every word arrives whole and in order (a run of encoded words longer than a line
    # may show two spaces in Python, never a split word)
    assert address.display_name.split() == name.split()
    assert address.addr_spec == ADDRESS


def test_every_plain_text_line_is_at_most_78_characters_and_keys_stay_whole() -> None:
    # given a status change with a long title and comment
    context = status_change_full(
        title="Digitalisierung der Verwaltung im Ruhrgebiet: ein gemeinsames Portal für alle"
        " Kommunen, Kammern und Verbände der Metropole Ruhr",
    )
    context["transition"]["comment"] = (
        "Kabinettbeschluss vom 5.11.2019; die Umsetzung beginnt mit RK-03-01 und RK-03-02,"
        " sobald die Finanzierung über die Ergänzungsvorlage gesichert ist."
    )
    rendered = Renderer(formatting=FILTERS).render("status_change", context)
    # when it is sent and read back
    plain = _read(_sent("Ministerium des Innern", rendered.text)).get_body(("plain",))
    assert isinstance(plain, EmailMessage)
    text = plain.get_content().replace("\r\n", "\n")
    # then no line exceeds 78 characters, and no key or word is broken
    assert max(len(line) for line in text.splitlines()) <= 78
    assert text == rendered.text
    assert "RK-03-01" in text and "RK-03-02," in text
    flat = " ".join(text.split())
    assert "ein gemeinsames Portal für alle Kommunen, Kammern und Verbände" in flat


def test_a_wrapped_list_item_keeps_its_indentation() -> None:
    item = "- RK-03-01 – " + "Zentrale Sicherheitskooperation Ruhr gegen Clankriminalität " * 2
    wrapped = wrap_plain(item.strip()).splitlines()
    assert len(wrapped) > 1
    assert wrapped[0].startswith("- RK-03-01 – ")
    assert all(line.startswith("  ") and len(line) <= 78 for line in wrapped[1:])
