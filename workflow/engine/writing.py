"""The write step of the engine's unit of work: planned changes become rows and history.

Every command the engine runs — a transition, a migration, a recorded event — ends in
:func:`write_plans`: one UPDATE per proposal (state, definition version, row version, chain
head), checked against the row version read at the start, and one hash-chained history entry
each. What a command refuses leaves one line in the refusal log (:func:`log_refusal`).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.engine import history
from workflow.engine.changes import Applied, applied
from workflow.errors import ConcurrentUpdate, WorkflowError
from workflow.process.definition import Definition, TransitionDef
from workflow.store import repo
from workflow.store.db import Connection

log = logging.getLogger("ruhrflow.engine")


@dataclass
class Plan:
    """One planned change of one proposal: where it goes and what its history entry says."""

    row: Mapping[Any, Any]
    definition: Definition
    transition: TransitionDef | None
    trigger: str
    to_state: str
    fields: dict[str, Any]
    comment: str | None
    kind: str = "transition"
    data: dict[str, Any] = field(default_factory=dict)
    # a migration moves the proposal to another definition version (``definition`` is its)
    definition_id: int | None = None


def write_plans(
    conn: Connection,
    plans: Sequence[Plan],
    *,
    actor_id: str,
    ref: str,
    now: datetime,
    audit_key: bytes | None,
) -> list[Applied]:
    """Write ``plans`` in the caller's transaction: each proposal's new values and its next
    history entry (actor ``ref``, hash keyed by ``audit_key``); returns what was applied.

    Raises :class:`~workflow.errors.ConcurrentUpdate` when a proposal's row version changed
    since it was read (somebody committed in between).
    """
    updates: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    done: list[Applied] = []
    for plan in plans:
        row = plan.row
        seq = row["history_seq"] + 1
        entry = history.new_entry(
            chain=row["key"],
            seq=seq,
            kind=plan.kind,
            trigger=plan.trigger,
            from_state=row["state"],
            to_state=plan.to_state,
            actor_ref=ref,
            comment=plan.comment,
            data={"fields": plan.fields, **plan.data} if plan.fields else plan.data,
            at=now,
            prev_hash=row["history_head"],
            audit_key=audit_key,
        )
        entries.append(entry)
        entered = now if plan.to_state != row["state"] else row["state_entered_at"]
        new_values = {
            "state": plan.to_state,
            "definition_id": plan.definition_id or row["definition_id"],
            "row_version": row["row_version"] + 1,
            "state_entered_at": entered,
            "updated_at": now,
            "data": {**row["data"], **plan.fields},
            "history_seq": seq,
            "history_head": entry["hash"],
        }
        updates.append({"p_id": row["id"], "p_v": row["row_version"], **new_values})
        done.append(
            applied(
                key=row["key"],
                proposal_id=row["id"],
                trigger=plan.trigger,
                from_state=row["state"],
                to_state=plan.to_state,
                actor=actor_id,
                comment=plan.comment,
                fields=plan.fields,
                seq=seq,
                at=now,
                definition=plan.definition,
                transition=plan.transition,
                proposal={**row, **new_values},
                kind=plan.kind,
            )
        )
    matched = history.write(conn, updates, entries)
    if matched != len(updates):
        # Somebody committed a change between our read and our write.
        for plan in plans:
            current = repo.load_proposal(conn, plan.row["key"])
            if current is None or current["row_version"] != plan.row["row_version"]:
                raise concurrent_update(conn, plan.row["key"])
        raise ConcurrentUpdate(plans[0].row["key"], None, None, plans[0].row["state"])
    return done


def concurrent_update(conn: Connection, key: str) -> ConcurrentUpdate:
    """The error for a proposal changed by somebody else: who did, when, and its state now."""
    current = repo.load_proposal(conn, key)
    last = repo.last_entry(conn, key)
    return ConcurrentUpdate(
        key,
        last["actor_id"] if last else None,
        last["at"] if last else None,
        current["state"] if current else "?",
    )


def last_change(conn: Connection, key: str) -> str | None:
    """``last change: TRIGGER by ACTOR at TIME`` of ``key`` (None without history)."""
    last = repo.last_entry(conn, key)
    if last is None:
        return None
    when = last["at"].isoformat(timespec="seconds")
    return f"last change: {last['trigger']} by {last['actor_id']} at {when}"


def log_refusal(actor: str, trigger: str, key: str | None, exc: WorkflowError) -> None:
    """Every refusal leaves one log line (logger ``ruhrflow.engine``), forgery-proof:
    control characters in user-given values are escaped, so no fake line is injected."""
    reason = str(exc)
    log.warning(
        "refused: actor=%s trigger=%s proposal=%s reason=%s",
        _one_line(actor),
        _one_line(trigger),
        _one_line(key or "-"),
        _one_line(reason),
        extra={"actor": actor, "trigger": trigger, "proposal": key, "reason": reason},
    )


def _one_line(text: str) -> str:
    """``text`` with every non-printable character (CR, LF, U+2028, …) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


@contextmanager
def gc_paused(pause: bool) -> Iterator[None]:
    """No cyclic garbage collection while a bulk transition runs (``pause``).

    A bulk advance holds every row, plan, history entry and notice of its batch until it
    commits; the collector scanned them again and again — a fifth of a 10,000-proposal
    advance (bench/). Reference counting still frees what is dropped; whatever cycles arise
    (an exception's traceback) wait until collection resumes right afterwards, also after a
    failure. Process-wide, for the duration of one transaction.
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
