"""Rights on PostgreSQL come from the database, never from what the caller chooses (#18, #24).

Every test here runs on PostgreSQL with ``db grants --apply`` and real logins, created
with unique names (logins are cluster-wide) and dropped afterwards, like the database's own
group roles. Each login is mapped to its actor by an administrator (``db logins add``); the
tests' configuration, which every CLI call gets through RUHRFLOW_CONFIG, says
``allow_impersonation = true`` — and must not matter. People's logins only read (#24): what
changes data runs as a service login (``ruhrflow serve``, the scheduler) or an administrator.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import NOW, REPO
from grants_support import drop_database_roles, drop_roles, roles_of
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from support import add_proposal, walk_to

from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.errors import PermissionDenied
from workflow.store.db import Store
from workflow.store.schema import history, proposals

Login = Callable[..., str]  # login(actor, *rights, group=...) -> the login's database URL
ONLY_READS = "a person's database login only reads"


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"RUHRFLOW_ACTOR": None})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def refused(result: Result, *fragments: str) -> None:
    """Exit 1 with exactly one ``error:`` line containing every fragment."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def pg(database_url: str) -> Iterator[str]:
    """The owner's URL of a fresh PostgreSQL database with the grants applied."""
    if not database_url.startswith("postgresql"):
        pytest.skip("logins and grants exist only on PostgreSQL")
    try:
        for _ in range(2):  # idempotent: applied again after every migration
            applied = invoke("--db", database_url, "db", "grants", "--apply")
            assert applied.exit_code == 0, applied.output
        yield database_url
    finally:
        drop_database_roles(database_url)


