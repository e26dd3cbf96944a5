"""What the operator sees of the web application: /healthz, /readyz, /metrics, request ids,
the access and action lines, and a database outage without its details (issue #26)."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from web_fixtures import csrf_of

from workflow.access import accounts
from workflow.app.health import MonitoringSettings
from workflow.app.logs import LogSettings, configure_logging
from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import Settings, secret_values
from workflow.scheduler.state import SchedulerState, write_state
from workflow.web import create_app

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
FAR = {"REMOTE_ADDR": "198.51.100.7"}


def with_sections(settings: Settings, **sections: dict[str, Any]) -> Settings:
    raw = dict(settings.raw)
    for name, values in sections.items():
        raw[name] = {**dict(raw.get(name) or {}), **values}
    return replace(settings, raw=raw)


def app_for(runtime: Runtime, settings: Settings) -> Flask:
    flask_app = create_app(settings, runtime=runtime)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged meanwhile, in the JSON format, as the service would write it."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(LogSettings(format="json", level="INFO"), stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def unreachable_url(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/no/such/dir/ruhrflow.db"
    return "postgresql+psycopg://ruhrflow_secret_login@127.0.0.1:1/ruhrflow_secret_db"


def test_healthz_answers_without_login_and_without_the_database(
    app: Flask, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    # given the database gone
    state = app.extensions["ruhrflow"]
    state.runtime = open_runtime(
        replace(settings, database_url=unreachable_url(database_url, tmp_path))
    )
    # when a load balancer asks whether the process answers, then it does
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_200_with_a_current_database_and_a_recent_scheduler(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    # given a fresh database (no notice waits) and a scheduler that swept and delivered a
    # minute ago
    state_file = tmp_path / "scheduler-state.json"
    scheduler = SchedulerState()
    now = datetime.now(UTC).timestamp()
    scheduler.record("sweep", now - 60, 0.2, ok=True)
    scheduler.record("delivery", now - 60, 0.1, ok=True)
    write_state(state_file, scheduler)
    ready = app_for(
        runtime, with_sections(settings, monitoring={"scheduler_state_file": str(state_file)})
    )
    # when asked, then it is ready and says why, without login
    response = ready.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    assert {"database", "schema", "scheduler_sweep", "scheduler_delivery", "notices"} <= set(
        body["checks"]
    )


def test_readyz_is_503_while_a_notice_waits_longer_than_the_limit(
    app: Flask, runtime: Runtime, settings: Settings
) -> None:
    # given the round's notices, enqueued in 2019 and never sent, and no scheduler check
    quiet = with_sections(settings, monitoring={"scheduler_max_age_seconds": 0})
    response = app_for(runtime, quiet).test_client().get("/readyz")
    # then the service is not ready because of them
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["notices"]["ok"] is False and checks["notices"]["oldest_pending_seconds"] > 3600
    assert "scheduler_sweep" not in checks


def test_readyz_is_503_when_the_scheduler_never_ran(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    # given no state file of the scheduler where the configuration names it
    never = with_sections(settings, monitoring={"scheduler_state_file": str(tmp_path / "none")})
    response = app_for(runtime, never).test_client().get("/readyz")
    # then the service is not ready, and the failing check is named
    assert response.status_code == 503
    assert response.get_json()["checks"]["scheduler_sweep"]["ok"] is False


def test_readyz_is_503_without_secrets_when_the_database_is_unreachable(
    app: Flask, settings: Settings, database_url: str, tmp_path: Path, log_lines: io.StringIO
) -> None:
    # given the database gone
    bad = replace(settings, database_url=unreachable_url(database_url, tmp_path))
    app.extensions["ruhrflow"].runtime = open_runtime(bad)
    # when a load balancer asks
    response = app.test_client().get("/readyz")
    # then 503, the check named, and nothing of the URL in the answer
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert response.get_json()["checks"]["database"] == {"ok": False}
    for secret in ("secret", "127.0.0.1", ":1/", "no/such", "sqlite"):
        assert secret not in body
    # and the log has the reason in one line
    lines = [e for e in entries(log_lines) if e["logger"] == "ruhrflow.health"]
    assert len(lines) == 1 and "exception" not in lines[0]


def test_a_database_outage_gives_clients_a_generic_503_and_the_log_one_line(
    app: Flask, settings: Settings, database_url: str, tmp_path: Path, log_lines: io.StringIO
) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    # given the database gone
    bad = replace(settings, database_url=unreachable_url(database_url, tmp_path))
    app.extensions["ruhrflow"].runtime = open_runtime(bad)
    # when an anonymous client logs in, and another calls the API with a token
    page = client.post("/login", data={"username": "im", "password": "x", "csrf_token": token})
    api = client.get("/api/proposals", headers={"Authorization": "Bearer some-token"})
    # then both get 503 and a text that names no login, host, port or database
    assert (page.status_code, api.status_code) == (503, 503)
    assert api.get_json() == {
        "error": "service unavailable",
        "message": "Der Dienst ist vorübergehend nicht erreichbar."
        " Bitte versuchen Sie es später erneut.",
    }
    for body in (page.get_data(as_text=True), api.get_data(as_text=True)):
        for secret in ("secret", "127.0.0.1", "no/such", "sqlite", "psycopg"):
            assert secret not in body
    assert "vorübergehend nicht erreichbar" in page.get_data(as_text=True)
    # and the log has one line per request for the outage, no traceback
    outage = [e for e in entries(log_lines) if "database unavailable" in e["message"]]
    assert len(outage) == 2
    assert not any("exception" in e for e in entries(log_lines))


def test_metrics_are_open_to_loopback_in_the_prometheus_format(app: Flask) -> None:
    client = app.test_client()
    client.post("/login", data={"username": "im", "password": "falsch"})  # no CSRF: refused
    token = csrf_of(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "im", "password": "falsch", "csrf_token": token})
    # when the monitoring system on this host scrapes
    response = client.get("/metrics", environ_base=LOOPBACK)
    # then it gets the text format with the documented names
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    for name in (
        "ruhrflow_http_requests_total",
        "ruhrflow_http_request_duration_seconds_bucket",
        'ruhrflow_login_failures_total{reason="password"}',
        "ruhrflow_database_up 1.0",
        "ruhrflow_schema_current 1.0",
        'ruhrflow_notices{status="pending"}',
        "ruhrflow_notices_oldest_pending_age_seconds",
        "ruhrflow_deadlines_overdue",
    ):
        assert name in text, name
    assert 'route="/login",status="401"' in text


def test_metrics_are_refused_to_others_unless_they_bring_the_token(
    runtime: Runtime, settings: Settings, fast_hashes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUHRFLOW_METRICS_TOKEN", "a-long-metrics-token")
    client = app_for(runtime, settings).test_client()
    assert client.get("/metrics", environ_base=FAR).status_code == 403
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/metrics", environ_base=FAR, headers=wrong).status_code == 403
    right = {"Authorization": "Bearer a-long-metrics-token"}
    assert client.get("/metrics", environ_base=FAR, headers=right).status_code == 200
    # and the CLI masks it like every other secret of the environment
    assert "a-long-metrics-token" in secret_values(os.environ)


def test_behind_a_trusted_proxy_on_this_host_the_client_is_the_one_it_forwards(
    runtime: Runtime, settings: Settings, fast_hashes: None
) -> None:
    # given nginx on the same host, trusted: every request arrives from 127.0.0.1
    proxied = with_sections(settings, web={"trusted_proxies": ["127.0.0.1", "::1"]})
    client = app_for(runtime, proxied).test_client()
    outside = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    # when a client from outside asks through it, then it is refused (it is not loopback)
    assert client.get("/metrics", environ_base=LOOPBACK, headers=outside).status_code == 403
    # and a scraper on the host, through the proxy too, is let in
    inside = {"X-Forwarded-For": "127.0.0.1"}
    assert client.get("/metrics", environ_base=LOOPBACK, headers=inside).status_code == 200


def test_forwarded_headers_from_an_untrusted_proxy_are_not_believed(
    app: Flask, runtime: Runtime, settings: Settings
) -> None:
    # given no trusted proxy, a request from loopback that says it was forwarded
    client = app.test_client()
    claims = {"X-Forwarded-For": "127.0.0.1"}
    # then a far client cannot pose as loopback, and a proxied one of unknown origin is refused
    assert client.get("/metrics", environ_base=FAR, headers=claims).status_code == 403
    assert client.get("/metrics", environ_base=LOOPBACK, headers=claims).status_code == 403


def test_a_request_id_is_taken_or_made_returned_and_on_every_line_of_the_request(
    app: Flask, log_lines: io.StringIO
) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    log_lines.truncate(0)
    log_lines.seek(0)
    # when a login fails with the proxy's request id
    response = client.post(
        "/login",
        data={"username": "im", "password": "falsch", "csrf_token": token},
        headers={"X-Request-ID": "req-4711"},
    )
    # then the id comes back, and both lines of the request carry it
    assert response.headers["X-Request-ID"] == "req-4711"
    lines = entries(log_lines)
    assert [e["logger"] for e in lines] == ["workflow.web", "ruhrflow.access"]
    assert {e["request_id"] for e in lines} == {"req-4711"}
    access = lines[-1]
    assert (access["status"], access["method"], access["route"]) == (401, "POST", "/login")
    assert access["actor"] == "-" and access["duration_ms"] >= 0
    assert access["time"][-6] in "+-"  # with the zone's offset
    # and the access line keeps a query (an SSO callback's code) out of the log
    client.get("/login?next=/proposals&code=geheim-123")
    assert "geheim-123" not in log_lines.getvalue()
    # and an id that is not sane is replaced by one made here
    made = client.get("/healthz", headers={"X-Request-ID": "x" * 500 + " <script>"})
    assert len(made.headers["X-Request-ID"]) == 32


def test_a_successful_and_a_refused_action_each_get_a_line_with_actor_proposal_trigger(
    app: Flask, runtime: Runtime, log_lines: io.StringIO
) -> None:
    _, secret = accounts.create_token(
        runtime.store, "koordination", datetime.now(UTC), expires_in=None
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"trigger": "approve", "fields": {"decision_date": "2019-11-05"}, "comment": "K"}
    # when the coordinator approves, then tries the same again
    assert (
        client.post("/api/proposals/RK-03-01/advance", headers=headers, json=body).status_code
        == 200
    )
    refused = client.post("/api/proposals/RK-03-01/advance", headers=headers, json=body)
    assert refused.status_code == 409
    # then one action line and one refusal line, with who, what and which
    found = [e for e in entries(log_lines) if e.get("trigger") == "approve"]
    lines = [e for e in found if e["logger"] == "workflow.web"]
    assert [(e["level"], e["message"].split(":")[0], e["status"]) for e in lines] == [
        ("INFO", "action", 200),
        ("WARNING", "refused", 409),
    ]
    for e in found:
        assert (e["actor"], e["proposal"]) == ("koordination", "RK-03-01")
    # and the refusal's reason is on a line of the same request
    reasons = [e for e in found if "no trigger 'approve'" in e["message"]]
    assert reasons and reasons[0]["request_id"] == lines[1]["request_id"]


def test_monitoring_settings_refuse_a_bad_address() -> None:
    from workflow.errors import InvalidConfig

    with pytest.raises(InvalidConfig, match="metrics_allow"):
        MonitoringSettings.from_section({"metrics_allow": ["localhost:80"]})


def test_health_and_metrics_answer_by_address_where_trusted_hosts_are_set(
    runtime: Runtime, settings: Settings, fast_hashes: None
) -> None:
    # given an application that answers only to its name
    named = with_sections(settings, web={"trusted_hosts": ["ruhrflow.nrw.example"]})
    client = app_for(runtime, named).test_client()
    by_address = {"base_url": "http://127.0.0.1:8000"}
    # then a probe by address still gets its answer, while a page does not
    assert client.get("/healthz", **by_address).status_code == 200
    assert client.get("/metrics", **by_address).status_code == 200
    assert client.get("/readyz", **by_address).status_code in (200, 503)
    assert client.get("/login", **by_address).status_code == 400
