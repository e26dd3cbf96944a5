"""What a caller can do to proposals, as the JSON the CLI prints and the API answers.

The CLI on a database and the web API both call these functions, so a command and its
endpoint run the same engine calls with the same checks and return the same data: the CLI
formats it (``--format``), the API sends it, and ``ruhrflow --server`` formats what the API
sent — the same text either way. The actor is a parameter: the CLI's ``--as`` (or the
database login), the API's authenticated account. One engine call is one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workflow.app.machine import machine_amount, machine_detail, machine_row, zulu
from workflow.app.reads import history_rows, list_rows, show_detail, trigger_rows
from workflow.errors import InvalidInput, WorkflowError

if TYPE_CHECKING:
    from workflow.app.runtime import Runtime
    from workflow.engine.changes import Applied
    from workflow.progress import ProgressCallback


@dataclass(frozen=True)
class Operations:
    """The operations on one runtime at one ``now`` (the caller's clock)."""

    runtime: Runtime
    now: datetime

    # --- reads ---------------------------------------------------------------------------

    def proposals(
        self,
        *,
        state: str | None = None,
        handlungsfeld: int | None = None,
        lead: str | None = None,
        definition_version: int | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of ``proposal list --format json``."""
        rows = list_rows(
            self.runtime,
            state=state,
            handlungsfeld=handlungsfeld,
            lead=lead,
            definition_version=definition_version,
        )
        return [machine_row(r) for r in rows]

    def proposal(self, key: str) -> dict[str, Any]:
        """The object of ``proposal show --format json``."""
        return machine_detail(show_detail(self.runtime, key))

    def history(self, key: str) -> list[dict[str, Any]]:
        """The entries of ``history --format json``, oldest first."""
        return zulu(history_rows(self.runtime, key))  # type: ignore[no-any-return]

    def triggers(
        self,
        key: str,
        *,
        actor: str | None,
        fields: Mapping[str, Any] | None = None,
        comment: str | None = None,
    ) -> list[dict[str, Any]]:
        """The list of ``triggers --format json``: what can fire for ``actor``, what blocks."""
        options = self.runtime.engine.triggers(
            key, actor=actor, now=self.now, fields=fields, comment=comment
        )
        return zulu(trigger_rows(options))  # type: ignore[no-any-return]

    # --- changes -------------------------------------------------------------------------

    def advance(
        self,
        trigger: str,
        *,
        actor: str,
        keys: Sequence[str] = (),
        where_state: str | None = None,
        comment: str | None = None,
        fields: Mapping[str, Any] | None = None,
        partial: bool = False,
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Fire ``trigger`` on ``keys`` or every proposal in ``where_state``, in one
        transaction: ``{"applied": […], "refused": [{"key", "reason"}]}`` (``advance --format
        json``), plus ``"dry_run": true`` for a preview that was rolled back."""
        if bool(keys) == (where_state is not None):
            raise InvalidInput("name the proposals either by key or by a state, not both")
        engine = self.runtime.engine
        fields = fields or {}
        refused: Sequence[tuple[str, Any]] = []
        if len(keys) == 1 and not partial and not dry_run:
            applied = [
                engine.advance(
                    keys[0], trigger, actor=actor, now=self.now, comment=comment, fields=fields
                )
            ]
        else:
            result = engine.advance_many(
                trigger,
                keys=list(keys) or None,
                where_state=where_state,
                actor=actor,
                now=self.now,
                comment=comment,
                fields=fields,
                partial=partial,
                progress=progress,
                dry_run=dry_run,
            )
            applied, refused = result.applied, result.refused
            if not applied and not refused:
                raise InvalidInput(f"no proposal is in state {where_state!r}")
        out = advance_result(applied, refused)
        if dry_run:
            out["dry_run"] = True
        return out

    def record_statement(
        self, key: str, *, actor: str, party: str, group: str, position: str, text: str = ""
    ) -> dict[str, Any]:
        """Record a consultation statement: ``{"key", "seq", "party", "group", "position"}``."""
        applied = self.runtime.engine.record_statement(
            key, party=party, group=group, position=position, text=text, actor=actor, now=self.now
        )
        return {"key": key, "seq": applied.seq, "party": party, "group": group,
                "position": position}  # fmt: skip

    def add_funding(
        self, key: str, *, actor: str, source: str, amount: str, year: int, secured: bool
    ) -> dict[str, Any]:
        """Add a funding line (``amount`` in euros, as text): ``{"key", "seq", "source",
        "amount", "year", "status"}`` with the amount as an exact decimal string."""
        from workflow.engine.intake import parse_amount

        value = parse_amount(amount)
        applied = self.runtime.engine.add_funding(
            key, source=source, amount=value, year=year, secured=secured, actor=actor, now=self.now
        )
        status = "secured" if secured else "planned"
        return {"key": key, "seq": applied.seq, "source": source,
                "amount": machine_amount(value), "year": year, "status": status}  # fmt: skip


def advance_result(
    applied: Sequence[Applied], refused: Sequence[tuple[str, WorkflowError | Any]]
) -> dict[str, Any]:
    """The object ``advance --format json`` prints (and ``POST /api/advance`` answers)."""
    return {
        "applied": [
            {
                "key": a.key,
                "trigger": a.trigger,
                "from_state": a.from_state,
                "to_state": a.to_state,
                "seq": a.seq,
            }
            for a in applied
        ],
        "refused": [{"key": k, "reason": str(e)} for k, e in refused],
    }
