"""The signed session cookie: Flask's, without two pieces of work a request does not need.

* **The signing serializer is built once per key**, not twice per request (Flask builds a
  new ``URLSafeTimedSerializer`` to open the cookie and again to save it), with one signer
  that derives its key once (:class:`workflow.web.signing.KeptSerializer`). It holds nothing
  but the keys, the salt and the algorithms; a changed ``SECRET_KEY`` (or its fallbacks)
  builds a new one.
* **A request with a Bearer token gets no cookie.** It has no session — the token alone says
  who asks (:func:`workflow.web.auth.identify`) — so what a page puts into the session for a
  browser (the CSRF token of the logout form) is not signed into a ``Set-Cookie`` that no
  token client sends back.

What the cookie says, how it is signed and when a browser's session cookie is refreshed
are Flask's, unchanged.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer

from workflow.web.signing import KeptSerializer


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie session (see the module doc)."""

    def __init__(self) -> None:
        self._signing: tuple[Any, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._signing
        if cached is None or cached[0] != keys:
            serializer = None
            if app.secret_key:  # as Flask's: the fallbacks first, the current key last
                serializer = KeptSerializer(
                    [*keys[1], keys[0]],
                    salt=self.salt,
                    key_derivation=self.key_derivation,
                    serializer=self.serializer,
                )
            cached = self._signing = (keys, serializer)
        return cached[1]

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if g.get("via_token"):
            return False
        return super().should_set_cookie(app, session)
