"""Queries the engine runs inside its transactions (SQLAlchemy Core, no ORM unit of work)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)

from workflow.store.direct import CHUNK as _CHUNK
from workflow.store.direct import Direct
from workflow.store.schema import (
    actor_refs,
    definitions,
    funding,
    history,
    proposals,
    statements,
    system_chain_lock,
)

# Built once: a statement constructed per call costs its construction and its cache key
# on every transition (a measurable share of a single advance, see bench/).
_SELECT_BY_KEY = select(proposals).where(proposals.c.key == bindparam("key"))
_SELECT_BY_KEY_LOCKED = _SELECT_BY_KEY.with_for_update()
_SELECT_BY_KEY_DIRECT = Direct(_SELECT_BY_KEY)
_SELECT_BY_KEY_LOCKED_DIRECT = Direct(_SELECT_BY_KEY_LOCKED)
_SELECT_BY_STATE = (
    select(proposals).where(proposals.c.state == bindparam("state")).order_by(proposals.c.id)
)
_SELECT_BY_STATE_DIRECT = Direct(_SELECT_BY_STATE)
_SELECT_BY_STATE_LOCKED_DIRECT = Direct(_SELECT_BY_STATE.with_for_update())
_INSERT_HISTORY = insert(history)


def load_proposals(
    conn: Connection,
    *,
    keys: Sequence[str] | None = None,
    state: str | None = None,
    lock: bool = False,
) -> list[Mapping[Any, Any]]:
    """Proposal rows by keys or by state, ordered by id; ``lock`` takes row locks (PostgreSQL).

    The rows are read-only mappings by column name (SQLAlchemy's ``RowMapping``, or a dict
    where the read takes the direct path, ``workflow/store/direct.py``: one key, or a state).
    """
    locking = lock and conn.dialect.name == "postgresql"
    if keys is not None and len(keys) == 1:  # the single advance: a prebuilt statement
        if locking:
            return _SELECT_BY_KEY_LOCKED_DIRECT.mappings(conn, {"key": keys[0]})
        return _SELECT_BY_KEY_DIRECT.mappings(conn, {"key": keys[0]})
    if keys is None and state is not None:  # a bulk advance by state: a prebuilt statement
        by_state = _SELECT_BY_STATE_LOCKED_DIRECT if locking else _SELECT_BY_STATE_DIRECT
        return by_state.mappings(conn, {"state": state})
    base = select(proposals).order_by(proposals.c.id)
    if locking:
        base = base.with_for_update()
    if keys is None:
        return list(conn.execute(base).mappings())
    rows: list[Mapping[Any, Any]] = []
    for i in range(0, len(keys), _CHUNK):
        chunk = list(keys[i : i + _CHUNK])
        rows.extend(conn.execute(base.where(proposals.c.key.in_(chunk))).mappings())
    rows.sort(key=lambda r: r["id"])
    return rows


def proposal_keys(conn: Connection) -> set[str]:
    """The key of every proposal."""
    return set(conn.execute(select(proposals.c.key)).scalars())


def proposal_ids(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    """The id of each proposal among ``keys`` (one query: the keys of one import)."""
    stmt = select(proposals.c.key, proposals.c.id).where(proposals.c.key.in_(keys))
    return {key: int(pid) for key, pid in conn.execute(stmt)}


def insert_proposals(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new proposal rows (one executemany)."""
    conn.execute(insert(proposals), list(rows))


def insert_statement(conn: Connection, **values: Any) -> None:
    """Insert one statement of a party (proposal_id, party, party_group, position, text,
    received_at)."""
    conn.execute(insert(statements).values(**values))


def insert_funding(conn: Connection, **values: Any) -> None:
    """Insert one funding line (proposal_id, source, amount, year, status, recorded_at)."""
    conn.execute(insert(funding).values(**values))


def load_proposal(conn: Connection, key: str) -> RowMapping | None:
    """One proposal row, or None."""
    return conn.execute(_SELECT_BY_KEY, {"key": key}).mappings().first()


_UPDATE_PROPOSAL = (
    update(proposals)
    .where(and_(proposals.c.id == bindparam("p_id"), proposals.c.row_version == bindparam("p_v")))
    .values(
        state=bindparam("state"),
        definition_id=bindparam("definition_id"),
        row_version=bindparam("row_version"),
        state_entered_at=bindparam("state_entered_at"),
        updated_at=bindparam("updated_at"),
        data=bindparam("data"),
        history_seq=bindparam("history_seq"),
        history_head=bindparam("history_head"),
    )
)


_UPDATE_PROPOSAL_DIRECT = Direct(_UPDATE_PROPOSAL)
_INSERT_HISTORY_DIRECT = Direct(_INSERT_HISTORY)


