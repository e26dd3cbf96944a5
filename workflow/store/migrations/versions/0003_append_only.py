"""history is append-only: triggers refuse UPDATE, DELETE (and TRUNCATE, REPLACE)

Revision ID: 0003
Revises: 0002

SQLite: BEFORE UPDATE and BEFORE DELETE triggers abort. ``INSERT OR REPLACE`` would
delete the conflicting row implicitly, and with ``recursive_triggers`` off (the default)
that implicit delete fires no DELETE trigger — so a BEFORE INSERT trigger refuses any
insert that would collide with an existing row (same chain and seq, or same id) before
the conflict resolution can run. PostgreSQL: one trigger function refusing UPDATE and
DELETE (per row) and TRUNCATE (per statement). An attacker with owner rights can still
drop the triggers; ``ruhrflow audit verify`` and checkpoints detect what they do then.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SQLITE_UP = [
    """
    CREATE TRIGGER history_no_update BEFORE UPDATE ON history
    BEGIN
        SELECT RAISE(ABORT, 'history is append-only: UPDATE refused');
    END
    """,
    """
    CREATE TRIGGER history_no_delete BEFORE DELETE ON history
    BEGIN
        SELECT RAISE(ABORT, 'history is append-only: DELETE refused');
    END
    """,
    """
    CREATE TRIGGER history_no_replace BEFORE INSERT ON history
    WHEN EXISTS (
        SELECT 1 FROM history
        WHERE (chain = NEW.chain AND seq = NEW.seq) OR id = NEW.id
    )
    BEGIN
        SELECT RAISE(ABORT, 'history is append-only: the entry exists already');
    END
    """,
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS history_no_replace",
    "DROP TRIGGER IF EXISTS history_no_delete",
    "DROP TRIGGER IF EXISTS history_no_update",
]

_POSTGRES_UP = [
    """
    CREATE FUNCTION ruhrflow_history_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'history is append-only: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION ruhrflow_history_append_only()
    """,
    """
    CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
    FOR EACH STATEMENT EXECUTE FUNCTION ruhrflow_history_append_only()
    """,
]
_POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS history_no_truncate ON history",
    "DROP TRIGGER IF EXISTS history_append_only ON history",
    "DROP FUNCTION IF EXISTS ruhrflow_history_append_only()",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(_SQLITE_UP)
    elif dialect == "postgresql":
        _run(_POSTGRES_UP)
    else:
        raise NotImplementedError(f"no append-only triggers for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(_SQLITE_DOWN)
    elif dialect == "postgresql":
        _run(_POSTGRES_DOWN)
