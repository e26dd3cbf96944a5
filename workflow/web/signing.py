"""The signing of the session cookie and of the CSRF token, built once per key, not per use.

Flask signs the session cookie and flask_wtf the CSRF token of every page with itsdangerous:
a timestamp and an HMAC-SHA1 over a key derived from the secret key and a salt. Both build
a new serializer, a new signer and derive the key again for every cookie and token they
read or write (three times for a page of a logged-in browser), and itsdangerous computes
the HMAC with the ``hmac`` module's pure-Python construction (its digest is a plain
function, not one OpenSSL knows).

Here a serializer is built once per secret key and salt, with one signer that keeps its
derived keys and computes the same HMAC-SHA1 in one call (:func:`hmac.digest`). What is
signed, the format, the time stamps and the checks are itsdangerous', unchanged: a cookie or
token signed here is read by Flask and flask_wtf as before, and the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import Any

from flask import current_app, g, session
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import want_bytes
from itsdangerous.signer import HMACAlgorithm


class HmacSha1(HMACAlgorithm):
    """HMAC-SHA1 (itsdangerous' default algorithm) in one call of OpenSSL's."""

    def __init__(self) -> None:
        super().__init__(hashlib.sha1)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha1")


class KeptSigner(TimestampSigner):
    """itsdangerous' timestamp signer, deriving each secret key's signing key once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        secret = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        found = self._derived.get(secret)
        if found is None:
            found = self._derived[secret] = super().derive_key(secret)
        return found


class KeptSerializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer with one :class:`KeptSigner` for its own salt
    (any other salt gets a new signer, as before). SHA-1 only: ``digest_method`` must be
    :func:`hashlib.sha1`, as both Flask's session and flask_wtf's token use it."""

    def __init__(
        self,
        secret_key: str | bytes | Iterable[str] | Iterable[bytes],
        salt: str | bytes,
        *,
        key_derivation: str | None = None,
        serializer: Any = None,
    ) -> None:
        signer_kwargs: dict[str, Any] = {"digest_method": hashlib.sha1, "algorithm": HmacSha1()}
        if key_derivation is not None:
            signer_kwargs["key_derivation"] = key_derivation
        super().__init__(
            secret_key,
            salt=salt,
            serializer=serializer,
            signer=KeptSigner,
            signer_kwargs=signer_kwargs,
        )
        self._signer = super().make_signer(self.salt)

    def make_signer(self, salt: str | bytes | None = None) -> Any:
        if salt is None or want_bytes(salt) == self.salt:
            return self._signer
        return super().make_signer(salt)


CSRF_SALT = "wtf-csrf-token"
"""flask_wtf's salt of the CSRF token."""
_CSRF: dict[object, KeptSerializer] = {}  # by secret key: one or two per process


def generate_csrf() -> str:
    """flask_wtf's ``generate_csrf()`` — the same token, the same raw token in the session,
    kept in ``g`` for the request — with the serializer built once per secret key. The
    templates' ``csrf_token()``; flask_wtf checks a POST's token as before."""
    config = current_app.config
    field_name = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    found = g.get(field_name)
    if found is not None:
        return str(found)
    secret_key = config.get("WTF_CSRF_SECRET_KEY", current_app.secret_key)
    if not secret_key or not field_name:  # flask_wtf's own errors for these
        from flask_wtf.csrf import generate_csrf as flask_wtf_generate

        return str(flask_wtf_generate())
    serializer = _CSRF.get(secret_key)
    if serializer is None:
        if len(_CSRF) > 8:  # a changed key (tests): forget the old ones
            _CSRF.clear()
        serializer = _CSRF[secret_key] = KeptSerializer(secret_key, CSRF_SALT)
    if field_name not in session:
        session[field_name] = hashlib.sha1(os.urandom(64)).hexdigest()
    try:
        token = serializer.dumps(session[field_name])
    except TypeError:
        session[field_name] = hashlib.sha1(os.urandom(64)).hexdigest()
        token = serializer.dumps(session[field_name])
    setattr(g, field_name, token)
    return str(token)
