"""One ``transitions`` machine per definition version, shared by every proposal.

Proposals are not attached to the machine (that costs memory per model and time
per ``add_model``). A transition is fired on a light subject that only carries the
state; callbacks have no side effects — persistence is the store's job, inside
one database transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from workflow.errors import TransitionNotAllowed
from workflow.process.definition import Definition, TransitionDef
from workflow.process.guards import REGISTRY, GuardContext

if TYPE_CHECKING:
    from transitions import Machine
    from transitions.core import EventData


@dataclass
class _Subject:
    """The light model a trigger moves: a state and the guard context of this firing."""

    state: str
    context: GuardContext
    failures: list[tuple[str, str]] = field(default_factory=list)


def check_guards(transition: TransitionDef, ctx: GuardContext) -> list[tuple[str, str]]:
    """Evaluate every guard of ``transition``; return (guard, reason) for each that fails."""
    failures = []
    for name in transition.guards:
        reason = REGISTRY[name].check(ctx)
        if reason is not None:
            failures.append((name, reason))
    return failures


class ProcessMachine:
    """Decides transitions for one definition version; knows nothing of storage."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition

    @cached_property
    def _machine(self) -> Machine:
        """The library's machine, built when a guarded trigger first fires: a transition
        without guards never needs it, and a cold ``ruhrflow advance`` then loads neither
        the library nor its machine (issue 29)."""
        from transitions import Machine

        machine = Machine(
            model=None,
            states=list(self.definition.states),
            initial=self.definition.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for t in self.definition.transitions:
            machine.add_transition(
                t.trigger, list(t.sources), t.dest, conditions=[self._guard_condition(t)]
            )
        return machine

    @staticmethod
    def _guard_condition(transition: TransitionDef) -> Callable[[EventData], bool]:
        def condition(event: EventData) -> bool:
            subject = event.model
            assert isinstance(subject, _Subject)
            subject.failures = check_guards(transition, subject.context)
            return not subject.failures

        return condition

    def fire(self, key: str, state: str, trigger: str, ctx: GuardContext) -> TransitionDef:
        """Check ``trigger`` in ``state`` and its guards; return the transition taken.

        Raises TransitionNotAllowed naming the possible triggers or the failed guards.
        """
        transition = self.definition.transition(trigger, state)
        if transition is None:
            possible = [t.trigger for t in self.definition.triggers_from(state)]
            raise TransitionNotAllowed(key, trigger, state, possible=possible)
        if not transition.guards:
            # Nothing left to decide: validity in this state was checked above. Skipping
            # the library's event dispatch keeps bulk transitions cheap (measured in bench/).
            return transition
        subject = _Subject(state, ctx)
        if not self._machine.events[trigger].trigger(subject):
            raise TransitionNotAllowed(
                key,
                trigger,
                state,
                failed_guards=[g for g, _ in subject.failures],
                reasons=[f"guard {g} failed: {why}" for g, why in subject.failures],
            )
        assert subject.state == transition.dest
        return transition
