"""The HTML pages (German): login, worklist, proposals, actions with a confirm step, bulk, audit.

Views parse the form, call the engine exactly as the CLI does (``advance``,
``advance_many``, ``triggers``) and render. Permissions, guards and required fields are
the engine's; a view only decides which page to show.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, time
from functools import wraps
from typing import Any, NamedTuple, TypeVar, cast
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response

from workflow import Applied, PermissionDenied, StoreUnavailable, WorkflowError
from workflow.access.policy import refusal
from workflow.app.machine import machine_row
from workflow.audit.checkpoint import recorded_checkpoints, take_checkpoint
from workflow.audit.verify import last_verification, record_verification, verify_store
from workflow.deadlines.queries import open_rungs_of
from workflow.documents.attach import list_documents
from workflow.process.definition import Definition
from workflow.process.german import ENTRY_KINDS, NOTICE_KINDS
from workflow.spreadsheet import csv_writer
from workflow.web import accounts, reads
from workflow.web.api import status_of
from workflow.web.operations import unavailable
from workflow.web.state import web

log = logging.getLogger("workflow.web")
WORKLIST_ROWS = 50  # open deadlines per worklist page (as the proposal list's PAGE_SIZE)
bp = Blueprint("web", __name__)
F = TypeVar("F", bound=Callable[..., Any])
BERLIN = ZoneInfo("Europe/Berlin")
BULK_LIMIT = 500

HTTP_MESSAGES = {
    400: "Die Anfrage war ungültig.",
    403: "Dafür fehlt Ihnen die Berechtigung.",
    404: "Diese Seite gibt es nicht.",
    405: "Diese Aktion ist hier nicht möglich.",
    413: "Die Anfrage ist zu groß.",
}
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


def error_page(status: int, message: str) -> tuple[str, int]:
    """The error page: one sentence, never a traceback."""
    return render_template("error.html", status=status, message=message), status


@bp.errorhandler(WorkflowError)
def workflow_error(exc: WorkflowError) -> tuple[str, int]:
    status = status_of(exc)
    if isinstance(exc, StoreUnavailable):  # the detail (host, database) only to the log
        return error_page(status, unavailable(exc))
    log.warning("refused: %s", exc)
    return error_page(status, str(exc))


@bp.app_template_filter("berlin")
def berlin(value: str | datetime | None) -> str:
    """A time shown in Europe/Berlin, to the minute."""
    if not value:
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


@bp.app_template_filter("tag")
def tag(value: str | None) -> str:
    """An ISO day (``2019-11-05``) as Germans write it (``05.11.2019``)."""
    if not value:
        return ""
    try:
        day = datetime.fromisoformat(str(value)).date()
    except ValueError:
        return str(value)
    return day.strftime("%d.%m.%Y")


@bp.app_template_filter("euro")
def euro(value: float | int | None) -> str:
    """An amount in euros, German style."""
    if value is None:
        return "—"
    return f"{value:,.2f} €".replace(",", "_").replace(".", ",").replace("_", ".")


# What werkzeug's default converter leaves unquoted in a path segment (its ``to_url``).
PATH_SEGMENT_SAFE = "!$&'()*+,/:;=@"


def proposal_href_builder() -> Callable[[str], str]:
    """``url_for("web.proposal_page", key=k)`` for many ``k``: the route's prefix is built
    once per request, the key quoted as werkzeug quotes it. A list page links every row, and
    ``url_for`` per row was a tenth of the page's time."""
    prefix = url_for("web.proposal_page", key="-").removesuffix("-")
    return lambda key: prefix + quote(str(key), safe=PATH_SEGMENT_SAFE)


@bp.app_context_processor
def globals_for_templates() -> dict[str, Any]:
    actor = g.get("actor")
    who = web().runtime.directory.actors.get(actor) if actor else None
    definition = web().definition
    return {
        "me": who,
        "role_label": ROLE_LABELS.get(who.role, "") if who else "",
        "state_label": lambda s: definition.states[s].label if s in definition.states else s,
        "status_label": lambda s: STATUS_LABELS.get(s, s),
        "action_label": lambda e: action_label(definition, e),
        "notice_label": lambda kind: NOTICE_KINDS.get(kind, kind),
    }


