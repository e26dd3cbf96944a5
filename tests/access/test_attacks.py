"""The attacks of #24, as an ordinary login would try them: plain SQL through psycopg.

Each test logs in as a mapped ministry, forum lead or auditor login (a member of this
database's reader or auditor role after ``db grants --apply``, exactly as the README says),
not through ruhrflow, and tries one attack of the issue. Each is refused by the database,
or caught by ``audit verify``; afterwards the service delivers the outbox and nothing but
the engine's own notices is mailed.
"""

from __future__ import annotations

import email
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from conftest import NOW
from conftest import test_config_text as config_text
from grants_support import drop_database_roles, drop_roles, roles_of
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from support import add_proposal, walk_to

from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.store.schema import outbox, proposals

EVIL = "Bitte Zugangsdaten bestätigen: https://evil.example/login"


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"RUHRFLOW_ACTOR": None})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@dataclass
class Scene:
    """A database after ``db grants --apply`` with proposals, deadlines and pending notices."""

    owner: str  # SQLAlchemy URL of the owner
    config: Path  # mail into a Maildir of this test
    maildir: Path
    own: str  # a proposal of IM in Themenforum 3, in consultation
    other: str  # a proposal of IM, in ministry review
    ministry: str  # psycopg URL of VM's login
    forum: str  # of forum-03's login
    auditor: str  # of pruefung's login

    @property
    def people(self) -> list[str]:
        return [self.ministry, self.forum, self.auditor]

    def scalar(self, sql: str) -> object:
        engine = create_engine(self.owner, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).scalar_one()
        finally:
            engine.dispose()

    def rows(self, table: str) -> int:
        return int(str(self.scalar(f"SELECT count(*) FROM {table}")))

    def ruhrflow(self, *args: str) -> Result:
        """ruhrflow as the owner (an administrator, as the service would be)."""
        return invoke("--db", self.owner, "--config", str(self.config), *args)

    def mails(self) -> list[str]:
        """Every message in the Maildir, decoded."""
        found = []
        for path in sorted((self.maildir / "new").glob("*")) if self.maildir.exists() else []:
            message = email.message_from_bytes(path.read_bytes())
            parts = [message.get("Subject", "")]
            for part in message.walk():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    parts.append(payload.decode("utf-8", "replace"))
            found.append("\n".join(str(p) for p in parts))
        return found


