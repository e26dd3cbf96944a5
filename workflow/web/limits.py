"""What a request may carry before a view sees it: JSON size and depth, the Host, the filters.

Each limit answers 400 with the one error shape (``{"error": "…", "message": "…"}`` under
``/api/``, the German error page elsewhere), before anything is parsed or queried:

* a JSON body larger than ``MAX_JSON_BYTES`` or nested deeper than ``MAX_JSON_DEPTH``
  (1,000 nested lists exhausted the parser's recursion: 500);
* a Host outside ``[web] trusted_hosts`` (when the list is set; Flask's ``TRUSTED_HOSTS``);
* a control character in the path or the query (refused here, it cannot reach a query,
  where PostgreSQL refuses a NUL and SQLite just finds nothing);
* a day of the audit page's filters that does not exist or lies past 2999;
* a list filter with a malformed or unknown value (``?themenforum=null``,
  ``?handlungsfeld=abc``, an unknown state): it used to be ignored silently, so the caller
  got every proposal and believed them filtered. A filter of digits beyond any real value
  stays well-formed and matches nothing; an empty value is no filter, as the form sends it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from flask import Flask, Request, current_app, g, request
from werkzeug.exceptions import BadRequest, SecurityError
from werkzeug.wrappers import Response

from workflow.app.settings import Settings
from workflow.errors import InvalidInput
from workflow.inputs import check_text
from workflow.process.deadline_rules import EARLIEST, LATEST

log = logging.getLogger("workflow.web")

MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_DIGITS = re.compile(r"[0-9]+")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The list endpoints whose query strings are filters: (blueprint, endpoint).
_LISTS = {("api", "api.proposals"), ("proposals", "proposals.proposal_list")}


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text (strings skipped)."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def filter_problem(
    args: Mapping[str, str], states: Mapping[str, Any], leads: Any, fields: Mapping[int, str]
) -> str | None:
    """Why the list filters in ``args`` are malformed or unknown, or None when they are fine."""
    for name in ("handlungsfeld", "themenforum", "definition_version"):
        value = args.get(name, "").strip()
        if value and not _DIGITS.fullmatch(value):
            return f"the filter {name} must be a whole number (digits 0-9), not {value[:40]!r}"
    handlungsfeld = args.get("handlungsfeld", "").strip()
    if handlungsfeld and len(handlungsfeld) < 4 and int(handlungsfeld) not in fields:
        known = ", ".join(str(k) for k in fields)
        return f"the filter handlungsfeld must be one of {known}, not {handlungsfeld}"
    state = args.get("state", "").strip()
    if state and state not in states:
        return f"the filter state names no state of the process: {state[:40]!r}"
    lead = args.get("lead", "").strip()
    if lead and lead not in leads:
        return f"the filter lead names no ministry: {lead[:40]!r}"
    from workflow.web.reads import SORTS

    sort = args.get("sort", "")
    if sort and sort not in SORTS:
        return f"sort must be one of {', '.join(SORTS)}, not {sort[:40]!r}"
    if args.get("order", "") not in ("", "asc", "desc"):
        return "order must be asc or desc"
    return None


class LimitedRequest(Request):
    """A request whose JSON is parsed only within the limits: for a larger or deeper body
    ``get_json`` raises 400, or gives None when asked to be silent (any code that reads the
    body, a view or a log line, is safe from the parser's recursion)."""

    _within: bool | None = None

    def _json_within_limits(self) -> bool:
        if self._within is None:
            data = self.get_data(cache=True)
            self._within = len(data) <= MAX_JSON_BYTES and json_depth(data) <= MAX_JSON_DEPTH
        return self._within

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """As Flask's, within MAX_JSON_BYTES and MAX_JSON_DEPTH."""
        if (force or self.is_json) and not self._json_within_limits():
            if silent:
                return None
            raise BadRequest(
                f"JSON larger than {MAX_JSON_BYTES} bytes or deeper than {MAX_JSON_DEPTH} levels"
            )
        return super().get_json(force=force, silent=silent, cache=cache)


def day_filter_problem(args: Mapping[str, str]) -> str | None:
    """Why the audit page's ``since``/``until`` are no days YYYY-MM-DD (1900–2999), or None
    (``until=9999-12-31`` overflowed to a 500 when the day after it was taken)."""
    for name in ("since", "until"):
        value = args.get(name, "").strip()
        if not value:
            continue
        try:
            day = date.fromisoformat(value) if _DAY.fullmatch(value) else None
        except ValueError:
            day = None
        if day is None or not EARLIEST <= day <= LATEST:
            return f"the filter {name} must be a day YYYY-MM-DD from {EARLIEST} to {LATEST}"
    return None


def needs_login() -> bool:
    """Whether the endpoint of this request is wrapped by ``api.login_required``."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "needs_login", False))


def install(app: Flask, settings: Settings) -> None:
    """Set the trusted hosts and add the checks (call before the other request hooks)."""
    from workflow.web import api
    from workflow.web.pages import error_page
    from workflow.web.state import web

    app.request_class = LimitedRequest
    hosts = settings.section("web").get("trusted_hosts") or []
    if hosts:
        app.config["TRUSTED_HOSTS"] = list(hosts)

    def refuse(
        message: str, german: str = "Die Anfrage ist zu groß oder zu tief verschachtelt."
    ) -> Any:
        if request.path.startswith("/api/"):
            return api.error(400, message)
        return error_page(400, german)

    @app.before_request
    def bounded_request() -> Any:
        if hosts:
            try:
                request.host  # noqa: B018 - Werkzeug checks it against TRUSTED_HOSTS
            except SecurityError:
                log.warning("refused: untrusted Host %s", ascii(request.headers.get("Host")))
                if request.path.startswith("/api/"):
                    return api.error(400, "untrusted host")
                # no page: without a trusted host Flask builds no URL for its links
                return Response("Unzulässige Adresse (Host).", 400, mimetype="text/plain")
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.is_json:
            length = request.content_length
            if length is not None and length > MAX_JSON_BYTES:
                return refuse(f"the JSON body is larger than {MAX_JSON_BYTES} bytes")
            data = request.get_data(cache=True)
            if len(data) > MAX_JSON_BYTES:
                return refuse(f"the JSON body is larger than {MAX_JSON_BYTES} bytes")
            if json_depth(data) > MAX_JSON_DEPTH:
                return refuse(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
        return None

    @app.before_request
    def plain_url() -> Any:
        # A URL never carries control characters; refused here, they cannot reach a query,
        # where PostgreSQL refuses a NUL and SQLite just finds nothing (the same URL would
        # give 422 on one backend and 200 or 404 on the other).
        if _plain(request.path, request.args.items(multi=True)):
            return None
        for what, value in (("the path", request.path), *_query_items()):
            try:  # a TAB pasted into a search field is text, not an attack
                check_text(value.replace("\t", " ") if what != "the path" else value, what)
            except InvalidInput as exc:
                log.warning("refused: %s %s: %s", request.method, ascii(request.path), exc)
                if request.path.startswith("/api/"):
                    return api.error(400, str(exc))
                return error_page(400, "Die Adresse enthält ein unzulässiges Zeichen.")
        return None

    def filters() -> Response | Any:
        if g.get("actor") is None:
            return None
        if request.endpoint == "audit.page":
            problem = day_filter_problem(request.args)
            return None if problem is None else refuse(problem, "Das Datum ist ungültig.")
        if (request.blueprint, request.endpoint) not in _LISTS:
            return None
        w = web()
        leads = w.runtime.directory.ministries
        fields = w.definition.handlungsfelder
        # a plain dict: MultiDict.get raises (and catches) an exception per absent filter
        args = request.args.to_dict()
        problem = filter_problem(args, w.definition.states, leads, fields)
        if problem is None:
            return None
        return refuse(problem, "Der Filter enthält einen ungültigen Wert.")

    for blueprint in ("api", "proposals", "audit"):  # after identify(): who asks is known
        hooks: list[Callable[[], Any]] = app.before_request_funcs.setdefault(blueprint, [])
        hooks.append(filters)


def _plain(path: str, items: Iterable[tuple[str, str]]) -> bool:
    """Whether the path and every name and value of the query obey the text policy, asked in
    one check: the policy refuses single characters, so the texts joined by spaces obey it
    when each does (as :func:`plain_url` checks them: a TAB only in the path refused). Only
    a refusal looks at each text, to name the one that broke it."""
    texts = [path]
    for name, value in items:
        texts.append(name.replace("\t", " "))
        texts.append(value.replace("\t", " "))
    try:
        check_text(" ".join(texts), "the URL")
    except InvalidInput:
        return False
    return True


def _query_items() -> list[tuple[str, str]]:
    """Every name and value of the query string, each with what to call it in an error."""
    items = []
    for name, value in request.args.items(multi=True):
        items.append(("a query parameter's name", name))
        items.append((f"the query parameter {name!a}", value))
    return items
