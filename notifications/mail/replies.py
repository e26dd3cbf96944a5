"""What ruhrflow repeats of an SMTP server's reply: its code, and a bounded, sanitised text.

A failed delivery is reported in ``notices send``, kept in the outbox's ``last_error``, the
history and the log, so whatever a server says travels far. Servers echo what they got, and
masking the echo of a password does not work: a server may echo it URL-encoded, in pieces,
or in an encoding nobody thought of. So the reply to the login (the only command that
carries the credentials) is repeated as its status code only — ``535 5.7.8`` — and never
its text. Other replies keep their text, made one line, stripped of control and bidi
characters, cut to :data:`MAX_REPLY` characters and with every known form of the password
(plain, base64 of the AUTH payloads, URL-encoded, hex) masked, in case a server repeats it
later in the conversation.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, quote_plus

from notifications.mail.sanitize import one_line

MAX_REPLY = 200
_ENHANCED = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})\b")
_UNPRINTABLE = re.compile(r"[^\S ]|[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def server_reply(
    code: int, raw: bytes | str, *, answers_credentials: bool, secrets: tuple[str, ...] = ()
) -> str:
    """``code`` and what may be shown of the reply text ``raw`` (see the module doc)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if answers_credentials:
        enhanced = _ENHANCED.match(text)
        status = f"{code} {enhanced.group(1)}" if enhanced else str(code)
        return f"{status} (the reply to the login is not repeated: it may echo the credentials)"
    return f"{code} {sanitised(text, secrets)}".rstrip()


def sanitised(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` on one line, without invisible characters, secrets masked, at most MAX_REPLY."""
    text = _UNPRINTABLE.sub("", one_line(text))
    text = redact(text, secrets)
    return text if len(text) <= MAX_REPLY else text[: MAX_REPLY - 1] + "…"


def credential_forms(username: str | None, password: str | None) -> tuple[str, ...]:
    """The forms in which a password may come back from a server, longest first."""
    if not password:
        return ()
    forms = {password, quote(password, safe=""), quote_plus(password), password.encode().hex()}
    for payload in (password, f"\0{username}\0{password}", f"{username}\0{password}"):
        encoded = base64.b64encode(payload.encode("utf-8")).decode("ascii")
        forms |= {encoded, encoded.rstrip("=")}
    return tuple(sorted(forms, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
