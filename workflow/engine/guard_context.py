"""What guards see of a proposal inside a transaction, read lazily from the database.

The SQL is in :mod:`workflow.store.guards`.

The in-memory twin, for tests and previews, is :class:`workflow.process.guards.MemoryGuardContext`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from workflow.access.directory import Directory
from workflow.store import guards as store
from workflow.store.db import Connection


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
        return store.statement_groups(self._conn, self._row["id"])

    def secured_funding(self) -> Decimal:
        return store.secured_funding(self._conn, self._row["id"])

    def deadline_passed(self, kind: str) -> bool:
        return store.deadline_passed(
            self._conn, self._row["id"], self._row["state"], kind, self._now
        )

    def ministry_known(self, code: str) -> bool:
        return self._directory.ministry(code) is not None
