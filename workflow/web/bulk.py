"""The bulk action (coordinators): choose a state and a trigger, preview what would happen to
every proposal in that state, then fire it on the chosen ones in one engine call
(``advance_many``), all or nothing unless ``mode=partial``. Templates: ``templates/bulk/``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from workflow.engine.options import german
from workflow.errors import (
    ConcurrentUpdate,
    InvalidInput,
    PermissionDenied,
    TransitionNotAllowed,
    WorkflowError,
)
from workflow.process.definition import Definition, TransitionDef
from workflow.web import reads
from workflow.web.api import status_of
from workflow.web.kept_input import form_step, keeps_input
from workflow.web.pages import (
    field_defs,
    form_fields,
    form_text,
    login_required,
    require_role,
    role,
)
from workflow.web.state import web

bp = Blueprint("bulk", __name__)
BULK_LIMIT = 500


def fitting(definition: Definition, role: str, state: str | None) -> list[TransitionDef]:
    """The transitions the bulk form offers: those the role may fire (by the definition's
    roles; a relation such as the lead ministry is checked per proposal in the preview),
    from ``state`` when one is chosen, each trigger once."""
    seen: set[str] = set()
    found = []
    for t in definition.transitions:
        if role in t.roles and (state is None or state in t.sources) and t.trigger not in seen:
            seen.add(t.trigger)
            found.append(t)
    return found


@bp.route("/bulk", methods=["GET", "POST"])
@login_required
@keeps_input
def page() -> Any:
    """The form (``step=edit``; a chosen state narrows its actions to those that fit it and
    the role: ``narrow=1`` without JavaScript, static/bulk.js with it), its preview
    (``preview``), then the engine's bulk advance."""
    require_role("coordinator")
    w = web()
    definition = w.definition
    # "Aktionen für diesen Status anzeigen" (without JavaScript): the form again, narrowed
    step = "edit" if request.form.get("narrow") else form_step()
    state = (request.values.get("state") or "").strip() or None
    trigger = (request.values.get("trigger") or "").strip() or None
    comment = form_text("comment") or None
    who = role()
    if state is not None and state not in definition.states:
        state = None
    offered = fitting(definition, who, state)
    chosen = next((t for t in offered if t.trigger == trigger), None)
    asked = list(dict.fromkeys(n for t in ([chosen] if chosen else offered) for n in t.requires))
    # every action of the role with the states it leaves; those of other states hidden
    # (bulk.js shows them as the state changes)
    triggers = [
        {
            "trigger": t.trigger,
            "label": t.label,
            "states": sorted(
                {s for u in definition.transitions if u.trigger == t.trigger and who in u.roles
                 for s in u.sources}
            ),
        }
        for t in fitting(definition, who, None)
    ]  # fmt: skip
    fields = form_fields(definition, asked) if request.method == "POST" else {}
    page = {
        "states": {sid: s for sid, s in definition.states.items() if fitting(definition, who, sid)},
        "triggers": triggers,
        "fields": field_defs(definition, asked),
        "state": state,
        "trigger": trigger,
        "values": fields,
        "comment": comment or "",
    }
    if request.method == "GET" or step == "edit" or not state or not trigger:
        errors = (
            ["Bitte Status und Aktion wählen."]
            if step != "edit" and request.method == "POST"
            else []
        )
        return render_template("bulk/form.html", errors=errors, **page), 400 if errors else 200
    if chosen is None:
        label = definition.trigger_label(trigger)
        where = definition.states[state].label
        errors = [f"„{label}“ ist im Status „{where}“ nicht möglich (oder nicht für Ihre Rolle)."]
        return render_template("bulk/form.html", errors=errors, **page), 400
    if step == "preview":
        preview = _preview(state, trigger, fields, comment)
        return render_template("bulk/preview.html", preview=preview, **page)
    keys = request.form.getlist("keys")
    if not keys:
        return render_template(
            "bulk/form.html", errors=["Keine Vorschläge ausgewählt."], **page
        ), 400
    partial = request.form.get("mode") == "partial"
    try:
        result = w.runtime.engine.advance_many(
            trigger, keys=keys, actor=g.actor, now=w.now(), comment=comment, fields=fields,
            partial=partial,
        )  # fmt: skip
    except WorkflowError as exc:
        message = f"Nichts wurde angewendet: {refusal_de(definition, exc)}"
        return render_template("bulk/form.html", errors=[message], **page), status_of(exc)
    return render_template(
        "bulk/done.html",
        applied=result.applied,
        refused=[(k, refusal_de(definition, e)) for k, e in result.refused],
        **page,
    )


def refusal_de(definition: Definition, exc: WorkflowError) -> str:
    """Why the engine refused one proposal of a bulk action, in German: the guards' texts,
    missing input, a lost race, a permission (the English reason goes to the log)."""
    german = getattr(exc, "german", None)
    if isinstance(german, str):
        return german
    if isinstance(exc, TransitionNotAllowed):
        if exc.failed_guards:
            needs = "; ".join(definition.guard_text(g) for g in exc.failed_guards)
            return f"Voraussetzung nicht erfüllt: {needs}."
        if exc.reasons:
            return "Es fehlen Angaben, die die Aktion verlangt."
        return "Im jetzigen Status nicht möglich."
    if isinstance(exc, PermissionDenied):
        return "Dafür fehlt Ihnen die Berechtigung."
    if isinstance(exc, ConcurrentUpdate):
        return "Der Vorschlag wurde inzwischen geändert."
    if isinstance(exc, InvalidInput):
        return "Eine Angabe ist ungültig."
    return "Nicht möglich."


def _preview(
    state: str, trigger: str, fields: dict[str, str], comment: str | None
) -> list[dict[str, Any]]:
    """Every proposal in ``state`` (at most BULK_LIMIT) with whether ``trigger`` would fire on
    it with ``fields`` and ``comment``, and if not, every reason, in German.

    One engine dry run for all of them (:meth:`Engine.preview_many`: the bulk advance's own
    plans in one transaction, rolled back), not one options check per row."""
    w = web()
    rows = reads.proposal_rows(w.runtime, reads.ListQuery(state=state), limit=BULK_LIMIT)
    found = w.runtime.engine.preview_many(
        trigger, keys=[r["key"] for r in rows], actor=g.actor, now=w.now(), comment=comment,
        fields=fields,
    )  # fmt: skip
    preview = []
    for r, p in zip(rows, found, strict=True):
        said = p.definition or w.definition
        reasons = [german(said, b) for b in p.blocked]
        preview.append({**r, "ok": p.applies, "reasons": [] if p.applies else reasons})
    return preview
