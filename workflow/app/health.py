"""How the service is: the readings behind ``/readyz`` and ``/metrics``, taken at request time.

Everything here is read from the database and the scheduler's state file when asked (not
counted in the web processes), so every gunicorn worker answers the same and a restart
loses nothing. A reading that fails says so (``database_ok`` False) and carries no detail
for the client: the caller logs the exception, the client sees which check failed.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from workflow.app.settings import Settings
from workflow.errors import InvalidConfig
from workflow.scheduler.state import SchedulerState, read_state
from workflow.store import monitoring
from workflow.store.db import Store, ping
from workflow.store.outbox import STATUSES
from workflow.store.revision import expected_revision, revision_of

log = logging.getLogger("ruhrflow.health")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MonitoringSettings:
    """``[monitoring]``: who may read ``/metrics`` and what ``/readyz`` calls too old."""

    metrics_allow: tuple[Network, ...] = ()
    scheduler_state_file: Path = Path("scheduler-state.json")
    scheduler_max_age_seconds: float = 300.0  # 0: the scheduler is not checked
    notice_max_pending_seconds: float = 3600.0  # 0: pending notices are not checked

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> MonitoringSettings:
        """Read ``[monitoring]``; a bad address or number is one clear error."""
        allow = section.get("metrics_allow", ["127.0.0.1", "::1"])
        if not isinstance(allow, list):
            raise InvalidConfig("monitoring.metrics_allow must be a list of addresses")
        return cls(
            metrics_allow=tuple(parse_network(str(a), "monitoring.metrics_allow") for a in allow),
            scheduler_state_file=Path(
                str(section.get("scheduler_state_file", "scheduler-state.json"))
            ),
            scheduler_max_age_seconds=_seconds(section, "scheduler_max_age_seconds", 300),
            notice_max_pending_seconds=_seconds(section, "notice_max_pending_seconds", 3600),
        )


def parse_network(value: str, key: str) -> Network:
    """An address or a network (``10.0.0.0/8``); anything else names ``key`` in the error."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise InvalidConfig(f"{key}: {value!r} is not an IP address or network") from None


def trusted_proxies(settings: Settings) -> tuple[Network, ...]:
    """``[web] trusted_proxies`` as networks (empty: no proxy is trusted)."""
    value = settings.section("web").get("trusted_proxies", [])
    if not isinstance(value, list):
        raise InvalidConfig("web.trusted_proxies must be a list of addresses")
    return tuple(parse_network(str(v), "web.trusted_proxies") for v in value)


def address_in(address: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether ``address`` lies in one of ``networks`` (an unparsable one never does)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


def _seconds(section: Mapping[str, Any], key: str, default: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise InvalidConfig(f"monitoring.{key} must be a number of seconds, not {value!r}")
    return float(value)


@dataclass
class Readings:
    """What the database and the scheduler's state file say at one moment."""

    now: datetime
    database_ok: bool = False
    revision: str | None = None
    schema_current: bool = False
    notices: dict[str, int] = field(default_factory=dict)
    oldest_pending_age_seconds: float | None = None
    deadlines_overdue: int | None = None
    scheduler: SchedulerState | None = None

    def scheduler_age(self, job: str) -> float | None:
        """Seconds since ``job`` last succeeded (None: never, or no state file)."""
        state = self.scheduler.jobs.get(job) if self.scheduler else None
        if state is None or state.last_success is None:
            return None
        return max(0.0, self.now.timestamp() - state.last_success)


def take_readings(store: Store, now: datetime, options: MonitoringSettings) -> Readings:
    """Read everything once (one short transaction); a database error leaves it not ok."""
    readings = Readings(now=now, scheduler=read_state(options.scheduler_state_file))
    try:
        with store.read() as conn:
            ping(conn)
            readings.database_ok = True
            readings.revision = revision_of(conn)
            # the newest shipped migration, from the numbered files (cached; no Alembic)
            readings.schema_current = readings.revision == expected_revision()
            if not readings.schema_current:
                return readings
            counts = monitoring.notice_counts(conn)
            readings.notices = {s: int(counts.get(s, 0)) for s in STATUSES}
            oldest = monitoring.oldest_pending_at(conn)
            if oldest is not None:
                readings.oldest_pending_age_seconds = max(0.0, (now - oldest).total_seconds())
            readings.deadlines_overdue = monitoring.overdue_deadlines(conn, now)
    except Exception as exc:  # a reading never fails the request: it says what it saw
        first = (str(exc).strip().splitlines() or [""])[0]
        log.warning("health reading failed: %s: %s", type(exc).__name__, first)
    return readings


def readiness(readings: Readings, options: MonitoringSettings) -> dict[str, Any]:
    """``{"ready": bool, "checks": {name: {"ok": bool, ...}}}`` — no secrets, no detail of a
    database error (that is in the log)."""
    checks: dict[str, dict[str, Any]] = {
        "database": {"ok": readings.database_ok},
        "schema": {"ok": readings.schema_current},
    }
    if options.scheduler_max_age_seconds > 0:
        for job in ("sweep", "delivery"):
            age = readings.scheduler_age(job)
            checks[f"scheduler_{job}"] = {
                "ok": age is not None and age <= options.scheduler_max_age_seconds,
                "seconds_since_success": None if age is None else round(age, 1),
                "limit_seconds": options.scheduler_max_age_seconds,
            }
    if options.notice_max_pending_seconds > 0:
        age = readings.oldest_pending_age_seconds
        checks["notices"] = {
            "ok": readings.schema_current
            and (age is None or age <= options.notice_max_pending_seconds),
            "oldest_pending_seconds": None if age is None else round(age, 1),
            "limit_seconds": options.notice_max_pending_seconds,
        }
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}
