"""What guards see of a proposal inside a transaction, read lazily from the database.

The in-memory twin, for tests and previews, is :class:`workflow.process.guards.MemoryGuardContext`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from workflow.access.directory import Directory
from workflow.process.deadline_rules import OPEN
from workflow.store.schema import deadlines, funding, statements


class DbGuardContext:
    """What guards see of one proposal, read lazily from the open transaction."""

    def __init__(
        self,
        conn: Connection,
        row: Mapping[Any, Any],
        fields: Mapping[Any, Any],
        now: datetime,
        directory: Directory,
    ) -> None:
        self._conn = conn
        self._row = row
        self._fields = fields
        self._now = now
        self._directory = directory

    @property
    def proposal(self) -> Mapping[Any, Any]:
        return self._row

    @property
    def fields(self) -> Mapping[Any, Any]:
        return self._fields

    @property
    def now(self) -> datetime:
        return self._now

    def statement_groups(self) -> frozenset[str]:
        stmt = (
            select(statements.c.party_group)
            .distinct()
            .where(statements.c.proposal_id == self._row["id"])
        )
        return frozenset(self._conn.execute(stmt).scalars())

    def secured_funding(self) -> Decimal:
        stmt = select(func.coalesce(func.sum(funding.c.amount), 0)).where(
            funding.c.proposal_id == self._row["id"], funding.c.status == "secured"
        )
        return Decimal(self._conn.execute(stmt).scalar_one())

    def deadline_passed(self, kind: str) -> bool:
        stmt = select(deadlines.c.id).where(
            deadlines.c.proposal_id == self._row["id"],
            deadlines.c.kind == kind,
            deadlines.c.state == self._row["state"],
            deadlines.c.status == OPEN,
            deadlines.c.due_at <= self._now,
        )
        return self._conn.execute(stmt.limit(1)).first() is not None

    def ministry_known(self, code: str) -> bool:
        return self._directory.ministry(code) is not None
