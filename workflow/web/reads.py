"""What the web pages show: the CLI's read models, filtered, sorted and paged for a browser.

The JSON of ``proposal show``, ``triggers`` and ``history`` comes from the CLI's own
functions, and list rows from the same ``proposal_summary`` as ``proposal list``, so the web
and the CLI cannot drift apart. The list filters, sorts and pages in the database, so a page
costs the same at 10,000 and at 100,000 proposals. Engine modules outside the top-level
``workflow`` package are imported here only, inside the functions, so that moving them
touches this one file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from workflow import Runtime
from workflow.app.reads import history_rows, show_detail, trigger_rows
from workflow.store.schema import outbox, proposals

SORTS = {
    "key": "Schlüssel",
    "title": "Titel",
    "state": "Status",
    "lead": "Federführung",
    "updated_at": "Letzte Änderung",
}
PAGE_SIZE = 50


@dataclass(frozen=True)
class ListQuery:
    """The filters, sort and page of the proposal list (from the query string)."""

    state: str | None = None
    handlungsfeld: int | None = None
    themenforum: int | None = None
    lead: str | None = None
    q: str | None = None
    sort: str = "key"
    descending: bool = False
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListQuery:
        """Parse a query string leniently: an unusable value is ignored, not an error."""

        def number(name: str) -> int | None:
            value = (args.get(name) or "").strip()
            return int(value) if value.isdigit() else None

        def text(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            return value[:200] or None

        sort = args.get("sort") or "key"
        return cls(
            state=text("state"),
            handlungsfeld=number("handlungsfeld"),
            themenforum=number("themenforum"),
            lead=text("lead"),
            q=text("q"),
            sort=sort if sort in SORTS else "key",
            descending=args.get("order") == "desc",
            page=max(1, number("page") or 1),
        )

    def args(self, **override: Any) -> dict[str, Any]:
        """The query string of this query (with ``override``), without empty values."""
        values = {
            "state": self.state,
            "handlungsfeld": self.handlungsfeld,
            "themenforum": self.themenforum,
            "lead": self.lead,
            "q": self.q,
            "sort": None if self.sort == "key" else self.sort,
            "order": "desc" if self.descending else None,
            "page": None if self.page == 1 else self.page,
        }
        values.update(override)
        return {k: v for k, v in values.items() if v is not None}


def _filtered(query: ListQuery) -> Any:
    """The proposals matching ``query``'s filters, as a SELECT (no order, no page)."""
    stmt = select(proposals)
    c = proposals.c
    if query.state is not None:
        stmt = stmt.where(c.state == query.state)
    if query.handlungsfeld is not None:
        stmt = stmt.where(c.handlungsfeld == query.handlungsfeld)
    if query.themenforum is not None:
        stmt = stmt.where(c.themenforum == query.themenforum)
    if query.lead is not None:
        stmt = stmt.where(c.lead == query.lead)
    if query.q:
        needle = query.q.lower()
        stmt = stmt.where(
            or_(
                func.lower(c.key).contains(needle, autoescape=True),
                func.lower(c.title).contains(needle, autoescape=True),
            )
        )
    return stmt


def _ordered(stmt: Any, query: ListQuery) -> Any:
    column = proposals.c[query.sort]
    first = column.desc() if query.descending else column.asc()
    return stmt.order_by(first, proposals.c.key.desc() if query.descending else proposals.c.key)


def proposal_rows(runtime: Runtime, query: ListQuery) -> list[dict[str, Any]]:
    """Every proposal matching ``query``, sorted: the rows of ``proposal list --format json``."""
    from workflow.engine.records import proposal_summary
    from workflow.store.repo import definition_versions

    with runtime.store.read() as conn:
        versions = definition_versions(conn)
        rows = conn.execute(_ordered(_filtered(query), query)).mappings()
        return [proposal_summary(r, versions) for r in rows]


def proposal_page(
    runtime: Runtime, query: ListQuery, size: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], int, int, int]:
    """One page of the list, paged in the database: (rows, total, page, pages)."""
    from workflow.engine.records import proposal_summary
    from workflow.store.repo import definition_versions

    filtered = _filtered(query)
    with runtime.store.read() as conn:
        total = conn.execute(select(func.count()).select_from(filtered.subquery())).scalar_one()
        pages = max(1, -(-total // size))
        page = min(query.page, pages)
        stmt = _ordered(filtered, query).limit(size).offset((page - 1) * size)
        versions = definition_versions(conn)
        rows = [proposal_summary(r, versions) for r in conn.execute(stmt).mappings()]
    return rows, int(total), page, pages


def detail(runtime: Runtime, key: str) -> dict[str, Any]:
    """``proposal show --format json``."""
    return show_detail(runtime, key)


def history(runtime: Runtime, key: str) -> list[dict[str, Any]]:
    """``history --format json``."""
    return history_rows(runtime, key)


def triggers(
    runtime: Runtime,
    key: str,
    actor: str,
    now: datetime,
    fields: Mapping[str, Any] | None = None,
    comment: str | None = None,
) -> list[dict[str, Any]]:
    """``triggers --format json`` for ``actor``."""
    options = runtime.engine.triggers(key, actor=actor, now=now, fields=fields, comment=comment)
    return trigger_rows(options)


def open_deadlines(
    runtime: Runtime,
    now: datetime,
    *,
    lead: str | None = None,
    key: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Open deadlines (``ruhrflow deadlines``): overdue first, then due soonest (soonest
    first is both: an overdue deadline was due before any that is not)."""
    from workflow.deadlines.queries import list_open_deadlines

    return list_open_deadlines(
        runtime.store, runtime.engine.machines, now, lead=lead, key=key, limit=limit
    )


def notices_of(runtime: Runtime, key: str) -> list[dict[str, Any]]:
    """The notices of one proposal with their delivery status, newest first."""
    stmt = (
        select(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.recipients,
            outbox.c.subject,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.last_error,
            outbox.c.created_at,
            outbox.c.sent_at,
        )
        .join(proposals, proposals.c.id == outbox.c.proposal_id)
        .where(proposals.c.key == key)
        .order_by(outbox.c.id.desc())
    )
    with runtime.store.read() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
    for r in rows:
        r["to"] = [x.get("address", "") for x in r.pop("recipients") or []]
    return rows


def audit_entries(
    runtime: Runtime,
    *,
    key: str | None,
    actor: str | None,
    trigger: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Iterator[dict[str, Any]]:
    """``audit log`` entries, oldest first (streamed)."""
    from workflow.audit.log import audit_log

    with runtime.store.read() as conn:
        yield from audit_log(conn, key=key, since=since, until=until, actor=actor, trigger=trigger)


def export_history(runtime: Runtime, out: Any, fmt: str, now: datetime) -> None:
    """``audit export`` into ``out``."""
    from workflow.audit.export import export_history as export

    export(runtime.store, out, fmt=fmt, keyed=runtime.engine.audit_key is not None, now=now)
