"""What a page request does besides the page (issue 29): no session cookie for a Bearer
request, the same cookie as before for a browser, and the list's page with its count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest
from flask import Flask
from markupsafe import escape
from web_fixtures import XSS_TITLE, login

from workflow import Runtime, Settings
from workflow.access import accounts
from workflow.process.german import euro
from workflow.web import create_app, reads
from workflow.web.pages import berlin, html_text, state_label
from workflow.web.proposals import lists


def _bearer(runtime: Runtime, actor: str = "koordination") -> dict[str, str]:
    _, token = accounts.create_token(
        runtime.store, actor, datetime.now(UTC), expires_in=timedelta(days=1)
    )
    return {"Authorization": f"Bearer {token}"}


def test_a_bearer_request_for_a_page_gets_no_session_cookie(app: Flask, runtime: Runtime) -> None:
    response = app.test_client().get("/proposals", headers=_bearer(runtime))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # the page's CSRF token is not signed into one


def test_a_browser_keeps_its_session_cookie(app: Flask) -> None:
    browser = login(app, "koordination")
    response = browser.client.get("/proposals")
    assert response.status_code == 200
    assert "ruhrflow_session=" in response.headers.get("Set-Cookie", "")  # refreshed as before
    assert browser.client.get("/worklist").status_code == 200  # still logged in


def test_a_revoked_token_stops_at_once(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    token_id, token = accounts.create_token(
        runtime.store, "koordination", datetime.now(UTC), expires_in=None
    )
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/worklist", headers=bearer).status_code == 200
    accounts.revoke_token(runtime.store, token_id, datetime.now(UTC))
    assert client.get("/worklist", headers=bearer).status_code == 401
    assert client.get("/proposals", headers=bearer).status_code == 401


# The rows as the templates wrote them cell by cell before the rows were built in
# proposals/lists.py: the page must not change by a character.
OLD_LIST_ROWS = """{% for r in rows %}
  <tr>
    <td><a href="{{ r.href }}">{{ r.key }}</a></td>
    <td>{{ r.title }}</td>
    <td>{{ r.state }}</td>
    <td>{{ r.handlungsfeld }}</td>
    <td>{{ r.themenforum }}</td>
    <td>{{ r.lead }}</td>
    <td class="num nowrap">{{ r.cost }}</td>
  </tr>
  {% endfor %}"""
OLD_WORKLIST_ROWS = """{% for r in rows %}
  <tr{% if r.overdue %} class="overdue"{% endif %}>
    <td><a href="{{ r.href }}">{{ r.key }}</a></td>
    <td>{{ r.label }}</td>
    <td>{{ r.due }}</td>
    <td>{% if r.overdue %}<strong>überfällig</strong>{% else %}offen{% endif %}</td>
    <td>{{ r.lead }}</td>
    <td>{{ r.state }}</td>
  </tr>
  {% endfor %}"""


def _tbody(html: str) -> str:
    return html.split("<tbody>\n  ", 1)[1].split("\n  </tbody>", 1)[0]


def _old_rows(flask_app: Flask, template: str, rows: list[dict[str, Any]]) -> str:
    with flask_app.test_request_context("/"):
        return flask_app.jinja_env.from_string(template).render(rows=rows)


@pytest.mark.parametrize("clock", [None, datetime(2001, 1, 1, tzinfo=UTC)])
def test_the_worklist_rows_are_what_the_template_wrote(
    runtime: Runtime, settings: Settings, app: Flask, clock: datetime | None
) -> None:
    # given the worklist now (overdue deadlines among them) and in 2001 (none overdue)
    flask_app = create_app(settings, runtime=runtime, clock=(lambda: clock) if clock else None)
    b = login(flask_app, "koordination")
    html = b.client.get("/worklist").get_data(as_text=True)
    now = clock or datetime.now(UTC)
    found = reads.open_deadlines(runtime, now, limit=lists.WORKLIST_ROWS)
    assert found and any(r["overdue"] for r in found) == (clock is None)
    definition = flask_app.extensions["ruhrflow"].definition
    rows = [
        {
            "href": f"/proposals/{r['key']}",
            "key": r["key"],
            "label": r["label"],
            "due": berlin(r["due_at"]),
            "overdue": r["overdue"],
            "lead": r["lead"],
            "state": state_label(definition, r["state"]),
        }
        for r in found
    ]
    # then its rows are what the template's cells made of them
    assert _tbody(html) == _old_rows(flask_app, OLD_WORKLIST_ROWS, rows)


def test_the_list_rows_are_what_the_template_wrote(app: Flask, runtime: Runtime) -> None:
    # given the list with a title that needs escaping (XSS_TITLE) and a proposal without cost
    b = login(app, "koordination")
    html = b.client.get("/proposals?sort=title").get_data(as_text=True)
    found = reads.proposal_page(runtime, reads.ListQuery(sort="title"))
    assert any(r["title"] == XSS_TITLE for r in found.rows)
    definition = app.extensions["ruhrflow"].definition
    rows = [
        {
            "href": f"/proposals/{r['key']}",
            "key": r["key"],
            "title": r["title"],
            "state": state_label(definition, r["state"]),
            "handlungsfeld": r["handlungsfeld"],
            "themenforum": r["themenforum"],
            "lead": r["lead"],
            "cost": euro(r["cost_estimate"]),
        }
        for r in found.rows
    ]
    # then its rows are what the template's cells made of them, the title escaped
    assert _tbody(html) == _old_rows(app, OLD_LIST_ROWS, rows)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Radweg" in html


def test_the_fixed_links_follow_the_apps_root(app: Flask, runtime: Runtime) -> None:
    # given the same page asked at the root and behind a prefix (SCRIPT_NAME), in turns
    client = app.test_client()
    bearer = _bearer(runtime)
    for _ in range(2):
        plain = client.get("/worklist", headers=bearer).get_data(as_text=True)
        prefixed = client.get(
            "/worklist", headers=bearer, base_url="http://localhost/ruhrflow/"
        ).get_data(as_text=True)
        # then each has its own links: the navigation's and the static files'
        assert 'href="/proposals"' in plain and 'href="/static/style.css"' in plain
        assert 'href="/ruhrflow/proposals"' in prefixed
        assert 'href="/ruhrflow/static/style.css"' in prefixed
        assert 'href="/proposals"' not in prefixed


# The list's filter form as the template wrote it before its choices were rendered once per
# process (proposals/_list_options.html): the same text for every query.
OLD_FILTER_CHOICES = """{% for id, s in states.items() %}<option value="{{ id }}"{% if query.state == id %} selected{% endif %}>{{ s.label }}</option>{% endfor %}
{% for n in range(1, 6) %}<option value="{{ n }}"{% if query.handlungsfeld == n %} selected{% endif %}>{{ n }}</option>{% endfor %}
{% for code in leads %}<option value="{{ code }}"{% if query.lead == code %} selected{% endif %}>{{ code }}</option>{% endfor %}
{% for k, label in sorts.items() %}<option value="{{ k }}"{% if query.sort == k %} selected{% endif %}>{{ label }}</option>{% endfor %}"""  # noqa: E501


@pytest.mark.parametrize(
    "query",
    ["", "?state=implementation&handlungsfeld=3&lead=MSB&sort=title", "?lead=VM&sort=lead"],
)
def test_the_filter_choices_are_what_the_template_wrote(app: Flask, query: str) -> None:
    b = login(app, "koordination")
    w = app.extensions["ruhrflow"]
    for _ in range(2):  # rendered, then kept
        html = b.client.get(f"/proposals{query}").get_data(as_text=True)
        with app.test_request_context(f"/proposals{query}"):
            expected = app.jinja_env.from_string(OLD_FILTER_CHOICES).render(
                states=w.definition.states,
                leads=sorted(w.runtime.directory.ministries),
                sorts=reads.SORTS,
                query=reads.ListQuery.from_args(flask.request.args),
            )
        for choices in expected.split("\n"):
            assert choices in html
    assert ('<option value="implementation" selected>' in html) == ("implementation" in query)


@pytest.mark.parametrize(
    "value", ["RK-03-01", XSS_TITLE, "a & b", "\"quoted\" 'x'", "Straße €", "", 7, None]
)
def test_html_text_escapes_as_markupsafe_does(value: object) -> None:
    assert html_text(value) == str(escape(value))


@pytest.mark.parametrize("root", ["http://localhost/", "http://localhost/ruhrflow/"])
def test_the_templates_links_are_what_url_for_builds(app: Flask, root: str) -> None:
    cases: list[tuple[str, dict[str, object]]] = [
        ("proposals.proposal_list", {}),
        ("proposals.proposal_list", {"format": "csv", "state": "implementation", "page": 3}),
        ("proposals.proposal_list", {"q": "Straße & Weg/1+2 ?#'\"<>", "lead": None, "page": 2}),
        ("proposals.proposal_list", {"themenforum": 7, "sort": "title", "order": "desc"}),
        ("proposals.proposal_list", {"lead": None}),
        ("proposals.worklist", {"page": 2}),
        ("proposals.proposal_page", {"key": "RK-03-01"}),
        ("proposals.proposal_page", {"key": "a b/ä", "tab": "x"}),
        ("static", {"filename": "style.css"}),
        ("tasks.index", {"_anchor": "oben"}),
    ]
    links = app.jinja_env.globals["url_for"]
    assert callable(links)
    with app.test_request_context("/", base_url=root):
        for endpoint, values in cases:
            for _ in range(2):  # built, then kept
                assert links(endpoint, **values) == flask.url_for(endpoint, **values)