def update_proposals(conn: Connection, params: Sequence[dict[str, Any]]) -> int:
    """Apply new state/version/head to proposals whose row version is unchanged.

    Each params dict has ``p_id`` and ``p_v`` (the version read) and the new values.
    Returns how many rows matched; fewer than given means a concurrent update.
    """
    if not params:
        return 0
    if len(params) == 1:
        return _UPDATE_PROPOSAL_DIRECT.rowcount(conn, params[0])
    return _UPDATE_PROPOSAL_DIRECT.executemany(conn, params)


_HISTORY_COLUMNS = (
    "chain", "seq", "kind", "trigger", "from_state", "to_state", "actor_ref", "comment",
    "data", "at", "prev_hash", "hash",
)  # fmt: skip
_UPDATED = _UPDATE_PROPOSAL.returning(proposals.c.id).cte("updated")
# PostgreSQL: one proposal's update and its history entry in one statement (one round trip
# instead of two): the entry is inserted only if the update matched (row version unchanged).
_UPDATE_AND_APPEND = (
    insert(history)
    .from_select(
        list(_HISTORY_COLUMNS),
        select(
            *(bindparam(f"h_{c}", type_=history.c[c].type).label(c) for c in _HISTORY_COLUMNS)
        ).select_from(_UPDATED),
    )
    .add_cte(_UPDATED)
    .execution_options(preserve_rowcount=True)  # an INSERT's: kept only when asked for
)
_UPDATE_AND_APPEND_DIRECT = Direct(_UPDATE_AND_APPEND)


def write_changes(
    conn: Connection, params: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]]
) -> int:
    """Update proposals (as :func:`update_proposals`) and, if every one matched, insert
    their history entries (as :func:`insert_history`, one per proposal, in the same order);
    returns how many proposals matched. Fewer than given: nothing of the entries is written
    and the caller must abandon the transaction (a concurrent update).

    On PostgreSQL one proposal's update and entry go in one statement (a data-modifying
    CTE: the entry is inserted only when the update matched; the deferred check of
    migration 0006 sees both at commit), one round trip instead of two.
    """
    if len(params) == 1 and len(entries) == 1 and conn.dialect.name == "postgresql":
        values = dict(params[0])
        values.update({f"h_{c}": entries[0][c] for c in _HISTORY_COLUMNS})
        return _UPDATE_AND_APPEND_DIRECT.rowcount(conn, values)
    matched = update_proposals(conn, params)
    if matched == len(params):
        insert_history(conn, entries)
    return matched


def insert_history(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append history rows (already chained and hashed)."""
    if len(rows) == 1:
        _INSERT_HISTORY_DIRECT.execute(conn, rows[0])
    elif rows:
        _INSERT_HISTORY_DIRECT.executemany(conn, rows)


_LOCK_SYSTEM_CHAIN = (
    select(system_chain_lock.c.id).where(system_chain_lock.c.id == 1).with_for_update()
)


def lock_system_chain(conn: Connection) -> None:
    """Serialise appends to the system chain until the caller's transaction ends.

    PostgreSQL: the one row of ``system_chain_lock``, ``FOR UPDATE`` — not an advisory lock,
    which any login, a reading one too, could take and hold (migration 0014). SQLite: nothing
    to do, its write transaction (``BEGIN IMMEDIATE``) admits one writer.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_SYSTEM_CHAIN)


def chain_tail(conn: Connection, chain: str) -> tuple[int, str] | None:
    """(seq, hash) of the newest entry of ``chain``, or None when it has none."""
    last = conn.execute(
        select(history.c.seq, history.c.hash)
        .where(history.c.chain == chain)
        .order_by(history.c.seq.desc())
        .limit(1)
    ).first()
    return None if last is None else (int(last.seq), str(last.hash))


def last_entry(conn: Connection, chain: str) -> RowMapping | None:
    """The newest history entry of a chain, with the actor id behind its ref."""
    stmt = (
        select(history, actor_refs.c.actor_id)
        .join(actor_refs, actor_refs.c.ref == history.c.actor_ref, isouter=True)
        .where(history.c.chain == chain)
        .order_by(history.c.seq.desc())
        .limit(1)
    )
    return conn.execute(stmt).mappings().first()


def actor_ref_for(conn: Connection, actor_id: str) -> str | None:
    """The current (not pseudonymised) ref of an actor, or None."""
    stmt = (
        select(actor_refs.c.ref)
        .where(actor_refs.c.actor_id == actor_id, actor_refs.c.pseudonymised_at.is_(None))
        .order_by(actor_refs.c.created_at)
        .limit(1)
    )
    return conn.execute(stmt).scalar()


