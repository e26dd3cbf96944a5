"""The Flask application factory: wiring, who is asking, security headers, errors.

Every request finds its actor anew — from a bearer token or the signed session cookie —
and checks the account in the database, so a disabled account stops at once in every
process, and so does a session begun before the account's password changed (its epoch).
Nothing is kept in the process between requests but the opened runtime.

A page request (GET, HEAD) reads in one transaction on PostgreSQL — the account check and
the page share it (:meth:`workflow.store.db.Store.shared_read`), which saves two round trips
per read after the first; it holds one pooled connection for the request. A streamed
download's rows are read after the view returned, in a transaction of their own. A POST reads
as before, each read and its write a transaction of its own; so do the SSO's GETs, which wait
on the issuer over HTTP and whose callback writes the login.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from workflow import Runtime, Settings, load_definition, open_runtime
from workflow.errors import InvalidConfig, InvalidInput, StoreUnavailable
from workflow.inputs import check_text
from workflow.store.installation import sample_data
from workflow.version import __version__
from workflow.web import accounts, limits
from workflow.web.state import Web

log = logging.getLogger("workflow.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Flask:
    """The ruhrflow web application for ``settings`` (a WSGI app for gunicorn or others).

    ``runtime`` reuses an opened runtime (tests); ``clock`` replaces the wall clock in tests
    only — no request can set the time.
    """
    from workflow.web import api, documents, health, oidc, operations, public, views

    config = settings.section("web")
    rt = runtime or open_runtime(settings)
    state = Web(
        settings=settings,
        runtime=rt,
        definition=load_definition(settings.definition_path),
        clock=clock or (lambda: datetime.now(UTC)),
        base_url=str(config.get("base_url") or "") or None,
        public_dir=Path(str(config["public_dir"])) if config.get("public_dir") else None,
    )
    with rt.store.read() as conn:  # set once, by `ruhrflow demo`, when the database is made
        state.sample_data = sample_data(conn)
    app = Flask(__name__)
    app.extensions["ruhrflow"] = state
    operations.install(app, settings)  # first: the request id is on every later hook's lines

    @app.context_processor
    def sample_note() -> dict[str, Any]:
        return {"sample_data": state.sample_data, "ruhrflow_version": __version__}

    app.config.update(
        SECRET_KEY=accounts.session_secret(
            rt.store, os.environ.get("RUHRFLOW_WEB_SECRET"), state.now()
        ),
        SESSION_COOKIE_NAME="ruhrflow_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(config.get("secure_cookies", False)),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=float(config.get("session_hours", 8))),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in identify(): cookie requests only
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # the CLI's field order (JSON_SORT_KEYS is gone since Flask 2.3): `--server` prints the same
    app.json.sort_keys = False  # type: ignore[attr-defined]
    csrf = CSRFProtect(app)
    limits.install(app, settings)  # JSON size and depth, trusted hosts, list filters

    @app.before_request
    def plain_url() -> Any:
        # A URL never carries control characters; refused here, they cannot reach a query,
        # where PostgreSQL refuses a NUL and SQLite just finds nothing (the same URL would
        # give 422 on one backend and 200 or 404 on the other).
        for what, value in (("the path", request.path), *_query_items()):
            try:  # a TAB pasted into a search field is text, not an attack
                check_text(value.replace("\t", " ") if what != "the path" else value, what)
            except InvalidInput as exc:
                log.warning("refused: %s %s: %s", request.method, ascii(request.path), exc)
                if request.path.startswith("/api/"):
                    return api.error(400, str(exc))
                return views.error_page(400, "Die Adresse enthält ein unzulässiges Zeichen.")
        return None

    @app.before_request
    def identify() -> Response | None:
        g.actor = None
        g.via_token = False
        if request.endpoint == "static" or request.blueprint == "ops":  # no account to look up
            return None
        if request.method in SAFE_METHODS and request.blueprint != "oidc":
            # (the SSO's GETs wait on the issuer over HTTP, and its callback writes)
            g.reads = ExitStack()  # ended by end_reads with the request
            g.reads.enter_context(state.runtime.store.shared_read())
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            actor = accounts.actor_for_token(state.runtime.store, header[7:].strip(), state.now())
            if actor is None:
                log.warning("refused: invalid bearer token for %s %s", request.method, request.path)
                return api.error(401, "invalid, expired or revoked token")
            g.actor, g.via_token = actor, True
        else:
            if "sid" in session or "actor" in session:  # (a cookie from before 0.3.0: "actor")
                g.actor = accounts.session_actor(
                    state.runtime.store, session.get("sid"), state.now()
                )
                if g.actor is None:  # logged out, password changed, disabled or expired
                    why = accounts.why_session_ended(
                        state.runtime.store, session.get("sid"), state.now()
                    )
                    log.warning("refused: %s", why)
                    session.clear()
        if (
            request.method not in SAFE_METHODS
            and not g.via_token
            and request.endpoint not in api.NO_SESSION  # a password in the body, no cookie
        ):
            if g.actor is None and limits.needs_login():  # no credentials: 401, not a CSRF 400
                return api.error(401, "not logged in")
            csrf.protect()
        return None

    @app.teardown_request
    def end_reads(_exc: BaseException | None) -> None:
        reads = g.pop("reads", None)
        if reads is not None:
            reads.close()

    csp = CSP  # with the SSO issuer's origin added to form-action once it is installed

    @app.after_request
    def secure_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError) -> Any:
        log.warning("refused: CSRF check failed for %s %s", request.method, request.path)
        message = "Das Formular ist abgelaufen oder ungültig. Bitte laden Sie die Seite neu."
        if request.path.startswith("/api/"):
            return api.error(400, "CSRF token missing or invalid")
        return views.error_page(400, message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if request.path.startswith("/api/"):
            return api.error(code, exc.name)
        return views.error_page(code, views.HTTP_MESSAGES.get(code, exc.name))

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable) -> Any:
        if request.path.startswith("/api/"):
            return api.error(503, "service unavailable")
        return views.error_page(503, operations.unavailable(exc))

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Any:
        # The traceback goes to the log, never to the browser.
        log.exception("internal error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return api.error(500, "internal error")
        return views.error_page(500, "Ein interner Fehler ist aufgetreten.")

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(documents.pages)
    app.register_blueprint(public.bp)
    app.register_blueprint(oidc.bp)
    health.install(app, settings)
    try:
        state.oidc = oidc.install(app, settings, rt.directory)
    except InvalidConfig:
        if runtime is None:
            rt.close()
        raise
    if state.oidc is not None:
        # The logout form's redirect ends an SSO session at the issuer (oidc.end_session_url),
        # and a browser applies form-action to a form's redirects too.
        issuer = oidc.origin_of(state.oidc.config.issuer)
        csp = CSP.replace("form-action 'self'", f"form-action 'self' {issuer}")
    csrf.exempt(api.openapi)
    return app


def _query_items() -> list[tuple[str, str]]:
    """Every name and value of the query string, each with what to call it in an error."""
    items = []
    for name, value in request.args.items(multi=True):
        items.append(("a query parameter's name", name))
        items.append((f"the query parameter {name!a}", value))
    return items
