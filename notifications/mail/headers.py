"""Header values from untrusted text, encoded here instead of by the stdlib folder.

Python's modern header folder (``email.policy``, 3.11.7 here) has two faults that matter for
notices, both found by the property tests in ``tests/notifications``:

* text that *looks like* an RFC 2047 encoded word (``=?utf-8?q?=0D=0ABcc:_x@y?=``) is decoded
  on the way in and written out raw, so a title could add a ``Bcc:`` header (CVE-2024-6923);
* a space between two words that both need encoding is turned into folding whitespace, which
  decoders drop ("beschlossen – Übergabe" arrives as "beschlossen –Übergabe").

So Subject, From and To are encoded here, by :func:`encoded_words` (RFC 2047 "Q" encoding of the
whole text: every space stays inside an encoded word), and stored verbatim through
:data:`POLICY`, which never re-parses or refolds them. The encoder replaced
``email.header.Header``, which does the same but costs a quarter of a millisecond per header
(the demo sends 3,500 mails); ``tests/notifications`` check that its output decodes to the input
for any text and never holds a line break that is not folding.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from email.headerregistry import Address
from email.policy import EmailPolicy
from functools import lru_cache
from typing import Any

_MAX_LINE = 78
# Text that may go out as it is: printable ASCII words, no encoded-word opener, no specials.
_PLAIN_TEXT = re.compile(r"[\x20-\x7e]*")
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9 '-]*")


class Verbatim(str):
    """A header value that is already encoded and folded; :data:`POLICY` stores it untouched."""


class NoticePolicy(EmailPolicy):
    """``email.policy.SMTP`` that stores :class:`Verbatim` values without parsing them."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        """Keep a :class:`Verbatim` value as a plain string; parse everything else as usual."""
        if isinstance(value, Verbatim):
            if "\r" in value or any(line[:1] not in (" ", "\t") for line in value.split("\n")[1:]):
                raise ValueError(f"verbatim header {name} is not correctly folded")
            return (name, str(value))
        return super().header_store_parse(name, value)

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        """Parse a stored plain value on access, as usual; the MIME structure headers once.

        The generator asks for Content-Type several times per part while writing a message;
        those values repeat (``text/plain; charset="utf-8"``) or are asked for again, and
        the parsed header objects are immutable, so they are parsed once and shared.
        """
        if not hasattr(value, "name") and name.lower() in _STRUCTURE_HEADERS:
            return _parsed(self.header_factory, name, value)
        return super().header_fetch_parse(name, value)

    def header_max_count(self, name: str) -> int | None:
        """How often ``name`` may occur (1 for To, Subject, …), as the stdlib says, but cached.

        The stdlib asks ``header_factory[name]``, which creates a new class on every call
        (a third of the cost of setting a header); the answer depends only on the name.
        """
        return _max_count(self.header_factory, name.lower())


@lru_cache(maxsize=256)
def _max_count(factory: Any, name: str) -> int | None:
    count: int | None = factory[name].max_count
    return count


_LINESEP = re.compile(r"\n|\r")
_STRUCTURE_HEADERS = frozenset({"content-type", "content-transfer-encoding", "content-disposition"})


@lru_cache(maxsize=1024)
def _parsed(factory: Any, name: str, value: str) -> Any:
    # What EmailPolicy.header_fetch_parse does for a stored string (CR/LF removed, then parsed).
    return factory(name, "".join(_LINESEP.split(value)))


# refold_source="none": a stored plain string is written as it is, never parsed and refolded.
POLICY = NoticePolicy(linesep="\r\n", refold_source="none")


# RFC 2047, 5(3): the characters an encoded word in a phrase may carry as they are (the
# strictest of its three contexts, so the same words do for Subject and display names).
_Q_LITERAL = frozenset(string.ascii_letters + string.digits + "!*+-/")
_WORD_START, _WORD_END = "=?utf-8?q?", "?="
_MAX_WORD = 75  # RFC 2047, 2: an encoded word is at most 75 characters long
_MAX_PAYLOAD = _MAX_WORD - len(_WORD_START) - len(_WORD_END)
_LONGEST_CHARACTER = 12  # four UTF-8 bytes, "=XX" each


@lru_cache(maxsize=4096)
def _q(char: str) -> str:
    """One character in "Q" encoding: as it is, ``_`` for a space, or ``=XX`` per UTF-8 byte."""
    if char in _Q_LITERAL:
        return char
    if char == " ":
        return "_"
    return "".join(f"={byte:02X}" for byte in char.encode("utf-8"))


def encoded_words(text: str, header_name: str) -> str:
    """Encode all of ``text`` as RFC 2047 "Q" encoded words, folded one word per line.

    Every character, spaces included, is inside an encoded word, so a decoder (which drops
    the whitespace *between* adjacent encoded words) gives back exactly ``text``. A word holds
    whole characters only (RFC 2047, 5) and is at most 75 characters long; the first line
    leaves room for ``header_name: ``, so that no line exceeds 78 characters. Lines are
    separated by ``"\\n "`` (the policy writes CRLF). ``""`` gives ``""``.
    """
    first = min(_MAX_PAYLOAD, _MAX_LINE - len(header_name) - 2 - len(_WORD_START) - len(_WORD_END))
    limit = max(first, _LONGEST_CHARACTER)
    words: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        code = _q(char)
        if used + len(code) > limit and current:
            words.append("".join(current))
            current, used, limit = [], 0, _MAX_PAYLOAD
        current.append(code)
        used += len(code)
    if current:
        words.append("".join(current))
    return "\n ".join(f"{_WORD_START}{word}{_WORD_END}" for word in words)


def unstructured(text: str, header_name: str) -> Verbatim:
    """Encode one-line ``text`` for an unstructured header such as Subject.

    Plain ASCII that fits on the header line stays readable; anything else becomes encoded words.
    """
    if (
        _PLAIN_TEXT.fullmatch(text)
        and "=?" not in text
        and text == text.strip()
        and "  " not in text
        and len(header_name) + 2 + len(text) <= _MAX_LINE
    ):
        return Verbatim(text)
    return Verbatim(encoded_words(text, header_name))


# An ASCII word that may stand in a phrase as it is (RFC 5322 atext, less "=", "?" and "_",
# so that it can never be read as, or inside, an encoded word).
_PLAIN_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/^`{|}~-]+")


def phrase(name: str, header_name: str) -> str:
    """Encode a display name as a phrase that splits only between words.

    Words that may stand as they are stay readable; each run of other words (non-ASCII,
    specials such as ``,``) becomes encoded words with the spaces inside them, split only at
    a space: Python's address parser puts a space between adjacent encoded words, and read
    "Digitalisieru ng" when a word was split. RFC 2047 decoders (Outlook, Thunderbird, mutt)
    and Python read the name alike, except that Python shows two spaces where a run of
    encoded words longer than a header line had to be split. Lines are folded between words
    to at most 78 characters. A name with leading, trailing or repeated spaces is encoded
    whole (:func:`encoded_words`), which keeps every space.
    """
    words = name.split(" ")
    if not name or "" in words:
        return encoded_words(name, header_name)
    # Every encoded word must fit on a line after "Reply-To: " (the longest header name).
    limit = min(_MAX_PAYLOAD, _MAX_LINE - len("Reply-To: ") - len(_WORD_START) - len(_WORD_END))
    elements: list[str] = []
    run: list[str] = []

    def flush() -> None:
        chunk = ""
        for i, word in enumerate(run):
            piece = ("_" if i else "") + "".join(_q(c) for c in word)
            if chunk and len(chunk) + len(piece) > limit:
                elements.append(f"{_WORD_START}{chunk}{_WORD_END}")
                chunk = ""
            while len(chunk) + len(piece) > limit:  # one word longer than a line: no choice
                cut = _cut(piece, limit - len(chunk))
                elements.append(f"{_WORD_START}{chunk}{piece[:cut]}{_WORD_END}")
                chunk, piece = "", piece[cut:]
            chunk += piece
        if chunk:
            elements.append(f"{_WORD_START}{chunk}{_WORD_END}")
        run.clear()

    for word in words:
        if _PLAIN_ATOM.fullmatch(word):
            flush()
            elements.append(word)
        else:
            run.append(word)
    flush()
    lines = [elements[0]]
    used = len(header_name) + 2 + len(elements[0])
    for element in elements[1:]:
        if used + 1 + len(element) > _MAX_LINE:
            lines.append(element)
            used = 1 + len(element)
        else:
            lines[-1] += " " + element
            used += 1 + len(element)
    return "\n ".join(lines)


def _cut(encoded: str, room: int) -> int:
    """Where to cut Q-encoded text to fit ``room``, never inside a character's ``=XX`` bytes."""
    at = max(1, room)
    while at < len(encoded) and not _starts_character(encoded, at):
        at -= 1
    return at