@pytest.fixture
def login(pg: str) -> Iterator[Login]:
    """Creates logins in a group role of the database (``reader``, ``auditor``, ``service``,
    ``admin``), mapped by the owner (an administrator) to an actor."""
    admin = create_engine(pg, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    roles = roles_of(pg)
    made: list[str] = []

    def make(actor: str, *rights: str, group: str = "reader", mapped: bool = True) -> str:
        name = f"rf_{actor.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{name}" LOGIN IN ROLE "{getattr(roles, group)}"'))
        made.append(name)
        if mapped:
            added = invoke("--db", pg, "db", "logins", "add", name, actor, *rights)
            assert added.exit_code == 0, added.output
        return make_url(pg).set(username=name).render_as_string(False)

    yield make
    admin.dispose()
    drop_roles(pg, made)


def owner(engine: Engine) -> str:
    """The URL the engine (the owner of the tables) connects with."""
    return engine.store.engine.url.render_as_string(hide_password=False)


def actors_of(engine: Engine, key: str) -> list[str]:
    shown = invoke("--db", owner(engine), "history", key, "--format", "json")
    assert shown.exit_code == 0, shown.output
    return [e["actor"] for e in json.loads(shown.stdout)]


# --- 18.1: who a login is, and whether it may act as others ---------------------------------


def test_a_writer_login_cannot_act_as_anyone_whatever_its_config_says(
    engine: Engine, login: Login, tmp_path: Path
) -> None:
    key = add_proposal(engine, NOW)
    forum = login("forum-03")
    # given a config that allows impersonation and a directory mapping the login elsewhere
    name = make_url(forum).username
    directory = tmp_path / "directory.toml"
    shipped = (REPO / "config" / "directory.toml").read_text(encoding="utf-8")
    directory.write_text(
        shipped.replace("[actors.koordination]\n", f'[actors.koordination]\ndb_user = "{name}"\n'),
        encoding="utf-8",
    )  # fmt: skip
    own = tmp_path / "own.toml"
    own.write_text(
        f'[security]\nallow_impersonation = true\n[directory]\npath = "{directory}"\n'
        f'[mail]\nmaildir = "{tmp_path / "mail"}"\n',
        encoding="utf-8",
    )
    # when the forum's login asks as koordination, or without --as under that directory
    as_other = invoke("--db", forum, "--config", str(own), "--as", "koordination",
                      "triggers", key, "--format", "json")  # fmt: skip
    via_file = invoke("--db", forum, "--config", str(own), "triggers", key, "--format", "json")
    # then --as is refused (one line, exit 1), and without it the login is forum-03 (who may
    # submit its forum's proposal), not koordination
    refused(as_other, f"database user '{name}' may not act as 'koordination'")
    assert via_file.exit_code == 0, via_file.output
    submit = next(o for o in json.loads(via_file.stdout) if o["trigger"] == "submit")
    assert submit["can_fire"], submit
    # and a person's login changes nothing itself: it acts through the service
    refused(invoke("--db", forum, "--config", str(own), "advance", key, "submit"), ONLY_READS)
    assert actors_of(engine, key) == ["koordination"]


def test_a_directory_the_login_chooses_cannot_widen_its_actors_role(
    engine: Engine, login: Login, tmp_path: Path
) -> None:
    key = add_proposal(engine, NOW)
    forum = login("forum-03")  # recorded as forum_lead of Themenforum 3
    submitted = invoke("--db", owner(engine), "--as", "forum-03", "advance", key, "submit")
    assert submitted.exit_code == 0, submitted.output
    # given its own directory that makes forum-03 a coordinator
    directory = tmp_path / "directory.toml"
    shipped = (REPO / "config" / "directory.toml").read_text(encoding="utf-8")
    directory.write_text(
        shipped.replace('[actors.forum-03]\nrole = "forum_lead"\nforum = 3\n',
                        '[actors.forum-03]\nrole = "coordinator"\n'),
        encoding="utf-8",
    )  # fmt: skip
    own = tmp_path / "own.toml"
    own.write_text(f'[directory]\npath = "{directory}"\n', encoding="utf-8")
    # when it opens the consultation (coordinators only) under that directory
    result = invoke("--db", forum, "--config", str(own), "advance", key, "open_consultation")
    # then it is refused: the database says what forum-03 is
    refused(result, "it makes forum-03 coordinator", "forum_lead (forum 3)")
    with engine.store.read() as conn:
        assert conn.execute(select(proposals.c.state)).scalar_one() == "proposed"


def test_impersonation_is_granted_by_the_administrator_in_the_database(
    engine: Engine, login: Login
) -> None:
    key = add_proposal(engine, NOW)
    # given a person's login the administrator lets act as others, and the service's login
    office = login("koordination", "--may-impersonate")
    service = login("ruhrflow", group="service")
    # when the person's login looks as forum-03, then that is allowed (and logged)
    looked = invoke("--db", office, "--as", "forum-03", "triggers", key)
    assert looked.exit_code == 0, looked.output
    # but it changes nothing itself; the service acts for forum-03 (as the web application does)
    refused(invoke("--db", office, "--as", "forum-03", "advance", key, "submit"), ONLY_READS)
    done = invoke("--db", service, "--as", "forum-03", "advance", key, "submit")
    assert done.exit_code == 0, done.output
    assert actors_of(engine, key)[-1] == "forum-03"


def test_db_logins_is_for_administrators_only(pg: str, login: Login) -> None:
    # given an administrator (member of the database's admin role) and a person's login
    admin = login("koordination", group="admin", mapped=False)
    writer = login("forum-03")
    target = make_url(login("vm", mapped=False)).username
    assert target is not None
    # when the person tries to map a login, or to list them, it is refused (exit 1)
    refused(invoke("--db", writer, "db", "logins", "add", target, "vm", "--may-impersonate"),
            "may not manage logins", "administrator")  # fmt: skip
    refused(invoke("--db", writer, "db", "logins", "list"), "may not list logins")
    # and the database refuses a write past the CLI too
    with (
        create_engine(writer, poolclass=NullPool).connect() as conn,
        pytest.raises(DBAPIError, match="permission denied"),
    ):
        conn.execute(text("UPDATE logins SET may_impersonate = true"))
    # the administrator adds, lists and removes
    added = invoke("--db", admin, "db", "logins", "add", target, "vm", "--may-set-clock")
    assert added.exit_code == 0 and f"login {target} acts as vm (may-set-clock)" in added.stdout
    listed = invoke("--db", admin, "db", "logins", "list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert '"may_set_clock": true' in listed.stdout and target in listed.stdout
    assert invoke("--db", admin, "db", "logins", "remove", target).exit_code == 0
    again = invoke("--db", admin, "db", "logins", "remove", target)
    assert again.exit_code == 2 and "no entry for login" in again.stderr
    # bad input: an unknown actor, a login that does not exist
    assert invoke("--db", admin, "db", "logins", "add", target, "niemand").exit_code == 2
    missing = invoke("--db", admin, "db", "logins", "add", "rf_gibt_es_nicht_x", "vm")
    assert missing.exit_code == 2 and "no database login" in missing.stderr


def test_db_logins_on_sqlite_is_bad_input(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite case")
    result = invoke("--db", database_url, "db", "logins", "list")
    assert result.exit_code == 2 and "only on PostgreSQL" in result.stderr


# --- 18.2: who may set the clock and run the scheduler --------------------------------------


def test_now_is_refused_to_a_login_without_the_clock_right(engine: Engine, login: Login) -> None:
    key = add_proposal(engine, NOW)
    ministry = login("koordination", group="service")  # writes, may not set the clock
    # when a plain login backdates a transition, or runs the scheduler years ahead
    backdated = invoke("--db", ministry, "--now", "2019-01-01", "advance", key, "submit")
    ahead = invoke("--db", ministry, "--now", "2030-01-01", "scheduler", "tick")
    # then both are refused with one line, and nothing was written
    refused(backdated, "may not set the engine's clock (--now)")
    refused(ahead)
    with engine.store.read() as conn:
        assert conn.execute(select(proposals.c.state)).scalar_one() == "idea"
    # a read command may still look at another day
    assert invoke("--db", ministry, "--now", "2019-08-01", "deadlines").exit_code == 0


def test_the_clock_and_the_scheduler_are_granted_in_the_database(
    engine: Engine, login: Login
) -> None:
    key = add_proposal(engine, NOW)
    clock = login("koordination", "--may-set-clock", group="service")
    runner = login("ruhrflow", group="service")  # the service runs the scheduler
    plain = login("forum-03")
    named = login("ruhrflow", "--scheduler")  # named for it, but a reader
    # a login granted the clock may simulate
    later = invoke("--db", clock, "--now", "2019-07-16T10:00", "advance", key, "submit")
    assert later.exit_code == 0, later.output
    # the scheduler's system actions: only for the login named for them
    refused(invoke("--db", plain, "scheduler", "tick"), ONLY_READS)
    refused(invoke("--db", plain, "notices", "send"), ONLY_READS)
    refused(invoke("--db", named, "scheduler", "tick"), ONLY_READS)
    assert invoke("--db", runner, "scheduler", "tick").exit_code == 0
    assert invoke("--db", runner, "notices", "send").exit_code == 0
    # … and it may not set the clock unless granted that too
    refused(invoke("--db", runner, "--now", "2030-01-01", "scheduler", "tick"), "--now")


def test_recorded_at_is_the_servers_time_whatever_the_client_sends(
    engine: Engine, login: Login
) -> None:
    key = add_proposal(engine, NOW)
    office = login("koordination", "--may-set-clock", group="service")
    with engine.store.read() as conn:
        server_now = conn.execute(text("SELECT now()")).scalar_one()
    # given an entry written with --now in 2019
    submitted = invoke("--db", office, "--now", "2019-07-16T10:00", "advance", key, "submit")
    assert submitted.exit_code == 0, submitted.output
    # and a row the service's login inserts by hand with its own recorded_at
    with create_engine(office, poolclass=NullPool).begin() as conn:
        conn.execute(
            history.insert().values(
                chain="@test", seq=1, kind="event", trigger="t", actor_ref="x", data={},
                at=NOW, prev_hash="0" * 64, hash="0" * 64, recorded_at=NOW,
            )
        )  # fmt: skip
    # then the database recorded its own time for both, not 2019
    with engine.store.read() as conn:
        rows = conn.execute(
            select(history.c.at, history.c.recorded_at).where(history.c.seq >= 1)
            .where(history.c.chain.in_([key, "@test"])).order_by(history.c.id)
        ).all()  # fmt: skip
    assert [r.at.year for r in rows] == [2019, 2019, 2019]
    assert all(r.recorded_at >= server_now for r in rows[1:])
    assert actors_of(engine, key) == ["koordination", "koordination"]


# --- 18.4: the proposal row cannot drift from its chain -------------------------------------


def test_not_even_the_service_changes_a_state_without_a_history_entry(
    engine: Engine, login: Login
) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "cabinet", NOW)
    person = create_engine(login("koordination"), poolclass=NullPool)
    with pytest.raises(DBAPIError, match="permission denied"), person.begin() as conn:
        conn.execute(text("UPDATE proposals SET state = 'approved'"))
    person.dispose()
    writer = create_engine(login("ruhrflow", group="service"), poolclass=NullPool)
    # when the service's login sets the state (alone, or with a made-up head)
    for statement in (
        "UPDATE proposals SET state = 'approved'",
        "UPDATE proposals SET state = 'approved', row_version = row_version + 1,"
        " history_seq = history_seq + 1",
    ):
        with pytest.raises(DBAPIError, match="does not match its history"), writer.begin() as conn:
            conn.execute(text(statement))
    writer.dispose()
    # then nothing changed and the chain verifies
    with engine.store.read() as conn:
        assert conn.execute(select(proposals.c.state)).scalar_one() == "cabinet"
    assert invoke("--db", owner(engine), "audit", "verify").exit_code == 0


# --- 18.6: every documented command works for its role; refusals are one line ---------------


def test_the_auditor_and_the_coordinator_commands_work_under_the_grants(
    engine: Engine, login: Login, tmp_path: Path
) -> None:
    key = add_proposal(engine, NOW)
    auditor = login("pruefung", group="auditor")
    office = login("koordination", group="service")
    assert invoke("--db", office, "--as", "forum-03", "advance", key, "submit").exit_code == 0
    assert invoke("--db", office, "advance", key, "open_consultation").exit_code == 0
    # the auditor's documented commands
    for args in (
        ("audit", "verify"),
        ("audit", "verify", "--record"),
        ("audit", "checkpoint"),
        ("audit", "log", key, "--format", "csv"),
        ("audit", "export", "--format", "jsonl", "--output", str(tmp_path / "h.jsonl")),
        ("report", "status"),
        ("report", "overdue"),
        ("proposal", "list"),
        ("proposal", "show", key),
        ("history", key),
        ("deadlines",),
        ("notices", "list"),
    ):
        result = invoke("--db", auditor, *args)
        assert result.exit_code == 0, (args, result.output)
    checkpoint = invoke("--db", auditor, "audit", "checkpoint", "--format", "json")
    assert checkpoint.exit_code == 0, checkpoint.output
    # the auditor's write attempts: one line, exit 1 (never 70)
    refused(invoke("--db", auditor, "advance", key, "close_consultation"), "pruefung")
    refused(invoke("--db", auditor, "consult", "record", key, "--party", "Stadt Essen",
                   "--group", "kommune", "--position", "support"))  # fmt: skip
    refused(invoke("--db", auditor, "proposal", "add", "--title", "Neu", "--handlungsfeld", "3",
                   "--forum", "3", "--lead", "IM"))  # fmt: skip
    # a statement the grants refuse is a refusal too, not an internal error
    store = Store.open(auditor)
    try:
        denied = pytest.raises(PermissionDenied, match="permission denied for table proposals")
        with denied, store.write() as conn:
            conn.execute(update(proposals).values(title="geändert"))
    finally:
        store.dispose()
    # and past the CLI, the database admits no other history row from the auditor
    with (
        pytest.raises(DBAPIError, match="row-level security"),
        create_engine(auditor, poolclass=NullPool).begin() as conn,
    ):
        conn.execute(
            history.insert().values(
                chain=key, seq=99, kind="event", trigger="t", actor_ref="x", data={},
                at=NOW, prev_hash="0" * 64, hash="0" * 64,
            )
        )  # fmt: skip
    # the coordinator's erasure works (through the service), and nobody can re-attribute a ref
    erased = invoke("--db", office, "audit", "pseudonymise", "forum-03")
    assert erased.exit_code == 0, erased.output
    with (
        pytest.raises(DBAPIError, match="only by pseudonymisation"),
        create_engine(office, poolclass=NullPool).begin() as conn,
    ):
        conn.execute(text("UPDATE actor_refs SET actor_id = 'vm'"))
    assert invoke("--db", auditor, "audit", "verify").exit_code == 0


def test_the_coordinators_and_the_schedulers_commands_work_as_the_service(
    engine: Engine, login: Login
) -> None:
    office = login("koordination", group="service")
    runner = login("ruhrflow", group="service")
    person = login("koordination")
    data = REPO / "definitions" / "data" / "ruhr_konferenz_2019.csv"
    # the coordinator's documented commands, as the service's login mapped to it, without --as;
    # the coordinator's own login is refused each of them, one line, before anything is written
    for args in (
        ("proposal", "import", str(data)),
        ("advance", "RK-03-01", "submit"),
        ("advance", "RK-03-01", "open_consultation"),
        ("consult", "record", "RK-03-01", "--party", "Stadt Essen", "--group", "kommune",
         "--position", "support"),
        ("funding", "add", "RK-03-01", "--source", "land", "--amount", "1000", "--year", "2020"),
        ("triggers", "RK-03-01"),
        ("advance", "--where", "state=idea", "submit"),
        ("notices", "retry", "--all-failed"),
        ("audit", "pseudonymise", "koordination"),
    ):  # fmt: skip
        if args[0] not in ("triggers", "notices"):  # a read; a retry of nothing changes nothing
            refused(invoke("--db", person, *args))
        result = invoke("--db", office, *args)
        assert result.exit_code == 0, (args, result.output)
    # the scheduler's login runs the sweep and delivers
    for args in (("scheduler", "tick"), ("notices", "send")):
        result = invoke("--db", runner, *args)
        assert result.exit_code == 0, (args, result.output)
    assert invoke("--db", owner(engine), "audit", "verify").exit_code == 0


def test_only_administrators_touch_the_web_applications_accounts_and_secret(
    pg: str, login: Login
) -> None:
    writer = create_engine(login("koordination"), poolclass=NullPool)
    auditor = create_engine(login("pruefung", group="auditor"), poolclass=NullPool)
    admin = create_engine(login("koordination", group="admin", mapped=False),
                          poolclass=NullPool)  # fmt: skip
    service = create_engine(login("ruhrflow", group="service", mapped=False), poolclass=NullPool)
    # a person's login could otherwise set koordination's password hash or forge a session cookie
    for engine_, statement in (
        (writer, "SELECT * FROM web_secrets"),
        (writer, "UPDATE web_accounts SET password_hash = 'x'"),
        (writer, "SELECT password_hash FROM web_accounts"),
        (auditor, "SELECT * FROM web_tokens"),
    ):
        with pytest.raises(DBAPIError, match="permission denied"), engine_.begin() as conn:
            conn.execute(text(statement))
    # the web application's login (the service) and administrators read and write them
    for engine_ in (service, admin):
        with engine_.begin() as conn:
            conn.execute(text("SELECT count(*) FROM web_accounts")).scalar_one()
            conn.execute(text("DELETE FROM web_login_throttle"))
    # the installation id (behind every Message-ID) is changed by administrators only (a copy's
    # `db new-installation`), never by the service or people
    renew = "UPDATE installation SET installation_id = installation_id"
    for engine_ in (writer, auditor, service):
        with pytest.raises(DBAPIError, match="permission denied"), engine_.begin() as conn:
            conn.execute(text(renew))
    with admin.begin() as conn:
        conn.execute(text(renew))
    for e in (writer, auditor, admin, service):
        e.dispose()


@pytest.mark.parametrize(
    "args",
    [
        ("advance", "KEY", "submit"),
        ("proposal", "add", "--title", "Neu", "--handlungsfeld", "3", "--forum", "3",
         "--lead", "IM"),
        ("consult", "record", "KEY", "--party", "Stadt Essen", "--group", "kommune",
         "--position", "support"),
        ("funding", "add", "KEY", "--source", "land", "--amount", "1000", "--year", "2020"),
        ("audit", "checkpoint"),
        ("audit", "pseudonymise", "forum-03"),
        ("notices", "retry", "--all-failed"),
        ("scheduler", "tick"),
        ("notices", "send"),
        ("publish", "--output", "OUT"),
    ],
)  # fmt: skip
def test_every_command_that_writes_refuses_now_to_a_plain_login(
    engine: Engine, login: Login, args: tuple[str, ...], tmp_path: Path
) -> None:
    key = add_proposal(engine, NOW)
    office = login("koordination", group="service")  # may run the sweep, not set the clock
    # when it names another day on a command that writes, then it is refused, one line
    given = {"KEY": key, "OUT": str(tmp_path / "board")}
    result = invoke("--db", office, "--now", "2030-01-01", *(given.get(a, a) for a in args))
    refused(result, "may not set the engine's clock (--now)")
    with engine.store.read() as conn:
        assert conn.execute(select(history.c.seq).where(history.c.chain == key)).all() == [(1,)]


def test_a_refusal_says_in_german_who_may() -> None:
    from workflow.access.directory import Actor
    from workflow.access.policy import refusal, refusal_de

    im = Actor(id="im", role="ministry", name="IM", ministry="IM")
    proposal = {"lead": "VM", "themenforum": 3}
    roles = ("forum_lead", "coordinator", "lead_ministry")
    assert refusal(im, roles, proposal) is not None
    assert refusal_de(im, roles, proposal) == (
        "Das darf nur die Leitung des Themenforums 3 oder die Koordinierungsstelle oder das"
        " federführende Ressort (VM); Sie handeln als das Ressort IM."
    )
