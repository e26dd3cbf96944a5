"""The one schema of the configuration file: every section, every key, its type and bounds.

A configuration is checked whole, once, when it is loaded (``load_settings``), so that every
command — ``init``, ``serve``, ``scheduler run``, ``config check`` — refuses the same file with
the same one line (``InvalidConfig``, exit 2) before anything runs. Before this schema each
part read its own keys when it needed them: ``digest_time = "25:99"`` failed in the scheduler
thread (exit 70), ``secure_cookies = "no"`` was true, ``[databse]`` was silently ignored.

To add a key: add a ``Key`` to its section in ``SCHEMA`` below (a new section is a new
``Section``), and document it in ``config/ruhrflow.toml`` with a default, or as a commented
``# key = ...`` line when it has none (``tests/app/test_config_schema.py`` checks that every
key of the schema is documented there). The part that uses it reads
``settings.section(NAME)[KEY]``: the value there has passed its check.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from workflow.errors import InvalidConfig, InvalidInput
from workflow.inputs import check_text

# The dates a configuration may name (as ``--now`` takes them; see workflow/cli/context.py).
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_TEXT = 2000

Check = Callable[[str, Any], Any]
TextCheck = Callable[[str, Any], str]


@dataclass(frozen=True)
class Key:
    """One key: its check (which returns the value to use) and what it means."""

    check: Check
    doc: str


@dataclass(frozen=True)
class Section:
    """A table of keys and sub-tables. ``extra`` checks keys the schema does not name
    (``[process]`` takes further dates for the definitions' ``date_setting``); without it
    an unknown key is refused."""

    keys: Mapping[str, Key | Section]
    doc: str = ""
    extra: Key | None = None
    optional: bool = False  # a sub-table that may be absent (``[web.oidc]``)


# --- checks ------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def text(*, multiline: bool = False, nonempty: bool = False, limit: int = MAX_TEXT) -> TextCheck:
    """A string without control or bidi characters (a multi-line one may hold LF and TAB)."""

    def check(where: str, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidConfig(f"{where} must be a string, not {_shown(value)}")
        try:
            check_text(value, where, multiline=multiline, limit=limit)
        except InvalidInput as exc:
            raise InvalidConfig(str(exc)) from None
        if nonempty and not value.strip():
            raise InvalidConfig(f"{where} must not be empty")
        return value

    return check


def integer(low: int, high: int) -> Check:
    """A whole number in ``low..high`` (a boolean is no number)."""

    def check(where: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidConfig(f"{where} must be a whole number, not {_shown(value)}")
        if not low <= value <= high:
            raise InvalidConfig(f"{where} must lie between {low} and {high}, not {value}")
        return value

    return check


def number(low: float, high: float, *, above: bool = False) -> Check:
    """A finite number in ``low..high`` (``above``: greater than ``low``)."""

    def check(where: str, value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidConfig(f"{where} must be a number, not {_shown(value)}")
        if not math.isfinite(value):
            raise InvalidConfig(f"{where} must be a finite number, not {value}")
        if not (low < value if above else low <= value) or value > high:
            sign = ">" if above else "≥"
            raise InvalidConfig(f"{where} must be {sign} {low:g} and ≤ {high:g}, not {value:g}")
        return float(value)

    return check


def flag(where: str, value: Any) -> bool:
    """true or false — a TOML boolean, never a string (``"no"`` is truthy)."""
    if not isinstance(value, bool):
        raise InvalidConfig(f"{where} must be true or false (unquoted), not {_shown(value)}")
    return value


def choice(*allowed: str) -> Check:
    """One of ``allowed``."""

    def check(where: str, value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise InvalidConfig(f"{where} must be one of {', '.join(allowed)}, not {_shown(value)}")
        return value

    return check


def day(where: str, value: Any) -> date | None:
    """A date that exists, YYYY-MM-DD (quoted or a TOML date), 1900–2999; "" for none."""
    if isinstance(value, str) and value == "":
        return None
    if isinstance(value, datetime):
        raise InvalidConfig(f"{where} must be a date YYYY-MM-DD without a time, not {value}")
    if isinstance(value, date):
        found = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            found = date.fromisoformat(value)
        except ValueError:
            raise InvalidConfig(f"{where}: {value!r} is no date that exists") from None
    else:
        raise InvalidConfig(f"{where} must be a date YYYY-MM-DD, not {_shown(value)}")
    if not EARLIEST <= found <= LATEST:
        raise InvalidConfig(f"{where} must lie between {EARLIEST} and {LATEST}, not {found}")
    return found


def time_of_day(where: str, value: Any) -> str:
    """``HH:MM``, a time that exists, outside the hour the clocks change."""
    from workflow.process.calendar import parse_local_time

    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{2}:[0-9]{2}", value):
        raise InvalidConfig(f'{where} must be a time of day "HH:MM", not {_shown(value)}')
    try:
        parse_local_time(value)
    except ValueError as exc:
        raise InvalidConfig(f"{where}: {exc}") from None
    return value


def zone(where: str, value: Any) -> str:
    """An IANA time zone (``Europe/Berlin``)."""
    if not isinstance(value, str) or not re.fullmatch(
        r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", value
    ):
        raise InvalidConfig(f"{where} must be an IANA time zone such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        import difflib  # for a wrong value only: a valid configuration never loads it

        near = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise InvalidConfig(f"{where}: {value!r} is no IANA time zone{hint}") from None
    return value


def weekday(where: str, value: Any) -> str:
    """mon … sun."""
    if not isinstance(value, str) or value.lower() not in WEEKDAYS:
        raise InvalidConfig(f"{where} must be one of {', '.join(WEEKDAYS)}, not {_shown(value)}")
    return value.lower()


def path_text(where: str, value: Any) -> str:
    """A path, as text (whether it exists is checked once it is resolved: load_settings)."""
    return text(limit=4096)(where, value)


def url(*, empty: bool) -> TextCheck:
    """An absolute http(s) URL without query or fragment (``empty``: "" for none)."""

    def check(where: str, value: Any) -> str:
        found = text(limit=2000)(where, value)
        if found == "" and empty:
            return found
        host = r"([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])"  # a name, an IPv4 or a bracketed IPv6
        if not re.fullmatch(rf"https?://{host}(:[0-9]{{1,5}})?(/[^?#\s]*)?", found):
            raise InvalidConfig(
                f"{where} must be an http(s) URL such as https://host/path, not {_shown(found)}"
            )
        return found

    return check


def names(where: str, value: Any) -> list[str]:
    """A list of plain strings (host names, claim names)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidConfig(f"{where} must be a list of strings, not {_shown(value)}")
    for i, item in enumerate(value):
        text(nonempty=True, limit=300)(f"{where}[{i}]", item)
    return list(value)


def addresses(where: str, value: Any) -> list[str]:
    """A list of IP addresses or networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``)."""
    import ipaddress

    found = names(where, value)
    for i, item in enumerate(found):
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise InvalidConfig(
                f"{where}[{i}] must be an IP address or network, not {_shown(item)}"
            ) from None
    return found


def name_or_names(where: str, value: Any) -> str | list[str]:
    """A string or a list of strings."""
    if isinstance(value, str):
        return text(nonempty=True, limit=300)(where, value)
    return names(where, value)


def string_table(where: str, value: Any) -> dict[str, str]:
    """A table of strings to strings (``[web.oidc.actors]``)."""
    if not isinstance(value, Mapping):
        raise InvalidConfig(f"{where} must be a table, not {_shown(value)}")
    for key, item in value.items():
        text(limit=300)(f"{where} key", key)
        text(nonempty=True, limit=300)(f"{where}.{key}", item)
    return dict(value)


# --- the schema --------------------------------------------------------------------------------

DAY = 86_400.0

SCHEMA = Section(
    {
        "database": Section(
            {
                "url": Key(
                    text(nonempty=True), "the database URL (--db and RUHRFLOW_DATABASE_URL win)"
                ),
                "busy_timeout_seconds": Key(
                    number(0, 3600, above=True), "how long a writer waits for another"
                ),
                "wait_seconds": Key(number(0, DAY), "serve and scheduler run wait at start"),
                "wait_max_interval_seconds": Key(number(0.5, 3600), "between those tries"),
            }
        ),
        "process": Section(
            {
                "definition": Key(path_text, "the process definition (an existing YAML file)"),
                "timezone": Key(zone, "the IANA time zone of the process"),
                "budget_deadline": Key(day, "the date budget amendments are due"),
                "cabinet_session": Key(day, "the cabinet session that decides the round"),
            },
            extra=Key(day, "a further date a definition names by date_setting"),
        ),
        "scheduler": Section(
            {
                "sweep_interval_seconds": Key(number(1, DAY), "how often a sweep runs"),
                "misfire_grace_seconds": Key(integer(1, 86_400), "a late sweep's grace"),
                "late_after_seconds": Key(number(0, 30 * DAY), "when a rung counts as late"),
                "batch_size": Key(integer(1, 100_000), "rungs per sweep transaction"),
                "outbox_interval_seconds": Key(number(1, DAY), "how often notices are sent"),
                "digest_day": Key(weekday, "the weekly digest's day"),
                "digest_time": Key(time_of_day, "the weekly digest's local time"),
            }
        ),
        "directory": Section({"path": Key(path_text, "the directory (an existing TOML file)")}),
        "mail": Section(
            {
                "transport": Key(choice("maildir", "smtp", "memory"), "how notices leave"),
                "maildir": Key(path_text, "the Maildir of the maildir transport"),
                "sender": Key(text(nonempty=True, limit=300), "the From header"),
                "reply_to": Key(text(limit=300), "the Reply-To header, empty for none"),
                "signature": Key(text(multiline=True), "the signature of a notice"),
                "footer": Key(text(multiline=True), "the footer of a notice"),
                "templates": Key(path_text, "a directory of templates, empty for none"),
                "smtp": Section(
                    {
                        "host": Key(text(nonempty=True, limit=300), "the SMTP server"),
                        "port": Key(integer(1, 65_535), "its port"),
                        "security": Key(choice("none", "starttls", "ssl"), "its security"),
                        "username": Key(text(limit=300), "its user name, empty for none"),
                        "timeout_seconds": Key(number(0, 600, above=True), "its timeout"),
                    }
                ),
                "delivery": Section(
                    {"max_attempts": Key(integer(1, 100), "tries before a notice fails")}
                ),
            }
        ),
        "security": Section({"allow_impersonation": Key(flag, "read for older files; no effect")}),
        "web": Section(
            {
                "secure_cookies": Key(flag, "send the session cookie over HTTPS only"),
                "session_hours": Key(number(0, 24 * 31, above=True), "how long a login lasts"),
                "base_url": Key(url(empty=True), "the public URL of the application"),
                "public_dir": Key(path_text, "the published board to serve, empty for none"),
                "trusted_hosts": Key(names, "the Host names the application answers to"),
                "trusted_proxies": Key(addresses, "proxies whose X-Forwarded-* are believed"),
                # [web.oidc]: types here; what the values must mean (an https issuer on a
                # plain host, openid among the scopes, actors of the directory) is checked by
                # the SSO itself (workflow/web/oidc.py), also when the application starts.
                "oidc": Section(
                    {
                        "issuer": Key(text(limit=2000), "the OpenID Connect issuer"),
                        "client_id": Key(text(limit=300), "this client"),
                        "scopes": Key(text(limit=300), "the scopes"),
                        "claim": Key(name_or_names, "the claim(s) looked up in actors"),
                        "button": Key(text(limit=200), "the button's text"),
                        "actors": Key(string_table, "claim value → directory actor"),
                    },
                    optional=True,
                ),
            }
        ),
        "logging": Section(
            {
                "format": Key(choice("text", "json"), "the format of every log line"),
                "level": Key(choice("DEBUG", "INFO", "WARNING", "ERROR"), "the lowest level"),
            }
        ),
        "monitoring": Section(
            {
                "metrics_allow": Key(addresses, "who may read /metrics without the token"),
                "scheduler_state_file": Key(path_text, "where scheduler run notes its runs"),
                "scheduler_max_age_seconds": Key(number(0, 30 * DAY), "/readyz: sweep age"),
                "notice_max_pending_seconds": Key(number(0, 30 * DAY), "/readyz: notice age"),
            }
        ),
        "documents": Section(
            {
                "directory": Key(path_text, "where attached files live, empty: in the database"),
                "max_megabytes": Key(number(0, 1024, above=True), "the largest file accepted"),
                "types": Key(names, "the types accepted, by content (pdf, docx, png, …)"),
            }
        ),
        "retention": Section(
            {"mail_body_days": Key(integer(0, 36_500), "days a sent mail's text is kept")}
        ),
    }
)


def validate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` (the merged TOML) checked against SCHEMA: the checked values, or InvalidConfig
    with one line for the first problem (an unknown key names the nearest known one)."""
    return _section(SCHEMA, raw, "")


def _section(section: Section, raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidConfig(f"{where or 'the configuration'} must be a table, not {_shown(raw)}")
    result: dict[str, Any] = {}
    for name, value in raw.items():
        path = f"{where}.{name}" if where else name
        spec = section.keys.get(name)
        # a further key where the section takes them, unless it is a typo of a known one
        extra = section.extra if str(name).isidentifier() else None
        if spec is None and extra is not None and _nearest(str(name), section) is None:
            result[name] = extra.check(path, value)
            continue
        if spec is None:
            raise InvalidConfig(_unknown(path, name, section, where))
        if isinstance(spec, Section):
            result[name] = _section(spec, value, path)
        else:
            result[name] = spec.check(path, value)
    return result


def _unknown(path: str, name: str, section: Section, where: str) -> str:
    kind = "key" if where else "section"
    near = _nearest(str(name), section)
    hint = f" (did you mean {_dotted(where, near)}?)" if near else ""
    known = ", ".join(section.keys)
    return f"unknown {kind} {path!r}{hint}; known: {known}"


def _nearest(name: str, section: Section) -> str | None:
    import difflib  # for a wrong key only

    near = difflib.get_close_matches(name, list(section.keys), n=1, cutoff=0.6)
    return near[0] if near else None


def _dotted(where: str, name: str) -> str:
    return f"{where}.{name}" if where else f"[{name}]"


def all_keys(section: Section = SCHEMA, where: str = "") -> list[str]:
    """Every key of the schema, dotted (``mail.smtp.port``), for documentation and tests."""
    found: list[str] = []
    for name, spec in section.keys.items():
        path = f"{where}.{name}" if where else name
        if isinstance(spec, Section):
            found.extend(all_keys(spec, path))
        else:
            found.append(path)
    return found
