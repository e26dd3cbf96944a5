"""The audit pages (auditors and coordinators): the history with filters, the verification of
every chain, checkpoints, and the export. Templates: ``templates/audit/``."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from workflow.audit.checkpoint import recorded_checkpoints, take_checkpoint
from workflow.audit.export import export_history
from workflow.audit.log import audit_log
from workflow.audit.verify import last_verification, record_verification, verify_store
from workflow.process.definition import Definition
from workflow.process.german import ENTRY_KINDS
from workflow.process.vocabulary import BERLIN
from workflow.web import reads
from workflow.web.pages import login_required, require_role
from workflow.web.state import web

log = logging.getLogger("workflow.web")
bp = Blueprint("audit", __name__)
PAGE_SIZE = 50  # history entries on a page


def _day(text: str | None, *, end: bool) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None
    if end:
        day = day + timedelta(days=1)
    return datetime.combine(day, time(0), BERLIN).astimezone(UTC)


def _action_filter(action: str) -> dict[str, str | None]:
    """The filter of the chosen action: ``kind:created`` an entry kind, else a trigger (a
    transition's or a rung's, ``consultation.remind-7d``)."""
    if action.startswith("kind:"):
        return {"kind": action.removeprefix("kind:") or None, "trigger": None}
    return {"kind": None, "trigger": action or None}


def _actions(definition: Definition) -> list[tuple[str, list[tuple[str, str]]]]:
    """The action filter's choices in German, grouped: the steps of the process, the rungs of
    its deadlines, the other entries by their kinds."""
    labels = definition.action_labels()
    steps = {t.trigger for t in definition.transitions}
    return [
        ("Schritte", [(t, label) for t, label in labels.items() if t in steps]),
        ("Erinnerungen und Eskalationen", [(t, la) for t, la in labels.items() if t not in steps]),
        ("Weitere Einträge", [(f"kind:{kind}", label) for kind, label in ENTRY_KINDS.items()]),
    ]


@bp.get("/audit")
@login_required
def page() -> Any:
    """The history, newest first and a page at a time, filtered by proposal, actor, action
    (``action``: German labels; ``trigger``: the id, as ``audit log --trigger`` takes it) and
    days (Berlin time). Plain links page through it: no JavaScript needed."""
    require_role("auditor", "coordinator")
    w = web()
    args = request.args
    action = (args.get("action") or "").strip()
    by_action = _action_filter(action)
    filters = {
        "key": (args.get("key") or "").strip() or None,
        "actor": (args.get("actor") or "").strip() or None,
        "trigger": by_action["trigger"] or (args.get("trigger") or "").strip() or None,
        "kind": by_action["kind"],
    }
    since, until = _day(args.get("since"), end=False), _day(args.get("until"), end=True)
    number = max(1, reads.query_number(args.get("page")) or 1)
    with w.runtime.store.read() as conn:
        found = list(
            audit_log(conn, since=since, until=until, newest_first=True,
                      offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1, **filters)
        )  # fmt: skip
    kept: dict[str, Any] = {name: value for name, value in args.items() if name != "page" and value}
    return render_template(
        "audit/audit.html",
        entries=found[:PAGE_SIZE],
        page=number,
        newer=url_for("audit.page", **kept, page=number - 1) if number > 1 else None,
        older=url_for("audit.page", **kept, page=number + 1) if len(found) > PAGE_SIZE else None,
        actions=_actions(w.definition),
        action=action,
        filters={**filters, "since": args.get("since", ""), "until": args.get("until", "")},
        verification=last_verification(w.runtime.store),
        checkpoints=recorded_checkpoints(w.runtime.store, limit=20),
    )


@bp.post("/audit/verify")
@login_required
def verify() -> Response:
    """Re-compute every chain now and record the result on ``@system`` (``audit verify
    --record``): an act of audit, not a change to a proposal, so auditors may do it."""
    require_role("auditor", "coordinator")
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
    return redirect(url_for("audit.page"))


@bp.post("/audit/checkpoint")
@login_required
def checkpoint() -> Response:
    """Record a checkpoint (``audit checkpoint``); its digest is shown to be kept elsewhere."""
    require_role("auditor", "coordinator")
    w = web()
    rt = w.runtime
    cp = take_checkpoint(rt.store, audit_key=rt.settings.audit_key, actor_id=g.actor, now=w.now())
    log.info("audit checkpoint by %s: %s", g.actor, cp.digest)
    flash(f"Checkpoint gesetzt: {cp.digest} — bitte außerhalb der Datenbank aufbewahren.")
    return redirect(url_for("audit.page"))


@bp.get("/audit/export")
@login_required
def export() -> Response:
    """The whole history as a file (JSON lines or CSV), as ``ruhrflow audit export`` writes
    it; ``excel=1`` as its ``--excel`` (German Excel: ``;`` and a byte order mark), which
    ``audit verify --file`` checks as well."""
    require_role("auditor", "coordinator")
    fmt = "csv" if request.args.get("format") == "csv" else "jsonl"
    excel = fmt == "csv" and request.args.get("excel") == "1"
    w = web()
    out = io.StringIO()
    export_history(w.runtime.store, out, fmt=fmt, keyed=w.runtime.settings.audit_key is not None,
                   now=w.now(), delimiter=";" if excel else ",", bom=excel)  # fmt: skip
    log.info("audit export (%s%s) by %s", fmt, ", excel" if excel else "", g.actor)
    response = Response(
        out.getvalue(), mimetype="text/csv" if fmt == "csv" else "application/jsonl"
    )
    response.headers["Content-Disposition"] = f"attachment; filename=historie.{fmt}"
    return response
