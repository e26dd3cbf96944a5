"""The web's proposal list page at 100,000 proposals against itself at 10,000.

One page (50 rows) of ``GET /proposals?state=implementation`` through the Flask app, as a
logged-in coordinator, on SQLite files prepared like the other scenarios. The baseline is the
same page at a tenth of the size: a list that pages in the database stays near 1×; one that
loads every row grows towards 10×. Best of a few requests after a warm-up.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bench.support import (
    Population,
    Result,
    open_runtime_for,
    prepared_database,
    progress,
    scratch_dir,
    settings_for,
    sqlite_url,
    stopwatch,
)

SCENARIO = "web list page"
TARGET = 3.0
PATH = "/proposals?state=implementation&page=2"


def _page_time(work: object, n: int, rounds: int) -> float:
    from pathlib import Path

    from workflow.web import accounts, create_app

    base = Path(str(work))
    db = prepared_database(base, f"web{n}", [Population(n, lambda i: "implementation")])
    url = sqlite_url(db)
    rt = open_runtime_for(url, base)
    try:
        accounts.set_password(
            rt.store, rt.directory, "koordination", "bench-passwort-123", datetime.now(UTC)
        )
        app = create_app(settings_for(url, base), runtime=rt)
        client = app.test_client()
        with client.session_transaction() as session:
            session["actor"] = "koordination"
        assert client.get(PATH).status_code == 200  # warm-up
        best = float("inf")
        for _ in range(rounds):
            with stopwatch() as t:
                response = client.get(PATH)
            assert response.status_code == 200
            best = min(best, t[0])
        return best
    finally:
        rt.close()


def run(quick: bool) -> list[Result]:
    big, small = (20_000, 2_000) if quick else (100_000, 10_000)
    rounds = 3 if quick else 5
    with scratch_dir() as work:
        progress(f"{SCENARIO}: {small:,} proposals")
        baseline = _page_time(work, small, rounds)
        progress(f"{SCENARIO}: {big:,} proposals")
        ours = _page_time(work, big, rounds)
    return [
        Result(
            f"{SCENARIO}, 50 rows of {big:,} vs {small:,} proposals",
            ours=ours,
            baseline=baseline,
            target=TARGET,
            note=f"GET {PATH} through the Flask app as a coordinator; best of {rounds}",
            details={"big": big, "small": small, "rounds": rounds},
        ).settle()
    ]
