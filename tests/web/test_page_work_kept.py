"""What a page keeps between requests since issue 29's second step, and that it says what it
said before: the signing of the session cookie and the CSRF token built once per key, the
navigation rendered once per role, a link's query string joined without urlencode, the
URL's text checked in one pass."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import flask
import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask_wtf import csrf as flask_wtf_csrf
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import BadSignature, TimestampSigner
from web_fixtures import csrf_of, login

from workflow.web import signing
from workflow.web.pages import QUERY_SAFE, query_string
from workflow.web.session_cookie import SessionCookie

SESSIONS = [
    {"sid": "abc", "actor": "koordination"},
    {"sid": "x" * 43, "actor": "im", "csrf_token": "0" * 40, "_permanent": True},
    {"_flashes": [("message", "Gespeichert: <b>ä</b>")], "n": 3},
]


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """itsdangerous' clock stopped: signing the same thing twice gives the same text."""
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_765_000_000)


@pytest.mark.parametrize("data", SESSIONS)
@pytest.mark.parametrize("fallbacks", [[], ["an-older-key"]])
def test_the_session_cookie_is_what_flask_signs(
    app: Flask, frozen: None, data: dict[str, Any], fallbacks: list[str]
) -> None:
    app.config["SECRET_KEY_FALLBACKS"] = fallbacks
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    ours = SessionCookie().get_signing_serializer(app)
    assert flasks is not None and ours is not None
    for _ in range(2):  # signed, then with the kept key
        assert ours.dumps(data) == flasks.dumps(data)
        assert ours.loads(flasks.dumps(data)) == data
        assert flasks.loads(ours.dumps(data)) == data


