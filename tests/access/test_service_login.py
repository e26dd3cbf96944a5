"""The web application and the scheduler run as a login of the service role (#24.1).

People's logins only read; everything they do passes the service. So the service's role must
hold every right the web application (accounts, sessions, tokens, throttle, secret, the
process tables) and the scheduler (sweep, digest, delivery) need: tests/access/test_attacks.py
shows that people get nothing more, this file that the service gets enough.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from grants_support import drop_database_roles, drop_roles, roles_of
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from web_fixtures import PASSWORD, build_round, login

from workflow.access import accounts
from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import Settings, load_settings
from workflow.cli.main import cli
from workflow.web import create_app


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"RUHRFLOW_ACTOR": None})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture
def service_url(runtime: Runtime, settings: Settings, fast_hashes: None) -> Iterator[str]:
    """The round of the web tests, built by the owner, and a login of the service role."""
    owner = runtime.store.engine.url
    if owner.get_backend_name() != "postgresql":
        pytest.skip("roles exist only on PostgreSQL")
    url = owner.render_as_string(hide_password=False)
    build_round(runtime)
    accounts.set_password(runtime.store, runtime.directory, "koordination", PASSWORD,
                          datetime.now(UTC))  # fmt: skip
    name = f"rfs_service_{uuid.uuid4().hex[:8]}"
    try:
        assert invoke("--db", url, "db", "grants", "--apply").exit_code == 0
        admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{name}" LOGIN IN ROLE "{roles_of(url).service}"'))
        admin.dispose()
        mapped = invoke("--db", url, "db", "logins", "add", name, "ruhrflow")
        assert mapped.exit_code == 0, mapped.output
        yield make_url(url).set(username=name).render_as_string(False)
    finally:
        drop_roles(url, [name])
        drop_database_roles(url)


def test_the_web_application_runs_as_the_service_login(
    service_url: str, settings: Settings, tmp_path: Path
) -> None:
    # given the web application connected as the service's login
    config = tmp_path / "ruhrflow-test.toml"
    service = open_runtime(load_settings(config, database_url=service_url, env={}))
    try:
        app = create_app(service.settings, runtime=service)
        app.config["TESTING"] = True
        # when koordination logs in (throttle, session, secret), opens a proposal and approves
        # it with an API token
        browser = login(app, "koordination")
        page = browser.client.get("/proposals/RK-03-01")
        assert page.status_code == 200
        _, token = accounts.create_token(
            service.store, "koordination", datetime.now(UTC), expires_in=None
        )
        done = app.test_client().post(
            "/api/proposals/RK-03-01/advance",
            headers={"Authorization": f"Bearer {token}"},
            json={"trigger": "approve", "fields": {"decision_date": "2019-11-05"}},
        )
        # then the service's rights sufficed, and the entry is koordination's
        assert done.status_code == 200, done.get_json()
        assert done.get_json()["state"] == "approved"
    finally:
        service.close()


def test_the_scheduler_runs_as_the_service_login(service_url: str) -> None:
    # the sweep, the digest and the delivery; and an auditor's verification of the result
    for args in (("scheduler", "tick"), ("notices", "send"), ("audit", "verify", "--record")):
        result = invoke("--db", service_url, *args)
        assert result.exit_code == 0, (args, result.output)
