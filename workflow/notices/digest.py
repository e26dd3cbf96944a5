"""The weekly digest per ministry (Decidim style): one notice per ministry and week.

A digest reports on the last full week (Monday 00:00 to Monday 00:00, Europe/Berlin) before
the moment it is made: the ministry's open proposals (it leads them) grouped by state, the
transitions of that week, and the deadlines due in the next 14 days. A ministry with nothing
to report (no open proposal, no change, no deadline) gets none. The idempotency key is
``digest:<ministry>:<ISO week of the reported week>``, so making the digest twice, or in two
processes, gives one notice per ministry.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from workflow.access.directory import Directory
from workflow.engine.definitions import Machines
from workflow.notices.context import ministry_recipients
from workflow.notices.outbox import Notice, enqueue
from workflow.process.calendar import end_of_local_day, local_date
from workflow.process.deadline_rules import rule_of
from workflow.process.notices import event_routing
from workflow.process.vocabulary import BERLIN
from workflow.store import digest as digest_store
from workflow.store import repo
from workflow.store.db import Connection, Store

log = logging.getLogger("ruhrflow.digest")

UPCOMING = timedelta(days=14)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class DigestResult:
    """What one digest run did."""

    week: str
    enqueued: list[str] = field(default_factory=list)  # ministry codes
    existing: list[str] = field(default_factory=list)  # made before (same key)
    nothing_to_report: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {"week": self.week, "enqueued": self.enqueued, "existing": self.existing,
                "nothing_to_report": self.nothing_to_report}  # fmt: skip


def reported_week(now: datetime) -> tuple[datetime, datetime]:
    """The last full local week before ``now``: (Monday 00:00, next Monday 00:00), aware UTC."""
    local = now.astimezone(BERLIN)
    this_monday = local.date() - timedelta(days=local.weekday())
    start_day = this_monday - timedelta(days=7)
    start = datetime.combine(start_day, time(0), tzinfo=BERLIN)
    end = datetime.combine(this_monday, time(0), tzinfo=BERLIN)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_label(start: datetime) -> str:
    """ISO week of a moment in Berlin, e.g. ``2019-W45``."""
    year, week, _ = start.astimezone(BERLIN).isocalendar()
    return f"{year}-W{week:02d}"


def digest_due(now: datetime, day: str = "mon", at: time = time(7, 0)) -> bool:
    """True when this week's digest moment (``day`` at ``at``, Berlin) has come."""
    local = now.astimezone(BERLIN)
    monday = local.date() - timedelta(days=local.weekday())
    moment = datetime.combine(monday + timedelta(days=DAYS.index(day)), at, tzinfo=BERLIN)
    return local >= moment


def make_digests(
    store: Store, definitions: Machines, directory: Directory, now: datetime, *, domain: str
) -> DigestResult:
    """Enqueue the digest of the last full week for every ministry with something to report.

    ``definitions`` labels states and deadlines; ``directory`` gives the ministries and
    their addresses, ``domain`` the Message-IDs' domain (the notifier's).
    """
    start, end = reported_week(now)
    result = DigestResult(week_label(start))
    with store.write() as conn:
        # The newest version declares whether there is a digest (its `notices:` section).
        newest = repo.newest_definition(conn)
        routing = None
        if newest is not None:
            routing = event_routing(definitions.definition(conn, newest["id"]).notices, "digest")
        if routing is None:
            log.info("digest %s: the definition declares none", result.week)
            return result
        template = routing[0]
        by_lead = _open_proposals(definitions, conn)
        changes = _changes(definitions, directory, conn, start, end)
        upcoming = _upcoming(definitions, conn, now)
        for code, ministry in sorted(directory.ministries.items()):
            context = {
                "ministry": {"code": code, "name": ministry.name},
                "period": {"start": start, "end": end - timedelta(minutes=1)},
                "by_state": by_lead.get(code, []),
                "changes": changes.get(code, []),
                "upcoming": upcoming.get(code, []),
            }
            # Open proposals alone are no news: a digest needs a change or a deadline.
            if not (context["changes"] or context["upcoming"]):
                result.nothing_to_report.append(code)
                continue
            notice = Notice(
                idempotency_key=f"digest:{code}:{result.week}",
                kind=template,
                proposal_id=None,
                recipients=ministry_recipients(directory, [code]),
                context=context,
            )
            if enqueue(conn, notice, now, domain=domain) is None:
                result.existing.append(code)
            else:
                result.enqueued.append(code)
    log.info("digest %s: %d enqueued, %d existing, %d with nothing to report", result.week,
             len(result.enqueued), len(result.existing), len(result.nothing_to_report))  # fmt: skip
    return result


def _open_proposals(definitions: Machines, conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Per lead ministry: its proposals in non-final states, grouped in definition order."""
    grouped: dict[str, dict[tuple[int, str], list[dict[str, str]]]] = defaultdict(dict)
    order: dict[tuple[int, str], tuple[int, str]] = {}
    for r in digest_store.proposal_places(conn):
        definition = definitions.definition(conn, r["definition_id"])
        if r["state"] in definition.states and definition.is_final(r["state"]):
            continue
        states = list(definition.states)
        position = states.index(r["state"]) if r["state"] in states else len(states)
        slot = (position, r["state"])
        order[slot] = (position, definition.state_label(r["state"]))
        grouped[r["lead"]].setdefault(slot, []).append({"key": r["key"], "title": r["title"]})
    return {
        lead: [
            {"state_label": order[slot][1], "proposals": items}
            for slot, items in sorted(groups.items())
        ]
        for lead, groups in grouped.items()
    }


def _changes(
    definitions: Machines, directory: Directory, conn: Connection, start: datetime, end: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Per lead ministry: the transitions recorded in [start, end), oldest first."""
    rows = digest_store.transitions_between(conn, start, end)
    actors = repo.actor_ids(conn, {r["actor_ref"] for r in rows})
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        definition = definitions.definition(conn, r["definition_id"])
        transition = next((t for t in definition.transitions if t.trigger == r["trigger"]), None)
        actor_id = actors.get(r["actor_ref"], r["actor_ref"])
        actor = directory.actors.get(actor_id)
        result[r["lead"]].append(
            {
                "key": r["chain"],
                "title": r["title"],
                "trigger_label": transition.label if transition else r["trigger"],
                "to_label": definition.state_label(r["to_state"]),
                "at": r["at"],
                "actor_name": actor.name if actor else actor_id,
            }
        )
    return result


def _upcoming(
    definitions: Machines, conn: Connection, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Per lead ministry: open deadlines of current states due from now to the 14th day."""
    until = end_of_local_day(local_date(now) + UPCOMING)
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in digest_store.deadlines_due_between(conn, now, until):
        definition = definitions.definition(conn, r["definition_id"])
        rule = rule_of(definition, r["kind"])
        result[r["lead"]].append(
            {
                "key": r["key"],
                "title": r["title"],
                "label": rule.label if rule else r["kind"],
                "due_at": r["due_at"],
            }
        )
    return result