def create_actor_ref(conn: Connection, actor_id: str, now: datetime) -> str:
    """A new opaque ref for an actor: a salted commitment to the id (store/attribution.py)."""
    from workflow.store.attribution import commitment, new_salt

    salt = new_salt()
    ref = commitment(salt, actor_id)
    conn.execute(insert(actor_refs).values(ref=ref, actor_id=actor_id, created_at=now, salt=salt))
    return ref


def current_refs(conn: Connection, actor_id: str) -> list[str]:
    """Every ref of ``actor_id`` not pseudonymised yet."""
    return list(
        conn.execute(
            select(actor_refs.c.ref).where(
                actor_refs.c.actor_id == actor_id, actor_refs.c.pseudonymised_at.is_(None)
            )
        ).scalars()
    )


def pseudonymise_refs(conn: Connection, refs: Sequence[str], pseudonym: str, now: datetime) -> None:
    """Put ``pseudonym`` behind ``refs``, mark them pseudonymised at ``now`` and drop their
    salts (their commitments can no longer be opened)."""
    conn.execute(
        update(actor_refs)
        .where(actor_refs.c.ref.in_(refs))
        .values(actor_id=pseudonym, pseudonymised_at=now, salt=None)
    )


def actor_ids(conn: Connection, refs: Iterable[str]) -> dict[str, str]:
    """The actor id (or pseudonym) behind each ref."""
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    stmt = select(actor_refs.c.ref, actor_refs.c.actor_id).where(actor_refs.c.ref.in_(wanted))
    return {ref: actor for ref, actor in conn.execute(stmt)}


def newest_definition(conn: Connection) -> RowMapping | None:
    """The newest definition version (new proposals start on it): the highest version
    number, among equal numbers the latest registration."""
    stmt = (
        select(definitions).order_by(definitions.c.version.desc(), definitions.c.id.desc()).limit(1)
    )
    return conn.execute(stmt).mappings().first()


def definition_row(conn: Connection, definition_id: int) -> RowMapping | None:
    """A registered definition by id."""
    stmt = select(definitions).where(definitions.c.id == definition_id)
    return conn.execute(stmt).mappings().first()


def definition_by_version(conn: Connection, version: int) -> RowMapping | None:
    """The registered version ``version`` of the process the newest registration belongs to
    (None for a number no INTEGER column holds: PostgreSQL would refuse to compare it)."""
    newest = newest_definition(conn)
    if newest is None or not 0 < version < 2**31:
        return None
    stmt = select(definitions).where(
        definitions.c.name == newest["name"], definitions.c.version == version
    )
    return conn.execute(stmt).mappings().first()


def definition_versions(conn: Connection) -> dict[int, tuple[int, str]]:
    """(version, content hash) of every registered definition, by id."""
    stmt = select(definitions.c.id, definitions.c.version, definitions.c.content_hash)
    return {int(i): (int(v), str(h)) for i, v, h in conn.execute(stmt)}


def proposal_chunks(
    conn: Connection,
    *,
    state: str | None,
    not_on_definition: int,
    lock: bool = False,
    size: int = _CHUNK,
) -> Iterator[Sequence[Mapping[Any, Any]]]:
    """Proposal rows (in ``state``, or all) not on ``not_on_definition``, ``size`` at a time
    by ascending id: a command that moves many proposals holds one chunk, not all of them.

    Keyset paging (``id > last``), so rows changed after their chunk was read are not met
    again; ``lock`` takes row locks on PostgreSQL.
    """
    last = 0
    while True:
        stmt = select(proposals).where(
            proposals.c.id > last, proposals.c.definition_id != not_on_definition
        )
        if state is not None:
            stmt = stmt.where(proposals.c.state == state)
        stmt = stmt.order_by(proposals.c.id).limit(size)
        if lock and conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        rows = list(conn.execute(stmt).mappings())
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def state_counts(conn: Connection, *, state: str | None, not_on_definition: int) -> dict[str, int]:
    """How many proposals (in ``state``, or all) not on ``not_on_definition`` sit in each state."""
    stmt = (
        select(proposals.c.state, func.count())
        .where(proposals.c.definition_id != not_on_definition)
        .group_by(proposals.c.state)
    )
    if state is not None:
        stmt = stmt.where(proposals.c.state == state)
    return {str(s): int(n) for s, n in conn.execute(stmt)}


def update_proposal_fields(conn: Connection, proposal_id: int, values: Mapping[str, Any]) -> None:
    """Set the descriptive columns ``values`` names (title, summary, cost_estimate,
    participating, handlungsfeld) of one proposal, in ``conn``'s write transaction. The row
    version is the engine's to move (its history entry does, with the optimistic check)."""
    allowed = {"title", "summary", "cost_estimate", "participating", "handlungsfeld"}
    if not values or set(values) - allowed:
        raise ValueError(f"not editable columns: {sorted(set(values) - allowed)}")
    conn.execute(update(proposals).where(proposals.c.id == proposal_id).values(**values))
