"""PostgreSQL connections in the pool: a connection that sat idle is pinged before use and
replaced when the server cut it; one in steady use is not pinged (a round trip saved per
transaction) and, if cut, fails once with a clear one-line error and is replaced."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from workflow.errors import StoreUnavailable
from workflow.store import db as db_module
from workflow.store.db import Store


def _backend_pid(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        admin.dispose()
    time.sleep(0.2)  # the backend's exit is asynchronous; polling a real server


@pytest.fixture
def pg_store(database_url: str) -> Store:
    if not database_url.startswith("postgresql"):
        pytest.skip("the pool's pings are PostgreSQL's (SQLite has no server to lose)")
    store = Store.open(database_url)
    yield store  # type: ignore[misc]
    store.dispose()


def test_an_idle_connection_cut_by_the_server_is_replaced_before_use(
    pg_store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a pooled connection that the server then terminated
    first = _backend_pid(pg_store)
    _terminate(database_url, first)
    # when it is checked out after sitting idle longer than the ping threshold
    real = time.monotonic
    monkeypatch.setattr(
        db_module.time, "monotonic", lambda: real() + db_module.IDLE_PING_SECONDS + 1
    )
    # then the ping finds it dead, the pool replaces it, and the read just works
    second = _backend_pid(pg_store)
    assert second != first


def test_a_connection_in_steady_use_is_not_pinged_and_fails_once_if_cut(
    pg_store: Store, database_url: str
) -> None:
    # given a connection used a moment ago, then terminated by the server
    first = _backend_pid(pg_store)
    _terminate(database_url, first)
    # when it is used again at once, then that transaction fails with a clear error
    with pytest.raises(StoreUnavailable, match="terminating connection"):
        _backend_pid(pg_store)
    # and the next one gets a new connection
    assert _backend_pid(pg_store) != first


def test_the_store_s_connections_run_without_jit(pg_store: Store) -> None:
    # whatever the server's default: a listing the planner costs high (every open deadline
    # with its rungs) took three times as long JIT-compiled; the lock timeout stays set
    with pg_store.read() as conn:
        jit = conn.execute(text("SHOW jit")).scalar_one()
        lock_timeout = conn.execute(text("SHOW lock_timeout")).scalar_one()
    assert (jit, lock_timeout) == ("off", "15s")


def test_the_url_s_own_options_are_kept_and_win(pg_store: Store, database_url: str) -> None:
    # given a database URL with options of its own (a statement timeout, JIT on again)
    separator = "&" if "?" in database_url else "?"
    url = f"{database_url}{separator}options=-c%20statement_timeout%3D5000%20-c%20jit%3Don"
    store = Store.open(url)
    try:
        with store.read() as conn:
            shown = [
                conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("statement_timeout", "jit", "lock_timeout")
            ]
    finally:
        store.dispose()
    # then they hold beside ruhrflow's, and the URL's win where both set one
    assert shown == ["5s", "on", "15s"]
