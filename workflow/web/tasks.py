"""„Meine Aufgaben“, the start page of every account: what it can do now, and what is due.

A row is a proposal on which the account has an enabled action now (the engine's
``triggers``: its role, the guards and the state allow it; input the action's form asks
for does not count as a block), or one of its open deadlines. A forum lead sees only its
Themenforum's proposals and deadlines, a ministry the deadlines of its own proposals (the
worklist's scopes, through the same store query), a coordinator all of them.

A way out that the process offers in several states (withdrawing, discontinuing, merging
into another project: a transition into a final state from more than one state) is always
possible and so makes no task by itself; the proposal page still offers it.

Days overdue are counted in Europe/Berlin calendar days from the application's clock (the
web's ``now``), never from the wall clock directly. Filters, sort and paging come from the
query string and are applied on the server: the page works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, g, render_template, request, url_for

from workflow.access.directory import Actor
from workflow.access.policy import holds_role
from workflow.app.runtime import Runtime
from workflow.process.calendar import local_date
from workflow.process.definition import Definition, TransitionDef
from workflow.web import reads
from workflow.web.pages import berlin, login_required, proposal_href_builder
from workflow.web.state import web

bp = Blueprint("tasks", __name__)
PAGE_SIZE = 50
SORTS = {
    "due": "Fälligkeit",
    "overdue": "Tage überfällig",
    "key": "Schlüssel",
    "title": "Titel",
    "state": "Status",
}
KINDS = {
    "": "alle Aufgaben",
    "action": "nur mit möglicher Aktion",
    "deadline": "nur mit offener Frist",
    "overdue": "nur überfällige",
}


@dataclass(frozen=True)
class TaskQuery:
    """The filters, sort and page of „Meine Aufgaben“ (from the query string)."""

    q: str | None = None
    state: str | None = None
    handlungsfeld: int | None = None
    themenforum: int | None = None
    kind: str = ""
    sort: str = "due"
    descending: bool = False
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TaskQuery:
        """Parse a query string leniently: an unusable value is ignored, not an error."""
        listed = reads.ListQuery.from_args(args)  # the proposal list's parsing of the same names
        sort = args.get("sort") or "due"
        kind = args.get("kind") or ""
        return cls(
            q=listed.q,
            state=listed.state,
            handlungsfeld=listed.handlungsfeld,
            themenforum=listed.themenforum,
            kind=kind if kind in KINDS else "",
            sort=sort if sort in SORTS else "due",
            descending=args.get("order") == "desc",
            page=listed.page,
        )

    def args(self, **override: Any) -> dict[str, Any]:
        """The query string of this query (with ``override``), without empty values."""
        values = {
            "q": self.q,
            "state": self.state,
            "handlungsfeld": self.handlungsfeld,
            "themenforum": self.themenforum,
            "kind": self.kind or None,
            "sort": None if self.sort == "due" else self.sort,
            "order": "desc" if self.descending else None,
            "page": None if self.page == 1 else self.page,
        }
        values.update(override)
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Due:
    """An open deadline as a row shows it."""

    label: str
    due_at: datetime
    due: str  # Europe/Berlin, to the minute
    overdue: bool
    days_overdue: int | None  # calendar days past the due day (0: due earlier today)


@dataclass(frozen=True)
class Action:
    """An action the account can take now: its label and the link into its form."""

    trigger: str
    label: str
    href: str


@dataclass
class Task:
    """A row of „Meine Aufgaben“: one proposal, its actions and its open deadlines."""

    key: str
    href: str
    title: str
    state: str
    state_label: str
    handlungsfeld: int
    themenforum: int
    lead: str
    actions: list[Action] = field(default_factory=list)
    deadlines: list[Due] = field(default_factory=list)
    actionable: bool = False  # the account has an action on it now
    looked_up: bool = False  # ``actions`` holds the engine's answer

    @property
    def first_due(self) -> datetime | None:
        """The due time of its soonest open deadline."""
        return min((d.due_at for d in self.deadlines), default=None)

    @property
    def days_overdue(self) -> int:
        """The most days any of its deadlines is overdue (-1: none is)."""
        return max((d.days_overdue for d in self.deadlines if d.days_overdue is not None),
                   default=-1)  # fmt: skip


def days_overdue(due_at: datetime, now: datetime) -> int | None:
    """How many Europe/Berlin calendar days ``due_at`` lies before ``now``'s day; None when
    it is not yet due (0: it fell due earlier today)."""
    if due_at > now:
        return None
    return (local_date(now) - local_date(due_at)).days


def is_exit(definition: Definition, transition: TransitionDef) -> bool:
    """A way out offered in several states (into a final state): no task by itself."""
    dest = definition.states.get(transition.dest)
    return dest is not None and dest.final and len(transition.sources) > 1


def _may_hold(actor: Actor, roles: Iterable[str]) -> bool:
    """Whether ``actor`` could hold one of ``roles`` on some proposal (its own forum's, its
    own ministry's), before any proposal is looked at."""
    best_case = {
        "lead": actor.ministry,
        "participating": [actor.ministry] if actor.ministry else [],
        "themenforum": actor.forum,
    }
    return any(holds_role(actor, r, best_case) for r in roles)


def deadline_scope(actor: Actor) -> dict[str, Any] | None:
    """Whose open deadlines are this account's (the worklist's scopes); None: none."""
    if actor.role == "coordinator":
        return {}
    if actor.role == "ministry" and actor.ministry:
        return {"lead": actor.ministry}
    if actor.role == "forum_lead" and actor.forum is not None:
        return {"themenforum": actor.forum}
    return None


def collect_tasks(
    runtime: Runtime, definition: Definition, actor: Actor, now: datetime, query: TaskQuery
) -> list[Task]:
    """Every row of „Meine Aufgaben“ for ``actor`` at ``now`` matching ``query``'s filters,
    unsorted, their actions not yet looked up (:func:`with_actions` does, for a page).

    One list query per state the account can act in and one deadline query. Whether a
    proposal has an action: the account holds a role of a transition leaving its state
    (:func:`workflow.access.policy.holds_role`, as the engine checks it) — and when every
    such transition has a guard, the engine's ``triggers`` decide (the only other block is
    input, which the action's form asks for).
    """
    forum = actor.forum if actor.role == "forum_lead" else None
    if forum is not None and query.themenforum not in (None, forum):
        return []  # a forum lead asking for another forum: nothing of its own there
    acting = {
        state
        for t in definition.transitions
        if not is_exit(definition, t) and _may_hold(actor, t.roles)
        for state in t.sources
    }
    scope = deadline_scope(actor)
    due_rows = [] if scope is None else reads.open_deadlines(runtime, now, **scope)
    due_states = {r["state"] for r in due_rows}
    states = [
        s
        for s in definition.states
        if not definition.states[s].final
        and (s in acting or s in due_states)
        and query.state in (None, s)
    ]
    href = proposal_href_builder()
    tasks: dict[str, Task] = {}
    for state in states:
        listed = reads.ListQuery(
            state=state,
            handlungsfeld=query.handlungsfeld,
            themenforum=forum if forum is not None else query.themenforum,
            lead=actor.ministry if actor.role == "ministry" and _lead_only(definition) else None,
            q=query.q,
        )
        for r in reads.proposal_rows(runtime, listed):
            task = tasks[r["key"]] = Task(
                key=r["key"],
                href=href(r["key"]),
                title=r["title"],
                state=r["state"],
                state_label=definition.state_label(r["state"]),
                handlungsfeld=r["handlungsfeld"],
                themenforum=r["themenforum"],
                lead=r["lead"],
            )
            mine = [
                t
                for t in definition.triggers_from(state)
                if not is_exit(definition, t) and any(holds_role(actor, x, r) for x in t.roles)
            ]
            if any(not t.guards for t in mine):
                task.actionable = True  # its buttons are looked up for the page shown
            elif mine:  # guarded only: the engine decides now
                task.actions = _actions(runtime, definition, actor, r["key"], now)
                task.actionable, task.looked_up = bool(task.actions), True
    for d in due_rows:
        found = tasks.get(d["key"])
        if found is not None:
            found.deadlines.append(
                Due(
                    label=d["label"],
                    due_at=d["due_at"],
                    due=berlin(d["due_at"]),
                    overdue=d["overdue"],
                    days_overdue=days_overdue(d["due_at"], now),
                )
            )
    return [t for t in tasks.values() if _wanted(t, query.kind)]


def with_actions(
    tasks: list[Task], runtime: Runtime, definition: Definition, actor: Actor, now: datetime
) -> list[Task]:
    """``tasks`` with the buttons of their actions (the engine's ``triggers`` for each)."""
    for task in tasks:
        if task.actionable and not task.looked_up:
            task.actions = _actions(runtime, definition, actor, task.key, now)
            task.looked_up = True
    return tasks


def _lead_only(definition: Definition) -> bool:
    """Whether a ministry acts only on proposals it leads (no transition names the relative
    role ``ministry``, which a participating ministry holds too)."""
    return not any("ministry" in t.roles for t in definition.transitions)


def _actions(
    runtime: Runtime, definition: Definition, actor: Actor, key: str, now: datetime
) -> list[Action]:
    """The actions ``actor`` can open on ``key`` now: nothing but the form's input blocks."""
    found = []
    by_trigger = {t.trigger: t for t in definition.transitions}
    for option in runtime.engine.triggers(key, actor=actor.id, now=now):
        transition = by_trigger.get(option.trigger)
        if transition is not None and is_exit(definition, transition):
            continue
        if any(kind != "missing" for kind in option.blocked_kinds):
            continue  # only what the form asks for may be missing
        found.append(
            Action(
                trigger=option.trigger,
                label=option.label,
                href=url_for("proposals.action", key=key, trigger=option.trigger),
            )
        )
    return found


def _wanted(task: Task, kind: str) -> bool:
    if not task.actionable and not task.deadlines:
        return False
    if kind == "action":
        return task.actionable
    if kind == "deadline":
        return bool(task.deadlines)
    if kind == "overdue":
        return task.days_overdue >= 0
    return True


def sort_tasks(
    tasks: list[Task], sort: str, descending: bool, definition: Definition
) -> list[Task]:
    """``tasks`` in the order asked for; ties by key. By due time (the default) a row without
    a deadline comes after every row with one, either way round."""
    by_key = sorted(tasks, key=lambda t: t.key, reverse=descending)
    if sort == "key":
        return by_key
    if sort == "title":
        return sorted(by_key, key=lambda t: t.title.casefold(), reverse=descending)
    if sort == "state":
        order = {s: n for n, s in enumerate(definition.states)}  # the process's order
        return sorted(by_key, key=lambda t: order.get(t.state, len(order)), reverse=descending)
    if sort == "overdue":  # most days overdue first, unless reversed
        return sorted(by_key, key=lambda t: t.days_overdue, reverse=not descending)
    dated = sorted(
        (t for t in by_key if t.first_due is not None),
        key=lambda t: t.first_due or datetime.max,
        reverse=descending,
    )
    return dated + [t for t in by_key if t.first_due is None]


@bp.get("/")
@login_required
def index() -> str:
    """„Meine Aufgaben“ of the logged-in account."""
    w = web()
    actor = w.runtime.directory.actor(g.actor)
    query = TaskQuery.from_args(request.args)
    now = w.now()  # one moment for the whole page
    tasks = sort_tasks(
        collect_tasks(w.runtime, w.definition, actor, now, query),
        query.sort,
        query.descending,
        w.definition,
    )
    pages = max(1, -(-len(tasks) // PAGE_SIZE))
    page = min(query.page, pages)
    shown = with_actions(
        tasks[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], w.runtime, w.definition, actor, now
    )
    return render_template(
        "tasks/index.html",
        tasks=shown,
        total=len(tasks),
        page=page,
        pages=pages,
        query=query,
        sorts=SORTS,
        kinds=KINDS,
        states={s: d.label for s, d in w.definition.states.items() if not d.final},
        handlungsfelder=w.definition.handlungsfelder,
        own_forum=actor.forum if actor.role == "forum_lead" else None,
        has_tasks=deadline_scope(actor) is not None
        or any(_may_hold(actor, t.roles) for t in w.definition.transitions),
    )
