"""The tables, in SQLAlchemy Core. Migrations (``migrations/``) create exactly these.

Times are stored in UTC (``UTCDateTime``); JSON is JSONB on PostgreSQL. History is
append-only: rows are inserted, never updated (database triggers enforce it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as UTC (timestamptz on PostgreSQL, text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: ruhrflow stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite may hand back text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONType(TypeDecorator[Any]):
    """JSON; JSONB on PostgreSQL.

    A decorator rather than ``JSON().with_variant(JSONB(), "postgresql")`` because the variant
    needs the JSONB class when this module is imported, and importing
    ``sqlalchemy.dialects.postgresql`` loads all of its drivers (asyncio among them): a
    tenth of ``ruhrflow advance``'s start-up on SQLite. A Python ``None`` is stored as JSON
    ``null``, as plain ``JSON()`` does it (``should_evaluate_none``).
    """

    impl = JSON
    cache_ok = True
    should_evaluate_none = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


Money = Numeric(16, 2)
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only

_metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

definitions = Table(
    "definitions",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    UniqueConstraint("name", "version"),
)

# Actors are referenced from history through an opaque ref, so that a GDPR erasure can
# replace the person behind a ref without touching the (append-only, hashed) history.
actor_refs = Table(
    "actor_refs",
    _metadata,
    Column("ref", String(32), primary_key=True),
    Column("actor_id", String(200), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("pseudonymised_at", UTCDateTime, nullable=True),
    # The ref is a salted commitment to actor_id (workflow/store/attribution.py); an erasure
    # deletes the salt with the id. NULL for refs made before migration 0008_robust.
    Column("salt", String(32), nullable=True),
)

# On PostgreSQL: which directory actor a database login is, and what it may do beyond
# that. Written only by an administrator (``ruhrflow db logins``); see workflow/access/logins.py.
logins = Table(
    "logins",
    _metadata,
    Column("login", String(63), primary_key=True),
    Column("actor_id", String(200), nullable=False),
    # the actor's role and scope as the administrator's directory said at `db logins add`
    Column("role", String(40), nullable=False),
    Column("ministry", String(20), nullable=True),
    Column("forum", SmallInteger, nullable=True),
    Column("may_impersonate", Boolean, nullable=False, server_default=text("false")),
    Column("may_set_clock", Boolean, nullable=False, server_default=text("false")),
    Column("scheduler", Boolean, nullable=False, server_default=text("false")),
    Column("granted_by", String(63), nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),
)

proposals = Table(
    "proposals",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(40), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
    Column("handlungsfeld", SmallInteger, nullable=False),
    Column("themenforum", SmallInteger, nullable=False),
    Column("lead", String(20), nullable=False),
    Column("participating", JSONType, nullable=False),
    Column("cost_estimate", Money, nullable=True),
    Column("state", String(40), nullable=False, index=True),
    Column("definition_id", ForeignKey("definitions.id"), nullable=False),
    Column("row_version", Integer, nullable=False),
    Column("state_entered_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("data", JSONType, nullable=False),
    Column("history_seq", Integer, nullable=False),
    Column("history_head", String(64), nullable=False),
)

statements = Table(
    "statements",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("proposal_id", ForeignKey("proposals.id"), nullable=False, index=True),
    Column("party", String(200), nullable=False),
    Column("party_group", String(20), nullable=False),
    Column("position", String(20), nullable=False),
    Column("text", Text, nullable=False, server_default=""),
    Column("received_at", UTCDateTime, nullable=False),
)

funding = Table(
    "funding",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("proposal_id", ForeignKey("proposals.id"), nullable=False, index=True),
    Column("source", String(20), nullable=False),
    Column("amount", Money, nullable=False),
    Column("year", SmallInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# Files attached to a proposal (migration 0013): append-only, like history; ``content`` holds
# the bytes unless the configured document directory holds them under their SHA-256.
documents = Table(
    "documents",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("proposal_id", ForeignKey("proposals.id"), nullable=False),
    Column("statement_id", ForeignKey("statements.id"), nullable=True),
    Column("transition_seq", Integer, nullable=True),  # a transition entry of the chain
    Column("history_seq", Integer, nullable=False),  # the entry that attached it
    Column("sha256", String(64), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("content_type", String(120), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=True),
    Column("attached_at", UTCDateTime, nullable=False),
    UniqueConstraint("proposal_id", "sha256"),
)

# One row: appends to @system lock it FOR UPDATE (migration 0014), which a reading login
# cannot (no UPDATE right), unlike an advisory lock.
system_chain_lock = Table(
    "system_chain_lock",
    _metadata,
    Column("id", Integer, primary_key=True),
)

history = Table(
    "history",
    _metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("chain", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("trigger", String(60), nullable=False),
    Column("from_state", String(40), nullable=True),
    Column("to_state", String(40), nullable=True),
    Column("actor_ref", String(32), nullable=False, index=True),
    Column("comment", Text, nullable=True),
    Column("data", JSONType, nullable=False),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The database's own time of the insert (migration 0006): PostgreSQL sets it with a
    # trigger (clock_timestamp()), SQLite by its default (milliseconds); NULL before 0006.
    Column("recorded_at", UTCDateTime, nullable=True, server_default=text("CURRENT_TIMESTAMP")),
    UniqueConstraint("chain", "seq"),
)

deadlines = Table(
    "deadlines",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("proposal_id", ForeignKey("proposals.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("state", String(40), nullable=False),
    Column("entry_seq", Integer, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(12), nullable=False),
    # The iCalendar SEQUENCE: 0, +1 for each new period of a recurring deadline and each move.
    Column("sequence", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    # The first deadline of a recurring series (one calendar entry for all its periods);
    # NULL: the deadline is its own series (migration 0007).
    Column("series_id", Integer, nullable=True),
    # The proposal's key, copied when the deadline is inserted (a key never changes): the
    # worklist's order (due time, key, id) comes from the index below, without a join and a
    # sort of every deadline due at the same time (migration 0015; the id, so that one
    # proposal's deadlines due at once keep their order from page to page: 0017).
    Column("proposal_key", String(40), nullable=False),
    Index(None, "proposal_id", "status"),
    Index(None, "status", "due_at", "proposal_key", "id"),
    # One deadline of a kind per state entry (or per reset of a recurring one).
    Index(
        "ux_deadlines_proposal_id_kind_entry_seq", "proposal_id", "kind", "entry_seq", unique=True
    ),
)

deadline_rungs = Table(
    "deadline_rungs",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("deadline_id", ForeignKey("deadlines.id"), nullable=False, index=True),
    Column("rung", String(40), nullable=False),
    Column("fire_at", UTCDateTime, nullable=False),
    Column("fired_at", UTCDateTime, nullable=True),
    Column("late", Boolean, nullable=False, server_default=text("false")),
    # Set when the state was left before the rung fired: it never will.
    Column("cancelled_at", UTCDateTime, nullable=True),
    # Each rung of a deadline exists once, so firing it is an UPDATE of one row.
    Index("ux_deadline_rungs_deadline_id_rung", "deadline_id", "rung", unique=True),
    # ix_deadline_rungs_due: see _partial_indexes below
)

outbox = Table(
    "outbox",
    _metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("proposal_id", ForeignKey("proposals.id"), nullable=True, index=True),
    Column("kind", String(30), nullable=False),
    Column("recipients", JSONType, nullable=False),
    # What the templates are rendered from at delivery (workflow/notices/codec.py) and the
    # deadline of the termin.ics; NULL in rows enqueued before migration 0004.
    Column("context", JSONType, nullable=True),
    Column("calendar", JSONType, nullable=True),
    # The mail as sent: filled when the notice is delivered (before 0004: when enqueued).
    Column("subject", Text, nullable=True),
    Column("body_text", Text, nullable=True),
    Column("body_html", Text, nullable=True),
    Column("attachments", JSONType, nullable=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("message_id", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Index(None, "status", "next_attempt_at"),
)

# --- the web application (migration 0005_web) ---------------------------------------------

# The web's list pages in the database: a state's proposals in key order, without a sort.
Index("ix_proposals_state_key", proposals.c.state, proposals.c.key)

# A ministry's worklist keeps upper(lead) = its code: PostgreSQL has statistics of the
# expression (how many proposals a ministry has) only through an index on it, and without
# them started from every proposal (migration 0016).
Index("ix_proposals_upper_lead", func.upper(proposals.c.lead)).ddl_if(dialect="postgresql")
# SQLite counts a ministry's proposals on this one (the lead beside the expression: the count
# reads the index alone) and reads a small ministry's worklist from them (0017;
# workflow/store/worklist.py).
Index("ix_proposals_upper_lead_lead", func.upper(proposals.c.lead), proposals.c.lead).ddl_if(
    dialect="sqlite"
)

# ``proposal list --lead`` (lead as written) in key order, without a sort (0017; it replaces
# the index on lead alone).
Index("ix_proposals_lead_key", proposals.c.lead, proposals.c.key)

web_accounts = Table(
    "web_accounts",
    _metadata,
    # A local login bound to a directory actor; the password is an argon2id hash.
    Column("actor_id", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime, nullable=True),
    # Counts password changes and disables (migration 0009_sessions): a session remembers the
    # epoch it began in and ends, in every process at once, when the account's has moved on.
    Column("session_epoch", Integer, nullable=False, server_default=text("0")),
)

web_tokens = Table(
    "web_tokens",
    _metadata,
    # API tokens: only the SHA-256 of the token is kept, the token is shown once.
    Column("id", Integer, primary_key=True),
    Column("actor_id", ForeignKey("web_accounts.actor_id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

web_login_throttle = Table(
    "web_login_throttle",
    _metadata,
    # Failed logins per user name (known or not), shared by every app process.
    Column("username", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A login's server-side session (migration 0012_web_sessions): the cookie carries a random id,
# only its SHA-256 is kept; logout, a password change or a disable ends it in every process.
web_sessions = Table(
    "web_sessions",
    _metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("actor_id", ForeignKey("web_accounts.actor_id"), nullable=False, index=True),
    Column("epoch", Integer, nullable=False),  # the account's session_epoch at login
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
)

# Failed logins per user name (known or not) and client address (0012_web_sessions): a
# stranger's failures cannot lock the account's owner out (web_login_throttle is unused since).
web_login_failures = Table(
    "web_login_failures",
    _metadata,
    Column("username", String(200), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

web_secrets = Table(
    "web_secrets",
    _metadata,
    # The per-installation session signing key when RUHRFLOW_WEB_SECRET is not set.
    Column("name", String(40), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row: the random id of this database, made by the migration that created the table
# (``ruhrflow init``). Message-IDs and calendar UIDs derive from it, so that two databases
# (a demo and production, a test copy) never give the same ids (notifications/mail/addresses.py).
installation = Table(
    "installation",
    _metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("installation_id", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when the database holds sample data (``ruhrflow demo``): where it comes from and
    # what is invented, in German; every published page and the web application show it
    # (migration 0010_sample_data). NULL for a real database.
    Column("sample_data", Text, nullable=True),
)

# One row (PostgreSQL): the prefix of this database's group roles and the database it was made
# for, and which grants ``ruhrflow db grants --apply`` applied last (migration 0011_db_roles,
# workflow/access/grants.py). Empty on SQLite, which has no roles.
db_roles = Table(
    "db_roles",
    _metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("prefix", String(40), nullable=False),
    Column("database", String(63), nullable=False),
    Column("grants_version", String(20), nullable=True),
    Column("grants_revision", String(64), nullable=True),
    Column("applied_at", UTCDateTime, nullable=True),
    Column("applied_by", String(63), nullable=True),
)


# --- partial indexes, declared when the whole schema is asked for ---------------------------
#
# A partial index needs ``postgresql_where=``, and SQLAlchemy checks such an argument by
# loading the PostgreSQL dialect with all of its drivers (asyncio among them): a twentieth of
# every command's start on SQLite. No query needs the Index object, only the migrations'
# comparison and the DDL do, and they all reach the schema through ``metadata`` — so the
# module gives ``metadata`` out through ``__getattr__`` and declares these indexes then.


def _partial_indexes() -> None:
    # The sweep asks only for pending rungs: its cost follows what is due, not the table.
    Index(
        "ix_deadline_rungs_due",
        deadline_rungs.c.fire_at,
        sqlite_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
        postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
    )


def __getattr__(name: str) -> MetaData:
    """``metadata``: every table with every index (see the note above)."""
    if name != "metadata":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not any(ix.name == "ix_deadline_rungs_due" for ix in deadline_rungs.indexes):
        _partial_indexes()
    return _metadata
