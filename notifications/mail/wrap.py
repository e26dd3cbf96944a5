"""Plain-text bodies wrapped to 78 characters a line (RFC 5322, 2.1.1).

Titles, comments and labels are free text of any length; a mail client shows a longer line
as it is (or wraps it badly when quoting). Each longer line is wrapped at spaces; a
continuation keeps the line's indentation and list marker width, so that a wrapped list item
or a "Label:   value" line stays readable. Words are never broken: a key like ``RK-03-01`` or
an address stays whole, even if it alone is longer than a line.
"""

from __future__ import annotations

import re
import textwrap

WIDTH = 78
# Leading spaces, then an optional list marker ("- ", "* ", "• ", "3. ") or label column
# ("Fristende:              "), whose width the continuation lines are indented by.
_HANGING = re.compile(r"( *)(?:[-*•] |\d{1,2}\. |[^ ].{0,30}?: {2,})?")


def wrap_plain(text: str, width: int = WIDTH) -> str:
    """``text`` with every line longer than ``width`` wrapped at spaces (see module doc)."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width or line == "-- ":
            out.append(line)
            continue
        match = _HANGING.match(line)
        indent = len(match.group(0)) if match else 0
        if indent > width // 2:
            indent = len(match.group(1)) if match else 0
        out.extend(
            textwrap.wrap(
                line.rstrip(),
                width=width,
                subsequent_indent=" " * indent,
                break_long_words=False,
                break_on_hyphens=False,
                drop_whitespace=True,
            )
            or [line]
        )
    return "\n".join(out)
