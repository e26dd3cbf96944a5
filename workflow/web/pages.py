"""What every HTML page shares: the error page, who is logged in and in which role, the
German labels and template filters, the reading of a form's text.

The blueprints (:mod:`workflow.web.auth`, :mod:`workflow.web.proposals`, :mod:`workflow.web.bulk`,
:mod:`workflow.web.audit`, …) import from here, never from each other; :func:`init_app` registers
the filters and the template globals once for the whole application.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlencode

from flask import (
    Flask,
    current_app,
    g,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape

from workflow.errors import PermissionDenied
from workflow.process.definition import Definition
from workflow.process.german import ENTRY_KINDS, FILTERS, NOTICE_KINDS
from workflow.process.vocabulary import BERLIN
from workflow.web.state import web

log = logging.getLogger("workflow.web")
F = TypeVar("F", bound=Callable[..., Any])

ROLE_LABELS = {
    "coordinator": "Koordinierung",
    "ministry": "Ressort",
    "forum_lead": "Themenforum",
    "auditor": "Prüfung",
}
STATUS_LABELS = {
    "pending": "wartet auf Versand",
    "sending": "wird versandt",
    "sent": "versandt",
    "failed": "fehlgeschlagen",
}

TITLES = {
    400: "Ungültige Anfrage",
    401: "Nicht angemeldet",
    403: "Keine Berechtigung",
    404: "Nicht gefunden",
    405: "Nicht möglich",
    409: "Nicht möglich",
    413: "Zu groß",
    422: "Ungültige Eingabe",
    429: "Zu viele Anfragen",
    500: "Interner Fehler",
    503: "Vorübergehend nicht erreichbar",
}
"""A page's title (and heading) for each status."""

MESSAGES = {
    400: "Die Anfrage war ungültig.",
    401: "Bitte melden Sie sich an.",
    403: "Dafür fehlt Ihnen die Berechtigung.",
    404: "Diese Seite gibt es nicht.",
    405: "Diese Aktion ist hier nicht möglich.",
    409: "Das ist im jetzigen Zustand nicht möglich.",
    413: "Die Anfrage ist zu groß.",
    422: "Die Eingabe ist ungültig.",
    429: "Zu viele Anfragen. Bitte versuchen Sie es später noch einmal.",
    500: "Ein interner Fehler ist aufgetreten.",
    503: "Der Dienst ist vorübergehend nicht erreichbar. Bitte versuchen Sie es später erneut.",
}
"""The German sentence for a status when nothing more precise is known."""


def error_page(status: int, message: str) -> tuple[str, int]:
    """The error page: a German title for ``status`` and one sentence, never a traceback."""
    title = TITLES.get(status, "Fehler")
    return render_template("error.html", status=status, title=title, message=message), status


def berlin(value: str | datetime | None) -> str:
    """A time shown in Europe/Berlin, to the minute."""
    if not value:
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


def tag(value: str | None) -> str:
    """An ISO day (``2019-11-05``) as Germans write it (``05.11.2019``)."""
    if not value:
        return ""
    try:
        day = datetime.fromisoformat(str(value)).date()
    except ValueError:
        return str(value)
    return day.strftime("%d.%m.%Y")


_HTML_SPECIAL = re.compile("[&<>'\"]")


def html_text(value: object) -> str:
    """``str(markupsafe.escape(value))``: text for HTML, ``& < > ' "`` escaped as markupsafe
    (and Jinja) escape them. A str without any of them comes back as it is, without the
    Markup object escape() makes: a third of the time, for most of a table's cells."""
    if type(value) is str and _HTML_SPECIAL.search(value) is None:
        return value
    return str(escape(value))


# What werkzeug's default converter leaves unquoted in a path segment (its ``to_url``).
PATH_SEGMENT_SAFE = "!$&'()*+,/:;=@"
# What werkzeug's router leaves unquoted in a query string's names and values (its _urlencode).
QUERY_SAFE = "!$'()*,/:;?@"
# Text that quote() leaves as it is: ASCII letters, digits and "_.-~" (its always-safe ones).
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")


def query_string(query: list[tuple[str, str | int]]) -> str:
    """``urlencode(query, safe=QUERY_SAFE)`` as werkzeug's router appends a link's values:
    names and values of nothing but what quote() never changes (letters, digits, ``_.-~``;
    a list page's filters and page numbers) are joined as they are, anything else is
    quoted by ``urlencode``."""
    parts = []
    for name, value in query:
        text = str(value) if type(value) is int else value
        if type(text) is not str or not _UNQUOTED.fullmatch(name) or not _UNQUOTED.fullmatch(text):
            return urlencode(query, safe=QUERY_SAFE)
        parts.append(f"{name}={text}")
    return "&".join(parts)


def links_vary(app: Flask) -> bool:
    """Whether ``app``'s links may differ from one request to the next at the same root: with
    a ``SERVER_NAME`` (a link may depend on the request's host) or ``url_defaults``
    callbacks. What is built from links once per root (:func:`fixed_links`, the navigation,
    the proposal link's prefix) is then built for every request."""
    return bool(app.config["SERVER_NAME"] or app.url_default_functions)


