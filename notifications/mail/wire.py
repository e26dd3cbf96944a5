"""A built message as bytes: what ``message.as_bytes(policy=…)`` gives, without the generator
where the message is as :func:`~notifications.mail.mime.build_message` makes it.

The stdlib's :class:`~email.generator.BytesGenerator` clones the policy for every part, looks
up a handler per content type and writes through a buffer per part: half of the cost of a
notice's mail (the demo writes 3,700). A notice's message has only headers stored as they are
to be written (:class:`~notifications.mail.headers.Verbatim`: ASCII, folded already, never
refolded under ``refold_source="none"``), multiparts with a boundary and no preamble or
epilogue, and ASCII leaf payloads (quoted-printable, base64). For such a message
:func:`message_bytes` writes what the generator writes — each header as
``EmailPolicy.fold_binary`` folds a stored string, a blank line, the payload with its line
ends made the policy's, the parts between their boundary lines — and anything else it hands
to ``as_bytes`` itself. ``tests/notifications`` compare the two on the messages notices make
and on ones that must fall back.
"""

from __future__ import annotations

import re
from email.message import Message
from email.policy import EmailPolicy, Policy

_NEWLINES = re.compile(r"\r\n|\r|\n")  # email.generator.NLCRE


class _Fallback(Exception):
    """The message is not one the short way writes exactly as the generator does."""


def message_bytes(message: Message, policy: Policy) -> bytes:
    """``message.as_bytes(policy=policy)``, written directly where that gives the same bytes."""
    # Only ASCII is written the short way, so cte_type and utf8 change nothing of it.
    if isinstance(policy, EmailPolicy) and policy.refold_source == "none":
        out: list[str] = []
        try:
            _write(message, policy.linesep, out)
        except _Fallback:
            pass
        else:
            return "".join(out).encode("ascii")
    return message.as_bytes(policy=policy)


def _write(part: Message, nl: str, out: list[str]) -> None:
    if hasattr(part, "_write_headers"):
        raise _Fallback  # a message class that writes its own headers
    for name, value in part.raw_items():
        # EmailPolicy._fold of a stored string under refold_source="none"; a parsed header
        # object (it has a name) would fold itself.
        if type(value) is not str and hasattr(value, "name"):
            raise _Fallback
        if not (name.isascii() and value.isascii()):
            raise _Fallback
        out.append(f"{name}: {nl.join(value.splitlines())}{nl}")
    out.append(nl)
    maintype = part.get_content_maintype()
    payload = part.get_payload()
    if maintype == "multipart":
        boundary = part.get_boundary()
        if (
            part.get_content_subtype() == "signed"
            or not isinstance(payload, list)
            or not boundary
            or part.preamble is not None
            or part.epilogue is not None
        ):
            raise _Fallback
        out.append(f"--{boundary}{nl}")
        for i, sub in enumerate(payload):
            if i:
                out.append(f"{nl}--{boundary}{nl}")
            _write(sub, nl, out)
        out.append(f"{nl}--{boundary}--{nl}")
        return
    if maintype == "message" or not (payload is None or isinstance(payload, str)):
        raise _Fallback
    if not payload:
        return
    if not payload.isascii():
        raise _Fallback  # surrogates: the generator re-encodes the part
    lines = _NEWLINES.split(payload)
    out.append(nl.join(lines))
