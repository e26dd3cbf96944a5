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
to ``as_bytes`` itself. A policy with ``verify_generated_headers`` on (Python 3.11.10, 3.12.5,
3.13) gets the generator's check of each header, and its ``HeaderWriteError``.
``tests/notifications`` compare the two on the messages notices make and on ones that must
fall back.
"""

from __future__ import annotations

import email.errors
import re
from email.message import Message
from email.policy import EmailPolicy, Policy

_NEWLINES = re.compile(r"\r\n|\r|\n")  # email.generator.NLCRE
# email.generator.NEWLINE_WITHOUT_FWSP (Python 3.11.10, 3.12.5, 3.13): a line break in a
# written header not followed by folding white space, which the generator refuses when the
# policy's verify_generated_headers is on (str.splitlines also breaks at \x0b, \x1c, ...).
_NEWLINE_WITHOUT_FWSP = re.compile(r"\r\n[^ \t]|\r[^ \n\t]|\n[^ \t]")


class _HeaderWriteError(email.errors.MessageError):
    """What a Python without email.errors.HeaderWriteError (before 3.11.10) raises instead
    (only a policy given the field by hand asks for the check there)."""


HeaderWriteError: type[email.errors.MessageError] = getattr(
    email.errors, "HeaderWriteError", _HeaderWriteError
)


class _Fallback(Exception):
    """The message is not one the short way writes exactly as the generator does."""


def message_bytes(message: Message, policy: Policy) -> bytes:
    """``message.as_bytes(policy=policy)``, written directly where that gives the same bytes."""
    # Only ASCII is written the short way, so cte_type and utf8 change nothing of it.
    if isinstance(policy, EmailPolicy) and policy.refold_source == "none":
        out: list[str] = []
        verify = bool(getattr(policy, "verify_generated_headers", False))
        try:
            _write(message, policy.linesep, out, verify)
        except _Fallback:
            pass
        else:
            return "".join(out).encode("ascii")
    return message.as_bytes(policy=policy)


def _write(part: Message, nl: str, out: list[str], verify: bool) -> None:
    if hasattr(part, "_write_headers"):
        raise _Fallback  # a message class that writes its own headers
    for name, value in part.raw_items():
        # EmailPolicy._fold of a stored string under refold_source="none"; a parsed header
        # object (it has a name) would fold itself.
        if type(value) is not str and hasattr(value, "name"):
            raise _Fallback
        if not (name.isascii() and value.isascii()):
            raise _Fallback
        folded = f"{name}: {nl.join(value.splitlines())}"
        if verify and _NEWLINE_WITHOUT_FWSP.search(folded):  # as BytesGenerator checks
            line = (folded + nl).encode("ascii")  # the stdlib's message names the bytes
            raise HeaderWriteError(f"folded header contains newline: {line!r}")
        out.append(f"{folded}{nl}")
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
            _write(sub, nl, out, verify)
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
