"""``/healthz``, ``/readyz`` and ``/metrics``: for a load balancer and a monitoring system.

No login (``app.identify`` leaves this blueprint alone, so not even the database is asked
who is calling). ``/healthz`` says only that the process answers. ``/readyz`` answers 200 or
503 with the checks as JSON (:func:`workflow.app.health.readiness`), never an error's text.
``/metrics`` is open to the addresses of ``[monitoring] metrics_allow`` (loopback by
default) — the client address as the trusted proxy gave it (:mod:`workflow.web.operations`);
a request that carries ``X-Forwarded-For`` from a proxy that is not trusted is refused,
since its real client is unknown — and to anyone presenting the token of
``RUHRFLOW_METRICS_TOKEN`` as ``Authorization: Bearer …``.
"""

from __future__ import annotations

import hmac
import logging
import os

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.wrappers import Response

from workflow.app import metrics
from workflow.app.health import MonitoringSettings, address_in, readiness, take_readings
from workflow.app.settings import Settings
from workflow.web.operations import UNTRUSTED_FORWARD
from workflow.web.state import web

log = logging.getLogger("workflow.web")
bp = Blueprint("ops", __name__)
OPTIONS = "ruhrflow.monitoring"
TOKEN = "ruhrflow.metrics_token"


def _options() -> MonitoringSettings:
    found = current_app.extensions[OPTIONS]
    assert isinstance(found, MonitoringSettings)
    return found


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers (nothing else is checked)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """200 when the service can do its work, else 503; which check failed, as JSON."""
    w, options = web(), _options()
    result = readiness(take_readings(w.runtime.store, w.now(), options), options)
    if not result["ready"]:
        failed = sorted(name for name, check in result["checks"].items() if not check["ok"])
        log.warning("not ready: %s", ", ".join(failed))
    response = jsonify({"status": "ready" if result["ready"] else "unavailable", **result})
    response.status_code = 200 if result["ready"] else 503
    return response


@bp.get("/metrics")
def metrics_page() -> Response:
    """The Prometheus text format, for allowed addresses and the token's bearer."""
    if not _may_read_metrics():
        log.warning("refused: /metrics for %s", request.remote_addr)
        return Response("forbidden\n", status=403, mimetype="text/plain")
    w = web()
    body = metrics.render(take_readings(w.runtime.store, w.now(), _options()))
    return Response(body, content_type=metrics.CONTENT_TYPE)


def _may_read_metrics() -> bool:
    token = current_app.extensions.get(TOKEN)
    header = request.headers.get("Authorization", "")
    if token and header.lower().startswith("bearer "):
        return hmac.compare_digest(header[7:].strip().encode(), str(token).encode())
    if request.environ.get(UNTRUSTED_FORWARD):
        return False
    return address_in(request.remote_addr, _options().metrics_allow)


def install(app: Flask, settings: Settings) -> None:
    """Register the blueprint with ``[monitoring]`` and the metrics token of the environment."""
    app.extensions[OPTIONS] = MonitoringSettings.from_section(settings.section("monitoring"))
    app.extensions[TOKEN] = os.environ.get("RUHRFLOW_METRICS_TOKEN") or None
    app.register_blueprint(bp)
