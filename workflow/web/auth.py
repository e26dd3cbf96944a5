"""Who is asking: the login page, the logout, and the check of every request's account.

Every request finds its actor anew — from a bearer token or the signed session cookie —
and checks the account in the database, so a disabled account stops at once in every
process, and so does a session begun before the account's password changed (its epoch).
Nothing is kept in the process between requests but the opened runtime.

A page request (GET, HEAD) reads on one pooled connection on PostgreSQL — the account check
and the page share it (:meth:`workflow.store.db.Store.shared_read`), in autocommit, so no
BEGIN and no COMMIT go to the server (a stream's server-side cursor begins the one
transaction it needs). A streamed download's rows are read after the view returned, in a
transaction of their own. A POST reads as before, each read and its write a transaction of
its own; so do the SSO's GETs, which wait on the issuer over HTTP and whose callback writes
the login.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from workflow.access import accounts
from workflow.web import api, limits
from workflow.web.state import web

log = logging.getLogger("workflow.web")
bp = Blueprint("auth", __name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@bp.before_app_request
def identify() -> Response | None:
    """Find the request's actor (token or session) and check the CSRF token of a cookie's POST."""
    # the request and g themselves, not through their proxies at every use
    req = request._get_current_object()  # type: ignore[attr-defined]
    here = g._get_current_object()
    here.actor = None
    here.via_token = False
    blueprint = req.blueprint
    if req.endpoint == "static" or blueprint == "ops":  # no account to look up
        return None
    state = web()
    store = state.runtime.store
    method = req.method
    if method in SAFE_METHODS and blueprint != "oidc":
        # (the SSO's GETs wait on the issuer over HTTP, and its callback writes)
        here.reads = ExitStack()  # ended by end_reads with the request
        here.reads.enter_context(store.shared_read())
    header = req.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        actor = accounts.actor_for_token(store, header[7:].strip(), state.now())
        if actor is None:
            log.warning("refused: invalid bearer token for %s %s", method, req.path)
            return api.error(401, "invalid, expired or revoked token")
        here.actor, here.via_token = actor, True
    elif "sid" in session or "actor" in session:  # (a cookie from before 0.3.0: "actor")
        here.actor = accounts.session_actor(store, session.get("sid"), state.now())
        if here.actor is None:  # logged out, password changed, disabled or expired
            why = accounts.why_session_ended(store, session.get("sid"), state.now())
            log.warning("refused: %s", why)
            session.clear()
    if (
        method not in SAFE_METHODS
        and not here.via_token
        and req.endpoint not in api.NO_SESSION  # a password in the body, no cookie
    ):
        if here.actor is None and limits.needs_login():  # no credentials: 401, not a CSRF 400
            return api.error(401, "not logged in")
        csrf = current_app.extensions["csrf"]
        assert isinstance(csrf, CSRFProtect)
        csrf.protect()
    return None


@bp.teardown_app_request
def end_reads(_exc: BaseException | None) -> None:
    """End the page request's shared read (give its connection back)."""
    reads = g.pop("reads", None)
    if reads is not None:
        reads.close()


def safe_next(target: str | None) -> str:
    """Only a local path: no open redirect to another site, no control character (a CR/LF
    in ``next`` broke the redirect's header after a correct password)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("tasks.index")
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in target):
        return url_for("tasks.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return url_for("tasks.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; a correct password begins a session (failures are throttled)."""
    if request.method != "POST":  # a GET or HEAD is no login attempt and never counts
        return render_template("auth/login.html", next=request.args.get("next", ""))
    w = web()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    address = request.remote_addr or ""
    again = request.form.get("next")
    try:
        found = accounts.login_with_password(
            w.runtime.store, username, password, w.now(), address=address
        )
    except accounts.LoginThrottled as exc:
        log.warning("login throttled for %r until %s", username, exc.until.isoformat())
        message = "Zu viele Fehlversuche. Bitte versuchen Sie es später noch einmal."
        return render_template("auth/login.html", error=message, next=again), 429
    if found is None:
        log.warning("login failed for %r from %s", username, request.remote_addr)
        message = "Benutzername oder Passwort ist falsch."
        return render_template("auth/login.html", error=message, next=again), 401
    actor, epoch = found
    session.clear()  # a logout, a password change or a disable ends it (accounts.session_actor)
    lifetime = current_app.permanent_session_lifetime
    session["sid"] = accounts.begin_session(w.runtime.store, actor, epoch, w.now(), lifetime)
    session["actor"] = actor  # for reading only: the server's row behind "sid" decides
    session.permanent = True
    log.info("login: %s from %s", actor, request.remote_addr)
    return redirect(safe_next(again), code=303)


@bp.post("/logout")
def logout() -> Response:
    """End the session (and an SSO session at its issuer, when it offers that)."""
    sso = web().oidc
    at_issuer = sso.end_session_url() if sso else None  # an SSO session ends there too
    if g.get("actor"):
        log.info("logout: %s%s", g.actor, " (and at the SSO issuer)" if at_issuer else "")
    accounts.end_session(web().runtime.store, session.get("sid"), web().now())  # a copy too
    session.clear()
    return redirect(at_issuer or url_for("auth.login"), code=303)
