"""documents: files attached to a proposal, a statement or a transition; never changed

Revision ID: 0013_documents
Revises: 0012_web_sessions

A row per attached file: what it belongs to (the proposal; a statement or a transition
entry of it, if named), its SHA-256, the name it was given, the type its content showed,
its size, the history entry that attached it (``history_seq`` on the proposal's chain,
whose data carries the same SHA-256) and either its bytes (``content``) or nothing, when the
configured document directory holds it under its SHA-256. Rows are append-only like
``history`` (triggers on both backends): a changed file is a new document; ``audit verify``
recomputes every document's SHA-256 against its row and its history entry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_documents"
down_revision = "0012_web_sessions"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)

_SQLITE_UP = [
    """
    CREATE TRIGGER documents_no_update BEFORE UPDATE ON documents
    BEGIN
        SELECT RAISE(ABORT, 'documents are append-only: UPDATE refused');
    END
    """,
    """
    CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
    BEGIN
        SELECT RAISE(ABORT, 'documents are append-only: DELETE refused');
    END
    """,
]
_POSTGRES_UP = [
    """
    CREATE FUNCTION ruhrflow_documents_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'documents are append-only: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER documents_append_only BEFORE UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION ruhrflow_documents_append_only()
    """,
    """
    CREATE TRIGGER documents_no_truncate BEFORE TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION ruhrflow_documents_append_only()
    """,
]


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=True),
        sa.Column("transition_seq", sa.Integer(), nullable=True),
        sa.Column("history_seq", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("attached_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_documents_proposal_id_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.id"], name=op.f("fk_documents_statement_id_statements")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("proposal_id", "sha256", name=op.f("uq_documents_proposal_id_sha256")),
    )
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_UP if dialect == "sqlite" else _POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE documents")
        op.execute("DROP FUNCTION IF EXISTS ruhrflow_documents_append_only()")
    else:
        op.drop_table("documents")
