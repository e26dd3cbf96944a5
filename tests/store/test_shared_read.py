"""``Store.shared_read``: on PostgreSQL the reads of one unit of work (a web request that
changes nothing) share one pooled connection in autocommit — no BEGIN and no COMMIT go to the
server — and see what a write committed in between; a stream (``workflow.store.db.stream``,
the store's one way to stream) begins the transaction its server-side cursor needs, which
ends with the shared read; a read the server failed leaves the next one working. On SQLite it
shares nothing."""

from __future__ import annotations

import ast
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import DBAPIError

from workflow.store.db import Connection, Store, stream
from workflow.store.schema import web_secrets


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def pg_store(store: Store) -> Store:
    if store.dialect != "postgresql":
        pytest.skip("SQLite shares no read transaction (see Store.shared_read)")
    return store


def _began(store: Store) -> object:
    """When the read's transaction began (PostgreSQL's transaction timestamp)."""
    with store.read() as conn:
        return conn.execute(text("SELECT now()")).scalar_one()


def _checkouts(store: Store) -> list[object]:
    seen: list[object] = []
    event.listen(store.engine, "checkout", lambda *args: seen.append(args[0]))
    return seen


def _backend(store: Store) -> object:
    """The server process of the read's connection."""
    with store.read() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _server_transaction(conn: Connection) -> int:
    """psycopg's view of the server: 0 no transaction open, 2 one open and idle."""
    status: int = conn.connection.driver_connection.info.transaction_status  # type: ignore[union-attr]
    return status


def test_the_reads_within_share_one_connection_and_open_no_transaction(pg_store: Store) -> None:
    checkouts = _checkouts(pg_store)
    with pg_store.shared_read():
        backend = _backend(pg_store)
        first = _began(pg_store)
        with pg_store.read() as conn:
            between = _server_transaction(conn)  # no BEGIN was sent, so no COMMIT is owed
        time.sleep(0.01)
        second = _began(pg_store)
        assert _backend(pg_store) == backend
    assert between == 0
    assert first != second  # each statement a transaction of its own
    assert len(checkouts) == 1  # one connection for all of them


def test_a_stream_begins_a_transaction_that_ends_with_the_shared_read(pg_store: Store) -> None:
    with pg_store.shared_read():
        with pg_store.read() as conn:
            first = stream(conn, text("SELECT now()"), yield_per=1).scalar_one()
            opened = _server_transaction(conn)
            # a second stream in it begins nothing more
            rows = stream(conn, text("SELECT generate_series(1, 5)"), yield_per=2).all()
        time.sleep(0.01)
        assert _began(pg_store) == first  # still that transaction
        level = _isolation(pg_store)
    assert (opened, len(rows), level) == (2, 5, "read committed")
    assert _began(pg_store) != first  # ended with the scope


def _isolation(store: Store) -> object:
    with store.read() as conn:
        return conn.execute(text("SHOW transaction_isolation")).scalar_one()


def test_every_stream_of_the_store_works_in_a_shared_read(pg_store: Store) -> None:
    from workflow.store import chains, proposal_list, reports

    # a server-side cursor outside a transaction: "DECLARE CURSOR can only be used in
    # transaction blocks"; each stream begins one (an empty history streams as well)
    streams: list[Callable[[Connection], Iterator[object]]] = [
        lambda c: chains.checkpoint_entries(c, "system"),
        chains.entries_with_heads,
        chains.raw_entries_with_heads,
        chains.entries_with_actors,
        chains.log_entries,
        lambda c: chains.proposal_chain_entries(c, except_prefix="@"),
        chains.entry_times,
        reports.state_entries,
        lambda c: proposal_list.stream_rows(c, proposal_list.ListFilter()),
    ]
    streamed: list[int] = []  # psycopg's transaction status at each streamed statement

    def seen(conn: Connection, cursor: object, *args: object) -> None:
        context = args[-2]  # None for Direct's statements (the BEGIN), which never stream
        if context is not None and context.execution_options.get("stream_results"):  # type: ignore[attr-defined]
            streamed.append(_server_transaction(conn))

    event.listen(pg_store.engine, "before_cursor_execute", seen)
    for each in streams:
        streamed.clear()
        with pg_store.shared_read(), pg_store.read() as conn:
            assert list(each(conn)) is not None
            # one statement on a server-side cursor, in a transaction (2: open, idle)
            assert streamed == [2], (each, streamed)
            # and the connection's next statement is a plain one again (no server-side
            # cursor left switched on for the rest of the page)
            assert not conn.get_execution_options().get("stream_results")
            conn.execute(text("SELECT 1"))
            assert streamed == [2], (each, streamed)
    event.remove(pg_store.engine, "before_cursor_execute", seen)
    # outside a shared read a read is a transaction already, and the stream needs none
    with pg_store.read() as conn:
        assert list(chains.entry_times(conn)) is not None


