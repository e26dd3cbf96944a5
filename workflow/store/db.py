"""Opening the database: engine options per dialect and the two kinds of transaction.

SQLite runs in WAL mode with a busy timeout; a write transaction starts with
``BEGIN IMMEDIATE`` so that two writers queue at the start instead of failing at
commit. Reads use a plain deferred ``BEGIN``. PostgreSQL gets a lock timeout of the
same length, so no writer waits forever.

The driver runs in autocommit mode and :meth:`Store.read`/:meth:`Store.write` issue the
``BEGIN`` themselves — not from a ``begin`` engine event, because any connection event
makes SQLAlchemy dispatch its event hooks around every statement (a measurable share of a
single transition, see ``bench/``). So on SQLite a transaction is only what these two open;
``engine.begin()`` used directly would commit statement by statement.

On PostgreSQL, :meth:`Store.shared_read` lets every read of one unit of work (a web
request that changes nothing) share one pooled connection in autocommit: each statement is a
transaction of its own, as it would be at READ COMMITTED inside one, and no ``BEGIN`` and no
``COMMIT`` go to the server — two round trips saved per page. A server-side cursor needs a
transaction: the store's streams run through :func:`stream`, which begins one there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeAlias
from urllib.parse import unquote

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Executable,
    Row,
    RowMapping,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError

from workflow.errors import InvalidInput, PermissionDenied, ReadOnlyDatabase, StoreUnavailable
from workflow.store.direct import Direct
from workflow.store.readonly import read_only_file

# The store's types for the layers above, which type their parameters with them but import
# nothing from SQLAlchemy themselves (only workflow.store does: the import contract).
__all__ = ["AnyRow", "Connection", "Engine", "RowMapping", "Store", "make_engine", "ping"]

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any columns, read by attribute or position."""

log = logging.getLogger("ruhrflow.store")


def make_engine(url: str, *, busy_timeout_seconds: float = 15.0) -> Engine:
    """A SQLAlchemy engine for ``url`` with ruhrflow's connection settings."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # never echo the URL: it may carry a password
        raise InvalidInput(
            "the database URL is malformed: use sqlite:///PATH or"
            " postgresql+psycopg://USER@HOST:PORT/DB"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        read_only = read_only_file(parsed.database)
        if read_only is not None:  # see workflow/store/readonly.py
            parsed = make_url(read_only.url())
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout_seconds})
        _configure_sqlite(engine, busy_timeout_seconds, read_only=read_only is not None)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":  # plain postgresql:// means psycopg 3 here
            parsed = parsed.set(drivername="postgresql+psycopg")
        ms = int(busy_timeout_seconds * 1000)
        # no JIT: ruhrflow's statements are short, and compiling a listing the planner costs
        # high paid no dividend (every open deadline with its rungs at 20,000 proposals:
        # 222 ms of server time JIT-compiled, 74 ms without). The URL's own ``options`` come
        # after ours, so that they win (connect_args would replace them).
        given = parsed.query.get("options") or ()  # a text, or a tuple when repeated
        theirs = [given] if isinstance(given, str) else list(given)
        options = " ".join([f"-c lock_timeout={ms} -c jit=off", *theirs])
        engine = create_engine(
            parsed,
            connect_args={"options": options, "connect_timeout": 10},
            # what ruhrflow's transactions assume, whatever the server's default: each
            # statement sees what was committed before it (Store.shared_read relies on it)
            isolation_level="READ COMMITTED",
        )
        _ping_when_idle(engine)
        return engine
    raise InvalidInput(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")


IDLE_PING_SECONDS = 10.0
"""A pooled PostgreSQL connection idle for longer is pinged before it is handed out."""


def _ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Ping a pooled connection before use only when it sat idle for ``idle_seconds``.

    ``pool_pre_ping`` pings on every checkout: a round trip per transaction, and a web page
    opens two (the account check, the page). A connection in steady use was just proven
    alive; one that sat in the pool (a daemon between its jobs, a quiet web worker) is the
    one a server restart or an idle timeout may have cut, and is pinged (SQLAlchemy's
    custom pessimistic disconnect handling: raising DisconnectionError makes the pool
    replace it). A connection cut while in steady use fails its next statement once, with
    StoreUnavailable ("cannot use the database …"), and is replaced.
    """

    @event.listens_for(engine, "checkin")
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # fresh from connect, or in steady use
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc


def _configure_sqlite(engine: Engine, busy_timeout_seconds: float, *, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit mode: Store.read/write emit BEGIN themselves (see the module doc).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not read_only:  # switching the journal is a write
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
        cursor.close()


_INSUFFICIENT_PRIVILEGE = "42501"  # SQLSTATE: a grant, row-level security or a trigger refused
_UNDEFINED_TABLE = "42P01"
_UNDEFINED_COLUMN = "42703"
_NO_SCHEMA = "the database has no ruhrflow schema: run `ruhrflow init` first"
_OLD_SCHEMA = (
    "the database schema is older than this version of ruhrflow: run `ruhrflow init` to upgrade it"
)

_BEGIN = Direct(text("BEGIN"))
_BEGIN_IMMEDIATE = Direct(text("BEGIN IMMEDIATE"))
# the isolation Store.read's transactions have on PostgreSQL (make_engine), whatever the
# server's default: a stream's transaction in a shared read sees each later write too
_BEGIN_READ_COMMITTED = Direct(text("BEGIN ISOLATION LEVEL READ COMMITTED"))
_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the server


class _SharedRead:
    """The connection that :meth:`Store.shared_read` shares: taken on the first read, in
    autocommit (see the module doc)."""

    __slots__ = ("conn", "store")

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn: Connection | None = None

    def connection(self) -> Connection:
        if self.conn is None:
            # SQLAlchemy's psycopg dialect switches the driver's autocommit flag (no round
            # trip) and the pool switches it back when the connection is returned
            conn = self.store.engine.connect()
            self.conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return self.conn

    def failed(self) -> None:
        """A read failed on the server: roll back what it was in (a stream's transaction,
        which PostgreSQL refuses every later statement of), so the next read — or the rest
        of an enclosing one — works, on the same connection or on a new one if it was lost."""
        conn = self.conn
        if conn is None:
            return
        try:
            conn.rollback()
        except DBAPIError:
            self.conn = None
            conn.close()

    def end(self) -> None:
        """Give the connection back, committing a stream's transaction if one is open (it
        only read: psycopg forgets its prepared statements on every rollback; with none open
        the commit sends nothing); a commit the server refuses (the connection was cut, an
        idle timeout) loses nothing, so it is logged, not raised: it would turn a page
        already rendered into an error."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.commit()
        except DBAPIError as exc:
            log.warning("ending a shared read transaction failed: %s", _first_line(exc))
        finally:
            conn.close()  # the pool rolls back what is still open


_SHARED: ContextVar[_SharedRead | None] = ContextVar("ruhrflow_shared_read", default=None)


def stream(
    conn: Connection,
    statement: Executable | str,
    params: Mapping[str, Any] | None = None,
    *,
    yield_per: int,
) -> CursorResult[Any]:
    """Execute ``statement`` on ``conn`` as a stream: the rows come ``yield_per`` at a time
    (a server-side cursor on PostgreSQL), never all at once. The one way the store streams.

    PostgreSQL declares a server-side cursor only inside a transaction: in a shared read
    (autocommit) this begins one first (:func:`_begin_for_stream`). The options are this
    statement's, not the connection's: the connection's later statements are plain ones
    again. A ``str`` is SQL for the driver (``exec_driver_sql``: no type processing), with
    ``stream_results`` and ``max_row_buffer`` set; the caller reads it in partitions of
    ``yield_per`` rows. It takes no ``params``: the drivers' parameter styles differ
    (``:name`` on SQLite, ``%(name)s`` on psycopg) — bind values through a ``text()``.
    """
    if isinstance(statement, str) and params is not None:
        raise TypeError("stream: SQL given as a str takes no params; use text() to bind values")
    _begin_for_stream(conn)
    if isinstance(statement, str):
        options = {"stream_results": True, "max_row_buffer": yield_per}
        return conn.exec_driver_sql(statement, params, execution_options=options)
    return conn.execute(statement.execution_options(yield_per=yield_per), params)


def _begin_for_stream(conn: Connection) -> None:
    """Before a statement that streams through a server-side cursor on ``conn``:
    PostgreSQL declares such a cursor only inside a transaction, and a shared read's
    connection runs in autocommit, so there this begins one (at READ COMMITTED, as every
    read transaction of the store), which ends with the shared read. Anywhere else ``conn``
    is in a transaction already, and nothing is done."""
    shared = _SHARED.get()
    if shared is None or shared.conn is not conn:
        return
    if conn.connection.driver_connection.info.transaction_status == _PG_IDLE:  # type: ignore[union-attr]
        _BEGIN_READ_COMMITTED.execute(conn, {})


class Store:
    """The database: hands out read and write transactions, translating driver errors."""

    def __init__(self, engine: Engine, *, busy_timeout_seconds: float = 15.0) -> None:
        self.engine = engine
        self.busy_timeout_seconds = busy_timeout_seconds
        self._sqlite = engine.dialect.name == "sqlite"
        # Opened with mode=ro (workflow/store/readonly.py): writes are refused up front.
        self.read_only = self._sqlite and "mode=ro" in str(engine.url)

    @classmethod
    def open(cls, url: str, *, busy_timeout_seconds: float = 15.0) -> Store:
        """Open the database at ``url``."""
        engine = make_engine(url, busy_timeout_seconds=busy_timeout_seconds)
        return cls(engine, busy_timeout_seconds=busy_timeout_seconds)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (deferred on SQLite), or the one :meth:`shared_read` shares."""
        shared = _SHARED.get()
        if shared is not None and shared.store is self:
            with self._translated():
                try:
                    yield shared.connection()
                except DBAPIError:
                    # as a read of its own would: a transaction the server failed ends with
                    # the read. Other exceptions leave the transaction sound.
                    shared.failed()
                    raise
            return
        with self._translated(), self.engine.connect() as conn, conn.begin():
            if self._sqlite:
                _BEGIN.execute(conn, {})
            yield conn

    @contextmanager
    def shared_read(self) -> Iterator[None]:
        """Within it, every :meth:`read` of this store (in this thread or task) shares one
        connection, taken by the first read and given back when this ends, on which each
        statement is a transaction of its own (autocommit; a stream begins one:
        :func:`stream`).

        PostgreSQL only, where each ``BEGIN`` and ``COMMIT`` is a round trip to the server
        and a transaction at READ COMMITTED gives each statement its own snapshot anyway,
        so leaving them out changes what reads see no more than the time between them does.
        On SQLite it does nothing: a read costs no round trip there, and a deferred SQLite
        transaction keeps the snapshot of its first read, so a write made in between would be
        invisible to the reads after it. :meth:`write` never shares: it opens its own
        transaction, and the shared reads after it see what it committed.
        """
        if self._sqlite:
            yield
            return
        shared = _SharedRead(self)
        token = _SHARED.set(shared)
        try:
            yield
        finally:
            try:
                _SHARED.reset(token)
            finally:
                shared.end()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: all of it commits, or none of it."""
        if self.read_only:
            path = unquote((self.engine.url.database or "").removeprefix("file:"))
            raise ReadOnlyDatabase(
                f"the database file {path} is read-only for this user:"
                " read commands work, this one changes data; nothing was changed"
            )
        with self._translated(), self.engine.connect() as conn, conn.begin():
            if self._sqlite:
                _BEGIN_IMMEDIATE.execute(conn, {})
            yield conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise StoreUnavailable(self._describe(exc)) from exc
        except DBAPIError as exc:
            if "NUL (0x00)" in str(exc.orig):  # PostgreSQL text cannot hold NUL characters
                raise InvalidInput(
                    "the input contains a NUL character; nothing was changed"
                ) from None
            if exc.connection_invalidated:
                raise StoreUnavailable(f"lost the database connection: {_first_line(exc)}") from exc
            state = getattr(exc.orig, "sqlstate", None)
            if state == _UNDEFINED_TABLE:
                raise StoreUnavailable(self._schema_message()) from exc
            if state == _UNDEFINED_COLUMN and self._schema_behind():
                raise StoreUnavailable(_OLD_SCHEMA) from exc
            if state == _INSUFFICIENT_PRIVILEGE:
                # The grants (``ruhrflow db grants``) refused it: a refusal, not a bug.
                login = self.engine.url.username or "this database login"
                raise PermissionDenied(
                    login, "do this", None, f"the database refused it: {_first_line(exc)}"
                ) from None
            raise

    def _describe(self, exc: OperationalError) -> str:
        text = _first_line(exc)
        if "database is locked" in text or "lock timeout" in text or "LockNotAvailable" in text:
            return (
                f"the database is busy: another writer held it for more than"
                f" {self.busy_timeout_seconds:g} s; nothing was changed, try again"
            )
        if "no such table" in text:
            return self._schema_message()
        if "no such column" in text and self._schema_behind():
            return _OLD_SCHEMA
        url = self.engine.url.render_as_string(hide_password=True)
        return f"cannot use the database {url}: {text}"

    def _schema_behind(self) -> bool:
        """Whether the database's migration is older than this ruhrflow's newest (a column
        this code reads is then missing because nobody ran ``ruhrflow init`` after the
        upgrade, not because of a bug)."""
        return self._schema_message() == _OLD_SCHEMA

    def _schema_message(self) -> str:
        """Why a table is missing: no schema at all, or an older one (the same message for
        every command on an old schema: run ``ruhrflow init``)."""
        try:
            with self.engine.connect() as conn:
                current = self._revision(conn)
        except Exception:  # the question must not hide the error it explains
            return _NO_SCHEMA
        return _NO_SCHEMA if current is None else _schema_problem(current) or _NO_SCHEMA

    @staticmethod
    def _revision(conn: Connection) -> str | None:
        if not _has_revision_table(conn):
            return None
        found = conn.execute(_REVISION).scalar()
        return None if found is None else str(found)

    def require_current_schema(self) -> None:
        """Refuse to work on a database whose schema is not this ruhrflow's: none, an older
        one (run ``ruhrflow init``) or a newer one (upgrade ruhrflow). One small read; every
        command but ``init`` and ``db status`` asks before it touches the data."""
        with self._translated(), self.engine.connect() as conn:
            current = self._revision(conn)
            if conn.in_transaction():
                conn.commit()
        problem = _NO_SCHEMA if current is None else _schema_problem(current)
        if problem is not None:
            raise StoreUnavailable(problem)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


_REVISION = text("SELECT version_num FROM alembic_version")
_PING = text("SELECT 1")


def ping(conn: Connection) -> None:
    """One round trip that proves the database answers (a start waiting for it, a
    readiness probe); raises what the connection raises when it does not."""
    conn.execute(_PING)


def _has_revision_table(conn: Connection) -> bool:
    # asked, not tried: a failed statement would end a PostgreSQL transaction
    return bool(inspect(conn).has_table("alembic_version"))


def _schema_problem(current: str) -> str | None:
    """What is wrong with a database at migration ``current``, or None when it is this
    ruhrflow's newest."""
    from workflow.store.revision import schema_state

    state = schema_state(current)
    if state == "current":
        return None
    if state == "older":
        return _OLD_SCHEMA
    return (
        f"the database schema ({current}) is newer than this version of ruhrflow knows:"
        " upgrade ruhrflow (pip install -U ruhrflow) before you use this database"
    )


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
