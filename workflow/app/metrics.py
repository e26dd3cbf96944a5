"""The Prometheus metrics of ruhrflow (prometheus_client), in the text format.

Two kinds, each where it is true for every gunicorn worker:

* **counted** in the web processes — requests per route and status with their latency,
  failed logins. Under gunicorn several processes count, so ``ruhrflow serve`` sets
  ``PROMETHEUS_MULTIPROC_DIR`` (its own directory, or the one given in the environment) before
  any worker starts; the client library then keeps each process's values in a file there and
  a scrape of any worker sums them (its multi-process mode). Without the variable (tests,
  another WSGI server) the process's own registry is used.
* **read** at scrape time — notices per status and the oldest pending one, overdue
  deadlines, the scheduler's last runs (its state file, :mod:`workflow.scheduler.state`),
  whether the database answers and its schema is current: from :func:`take_readings`, so
  they need no multi-process care and are never stale.

Names (README "Deploying" lists what to alert on):
``ruhrflow_http_requests_total{method,route,status}``,
``ruhrflow_http_request_duration_seconds{method,route,status}`` (histogram),
``ruhrflow_login_failures_total{reason}``, ``ruhrflow_up``, ``ruhrflow_database_up``,
``ruhrflow_schema_current``, ``ruhrflow_notices{status}``,
``ruhrflow_notices_oldest_pending_age_seconds``, ``ruhrflow_deadlines_overdue``,
``ruhrflow_scheduler_last_run_timestamp_seconds{job}``,
``ruhrflow_scheduler_last_success_timestamp_seconds{job}``,
``ruhrflow_scheduler_last_duration_seconds{job}``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from workflow.app.health import Readings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUESTS = Counter(
    "ruhrflow_http_requests",
    "HTTP requests answered, by method, route (the URL rule, not the path) and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "ruhrflow_http_request_duration_seconds",
    "Time from the request's arrival in the application to its response.",
    ["method", "route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
LOGIN_FAILURES = Counter(
    "ruhrflow_login_failures",
    "Refused logins: password (wrong name or password), throttled, token, sso.",
    ["reason"],
)
for _reason in ("password", "throttled", "token", "sso"):  # 0 until the first, not absent
    LOGIN_FAILURES.labels(_reason)


# The labelled children of REQUESTS and LATENCY by (method, route, status): labels() checks
# and locks at every call, for the same few dozen combinations (the routes are URL rules, not
# paths). Bounded all the same: past MAX_CHILDREN a request asks labels() as before.
_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}
MAX_CHILDREN = 1024


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request."""
    key = (method, route, status)
    children = _CHILDREN.get(key)
    if children is None:
        labels = (method, route, str(status))
        children = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
        if len(_CHILDREN) < MAX_CHILDREN:
            _CHILDREN[key] = children
    children[0].inc()
    children[1].observe(seconds)


class ReadingsCollector(Collector):
    """The gauges read at scrape time from one :class:`Readings`."""

    def __init__(self, readings: Readings) -> None:
        self.readings = readings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        r = self.readings
        yield GaugeMetricFamily("ruhrflow_up", "The web application answers (always 1).", 1)
        yield GaugeMetricFamily(
            "ruhrflow_database_up", "The database answered the scrape's query.", r.database_ok
        )
        yield GaugeMetricFamily(
            "ruhrflow_schema_current",
            "The database's migration is this release's newest (run `ruhrflow init` if 0).",
            r.schema_current,
        )
        if r.notices:
            notices = GaugeMetricFamily(
                "ruhrflow_notices", "Outbox notices by status.", labels=["status"]
            )
            for status, count in r.notices.items():
                notices.add_metric([status], count)
            yield notices
            yield GaugeMetricFamily(
                "ruhrflow_notices_oldest_pending_age_seconds",
                "Age of the oldest notice not yet sent (0 when none waits).",
                r.oldest_pending_age_seconds or 0.0,
            )
        if r.deadlines_overdue is not None:
            yield GaugeMetricFamily(
                "ruhrflow_deadlines_overdue",
                "Open deadlines of the proposals' current states that are past due.",
                r.deadlines_overdue,
            )
        if r.scheduler is not None:
            families = {
                "last_run": GaugeMetricFamily(
                    "ruhrflow_scheduler_last_run_timestamp_seconds",
                    "When the scheduler's job last started (epoch seconds).",
                    labels=["job"],
                ),
                "last_success": GaugeMetricFamily(
                    "ruhrflow_scheduler_last_success_timestamp_seconds",
                    "When the scheduler's job last started a run that succeeded.",
                    labels=["job"],
                ),
                "duration_seconds": GaugeMetricFamily(
                    "ruhrflow_scheduler_last_duration_seconds",
                    "How long the job's last run took.",
                    labels=["job"],
                ),
            }
            for job, state in sorted(r.scheduler.jobs.items()):
                for attr, family in families.items():
                    value = getattr(state, attr)
                    if value is not None:
                        family.add_metric([job], value)
            yield from families.values()


def render(readings: Readings) -> bytes:
    """The whole exposition: the counted metrics (all processes) and the readings."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    else:
        counted = REGISTRY
    read = CollectorRegistry(auto_describe=False)
    read.register(ReadingsCollector(readings))
    return generate_latest(counted) + generate_latest(read)
