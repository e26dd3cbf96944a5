"""The web's proposal list and worklist pages at 100,000 proposals against themselves at 10,000.

One page (50 rows) of ``GET /proposals?state=implementation`` and the worklist, through the
Flask app, as a logged-in coordinator, on SQLite files prepared like the other scenarios. The
baseline is the same page at a tenth of the size: a page that pages in the database stays near
1×; one that loads every row grows towards 10×. The median of several requests after a
warm-up (issue 14: ≤ 1.5×).
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

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


def _page_times(work: object, n: int, rounds: int) -> dict[str, float]:
    from pathlib import Path

    from workflow.web import accounts, create_app

    base = Path(str(work))
    db = proposals_with_deadlines(base, f"web{n}", n, 1_000)
    url = sqlite_url(db)
    rt = open_runtime_for(url, base)
    try:
        accounts.set_password(
            rt.store, rt.directory, "koordination", "bench-passwort-123", datetime.now(UTC)
        )
        app = create_app(settings_for(url, base), runtime=rt)
        client = app.test_client()
        now = datetime.now(UTC)
        epoch = accounts.session_epoch(rt.store, "koordination")
        assert epoch is not None
        sid = accounts.begin_session(rt.store, "koordination", epoch, now, timedelta(hours=8))
        with client.session_transaction() as session:
            # what a login leaves in the cookie: the id of the server's session row
            session["sid"] = sid
            session["actor"] = "koordination"
        medians = {}
        for page, path in PAGES.items():
            assert client.get(path).status_code == 200  # warm-up
            times = []
            for _ in range(rounds):
                with stopwatch(ours=True) as t:
                    response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                times.append(t[0])
            medians[page] = statistics.median(times)
        return medians
    finally:
        rt.close()


def run(quick: bool) -> list[Result]:
    big, small = (20_000, 2_000) if quick else (100_000, 10_000)
    rounds = 5 if quick else 9
    with scratch_dir() as work:
        progress(f"{SCENARIO}: {small:,} proposals")
        baseline = _page_times(work, small, rounds)
        progress(f"{SCENARIO}: {big:,} proposals")
        ours = _page_times(work, big, rounds)
    return [
        Result(
            f"web {page} page, {big:,} vs {small:,} proposals",
            ours=ours[page],
            baseline=baseline[page],
            target=TARGET,
            note=f"GET {path} through the Flask app as a coordinator; median of {rounds}",
            details={"big": big, "small": small, "rounds": rounds},
        ).settle()
        for page, path in PAGES.items()
    ]
