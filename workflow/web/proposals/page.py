"""One proposal's page: its data, timeline, history, deadlines, notices, documents and what
the logged-in account may do next — all from the proposal's registered definition version."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from flask import g, render_template, request

from workflow.deadlines.queries import open_rungs_of
from workflow.documents.attach import list_documents
from workflow.process.definition import Definition
from workflow.process.german import DASH, EDITED_FIELDS, datum, euro, rung_words, wert
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
    notices = reads.notices_of(w.runtime, key)
    shown_notices, notices_page, notice_pages = _paged(notices, request.args.get("mitteilungen"))
    return render_template(
        "proposals/proposal.html",
        p=detail,
        history=[
            {**e, "details": entry_details(definition, e)}
            for e in history
            if e.get("kind") not in DELIVERY
        ],
        deliveries=[e for e in history if e.get("kind") in DELIVERY],
        timeline=_timeline(definition, detail["state"], history),
        deadlines=reads.open_deadlines(w.runtime, w.now(), lead=detail["lead"], key=key),
        rungs=open_rungs_of(w.runtime.store, key),
        rung_words=rung_words,
        notices=shown_notices,
        notices_page=notices_page,
        notice_pages=notice_pages,
        options=[_option_view(definition, o) for o in options],
        read_only=role() == "auditor",
        may_fund=may("add_funding", detail),
        may_state=may("record_statement", detail)
        and detail["state"] in definition.statement_states,
        documents=list_documents(w.runtime.store, key),
        handlungsfeld=definition.handlungsfelder.get(detail["handlungsfeld"], ""),
        reported=next((e for e in reversed(history) if e["trigger"] == "report_progress"), None),
        may_attach=may("attach_document", detail),
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
    kinds = option["blocked_kinds"]
    blocking = [r for r, k in zip(option["blocked_by_de"], kinds, strict=True) if k != "missing"]
    fields = definition.fields
    asks = [fields[r].label if r in fields else "Kommentar" for r in option["requires"]]
    return {**option, "blocking": blocking, "openable": not blocking, "asks": asks}


DELIVERY = frozenset({"notice_sent", "notice_failed"})
"""History entries of the mail delivery: shown collapsed, apart from what was done."""
NOTICES_SHOWN = 10  # notices on a page of the proposal's page


def _paged(rows: list[Any], raw: str | None) -> tuple[list[Any], int, int]:
    """The page ``raw`` (a query parameter; the first when it is no page) of ``rows``, its
    number and the number of pages."""
    pages = max(1, -(-len(rows) // NOTICES_SHOWN))
    number = min(max(1, reads.query_number(raw) or 1), pages)
    return rows[(number - 1) * NOTICES_SHOWN : number * NOTICES_SHOWN], number, pages


def entry_details(definition: Definition, entry: Mapping[str, Any]) -> list[str]:
    """The values a history entry records, in German: the fields a transition set
    (``Datum des Beschlusses: 05.11.2019``) and the old and new value of each field an edit
    changed (``Kostenschätzung: 1.000 € → 2.500 €``)."""
    data = entry.get("data")
    if not isinstance(data, Mapping):
        return []
    details = []
    fields = data.get("fields")
    if isinstance(fields, Mapping):
        for name, value in fields.items():
            field = definition.fields.get(name)
            label = field.label if field is not None else name
            details.append(f"{label}: {_field_value(field.type if field else '', value)}")
    changes = data.get("changes")
    if isinstance(changes, Mapping):
        for name, change in changes.items():
            if isinstance(change, Mapping):
                old = _edited_value(definition, name, change.get("old"))
                new = _edited_value(definition, name, change.get("new"))
                details.append(f"{EDITED_FIELDS.get(name, name)}: {old} → {new}")
    return details


def _field_value(kind: str, value: Any) -> str:
    try:
        if kind == "date" and isinstance(value, str):
            return datum(date.fromisoformat(value))
        if kind == "decimal" and value is not None:
            return euro(Decimal(str(value)))
    except (ValueError, ArithmeticError):
        pass  # a value an older release recorded otherwise: shown as it is
    return wert(value)


def _edited_value(definition: Definition, name: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return DASH
    try:
        if name == "cost_estimate":
            return euro(Decimal(str(value)))
    except ArithmeticError:
        return str(value)
    if name == "participating" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if name == "handlungsfeld" and value in definition.handlungsfelder:
        return f"{value} – {definition.handlungsfelder[value]}"
    return str(value)
