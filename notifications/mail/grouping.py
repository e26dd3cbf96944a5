"""The changes of a digest, grouped: one row per kind of change, day and actor.

A bulk change (a coordinator opening the consultation of eleven proposals at once) used to
fill the weekly digest with the same line eleven times. Changes with the same trigger, new
state, local day and actor are one row: "11 Vorschläge: Beteiligung eröffnet am 19.08.2019",
with their keys. Used as the Jinja filter ``gruppiert`` at rendering, so the stored digest
contexts (one entry per change) stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


def group_changes(
    changes: Iterable[Mapping[str, Any]], datum: Callable[[Any], str]
) -> list[dict[str, Any]]:
    """Group ``changes`` (digest context entries) by trigger, new state, local day and actor.

    ``datum`` is the renderer's date filter: it names a change's local day.

    Each group: ``count``, ``trigger_label``, ``to_label``, ``day`` (``19.08.2019``),
    ``actor_name`` and ``items`` (``key`` and ``title``, sorted by key). Groups keep the
    order of their first change.
    """
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for change in changes:
        day = datum(change["at"])
        slot = (str(change["trigger_label"]), str(change["to_label"]), day,
                str(change["actor_name"]))  # fmt: skip
        group = groups.get(slot)
        if group is None:
            group = groups[slot] = {
                "trigger_label": slot[0], "to_label": slot[1], "day": day,
                "actor_name": slot[3], "items": [],
            }  # fmt: skip
        group["items"].append({"key": change["key"], "title": change["title"]})
    for group in groups.values():
        group["items"].sort(key=lambda item: str(item["key"]))
        group["count"] = len(group["items"])
    return list(groups.values())
