"""The security headers of every answer: a strict Content-Security-Policy, no sniffing, no
framing, no referrer, and no caching of anything but the static files."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

from workflow.web.state import web

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def policy() -> str:
    """The Content-Security-Policy: with the SSO issuer's origin in ``form-action`` once the
    SSO is installed (the logout form's redirect ends an SSO session at the issuer —
    oidc.end_session_url — and a browser applies form-action to a form's redirects too)."""
    sso = web().oidc
    if sso is None:
        return CSP
    from workflow.web.oidc import origin_of

    return CSP.replace("form-action 'self'", f"form-action 'self' {origin_of(sso.config.issuer)}")


def init_app(app: Flask) -> None:
    """Add the headers to every response (a page may set its own CSP: the public board's)."""

    @app.after_request
    def secure_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy())
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response
