"""Login through a state SSO (OpenID Connect, e.g. Keycloak), next to the password form.

The authorization-code flow with PKCE (S256), ``state`` and ``nonce``, done by Authlib's
Flask client: it finds the endpoints by discovery (``<issuer>/.well-known/openid-
configuration``), checks the ID token's signature against the issuer's JWKS and its
``iss``, ``aud``, ``exp`` and ``nonce``. Who the person is comes from the ID token's claims
— or, when it carries none of the configured ones (an issuer may keep groups out of it),
from the issuer's userinfo endpoint, asked with the access token and trusted only for the
ID token's ``sub`` — mapped by ``[web.oidc.actors]`` to a directory actor: exactly one actor,
or the login is refused. The account table still decides who is disabled
(``accounts.sso_login``), and the session is then the same as a password session — except at
logout: a session begun through the SSO ends at the issuer too (OpenID Connect RP-Initiated
Logout 1.0), when its discovery names an ``end_session_endpoint``. Otherwise the next click on
the SSO button would log the person in again without a password, on a shared machine the
next person.

The client secret comes from ``RUHRFLOW_OIDC_CLIENT_SECRET`` only (settings refuse it in a
file). The mapping is checked against the directory when the app starts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from requests import RequestException
from werkzeug.wrappers import Response

from workflow.access import accounts
from workflow.access.directory import Directory
from workflow.app.settings import Settings
from workflow.errors import InvalidConfig
from workflow.web.auth import safe_next
from workflow.web.state import web

log = logging.getLogger("workflow.web")
bp = Blueprint("oidc", __name__)

SECRET_ENV = "RUHRFLOW_OIDC_CLIENT_SECRET"
DEFAULT_SCOPES = "openid profile email"
DEFAULT_BUTTON = "Mit Landes-SSO anmelden"
HTTP_TIMEOUT_SECONDS = 10

try:  # Authlib 1.6 and newer check ID tokens with joserfc, whose errors are its own
    from joserfc.errors import JoseError

    TOKEN_ERRORS: tuple[type[Exception], ...] = (AuthlibBaseError, RequestException, JoseError)
except ImportError:  # pragma: no cover - older Authlib raises AuthlibBaseError only
    TOKEN_ERRORS = (AuthlibBaseError, RequestException)

FAILED = "Die Anmeldung über das Landes-SSO ist fehlgeschlagen. Bitte versuchen Sie es erneut."
UNREACHABLE = "Das Landes-SSO ist gerade nicht erreichbar. Bitte melden Sie sich mit Passwort an."
UNMAPPED = "Ihr SSO-Konto ist keinem Konto in ruhrflow zugeordnet."
AMBIGUOUS = (
    "Ihr SSO-Konto ist mehreren Konten in ruhrflow zugeordnet; die Koordinierung muss das klären."
)
DISABLED = "Ihr Konto in ruhrflow ist gesperrt."


@dataclass(frozen=True)
class OidcConfig:
    """``[web.oidc]``: the issuer, this client, and which claim values are which actor."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    claims: tuple[str, ...]  # the ID token claims whose values are looked up in ``actors``
    actors: Mapping[str, str]  # claim value (a group, a sub, a user name) → directory actor
    button: str

    @property
    def discovery_url(self) -> str:
        """Where the issuer describes itself (OpenID Connect Discovery 1.0)."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def claims_options(self) -> dict[str, Any]:
        """What the ID token's registered claims must be.

        Authlib checks ``aud`` only when told to: without this, a token issued to another
        client of the same issuer passed as long as its ``azp`` named this one.
        """
        return {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }

    def actors_for(self, claims: Mapping[str, Any]) -> set[str]:
        """The directory actors the ID token's ``claims`` map to (a login needs exactly one)."""
        found: set[str] = set()
        for name in self.claims:
            value = claims.get(name)
            values = value if isinstance(value, list) else [value]
            found.update(self.actors[v] for v in values if isinstance(v, str) and v in self.actors)
        return found


