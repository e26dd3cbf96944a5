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
from json import JSONDecoder
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

from workflow.store.schema import JSONType, UTCDateTime

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
    # (column, result processor); on psycopg None until the first fetch
    converted: tuple[tuple[int, Callable[[Any], Any]], ...] | None
    pg: bool = False  # psycopg: named parameters (a dict by ``keys``), not a tuple
    keys: tuple[str, ...] = ()  # psycopg: each bind's name in the SQL (SQLAlchemy's escaping)
    # psycopg: a one-row INSERT that SQLAlchemy runs with its implicit RETURNING of the key;
    # its result's rowcount is then -1 (unless preserve_rowcount), and so is ours
    unknown_rowcount: bool = False
    # written once per statement (_generated): one parameter set as the row the driver takes
    # (one: a single execute; many: rows of an executemany, with its memo of times), and a
    # result row as a tuple or a dict by column name, with the processors applied
    one: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = None
    many: Callable[[Mapping[str, Any], dict[tuple[Any, ...], Any]], tuple[Any, ...]] | None = None
    as_tuple: Callable[[Sequence[Any]], tuple[Any, ...]] | None = None
    as_mapping: Callable[[Sequence[Any]], dict[str, Any]] | None = None


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
            _faster(c.type, dialect, c.type.dialect_impl(dialect).result_processor(dialect, None))
            for c in returned
        )
        return _Compiled(
            sql=compiled.string,
            names=names,
            converting=tuple((i, p) for i, p in enumerate(processors) if p is not None),
            timed=frozenset(i for i, b in enumerate(binds) if isinstance(b.type, UTCDateTime)),
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

    @staticmethod
    def _row(compiled: _Compiled, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The driver's row of one parameter set: each value by its bind's name (or the
        literal), converted by its bind processor; a UTCDateTime through ``_TIMES``
        (:meth:`executemany` makes its rows with ``compiled.many``, which also converts any
        other time once per instant)."""
        one = compiled.one
        if one is None:
            one = compiled.one = _bind_row(compiled, many=False)
        return one(params)

    def _run(self, conn: Connection, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        """One parameter set of a compiled statement on the driver's cursor."""
        if compiled.pg:
            return self._execute_psycopg(conn, compiled, params)
        row = self._row(compiled, params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, row)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, compiled.sql, row, exc) from exc
        return cursor

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run with one parameter set; return the DBAPI cursor (or SQLAlchemy's result).

        On psycopg the cursor is the connection's kept one: read it before the next
        statement on the same connection."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:
            return conn.execute(self.statement, dict(params))
        return self._run(conn, compiled, params)

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
        many = compiled.many
        if many is None:
            many = compiled.many = _bind_row(compiled, many=True)
        values = [many(r, memo) for r in rows]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, values)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, compiled.sql, values, exc) from exc
        return int(cursor.rowcount)

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run with one parameter set; return how many rows it changed."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:
            return int(conn.execute(self.statement, dict(params)).rowcount)
        return self._rowcount(compiled, self._run(conn, compiled, params))

    @staticmethod
    def _rowcount(compiled: _Compiled, cursor: Any) -> int:
        return -1 if compiled.unknown_rowcount else int(cursor.rowcount)

    def lastrowid(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an INSERT of one row; return the new row's integer key."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:  # SQLAlchemy's result
            key = conn.execute(self.statement, dict(params)).inserted_primary_key
            assert key is not None
            return int(key[0])
        if compiled.pg:
            # SQLAlchemy's SQL of a one-row INSERT on PostgreSQL returns the key (implicit
            # RETURNING), as its ``inserted_primary_key`` reads it
            ((key, *_),) = self._run(conn, compiled, params).fetchall()
            return int(key)
        return int(self._run(conn, compiled, params).lastrowid)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a statement with RETURNING (or a SELECT); return its rows as tuples."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:
            return [tuple(r) for r in conn.execute(self.statement, dict(params))]
        cursor = self._run(conn, compiled, params)
        rows = cursor.fetchall()
        if compiled.converted is None:  # psycopg's first fetch
            self._result_processors(conn, compiled, cursor.description)
        if not compiled.converted:
            return [tuple(r) for r in rows]
        as_tuple = compiled.as_tuple
        if as_tuple is None:
            as_tuple = compiled.as_tuple = _result_row(compiled, mapping=False)
        return [as_tuple(r) for r in rows]

    def mappings(self, conn: Connection, params: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
        """Run a SELECT (or RETURNING); return its rows as mappings by column name."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None or not compiled.columns:  # (a text() without its columns)
            return list(conn.execute(self.statement, dict(params)).mappings())
        cursor = self._run(conn, compiled, params)
        rows = cursor.fetchall()
        if compiled.converted is None:  # psycopg's first fetch
            self._result_processors(conn, compiled, cursor.description)
        as_mapping = compiled.as_mapping
        if as_mapping is None:
            as_mapping = compiled.as_mapping = _result_row(compiled, mapping=True)
        return [as_mapping(r) for r in rows]


def _faster(type_: Any, dialect: Any, process: Callable[[Any], Any] | None) -> Any:
    """A SQLite result processor, or the same conversion done faster: a UTCDateTime column's
    text converted once per text (:func:`_kept_times`), a JSONType column's text parsed by
    the JSON scanner itself (:func:`_json_text`) when SQLAlchemy parses it with ``json.loads``
    (no deserializer of the engine's own)."""
    if process is None:
        return None
    if isinstance(type_, UTCDateTime):
        return _kept_times(process)
    if isinstance(type_, JSONType) and getattr(dialect, "_json_deserializer", None) is None:
        return _json_text(process)
    return process


_SCAN = JSONDecoder().scan_once  # type: ignore[attr-defined]  # json.loads parses with it


def _json_text(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` (SQLAlchemy's JSON result processor on SQLite: ``json.loads`` of the
    text): a text that is one JSON value from its first character to its last parsed by
    the scanner ``json.loads`` ends in, without its three Python calls and two whitespace
    matches; anything else (whitespace around the value, no text, an error) goes to
    ``process``, which gives what it always gave (or raises what it raised)."""

    def convert(value: Any) -> Any:
        if value.__class__ is str:
            try:
                found, end = _SCAN(value, 0)
            except StopIteration:
                return process(value)
            if end == len(value):
                return found
        return process(value)

    return convert


def _kept_times(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` (a UTCDateTime column's result processor on SQLite), each text converted
    once: the rows of a bulk read share their times, and a datetime cannot change. Only text
    is kept (1 and 1.0 would be one key)."""
    kept: dict[str, Any] = {}

    def convert(value: Any) -> Any:
        if value.__class__ is not str:
            return process(value)
        found = kept.get(value, _MISSING)
        if found is _MISSING:
            if len(kept) >= _TIMES_KEPT:
                kept.clear()
            found = kept[value] = process(value)
        return found

    return convert


def _timed(value: Any, process: Callable[[Any], Any]) -> Any:
    """A UTCDateTime bind's value, converted once per instant (``_TIMES``)."""
    if value.__class__ is datetime:
        when = (value, value.tzinfo, value.fold)
        found = _TIMES.get(when, _MISSING)
        if found is _MISSING:
            if len(_TIMES) >= _TIMES_KEPT:
                _TIMES.clear()
            found = _TIMES[when] = process(value)
        return found
    return process(value)


def _once(value: Any, process: Callable[[Any], Any], memo: dict[Any, Any], i: int) -> Any:
    """Another bind's value in the rows of one executemany: a time converted once per
    instant. The key holds the zone and the fold, so that two equal wall times that are
    different instants never share a result."""
    if value.__class__ is datetime:
        key = (i, value, value.tzinfo, value.fold)
        found = memo.get(key, _MISSING)
        if found is _MISSING:
            found = memo[key] = process(value)
        return found
    return process(value)


def _bind_row(compiled: _Compiled, *, many: bool) -> Callable[..., tuple[Any, ...]]:
    """The function that makes the driver's row of one parameter set, written out for the
    statement's binds: ``(p['a'], _timed(p['b'], c1), c2(p['c']), …)`` — what a loop over
    the binds did, without the loop."""
    namespace: dict[str, Any] = {"_timed": _timed, "_once": _once}
    processors = dict(compiled.converting)
    parts = []
    for i, (name, fixed) in enumerate(zip(compiled.names, compiled.fixed, strict=True)):
        if fixed is _MISSING:
            value = f"p[{name!r}]"
        else:  # a literal bind's own value
            namespace[f"f{i}"] = fixed
            value = f"f{i}"
        process = processors.get(i)
        if process is not None:
            namespace[f"c{i}"] = process
            if i in compiled.timed:
                value = f"_timed({value}, c{i})"
            elif many:
                value = f"_once({value}, c{i}, memo, {i})"
            else:
                value = f"c{i}({value})"
        parts.append(value)
    source = f"def row(p{', memo' if many else ''}):\n    return ({', '.join(parts)},)\n"
    if not parts:
        source = f"def row(p{', memo' if many else ''}):\n    return ()\n"
    exec(compile(source, f"<direct row: {compiled.sql[:60]}>", "exec"), namespace)
    return namespace["row"]  # type: ignore[no-any-return]


def _result_row(compiled: _Compiled, *, mapping: bool) -> Callable[[Sequence[Any]], Any]:
    """The function that converts one result row with the columns' processors (None stays
    None), as a tuple or as a dict by column name, written out for the statement's columns."""
    converted = dict(compiled.converted or ())
    width = len(compiled.columns) if mapping else max(converted, default=-1) + 1
    namespace: dict[str, Any] = {}
    parts = []
    for i in range(width):
        process = converted.get(i)
        value = f"v{i}"
        if process is not None:
            namespace[f"c{i}"] = process
            value = f"(None if v{i} is None else c{i}(v{i}))"
        parts.append(f"{compiled.columns[i]!r}: {value}" if mapping else value)
    if mapping:
        body = f"    v{', v'.join(map(str, range(width)))}, = r\n" if width else ""
        source = f"def row(r):\n{body}    return {{{', '.join(parts)}}}\n"
    else:
        # the columns after the last converted one as they are
        source = (
            "def row(r):\n"
            f"    v{', v'.join(map(str, range(width)))}, *rest = r\n"
            f"    return ({', '.join(parts)}, *rest)\n"
        )
    exec(compile(source, f"<direct result: {compiled.sql[:60]}>", "exec"), namespace)
    return namespace["row"]  # type: ignore[no-any-return]


def _wrapped(conn: Connection, sql: str, params: Any, exc: Exception) -> BaseException:
    return DBAPIError.instance(
        sql, params, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )
