"""rights in the database: logins, the server's own time in history, rows that match chains

Revision ID: 0006_rights
Revises: 0005_web

- ``logins``: on PostgreSQL, which actor a database login is, the actor's role and scope
  (ministry, Themenforum) as the administrator's directory gave them, and what it may do
  beyond that (act as others, set the engine's clock, run the scheduler's system actions).
  Set by an administrator (``ruhrflow db logins``), never read from a file the caller
  chooses.
  The table exists on SQLite too (one schema), where it is not consulted.
- ``history.recorded_at``: the database's own time of the insert, next to the effective
  time ``at`` that ``--now`` may set. PostgreSQL: a BEFORE INSERT trigger sets it to
  ``clock_timestamp()`` whatever the client sends; SQLite: a column default. Rows written
  before this migration keep NULL (unknown). Not part of the hash (the canonical bytes
  stay as they were, so existing chains verify); history is append-only, so it cannot be
  changed after the insert.
- PostgreSQL: a deferred constraint trigger checks at commit that every proposal row
  written in the transaction matches its chain's last entry (seq, hash, state, row
  version): the state cannot change without a history entry.
- ``actor_refs`` can change only by pseudonymisation (the person behind a ref becomes a
  ``pseudonym-…`` once), never be re-attributed — on both backends.

SQLite cannot add a column with a non-constant default, so ``history`` is rebuilt there
(its append-only triggers are dropped for the copy and created again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_rights"
down_revision = "0005_web"  # main has 0005_web; chained when main was merged
branch_labels = None
depends_on = None

# SQLite: milliseconds, in the text form the store writes (naive UTC).
SQLITE_NOW = "(strftime('%Y-%m-%d %H:%M:%f', 'now'))"

_SQLITE_HISTORY_TRIGGERS = [  # as migration 0003 created them
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
_SQLITE_HISTORY_TRIGGER_NAMES = ("history_no_replace", "history_no_delete", "history_no_update")

_SQLITE_ACTOR_REFS = """
    CREATE TRIGGER actor_refs_pseudonymise_only BEFORE UPDATE ON actor_refs
    WHEN NOT (
        OLD.pseudonymised_at IS NULL AND NEW.pseudonymised_at IS NOT NULL
        AND NEW.ref = OLD.ref AND NEW.created_at = OLD.created_at
        AND NEW.actor_id LIKE 'pseudonym-%'
    )
    BEGIN
        SELECT RAISE(ABORT, 'actor refs change only by pseudonymisation');
    END
"""

_POSTGRES_UP = [
    # the server's own time, whatever the client sent
    """
    CREATE FUNCTION ruhrflow_history_recorded_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.recorded_at := clock_timestamp();
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER history_recorded_at BEFORE INSERT ON history
    FOR EACH ROW EXECUTE FUNCTION ruhrflow_history_recorded_at()
    """,
    # a proposal row agrees with its chain's last entry when the transaction commits
    """
    CREATE FUNCTION ruhrflow_proposal_matches_chain() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        p record;
        h record;
    BEGIN
        SELECT key, state, row_version, history_seq, history_head INTO p
            FROM proposals WHERE id = NEW.id;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        SELECT seq, hash, to_state INTO h
            FROM history WHERE chain = p.key ORDER BY seq DESC LIMIT 1;
        IF NOT FOUND OR h.seq <> p.history_seq OR h.hash <> p.history_head
                OR h.to_state IS DISTINCT FROM p.state OR p.row_version <> p.history_seq THEN
            RAISE EXCEPTION 'proposal % does not match its history: state, row version'
                ' and head change only together with a history entry', p.key
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE CONSTRAINT TRIGGER proposals_match_chain
    AFTER INSERT OR UPDATE OF key, state, row_version, history_seq, history_head ON proposals
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ruhrflow_proposal_matches_chain()
    """,
    # the person behind a ref is never replaced by another person
    """
    CREATE FUNCTION ruhrflow_actor_refs_pseudonymise_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.pseudonymised_at IS NULL AND NEW.pseudonymised_at IS NOT NULL
                AND NEW.ref = OLD.ref AND NEW.created_at = OLD.created_at
                AND NEW.actor_id LIKE 'pseudonym-%' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'actor refs change only by pseudonymisation'
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER actor_refs_pseudonymise_only BEFORE UPDATE ON actor_refs
    FOR EACH ROW EXECUTE FUNCTION ruhrflow_actor_refs_pseudonymise_only()
    """,
]
_POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS actor_refs_pseudonymise_only ON actor_refs",
    "DROP FUNCTION IF EXISTS ruhrflow_actor_refs_pseudonymise_only()",
    "DROP TRIGGER IF EXISTS proposals_match_chain ON proposals",
    "DROP FUNCTION IF EXISTS ruhrflow_proposal_matches_chain()",
    "DROP TRIGGER IF EXISTS history_recorded_at ON history",
    "DROP FUNCTION IF EXISTS ruhrflow_history_recorded_at()",
]


def _create_logins() -> None:
    op.create_table(
        "logins",
        sa.Column("login", sa.String(length=63), nullable=False),
        sa.Column("actor_id", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("ministry", sa.String(length=20), nullable=True),
        sa.Column("forum", sa.SmallInteger(), nullable=True),
        sa.Column("may_impersonate", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("may_set_clock", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("scheduler", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("granted_by", sa.String(length=63), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_logins")),
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_logins()
    if dialect == "postgresql":
        # two steps: existing rows stay NULL (their server time is unknown)
        op.add_column("history", sa.Column("recorded_at", sa.DateTime(timezone=True)))
        op.alter_column("history", "recorded_at", server_default=sa.text("CURRENT_TIMESTAMP"))
        for statement in _POSTGRES_UP:
            op.execute(statement)
    elif dialect == "sqlite":
        for name in _SQLITE_HISTORY_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        with op.batch_alter_table("history", recreate="always") as batch_op:
            batch_op.add_column(
                sa.Column(
                    "recorded_at", sa.DateTime(timezone=True), server_default=sa.text(SQLITE_NOW)
                )
            )
        op.execute("UPDATE history SET recorded_at = NULL")  # the copy filled in the default
        for statement in _SQLITE_HISTORY_TRIGGERS:
            op.execute(statement)
        op.execute(_SQLITE_ACTOR_REFS)
    else:
        raise NotImplementedError(f"no migration 0006 for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in _POSTGRES_DOWN:
            op.execute(statement)
        op.drop_column("history", "recorded_at")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS actor_refs_pseudonymise_only")
        for name in _SQLITE_HISTORY_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        with op.batch_alter_table("history", recreate="always") as batch_op:
            batch_op.drop_column("recorded_at")
        for statement in _SQLITE_HISTORY_TRIGGERS:
            op.execute(statement)
    op.drop_table("logins")
