"""Make untrusted text safe for a single-line email header."""

from __future__ import annotations

import unicodedata

# Control characters (Cc) include CR, LF, TAB, VT, FF, NEL (U+0085) and NUL; Zl/Zp are the
# Unicode line and paragraph separators. Each of them can end a line for some consumer of the
# header (``str.splitlines`` splits on all of them), so none may survive into a header.
_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# Bidi embeddings, overrides and isolates reorder what a mail client shows ("Trojan Source");
# the input policy refuses them (workflow/inputs.py), and older rows lose them here.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def one_line(text: str) -> str:
    """Return ``text`` as one line: line breaks and control characters become spaces.

    Runs of whitespace collapse to one space and the ends are stripped, so a title such as
    ``"Test\\r\\nBcc: evil@example.org"`` stays harmless text inside the header it is put in.
    """
    if text.isprintable():  # no Cc, Zl or Zp (nor other non-printables): nothing to replace
        return " ".join(text.split())
    replaced = "".join(
        " " if unicodedata.category(char) in _BREAKING_CATEGORIES else char
        for char in text
        if char not in _BIDI_CONTROLS
    )
    return " ".join(replaced.split())
