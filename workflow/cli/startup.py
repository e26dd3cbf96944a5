"""The cyclic garbage collector while a ``ruhrflow`` process starts (issue 29).

Starting, a command imports a few hundred modules and opens its runtime (the database
engine, the directory, the effects): objects that live as long as the process. The cyclic
collector finds nothing to free among them, but walks them again and again as they grow —
in a cold ``ruhrflow advance`` its collections cost a tenth of the process, one full
collection alone more than the transition.

So the process entry (:func:`workflow.cli.main.main`, the console script and ``python -m
workflow``) pauses the collector, and it runs again, over only what comes after, at two
points every command reaches: when the root command has parsed its options (the
subcommand's module is imported by then), and when the runtime is open. :func:`loading`
pauses it around the opening of the runtime. At each resumption, what exists is frozen
(:func:`gc.freeze`: collections skip it from then on, and forked workers share it).

Only a process that ``main()`` started does this: a caller that runs the command inside its
own process (the tests, through click's runner) keeps its collector as it is.

The same goes for the cache of parsed definitions (workflow/process/definition_cache.py):
:func:`one_shot` switches it on only in a process ``main()`` started, and only for a command
in :data:`ONE_SHOT` — one a person runs with their own login, that ends when it is done.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

_owned = False  # set by main(): this process is ruhrflow's

# The commands that read the parsed definitions from the cache: short-lived, run by a person
# with their own database login. Not the long-running ones (``serve`` and its workers,
# ``scheduler run``, ``demo``), which parse once per process anyway, and not the service's
# jobs (``scheduler tick``, ``notices send``/``retry``/``prune``, ``publish``), which run as
# the service's account with its login: the process rules must come from the database
# there (see the module doc of workflow.process.definition_cache). A command not named here
# parses as before.
ONE_SHOT = frozenset({
    ("advance",), ("triggers",), ("history",),
    ("proposal", "add"), ("proposal", "edit"), ("proposal", "import"), ("proposal", "list"),
    ("proposal", "show"), ("consult", "record"), ("funding", "add"),
    ("deadlines",), ("deadlines", "move"), ("simulate",),
    ("document", "add"), ("document", "get"), ("document", "list"),
    ("report", "lead-times"), ("report", "overdue"), ("report", "status"), ("report", "stuck"),
    ("notices", "list"), ("notices", "preview"), ("migrate", "plan"), ("migrate", "apply"),
})  # fmt: skip


def pause() -> None:
    """At the process entry: no cyclic collection until :func:`resume`."""
    global _owned
    _owned = True
    gc.disable()


def resume() -> None:
    """Freeze what the start built and collect again (only in a process main() started)."""
    if _owned and not gc.isenabled():
        gc.freeze()
        gc.enable()


@contextmanager
def loading() -> Iterator[None]:
    """No cyclic collection while a block builds what lives as long as the process (the
    runtime); afterwards that is frozen too. Nothing changes outside a process main()
    started."""
    if _owned and gc.isenabled():
        gc.disable()
    try:
        yield
    finally:
        resume()


def one_shot(command: Sequence[str]) -> bool:
    """Before the runtime of ``command`` (its words after ``ruhrflow``) opens: switch the
    cache of parsed definitions on if it is in :data:`ONE_SHOT` and this process is one
    ``main()`` started. Returns whether the cache is on."""
    if not _owned or tuple(command) not in ONE_SHOT:
        return False
    from workflow.process import definition_cache

    return definition_cache.enable()
