"""Waiting for the database at start, with a bounded backoff.

``serve`` and ``scheduler run`` are started by a supervisor, often together with the
database (a reboot: PostgreSQL may take a while to accept connections). Exiting at once
(exit 3) only makes systemd restart them in a tight loop; so they try again — 0.5 s, then
doubling up to ``[database] wait_max_interval_seconds`` — for at most ``[database]
wait_seconds``, with one log line per try, and only then give up with the one-line error
(exit 3) for the supervisor's own restart policy.

``sleep`` and ``clock`` are parameters, so that the tests wait for nothing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workflow.app.settings import Settings
from workflow.errors import InvalidConfig, StoreUnavailable
from workflow.store.db import Store, ping

log = logging.getLogger("ruhrflow.startup")
FIRST_INTERVAL = 0.5


@dataclass(frozen=True)
class WaitSettings:
    """``[database] wait_seconds`` (0: do not wait) and ``wait_max_interval_seconds``."""

    wait_seconds: float = 300.0
    max_interval_seconds: float = 10.0

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> WaitSettings:
        """Read them from ``[database]``; a negative or non-number value is one clear error."""
        values = []
        for key, default in (("wait_seconds", 300), ("wait_max_interval_seconds", 10)):
            value = section.get(key, default)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise InvalidConfig(f"database.{key} must be a number of seconds, not {value!r}")
            values.append(float(value))
        return cls(values[0], max(values[1], FIRST_INTERVAL))


def wait_for_database(
    store: Store,
    options: WaitSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Return once ``store`` answers a query (the number of failed tries before); raise the
    last StoreUnavailable when ``options.wait_seconds`` have passed without an answer."""
    started = clock()
    interval = FIRST_INTERVAL
    failures = 0
    while True:
        try:
            with store.read() as conn:
                ping(conn)
        except StoreUnavailable as exc:
            failures += 1
            waited = clock() - started
            left = options.wait_seconds - waited
            if left <= 0:
                log.error("database unavailable after %.0f s, giving up: %s", waited, exc)
                raise
            pause = min(interval, left)
            log.warning(
                "database unavailable (try %d), next try in %.1f s, giving up in %.0f s: %s",
                failures,
                pause,
                left,
                exc,
            )
            sleep(pause)
            interval = min(interval * 2, options.max_interval_seconds)
            continue
        if failures:
            log.info("database available after %d failed tries", failures)
        return failures


def wait_for_the_database_of(settings: Settings) -> None:
    """Wait for the database of ``settings`` as ``[database]`` says, on a store of its own
    (opened before anything else reads the schema or the login's rights)."""
    store = Store.open(settings.database_url, busy_timeout_seconds=settings.busy_timeout_seconds)
    try:
        wait_for_database(store, WaitSettings.from_section(settings.section("database")))
    finally:
        store.dispose()
