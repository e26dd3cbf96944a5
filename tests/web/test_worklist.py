"""The worklist comes in pages of open deadlines, overdue first, then due soonest; the pages
together list every open deadline once, in the order ``ruhrflow deadlines`` gives."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import NOW
from flask import Flask
from support import add_proposal, walk_to
from web_fixtures import login

from workflow import Runtime
from workflow.web import reads
from workflow.web.proposals import lists


def _keys(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r'<a href="/proposals/([^"]+)">', body)


def test_the_pages_together_list_every_open_deadline_in_order(
    app: Flask, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given more open deadlines than a page holds (two per page here)
    expected = [r["key"] for r in reads.open_deadlines(runtime, datetime.now(UTC))]
    assert len(expected) >= 3, "the fixture has deadlines on several proposals"
    monkeypatch.setattr(lists, "WORKLIST_ROWS", 2)
    b = login(app, "koordination")
    # when the coordinator follows the next-page links
    seen: list[str] = []
    url: str | None = "/worklist"
    pages = 0
    while url is not None:
        html = b.client.get(url).get_data(as_text=True)
        pages += 1
        rows = _keys(html)
        assert 0 < len(rows) <= 2
        seen += rows
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        assert pages < 10
    # then every deadline came once, in the order of `ruhrflow deadlines`
    assert seen == expected
    assert pages == (len(expected) + 1) // 2
    assert 'rel="prev"' in html and "Seite" in html


def test_a_ministry_sees_only_its_own_deadlines(app: Flask, runtime: Runtime) -> None:
    mine = [r["key"] for r in reads.open_deadlines(runtime, datetime.now(UTC), lead="IM")]
    b = login(app, "im")
    assert _keys(b.client.get("/worklist").get_data(as_text=True)) == mine
    assert mine and all(k == "RK-03-02" for k in mine)


def test_a_forum_lead_sees_only_its_forums_deadlines(app: Flask, runtime: Runtime) -> None:
    # given open deadlines in Themenforum 3 and in another one
    other = add_proposal(runtime.engine, NOW, key="RK-05-09", forum=5, lead="MWIDE")
    walk_to(runtime.engine, other, "consultation", NOW)
    every = [r["key"] for r in reads.open_deadlines(runtime, datetime.now(UTC))]
    assert any(not k.startswith("RK-03-") for k in every)
    # when forum-03's lead opens the worklist, then only forum 3's are listed
    shown = _keys(login(app, "forum-03").client.get("/worklist").get_data(as_text=True))
    assert shown == [k for k in every if k.startswith("RK-03-")] and shown


def test_overdue_deadlines_come_first_and_are_marked(
    runtime: Runtime, settings: Any, fast_hashes: None
) -> None:
    # given the round (a consultation due in three weeks, progress reports in a quarter) seen
    # by an app whose clock stands 30 days ahead: the consultation is overdue, the rest not
    from datetime import timedelta

    from web_fixtures import ACCOUNTS, PASSWORD, build_round

    from workflow.access import accounts
    from workflow.web.app import create_app

    build_round(runtime)
    later = datetime.now(UTC) + timedelta(days=30)
    for actor in ACCOUNTS:
        accounts.set_password(runtime.store, runtime.directory, actor, PASSWORD, later)
    app = create_app(settings, runtime=runtime, clock=lambda: later)
    app.config["TESTING"] = True
    rows = reads.open_deadlines(runtime, later)
    assert any(r["overdue"] for r in rows) and not all(r["overdue"] for r in rows)
    # when the coordinator opens the worklist
    html = login(app, "koordination").client.get("/worklist").get_data(as_text=True)
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    marks = re.findall(r"<td>(<strong>überfällig</strong>|offen)</td>", body)
    # then the overdue ones lead, each marked, and the open ones follow
    overdue = sum(r["overdue"] for r in rows)
    assert marks == ["<strong>überfällig</strong>"] * overdue + ["offen"] * (len(rows) - overdue)
