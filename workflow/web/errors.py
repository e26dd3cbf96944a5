"""The error answers: a German page for a browser, ``{"error", "message"}`` for the API.

A page has a German title and one German sentence, never a traceback (that goes to the log).
An API error keeps its English machine field ``error`` (a client matches on it) and adds the
German ``message`` a person can be shown (:func:`workflow.web.api.error`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from workflow.errors import StoreUnavailable, WorkflowError
from workflow.web import api
from workflow.web.kept_input import shown_again
from workflow.web.operations import unavailable
from workflow.web.pages import MESSAGES, error_page

log = logging.getLogger("workflow.web")

CSRF_MESSAGE = "Das Formular ist abgelaufen oder ungültig. Bitte laden Sie die Seite neu."


def _for_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    """Answer CSRF failures, HTTP errors, engine refusals, a database outage and any other
    exception: a German page, or the API's JSON error under ``/api/``."""

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError) -> Any:
        log.warning("refused: CSRF check failed for %s %s", request.method, request.path)
        if _for_api():
            return api.error(400, "CSRF token missing or invalid", CSRF_MESSAGE)
        again = shown_again()  # a form that keeps what was typed: shown again with it
        if again is not None:
            return again
        return error_page(400, CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if _for_api():
            return api.error(code, exc.name)
        return error_page(code, MESSAGES.get(code, exc.name))

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable) -> Any:
        if _for_api():
            return api.error(503, "service unavailable")
        return error_page(503, unavailable(exc))

    @app.errorhandler(WorkflowError)
    def workflow_error(exc: WorkflowError) -> Any:
        # (the API's blueprints answer their own: api.workflow_error)
        if _for_api():
            return api.workflow_error(exc)
        log.warning("refused: %s", exc)  # the English detail to the log, German to the reader
        status = api.status_of(exc)
        return error_page(status, api.german_of(exc) or MESSAGES.get(status, MESSAGES[409]))

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Any:
        # The traceback goes to the log, never to the browser.
        log.exception("internal error on %s %s", request.method, request.path)
        if _for_api():
            return api.error(500, "internal error")
        return error_page(500, MESSAGES[500])