def test_without_it_each_read_is_a_transaction_of_its_own(pg_store: Store) -> None:
    first = _began(pg_store)
    time.sleep(0.01)
    assert _began(pg_store) != first


def test_a_write_in_between_is_seen_by_the_reads_after_it(store: Store) -> None:
    # on both backends: on SQLite a shared deferred transaction would keep the snapshot of
    # its first read and miss the write, which is why shared_read shares nothing there
    with store.shared_read():
        with store.read() as conn:
            before = conn.execute(select(web_secrets.c.name)).scalars().all()
        with store.write() as conn:
            row = {"name": "written-in-between", "value": "x", "created_at": datetime.now(UTC)}
            conn.execute(insert(web_secrets).values(row))
        with store.read() as conn:
            after = conn.execute(select(web_secrets.c.name)).scalars().all()
    assert "written-in-between" not in before
    assert sorted(after) == sorted([*before, "written-in-between"])


def test_a_read_the_server_failed_ends_the_transaction_and_the_next_begins_anew(
    pg_store: Store,
) -> None:
    with pg_store.shared_read():
        with pg_store.read() as conn:
            # a transaction, which the failure would leave refusing
            first = stream(conn, text("SELECT now()"), yield_per=1).scalar_one()
        with pytest.raises(DBAPIError, match="division by zero"), pg_store.read() as conn:
            conn.execute(text("SELECT 1 / 0"))
        time.sleep(0.01)
        # PostgreSQL would refuse every statement of the failed transaction; this one works
        second = _began(pg_store)
        with pytest.raises(DBAPIError, match="division by zero"), pg_store.read() as conn:
            conn.execute(text("SELECT 1 / 0"))  # and so it goes without a transaction
        assert _began(pg_store) is not None
    assert second != first


def test_an_error_of_the_caller_leaves_the_shared_read_sound(pg_store: Store) -> None:
    with pg_store.shared_read():
        with pg_store.read() as conn:
            first = stream(conn, text("SELECT now()"), yield_per=1).scalar_one()
        with pytest.raises(LookupError), pg_store.read():
            raise LookupError("no such proposal")
        assert _began(pg_store) == first  # the stream's transaction goes on


def test_a_scope_that_never_reads_takes_no_connection(store: Store) -> None:
    checkouts = _checkouts(store)
    with store.shared_read():
        pass
    assert checkouts == []


def test_another_store_is_not_shared(pg_store: Store, database_url: str) -> None:
    other = Store.open(database_url)
    try:
        with pg_store.shared_read():
            first = _began(other)
            time.sleep(0.01)
            assert _began(other) != first
    finally:
        other.dispose()


