"""What ``scheduler run`` tells ``serve``: when its jobs last ran, succeeded and how long.

The daemon writes a small JSON file after every sweep and delivery (``[monitoring]
scheduler_state_file``); ``/readyz`` and ``/metrics`` of ``serve`` read it at request time.
A file rather than a port of its own: the daemon then opens nothing to the network, and one
scrape of ``serve`` tells everything. Both services must therefore see the same file — on
one host they do (the systemd units share ``/var/lib/ruhrflow``); with the scheduler on
another machine, set ``scheduler_max_age_seconds = 0`` and watch that machine's log.

The file is replaced atomically (written beside it, then renamed), so a reader never sees
half of it. Times are UTC epoch seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

JOBS = ("sweep", "delivery")


@dataclass
class JobState:
    """The last run of one job: its start, its duration and the last start that succeeded."""

    last_run: float | None = None
    last_success: float | None = None
    duration_seconds: float | None = None
    ok: bool | None = None


@dataclass
class SchedulerState:
    """The state of every job of one daemon."""

    jobs: dict[str, JobState] = field(default_factory=lambda: {j: JobState() for j in JOBS})
    pid: int | None = None

    def record(self, job: str, started: float, duration: float, ok: bool) -> None:
        """Note one run of ``job`` that began at ``started`` (epoch seconds)."""
        state = self.jobs.setdefault(job, JobState())
        state.last_run, state.duration_seconds, state.ok = started, duration, ok
        if ok:
            state.last_success = started

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"pid": self.pid, "jobs": {name: asdict(s) for name, s in self.jobs.items()}}


def write_state(path: Path, state: SchedulerState) -> None:
    """Replace ``path`` with ``state`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".scheduler-state.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state.as_dict(), fh)
        os.chmod(tmp, 0o644)  # serve may run as another user of the same group
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state(path: Path) -> SchedulerState | None:
    """The state in ``path``, or None when there is none or it cannot be read."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        jobs = {
            str(name): JobState(
                last_run=_number(value.get("last_run")),
                last_success=_number(value.get("last_success")),
                duration_seconds=_number(value.get("duration_seconds")),
                ok=value.get("ok") if isinstance(value.get("ok"), bool) else None,
            )
            for name, value in dict(raw.get("jobs") or {}).items()
            if isinstance(value, dict)
        }
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    pid = raw.get("pid")
    return SchedulerState(jobs=jobs, pid=pid if isinstance(pid, int) else None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
