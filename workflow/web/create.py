"""Creating and correcting proposals in the browser: the form of ``/proposals/new``, the CSV
upload with the CLI's preview-then-import, and the correction form of
``/proposals/<key>/edit``.

Each ends in the operation the CLI runs (:class:`workflow.app.operations.Operations`):
``add_proposal`` (``proposal add``), the all-or-nothing ``import_proposals`` (``proposal
import``), ``edit_proposal`` (``proposal edit``) — whose engine call
checks the permission (the definition's ``create`` and ``edit``) and every value again. The
form's own checks (:mod:`workflow.web.proposal_input`) come first, so that what is wrong is
said in German on the form that still holds what was typed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from workflow.access.directory import Actor
from workflow.app.operations import Operations
from workflow.engine.intake import ProposalInput, read_csv, sort_rows
from workflow.errors import (
    DuplicateProposal,
    ImportRejected,
    InvalidInput,
    PermissionDenied,
    StoreUnavailable,
    WorkflowError,
)
from workflow.process.definition import Definition
from workflow.process.german import EDITED_FIELDS, euro
from workflow.store.repo import proposal_keys
from workflow.web import reads
from workflow.web.api import status_of
from workflow.web.kept_input import form_expired, keeps_input
from workflow.web.pages import error_page, form_text, login_required, may
from workflow.web.proposal_input import Typed, check, create_refusal, may_create
from workflow.web.state import web

log = logging.getLogger("workflow.web")
bp = Blueprint("create", __name__)
MAX_PREVIEW = 2000  # rows an upload may hold (the CLI takes more; the browser shows them all)


def _actor() -> Actor:
    return web().runtime.directory.actor(g.actor)


def _ministries() -> dict[str, str]:
    return {code: m.name for code, m in sorted(web().runtime.directory.ministries.items())}


@bp.app_context_processor
def links() -> dict[str, Any]:
    """For the navigation and the proposal page: whether to offer creating and correcting."""
    actor_id = g.get("actor")
    if actor_id is None:
        return {"may_create_proposals": False, "may_edit": lambda detail: False}
    w = web()
    actor = w.runtime.directory.actors.get(actor_id)
    return {
        "may_create_proposals": actor is not None and may_create(actor, w.definition),
        "may_edit": lambda detail: may("edit", detail),
    }


# --- one new proposal -----------------------------------------------------------------------


@bp.route("/proposals/new", methods=["GET", "POST"])
@login_required
@keeps_input
def new() -> Any:
    """A new proposal in the initial state (``ruhrflow proposal add``)."""
    w = web()
    actor = _actor()
    if not may_create(actor, w.definition):
        log.warning("refused: %s may not create proposals", g.actor)
        return error_page(403, "Sie dürfen keine Vorschläge anlegen.")
    if request.method == "GET":
        forum = str(actor.forum) if actor.forum is not None else ""
        return _new_form(Typed(themenforum=forum, lead=actor.ministry or ""), [])
    typed = _typed_from_form()
    if form_expired():  # its token was refused: the form again, as typed, nothing done
        return _new_form(typed, [])
    item, errors = check(typed, w.definition, w.runtime.directory)
    if item is None:
        return _new_form(typed, errors, 422)
    refused = create_refusal(actor, w.definition, item)
    if refused is not None:
        return _new_form(typed, [refused], 403)
    try:
        key = Operations(w.runtime, w.now()).add_proposal(
            actor=g.actor,
            title=item.title,
            handlungsfeld=item.handlungsfeld,
            themenforum=item.themenforum,
            lead=item.lead,
            cost=None if item.cost_estimate is None else str(item.cost_estimate),
            participating=item.participating,
            summary=item.summary,
            source=item.source,
        )["key"]
    except StoreUnavailable:
        raise
    except DuplicateProposal as exc:
        return _new_form(typed, [f"Einen Vorschlag {exc.key} gibt es schon."], 409)
    except WorkflowError as exc:
        log.warning("refused: %s", exc)
        return _new_form(typed, [_german(exc)], status_of(exc))
    log.info("proposal %s created by %s in the browser", key, g.actor)
    flash(f"{key}: Vorschlag angelegt.")
    return redirect(url_for("proposals.proposal_page", key=key), code=303)


def _typed_from_form() -> Typed:
    return Typed(
        title=form_text("title"),
        summary=form_text("summary"),
        handlungsfeld=form_text("handlungsfeld"),
        themenforum=form_text("themenforum"),
        lead=form_text("lead"),
        participating=request.form.getlist("participating"),
        cost=form_text("cost"),
        source=form_text("source"),
    )


def _new_form(typed: Typed, errors: list[str], status: int = 200) -> tuple[str, int]:
    actor = _actor()
    return render_template(
        "create/new.html",
        values=typed,
        errors=errors,
        handlungsfelder=web().definition.handlungsfelder,
        ministries=_ministries(),
        initial=web().definition.initial,
        own_forum=actor.forum if actor.role == "forum_lead" else None,
    ), status


def _german(exc: WorkflowError) -> str:
    """An engine refusal the form's own checks did not foresee, in German (its English detail
    for whoever reports it)."""
    if isinstance(exc, PermissionDenied):
        return "Dafür fehlt Ihnen die Berechtigung."
    return f"Die Angaben wurden nicht angenommen ({exc})."


# --- a CSV file: preview, then import ------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    """A row of the upload as the preview shows it."""

    line: int
    key: str
    title: str
    handlungsfeld: str
    themenforum: str
    lead: str
    cost: str
    problems: list[str]


@bp.route("/proposals/import", methods=["GET", "POST"])
@login_required
@keeps_input
def import_csv() -> Any:
    """``ruhrflow proposal import`` in two steps: the file is checked and every row shown
    (nothing is written); then all rows are imported in one transaction, or none."""
    w = web()
    actor = _actor()
    if not may_create(actor, w.definition):
        log.warning("refused: %s may not import proposals", g.actor)
        return error_page(403, "Sie dürfen keine Vorschläge anlegen.")
    if request.method == "GET":
        return render_template("create/import.html", errors=[])
    if request.form.get("step") == "import" and not form_expired():
        return _import(request.form.get("csv", ""))
    # the upload, or — its token refused on the way to the import — the file it checked
    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.form.get("csv", "").encode()
    if not data.strip():
        return render_template("create/import.html", errors=["Bitte eine CSV-Datei wählen."]), 422
    try:
        text = data.decode("utf-8-sig")
        rows = read_csv(data)
    except (UnicodeDecodeError, InvalidInput) as exc:
        message = (
            "Die Datei ist nicht in UTF-8 gespeichert."
            if isinstance(exc, UnicodeDecodeError)
            else f"Die Datei ist keine Importdatei im Format der CLI ({exc})."
        )
        return render_template("create/import.html", errors=[message]), 422
    if len(rows) > MAX_PREVIEW:
        message = f"Die Datei hat mehr als {MAX_PREVIEW} Zeilen; bitte mit der CLI importieren."
        return render_template("create/import.html", errors=[message]), 422
    preview = _preview(rows, actor, w.definition)
    return render_template(
        "create/preview.html",
        rows=preview,
        bad=sum(1 for r in preview if r.problems),
        csv=text,
    ), (200 if preview and not any(r.problems for r in preview) else 422)


def _preview(rows: list[tuple[int, Any]], actor: Actor, definition: Definition) -> list[PreviewRow]:
    """Every row with its problems, in German where the form's checks know them; the engine's
    checks (:func:`workflow.engine.intake.sort_rows`, as ``proposal import``) decide."""
    w = web()
    directory = w.runtime.directory
    with w.runtime.store.read() as conn:
        existing = proposal_keys(conn)
    _good, bad = sort_rows(rows, directory, existing)
    engine_says = dict(bad)
    seen: dict[str, int] = {}
    shown = []
    for line, row in rows:
        typed = Typed(
            title=row.get("title") or "",
            summary=(row.get("summary") or "").replace("\r\n", "\n"),
            handlungsfeld=row.get("handlungsfeld") or "",
            themenforum=row.get("themenforum") or "",
            lead=row.get("lead") or "",
            participating=(row.get("participating") or "").split(";"),
            cost=row.get("cost_estimate") or "",
            source=row.get("source") or "",
            key=row.get("key") or "",
        )
        item, problems = check(typed, definition, directory, amount=str.strip)
        key = typed.key.strip()
        if key and key in existing:
            problems.append(f"Einen Vorschlag {key} gibt es schon.")
        elif key and key in seen:
            problems.append(f"Der Schlüssel {key} steht schon in Zeile {seen[key]}.")
        elif key:
            seen[key] = line
        if item is not None:
            refused = create_refusal(actor, definition, item)
            if refused is not None:
                problems.append(refused)
        if not problems and line in engine_says:
            problems.append(f"Nicht gültig ({engine_says[line]}).")
        shown.append(
            PreviewRow(
                line=line,
                key=key or "wird vergeben",
                title=typed.title,
                handlungsfeld=typed.handlungsfeld,
                themenforum=typed.themenforum,
                lead=typed.lead,
                cost=euro(item.cost_estimate) if item and item.cost_estimate is not None else "—",
                problems=problems,
            )
        )
    return shown


def _import(text: str) -> Any:
    """The checked file imported, all rows or none (the engine checks them again)."""
    w = web()
    try:
        done = Operations(w.runtime, w.now()).import_proposals(text.encode("utf-8"), actor=g.actor)
    except StoreUnavailable:
        raise
    except ImportRejected as exc:
        log.warning("refused: %s", exc)
        errors = [f"Zeile {line}: {reason}" for line, reason in exc.problems[:20]]
        return render_template(
            "create/import.html", errors=["Nichts wurde importiert.", *errors]
        ), 422
    except WorkflowError as exc:
        log.warning("refused: %s", exc)
        message = f"Nichts wurde importiert. {_german(exc)}"
        return render_template("create/import.html", errors=[message]), status_of(exc)
    keys = done["imported"]
    log.info("%d proposals imported by %s in the browser", len(keys), g.actor)
    shown = ", ".join(keys[:10]) + (" …" if len(keys) > 10 else "")
    flash(f"{len(keys)} {'Vorschlag' if len(keys) == 1 else 'Vorschläge'} importiert: {shown}.")
    return redirect(url_for("proposals.proposal_list", state=w.definition.initial), code=303)


# --- correcting a proposal -----------------------------------------------------------------


@bp.route("/proposals/<key>/edit", methods=["GET", "POST"])
@login_required
@keeps_input
def edit(key: str) -> Any:
    """Correct title, summary, cost estimate, participating ministries and Handlungsfeld
    (``ruhrflow proposal edit``): one history entry with each old and new value."""
    w = web()
    detail = reads.detail(w.runtime, key)
    if not may("edit", detail):
        log.warning("refused: %s may not edit %s", g.actor, key)
        return error_page(403, "Sie dürfen die Angaben dieses Vorschlags nicht korrigieren.")
    current = _typed_from_detail(detail)
    version = str(detail["version"])
    if request.method == "GET":
        return _edit_form(detail, current, "", version, [])
    typed = _typed_from_form()
    typed.themenforum, typed.lead = current.themenforum, current.lead  # not editable here
    comment = form_text("comment")
    if form_expired():  # its token was refused: the form again, as typed, nothing done
        return _edit_form(detail, typed, comment, request.form.get("version", ""), [])
    item, errors = check(typed, w.definition, w.runtime.directory)
    if item is None:
        return _edit_form(detail, typed, comment, request.form.get("version", ""), errors, 422)
    if request.form.get("version") != version:
        message = (
            "Der Vorschlag wurde inzwischen geändert. Die aktuellen Angaben stehen oben auf der"
            " Seite des Vorschlags; bitte prüfen Sie Ihre Eingaben und senden Sie sie erneut."
        )
        return _edit_form(detail, typed, comment, version, [message], 409)
    changes = _changes(detail, item)
    if not changes:
        return _edit_form(detail, typed, comment, version, ["Es wurde nichts geändert."], 422)
    try:
        done = Operations(w.runtime, w.now()).edit_proposal(
            key, actor=g.actor, changes=changes, comment=comment or None,
            expected_version=int(version),  # the write checks it again on the locked row
        )  # fmt: skip
    except StoreUnavailable:
        raise
    except WorkflowError as exc:
        log.warning("refused: %s", exc)
        return _edit_form(detail, typed, comment, version, [_german(exc)], status_of(exc))
    fields = ", ".join(EDITED_FIELDS[name] for name in done["changes"])
    flash(f"{key}: Angaben korrigiert ({fields}; Eintrag #{done['seq']} in der Historie).")
    return redirect(url_for("proposals.proposal_page", key=key), code=303)


def _typed_from_detail(detail: dict[str, Any]) -> Typed:
    cost = detail["cost_estimate"]
    return Typed(
        title=detail["title"],
        summary=detail["summary"] or "",
        handlungsfeld=str(detail["handlungsfeld"]),
        themenforum=str(detail["themenforum"]),
        lead=detail["lead"],
        participating=list(detail["participating"] or []),
        cost="" if cost is None else euro(Decimal(str(cost))).removesuffix(" €"),
    )


def _changes(detail: dict[str, Any], item: ProposalInput) -> dict[str, Any]:
    """The fields whose value the form changes, as ``edit_proposal`` takes them."""
    changes: dict[str, Any] = {}
    if item.title != detail["title"]:
        changes["title"] = item.title
    if item.summary != (detail["summary"] or ""):
        changes["summary"] = item.summary
    old_cost = detail["cost_estimate"]
    old = None if old_cost is None else Decimal(str(old_cost))
    if item.cost_estimate != old:
        changes["cost_estimate"] = None if item.cost_estimate is None else f"{item.cost_estimate}"
    if sorted(item.participating) != sorted(detail["participating"] or []):
        changes["participating"] = list(item.participating)
    if item.handlungsfeld != detail["handlungsfeld"]:
        changes["handlungsfeld"] = item.handlungsfeld
    return changes


def _edit_form(
    detail: dict[str, Any],
    typed: Typed,
    comment: str,
    version: str,
    errors: list[str],
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "create/edit.html",
        p=detail,
        values=typed,
        comment=comment,
        version=version,
        errors=errors,
        handlungsfelder=web().definition.handlungsfelder,
        ministries=_ministries(),
    ), status
