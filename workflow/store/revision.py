"""Which migration a database is at, and the newest this ruhrflow ships (Alembic).

Apart from :mod:`workflow.store.migrate`, which runs migrations, so that the store's error
translation (:mod:`workflow.store.db`) can ask without importing what imports it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_REVISION_LINE = re.compile(r'^revision = "([^"]+)"$', re.MULTILINE)


@cache
def shipped_revisions() -> tuple[str, ...]:
    """Every migration this ruhrflow ships, oldest first, without importing Alembic.

    The migration files are numbered (``0011_db_roles.py``) and chained in that order
    (``tests/store/test_migrations.py`` holds them to it), so the newest is the last file's
    ``revision``. Every command checks the database against it (one small read), which a
    cold ``ruhrflow advance`` could not afford through Alembic's script directory.
    """
    files = sorted(p for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    found = []
    for path in files:
        match = _REVISION_LINE.search(path.read_text(encoding="utf-8"))
        if match is not None:
            found.append(match.group(1))
    return tuple(found)


def expected_revision() -> str:
    """The migration a database must be at for this ruhrflow (the newest it ships)."""
    return shipped_revisions()[-1]


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the shipped migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of ruhrflow (Alembic's view)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def revision_of(conn: Connection) -> str | None:
    """The migration the database behind ``conn`` is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def schema_state(current: str | None) -> str:
    """Where a database at migration ``current`` stands for this ruhrflow: ``current``,
    ``empty`` (no schema), ``older`` (run ``ruhrflow init``) or ``newer`` (upgrade ruhrflow)."""
    if current == expected_revision():
        return "current"
    if current is None:
        return "empty"
    return "older" if current in shipped_revisions() else "newer"


def pending_revisions(current: str | None) -> tuple[str, ...]:
    """The shipped migrations a database at ``current`` has not run yet, oldest first
    (every one when it is empty; none when ``current`` is unknown to this ruhrflow)."""
    shipped = shipped_revisions()
    if current is None:
        return shipped
    if current not in shipped:
        return ()
    return shipped[shipped.index(current) + 1 :]