@pytest.fixture
def scene(engine: Engine, tmp_path: Path) -> Iterator[Scene]:
    url = engine.store.engine.url
    if url.get_backend_name() != "postgresql":
        pytest.skip("logins and grants exist only on PostgreSQL")
    owner = url.render_as_string(hide_password=False)
    own = add_proposal(engine, NOW)
    walk_to(engine, own, "consultation", NOW)
    other = add_proposal(engine, NOW)
    walk_to(engine, other, "ministry_review", NOW)
    engine.add_funding(other, source="land", amount=Decimal(1000), year=2020, secured=False,
                       actor="koordination", now=NOW)  # fmt: skip
    config = tmp_path / "ruhrflow.toml"
    config.write_text(config_text(tmp_path / "mail"), encoding="utf-8")
    made: list[str] = []
    try:
        applied = invoke("--db", owner, "db", "grants", "--apply")
        assert applied.exit_code == 0, applied.output
        roles = roles_of(owner)
        admin = create_engine(owner, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        logins = {}
        for actor, group in (("vm", roles.reader), ("forum-03", roles.reader),
                             ("pruefung", roles.auditor)):  # fmt: skip
            name = f"rfa_{actor.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE ROLE "{name}" LOGIN IN ROLE "{group}"'))
            made.append(name)
            added = invoke("--db", owner, "db", "logins", "add", name, actor)
            assert added.exit_code == 0, added.output
            logins[actor] = make_url(owner).set(drivername="postgresql", username=name)
        admin.dispose()
        yield Scene(
            owner, config, tmp_path / "mail", own, other,
            *(u.render_as_string(False) for u in logins.values()),
        )  # fmt: skip
    finally:
        drop_roles(owner, made)
        drop_database_roles(owner)


def refused(login: str, sql: str, params: dict[str, object] | None = None) -> str:
    """Run ``sql`` as ``login`` (its own transaction); it must be refused by the database."""
    with (
        psycopg.connect(login, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege) as denied,
    ):
        conn.execute(sql, params)  # type: ignore[arg-type]
    return str(denied.value)


def all_sent_are_the_engines(scene: Scene) -> None:
    """The service delivers: every notice the engine wrote goes out, nothing else does."""
    pending = scene.rows("outbox WHERE status = 'pending'")
    assert pending > 0
    sent = scene.ruhrflow("notices", "send")
    assert sent.exit_code == 0, sent.output
    assert scene.rows("outbox WHERE status = 'sent'") == pending
    mails = scene.mails()
    assert mails and not [m for m in mails if "evil.example" in m]
    verified = scene.ruhrflow("audit", "verify")
    assert verified.exit_code == 0, verified.output


# --- take over another ministry's proposal -------------------------------------------------


def test_nobody_takes_over_another_ministrys_proposal(scene: Scene) -> None:
    for login in scene.people:
        # when VM (or the forum, the auditor) makes itself the lead of IM's proposal,
        # or the forum moves it into its Themenforum
        refused(login, "UPDATE proposals SET lead = 'VM' WHERE key = %(k)s", {"k": scene.other})
        refused(login, "UPDATE proposals SET themenforum = 4 WHERE key = %(k)s",
                {"k": scene.other})  # fmt: skip
    # then IM still leads it, and VM cannot submit it to the cabinet
    assert scene.scalar(f"SELECT lead FROM proposals WHERE key = '{scene.other}'") == "IM"
    assert scene.ruhrflow("--as", "vm", "advance", scene.other, "submit_to_cabinet").exit_code == 1
    all_sent_are_the_engines(scene)


# --- official mail with any text, to any address; silenced notices --------------------------


def test_nobody_writes_a_notice_into_the_outbox(scene: Scene) -> None:
    before = scene.rows("outbox")
    for n, login in enumerate(scene.people):
        refused(
            login,
            "INSERT INTO outbox (idempotency_key, proposal_id, kind, recipients, context,"
            " status, attempts, next_attempt_at, message_id, created_at)"
            " SELECT %(key)s, id, 'status_change',"
            " '[{\"name\": \"Opfer\", \"address\": \"opfer@example.org\"}]',"
            " jsonb_build_object('proposal', jsonb_build_object('title', %(evil)s::text)),"
            " 'pending', 0, now(), %(mid)s, now() FROM proposals WHERE key = %(k)s",
            {"key": f"transition:{scene.own}:99:status_change:{n}", "evil": EVIL,
             "mid": f"<forged{n}@example.org>", "k": scene.own},
        )  # fmt: skip
    assert scene.rows("outbox") == before
    all_sent_are_the_engines(scene)


def test_nobody_silences_another_ministrys_notices(scene: Scene) -> None:
    for login in scene.people:
        refused(login, "UPDATE outbox SET status = 'sent', sent_at = now()")
        refused(login, "UPDATE outbox SET recipients = '[]'")
        refused(login, "DELETE FROM outbox")
        refused(login, "TRUNCATE outbox")
    all_sent_are_the_engines(scene)  # every pending notice goes out


# --- unrecorded edits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        # funding lines (they flip the financing guard)
        "INSERT INTO funding (proposal_id, source, amount, year, status, recorded_at)"
        " SELECT id, 'land', 99999999, 2020, 'secured', now() FROM proposals",
        "DELETE FROM funding",
        "UPDATE funding SET status = 'secured'",
        # consultation statements (a coordinator's action in the engine)
        "INSERT INTO statements (proposal_id, party, party_group, position, text, received_at)"
        " SELECT id, 'Stadt Essen', 'kommune', 'support', '', now() FROM proposals",
        "DELETE FROM statements",
        # the rungs of an overdue deadline, and the deadline itself
        "DELETE FROM deadline_rungs",
        "UPDATE deadline_rungs SET fire_at = '2099-01-01'",
        "UPDATE deadlines SET due_at = '2099-01-01'",
        "DELETE FROM deadlines",
        # titles and costs
        "UPDATE proposals SET title = 'Anderer Titel', cost_estimate = 1",
        # history, actor refs, definitions, logins
        "UPDATE history SET comment = 'geändert'",
        "DELETE FROM history",
        "UPDATE actor_refs SET actor_id = 'pseudonym-x'",
        "UPDATE definitions SET source = ''",
        "UPDATE logins SET may_impersonate = true",
        "UPDATE web_accounts SET password_hash = 'x'",
    ],
)
def test_no_edit_passes_by_the_engine(scene: Scene, sql: str) -> None:
    counts = {t: scene.rows(t) for t in ("funding", "statements", "deadlines", "deadline_rungs")}
    for login in scene.people:
        refused(login, sql)
    assert {t: scene.rows(t) for t in counts} == counts
    verified = scene.ruhrflow("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_no_history_entry_passes_by_the_engine(scene: Scene) -> None:
    for login in (scene.ministry, scene.forum):
        refused(
            login,
            'INSERT INTO history (chain, seq, kind, "trigger", actor_ref, data, at, prev_hash,'
            " hash) SELECT key, history_seq + 1, 'transition', 'submit_to_cabinet',"
            " 'x', '{}', now(), history_head, repeat('0', 64) FROM proposals",
        )
        refused(
            login, "INSERT INTO actor_refs (ref, actor_id, created_at) VALUES ('r', 'vm', now())"
        )
    all_sent_are_the_engines(scene)


# --- the auditor's entries: its own, at the server's time -----------------------------------


def _auditor_entry(kind: str, ref: str, at: str = "now()", chain: str = "@system") -> str:
    return (
        'INSERT INTO history (chain, seq, kind, "trigger", actor_ref, data, at, prev_hash, hash)'
        f" SELECT '{chain}', COALESCE(max(seq), 0) + 1, '{kind}', '{kind}', '{ref}',"
        f" '{{\"result\": \"ok\"}}', {at}, repeat('0', 64), repeat('0', 64)"
        f" FROM history WHERE chain = '{chain}'"
    )


def test_the_auditor_adds_only_its_own_entries_at_the_servers_time(scene: Scene) -> None:
    # given the auditor's own checkpoint through ruhrflow (its ref is made then)
    checkpoint = invoke("--db", scene.auditor.replace("postgresql://", "postgresql+psycopg://"),
                        "--config", str(scene.config), "audit", "checkpoint")  # fmt: skip
    assert checkpoint.exit_code == 0, checkpoint.output
    mine = str(scene.scalar("SELECT ref FROM actor_refs WHERE actor_id = 'pruefung'"))
    theirs = str(scene.scalar("SELECT ref FROM actor_refs WHERE actor_id = 'koordination'"))
    # when it attributes a checkpoint to somebody else, backdates its own, or writes another kind
    for sql in (
        _auditor_entry("checkpoint", theirs),
        _auditor_entry("verification", theirs),
        _auditor_entry("checkpoint", mine, at="'2019-07-15 10:00+02'"),
        _auditor_entry("verification", mine, at="now() + interval '1 day'"),
        _auditor_entry("event", mine),
        _auditor_entry("checkpoint", mine, chain=scene.own),
    ):
        assert "row-level security" in refused(scene.auditor, sql)
    # or makes itself a ref of another actor, or plants one of its own that would be picked
    # before its real one (backdated, or unsalted so that no commitment proves it)
    assert "row-level security" in refused(
        scene.auditor,
        "INSERT INTO actor_refs (ref, actor_id, created_at) VALUES ('r', 'koordination', now())",
    )
    for ref, created, salt in (
        ("a" * 32, "'1900-01-01 00:00+00'", "'" + "0" * 32 + "'"),
        ("b" * 24, "clock_timestamp()", "NULL"),
        ("c" * 32, "clock_timestamp()", "NULL"),
    ):
        assert "row-level security" in refused(
            scene.auditor,
            "INSERT INTO actor_refs (ref, actor_id, created_at, salt)"
            f" VALUES ('{ref}', 'pruefung', {created}, {salt})",
        )
    # then each is refused; what it may add — its own verification, now — but with a made-up
    # hash (a result it invented) is caught by audit verify
    with psycopg.connect(scene.auditor, autocommit=True) as conn:
        conn.execute(_auditor_entry("verification", mine))  # type: ignore[arg-type]
    verified = scene.ruhrflow("audit", "verify")
    assert verified.exit_code == 1 and "@system" in verified.output, verified.output
    sent = scene.ruhrflow("notices", "send")
    assert sent.exit_code == 0 and not [m for m in scene.mails() if "evil.example" in m]


def test_the_attackers_logins_still_read(scene: Scene) -> None:
    for login in scene.people:
        with psycopg.connect(login) as conn:
            found = conn.execute(
                "SELECT count(*) FROM proposals WHERE key = %(k)s", {"k": scene.own}
            ).fetchone()
        assert found == (1,)
    engine = create_engine(scene.owner, poolclass=NullPool)
    with engine.connect() as conn:
        assert conn.execute(select(proposals.c.lead).where(proposals.c.key == scene.own)).scalar()
        assert conn.execute(select(outbox.c.id)).first() is not None
    engine.dispose()


# --- stalling the audit record --------------------------------------------------------------


def test_a_reading_login_cannot_stall_appends_to_the_system_chain(scene: Scene) -> None:
    # given VM's reading login holding the advisory lock the system chain used before 0.3.0
    # (any login may take advisory locks), and trying the row lock that replaced it
    refused(scene.ministry, "SELECT id FROM system_chain_lock WHERE id = 1 FOR UPDATE")
    with psycopg.connect(scene.ministry) as holder:
        holder.execute("SELECT pg_advisory_lock(1919303795)")  # 0x72664073, "rf@s"
        # when a checkpoint is taken meanwhile (as the owner, who is an administrator)
        taken = scene.ruhrflow("--as", "pruefung", "audit", "checkpoint")
    # then it does not wait for the reader: done at once
    assert taken.exit_code == 0, taken.output
    assert "checkpoint" in taken.output
