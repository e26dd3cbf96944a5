"""The web application through Flask's test client, on SQLite and PostgreSQL.

Each test reads as given / when / then; the engine does the work, so these tests prove the
wiring: who is asking, what they may do, and that the pages are safe.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from web_fixtures import PASSWORD, XSS_TITLE, csrf_of, login

from workflow import Runtime, Settings


def history_length(runtime: Runtime, key: str) -> int:
    from workflow.cli.advance import history_rows

    return len(history_rows(runtime, key))


def test_the_login_page_has_username_password_and_a_csrf_token(app: Flask) -> None:
    html = app.test_client().get("/login").get_data(as_text=True)
    assert 'name="username"' in html and 'name="password"' in html
    assert 'type="hidden" name="csrf_token"' in html


def test_a_visitor_without_session_is_sent_to_login(app: Flask) -> None:
    response = app.test_client().get("/proposals/RK-03-01")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_login_redirects_and_sets_a_safe_cookie(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "koordination", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_refuses_a_wrong_password_and_logs_it(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    with caplog.at_level(logging.INFO, logger="workflow.web"):
        response = client.post(
            "/login", data={"username": "koordination", "password": "falsch", "csrf_token": token}
        )
    assert response.status_code == 401
    assert "Benutzername oder Passwort ist falsch" in response.get_data(as_text=True)
    assert "login failed for 'koordination'" in caplog.text


def test_login_without_csrf_token_is_refused(app: Flask) -> None:
    response = app.test_client().post(
        "/login", data={"username": "koordination", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_repeated_failures_lock_the_user_name(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for _ in range(5):
        client.post("/login", data={"username": "im", "password": "x", "csrf_token": token})
    response = client.post(
        "/login", data={"username": "im", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429


def test_coordinator_approves_through_form_and_confirm_step(app: Flask, runtime: Runtime) -> None:
    # given a coordinator on the page of a proposal in the cabinet
    b = login(app, "koordination")
    page = b.client.get("/proposals/RK-03-01").get_data(as_text=True)
    assert "/proposals/RK-03-01/actions/approve" in page
    form = b.client.get("/proposals/RK-03-01/actions/approve").get_data(as_text=True)
    assert 'name="field_decision_date"' in form
    # when they review, then confirm
    review = b.post(
        "/proposals/RK-03-01/actions/approve",
        {"step": "review", "field_decision_date": "2019-11-05", "comment": "Kabinett"},
    )
    assert review.status_code == 200  # type: ignore[attr-defined]
    assert "Bitte bestätigen" in review.get_data(as_text=True)  # type: ignore[attr-defined]
    before = history_length(runtime, "RK-03-01")
    done = b.post(
        "/proposals/RK-03-01/actions/approve",
        {"step": "confirm", "field_decision_date": "2019-11-05", "comment": "Kabinett",
         "expected_version": "5"},
    )  # fmt: skip
    # then the proposal is approved with one more history entry, shown on its page
    assert done.status_code == 303, done.get_data(as_text=True)  # type: ignore[attr-defined]
    assert history_length(runtime, "RK-03-01") == before + 1
    page = b.client.get("/proposals/RK-03-01").get_data(as_text=True)
    assert "Vom Kabinett beschlossen" in page and "Kabinett" in page


def test_a_multi_line_comment_from_a_textarea_is_kept_with_lf(app: Flask, runtime: Runtime) -> None:
    # given a coordinator whose browser sends the textarea's line breaks as CRLF (HTML forms)
    b = login(app, "koordination")
    comment = "Kabinett vom 5.11.2019\r\nTOP 3"
    # when they confirm the approval with it
    done = b.post(
        "/proposals/RK-03-01/actions/approve",
        {"step": "confirm", "field_decision_date": "2019-11-05", "comment": comment,
         "expected_version": "5"},
    )  # fmt: skip
    # then it is accepted (the input policy refuses CR, issue 18.9) and stored with LF
    assert done.status_code == 303, done.get_data(as_text=True)  # type: ignore[attr-defined]
    from workflow.cli.advance import history_rows

    (entry,) = [e for e in history_rows(runtime, "RK-03-01") if e["trigger"] == "approve"]
    assert entry["comment"] == "Kabinett vom 5.11.2019\nTOP 3"


def test_a_stale_confirm_is_a_conflict_and_writes_nothing(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    before = history_length(runtime, "RK-03-01")
    response = b.post(
        "/proposals/RK-03-01/actions/approve",
        {"step": "confirm", "field_decision_date": "2019-11-05", "expected_version": "1"},
    )
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert history_length(runtime, "RK-03-01") == before


def test_a_blocked_action_shows_the_guards_reason(app: Flask) -> None:
    b = login(app, "koordination")
    page = b.client.get("/proposals/RK-03-03").get_data(as_text=True)
    assert "disabled" in page
    # in German, with what the step requires; no developer text (guard ids, English)
    assert "Noch keine Stellungnahme von Kommunen" in page
    assert "(Voraussetzung: Kommunen, IHK, HWK und Verbände haben Stellung genommen" in page
    assert "guard" not in page and "consultation_complete" not in page


def test_ministry_reports_progress_on_its_own_project(app: Flask, runtime: Runtime) -> None:
    b = login(app, "im")
    form = b.client.get("/proposals/RK-03-02/actions/report_progress").get_data(as_text=True)
    assert 'type="number"' in form and 'max="100"' in form
    done = b.post(
        "/proposals/RK-03-02/actions/report_progress",
        {"step": "confirm", "field_progress": "40", "comment": "Ausschreibung läuft",
         "expected_version": str(_version(runtime, "RK-03-02"))},
    )  # fmt: skip
    assert done.status_code == 303  # type: ignore[attr-defined]
    from workflow.cli.advance import history_rows

    assert history_rows(runtime, "RK-03-02")[-1]["trigger"] == "report_progress"


def _version(runtime: Runtime, key: str) -> int:
    from workflow.cli.proposals import show_detail

    return int(show_detail(runtime, key)["version"])


def test_a_ministry_acting_on_another_ministrys_proposal_gets_403(
    app: Flask, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    b = login(app, "im")
    before = history_length(runtime, "RK-03-04")  # lead: VM
    response = b.post(
        "/proposals/RK-03-04/actions/report_progress",
        {"step": "confirm", "field_progress": "40",
         "expected_version": str(_version(runtime, "RK-03-04"))},
    )  # fmt: skip
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert history_length(runtime, "RK-03-04") == before
    assert any(
        r.name == "workflow.web" and "refused" in r.getMessage() and "RK-03-04" in r.getMessage()
        for r in caplog.records
    )


def test_an_auditor_sees_no_actions_and_cannot_act(app: Flask, runtime: Runtime) -> None:
    b = login(app, "pruefung")
    page = b.client.get("/proposals/RK-03-01").get_data(as_text=True)
    assert "Nur lesender Zugriff" in page and "/actions/" not in page
    response = b.post(
        "/proposals/RK-03-01/actions/approve",
        {"step": "confirm", "field_decision_date": "2019-11-05", "expected_version": "5"},
    )
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert b.client.get("/audit").status_code == 200
    assert b.client.get("/bulk").status_code == 403


def test_a_form_post_without_csrf_token_is_refused(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    before = history_length(runtime, "RK-03-01")
    response = b.client.post(
        "/proposals/RK-03-01/actions/approve",
        data={"step": "confirm", "field_decision_date": "2019-11-05", "expected_version": "5"},
    )
    assert response.status_code == 400
    assert history_length(runtime, "RK-03-01") == before


def test_user_text_is_escaped(app: Flask) -> None:
    b = login(app, "koordination")
    for path in ("/proposals", "/proposals/RK-03-03"):
        html = b.client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert XSS_TITLE  # the title as stored


def test_security_headers_on_every_page(app: Flask) -> None:
    response = app.test_client().get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_no_inline_script_in_any_page(app: Flask) -> None:
    b = login(app, "koordination")
    for path in ("/worklist", "/proposals", "/proposals/RK-03-01", "/bulk", "/audit"):
        html = b.client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "onclick" not in html, path


def test_no_secret_in_pages_and_no_traceback_on_errors(app: Flask) -> None:
    b = login(app, "koordination")
    secret = str(app.config["SECRET_KEY"])
    for path in ("/worklist", "/proposals", "/proposals/RK-03-01", "/audit", "/nowhere"):
        html = b.client.get(path).get_data(as_text=True)
        assert secret not in html and "Traceback" not in html
    missing = b.client.get("/proposals/RK-99-99")
    assert missing.status_code == 404
    assert "Traceback" not in missing.get_data(as_text=True)


def test_an_internal_error_shows_no_traceback(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow.web import reads

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(reads, "open_deadlines", broken)
    app.config["TESTING"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    b = login(app, "koordination")
    response = b.client.get("/worklist")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body


def test_a_disabled_account_is_logged_out_at_once(app: Flask, runtime: Runtime) -> None:
    from datetime import UTC, datetime

    from workflow.access import accounts

    b = login(app, "im")
    assert b.client.get("/proposals").status_code == 200
    accounts.disable(runtime.store, "im", datetime.now(UTC))
    assert b.client.get("/proposals").status_code == 302


def test_a_password_change_ends_the_accounts_open_sessions(
    app: Flask, runtime: Runtime, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from workflow.access import accounts
    from workflow.cli.main import cli

    # given the IM logged in in two browsers, another account logged in, and an API token
    first, second, other = login(app, "im"), login(app, "im"), login(app, "vm")
    _, token = accounts.create_token(runtime.store, "im", datetime.now(UTC), expires_in=None)
    # when an administrator sets a new password
    new_password = "ein-ganz-neues-passwort"
    result = CliRunner().invoke(
        cli,
        ["--db", settings.database_url, "user", "set-password", "im", "--password-stdin"],
        input=new_password + "\n",
    )
    assert result.exit_code == 0, result.output
    # then both of its sessions have ended (the old cookie is sent to login), logged
    with caplog.at_level(logging.INFO, logger="workflow.web"):
        for browser in (first, second):
            response = browser.client.get("/proposals")
            assert response.status_code == 302
            assert response.headers["Location"].startswith("/login")
    assert "refused: session of im ended by a password change" in caplog.text
    # and a cookie once ended stays ended (the session was cleared)
    assert first.client.get("/proposals").status_code == 302
    # while the other account's session and the account's token go on
    assert other.client.get("/proposals").status_code == 200
    api = app.test_client().get("/api/proposals", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    # and the new password logs in, the old one no longer
    assert login(app, "im", new_password).client.get("/proposals").status_code == 200
    client = app.test_client()
    csrf = csrf_of(client.get("/login").get_data(as_text=True))
    refused = client.post(
        "/login", data={"username": "im", "password": PASSWORD, "csrf_token": csrf}
    )
    assert refused.status_code == 401


def test_a_session_ended_by_disable_stays_ended_when_enabled_again(
    app: Flask, runtime: Runtime
) -> None:
    from datetime import UTC, datetime

    from workflow.access import accounts

    b = login(app, "im")
    accounts.disable(runtime.store, "im", datetime.now(UTC))
    accounts.set_password(runtime.store, runtime.directory, "im", PASSWORD, datetime.now(UTC))
    assert b.client.get("/proposals").status_code == 302
    assert login(app, "im").client.get("/proposals").status_code == 200


def test_the_list_filters_searches_pages_and_downloads(app: Flask) -> None:
    b = login(app, "koordination")
    html = b.client.get("/proposals?state=proposed").get_data(as_text=True)
    assert "RK-05-01" in html and "RK-03-01" not in html
    html = b.client.get("/proposals?q=radschnell").get_data(as_text=True)
    assert "RK-03-01" in html and "RK-03-02" not in html
    html = b.client.get("/proposals?themenforum=5&sort=title&order=desc").get_data(as_text=True)
    assert html.index("RK-05-03") < html.index("RK-05-02") < html.index("RK-05-01")
    csv_text = b.client.get("/proposals?format=csv&lead=VM").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("\ufeffKennung;Status;")  # for German Excel
    assert len(csv_text.splitlines()) == 3
    rows = b.client.get("/proposals?format=json&lead=VM").get_json()
    assert [r["key"] for r in rows] == ["RK-03-01", "RK-03-04"]


def test_bulk_preview_then_partial_apply(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    form = {"state": "proposed", "trigger": "admit", "field_decision_date": "2019-11-05"}
    preview = b.post("/bulk", {"step": "preview", **form})
    html = preview.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "RK-05-01" in html and "wird ausgeführt" in html
    assert "wird abgelehnt: Gesichert sind 0 €, weniger als die Kostenschätzung" in html
    assert "guard" not in html and "financing_secured" not in html
    keys = ["RK-05-01", "RK-05-02", "RK-05-03"]
    refused = b.client.post(
        "/bulk", data={"csrf_token": b.csrf, "step": "apply", "mode": "all", "keys": keys, **form}
    )
    assert refused.status_code == 409
    assert "Nichts wurde angewendet" in refused.get_data(as_text=True)
    done = b.client.post(
        "/bulk",
        data={"csrf_token": b.csrf, "step": "apply", "mode": "partial", "keys": keys, **form},
    )
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "1 ausgeführt, 2 abgelehnt" in text
    from workflow.cli.proposals import show_detail

    assert show_detail(runtime, "RK-05-01")["state"] == "funded"


def test_the_audit_log_filters_and_exports(app: Flask) -> None:
    b = login(app, "pruefung")
    html = b.client.get("/audit?key=RK-03-01").get_data(as_text=True)
    assert "RK-03-01" in html and "RK-03-02" not in html
    export = b.client.get("/audit/export?format=csv")
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]


def test_logout_ends_the_session(app: Flask) -> None:
    b = login(app, "koordination")
    assert b.post("/logout", {}).status_code == 303  # type: ignore[attr-defined]
    assert b.client.get("/proposals").status_code == 302


def test_a_forum_lead_sees_their_forum_and_submits_an_idea(app: Flask, runtime: Runtime) -> None:
    b = login(app, "forum-03")
    start = b.client.get("/").get_data(as_text=True)  # „Meine Aufgaben“: its forum's idea
    assert 'href="/proposals/RK-03-05/actions/submit"' in start and "RK-05-01" not in start
    html = b.client.get("/proposals?themenforum=3").get_data(as_text=True)
    assert "RK-03-05" in html and "RK-05-01" not in html
    done = b.post(
        "/proposals/RK-03-05/actions/submit",
        {"step": "confirm", "expected_version": str(_version(runtime, "RK-03-05"))},
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert _version(runtime, "RK-03-05") == 2


def test_login_redirects_only_to_local_paths(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example", "/"),
                             ("/proposals/RK-03-01", "/proposals/RK-03-01")):  # fmt: skip
        client.post("/logout", data={"csrf_token": token})
        token = csrf_of(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login",
            data={"username": "im", "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert response.headers["Location"] == expected


def test_secure_cookies_when_configured(runtime: Runtime, settings: Any, fast_hashes: None) -> None:
    from dataclasses import replace

    from workflow.web import create_app

    raw = {**settings.raw, "web": {"secure_cookies": True}}
    secure_app = create_app(replace(settings, raw=raw), runtime=runtime)
    assert secure_app.config["SESSION_COOKIE_SECURE"] is True


def test_the_vendored_htmx_is_the_pinned_release() -> None:
    import hashlib
    from pathlib import Path

    import workflow.web

    static = Path(workflow.web.__file__).parent / "static" / "htmx-2.0.4.min.js"
    digest = hashlib.sha256(static.read_bytes()).hexdigest()
    assert digest == "e209dda5c8235479f3166defc7750e1dbcd5a5c1808b7792fc2e6733768fb447"
    assert digest in (workflow.web.__doc__ or "")


def test_a_long_list_counts_only_a_little_past_the_page(
    app: Flask, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow.app.reads import list_rows
    from workflow.web import reads

    # given pages of two rows, counted at most two rows past the page (the real figures are
    # 50 and 1,000: a COUNT over every matching row would grow with the table)
    monkeypatch.setattr(reads, "PAGE_SIZE", 2)
    monkeypatch.setattr(reads, "COUNT_AHEAD", 2)
    total = len(list_rows(runtime))
    last = -(-total // 2)
    b = login(app, "koordination")
    # when the first page is shown
    html = b.client.get("/proposals").get_data(as_text=True)
    # then it says there are more than it counted, and links the next page
    assert "Mehr als 2 Vorschläge" in html and "Seite 1 von mehr als 1" in html
    assert 'rel="next"' in html
    # and the last page knows the exact total, and links no further
    html = b.client.get(f"/proposals?page={last}").get_data(as_text=True)
    assert f"<p>{total} Vorschläge" in html and f"Seite {last} von {last}</span>" in html
    assert 'rel="next"' not in html
    # and a page past the end shows the last one
    beyond = b.client.get(f"/proposals?page={last + 5}").get_data(as_text=True)
    assert f"Seite {last} von {last}</span>" in beyond


def test_the_downloads_are_the_whole_list(app: Flask, runtime: Runtime) -> None:
    from workflow.app.machine import machine_row
    from workflow.app.reads import list_rows

    b = login(app, "koordination")
    everything = [machine_row(r) for r in list_rows(runtime)]  # as `proposal list --format json`
    response = b.client.get("/proposals?format=json")
    assert response.is_streamed
    assert response.get_json() == everything
    csv_lines = b.client.get("/proposals?format=csv").get_data(as_text=True).splitlines()
    keys = [line.split(";")[0] for line in csv_lines]
    assert keys == ["\ufeffKennung"] + [r["key"] for r in everything]


def test_the_json_download_is_written_as_json_dumps_writes_it() -> None:
    import json

    from workflow.web.proposals.lists import json_chunks as _json_chunks

    for n in (0, 1, 2, 3, 5):
        rows = [{"key": f"RK-{i}", "text": "a\nb <c>", "list": [1, {"x": []}], "none": None}
                for i in range(n)]  # fmt: skip
        streamed = "".join(_json_chunks(iter(rows), batch=2))
        assert streamed == json.dumps(rows, ensure_ascii=False, indent=2)


def test_row_links_are_what_url_for_builds(app: Flask) -> None:
    from flask import url_for

    from workflow.web.pages import proposal_href_builder

    with app.test_request_context("/", base_url="http://example.org/ruhrflow"):
        href = proposal_href_builder()
        for key in ("RK-03-01", "a b", "ä/ö?#&x", "%41", "x;y=z@"):
            assert href(key) == url_for("proposals.proposal_page", key=key)


def test_a_page_reads_in_one_transaction_on_postgresql(app: Flask, runtime: Runtime) -> None:
    from sqlalchemy import event

    # given a logged-in coordinator, and a count of the connections the requests take
    b = login(app, "koordination")
    checkouts: list[object] = []
    event.listen(runtime.store.engine, "checkout", lambda *args: checkouts.append(args[0]))
    # when the proposal page is shown (the session's account check, then the proposal, its
    # history, deadlines, notices, statements and funding) and then downloaded streaming
    assert b.client.get("/proposals/RK-03-01").status_code == 200
    page = len(checkouts)
    assert b.client.get("/proposals?format=json").is_streamed
    download = len(checkouts) - page
    # then on PostgreSQL the page took one connection, for one read transaction, and the
    # download one for its account check and one for the rows, which stream after the view
    # has returned (Flask ends the request's transaction then); SQLite costs no round trip
    # per transaction and shares none (Store.shared_read)
    if runtime.store.dialect == "postgresql":
        assert (page, download) == (1, 2)
    else:
        assert page > 1 and download > 1


def test_a_database_of_sample_data_says_so_on_every_page(
    app: Flask, runtime: Runtime, settings: Settings
) -> None:
    from workflow.store.installation import mark_sample_data
    from workflow.web import create_app

    # a real database: no note
    assert 'class="sample"' not in app.test_client().get("/login").get_data(as_text=True)
    # a database `ruhrflow demo` made says where its data comes from, above every page
    with runtime.store.write() as conn:
        mark_sample_data(conn, "Beispieldaten <erfunden>.")
    sample = create_app(settings, runtime=runtime)
    b = login(sample, "koordination")
    for path in ("/login", "/worklist", "/proposals", "/proposals/RK-03-01"):
        html = b.client.get(path).get_data(as_text=True)
        assert "<strong>Hinweis:</strong> Beispieldaten &lt;erfunden&gt;." in html, path


def test_row_links_are_the_escaped_link_and_key(app: Flask) -> None:
    from flask import url_for
    from markupsafe import escape

    from workflow.web.pages import proposal_link_builder

    for base in ("http://example.org/", "http://example.org/ruhr&flow'<x>"):
        with app.test_request_context("/", base_url=base):
            link = proposal_link_builder()
            for key in ("RK-03-01", "a b", "ä/ö?#&x", "%41", "x;y=z@", "<b>", "a'b\"c"):
                href = url_for("proposals.proposal_page", key=key)
                assert link(key) == f'<a href="{escape(href)}">{escape(key)}</a>', key
