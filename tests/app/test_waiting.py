"""serve and scheduler run wait for the database with a bounded backoff (issue #26)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.app.waiting import WaitSettings, wait_for_database
from workflow.errors import InvalidConfig, StoreUnavailable
from workflow.store.db import Store


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def unreachable(database_url: str, tmp_path: Path) -> Store:
    if database_url.startswith("sqlite"):
        return Store.open(f"sqlite:///{tmp_path}/no/such/dir/ruhrflow.db")
    return Store.open("postgresql+psycopg://postgres@127.0.0.1:1/test")


def test_an_unreachable_database_is_tried_with_doubling_pauses_then_given_up(
    database_url: str, tmp_path: Path
) -> None:
    # given a database that does not answer, and a wait of 20 s at most, pauses up to 4 s
    store = unreachable(database_url, tmp_path)
    clock = FakeClock()
    # when serve starts, then it tries again and again, and gives up with the store's error
    with pytest.raises(StoreUnavailable):
        wait_for_database(store, WaitSettings(20, 4), sleep=clock.sleep, clock=clock)
    assert clock.sleeps[:4] == [0.5, 1.0, 2.0, 4.0]
    assert set(clock.sleeps[4:-1]) == {4.0}
    assert sum(clock.sleeps) == 20


def test_a_database_that_comes_up_ends_the_wait(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a database that answers from the third try on
    store = Store.open(database_url)
    clock = FakeClock()
    real_read = store.read
    tries = []

    def flaky_read():  # type: ignore[no-untyped-def]
        tries.append(1)
        if len(tries) < 3:
            raise StoreUnavailable("cannot use the database: connection refused")
        return real_read()

    monkeypatch.setattr(store, "read", flaky_read)
    # when waiting, then it returns after two failed tries, having paused 0.5 and 1 s
    assert wait_for_database(store, WaitSettings(300, 10), sleep=clock.sleep, clock=clock) == 2
    assert clock.sleeps == [0.5, 1.0]
    store.dispose()


def test_no_wait_means_one_try(database_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    with pytest.raises(StoreUnavailable):
        wait_for_database(
            unreachable(database_url, tmp_path), WaitSettings(0, 10), sleep=clock.sleep, clock=clock
        )
    assert clock.sleeps == []


def test_the_wait_settings_refuse_nonsense() -> None:
    with pytest.raises(InvalidConfig, match=r"database\.wait_seconds"):
        WaitSettings.from_section({"wait_seconds": -1})
    assert WaitSettings.from_section({}) == WaitSettings(300, 10)