def test_a_cookie_of_an_older_key_still_opens_and_a_forged_one_does_not(app: Flask) -> None:
    old_key = app.secret_key
    cookie = SessionCookie().get_signing_serializer(app).dumps({"sid": "abc"})  # type: ignore[union-attr]
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    app.secret_key = "a-new-key"
    ours = SessionCookie().get_signing_serializer(app)
    assert ours is not None
    assert ours.loads(cookie) == {"sid": "abc"}
    with pytest.raises(BadSignature):
        ours.loads(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    app.config["SECRET_KEY_FALLBACKS"] = []
    with pytest.raises(BadSignature):  # the old key no longer named: refused
        SessionCookie().get_signing_serializer(app).loads(cookie)  # type: ignore[union-attr]


def test_the_csrf_token_is_flask_wtfs(app: Flask, frozen: None) -> None:
    with app.test_request_context("/"):
        flask.session["csrf_token"] = "f" * 40
        ours = signing.generate_csrf()
        assert signing.generate_csrf() == ours  # kept for the request
        del flask.g.csrf_token
        assert flask_wtf_csrf.generate_csrf() == ours
        flask_wtf_csrf.validate_csrf(ours)  # what a POST's check does
    with app.test_request_context("/"):  # a session without a raw token gets one
        token = signing.generate_csrf()
        assert len(flask.session["csrf_token"]) == 40
        flask_wtf_csrf.validate_csrf(token)
    assert app.jinja_env.globals["csrf_token"] is signing.generate_csrf
    with app.test_request_context("/"):
        context: dict[str, Any] = {}
        app.update_template_context(context)
        assert context.get("csrf_token", signing.generate_csrf) is signing.generate_csrf


def test_a_post_with_the_pages_token_passes_and_without_it_does_not(app: Flask) -> None:
    browser = login(app, "koordination")  # its token comes from a page (signing.py's)
    assert browser.client.post("/bulk", data={"x": "1"}).status_code == 400
    assert browser.post("/bulk", data={}).status_code == 200


OLD_NAVIGATION = """{% if me %}
    <nav aria-label="Hauptnavigation">
      <ul>
        <li><a href="{{ url_for('tasks.index') }}">Meine Aufgaben</a></li>
        {% if me.role == 'coordinator' %}
        <li><a href="{{ url_for('proposals.worklist') }}">Arbeitsliste</a></li>
        <li><a href="{{ url_for('proposals.proposal_list') }}">Vorschläge</a></li>
        <li><a href="{{ url_for('bulk.page') }}">Sammelaktion</a></li>
        <li><a href="{{ url_for('audit.page') }}">Prüfprotokoll</a></li>
        {% elif me.role == 'ministry' %}
        <li><a href="{{ url_for('proposals.proposal_list', lead=me.ministry) }}">Meine Vorhaben</a></li>
        <li><a href="{{ url_for('proposals.worklist') }}">Fristen</a></li>
        <li><a href="{{ url_for('proposals.proposal_list') }}">Alle Vorschläge</a></li>
        {% elif me.role == 'forum_lead' %}
        <li><a href="{{ url_for('proposals.proposal_list', themenforum=me.forum) }}">Mein Themenforum</a></li>
        <li><a href="{{ url_for('proposals.proposal_list') }}">Alle Vorschläge</a></li>
        {% elif me.role == 'auditor' %}
        <li><a href="{{ url_for('audit.page') }}">Prüfprotokoll</a></li>
        <li><a href="{{ url_for('proposals.proposal_list') }}">Vorschläge</a></li>
        {% endif %}
        {% if may_create_proposals %}<li><a href="{{ url_for('create.new') }}">Neuer Vorschlag</a></li>{% endif %}
      </ul>
    </nav>
    <form class="logout" method="post" action="{{ url_for('auth.logout') }}">
      <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
      <span>{{ me.name }} ({{ role_label }})</span>
      <button type="submit">Abmelden</button>
    </form>
    {% endif %}"""  # noqa: E501


@pytest.mark.parametrize("root", ["http://localhost/", "http://localhost/ruhrflow/"])
def test_the_navigation_is_what_the_template_wrote_for_every_role(app: Flask, root: str) -> None:
    browsers = {
        actor: login(app, actor) for actor in ("koordination", "im", "forum-03", "pruefung")
    }
    for _ in range(2):  # rendered, then kept: each role its own, in turns
        for actor, browser in browsers.items():
            html = browser.client.get("/worklist", base_url=root).get_data(as_text=True)
            with app.test_request_context("/worklist", base_url=root):
                flask.g.actor = actor
                context: dict[str, Any] = {}
                app.update_template_context(context)
                flask.g.csrf_token = csrf_of(html)  # the page's token (signed this second)
                expected = app.jinja_env.from_string(OLD_NAVIGATION).render(context)
            assert expected in html, actor
    ministry = browsers["im"].client.get("/worklist").get_data(as_text=True)
    assert "Meine Vorhaben" in ministry and "Sammelaktion" not in ministry


def test_the_navigation_follows_the_host_when_links_name_it(app: Flask, runtime: Any) -> None:
    app.config["SERVER_NAME"] = "ruhrflow.example"
    browser = login(app, "koordination")
    html = browser.client.get("/worklist").get_data(as_text=True)
    assert 'href="/proposals"' in html  # built for the page, not kept


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["q", "state", "page", "format", "lead", "x y", "ä"]),
            st.one_of(st.integers(-5, 10**6), st.text(max_size=12)),
        ),
        max_size=5,
    )
)
def test_a_query_string_is_what_urlencode_makes(query: list[tuple[str, str | int]]) -> None:
    assert query_string(query) == urlencode(query, safe=QUERY_SAFE)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/proposals?state=implementation&q=a%09b", 200),  # a TAB in a search is text
        ("/proposals?state=implementation&q=a%00b", 400),
        ("/proposals?q=ok&x%01=1", 400),
        ("/proposals?q=%E2%80%AEabc", 400),  # a bidi control character
        ("/proposals%09", 400),
        ("/proposals?page=2", 200),
    ],
)
def test_the_urls_text_is_checked_as_before(app: Flask, url: str, status: int) -> None:
    browser = login(app, "koordination")
    assert browser.client.get(url).status_code == status


@pytest.mark.parametrize("query", ["", "?state=implementation", "?q=rk", "?lead=IM"])
def test_the_lists_total_counts_every_matching_proposal(
    app: Flask, runtime: Any, query: str
) -> None:
    # the count reads ``SELECT 1`` rows of the filter (with no filter: of the table)
    from workflow.web import reads

    args: dict[str, str] = {}
    if query:
        name, _, value = query[1:].partition("=")
        args[name] = value
    expected = len(reads.proposal_rows(runtime, reads.ListQuery.from_args(args)))
    html = login(app, "koordination").client.get(f"/proposals{query}").get_data(as_text=True)
    assert f"<p>{expected} Vorschläge · Herunterladen:" in html
