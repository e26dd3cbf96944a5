"""The forms that act on one proposal: a transition (edit, review, confirm), a funding line,
a statement of the consultation. Each ends in one engine call; a refusal shows the form again
with the engine's reason and its status."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for

from workflow.engine.changes import Applied
from workflow.errors import StoreUnavailable, WorkflowError
from workflow.web import reads
from workflow.web.api import status_of
from workflow.web.kept_input import form_expired, form_step, keeps_input
from workflow.web.pages import (
    action_label,
    error_page,
    field_defs,
    form_fields,
    form_text,
    login_required,
    may,
)
from workflow.web.proposals.blueprint import bp
from workflow.web.proposals.versions import definition_of
from workflow.web.state import web

log = logging.getLogger("workflow.web")

SOURCE_LABELS = {
    "land": "Land NRW",
    "bund": "Bund",
    "eu": "Europäische Union",
    "stiftung": "Stiftung",
    "sonstige": "Sonstige",
}
GROUP_LABELS = {
    "kommune": "Kommune",
    "ihk": "Industrie- und Handelskammer",
    "hwk": "Handwerkskammer",
    "verband": "Verband",
    "townhall": "Townhall-Veranstaltung",
    "buerger": "Bürgerinnen und Bürger",
}
POSITION_LABELS = {
    "support": "Zustimmung",
    "concerns": "Bedenken",
    "oppose": "Ablehnung",
    "neutral": "Neutral",
}


def option_of(options: list[dict[str, Any]], trigger: str) -> dict[str, Any] | None:
    """The option of ``trigger`` among ``options`` (None when it does not leave the state)."""
    return next((o for o in options if o["trigger"] == trigger), None)


@bp.route("/proposals/<key>/actions/<trigger>", methods=["GET", "POST"])
@login_required
@keeps_input
def action(key: str, trigger: str) -> Any:
    """Fire ``trigger``: the form (``step=edit``), its review (``review``), then the engine."""
    w = web()
    detail = reads.detail(w.runtime, key)
    definition = definition_of(detail)
    step = form_step()  # "edit" also when a refused CSRF token brings the form back
    comment = form_text("comment") or None
    options = reads.triggers(w.runtime, key, g.actor, w.now())
    option = option_of(options, trigger)
    if option is None:
        return error_page(409, f"„{trigger}“ ist im Status „{detail['state']}“ nicht möglich.")
    requires = option["requires"]
    fields = form_fields(definition, requires) if request.method == "POST" else {}

    def form(errors: list[str], status: int = 200) -> tuple[str, int]:
        return render_template(
            "proposals/action.html",
            p=detail,
            option=option,
            fields=field_defs(definition, requires),
            values=fields,
            comment=comment or "",
            errors=errors,
        ), status

    if request.method == "GET" or step == "edit":
        return form([])
    if step == "review":
        try:
            checked = reads.triggers(w.runtime, key, g.actor, w.now(), fields, comment)
        except WorkflowError as exc:
            return form([str(exc)], status_of(exc))
        now_option = option_of(checked, trigger)
        if now_option is None or not now_option["can_fire"]:
            reasons = now_option["blocked_by_de"] if now_option else ["nicht möglich"]
            return form(reasons, 409)
        return render_template(
            "proposals/confirm.html", p=detail, option=option, fields=fields,
            comment=comment or "",
            labels={f.name: f.label for f in field_defs(definition, requires)},
        )  # fmt: skip
    raw_version = request.form.get("expected_version", "").strip()
    if not (raw_version.isascii() and raw_version.isdigit() and len(raw_version) <= 18):
        return form(["Die Version des Vorschlags fehlt oder ist ungültig."], 400)
    version = int(raw_version)  # ASCII digits only: int() also takes "٥"
    return _acted(
        key,
        form,
        lambda: w.runtime.engine.advance(
            key,
            trigger,
            actor=g.actor,
            now=w.now(),
            comment=comment,
            fields=fields,
            expected_version=version,
        ),
    )


def euros(text: str) -> str:
    """A German amount as typed (``250.000,50``) in the form the engine parses (``250000.50``)."""
    text = text.replace(" ", "").replace("€", "")
    if "," in text or re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
        # a German form: the dots group thousands (250.000 is a quarter of a million)
        text = text.replace(".", "").replace(",", ".")
    return text


@bp.route("/proposals/<key>/funding", methods=["GET", "POST"])
@login_required
@keeps_input
def funding(key: str) -> Any:
    """Record a funding line (``ruhrflow funding add``): the lead ministry and coordinators."""
    w = web()
    detail = reads.detail(w.runtime, key)
    if not may("add_funding", detail):
        log.warning("refused: %s may not add funding to %s", g.actor, key)
        return error_page(403, "Sie dürfen für diesen Vorschlag keine Finanzierung erfassen.")
    source, amount, year_text = (
        request.form.get("source", "land"),
        form_text("amount"),
        form_text("year"),
    )
    secured = request.form.get("secured") == "1"
    values = {"source": source, "amount": amount, "year": year_text, "secured": secured}

    def form(errors: list[str], status: int = 200) -> tuple[str, int]:
        return render_template(
            "proposals/funding.html", p=detail, values=values, sources=SOURCE_LABELS,
            errors=errors,
        ), status  # fmt: skip

    if request.method == "GET" or form_expired():  # (the form again, with what was typed)
        return form([])
    from workflow.engine.intake import parse_amount

    if source not in SOURCE_LABELS:
        return form(["Bitte eine Quelle auswählen."], 400)
    plain = year_text.isascii() and year_text.isdigit() and len(year_text) == 4  # not "²"
    year = int(year_text) if plain else 0
    if not 2000 <= year <= 2100:
        return form(["Das Jahr muss zwischen 2000 und 2100 liegen."], 400)
    return _acted(
        key,
        form,
        lambda: w.runtime.engine.add_funding(
            key,
            source=source,
            amount=parse_amount(euros(amount)),
            year=year,
            secured=secured,
            actor=g.actor,
            now=w.now(),
        ),
    )


@bp.route("/proposals/<key>/statements", methods=["GET", "POST"])
@login_required
@keeps_input
def statement(key: str) -> Any:
    """Record a statement of the consultation (``ruhrflow consult record``): coordinators,
    in the states the definition's ``statement_states`` names."""
    w = web()
    detail = reads.detail(w.runtime, key)
    if not may("record_statement", detail):
        log.warning("refused: %s may not record statements on %s", g.actor, key)
        return error_page(403, "Sie dürfen für diesen Vorschlag keine Stellungnahmen erfassen.")
    party, text = form_text("party"), form_text("text")
    group = request.form.get("group", "kommune")
    position = request.form.get("position", "support")
    values = {"party": party, "text": text, "group": group, "position": position}

    def form(errors: list[str], status: int = 200) -> tuple[str, int]:
        return render_template(
            "proposals/statement.html",
            p=detail,
            values=values,
            groups=GROUP_LABELS,
            positions=POSITION_LABELS,
            errors=errors,
        ), status

    if request.method == "GET" or form_expired():  # (the form again, with what was typed)
        return form([])
    if not party:
        return form(["Bitte angeben, wer Stellung genommen hat."], 400)
    return _acted(
        key,
        form,
        lambda: w.runtime.engine.record_statement(
            key,
            party=party,
            group=group,
            position=position,
            text=text,
            actor=g.actor,
            now=w.now(),
        ),
    )


def _acted(key: str, form: Callable[[list[str], int], Any], act: Callable[[], Applied]) -> Any:
    """Do ``act`` (one engine call); on success a message and back to the proposal's page, on
    a refusal the form again with the reason and its status (403s are logged)."""
    try:
        applied = act()
    except StoreUnavailable:
        raise  # the error handler: the detail only to the log
    except WorkflowError as exc:
        log.warning("refused: %s", exc)
        german = getattr(exc, "german", None)  # an error with its own German sentence
        return form([german if isinstance(german, str) else str(exc)], status_of(exc))
    flash(done_message(applied))
    return redirect(url_for("proposals.proposal_page", key=key), code=303)


def done_message(a: Applied) -> str:
    """The flash after an engine call: what was done, and its entry in the history."""
    label = action_label(a.definition, {"kind": a.kind, "trigger": a.trigger})
    return f"{a.key}: „{label}“ ausgeführt (Eintrag #{a.seq} in der Historie)."