def _starts_character(encoded: str, at: int) -> bool:
    # A character starts at a literal or at "=XX" whose byte is not a UTF-8 continuation byte.
    if encoded[at] != "=":
        return encoded[at - 1 : at] != "=" and encoded[at - 2 : at - 1] != "="
    return not 0x80 <= int(encoded[at + 1 : at + 3], 16) <= 0xBF


def address_list(addresses: Sequence[Address], header_name: str) -> Verbatim:
    """Encode ``addresses`` for From/To: one address per line, display names as phrases
    (:func:`phrase`: readable words and encoded words, split only between words).

    The addr-spec was validated when the :class:`Address` was made and is written as it is.
    """
    if not addresses:
        raise ValueError(f"{header_name} needs at least one address")
    entries = []
    for address in addresses:
        name = address.display_name
        if not name:
            entries.append(f"<{address.addr_spec}>")
        elif _PLAIN_PHRASE.fullmatch(name) and name == name.strip() and "  " not in name:
            entries.append(f"{name} <{address.addr_spec}>")
        elif all(_PLAIN_ATOM.fullmatch(word) for word in name.split(" ")):
            # nothing to split between words: one run of encoded words keeps it exact
            entries.append(f"{encoded_words(name, header_name)}\n <{address.addr_spec}>")
        else:
            entries.append(f"{phrase(name, header_name)}\n <{address.addr_spec}>")
    return Verbatim(",\n ".join(entries))
