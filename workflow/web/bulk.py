"""The bulk action (coordinators): choose a state and a trigger, preview what would happen to
every proposal in that state, then fire it on the chosen ones in one engine call
(``advance_many``), all or nothing unless ``mode=partial``. Templates: ``templates/bulk/``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from workflow.errors import WorkflowError
from workflow.web import reads
from workflow.web.api import status_of
from workflow.web.pages import field_defs, form_fields, form_text, login_required, require_role
from workflow.web.proposals.actions import option_of
from workflow.web.state import web

bp = Blueprint("bulk", __name__)
BULK_LIMIT = 500


@bp.route("/bulk", methods=["GET", "POST"])
@login_required
def page() -> Any:
    """The form (``step=edit``), its preview (``preview``), then the engine's bulk advance."""
    require_role("coordinator")
    w = web()
    definition = w.definition
    step = request.form.get("step", "edit")
    state = (request.values.get("state") or "").strip() or None
    trigger = (request.values.get("trigger") or "").strip() or None
    comment = form_text("comment") or None
    all_fields = list(definition.fields)
    fields = form_fields(definition, all_fields) if request.method == "POST" else {}
    page = {
        "states": definition.states,
        "triggers": sorted({(t.trigger, t.label) for t in definition.transitions}),
        "fields": field_defs(definition, all_fields),
        "state": state,
        "trigger": trigger,
        "values": fields,
        "comment": comment or "",
    }
    if request.method == "GET" or step == "edit" or not state or not trigger:
        errors = ["Bitte Status und Aktion wählen."] if request.method == "POST" else []
        return render_template("bulk/form.html", errors=errors, **page), 400 if errors else 200
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
        message = f"Nichts wurde angewendet: {exc}"
        return render_template("bulk/form.html", errors=[message], **page), status_of(exc)
    return render_template(
        "bulk/done.html",
        applied=result.applied,
        refused=[(k, str(e)) for k, e in result.refused],
        **page,
    )


def _preview(
    state: str, trigger: str, fields: dict[str, str], comment: str | None
) -> list[dict[str, Any]]:
    """Every proposal in ``state`` (at most BULK_LIMIT) with whether ``trigger`` would fire on
    it with ``fields`` and ``comment``, and if not, the engine's German reasons.

    All of it reads in one transaction on PostgreSQL (:meth:`Store.shared_read`), not one per
    row: the preview of 500 proposals took 500 read transactions, each a round trip to
    BEGIN and one to COMMIT."""
    w = web()
    preview = []
    with w.runtime.store.shared_read():
        rows = reads.proposal_rows(w.runtime, reads.ListQuery(state=state), limit=BULK_LIMIT)
        for r in rows:
            checked = reads.triggers(w.runtime, r["key"], g.actor, w.now(), fields, comment)
            option = option_of(checked, trigger)
            reasons = option["blocked_by_de"] if option else ["im Status nicht möglich"]
            ok = bool(option and option["can_fire"])
            preview.append({**r, "ok": ok, "reasons": [] if ok else reasons})
    return preview
