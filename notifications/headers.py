"""Header values from untrusted text, encoded here instead of by the stdlib folder.

Python's modern header folder (``email.policy``, 3.11.7 here) has two faults that matter for
notices, both found by the property tests in ``tests/notifications``:

* text that *looks like* an RFC 2047 encoded word (``=?utf-8?q?=0D=0ABcc:_x@y?=``) is decoded
  on the way in and written out raw, so a title could add a ``Bcc:`` header (CVE-2024-6923);
* a space between two words that both need encoding is turned into folding whitespace, which
  decoders drop ("beschlossen – Übergabe" arrives as "beschlossen –Übergabe").

So Subject, From and To are encoded with the long-standing ``email.header.Header`` encoder (every
space stays inside an encoded word) and stored verbatim through :data:`POLICY`, which never
re-parses or refolds them. Everything else in the message uses the normal SMTP policy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.header import Header
from email.headerregistry import Address
from email.policy import EmailPolicy
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


# refold_source="none": a stored plain string is written as it is, never parsed and refolded.
POLICY = NoticePolicy(linesep="\r\n", refold_source="none")


def _encoded_words(text: str, header_name: str) -> str:
    # Header(charset="utf-8") encodes the whole text as encoded words, even plain ASCII parts.
    return Header(text, charset="utf-8", header_name=header_name, maxlinelen=_MAX_LINE).encode(
        linesep="\n"
    )


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
    return Verbatim(_encoded_words(text, header_name))


def address_list(addresses: Sequence[Address], header_name: str) -> Verbatim:
    """Encode ``addresses`` for From/To: one address per line, display names as encoded words.

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
        else:
            entries.append(f"{_encoded_words(name, header_name)}\n <{address.addr_spec}>")
    return Verbatim(",\n ".join(entries))
