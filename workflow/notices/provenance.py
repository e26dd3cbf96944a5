"""Defence in depth for mail: the delivery worker sends only notices the engine wrote (#24.4).

The outbox is a table; whoever can write it could have the coordination office mail any text
to any address, with the office's sender. The database grants keep people out of it
(:mod:`workflow.access.grants`); this check is the second line, for a row that got past them
(a service login misused, an owner's hand edit, a restored dump). Before a claimed notice is
rendered, :meth:`Provenance.refusal` checks that

- its idempotency key is one the engine makes, and refers to what caused it: a history entry
  of the notice's proposal (``transition:KEY:SEQ:TEMPLATE``; ``deadline-rung:ID``, the rung's
  ``reminder``/``escalation`` entry; ``deadline-moved:ID:SEQ``, the ``deadline_moved`` entry),
  or, for the weekly digest (``digest:CODE:WEEK``, no proposal), a ministry of the directory;
- its template is the one the proposal's definition declares for that event;
- every recipient is one the definition's roles and the directory give for it (a subset: the
  engine leaves out invalid addresses when it enqueues).

Anything else is refused with a reason; the worker marks the row ``failed`` with it and sends
nothing. Recipients are compared by address with the directory *now*: a notice enqueued before
a ministry's address changed is refused rather than sent to the old address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.access.directory import Directory
from workflow.engine.definitions import Machines
from workflow.errors import WorkflowError
from workflow.notices.context import ministry_recipients, role_recipients
from workflow.notices.events import NO_NOTICE_TRIGGERS
from workflow.process.definition import Definition
from workflow.process.notices import event_routing, transition_routing
from workflow.store import provenance as store
from workflow.store.db import Connection

MOVED = "deadline_moved"  # the history and notice kind of workflow.deadlines.move


def _data(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """A history entry's data (an object, as the engine writes it; anything else is empty)."""
    data = entry["data"]
    return data if isinstance(data, Mapping) else {}


