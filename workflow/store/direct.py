"""The hot statements of a transition, run on the driver's cursor (SQLite's and psycopg's).

A single transition on SQLite issues about ten statements, and SQLAlchemy's execution
machinery (parameter processing, execution context, result setup) costs about 100 µs per
statement — more than SQLite needs to run it (``bench/``: a single advance was 3.1× the raw
``sqlite3`` limit, the target is 3×); on PostgreSQL about 160 µs of the worker's CPU per
statement, five statements per transition. :class:`Direct` keeps SQLAlchemy for what it does
well — the SQL (compiled once per dialect and parameter set from the same Core statement)
and the conversion of every parameter (the same bind processors SQLAlchemy would apply: JSON,
UTC datetimes) — and hands the statement to the DBAPI cursor of the caller's connection,
inside the caller's transaction.

SQLite: only statements without Python-side column defaults and without expanding ``IN``
lists. PostgreSQL through psycopg 3: the same, and also without post-compile or callable
parameters; the SQL is exactly SQLAlchemy's for the driver (``%(name)s`` placeholders with
its rendered casts, ``CAST(… AS JSONB)``, a one-row INSERT's implicit ``RETURNING`` of the
key), the parameters go as a dict through the compiled statement's bind processors, the
statement runs in SQLAlchemy's transaction (autobegun as SQLAlchemy does) with its
``before``/``after_cursor_execute`` events, and a driver error goes through SQLAlchemy's
own handling (the same exception, disconnects invalidate the connection). Many parameter
sets at once stay with SQLAlchemy on PostgreSQL (it batches an INSERT's rows into one
statement). What a SELECT or RETURNING gives back is converted with the result processors
SQLAlchemy would apply (on psycopg chosen by the driver's column types at the first fetch).
Anything else runs through ``Connection.execute`` as before.
Driver errors are wrapped as SQLAlchemy wraps them (``sqlalchemy.exc.DBAPIError.instance``),
so callers see the same exceptions either way. ``tests/store/test_direct.py`` checks that both
paths write the same rows and, on PostgreSQL, that every call returns the same values of the
same types.
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

_CURSOR = "ruhrflow_direct_cursor"
"""The key of a psycopg connection's kept cursor in its pool record's ``info``."""

CHUNK = 500
"""Keys per ``IN (...)`` list, so that no backend hits its parameter limit."""


@dataclass
class _Compiled:
    sql: str
    names: tuple[str, ...]
    fixed: tuple[Any, ...]  # the value of a literal bind (e.g. status = 'open'), else _MISSING
    columns: tuple[str, ...]  # of a SELECT or a RETURNING
    results: tuple[Any, ...]  # SQLite: the result processors; psycopg: the column types
    converting: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor)
    timed: frozenset[int]  # positions of UTCDateTime binds (converted through _TIMES)
    plain: bool  # no literal binds: every value comes from the parameters
    # (column, result processor); on psycopg None until the first fetch
    converted: tuple[tuple[int, Callable[[Any], Any]], ...] | None
    pg: bool = False  # psycopg: named parameters (a dict by ``keys``), not a tuple
    keys: tuple[str, ...] = ()  # psycopg: each bind's name in the SQL (SQLAlchemy's escaping)
    # psycopg: a one-row INSERT that SQLAlchemy runs with its implicit RETURNING of the key;
    # its result's rowcount is then -1 (unless preserve_rowcount), and so is ours
    unknown_rowcount: bool = False


class Direct:
    """One prebuilt Core statement, run on the driver's cursor (see the module doc)."""

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
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            return self._build_psycopg(conn, keys)
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

    def _build_psycopg(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled | None:
        """PostgreSQL through psycopg 3: the SQL exactly as SQLAlchemy renders it for the
        driver (named ``%(name)s`` placeholders, the casts of its RENDER_CASTS binding), the
        parameters through the compiled statement's own bind processors, the result columns
        through the processors SQLAlchemy would pick for the driver's column types (known at
        the first fetch: :meth:`_result_processors`)."""
        dialect = conn.dialect
        statement: Any = self.statement
        compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
        if (
            getattr(compiled, "insert_prefetch", None)
            or getattr(compiled, "update_prefetch", None)
            or compiled.positiontup is not None
            or compiled.literal_execute_params
            or compiled.post_compile_params
            or any(b.expanding or b.callable is not None for b in compiled.binds.values())
        ):
            return None
        # a SELECT's or RETURNING's columns (none for text(): its rows as the driver gives
        # them, as SQLAlchemy gives them); the processors are picked at the first fetch
        entries = compiled._result_columns
        columns = tuple(e[0] for e in entries)
        results = tuple(e[3] for e in entries)
        names = tuple(compiled.binds)
        binds = [compiled.binds[n] for n in names]
        processors = compiled._bind_processors
        escaped = compiled.escaped_bind_names or {}
        fixed = tuple(b.value if not b.required and b.key not in keys else _MISSING for b in binds)
        return _Compiled(
            sql=compiled.string,
            names=names,
            converting=tuple(
                (i, processors[n]) for i, n in enumerate(names) if processors.get(n) is not None
            ),
            timed=frozenset(),  # UTCDateTime's processor is cheap here (no text)
            plain=all(f is _MISSING for f in fixed),
            converted=None,
            fixed=fixed,
            columns=columns,
            results=results,
            pg=True,
            keys=tuple(escaped.get(n, n) for n in names),
            unknown_rowcount=bool(getattr(compiled, "implicit_returning", None))
            and not statement.get_execution_options().get("preserve_rowcount", False),
        )

    @staticmethod
    def _result_processors(
        conn: Connection, compiled: _Compiled, description: Any
    ) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        """The result processors of a psycopg result, as SQLAlchemy picks them: by the
        column's type and the driver's type code (a column's OID never changes)."""
        if len(compiled.results) != len(description):
            if compiled.results:
                raise RuntimeError(f"{len(description)} columns, expected {compiled.results}")
            found: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
        else:
            dialect = conn.dialect
            processors = [
                type_._cached_result_processor(dialect, d[1])
                for type_, d in zip(compiled.results, description, strict=True)
            ]
            found = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        compiled.converted = found
        return found

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
        """Run with one parameter set; return the DBAPI cursor (or SQLAlchemy's result).

        On psycopg the cursor is the connection's kept one: read it before the next
        statement on the same connection."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:
            return conn.execute(self.statement, dict(params))
        if compiled.pg:
            return self._execute_psycopg(conn, compiled, params)
        row = self._row(compiled, params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, row)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, compiled.sql, row, exc) from exc
        return cursor

    def _execute_psycopg(
        self, conn: Connection, compiled: _Compiled, params: Mapping[str, Any]
    ) -> Any:
        """Run on psycopg's cursor of the connection SQLAlchemy holds, in its transaction
        (begun as SQLAlchemy begins one: its autobegin, with its ``begin`` event); the
        ``before``/``after_cursor_execute`` events fire as for SQLAlchemy's own statements
        (context None), and a driver error goes through SQLAlchemy's handling (wrapping,
        disconnect detection and invalidation, ``handle_error``)."""
        if not conn.in_transaction():
            conn._autobegin()
        values = dict(zip(compiled.keys, self._row(compiled, params), strict=True))
        sql = compiled.sql
        # one cursor per connection, kept with the pool's record of it (cleared when the
        # connection is replaced): a new psycopg cursor's first execute costs about 15 µs more
        fairy = conn.connection
        info = fairy.info
        cursor = info.get(_CURSOR)
        if cursor is None or cursor.closed or cursor.connection is not fairy.driver_connection:
            cursor = info[_CURSOR] = fairy.driver_connection.cursor()  # type: ignore[union-attr]
        events = conn._has_events or conn.engine._has_events
        if events:
            for fn in conn.dispatch.before_cursor_execute:
                sql, values = fn(conn, cursor, sql, values, None, False)
        try:
            cursor.execute(sql, values)
        except BaseException as exc:
            conn._handle_dbapi_exception(exc, sql, values, cursor, None)
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, values, None, False)
        return cursor

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run with many parameter sets (all with the same keys); return the row count."""
        if not rows:
            return 0
        keys = tuple(rows[0])
        compiled = self._compile(conn, keys)
        if compiled is not None and compiled.pg and len(rows) == 1:
            # (SQLAlchemy too runs a list of one parameter set as a single execute)
            return self._rowcount(compiled, self._execute_psycopg(conn, compiled, rows[0]))
        # psycopg: many rows through SQLAlchemy's executemany (INSERTs batched into one)
        if compiled is None or compiled.pg or any(tuple(r) != keys for r in rows[1:]):
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
        compiled = self._compile(conn, tuple(params))
        if compiled is not None and compiled.pg:
            return self._rowcount(compiled, self._execute_psycopg(conn, compiled, params))
        return int(self.execute(conn, params).rowcount)

    @staticmethod
    def _rowcount(compiled: _Compiled, cursor: Any) -> int:
        return -1 if compiled.unknown_rowcount else int(cursor.rowcount)

    def lastrowid(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an INSERT of one row; return the new row's integer key."""
        compiled = self._compile(conn, tuple(params))
        if compiled is not None and compiled.pg:
            # SQLAlchemy's SQL of a one-row INSERT on PostgreSQL returns the key (implicit
            # RETURNING), as its ``inserted_primary_key`` reads it
            ((key, *_),) = self.execute(conn, params).fetchall()
            return int(key)
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
        cursor = self.execute(conn, params)
        rows = cursor.fetchall()
        converted = compiled.converted
        if converted is None:  # psycopg's first fetch
            converted = self._result_processors(conn, compiled, cursor.description)
        if not converted:
            return [tuple(r) for r in rows]
        return [tuple(_converted(converted, r)) for r in rows]

    def mappings(self, conn: Connection, params: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
        """Run a SELECT (or RETURNING); return its rows as mappings by column name."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None or (compiled.pg and not compiled.columns):
            return list(conn.execute(self.statement, dict(params)).mappings())
        cursor = self.execute(conn, params)
        rows = cursor.fetchall()
        converted = compiled.converted
        if converted is None:  # psycopg's first fetch
            converted = self._result_processors(conn, compiled, cursor.description)
        columns = compiled.columns
        return [dict(zip(columns, _converted(converted, r), strict=True)) for r in rows]


def _converted(
    converted: tuple[tuple[int, Callable[[Any], Any]], ...], row: Sequence[Any]
) -> Sequence[Any]:
    values = list(row)
    for i, process in converted:  # only the columns that have a processor
        value = values[i]
        if value is not None:
            values[i] = process(value)
    return values


def _wrapped(conn: Connection, sql: str, params: Any, exc: Exception) -> BaseException:
    return DBAPIError.instance(
        sql, params, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )
