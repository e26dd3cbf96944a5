"""One proposal's page: its data, timeline, history, deadlines, notices, documents and what
the logged-in account may do next — all from the proposal's registered definition version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g, render_template

from workflow.deadlines.queries import open_rungs_of
from workflow.documents.attach import list_documents
from workflow.process.definition import Definition
from workflow.web import reads
from workflow.web.pages import login_required, may, role
from workflow.web.proposals.actions import GROUP_LABELS, POSITION_LABELS, SOURCE_LABELS
from workflow.web.proposals.blueprint import bp
from workflow.web.proposals.versions import definition_of
from workflow.web.state import web


@bp.get("/proposals/<key>")
@login_required
def proposal_page(key: str) -> str:
    """The proposal's page."""
    w = web()
    detail = reads.detail(w.runtime, key)
    definition = definition_of(detail)
    options = reads.triggers(w.runtime, key, g.actor, w.now())
    history = reads.history(w.runtime, key)
    return render_template(
        "proposals/proposal.html",
        p=detail,
        history=history,
        timeline=_timeline(definition, detail["state"], history),
        deadlines=reads.open_deadlines(w.runtime, w.now(), lead=detail["lead"], key=key),
        rungs=open_rungs_of(w.runtime.store, key),
        notices=reads.notices_of(w.runtime, key),
        options=[_option_view(definition, o) for o in options],
        read_only=role() == "auditor",
        may_fund=may("add_funding", detail, definition),
        may_state=may("record_statement", detail, definition)
        and detail["state"] in definition.statement_states,
        documents=list_documents(w.runtime.store, key),
        handlungsfeld=definition.handlungsfelder.get(detail["handlungsfeld"], ""),
        reported=next((e for e in reversed(history) if e["trigger"] == "report_progress"), None),
        may_attach=may("attach_document", detail, definition),
        sources=SOURCE_LABELS,
        groups=GROUP_LABELS,
        positions=POSITION_LABELS,
    )


def _timeline(definition: Definition, state: str, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The phases of the process with the current one, and the states the proposal entered
    with their times (from its history)."""
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


def _option_view(definition: Definition, option: Mapping[str, Any]) -> dict[str, Any]:
    """A trigger for the page: open its form unless something other than input blocks it."""
    # what blocks it other than input the form asks for, in German
    blocking = [r for r in option["blocked_by_de"] if not r.startswith("Es fehlt: ")]
    fields = definition.fields
    asks = [fields[r].label if r in fields else "Kommentar" for r in option["requires"]]
    return {**option, "blocking": blocking, "openable": not blocking, "asks": asks}
