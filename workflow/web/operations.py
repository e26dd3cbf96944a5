"""What every request does for the operator: a request id, an access line, metrics, and the
client address as the trusted reverse proxy saw it.

* **Request id.** Taken from ``X-Request-ID`` when the proxy sent a sane one (letters,
  digits, ``.-_:``, at most 128), else made; returned in the response's ``X-Request-ID`` and
  put on every log line written while the request runs (:data:`workflow.app.logs.REQUEST_ID`).
* **Access line.** One line per request (logger ``ruhrflow.access``): method, path (without
  the query, which may carry an SSO code), status, duration and the user (the actor, ``-``
  when nobody is logged in) — gunicorn's own access log is off, it knows neither user nor
  request id.
* **Trusted proxies.** ``[web] trusted_proxies``: the addresses of reverse proxies whose
  ``X-Forwarded-For``/``-Proto``/``-Host`` are believed (werkzeug's ``ProxyFix``, one hop).
  From anyone else those headers are ignored: a client cannot claim to be loopback to read
  ``/metrics``, and behind nginx on the same host the client is the one nginx saw, not
  127.0.0.1.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from workflow.app import metrics
from workflow.app.health import Network, address_in, trusted_proxies
from workflow.app.logs import REQUEST_ID
from workflow.app.settings import Settings

access_log = logging.getLogger("ruhrflow.access")
log = logging.getLogger("workflow.web")
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNTRUSTED_FORWARD = "ruhrflow.untrusted_forward"
# Refused logins, told apart by the endpoint and status that answered them.
LOGIN_FAILURE = {
    ("auth.login", 401): "password",
    ("auth.login", 429): "throttled",
}


# Probes build no URL, so they answer whatever Host they were asked by (a load balancer or
# Prometheus asks by address, not by the name in [web] trusted_hosts).
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` for requests from a trusted proxy, nothing for others
    (whose forwarding headers are only noted, for ``/metrics`` to refuse); a probe asked by
    an address outside ``[web] trusted_hosts`` is handed on as if asked by the first name."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        trusted: tuple[Network, ...],
        hosts: tuple[str, ...] = (),
    ):
        self.app = app
        self.trusted = trusted
        self.hosts = hosts
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.hosts and environ.get("PATH_INFO") in PROBES:
            environ["HTTP_HOST"] = self.hosts[0]
            environ.pop("HTTP_X_FORWARDED_HOST", None)
        if self.trusted and address_in(environ.get("REMOTE_ADDR"), self.trusted):
            return self.fixed(environ, start_response)
        if environ.get("HTTP_X_FORWARDED_FOR"):
            environ[UNTRUSTED_FORWARD] = True
        return self.app(environ, start_response)


def install(app: Flask, settings: Settings) -> None:
    """Register the request id, access line and metrics hooks (before every other hook)."""
    hosts = tuple(str(h) for h in settings.section("web").get("trusted_hosts") or ())
    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        app.wsgi_app, trusted_proxies(settings), hosts
    )

    @app.before_request
    def begin() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        g.request_id_token = REQUEST_ID.set(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is None:  # a hook before ours answered: nothing to measure
            return response
        req = request._get_current_object()  # type: ignore[attr-defined]  # the proxy, once
        response.headers[REQUEST_ID_HEADER] = request_id
        seconds = time.perf_counter() - g.request_started
        route = req.url_rule.rule if req.url_rule is not None else "(unmatched)"
        status = response.status_code
        method = req.method
        metrics.observe_request(method, route, status, seconds)
        endpoint = req.endpoint or ""
        reason = LOGIN_FAILURE.get((endpoint, status))
        if reason is None and status == 401 and req.headers.get("Authorization"):
            reason = "token"
        if reason is None and status >= 400 and req.blueprint == "oidc":
            reason = "sso"
        if reason is not None and (method == "POST" or reason in ("token", "sso")):
            metrics.LOGIN_FAILURES.labels(reason).inc()
        if method == "POST":
            log_action(status)
        if not access_log.isEnabledFor(logging.INFO):  # nothing would be written
            return response
        user = g.get("actor") or "-"
        path = req.path
        client = req.remote_addr
        access_log.info(
            '%s %s %s %d %.1fms user=%s "%s"',
            client or "-",
            method,
            ascii(path)[1:-1],  # no query: an SSO callback's code stays out
            status,
            seconds * 1000,
            user,
            ascii(req.user_agent.string or "-")[1:-1],
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "actor": user,
                "client": client,
            },
        )
        return response

    @app.teardown_request
    def end(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            REQUEST_ID.reset(token)


# POST endpoints that change something: a line for each that succeeded, and for each refusal.
# The web forms answer a success with a redirect (303) and a refusal with the form again.
ACTIONS = {
    "proposals.action": 303,
    "proposals.funding": 303,
    "proposals.statement": 303,
    "bulk.page": 200,
    "api.advance": 200,
    "api.advance_many": 200,
    "api.statements": 201,
    "api.funding": 201,
}
UNAVAILABLE = "Der Dienst ist vorübergehend nicht erreichbar. Bitte versuchen Sie es später erneut."


def log_action(status: int) -> None:
    """The line of a POST to an action endpoint: who did what to which proposal, or that it
    was refused (the reason is logged where it was decided)."""
    endpoint = request.endpoint or ""
    success = ACTIONS.get(endpoint)
    if request.method != "POST" or success is None:
        return
    if endpoint == "bulk.page" and not request.form.getlist("keys"):
        return  # choosing and previewing, not acting
    if endpoint in ("proposals.action",) and request.form.get("step") in ("edit", "review"):
        return
    body = request.get_json(silent=True) if request.is_json else None
    body = body if isinstance(body, dict) else {}
    args = request.view_args or {}
    trigger = args.get("trigger") or request.form.get("trigger") or body.get("trigger") or "-"
    keys = request.form.getlist("keys") or body.get("keys") or []
    proposal = args.get("key") or ",".join(str(k) for k in keys[:20]) or "-"
    actor = g.get("actor") or "-"
    fields = {"actor": actor, "proposal": proposal, "trigger": trigger, "status": status}
    what = endpoint.split(".", 1)[1]
    if status < 400 and (status == success or endpoint.startswith("api.")):
        log.info("action: %s %s %s by %s", what, proposal, trigger, actor, extra=fields)
    elif status >= 400:
        log.warning(
            "refused: %s %s %s by %s (%d)", what, proposal, trigger, actor, status, extra=fields
        )


def unavailable(exc: BaseException) -> str:
    """Log the database outage in one line (the detail: host, database, the driver's word)
    and return the text a client gets instead, which names none of it."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    log.error("database unavailable: %s", first)
    return UNAVAILABLE
