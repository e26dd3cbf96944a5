"""The hot statements of a transition, run on the SQLite driver's cursor.

A single transition on SQLite issues about ten statements, and SQLAlchemy's execution
machinery (parameter processing, execution context, result setup) costs about 100 µs per
statement — more than SQLite needs to run it (``bench/``: a single advance was 3.1× the raw
``sqlite3`` limit, the target is 3×). :class:`Direct` keeps SQLAlchemy for what it does well —
the SQL (compiled once per parameter set from the same Core statement) and the conversion
of every parameter (the same bind processors SQLAlchemy would apply: JSON, UTC datetimes) —
and hands the statement to the DBAPI cursor of the caller's connection, inside the caller's
transaction.

Only for SQLite, and only for statements without Python-side column defaults and without
expanding ``IN`` lists; what a SELECT or RETURNING gives back is converted with the result
processors SQLAlchemy would apply. Anything else (and every statement on PostgreSQL) runs
through ``Connection.execute`` as before.
Driver errors are wrapped as SQLAlchemy wraps them (``sqlalchemy.exc.DBAPIError.instance``),
so callers see the same exceptions either way. ``tests/store/test_direct.py`` checks that both
paths write the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

from workflow.store.schema import UTCDateTime

_MISSING = object()

# The stored text of the times of UTCDateTime columns, by (time, zone, fold): one
# transition writes the same ``now`` into six columns of five statements, a bulk advance
# the same few times into thousands of rows. The conversion depends on the instant only.
_TIMES: dict[tuple[Any, ...], Any] = {}
_TIMES_KEPT = 256

CHUNK = 500
"""Keys per ``IN (...)`` list, so that no backend hits its parameter limit."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    fixed: tuple[Any, ...]  # the value of a literal bind (e.g. status = 'open'), else _MISSING
    columns: tuple[str, ...]  # of a SELECT or a RETURNING
    results: tuple[Callable[[Any], Any] | None, ...]
    converting: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor)
    timed: frozenset[int]  # positions of UTCDateTime binds (converted through _TIMES)
    plain: bool  # no literal binds: every value comes from the parameters
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, result processor)


class Direct:
    """One prebuilt Core statement, run on the SQLite cursor (see the module doc)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # by (dialect, driver, parameter names): the engine's options do not change the SQL
        # or the bind processors (ruhrflow sets no JSON serializer of its own)
        self._compiled: dict[tuple[str, str, tuple[str, ...]], _Compiled | None] = {}

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled | None:
        slot = (conn.dialect.name, conn.dialect.driver, keys)
        compiled = self._compiled.get(slot, _MISSING)
        if compiled is not _MISSING:
            return compiled  # type: ignore[return-value]
        found = self._build(conn, keys)
        self._compiled[slot] = found
        return found

    def _build(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled | None:
        dialect = conn.dialect
        if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
            return None
        statement: Any = self.statement
        compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
        if (
            getattr(compiled, "insert_prefetch", None)
            or getattr(compiled, "update_prefetch", None)
            or compiled.positiontup is None
            or any(b.expanding for b in compiled.binds.values())
        ):
            return None
        if compiled.returning:
            returned = list(compiled.returning)
        elif getattr(statement, "is_select", False):
            returned = list(statement.selected_columns)
        else:
            returned = []
        names = tuple(compiled.positiontup)
        binds = [compiled.binds[n] for n in names]
        processors = tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds)
        fixed = tuple(b.value if not b.required and b.key not in keys else _MISSING for b in binds)
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in returned
        )
        return _Compiled(
            sql=compiled.string,
            names=names,
            converting=tuple((i, p) for i, p in enumerate(processors) if p is not None),
            timed=frozenset(i for i, b in enumerate(binds) if isinstance(b.type, UTCDateTime)),
            plain=all(f is _MISSING for f in fixed),
            converted=tuple((i, p) for i, p in enumerate(results) if p is not None),
            fixed=fixed,
            columns=tuple(c.name for c in returned),
            results=results,
        )

    def _row(
        self,
        compiled: _Compiled,
        params: Mapping[str, Any],
        memo: dict[tuple[Any, ...], Any] | None = None,
    ) -> tuple[Any, ...]:
        if compiled.plain:
            values = [params[name] for name in compiled.names]
        else:
            values = [
                params[name] if fixed is _MISSING else fixed
                for name, fixed in zip(compiled.names, compiled.fixed, strict=True)
            ]
        timed = compiled.timed
        for i, process in compiled.converting:
            value = values[i]
            if i in timed and value.__class__ is datetime:
                when = (value, value.tzinfo, value.fold)
                found = _TIMES.get(when, _MISSING)
                if found is _MISSING:
                    if len(_TIMES) >= _TIMES_KEPT:
                        _TIMES.clear()
                    found = _TIMES[when] = process(value)
                values[i] = found
            elif memo is not None and value.__class__ is datetime:
                # Many rows of one statement carry the same times (``now``, a due date):
                # convert each once. The key holds the zone and the fold, so that two
                # equal wall times that are different instants never share a result.
                key = (i, value, value.tzinfo, value.fold)
                found = memo.get(key, _MISSING)
                if found is _MISSING:
                    found = memo[key] = process(value)
                values[i] = found
            else:
                values[i] = process(value)
        return tuple(values)

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run with one parameter set; return the DBAPI cursor (or SQLAlchemy's result)."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:
            return conn.execute(self.statement, dict(params))
        row = self._row(compiled, params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, row)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, compiled.sql, row, exc) from exc
        return cursor

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run with many parameter sets (all with the same keys); return the row count."""
        if not rows:
            return 0
        keys = tuple(rows[0])
        compiled = self._compile(conn, keys)
        if compiled is None or any(tuple(r) != keys for r in rows[1:]):
            return int(conn.execute(self.statement, [dict(r) for r in rows]).rowcount)
        memo: dict[tuple[Any, ...], Any] = {}
        values = [self._row(compiled, r, memo) for r in rows]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, values)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, compiled.sql, values, exc) from exc
        return int(cursor.rowcount)

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run with one parameter set; return how many rows it changed."""
        return int(self.execute(conn, params).rowcount)

    def lastrowid(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an INSERT of one row; return the new row's integer key."""
        result = self.execute(conn, params)
        if hasattr(result, "inserted_primary_key"):  # SQLAlchemy's result (not SQLite)
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])
        return int(result.lastrowid)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a statement with RETURNING (or a SELECT); return its rows as tuples."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:
            return [tuple(r) for r in conn.execute(self.statement, dict(params))]
        rows = self.execute(conn, params).fetchall()
        if not compiled.converted:
            return [tuple(r) for r in rows]
        return [tuple(self._converted(compiled, r)) for r in rows]

    def mappings(self, conn: Connection, params: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
        """Run a SELECT (or RETURNING); return its rows as mappings by column name."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:
            return list(conn.execute(self.statement, dict(params)).mappings())
        rows = self.execute(conn, params).fetchall()
        return [
            dict(zip(compiled.columns, self._converted(compiled, r), strict=True)) for r in rows
        ]

    @staticmethod
    def _converted(compiled: _Compiled, row: Sequence[Any]) -> Sequence[Any]:
        values = list(row)
        for i, process in compiled.converted:  # only the columns that have a processor
            value = values[i]
            if value is not None:
                values[i] = process(value)
        return values


def _wrapped(conn: Connection, sql: str, params: Any, exc: Exception) -> BaseException:
    return DBAPIError.instance(
        sql, params, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )
