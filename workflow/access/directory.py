"""The directory: ministries and the functional accounts that act in ruhrflow."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workflow.errors import InvalidConfig, InvalidInput, UnknownActor
from workflow.inputs import read_text_file

ROLES = ("coordinator", "forum_lead", "ministry", "auditor", "system")


@dataclass(frozen=True)
class Ministry:
    """A ministry (Ressort) with its functional mail addresses."""

    code: str
    name: str
    emails: tuple[str, ...]


@dataclass(frozen=True)
class Actor:
    """Somebody (a functional account) who acts in ruhrflow."""

    id: str
    role: str
    name: str
    ministry: str | None = None
    forum: int | None = None
    email: str | None = None
    # The PostgreSQL login this actor authenticates as (default: a login named like the id).
    db_user: str | None = None


@dataclass(frozen=True)
class Directory:
    """Ministries by code and actors by id."""

    ministries: Mapping[str, Ministry]
    actors: Mapping[str, Actor]

    def actor(self, actor_id: str) -> Actor:
        """The actor with this id; UnknownActor when there is none."""
        try:
            return self.actors[actor_id]
        except KeyError:
            raise UnknownActor(actor_id) from None

    def actor_for_db_user(self, db_user: str) -> Actor | None:
        """The actor a PostgreSQL login acts as: the one naming it as ``db_user``, else the
        actor whose id is the login name (unless that actor names another ``db_user``)."""
        for a in self.actors.values():
            if a.db_user == db_user:
                return a
        named = self.actors.get(db_user)
        return named if named is not None and named.db_user is None else None

    def ministry(self, code: str) -> Ministry | None:
        """The ministry with this code, or None."""
        return self.ministries.get(code)

    def by_role(self, role: str) -> list[Actor]:
        """Every actor with this role."""
        return [a for a in self.actors.values() if a.role == role]


def _plain_id(actor_id: str, where: str) -> None:
    """An actor id is a login name, a history entry's actor and a web account's key: one
    plain line, no longer than the web account's column."""
    from workflow.inputs import check_text, column_length
    from workflow.store import limits

    try:
        check_text(actor_id, "the actor id", limit=column_length(limits.ACTOR_ID))
    except InvalidInput as exc:
        raise InvalidConfig(f"{where}: {actor_id!a}: {exc}") from None
    if not actor_id.strip():
        raise InvalidConfig(f"{where}: an actor id must not be empty")
    if actor_id != actor_id.strip():
        raise InvalidConfig(f"{where}: {actor_id!a}: an actor id has no surrounding spaces")


# Some hundred ministries and accounts are a few kilobytes.
MAX_DIRECTORY_BYTES = 4 * 1024 * 1024


def load_directory(path: Path | str) -> Directory:
    """Read ``directory.toml``; every malformed entry is an InvalidConfig naming it."""
    p = Path(path)
    try:
        raw = tomllib.loads(read_text_file(p, MAX_DIRECTORY_BYTES, "directory file"))
    except InvalidInput as exc:  # a device, a binary or a huge file
        raise InvalidConfig(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfig(f"{p}: not valid TOML: {exc}") from None

    ministries: dict[str, Ministry] = {}
    for code, m in raw.get("ministries", {}).items():
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            raise InvalidConfig(f"{p}: ministries.{code}: needs a name")
        emails = m.get("email", [])
        if isinstance(emails, str):
            emails = [emails]
        ministries[code] = Ministry(code, m["name"], tuple(str(e) for e in emails))

    actors: dict[str, Actor] = {}
    for actor_id, a in raw.get("actors", {}).items():
        where = f"{p}: actors.{actor_id}"
        if not isinstance(a, dict):
            raise InvalidConfig(f"{where}: must be a table")
        _plain_id(actor_id, f"{p}: actors")
        role = a.get("role")
        if role not in ROLES:
            raise InvalidConfig(f"{where}: role must be one of {', '.join(ROLES)}, not {role!r}")
        ministry = a.get("ministry")
        if ministry is not None and ministry not in ministries:
            raise InvalidConfig(f"{where}: unknown ministry {ministry!r}")
        if role == "ministry" and ministry is None:
            raise InvalidConfig(f"{where}: an actor with role ministry needs a ministry")
        forum = a.get("forum")
        if role == "forum_lead" and not isinstance(forum, int):
            raise InvalidConfig(f"{where}: an actor with role forum_lead needs a forum number")
        db_user = a.get("db_user")
        if db_user is not None and (not isinstance(db_user, str) or not db_user.strip()):
            raise InvalidConfig(f"{where}: db_user must be a database login name")
        if db_user is not None and any(o.db_user == db_user for o in actors.values()):
            raise InvalidConfig(f"{where}: db_user {db_user!r} belongs to another actor already")
        email = a.get("email")
        if email is None and ministry is not None and ministries[ministry].emails:
            email = ministries[ministry].emails[0]
        actors[actor_id] = Actor(
            id=actor_id,
            role=role,
            name=str(a.get("name", actor_id)),
            ministry=ministry,
            forum=forum,
            email=email,
            db_user=db_user,
        )
    return Directory(ministries, actors)