def _proposal_prefix() -> str:
    """What ``url_for("proposals.proposal_page", key=…)`` puts before the key: built once
    per application root (not for an app whose links may depend on the request's host or
    on ``url_defaults`` callbacks)."""
    app = current_app
    if links_vary(app):
        return url_for("proposals.proposal_page", key="-").removesuffix("-")
    kept = web().fixed_html
    key = ("proposal_page", request.script_root)
    found = kept.get(key)
    if found is None:
        found = kept[key] = url_for("proposals.proposal_page", key="-").removesuffix("-")
    return str(found)


def proposal_href_builder() -> Callable[[str], str]:
    """``url_for("proposals.proposal_page", key=k)`` for many ``k``: the route's prefix is
    built once per request, the key quoted as werkzeug quotes it. A list page links every row,
    and ``url_for`` per row was a tenth of the page's time."""
    prefix = _proposal_prefix()

    def href(key: object) -> str:
        text = str(key)
        if _UNQUOTED.fullmatch(text):  # nothing to quote (every key ruhrflow makes)
            return prefix + text
        return prefix + quote(text, safe=PATH_SEGMENT_SAFE)

    return href


def proposal_link_builder() -> Callable[[str], str]:
    """``<a href="{href}">{key}</a>`` for many keys, the link of :func:`proposal_href_builder`
    and the key escaped by :func:`html_text`. A key with nothing to quote (every key ruhrflow
    makes) has nothing to escape either: it is put after the escaped prefix as it is."""
    href = proposal_href_builder()
    prefix = html_text(href(""))

    def link(key: str) -> str:
        if type(key) is str and _UNQUOTED.fullmatch(key):
            return f'<a href="{prefix}{key}">{key}</a>'
        return f'<a href="{html_text(href(key))}">{html_text(key)}</a>'

    return link


def state_label(definition: Definition, state: str) -> str:
    """A state's German label in ``definition`` (the state's name when it has none)."""
    return definition.states[state].label if state in definition.states else state


def action_label(definition: Definition, entry: Mapping[str, Any]) -> str:
    """What a history entry records, in German: a transition by its definition's label, a
    rung by its name (``Erinnerung 7 Tage vor Fristende: …``), a notice with its kind
    (``Mitteilung versandt (Statusänderung)``), anything else by its kind."""
    kind = str(entry.get("kind") or "transition")
    trigger = str(entry.get("trigger") or "")
    if kind in ("transition", "reminder", "escalation"):
        return definition.trigger_label(trigger)
    if kind == "rung_skipped":
        return f"Entfallen: {definition.trigger_label(trigger)}"
    label = ENTRY_KINDS.get(kind, trigger or kind)
    data = entry.get("data")
    notice = data.get("kind") if isinstance(data, Mapping) else None
    if kind.startswith("notice_") and notice:
        return f"{label} ({NOTICE_KINDS.get(str(notice), str(notice))})"
    return label


def _template_globals() -> dict[str, Any]:
    actor = g.get("actor")
    who = web().runtime.directory.actors.get(actor) if actor else None
    return {"me": who, "role_label": ROLE_LABELS.get(who.role, "") if who else ""}


def _labels(definition: Definition) -> dict[str, Callable[[Any], str]]:
    """The templates' German labels of the application's definition (template globals: the
    same for every request, not made anew for each)."""
    return {
        "state_label": lambda s: state_label(definition, s),
        "status_label": lambda s: STATUS_LABELS.get(s, s),
        "action_label": lambda e: action_label(definition, e),
        "notice_label": lambda kind: NOTICE_KINDS.get(kind, kind),
    }


MAX_LINKS = 512
"""How many fixed links :func:`fixed_links` keeps (a few dozen exist)."""


def fixed_links(app: Flask) -> Callable[..., str]:
    """The templates' ``url_for``, with what never changes in one process remembered: the
    link of an endpoint without values (and of a static file). Every page's navigation has
    about ten of them (``url_for('tasks.index')``, …), each a build by werkzeug's router; the
    same link comes out as long as the app's root (``SCRIPT_NAME``) is the same, so it is
    kept per root. A link to an endpoint whose URL rule takes no arguments, with plain values
    (text, numbers), is that link and the values as werkzeug's router appends them (the
    list's download and page links); any other link is built as before, and so is every link
    of an app with a ``SERVER_NAME`` (its links may depend on the request's host) or with
    ``url_defaults`` callbacks."""
    kept: dict[tuple[str, str, object], str] = {}
    plain: dict[str, bool] = {}  # by endpoint: its first URL rule has no arguments
    build = app.url_for

    def fixed(endpoint: str, filename: object = None) -> str:
        key = (request.script_root, endpoint, filename)
        found = kept.get(key)
        if found is None:
            found = build(endpoint) if filename is None else build(endpoint, filename=filename)
            if len(kept) < MAX_LINKS:
                kept[key] = found
        return found

    def without_arguments(endpoint: str) -> bool:
        found = plain.get(endpoint)
        if found is None:
            rules = list(app.url_map.iter_rules(endpoint))
            found = plain[endpoint] = bool(rules) and not rules[0].arguments
            found = found and not rules[0].defaults
        return found

    def links(endpoint: str, **values: Any) -> str:
        if links_vary(app):
            return build(endpoint, **values)
        if not values:
            return fixed(endpoint)
        if endpoint == "static" and [*values] == ["filename"]:
            return fixed(endpoint, values["filename"])
        if without_arguments(endpoint) and all(
            not name.startswith("_") and (value is None or isinstance(value, str | int))
            for name, value in values.items()
        ):
            query = [(name, value) for name, value in values.items() if value is not None]
            link = fixed(endpoint)
            return f"{link}?{query_string(query)}" if query else link
        return build(endpoint, **values)

    return links