def action_label(definition: Definition, entry: Mapping[str, Any]) -> str:
    """What a history entry records, in German: a transition by its definition's label,
    anything else by its kind (``Erinnerung ausgelöst``, ``Mitteilung versandt``, …)."""
    kind = str(entry.get("kind") or "transition")
    if kind == "transition":
        return str(definition.trigger_label(str(entry.get("trigger"))))
    return ENTRY_KINDS.get(kind, str(entry.get("trigger") or kind))


def login_required(view: F) -> F:
    """Send a visitor without a session to the login page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def _role() -> str:
    return web().runtime.directory.actor(g.actor).role


def _require_role(*roles: str) -> None:
    if _role() not in roles:
        log.warning("refused: %s (%s) on %s", g.actor, _role(), request.path)
        raise PermissionDenied(g.actor, request.path, None, "not for this role")


# --- login --------------------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """Only a local path: no open redirect to another site, no control character (a CR/LF
    in ``next`` broke the redirect's header after a correct password)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("web.index")
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in target):
        return url_for("web.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return url_for("web.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method != "POST":  # a GET or HEAD is no login attempt and never counts
        return render_template("login.html", next=request.args.get("next", ""))
    w = web()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    address = request.remote_addr or ""
    try:
        found = accounts.login_with_password(
            w.runtime.store, username, password, w.now(), address=address
        )
    except accounts.LoginThrottled as exc:
        log.warning("login throttled for %r until %s", username, exc.until.isoformat())
        message = "Zu viele Fehlversuche. Bitte versuchen Sie es später noch einmal."
        return render_template("login.html", error=message, next=request.form.get("next")), 429
    if found is None:
        log.warning("login failed for %r from %s", username, request.remote_addr)
        message = "Benutzername oder Passwort ist falsch."
        return render_template("login.html", error=message, next=request.form.get("next")), 401
    actor, epoch = found
    session.clear()  # a logout, a password change or a disable ends it (accounts.session_actor)
    lifetime = current_app.permanent_session_lifetime
    session["sid"] = accounts.begin_session(w.runtime.store, actor, epoch, w.now(), lifetime)
    session["actor"] = actor  # for reading only: the server's row behind "sid" decides
    session.permanent = True
    log.info("login: %s from %s", actor, request.remote_addr)
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout() -> Response:
    sso = web().oidc
    at_issuer = sso.end_session_url() if sso else None  # an SSO session ends there too
    if g.get("actor"):
        log.info("logout: %s%s", g.actor, " (and at the SSO issuer)" if at_issuer else "")
    accounts.end_session(web().runtime.store, session.get("sid"), web().now())  # a copy too
    session.clear()
    return redirect(at_issuer or url_for("web.login"), code=303)


@bp.get("/")
@login_required
def index() -> Response:
    who = web().runtime.directory.actor(g.actor)
    if who.role == "coordinator":
        return redirect(url_for("web.worklist"))
    if who.role == "ministry" and who.ministry:
        return redirect(url_for("web.proposal_list", lead=who.ministry))
    if who.role == "forum_lead" and who.forum:
        return redirect(url_for("web.proposal_list", themenforum=who.forum))
    if who.role == "auditor":
        return redirect(url_for("web.audit"))
    return redirect(url_for("web.proposal_list"))


# --- reading ------------------------------------------------------------------------------


class WorklistRow(NamedTuple):
    """A row of the worklist as the page shows it (formatted once, here, not in the template:
    the worklist has 200 rows, and a filter call per cell was a third of the page's time)."""

    href: str
    key: str
    label: str
    due: str
    overdue: bool
    lead: str
    state: str


@bp.get("/worklist")
@login_required
def worklist() -> str:
    w = web()
    who = w.runtime.directory.actor(g.actor)
    lead = who.ministry if who.role == "ministry" else None
    forum = who.forum if who.role == "forum_lead" else None  # a forum lead: its forum only
    page = max(1, reads.query_number(request.args.get("page")) or 1)
    # one row more than shown says whether there is a next page, without counting them all
    rows = reads.open_deadlines(
        w.runtime,
        w.now(),
        lead=lead,
        themenforum=forum,
        limit=WORKLIST_ROWS + 1,
        offset=(page - 1) * WORKLIST_ROWS,
    )
    href = proposal_href_builder()
    states = w.definition.states
    shown = [
        WorklistRow(
            href=href(r["key"]),
            key=r["key"],
            label=r["label"],
            due=berlin(r["due_at"]),
            overdue=r["overdue"],
            lead=r["lead"],
            state=states[r["state"]].label if r["state"] in states else r["state"],
        )
        for r in rows[:WORKLIST_ROWS]
    ]
    return render_template(
        "worklist.html",
        rows=shown,
        page=page,
        first=(page - 1) * WORKLIST_ROWS + 1,
        more=len(rows) > WORKLIST_ROWS,
    )


class ListRow(NamedTuple):
    """A row of the proposal list as the page shows it (formatted here, as the worklist's)."""

    href: str
    key: str
    title: str
    state: str
    handlungsfeld: int
    themenforum: int
    lead: str
    cost: str


@bp.get("/proposals")
@login_required
def proposal_list() -> Any:
    w = web()
    query = reads.ListQuery.from_args(request.args)
    fmt = request.args.get("format")
    if fmt in ("csv", "json"):
        return _download(reads.iter_proposal_rows(w.runtime, query), fmt)
    found = reads.proposal_page(w.runtime, query)
    href = proposal_href_builder()
    states = w.definition.states
    rows = [
        ListRow(
            href=href(r["key"]),
            key=r["key"],
            title=r["title"],
            state=states[r["state"]].label if r["state"] in states else r["state"],
            handlungsfeld=r["handlungsfeld"],
            themenforum=r["themenforum"],
            lead=r["lead"],
            cost=euro(r["cost_estimate"]),
        )
        for r in found.rows
    ]
    return render_template(
        "proposals.html",
        rows=rows,
        total=found.total,
        exact=found.exact,
        query=query,
        pages=found.pages,
        page=found.page,
        states=w.definition.states,
        sorts=reads.SORTS,
        leads=sorted(w.runtime.directory.ministries),
    )


LIST_COLUMNS = ["key", "state", "handlungsfeld", "themenforum", "lead", "cost_estimate", "title"]


def _download(rows: Iterator[dict[str, Any]], fmt: str) -> Response:
    """The list as a file, streamed as it is read: a large list is never built in memory."""
    chunks = _json_chunks(machine_row(r) for r in rows) if fmt == "json" else _csv_chunks(rows)
    mimetype = "application/json" if fmt == "json" else "text/csv"
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=vorschlaege.{fmt}"
    return response


def _json_chunks(rows: Iterator[dict[str, Any]], batch: int = 500) -> Iterator[str]:
    """``json.dumps(list(rows), ensure_ascii=False, indent=2)``, ``batch`` rows at a time."""
    parts: list[str] = []
    opening = "[\n  "
    for r in rows:
        # the row's own lines one level deeper (a newline inside a string is escaped)
        parts.append(json.dumps(r, ensure_ascii=False, indent=2).replace("\n", "\n  "))
        if len(parts) == batch:
            yield opening + ",\n  ".join(parts)
            parts, opening = [], ",\n  "
    if parts:
        yield opening + ",\n  ".join(parts)
        opening = ""
    yield "[]" if opening.startswith("[") else "\n]"


def _csv_chunks(rows: Iterator[dict[str, Any]], batch: int = 500) -> Iterator[str]:
    out = io.StringIO()
    writer = csv_writer(out)  # formula cells neutralised, as in every CSV ruhrflow writes
    writer.writerow(LIST_COLUMNS)
    for n, r in enumerate(rows, 1):
        writer.writerow(r[c] for c in LIST_COLUMNS)
        if n % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


@bp.get("/proposals/<key>")
@login_required
def proposal_page(key: str) -> str:
    w = web()
    detail = reads.detail(w.runtime, key)
    options = reads.triggers(w.runtime, key, g.actor, w.now())
    history = reads.history(w.runtime, key)
    return render_template(
        "proposal.html",
        p=detail,
        history=history,
        timeline=_timeline(detail["state"], history),
        deadlines=reads.open_deadlines(w.runtime, w.now(), lead=detail["lead"], key=key),
        rungs=open_rungs_of(w.runtime.store, key),
        notices=reads.notices_of(w.runtime, key),
        options=[_option_view(o) for o in options],
        read_only=_role() == "auditor",
        may_fund=may("add_funding", detail),
        may_state=may("record_statement", detail)
        and detail["state"] in w.definition.statement_states,
        documents=list_documents(w.runtime.store, key),
        handlungsfeld=w.definition.handlungsfelder.get(detail["handlungsfeld"], ""),
        reported=next((e for e in reversed(history) if e["trigger"] == "report_progress"), None),
        may_attach=may("attach_document", detail),
        sources=SOURCE_LABELS,
        groups=GROUP_LABELS,
        positions=POSITION_LABELS,
    )


def _timeline(state: str, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The phases of the process with the current one, and the states the proposal entered
    with their times (from its history)."""
    definition = web().definition
    order = list(definition.phases)
    current = definition.states[state].phase if state in definition.states else ""
    reached = order.index(current) if current in order else -1
    steps = [
        {"state": e["to_state"], "at": e["at"]}
        for e in history
        if e.get("to_state") and e.get("to_state") != e.get("from_state")
    ]
    return {
        "phases": [
            {
                "label": definition.phases[p],
                "current": p == current,
                "done": i < reached,
            }
            for i, p in enumerate(order)
        ],
        "steps": steps,
    }


def _option_view(option: Mapping[str, Any]) -> dict[str, Any]:
    """A trigger for the page: open its form unless something other than input blocks it."""
    # what blocks it other than input the form asks for, in German
    blocking = [r for r in option["blocked_by_de"] if not r.startswith("Es fehlt: ")]
    fields = web().definition.fields
    asks = [fields[r].label if r in fields else "Kommentar" for r in option["requires"]]
    return {**option, "blocking": blocking, "openable": not blocking, "asks": asks}


# --- acting on one proposal ---------------------------------------------------------------


def _field_defs(requires: tuple[str, ...] | list[str]) -> list[Any]:
    fields = web().definition.fields
    return [fields[name] for name in requires if name in fields]


def _form_text(name: str) -> str:
    """A form value, stripped, with the CRLF that browsers send for a textarea's line
    breaks turned into LF (the input policy allows LF, not CR: workflow/inputs.py)."""
    return request.form.get(name, "").replace("\r\n", "\n").strip()


def _form_fields(requires: list[str]) -> dict[str, str]:
    """The required fields the form sent (strings, parsed by the engine)."""
    found = {}
    for f in _field_defs(requires):
        value = _form_text(f"field_{f.name}")
        if value:
            found[f.name] = value
    return found


def _option(options: list[dict[str, Any]], trigger: str) -> dict[str, Any] | None:
    return next((o for o in options if o["trigger"] == trigger), None)


@bp.route("/proposals/<key>/actions/<trigger>", methods=["GET", "POST"])
@login_required
def action(key: str, trigger: str) -> Any:
    w = web()
    detail = reads.detail(w.runtime, key)
    step = request.form.get("step", "edit")
    comment = _form_text("comment") or None
    options = reads.triggers(w.runtime, key, g.actor, w.now())
    option = _option(options, trigger)
    if option is None:
        return error_page(409, f"„{trigger}“ ist im Status „{detail['state']}“ nicht möglich.")
    fields = _form_fields(option["requires"]) if request.method == "POST" else {}

    def form(errors: list[str], status: int = 200) -> tuple[str, int]:
        return render_template(
            "action.html",
            p=detail,
            option=option,
            fields=_field_defs(option["requires"]),
            values=fields,
            comment=comment or "",
            errors=errors,
        ), status

    if request.method == "GET" or step == "edit":
        return form([])
    if step == "review":
        try:
            checked = reads.triggers(w.runtime, key, g.actor, w.now(), fields, comment)
        except WorkflowError as exc:
            return form([str(exc)], status_of(exc))
        now_option = _option(checked, trigger)
        if now_option is None or not now_option["can_fire"]:
            reasons = now_option["blocked_by_de"] if now_option else ["nicht möglich"]
            return form(reasons, 409)
        return render_template(
            "confirm.html", p=detail, option=option, fields=fields, comment=comment or "",
            labels={f.name: f.label for f in _field_defs(option["requires"])},
        )  # fmt: skip
    raw_version = request.form.get("expected_version", "").strip()
    if not (raw_version.isascii() and raw_version.isdigit() and len(raw_version) <= 18):
        return form(["Die Version des Vorschlags fehlt oder ist ungültig."], 400)
    version = int(raw_version)  # ASCII digits only: int() also takes "٥"
    return _acted(
        key,
        form,
        lambda: w.runtime.engine.advance(
            key,
            trigger,
            actor=g.actor,
            now=w.now(),
            comment=comment,
            fields=fields,
            expected_version=version,
        ),
    )


SOURCE_LABELS = {
    "land": "Land NRW",
    "bund": "Bund",
    "eu": "Europäische Union",
    "stiftung": "Stiftung",
    "sonstige": "Sonstige",
}


def may(action: str, detail: Mapping[str, Any]) -> bool:
    """Whether the logged-in account holds a role the definition names for ``action``
    (``permissions`` in the definition), so that a page offers only what it may do; the
    engine checks again when it is done."""
    w = web()
    roles = w.definition.permitted(action)
    return refusal(w.runtime.directory.actor(g.actor), roles, detail) is None


def _euros(text: str) -> str:
    """A German amount as typed (``250.000,50``) in the form the engine parses (``250000.50``)."""
    text = text.replace(" ", "").replace("€", "")
    if "," in text or re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
        # a German form: the dots group thousands (250.000 is a quarter of a million)
        text = text.replace(".", "").replace(",", ".")
    return text


@bp.route("/proposals/<key>/funding", methods=["GET", "POST"])
@login_required
def funding(key: str) -> Any:
    """Record a funding line (``ruhrflow funding add``): the lead ministry and coordinators."""
    w = web()
    detail = reads.detail(w.runtime, key)
    if not may("add_funding", detail):
        log.warning("refused: %s may not add funding to %s", g.actor, key)
        return error_page(403, "Sie dürfen für diesen Vorschlag keine Finanzierung erfassen.")
    source, amount, year_text = (
        request.form.get("source", "land"),
        _form_text("amount"),
        _form_text("year"),
    )
    secured = request.form.get("secured") == "1"
    values = {"source": source, "amount": amount, "year": year_text, "secured": secured}

    def form(errors: list[str], status: int = 200) -> tuple[str, int]:
        return render_template(
            "funding.html", p=detail, values=values, sources=SOURCE_LABELS, errors=errors
        ), status

    if request.method == "GET":
        return form([])
    from workflow.engine.intake import parse_amount

    if source not in SOURCE_LABELS:
        return form(["Bitte eine Quelle auswählen."], 400)
    plain = year_text.isascii() and year_text.isdigit() and len(year_text) == 4  # not "²"
    year = int(year_text) if plain else 0
    if not 2000 <= year <= 2100:
        return form(["Das Jahr muss zwischen 2000 und 2100 liegen."], 400)
    return _acted(
        key,
        form,
        lambda: w.runtime.engine.add_funding(
            key,
            source=source,
            amount=parse_amount(_euros(amount)),
            year=year,
            secured=secured,
            actor=g.actor,
            now=w.now(),
        ),
    )


GROUP_LABELS = {
    "kommune": "Kommune",
    "ihk": "Industrie- und Handelskammer",
    "hwk": "Handwerkskammer",
    "verband": "Verband",
    "townhall": "Townhall-Veranstaltung",
    "buerger": "Bürgerinnen und Bürger",
}
POSITION_LABELS = {
    "support": "Zustimmung",
    "concerns": "Bedenken",
    "oppose": "Ablehnung",
    "neutral": "Neutral",
}


@bp.route("/proposals/<key>/statements", methods=["GET", "POST"])
@login_required
def statement(key: str) -> Any:
    """Record a statement of the consultation (``ruhrflow consult record``): coordinators,
    in the states the definition's ``statement_states`` names."""
    w = web()
    detail = reads.detail(w.runtime, key)
    if not may("record_statement", detail):
        log.warning("refused: %s may not record statements on %s", g.actor, key)
        return error_page(403, "Sie dürfen für diesen Vorschlag keine Stellungnahmen erfassen.")
    party, text = _form_text("party"), _form_text("text")
    group = request.form.get("group", "kommune")
    position = request.form.get("position", "support")
    values = {"party": party, "text": text, "group": group, "position": position}

    def form(errors: list[str], status: int = 200) -> tuple[str, int]:
        return render_template(
            "statement.html",
            p=detail,
            values=values,
            groups=GROUP_LABELS,
            positions=POSITION_LABELS,
            errors=errors,
        ), status

    if request.method == "GET":
        return form([])
    if not party:
        return form(["Bitte angeben, wer Stellung genommen hat."], 400)
    return _acted(
        key,
        form,
        lambda: w.runtime.engine.record_statement(
            key,
            party=party,
            group=group,
            position=position,
            text=text,
            actor=g.actor,
            now=w.now(),
        ),
    )


def _acted(key: str, form: Callable[[list[str], int], Any], act: Callable[[], Applied]) -> Any:
    """Do ``act`` (one engine call); on success a message and back to the proposal's page, on
    a refusal the form again with the reason and its status (403s are logged)."""
    try:
        applied = act()
    except StoreUnavailable:
        raise  # workflow_error: the detail only to the log
    except WorkflowError as exc:
        log.warning("refused: %s", exc)
        return form([str(exc)], status_of(exc))
    flash(_done_message(applied))
    return redirect(url_for("web.proposal_page", key=key), code=303)


def _done_message(a: Applied) -> str:
    label = action_label(a.definition, {"kind": a.kind, "trigger": a.trigger})
    return f"{a.key}: „{label}“ ausgeführt (Eintrag #{a.seq} in der Historie)."


# --- bulk ---------------------------------------------------------------------------------


@bp.route("/bulk", methods=["GET", "POST"])
@login_required
def bulk() -> Any:
    _require_role("coordinator")
    w = web()
    definition = w.definition
    step = request.form.get("step", "edit")
    state = (request.values.get("state") or "").strip() or None
    trigger = (request.values.get("trigger") or "").strip() or None
    comment = _form_text("comment") or None
    all_fields = list(definition.fields)
    fields = _form_fields(all_fields) if request.method == "POST" else {}
    page = {
        "states": definition.states,
        "triggers": sorted({(t.trigger, t.label) for t in definition.transitions}),
        "fields": _field_defs(all_fields),
        "state": state,
        "trigger": trigger,
        "values": fields,
        "comment": comment or "",
    }
    if request.method == "GET" or step == "edit" or not state or not trigger:
        errors = ["Bitte Status und Aktion wählen."] if request.method == "POST" else []
        return render_template("bulk.html", errors=errors, **page), 400 if errors else 200
    if step == "preview":
        rows = reads.proposal_rows(w.runtime, reads.ListQuery(state=state), limit=BULK_LIMIT)
        preview = []
        for r in rows:
            checked = reads.triggers(w.runtime, r["key"], g.actor, w.now(), fields, comment)
            option = _option(checked, trigger)
            reasons = option["blocked_by_de"] if option else ["im Status nicht möglich"]
            ok = bool(option and option["can_fire"])
            preview.append({**r, "ok": ok, "reasons": [] if ok else reasons})
        return render_template("bulk_preview.html", preview=preview, **page)
    keys = request.form.getlist("keys")
    if not keys:
        return render_template("bulk.html", errors=["Keine Vorschläge ausgewählt."], **page), 400
    partial = request.form.get("mode") == "partial"
    try:
        result = w.runtime.engine.advance_many(
            trigger, keys=keys, actor=g.actor, now=w.now(), comment=comment, fields=fields,
            partial=partial,
        )  # fmt: skip
    except WorkflowError as exc:
        message = f"Nichts wurde angewendet: {exc}"
        return render_template("bulk.html", errors=[message], **page), status_of(exc)
    return render_template(
        "bulk_done.html",
        applied=result.applied,
        refused=[(k, str(e)) for k, e in result.refused],
        **page,
    )


# --- audit --------------------------------------------------------------------------------


def _day(text: str | None, *, end: bool) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None
    from datetime import timedelta

    if end:
        day = day + timedelta(days=1)
    return datetime.combine(day, time(0), BERLIN).astimezone(UTC)


@bp.get("/audit")
@login_required
def audit() -> Any:
    _require_role("auditor", "coordinator")
    w = web()
    args = request.args
    filters = {
        "key": (args.get("key") or "").strip() or None,
        "actor": (args.get("actor") or "").strip() or None,
        "trigger": (args.get("trigger") or "").strip() or None,
    }
    since, until = _day(args.get("since"), end=False), _day(args.get("until"), end=True)
    entries = []
    limit = 500
    for e in reads.audit_entries(w.runtime, since=since, until=until, **filters):
        entries.append(e)
        if len(entries) > limit:
            break
    return render_template(
        "audit.html",
        entries=entries[:limit],
        more=len(entries) > limit,
        filters={**filters, "since": args.get("since", ""), "until": args.get("until", "")},
        verification=last_verification(w.runtime.store),
        checkpoints=recorded_checkpoints(w.runtime.store, limit=20),
    )


@bp.post("/audit/verify")
@login_required
def audit_verify() -> Response:
    """Re-compute every chain now and record the result on ``@system`` (``audit verify
    --record``): an act of audit, not a change to a proposal, so auditors may do it."""
    _require_role("auditor", "coordinator")
    w = web()
    rt, now = w.runtime, w.now()
    result = verify_store(rt.store, key=rt.settings.audit_key)
    record_verification(
        rt.store, result, audit_key=rt.settings.audit_key, actor_id=g.actor, now=now
    )
    log.info("audit verify by %s: %s", g.actor, "ok" if result.ok else f"BREAK {result.broken}")
    if result.ok:
        flash(f"Prüfung bestanden: {result.entries} Einträge in {result.chains} Ketten.")
    else:
        flash(f"Prüfung gescheitert: {result.broken}")
    return redirect(url_for("web.audit"))


@bp.post("/audit/checkpoint")
@login_required
def audit_checkpoint() -> Response:
    """Record a checkpoint (``audit checkpoint``); its digest is shown to be kept elsewhere."""
    _require_role("auditor", "coordinator")
    w = web()
    rt = w.runtime
    cp = take_checkpoint(rt.store, audit_key=rt.settings.audit_key, actor_id=g.actor, now=w.now())
    log.info("audit checkpoint by %s: %s", g.actor, cp.digest)
    flash(f"Checkpoint gesetzt: {cp.digest} — bitte außerhalb der Datenbank aufbewahren.")
    return redirect(url_for("web.audit"))


@bp.get("/audit/export")
@login_required
def audit_export() -> Response:
    _require_role("auditor", "coordinator")
    fmt = "csv" if request.args.get("format") == "csv" else "jsonl"
    w = web()
    out = io.StringIO()
    reads.export_history(w.runtime, out, fmt, w.now())
    log.info("audit export (%s) by %s", fmt, g.actor)
    response = Response(
        out.getvalue(), mimetype="text/csv" if fmt == "csv" else "application/jsonl"
    )
    response.headers["Content-Disposition"] = f"attachment; filename=historie.{fmt}"
    return response