def load_config(settings: Settings, directory: Directory) -> OidcConfig | None:
    """``[web.oidc]`` checked against the directory; None when the section is absent.

    Raises InvalidConfig with one line naming the key at fault.
    """
    web_section = settings.section("web")
    section = web_section.get("oidc")
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise InvalidConfig("web.oidc must be a table")
    issuer = _text(section, "issuer")
    parts = urlsplit(issuer)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise InvalidConfig(f"web.oidc.issuer must be an https URL, not {issuer!r}")
    if not re.fullmatch(r"[A-Za-z0-9.\-]+(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?", parts.netloc):
        # its origin goes into the pages' Content-Security-Policy (form-action)
        raise InvalidConfig(f"web.oidc.issuer must name a plain host, not {parts.netloc!r}")
    client_id = _text(section, "client_id")
    if not settings.oidc_client_secret:
        raise InvalidConfig(f"web.oidc needs the client secret in {SECRET_ENV}")
    scopes = str(section.get("scopes", DEFAULT_SCOPES))
    if "openid" not in scopes.split():
        raise InvalidConfig(f"web.oidc.scopes must include openid, not {scopes!r}")
    claim = section.get("claim", "groups")
    claims = (claim,) if isinstance(claim, str) else claim
    if (
        not claims
        or not isinstance(claims, list | tuple)
        or not all(isinstance(c, str) and c for c in claims)
    ):
        raise InvalidConfig("web.oidc.claim must be a claim name or a list of them")
    table = section.get("actors")
    if not isinstance(table, Mapping) or not table:
        raise InvalidConfig("web.oidc.actors must map claim values to directory actors")
    actors: dict[str, str] = {}
    for key, actor_id in table.items():
        if not isinstance(actor_id, str) or actor_id not in directory.actors:
            raise InvalidConfig(
                f"web.oidc.actors.{key!r} names {actor_id!r}, which is no actor in the directory"
            )
        if directory.actors[actor_id].role == "system":
            raise InvalidConfig(f"web.oidc.actors.{key!r} names the system actor {actor_id!r}")
        actors[str(key)] = actor_id
    return OidcConfig(
        issuer=issuer,
        client_id=client_id,
        client_secret=settings.oidc_client_secret,
        scopes=scopes,
        claims=tuple(claims),
        actors=actors,
        button=str(section.get("button") or DEFAULT_BUTTON),
    )


def _text(section: Mapping[str, Any], key: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidConfig(f"web.oidc.{key} must be set")
    return value.strip()


@dataclass(frozen=True)
class OidcLogin:
    """The configured SSO of one application: its settings and Authlib's client."""

    config: OidcConfig
    client: Any  # authlib's FlaskOAuth2App (untyped)

    def end_session_url(self) -> str | None:
        """Where the browser goes to end an SSO session at the issuer as well (RP-Initiated
        Logout: ``client_id`` and ``post_logout_redirect_uri``, the login page, which must be
        registered with the client at the issuer), or None: a password session, or an
        issuer without an ``end_session_endpoint`` (then only this application logs out).

        Called before the session is cleared. No ``id_token_hint``: the ID token is not kept
        (the session cookie is signed, not encrypted), so an issuer such as Keycloak may ask the
        person to confirm the logout.
        """
        if not session.get("sso"):
            return None
        try:
            endpoint = self.client.load_server_metadata().get("end_session_endpoint")
        except (RequestException, ValueError) as exc:
            log.warning("OIDC logout at the issuer skipped: discovery failed: %s", exc)
            return None
        if not isinstance(endpoint, str) or not endpoint:
            return None
        if origin_of(endpoint) != origin_of(self.config.issuer) or urlsplit(endpoint).fragment:
            # the pages' Content-Security-Policy lets a form lead to the issuer's origin only
            log.warning(
                "OIDC logout at the issuer skipped: %s is not a URL on the issuer's origin"
                " without a fragment",
                endpoint,
            )
            return None
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "post_logout_redirect_uri": _external("auth.login"),
            }
        )
        parts = urlsplit(endpoint)
        return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def install(app: Flask, settings: Settings, directory: Directory) -> OidcLogin | None:
    """Register the SSO client with ``app`` when ``[web.oidc]`` is configured."""
    config = load_config(settings, directory)
    if config is None:
        return None
    oauth = OAuth(app)
    client = oauth.register(
        name="sso",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=config.discovery_url,
        client_kwargs={
            "scope": config.scopes,
            "code_challenge_method": "S256",
            "default_timeout": HTTP_TIMEOUT_SECONDS,
        },
    )
    return OidcLogin(config=config, client=client)


def _sso() -> OidcLogin:
    found = web().oidc
    if found is None:
        abort(404)
    return found


def _refuse(status: int, message: str) -> tuple[str, int]:
    session.clear()  # nobody is logged in after a failed or refused SSO login
    return render_template("auth/login.html", error=message, next=""), status


