"""„Meine Aufgaben“ at ``/``: each account's proposals with an action it can take now and its
open deadlines, with due date and days overdue, filtered and sorted on the server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import NOW
from flask import Flask
from support import add_proposal, walk_to
from web_fixtures import ACCOUNTS, PASSWORD, build_round, login

from workflow import Runtime
from workflow.access import accounts
from workflow.process.calendar import local_date
from workflow.web import reads, tasks
from workflow.web.app import create_app


def _rows(html: str) -> dict[str, str]:
    """The cards of the task list by proposal key (each card's HTML)."""
    found = {}
    for card in re.findall(r'<li class="task[^"]*">(.*?)</li>', html, flags=re.S):
        key = re.search(r'<a href="/proposals/([^"]+)" id=', card)
        assert key, card
        found[key.group(1)] = card
    return found


def _actions(row: str) -> list[str]:
    return re.findall(r'href="/proposals/[^/"]+/actions/([a-z_]+)"', row)


def test_the_start_page_is_meine_aufgaben_for_every_role(app: Flask) -> None:
    for actor in ACCOUNTS:
        page = login(app, actor).client.get("/")
        assert page.status_code == 200, actor
        assert "<h1>Meine Aufgaben</h1>" in page.get_data(as_text=True), actor


def test_a_coordinator_sees_the_proposals_it_can_act_on(app: Flask) -> None:
    # given the round: RK-03-01 before the cabinet, RK-05-0x proposed, RK-03-05 an idea,
    # RK-03-03 in a consultation that no statement and no passed deadline can close yet
    rows = _rows(login(app, "koordination").client.get("/").get_data(as_text=True))
    # then each actionable proposal has the button of its action, linked to its form
    assert _actions(rows["RK-03-01"]) == ["approve", "reject"]
    assert "open_consultation" in _actions(rows["RK-05-01"])
    assert _actions(rows["RK-03-05"]) == ["submit"]
    # and the blocked consultation is listed for its deadline only, with no action
    # (withdrawing is possible everywhere and makes no task by itself)
    assert _actions(rows["RK-03-03"]) == []
    assert "Ende der Beteiligung" in rows["RK-03-03"] and "Ansehen" in rows["RK-03-03"]


def test_a_forum_lead_sees_only_its_forums_items(app: Flask, runtime: Runtime) -> None:
    # given an idea and a consultation with a deadline in Themenforum 5 as well
    idea = add_proposal(runtime.engine, NOW, key="RK-05-08", forum=5, lead="MWIDE")
    other = add_proposal(runtime.engine, NOW, key="RK-05-09", forum=5, lead="MWIDE")
    walk_to(runtime.engine, other, "consultation", NOW)
    b = login(app, "forum-03")
    # when forum 3's lead opens „Meine Aufgaben“
    rows = _rows(b.client.get("/").get_data(as_text=True))
    # then only forum 3's proposals are listed, its idea with the button to submit it
    assert rows and all(key.startswith("RK-03-") for key in rows), sorted(rows)
    assert _actions(rows["RK-03-05"]) == ["submit"]
    assert idea not in rows and other not in rows
    # and asking for another forum shows nothing of it
    assert _rows(b.client.get("/?themenforum=5").get_data(as_text=True)) == {}


def test_a_ministry_sees_its_own_proposals(app: Flask) -> None:
    rows = _rows(login(app, "im").client.get("/").get_data(as_text=True))
    assert list(rows) == ["RK-03-02"]
    assert _actions(rows["RK-03-02"]) == ["report_progress", "complete"]


def test_the_auditor_has_no_tasks(app: Flask) -> None:
    html = login(app, "pruefung").client.get("/").get_data(as_text=True)
    assert _rows(html) == {} and "keine Aufgaben" in html and 'href="/audit"' in html


@pytest.mark.parametrize(
    ("due", "now", "days"),
    [
        ("2019-07-15T18:00+02:00", "2019-07-15T17:00+02:00", None),  # not yet due
        ("2019-07-15T18:00+02:00", "2019-07-15T19:00+02:00", 0),  # due earlier today
        ("2019-07-15T18:00+02:00", "2019-07-16T00:30+02:00", 1),  # the next Berlin day
        ("2019-07-15T18:00+02:00", "2019-08-14T09:00+02:00", 30),
        ("2019-10-25T09:00+02:00", "2019-10-28T09:00+01:00", 3),  # over the clock change
    ],
)
def test_days_overdue_count_berlin_calendar_days(due: str, now: str, days: int | None) -> None:
    assert tasks.days_overdue(datetime.fromisoformat(due), datetime.fromisoformat(now)) == days


def _app_at(runtime: Runtime, settings: Any, moment: datetime) -> Flask:
    build_round(runtime)
    for actor in ACCOUNTS:
        accounts.set_password(runtime.store, runtime.directory, actor, PASSWORD, moment)
    app = create_app(settings, runtime=runtime, clock=lambda: moment)
    app.config["TESTING"] = True
    return app


def test_days_overdue_come_from_the_apps_clock(
    runtime: Runtime, settings: Any, fast_hashes: None
) -> None:
    # given an app whose clock stands 30 days after the round was built: the consultation
    # of RK-03-03 (21 days) is overdue
    later = datetime.now(UTC) + timedelta(days=30)
    app = _app_at(runtime, settings, later)
    (due,) = [r for r in reads.open_deadlines(runtime, later, key="RK-03-03")]
    expected = (local_date(later) - local_date(due["due_at"])).days
    assert expected >= 8
    # when the coordinator opens „Meine Aufgaben“
    b = login(app, "koordination")
    rows = _rows(b.client.get("/").get_data(as_text=True))
    # then the row says how many days, and the passed deadline lets the consultation close
    assert f"{expected} Tage überfällig" in rows["RK-03-03"]
    assert 'class="task overdue"' in b.client.get("/").get_data(as_text=True)
    assert "close_consultation" in _actions(rows["RK-03-03"])
    # and „nur überfällige“ keeps just the overdue rows, most days first by that sort
    overdue = _rows(b.client.get("/?kind=overdue&sort=overdue").get_data(as_text=True))
    assert "RK-03-03" in overdue and all("überfällig</strong>" in r for r in overdue.values())
    days = [int(re.search(r"(\d+) Tage? überfällig", r).group(1)) for r in overdue.values()]  # type: ignore[union-attr]
    assert days == sorted(days, reverse=True)


def test_filters_and_sort_work_without_javascript(app: Flask) -> None:
    b = login(app, "koordination")
    every = _rows(b.client.get("/").get_data(as_text=True))
    by_key = list(_rows(b.client.get("/?sort=key").get_data(as_text=True)))
    assert by_key == sorted(every)
    assert list(_rows(b.client.get("/?sort=key&order=desc").get_data(as_text=True))) == sorted(
        every, reverse=True
    )
    proposed = _rows(b.client.get("/?state=proposed").get_data(as_text=True))
    assert proposed and all("Vorschlag eingereicht" in r for r in proposed.values())
    assert set(proposed) < set(every)
    found = _rows(b.client.get("/?q=radschnell").get_data(as_text=True))
    assert list(found) == ["RK-03-01"]
    with_deadline = _rows(b.client.get("/?kind=deadline").get_data(as_text=True))
    assert with_deadline and all("fällig" in r for r in with_deadline.values())
    # the filter form keeps what was chosen
    html = b.client.get("/?state=proposed&sort=title").get_data(as_text=True)
    assert (
        '<option value="proposed" selected>' in html and '<option value="title" selected>' in html
    )
    # an unusable value is ignored, not an error
    assert b.client.get("/?sort=nonsense&handlungsfeld=x&page=-1").status_code == 200


def test_pages_of_tasks(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "PAGE_SIZE", 2)
    b = login(app, "koordination")
    first = b.client.get("/?sort=key").get_data(as_text=True)
    total = int(re.search(r"(\d+) Aufgaben, Seite 1 von", first).group(1))  # type: ignore[union-attr]
    seen: list[str] = []
    url: str | None = "/?sort=key"
    while url is not None:
        html = b.client.get(url).get_data(as_text=True)
        seen += _rows(html)
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        assert len(seen) <= total
    assert seen == sorted(set(seen)) and len(seen) == total > 2
