"""A small, real OpenID Connect provider on loopback for the web's SSO tests.

It serves discovery, a JWKS, ``/authorize`` (approves the configured user at once and sends
the browser back with a code), ``/token`` (checks the client secret, the code, the
redirect URI and the PKCE verifier, and returns an RS256 ID token signed with joserfc, the
JOSE library Authlib uses), ``/userinfo`` (``userinfo``'s claims for the access token just
issued) and ``/logout`` (RP-Initiated Logout: notes the request and sends the browser to
``post_logout_redirect_uri``). A test sets ``user`` and may ``tamper`` with the ID token, put
claims only in ``userinfo``, or leave ``end_session`` out of the discovery document.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "ruhrflow"
CLIENT_SECRET = "geheimnis-des-clients"
KID = "landes-sso-1"

ACTORS = """
[web.oidc.actors]
"/ruhrkonferenz/koordination" = "koordination"
"/ruhrkonferenz/im" = "im"
"/ruhrkonferenz/vm" = "vm"
"vm-chefin" = "vm"
"""


def oidc_config(issuer: str, *, extra: str = "", actors: str = ACTORS) -> str:
    return (
        f'[web.oidc]\nissuer = "{issuer}"\nclient_id = "{CLIENT_ID}"\n'
        f'claim = ["groups", "preferred_username"]\n{extra}{actors}'
    )


@dataclass
class Provider:
    """The provider's state; ``issuer`` is set once it listens."""

    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": KID}))
    user: dict[str, Any] = field(default_factory=dict)
    tamper: dict[str, Any] = field(default_factory=dict)  # claims that replace the right ones
    sign_with: RSAKey | None = None  # another key (same kid): a bad signature
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    end_session: bool = True  # discovery names the end_session_endpoint
    end_session_url: str | None = None  # … at this URL instead of <issuer>/logout
    logouts: list[dict[str, str]] = field(default_factory=list)
    userinfo: dict[str, Any] | None = None  # the claims /userinfo answers (None: HTTP 500)
    access_tokens: set[str] = field(default_factory=set)
    userinfo_requests: int = 0

    def reset(self) -> None:
        """As a test begins: no user, nothing tampered, no codes, no logouts."""
        self.user, self.tamper, self.sign_with = {}, {}, None
        self.end_session = True
        self.end_session_url = None
        self.userinfo = None
        self.userinfo_requests = 0
        self.codes.clear()
        self.token_requests.clear()
        self.logouts.clear()
        self.access_tokens.clear()

    def id_token(self, nonce: str | None) -> str:
        """The signed ID token for ``user``, with ``tamper`` applied."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            **self.user,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(self.tamper)
        header = {"alg": "RS256", "kid": KID}
        return jwt.encode(header, claims, self.sign_with or self.key)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def provider_app(p: Provider) -> Flask:
    """The provider's routes."""
    app = Flask("landes_sso")

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        at = p.end_session_url or p.issuer + "/logout"
        logout = {"end_session_endpoint": at} if p.end_session else {}
        return jsonify(
            **logout,
            issuer=p.issuer,
            authorization_endpoint=p.issuer + "/authorize",
            token_endpoint=p.issuer + "/token",
            jwks_uri=p.issuer + "/jwks",
            userinfo_endpoint=p.issuer + "/userinfo",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
            token_endpoint_auth_methods_supported=["client_secret_basic"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(keys=[p.key.as_dict(private=False)])

    @app.get("/authorize")
    def authorize() -> Any:
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
            return jsonify(error="invalid_request"), 400
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return jsonify(error="invalid_request", error_description="PKCE required"), 400
        code = secrets.token_urlsafe(16)
        p.codes[code] = {
            "redirect_uri": args["redirect_uri"],
            "challenge": args["code_challenge"],
            "nonce": args.get("nonce"),
        }
        back = urlencode({"code": code, "state": args.get("state", "")})
        return redirect(f"{args['redirect_uri']}?{back}")

    @app.get("/userinfo")
    def userinfo() -> Any:
        p.userinfo_requests += 1
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in p.access_tokens:
            return jsonify(error="invalid_token"), 401
        if p.userinfo is None:
            return jsonify(error="server_error"), 500
        return jsonify(p.userinfo)

    @app.get("/logout")
    def logout() -> Any:
        args = request.args.to_dict()
        p.logouts.append(args)
        if args.get("client_id") != CLIENT_ID or not args.get("post_logout_redirect_uri"):
            return jsonify(error="invalid_request"), 400
        return redirect(args["post_logout_redirect_uri"])

    @app.post("/token")
    def token() -> Any:
        form = request.form.to_dict()
        p.token_requests.append(form)
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
            return jsonify(error="invalid_client"), 401
        grant = p.codes.pop(form.get("code", ""), None)  # a code works once
        if form.get("grant_type") != "authorization_code" or grant is None:
            return jsonify(error="invalid_grant"), 400
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return jsonify(error="invalid_grant", error_description="redirect_uri"), 400
        if _s256(form.get("code_verifier", "")) != grant["challenge"]:
            return jsonify(error="invalid_grant", error_description="PKCE verifier"), 400
        access_token = secrets.token_urlsafe(16)
        p.access_tokens.add(access_token)
        return jsonify(
            access_token=access_token,
            token_type="Bearer",
            expires_in=300,
            id_token=p.id_token(grant["nonce"]),
        )

    return app


@contextmanager
def running_provider() -> Iterator[Provider]:
    """A provider listening on 127.0.0.1 (a free port) in a thread, until the block ends."""
    p = Provider()
    server = make_server("127.0.0.1", 0, provider_app(p), threaded=True)
    p.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield p
    finally:
        server.shutdown()
        thread.join()
