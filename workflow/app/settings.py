"""Settings, loaded once at the edge (the CLI) and passed down as a frozen object.

The shipped ``config/ruhrflow.toml`` holds every default; a file named by ``--config``
or ``RUHRFLOW_CONFIG`` overrides single values. Secrets come only from the environment.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow.app.config_schema import validate
from workflow.app.resources import shipped_dir, shipped_file
from workflow.errors import InvalidConfig, InvalidInput
from workflow.inputs import read_text_file

DEFAULT_CONFIG = "ruhrflow.toml"


@dataclass(frozen=True)
class SMTPSettings:
    """How to reach the mail server."""

    host: str
    port: int
    security: str
    username: str
    password: str | None
    timeout_seconds: float

    def __repr__(self) -> str:  # never show the password
        return (
            f"SMTPSettings(host={self.host!r}, port={self.port}, security={self.security!r},"
            f" username={self.username!r}, password={'***' if self.password else None})"
        )


@dataclass(frozen=True)
class MailSettings:
    """Where notices go and how."""

    transport: str
    maildir: Path
    sender: str
    templates: Path | None
    smtp: SMTPSettings
    max_attempts: int
    reply_to: str = ""
    signature: str = "Koordinierung der Ruhr-Konferenz"
    footer: str = ""


@dataclass(frozen=True)
class Settings:
    """Everything ruhrflow needs to know about its environment."""

    database_url: str
    busy_timeout_seconds: float
    definition_path: Path
    timezone: str
    directory_path: Path
    mail: MailSettings
    allow_impersonation: bool  # read and checked, used nowhere (see config/ruhrflow.toml)
    audit_key: bytes | None
    raw: Mapping[str, Any]
    # The OIDC client secret (``[web.oidc]``), from RUHRFLOW_OIDC_CLIENT_SECRET only.
    oidc_client_secret: str | None = None

    def __repr__(self) -> str:  # the audit key and the SMTP password stay out of logs
        return (
            f"Settings(database_url={_redact_url(self.database_url)!r},"
            f" definition_path={str(self.definition_path)!r}, mail={self.mail.transport!r})"
        )

    def section(self, name: str) -> Mapping[str, Any]:
        """A raw section of the configuration, for parts that read their own keys."""
        value = self.raw.get(name, {})
        return value if isinstance(value, Mapping) else {}


def _redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


SECRET_ENV = (
    "RUHRFLOW_SMTP_PASSWORD",
    "RUHRFLOW_AUDIT_KEY",
    "PGPASSWORD",
    "RUHRFLOW_OIDC_CLIENT_SECRET",
    "RUHRFLOW_METRICS_TOKEN",
)


def secret_values(env: Mapping[str, str], urls: Sequence[str | None] = ()) -> list[str]:
    """The secrets in play: the secret environment variables and passwords inside URLs."""
    found = [env[name] for name in SECRET_ENV if env.get(name)]
    for url in urls:
        match = _URL_PASSWORD.search(url or "")
        if match and match.group(1):
            found.append(match.group(1))
    return sorted(set(found), key=len, reverse=True)


_URL_PASSWORD = re.compile(r"://[^/@:]*:([^@]*)@")


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


# A configuration file is a few kilobytes; anything far larger is a mistake (a log, an image,
# /dev/zero), refused before it is read into memory.
MAX_CONFIG_BYTES = 1024 * 1024


def read_config_text(path: Path) -> str:
    """The text of a configuration file: a regular file, at most MAX_CONFIG_BYTES, UTF-8."""
    try:
        return read_text_file(path, MAX_CONFIG_BYTES, "configuration file")
    except InvalidInput as exc:
        raise InvalidConfig(str(exc)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    text = read_config_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfig(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # nesting deep enough to exhaust the parser
        raise InvalidConfig(f"{path}: not valid TOML: nested too deeply") from None


def _resolve(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _existing(path: Path, key: str, *, directory: bool) -> Path:
    """``path`` if it is an existing regular file (or directory), else InvalidConfig."""
    ok = path.is_dir() if directory else path.is_file()
    if not ok:
        kind = "directory" if directory else "regular file"
        raise InvalidConfig(f"{key}: {str(path)!r} is no existing {kind}")
    return path


def load_settings(
    config_path: str | Path | None = None,
    *,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from the shipped defaults, a config file and the environment.

    The merged configuration is checked against the one schema (workflow/app/config_schema.py)
    before anything is used: a wrong value, an unknown key or a path that does not exist is
    one InvalidConfig line (exit 2), in every command alike.
    """
    env = os.environ if env is None else env
    raw = _read_toml(shipped_file("config", DEFAULT_CONFIG))
    user_path = config_path or env.get("RUHRFLOW_CONFIG") or None
    user_base = Path.cwd()
    user_raw: dict[str, Any] = {}
    if user_path:
        user_file = Path(user_path)
        user_raw = _read_toml(user_file)
        _merge(raw, copy.deepcopy(user_raw))
        user_base = user_file.resolve().parent
    _refuse_secrets_in_files(raw)
    raw = validate(raw)
    db = raw["database"]
    proc = raw["process"]
    mail = raw["mail"]
    smtp = mail["smtp"]
    url = database_url or env.get("RUHRFLOW_DATABASE_URL") or str(db["url"])
    key = env.get("RUHRFLOW_AUDIT_KEY")
    # Paths in a user's config file are relative to that file; shipped ones to shipped_dir.
    defs_base = (
        user_base if "definition" in _keys_of(user_raw, "process") else shipped_dir("definitions")
    )
    dir_base = user_base if "path" in _keys_of(user_raw, "directory") else shipped_dir("config")
    templates = str(mail.get("templates") or "")
    web = raw.get("web", {})
    if web.get("public_dir"):
        _existing(Path(web["public_dir"]).expanduser(), "web.public_dir", directory=True)
    return Settings(
        database_url=url,
        busy_timeout_seconds=float(db["busy_timeout_seconds"]),
        definition_path=_existing(
            _resolve(str(proc["definition"]), defs_base), "process.definition", directory=False
        ),
        timezone=str(proc["timezone"]),
        directory_path=_existing(
            _resolve(str(raw["directory"]["path"]), dir_base), "directory.path", directory=False
        ),
        mail=MailSettings(
            transport=str(mail["transport"]),
            maildir=Path(str(mail["maildir"])),
            sender=str(mail["sender"]),
            templates=_existing(_resolve(templates, user_base), "mail.templates", directory=True)
            if templates
            else None,
            smtp=SMTPSettings(
                host=str(smtp["host"]),
                port=int(smtp["port"]),
                security=str(smtp["security"]),
                username=str(smtp.get("username") or ""),
                password=env.get("RUHRFLOW_SMTP_PASSWORD") or None,
                timeout_seconds=float(smtp.get("timeout_seconds", 30)),
            ),
            max_attempts=int(mail["delivery"]["max_attempts"]),
            reply_to=str(mail.get("reply_to") or ""),
            signature=str(mail.get("signature") or ""),
            footer=str(mail.get("footer") or ""),
        ),
        allow_impersonation=bool(raw.get("security", {}).get("allow_impersonation", False)),
        audit_key=key.encode("utf-8") if key else None,
        raw=raw,
        oidc_client_secret=env.get("RUHRFLOW_OIDC_CLIENT_SECRET") or None,
    )


def _keys_of(raw: Mapping[str, Any], section: str) -> set[str]:
    value = raw.get(section, {})
    return set(value) if isinstance(value, Mapping) else set()


def _refuse_secrets_in_files(raw: Mapping[str, Any]) -> None:
    """Secrets live only in the environment: a password or key in a file is refused."""
    smtp = raw.get("mail", {}).get("smtp", {}) if isinstance(raw.get("mail"), dict) else {}
    if isinstance(smtp, dict) and "password" in smtp:
        raise InvalidConfig(
            "mail.smtp.password must not be in a configuration file:"
            " set RUHRFLOW_SMTP_PASSWORD in the environment"
        )
    web = raw.get("web")
    oidc = web.get("oidc") if isinstance(web, dict) else None
    if isinstance(oidc, dict) and "client_secret" in oidc:
        raise InvalidConfig(
            "web.oidc.client_secret must not be in a configuration file:"
            " set RUHRFLOW_OIDC_CLIENT_SECRET in the environment"
        )
    for section in ("audit", "security"):
        value = raw.get(section)
        if isinstance(value, dict) and ({"key", "audit_key", "hmac_key"} & set(value)):
            raise InvalidConfig(
                f"{section}: the audit key must not be in a configuration file:"
                " set RUHRFLOW_AUDIT_KEY in the environment"
            )
