"""``ruhrflow serve`` under a supervisor: gunicorn's settings in layers, one log format,
metrics summed over its workers (issue #26)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time as _time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from workflow.app.logs import LogSettings, make_handler
from workflow.app.settings import Settings
from workflow.web.server import ServeOptions, make_server

REPO = Path(__file__).resolve().parents[2]


def server_for(settings: Settings, options: ServeOptions) -> object:
    options_log = LogSettings()
    return make_server(settings, options, options_log, make_handler(options_log))


def test_ruhrflow_sets_a_worker_timeout_no_control_socket_and_its_own_access_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    cfg = server_for(settings, ServeOptions()).cfg  # type: ignore[attr-defined]
    assert (cfg.timeout, cfg.workers, cfg.bind) == (300, 2, ["127.0.0.1:8000"])
    assert cfg.accesslog is None
    if "control_socket" in cfg.settings:  # gunicorn >= 25.1 has one
        assert cfg.control_socket_disable is True


def test_the_config_file_then_gunicorn_cmd_args_then_serves_options_win(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a gunicorn config file and GUNICORN_CMD_ARGS
    config = tmp_path / "gunicorn.conf.py"
    config.write_text("workers = 5\ntimeout = 77\nkeepalive = 9\n")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 3 --graceful-timeout 11")
    # when serve is told --port and --timeout on its command line
    options = ServeOptions(
        port=8123, timeout=120, config_file=str(config), explicit=frozenset({"port", "timeout"})
    )
    cfg = server_for(settings, options).cfg  # type: ignore[attr-defined]
    # then each layer wins over the one before it
    assert cfg.keepalive == 9  # the file
    assert cfg.workers == 3  # the variable over the file
    assert cfg.graceful_timeout == 11
    assert cfg.timeout == 120 and cfg.bind == ["127.0.0.1:8123"]  # the options over both


def test_the_trusted_proxies_are_gunicorns_forwarded_allow_ips_too(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    raw = dict(settings.raw)
    raw["web"] = {**dict(raw["web"]), "trusted_proxies": ["10.1.2.3"]}
    cfg = server_for(replace(settings, raw=raw), ServeOptions()).cfg  # type: ignore[attr-defined]
    assert cfg.forwarded_allow_ips == ["10.1.2.3/32"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``ruhrflow serve`` with two workers (from GUNICORN_CMD_ARGS), the JSON log format."""
    port = free_port()
    config = tmp_path / "ruhrflow.toml"
    config.write_text('[logging]\nformat = "json"\n[monitoring]\nscheduler_max_age_seconds = 0\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    env["GUNICORN_CMD_ARGS"] = "--workers 2"
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "workflow", "--config", str(config), "--db", database_url,
           "serve", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=log.open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = _time.monotonic() + 60
        while _time.monotonic() < deadline:  # polling a real server, not modelling time
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                _time.sleep(0.2)
        yield base, log
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_serve_answers_counts_every_worker_and_logs_one_format(
    served: tuple[str, Path],
) -> None:
    base, log = served
    # when a client makes ten requests with a request id, spread over both workers
    for _ in range(10):
        status, headers, _ = get(f"{base}/healthz", {"X-Request-ID": "probe-1"})
        assert status == 200 and headers["X-Request-ID"] == "probe-1"
    # then the metrics count all ten, whichever worker answers the scrape
    status, _, text = get(f"{base}/metrics")
    assert status == 200
    found = re.search(
        r'ruhrflow_http_requests_total\{method="GET",route="/healthz",status="200"\} (\d+)', text
    )
    assert found and int(found.group(1)) >= 10, text
    assert get(f"{base}/readyz")[0] == 200
    # and every line of the log, gunicorn's too, is one JSON object with a zoned time
    lines = log.read_text().splitlines()
    import json

    entries = [json.loads(line) for line in lines]
    assert any(e["logger"].startswith("gunicorn") for e in entries)
    assert not any(e["logger"].startswith("alembic") for e in entries)  # probes read the schema
    assert all(re.search(r"[+-]\d\d:\d\d$", e["time"]) for e in entries)
    probes = [e for e in entries if e.get("request_id") == "probe-1"]
    assert len(probes) == 10 and all(e["logger"] == "ruhrflow.access" for e in probes)


def test_without_its_database_serve_waits_then_exits_3_without_a_traceback(
    database_url: str, tmp_path: Path
) -> None:
    # given a database that is not there, and a wait of one second
    config = tmp_path / "ruhrflow.toml"
    config.write_text("[database]\nwait_seconds = 1\nwait_max_interval_seconds = 0.5\n")
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/no/such/dir/ruhrflow.db"
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    # when serve starts
    done = subprocess.run(
        [sys.executable, "-m", "workflow", "--config", str(config), "--db", url, "serve",
         "--port", str(free_port())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # then it tried more than once, one line each, and gave up with exit 3 before gunicorn
    assert done.returncode == 3, done.stderr
    assert len([ln for ln in done.stderr.splitlines() if "(try " in ln]) >= 2, done.stderr
    assert "Traceback" not in done.stderr and "Booting worker" not in done.stderr


def test_a_postgresql_outage_makes_readyz_503_and_pages_generic_until_it_is_back(
    served: tuple[str, Path], database_url: str, postgres_admin_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("an outage of a server; SQLite's errors: tests/web/test_operations.py")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base, log = served
    name = make_url(database_url).database
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    assert get(f"{base}/readyz")[0] == 200
    try:
        # when the database refuses every connection and drops the open ones
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
        # then the load balancer is told, and a client learns nothing of the database
        for _ in range(4):  # whichever worker answers, with a dropped or a refused connection
            status, _, body = get(f"{base}/readyz")
            assert status == 503 and '"database":{"ok":false}' in body.replace(" ", "")
            status, _, body = get(f"{base}/api/proposals", {"Authorization": "Bearer x"})
            assert status == 503 and name not in body and "5432" not in body, body
        assert get(f"{base}/healthz")[0] == 200
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    # and once it is back, the service is ready again by itself
    deadline = _time.monotonic() + 30
    while get(f"{base}/readyz")[0] != 200 and _time.monotonic() < deadline:
        _time.sleep(0.2)  # polling a real server, not modelling time
    assert get(f"{base}/readyz")[0] == 200
    assert "Traceback" not in log.read_text()
