"""A proposal's fields as a person types them (a form, a row of an import file), checked with
German reasons that name the field.

The engine checks every proposal again when it creates or edits it
(:func:`workflow.engine.intake.validate`, the same checks as the CLI's): these checks come
first so that a person reads what is wrong in German, on the form that still holds what was
typed. They use the same limits (:mod:`workflow.inputs`) and the definition's Handlungsfelder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from workflow.access.directory import Actor, Directory
from workflow.access.policy import refusal, refusal_de
from workflow.engine.intake import KEY_PATTERN, ProposalInput
from workflow.errors import InvalidInput
from workflow.inputs import (
    MAX_SOURCE,
    MAX_SUMMARY,
    MAX_TITLE,
    check_length,
    check_money,
    check_text,
    is_blank,
    matches_whole,
    parse_decimal,
)
from workflow.process.definition import Definition
from workflow.store import limits

_GROUPED = re.compile(r"\d{1,3}(\.\d{3})+")  # 250.000: a German amount, not 250


@dataclass
class Typed:
    """What was typed, as text (kept as it is to show the form again)."""

    title: str = ""
    summary: str = ""
    handlungsfeld: str = ""
    themenforum: str = ""
    lead: str = ""
    participating: list[str] = field(default_factory=list)
    cost: str = ""
    source: str = ""
    key: str = ""


def german_amount(text: str) -> str:
    """A German amount as typed (``250.000,50``, ``250000``) in the form the engine parses
    (``250000.50``): the dots of ``250.000`` group thousands."""
    text = text.replace(" ", "").replace("\u00a0", "").replace("€", "")
    if "," in text or matches_whole(_GROUPED, text):
        text = text.replace(".", "").replace(",", ".")
    return text


def check(
    typed: Typed,
    definition: Definition,
    directory: Directory,
    *,
    amount: Callable[[str], str] = german_amount,
) -> tuple[ProposalInput | None, list[str]]:
    """The proposal ``typed`` describes, or None and every problem found, in German.

    ``amount`` turns the typed cost estimate into the engine's form (a form takes German
    amounts; an import file the CLI's ``3000000.50``).
    """
    errors: list[str] = []

    def text(value: str, what: str, limit: int, *, multiline: bool = False) -> str:
        try:
            return check_text(value, what, multiline=multiline, limit=limit)
        except InvalidInput:
            errors.append(
                f"{what} ist zu lang (höchstens {limit} Zeichen) oder enthält ein"
                " unzulässiges Zeichen."
            )
            return value

    title = typed.title.strip()
    if is_blank(title):
        errors.append("Bitte einen Titel angeben.")
    else:
        title = text(title, "Der Titel", MAX_TITLE)
    summary = text(typed.summary.strip(), "Die Kurzbeschreibung", MAX_SUMMARY, multiline=True)
    source = text(typed.source.strip(), "Die Quelle", MAX_SOURCE) or None
    key = typed.key.strip() or None
    if key is not None and not (matches_whole(KEY_PATTERN, key) and _fits(key)):
        errors.append(f"Der Schlüssel „{key}“ hat nicht die Form RK-03-01.")
    handlungsfeld = _number(typed.handlungsfeld)
    if handlungsfeld not in definition.handlungsfelder:
        errors.append("Bitte ein Handlungsfeld wählen.")
    forum = _number(typed.themenforum)
    if forum is None or not 1 <= forum <= 99:
        errors.append("Das Themenforum ist eine Zahl von 1 bis 99.")
    lead = typed.lead.strip()
    if directory.ministry(lead) is None:
        errors.append("Bitte das federführende Ressort wählen." if not lead else
                      f"Ein Ressort „{lead}“ gibt es nicht.")  # fmt: skip
    participating = tuple(dict.fromkeys(p.strip() for p in typed.participating if p.strip()))
    for code in participating:
        if directory.ministry(code) is None:
            errors.append(f"Ein beteiligtes Ressort „{code}“ gibt es nicht.")
        elif code == lead:
            errors.append(f"{code} ist federführend und kann nicht zugleich beteiligt sein.")
    cost = _cost(typed.cost, amount, errors)
    if errors or handlungsfeld is None or forum is None:
        return None, errors
    return ProposalInput(
        title=title,
        handlungsfeld=handlungsfeld,
        themenforum=forum,
        lead=lead,
        key=key,
        participating=participating,
        cost_estimate=cost,
        summary=summary,
        source=source,
    ), []


def _fits(key: str) -> bool:
    try:
        check_length(key, limits.PROPOSAL_KEY, "key")
    except InvalidInput:
        return False
    return True


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


def _cost(typed: str, amount: Callable[[str], str], errors: list[str]) -> Decimal | None:
    if not typed.strip():
        return None
    try:
        value = parse_decimal(amount(typed.strip()), "cost estimate")
        return check_money(value, limits.PROPOSAL_COST_ESTIMATE, "cost estimate")
    except InvalidInput:
        errors.append(
            f"Die Kostenschätzung „{typed.strip()}“ ist kein Betrag in Euro"
            " (z. B. 250.000,00; nicht negativ, höchstens zwei Nachkommastellen)."
        )
        return None


def may_create(actor: Actor, definition: Definition) -> bool:
    """Whether ``actor`` may create a proposal at all (for its own forum, its own ministry)."""
    own = {"themenforum": actor.forum, "lead": actor.ministry}
    return refusal(actor, definition.permitted("create"), own) is None


def create_refusal(actor: Actor, definition: Definition, item: ProposalInput) -> str | None:
    """Why ``actor`` may not create ``item`` (in German), or None when it may."""
    where: Mapping[str, Any] = {"themenforum": item.themenforum, "lead": item.lead}
    roles = definition.permitted("create")
    if refusal(actor, roles, where) is None:
        return None
    return refusal_de(actor, roles, where)
