"""The web's proposal list and worklist pages at 100,000 proposals against themselves at 10,000.

One page (50 rows) of ``GET /proposals?state=implementation`` and the worklist, through the
Flask app, as a logged-in coordinator, on SQLite files prepared like the other scenarios. The
baseline is the same page at a tenth of the size: a page that pages in the database stays near
1×; one that loads every row grows towards 10×. The median of 15 (full: 21) requests after a
warm-up, the two sizes' apps side by side and their requests taking turns, so that both see
the same moments of a shared machine (issue 14: ≤ 1.5×).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.datagen import proposals_with_deadlines
from bench.support import (
    Result,
    open_runtime_for,
    progress,
    scratch_dir,
    settings_for,
    sqlite_url,
    stopwatch,
)

SCENARIO = "web list page"
TARGET = 1.5
PAGES = {"list": "/proposals?state=implementation&page=2", "worklist": "/worklist"}


@contextmanager
def _client(work: Path, n: int) -> Iterator[Any]:
    """A Flask test client of the app on ``n`` proposals, logged in as the coordinator."""
    from workflow.access import accounts
    from workflow.web import create_app

    db = proposals_with_deadlines(work, f"web{n}", n, 1_000)
    url = sqlite_url(db)
    rt = open_runtime_for(url, work)
    try:
        accounts.set_password(
            rt.store, rt.directory, "koordination", "bench-passwort-123", datetime.now(UTC)
        )
        app = create_app(settings_for(url, work), runtime=rt)
        client = app.test_client()
        now = datetime.now(UTC)
        epoch = accounts.session_epoch(rt.store, "koordination")
        assert epoch is not None
        sid = accounts.begin_session(rt.store, "koordination", epoch, now, timedelta(hours=8))
        with client.session_transaction() as session:
            # what a login leaves in the cookie: the id of the server's session row
            session["sid"] = sid
            session["actor"] = "koordination"
        for path in PAGES.values():
            assert client.get(path).status_code == 200  # warm-up
        yield client
    finally:
        rt.close()


def _timed(client: Any, path: str, ours: bool) -> float:
    with stopwatch(ours=ours) as t:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return t[0]


def run(quick: bool) -> list[Result]:
    big, small = (20_000, 2_000) if quick else (100_000, 10_000)
    # a request takes a few ms: many rounds cost nothing and steady the median
    rounds = 15 if quick else 21
    with scratch_dir() as work:
        progress(f"{SCENARIO}: {small:,} and {big:,} proposals, requests interleaved")
        with _client(work, small) as little, _client(work, big) as large:
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(rounds):  # both sizes in turn: the same moments of the machine
                for page, path in PAGES.items():
                    times.setdefault(("small", page), []).append(_timed(little, path, False))
                    times.setdefault(("big", page), []).append(_timed(large, path, True))
    ours = {page: statistics.median(times[("big", page)]) for page in PAGES}
    baseline = {page: statistics.median(times[("small", page)]) for page in PAGES}
    return [
        Result(
            f"web {page} page, {big:,} vs {small:,} proposals",
            ours=ours[page],
            baseline=baseline[page],
            target=TARGET,
            note=(
                f"GET {path} through the Flask app as a coordinator; median of {rounds},"
                " the two sizes' requests interleaved"
            ),
            details={"big": big, "small": small, "rounds": rounds},
        ).settle()
        for page, path in PAGES.items()
    ]