@bp.get("/login/oidc")
def start() -> Any:
    """Off to the issuer's login page, with state, nonce and a PKCE challenge."""
    sso = _sso()
    try:
        metadata = sso.client.load_server_metadata()
    except (RequestException, ValueError) as exc:
        log.warning("OIDC login failed: discovery at %s: %s", sso.config.discovery_url, exc)
        return _refuse(502, UNREACHABLE)
    if metadata.get("issuer") != sso.config.issuer:
        # Discovery must name the issuer it was asked for (OpenID Connect Discovery 1.0, 4.3).
        log.warning(
            "OIDC login failed: discovery names issuer %r, configured is %r",
            metadata.get("issuer"),
            sso.config.issuer,
        )
        return _refuse(502, UNREACHABLE)
    session["oidc_next"] = request.args.get("next", "")
    response: Response = sso.client.authorize_redirect(_external("oidc.callback"))
    return response


def _external(endpoint: str) -> str:
    """The absolute URL of ``endpoint``: under ``[web] base_url`` when it is set."""
    base_url = web().base_url
    if base_url:
        return base_url.rstrip("/") + url_for(endpoint)
    return url_for(endpoint, _external=True)


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as a browser compares origins: scheme and host in
    lower case, the scheme's default port left out (a source in a Content-Security-Policy)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    port = parts.port
    shown = "" if port is None or port == DEFAULT_PORTS.get(scheme) else f":{port}"
    return f"{scheme}://{host}{shown}"


class UserinfoRefused(Exception):
    """The userinfo endpoint answered for another subject."""


USERINFO_ERRORS: tuple[type[Exception], ...] = (*TOKEN_ERRORS, UserinfoRefused)


def _with_userinfo(
    sso: OidcLogin, token: Mapping[str, Any], claims: Mapping[str, Any]
) -> dict[str, Any]:
    """The ID token's ``claims`` with the configured ones the issuer's userinfo endpoint adds
    (OpenID Connect Core 5.3): the ID token's own claims stand, and the answer counts only
    when its ``sub`` is the ID token's (5.3.2). Unchanged when discovery names no endpoint."""
    if not sso.client.load_server_metadata().get("userinfo_endpoint"):
        return dict(claims)
    answer = sso.client.userinfo(token=dict(token))  # an HTTP error raises RequestException
    if answer.get("sub") != claims.get("sub"):
        raise UserinfoRefused("the answer is for another subject")
    added = {name: answer[name] for name in sso.config.claims if name in answer}
    return {**added, **claims}


@bp.get("/login/oidc/callback")
def callback() -> Any:
    """Back from the issuer: exchange the code, check the ID token, map it to one actor."""
    sso = _sso()
    w = web()
    remote = request.remote_addr
    try:
        token = sso.client.authorize_access_token(claims_options=sso.config.claims_options)
    except TOKEN_ERRORS as exc:
        log.warning("OIDC login failed from %s: %s: %s", remote, type(exc).__name__, exc)
        return _refuse(401, FAILED)
    claims = token.get("userinfo")  # Authlib's name for the checked ID token's claims
    if not claims:  # no ID token, or none checked: never trust the access token alone
        log.warning("OIDC login failed from %s: the token response has no ID token", remote)
        return _refuse(401, FAILED)
    subject = claims.get("sub")
    if not any(name in claims for name in sso.config.claims):
        try:  # an issuer may keep groups out of the ID token: ask its userinfo endpoint
            claims = _with_userinfo(sso, token, claims)
        except USERINFO_ERRORS as exc:
            log.warning("OIDC login failed from %s: userinfo: %s: %s", remote,
                        type(exc).__name__, exc)  # fmt: skip
            return _refuse(401, FAILED)
    found = sso.config.actors_for(claims)
    if not found:
        log.warning("refused: OIDC login of sub %r from %s maps to no actor", subject, remote)
        return _refuse(403, UNMAPPED)
    if len(found) > 1:
        log.warning(
            "refused: OIDC login of sub %r from %s maps to several actors: %s",
            subject,
            remote,
            ", ".join(sorted(found)),
        )
        return _refuse(403, AMBIGUOUS)
    (actor,) = found
    try:
        epoch = accounts.sso_login(w.runtime.store, w.runtime.directory, actor, w.now())
    except accounts.AccountDisabled:
        log.warning("refused: OIDC login of sub %r as disabled account %s", subject, actor)
        return _refuse(403, DISABLED)
    target = session.get("oidc_next")
    session.clear()
    lifetime = current_app.permanent_session_lifetime
    session["sid"] = accounts.begin_session(w.runtime.store, actor, epoch, w.now(), lifetime)
    session["actor"] = actor  # for reading only: the server's row behind "sid" decides
    session["sso"] = True  # its logout ends the session at the issuer too
    session.permanent = True
    log.info("login: %s via OIDC (sub %r) from %s", actor, subject, remote)
    return redirect(safe_next(target if isinstance(target, str) else None), code=303)
