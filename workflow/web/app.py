"""The Flask application factory: configuration, then registration — nothing else.

What a request goes through is registered here in its order, each part in a module of its
own: the request id and access line (:mod:`~workflow.web.operations`), the request's limits
(:mod:`~workflow.web.limits`), who is asking (:mod:`~workflow.web.auth`), the security headers
(:mod:`~workflow.web.headers`), the error answers (:mod:`~workflow.web.errors`), and then the
blueprints of :data:`BLUEPRINTS`, one per concern.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFProtect

from workflow.access import accounts
from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import Settings
from workflow.errors import InvalidConfig
from workflow.process.definition import load_definition
from workflow.store.installation import sample_data
from workflow.version import __version__
from workflow.web import errors, headers, limits, operations, pages, signing
from workflow.web.session_cookie import SessionCookie
from workflow.web.state import Web


class RuhrflowFlask(Flask):
    """Flask, asking once per function whether a view or hook is ``async def``.

    Flask asks ``inspect.iscoroutinefunction`` for every hook and view of every request
    (``ensure_sync``, about 18 times per page); the answer for a function does not change.
    Kept by function (at most :data:`MAX_SYNC_CHECKS`; ruhrflow has a few dozen hooks and
    views), an ``async def`` still wrapped as Flask wraps it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        found = self._synced.get(func)
        if found is None:
            found = super().ensure_sync(func)
            if len(self._synced) < MAX_SYNC_CHECKS:
                self._synced[func] = found
        return found


MAX_SYNC_CHECKS = 1024
CSRF_PROCESSOR = "CSRFProtect.init_app.<locals>.<lambda>"
"""flask_wtf's context processor (``csrf_token``, ``csrf_meta_tag``: both template globals)."""


def blueprints() -> list[Blueprint]:
    """Every blueprint of the application, in the order they are registered (``auth`` first:
    its ``identify`` runs before every other blueprint's hooks). A new page's blueprint is
    added here."""
    from workflow.web import (
        api,
        audit,
        auth,
        bulk,
        create,
        documents,
        oidc,
        proposals,
        public,
        tasks,
    )

    return [
        auth.bp,
        tasks.bp,
        create.bp,
        proposals.bp,
        bulk.bp,
        audit.bp,
        api.bp,
        documents.bp,
        documents.pages,
        public.bp,
        oidc.bp,
    ]


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
    from workflow.web import health, oidc

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
    app = RuhrflowFlask(__name__)
    app.session_interface = SessionCookie()  # no cookie for a Bearer request
    app.extensions["ruhrflow"] = state
    app.config.update(
        SECRET_KEY=accounts.session_secret(
            rt.store, os.environ.get("RUHRFLOW_WEB_SECRET"), state.now()
        ),
        SESSION_COOKIE_NAME="ruhrflow_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(config.get("secure_cookies", False)),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=float(config.get("session_hours", 8))),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in auth.identify(): cookie requests only
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # the CLI's field order (JSON_SORT_KEYS is gone since Flask 2.3): `--server` prints the same
    app.json.sort_keys = False  # type: ignore[attr-defined]

    # the same for every page of this app: template globals, no context processor per page
    app.jinja_env.globals.update(sample_data=state.sample_data, ruhrflow_version=__version__)

    operations.install(app, settings)  # first: the request id is on every later hook's lines
    csrf = CSRFProtect(app)
    # the templates' csrf_token(): flask_wtf's token, signed with a serializer built once
    # (workflow/web/signing.py), a template global instead of flask_wtf's context processor
    app.template_context_processors[None] = [
        p for p in app.template_context_processors[None] if p.__qualname__ != CSRF_PROCESSOR
    ]
    app.jinja_env.globals["csrf_token"] = signing.generate_csrf
    limits.install(app, settings)  # JSON size and depth, trusted hosts, the URL, list filters
    pages.init_app(app)
    headers.init_app(app)
    errors.init_app(app)
    for bp in blueprints():
        app.register_blueprint(bp)
    health.install(app, settings)
    try:
        state.oidc = oidc.install(app, settings, rt.directory)
    except InvalidConfig:
        if runtime is None:
            rt.close()
        raise
    app.jinja_env.globals["oidc_button"] = state.oidc.config.button if state.oidc else None
    from workflow.web.api import openapi

    csrf.exempt(openapi)
    return app