@dataclass
class Provenance:
    """The check, with the directory and the definitions it compares against."""

    directory: Directory
    machines: Machines = field(default_factory=Machines)

    def __call__(self, conn: Connection, row: Mapping[str, Any]) -> str | None:
        return self.refusal(conn, row)

    def refusal(self, conn: Connection, row: Mapping[str, Any]) -> str | None:
        """None for a notice the engine wrote, else why it must not be sent (one line)."""
        key = str(row["idempotency_key"])
        kind, _, rest = key.partition(":")
        try:
            if kind == "digest":
                return self._digest(conn, row, rest)
            proposal = self._proposal(conn, row)
            if isinstance(proposal, str):
                return proposal
            definition = self.machines.definition(conn, int(proposal["definition_id"]))
            if kind == "transition":
                found = self._transition(conn, row, proposal, definition, rest)
            elif kind == "deadline-rung":
                found = self._rung(conn, row, proposal, definition, rest)
            elif kind == "deadline-moved":
                found = self._moved(conn, row, proposal, definition, rest)
            else:
                return f"the key {key!r} is none the engine makes"
            if isinstance(found, str):
                return found
            return self._recipients(row, role_recipients(self.directory, found, proposal))
        except (ValueError, WorkflowError) as exc:
            return f"cannot check the key {key!r}: {exc}"
        except (AttributeError, KeyError, TypeError) as exc:  # a damaged row or entry
            return f"cannot check the key {key!r}: {type(exc).__name__}: {exc}"

    # --- the causes ------------------------------------------------------------------------

    def _proposal(self, conn: Connection, row: Mapping[str, Any]) -> Mapping[str, Any] | str:
        if row["proposal_id"] is None:
            return "a notice of a proposal without its proposal"
        found = store.proposal_by_id(conn, row["proposal_id"])
        return found if found is not None else f"no proposal {row['proposal_id']}"

    def _entries(self, conn: Connection, chain: str, **where: Any) -> list[dict[str, Any]]:
        return store.history_entries(conn, chain, **where)

    def _transition(
        self,
        conn: Connection,
        row: Mapping[str, Any],
        proposal: Mapping[str, Any],
        definition: Definition,
        rest: str,
    ) -> tuple[str, ...] | str:
        chain, seq, template = rest.rsplit(":", 2)
        if chain != proposal["key"]:
            return f"the key names {chain!r}, the notice is of {proposal['key']}"
        if template != row["kind"]:
            return f"the key names the template {template!r}, the notice is {row['kind']!r}"
        entries = self._entries(conn, chain, seq=int(seq))
        if not entries:
            return f"no history entry {chain}:{seq} caused it"
        entry = entries[0]
        if entry["trigger"] in NO_NOTICE_TRIGGERS or entry["kind"] == "migration":
            return f"the engine sends no notice for {entry['trigger']!r} ({chain}:{seq})"
        routing = transition_routing(
            definition.notices, str(entry["trigger"]), entry["from_state"], entry["to_state"]
        )
        roles = [r for t, r in routing if t == template]
        if not roles:
            return f"the definition sends no {template!r} for {entry['trigger']!r} ({chain}:{seq})"
        return roles[0]

    def _rung(
        self,
        conn: Connection,
        row: Mapping[str, Any],
        proposal: Mapping[str, Any],
        definition: Definition,
        rest: str,
    ) -> tuple[str, ...] | str:
        rung = store.rung_with_deadline(conn, int(rest))
        if rung is None or rung["proposal_id"] != proposal["id"]:
            return f"no deadline rung {rest} of {proposal['key']}"
        if rung["fired_at"] is None:
            return f"the rung {rest} of {proposal['key']} has not fired"
        trigger = f"{rung['deadline']}.{rung['rung']}"
        fire_at = rung["fire_at"].isoformat()
        entries = [
            e
            for e in self._entries(conn, str(proposal["key"]), trigger=trigger)
            if e["kind"] in ("reminder", "escalation") and _data(e).get("fire_at") == fire_at
        ]
        if not entries:
            return f"no history entry of {proposal['key']} records the rung {rest}"
        entry = entries[-1]
        template, declared = event_routing(definition.notices, str(entry["kind"])) or (
            str(entry["kind"]),
            (),
        )
        if template != row["kind"]:
            return f"the definition sends {template!r} for this rung, the notice is {row['kind']!r}"
        return (*declared, *(_data(entry).get("recipients") or ()))

    def _moved(
        self,
        conn: Connection,
        row: Mapping[str, Any],
        proposal: Mapping[str, Any],
        definition: Definition,
        rest: str,
    ) -> tuple[str, ...] | str:
        from workflow.process.deadline_rules import rule_of

        deadline_id, _, sequence = rest.partition(":")
        deadline = store.deadline_row(conn, int(deadline_id))
        if deadline is None or deadline["proposal_id"] != proposal["id"]:
            return f"no deadline {deadline_id} of {proposal['key']}"
        if row["kind"] != MOVED:
            return f"a moved deadline's notice is {MOVED!r}, not {row['kind']!r}"
        entries = [
            e
            for e in self._entries(conn, str(proposal["key"]), kind=MOVED)
            if _data(e).get("deadline") == deadline["kind"]
            and str(_data(e).get("sequence")) == sequence
        ]
        if not entries:
            return f"no history entry of {proposal['key']} moved the deadline {deadline_id}"
        rule = rule_of(definition, str(deadline["kind"]))
        reminded = tuple(r for rung in rule.rungs for r in rung.recipients) if rule else ()
        return ("lead_ministry", "coordinator", *reminded)

    def _digest(self, conn: Connection, row: Mapping[str, Any], rest: str) -> str | None:
        code, _, _week = rest.partition(":")
        if row["proposal_id"] is not None:
            return "a digest belongs to no proposal"
        if code not in self.directory.ministries:
            return f"no ministry {code!r} in the directory gets a digest"
        return self._recipients(row, ministry_recipients(self.directory, [code]))

    # --- whom it goes to -------------------------------------------------------------------

    def _recipients(self, row: Mapping[str, Any], expected: list[Any]) -> str | None:
        allowed = {r.address.lower() for r in expected}
        raw = row["recipients"]
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            return "the recipients are not a list of names and addresses"
        stored = [str(r.get("address", "")) for r in raw]
        if not stored:
            return "the notice has no recipient"
        strangers = [a for a in stored if a.lower() not in allowed]
        if strangers:
            return (
                f"{', '.join(strangers[:3])} {'is' if len(strangers) == 1 else 'are'} not among"
                " the recipients the definition and the directory give for it"
            )
        return None