def test_a_commit_the_server_refuses_at_the_end_is_logged_not_raised(
    pg_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # given a shared read whose connection the server ends while it sits idle in a
    # stream's transaction (an idle timeout: the page rendered, the response about to go out)
    with caplog.at_level(logging.WARNING, logger="ruhrflow.store"), pg_store.shared_read():
        with pg_store.read() as conn:
            conn.execute(text("SET idle_in_transaction_session_timeout = '100ms'"))
            stream(conn, text("SELECT 1"), yield_per=1).all()
        time.sleep(0.5)
    # then ending it lost nothing (it only read): a warning, no exception
    assert "ending a shared read transaction failed" in caplog.text
    # and the next read gets a working connection
    assert _began(pg_store) is not None


def test_reads_see_a_write_in_between_whatever_the_servers_default_isolation(
    pg_store: Store, database_url: str
) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    # given a database whose default isolation is REPEATABLE READ (one snapshot per
    # transaction: a shared read would keep the snapshot of its first read)
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    name = f"ruhrflow_rr_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(
            text(f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'repeatable read'")
        )
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    store = Store.open(url)
    try:
        with store.write() as conn:
            conn.execute(text("CREATE TABLE seen (name text)"))
        # when a shared read reads (in a stream's transaction, the one transaction a shared
        # read opens), a write commits, and the shared read reads again
        with store.shared_read():
            with store.read() as conn:
                before = stream(conn, text("SELECT count(*) FROM seen"), yield_per=1).scalar_one()
            with store.write() as conn:
                conn.execute(text("INSERT INTO seen VALUES ('in between')"))
            with store.read() as conn:
                after = conn.execute(text("SELECT count(*) FROM seen")).scalar_one()
                level = conn.execute(text("SHOW transaction_isolation")).scalar_one()
        # then ruhrflow's transactions run at READ COMMITTED and the second read sees it
        assert (before, after, level) == (0, 1, "read committed")
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_read_that_fails_inside_another_leaves_the_outer_one_working(pg_store: Store) -> None:
    with pg_store.shared_read(), pg_store.read() as outer:
        with pytest.raises(DBAPIError), pg_store.read() as inner:
            inner.execute(text("SELECT 1 / 0"))
        # the failed transaction was rolled back; the outer read goes on in a new one
        assert outer.execute(text("SELECT 42")).scalar_one() == 42


def test_a_connection_back_from_a_shared_read_writes_all_or_nothing(database_url: str) -> None:
    # given a pool of one connection, so the write gets the very connection the shared read
    # ran in autocommit (with a stream's transaction left open, and after a failed read)
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite shares no read transaction (see Store.shared_read)")
    from sqlalchemy import create_engine

    engine = create_engine(
        database_url, pool_size=1, max_overflow=0, isolation_level="READ COMMITTED"
    )
    store = Store(engine)
    try:
        with store.shared_read():
            with store.read() as conn:
                stream(conn, text("SELECT 1"), yield_per=1).all()
            with pytest.raises(DBAPIError), store.read() as conn:
                conn.execute(text("SELECT 1 / 0"))
        # when a write inserts a row and then fails
        row = {"name": "never-committed", "value": "x", "created_at": datetime.now(UTC)}
        with pytest.raises(LookupError), store.write() as conn:
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
            conn.execute(insert(web_secrets).values(row))
            raise LookupError("the command failed after its first statement")
        # then nothing of it was committed
        with store.read() as conn:
            names = conn.execute(select(web_secrets.c.name)).scalars().all()
        assert "never-committed" not in names
    finally:
        store.dispose()


STORE = Path(__file__).resolve().parents[2] / "workflow"
_STREAM_OPTIONS = {"stream_results", "yield_per", "max_row_buffer"}


def _streams_without_the_helper(tree: ast.AST) -> list[int]:
    """The lines that set a stream option (a keyword, a key or ``Result.yield_per``) other
    than the ``yield_per=`` of a call of ``stream``, or name ``begin_for_stream``."""
    allowed = {
        id(keyword)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and "stream" in (getattr(node.func, "id", None), getattr(node.func, "attr", None))
        for keyword in node.keywords
        if keyword.arg == "yield_per"
    }
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and id(node) not in allowed:
            name = node.arg
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        else:
            continue
        if name in _STREAM_OPTIONS or name in ("begin_for_stream", "_begin_for_stream"):
            lines.append(node.lineno)
    return sorted(lines)


def test_every_stream_of_the_code_goes_through_the_stores_one_helper() -> None:
    # a server-side cursor executed without workflow.store.db.stream would miss the
    # transaction PostgreSQL needs for it in a shared read (found only on PostgreSQL, only
    # inside a shared read): the stream options appear nowhere but in db.py
    found = {
        str(path.relative_to(STORE.parent)): lines
        for path in sorted(STORE.rglob("*.py"))
        if path != STORE / "store" / "db.py"
        and (lines := _streams_without_the_helper(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert found == {}


def test_the_check_finds_a_stream_without_the_helper() -> None:
    planted = (
        "def rows(conn, stmt):\n"
        "    yield from conn.execute(stmt.execution_options(yield_per=10))\n"
        "    conn.exec_driver_sql('SELECT 1', execution_options={'stream_results': True})\n"
        "    conn.execute(stmt).yield_per(5)\n"
        "    begin_for_stream(conn)\n"
        "    yield from stream(conn, stmt, yield_per=10)\n"
    )
    assert _streams_without_the_helper(ast.parse(planted)) == [2, 3, 4, 5]


def test_a_stream_of_driver_sql_takes_no_parameters(store: Store) -> None:
    # given SQL as a str, whose parameter style differs between the drivers
    with store.read() as conn:
        # when it is streamed with parameters, then it is refused before it runs
        with pytest.raises(TypeError, match="use text"):
            stream(conn, "SELECT 1 WHERE 1 = :one", {"one": 1}, yield_per=10)
        # and without, it streams; values are bound through text()
        assert list(stream(conn, "SELECT 1", yield_per=10)) == [(1,)]
        bound = stream(conn, text("SELECT :one AS one"), {"one": 1}, yield_per=10)
        assert [tuple(r) for r in bound] == [(1,)]