MAX_NAVIGATIONS = 256
"""How many rendered navigations :func:`navigation_of` keeps (one per role, ministry and
forum in use: a few dozen)."""


def navigation_of(app: Flask) -> Callable[[Any, object], Markup]:
    """base.html's navigation (with the opening of the logout form) for the logged-in
    account: the macro ``nav`` of ``_navigation.html``, rendered once per application root,
    role, ministry, forum and whether the account may create proposals — what it shows
    depends on nothing else (the directory, the definition and the routes do not change
    while the process runs) —, not with about ten ``url_for`` per page. The account's name
    and the CSRF token are not in it. An app whose links may depend on the request's host
    (``SERVER_NAME``) or on ``url_defaults`` callbacks renders it for every page."""
    kept: dict[tuple[object, ...], Markup] = {}

    def render(me: Any, may_create_proposals: object) -> Markup:
        macro = get_template_attribute("_navigation.html", "nav")
        return Markup(macro(me, may_create_proposals))

    def navigation(me: Any, may_create_proposals: object) -> Markup:
        if links_vary(app):
            return render(me, may_create_proposals)
        key = (request.script_root, me.role, me.ministry, me.forum, bool(may_create_proposals))
        found = kept.get(key)
        if found is None:
            found = render(me, may_create_proposals)
            if len(kept) < MAX_NAVIGATIONS:
                kept[key] = found
        return found

    return navigation


def init_app(app: Flask) -> None:
    """Register the German filters — the one German formatting (``euro``, ``datum``, …:
    :data:`workflow.process.german.FILTERS`) and ``berlin``/``tag`` for ISO strings —,
    the template globals (who is logged in, per request; the labels of the definition,
    once) and the templates' ``url_for`` (:func:`fixed_links`)."""
    app.jinja_env.filters.update(FILTERS)
    app.add_template_filter(berlin, "berlin")
    app.add_template_filter(tag, "tag")
    app.context_processor(_template_globals)
    app.jinja_env.globals.update(_labels(app.extensions["ruhrflow"].definition))
    app.jinja_env.globals["url_for"] = fixed_links(app)
    app.jinja_env.globals["navigation"] = navigation_of(app)


# --- who is asking ------------------------------------------------------------------------


def login_required(view: F) -> F:
    """Send a visitor without a session to the login page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def role() -> str:
    """The role of the logged-in account."""
    return web().runtime.directory.actor(g.actor).role


def require_role(*roles: str) -> None:
    """Refuse (PermissionDenied, a 403 page) unless the logged-in account has one of ``roles``."""
    if role() not in roles:
        log.warning("refused: %s (%s) on %s", g.actor, role(), request.path)
        raise PermissionDenied(g.actor, request.path, None, "not for this role")


def may(action: str, detail: Mapping[str, Any]) -> bool:
    """Whether the logged-in account may do ``action`` on the proposal ``detail`` describes:
    the engine's answer from ``permissions.<action>`` of the proposal's registered definition
    version (:meth:`Engine.permitted`), so that a page offers only what it may do; the
    engine checks again when it is done."""
    return web().runtime.engine.permitted(str(detail["key"]), action, actor=g.actor)


def plain_args() -> dict[str, str]:
    """The query string as a plain dict, each name's first value (as ``request.args.get``
    finds it): werkzeug's ``MultiDict.get`` raises and catches an HTTP exception for every
    name that is absent, and a list page asks for a dozen absent filters."""
    return request.args.to_dict()


# --- forms --------------------------------------------------------------------------------


def form_text(name: str) -> str:
    """A form value, stripped, with the CRLF that browsers send for a textarea's line
    breaks turned into LF (the input policy allows LF, not CR: workflow/inputs.py)."""
    return request.form.get(name, "").replace("\r\n", "\n").strip()


def field_defs(definition: Definition, requires: tuple[str, ...] | list[str]) -> list[Any]:
    """The field definitions of ``requires`` in ``definition`` (a comment has none)."""
    fields = definition.fields
    return [fields[name] for name in requires if name in fields]


def form_fields(definition: Definition, requires: list[str]) -> dict[str, str]:
    """The required fields the form sent (strings, parsed by the engine)."""
    found = {}
    for f in field_defs(definition, requires):
        value = form_text(f"field_{f.name}")
        if value:
            found[f.name] = value
    return found
