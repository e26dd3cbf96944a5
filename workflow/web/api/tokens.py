"""Tokens for the CLI (``ruhrflow login``) and the API's OpenAPI document."""

from __future__ import annotations

import logging

from flask import jsonify, request
from werkzeug.wrappers import Response

from workflow.access import accounts
from workflow.app.machine import zulu
from workflow.web.api.base import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadBody,
    _json_object,
    _typed,
    bp,
    error,
)
from workflow.web.state import web

log = logging.getLogger("workflow.web")


TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
NO_SESSION = frozenset({"api.tokens"})
"""Endpoints that take credentials in the body and never read the session: no CSRF token
(a forged request would need the password, and could not read the answer)."""


@bp.post("/tokens")
def tokens() -> tuple[Response, int] | Response:
    """``ruhrflow login``: a new token for an account and its password (throttled like the
    login page); the token is shown once, only its hash is kept."""
    from datetime import timedelta

    body = _json_object()
    if isinstance(body, Response):
        return body
    account = _typed(body, "account", str, "a string", required=True)
    password = _typed(body, "password", str, "a string", required=True)
    days = _typed(body, "expires_in_days", int, f"an integer from 1 to {MAX_TOKEN_DAYS}")
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise BadBody(f"expires_in_days must be an integer from 1 to {MAX_TOKEN_DAYS}")
    w = web()
    now = w.now()
    try:
        actor = accounts.authenticate(
            w.runtime.store, account, password, now, address=request.remote_addr or ""
        )  # failures count per account and client address, as on the login page
    except accounts.LoginThrottled as exc:
        log.warning("refused: token for %s: throttled", ascii(account))
        return error(429, str(exc))
    if actor is None:
        log.warning("refused: token for %s: wrong account or password", ascii(account))
        return error(401, "wrong account or password")
    expires_in = timedelta(days=days or TOKEN_DAYS)
    token_id, token = accounts.create_token(w.runtime.store, actor, now, expires_in=expires_in)
    log.info("token %s created for %s by its password", token_id, actor)
    return jsonify({"account": actor, "token": token, "expires_at": zulu(now + expires_in)}), 201


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API (:mod:`workflow.web.openapi`)."""
    from workflow.web.openapi import document

    return jsonify(document(DEFAULT_LIMIT, MAX_LIMIT))
