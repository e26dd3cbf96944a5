"""What a caller can do to proposals, as the JSON the CLI prints and the API answers.

The CLI on a database and the web API both call these functions, so a command and its
endpoint run the same engine calls with the same checks and return the same data: the CLI
formats it (``--format``), the API sends it, and ``ruhrflow --server`` formats what the API
sent — the same text either way. The actor is a parameter: the CLI's ``--as`` (or the
database login), the API's authenticated account. One engine call is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TextIO

from workflow.app.machine import (
    advance_result,
    as_json,
    machine_amount,
    machine_detail,
    machine_row,
    zulu,
)
from workflow.app.reads import history_rows, list_rows, show_detail, trigger_rows
from workflow.errors import InvalidInput

if TYPE_CHECKING:
    from workflow.app.runtime import Runtime
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

    def edit_proposal(
        self, key: str, *, actor: str, changes: Mapping[str, Any], comment: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Correct fields (``ruhrflow proposal edit``): ``{"key", "seq", "changes"}`` with each
        changed field's old and new value (``expected_version``: the version shown)."""
        done = self.runtime.engine.edit_proposal(
            key, changes, actor=actor, now=self.now, comment=comment,
            expected_version=expected_version,
        )  # fmt: skip
        return {"key": key, "seq": done.applied.seq, "changes": done.changes}

    def add_funding(
        self, key: str, *, actor: str, source: str, amount: str, year: int, secured: bool
    ) -> dict[str, Any]:
        """Add a funding line (``amount`` in euros, as text): ``{"key", "seq", "source",
        "amount", "year", "status"}`` with the amount as an exact decimal string."""
        from workflow.engine.intake import parse_amount  # not on a transition's path

        value = parse_amount(amount)
        applied = self.runtime.engine.add_funding(
            key, source=source, amount=value, year=year, secured=secured, actor=actor, now=self.now
        )
        status = "secured" if secured else "planned"
        return {"key": key, "seq": applied.seq, "source": source,
                "amount": machine_amount(value), "year": year, "status": status}  # fmt: skip

    def add_proposal(
        self,
        *,
        actor: str,
        title: str,
        handlungsfeld: int,
        themenforum: int,
        lead: str,
        key: str | None = None,
        cost: str | None = None,
        participating: Sequence[str] = (),
        summary: str = "",
        source: str | None = None,
    ) -> dict[str, Any]:
        """One proposal in the initial state (``proposal add``): ``{"key": …}``."""
        from workflow.engine.intake import ProposalInput, parse_amount

        engine = self.runtime.engine
        item = ProposalInput(
            title=title,
            handlungsfeld=handlungsfeld,
            themenforum=themenforum,
            lead=lead,
            key=key,
            participating=tuple(participating),
            cost_estimate=parse_amount(cost, "--cost") if cost else None,
            summary=summary,
            source=source,
        )
        return {"key": engine.add_proposal(item, actor=actor, now=self.now)}

    def import_proposals(
        self,
        data: bytes,
        *,
        actor: str,
        skip_invalid: bool = False,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """A UTF-8 CSV of proposals (``proposal import``), all or nothing unless
        ``skip_invalid``: ``{"imported": [keys], "skipped": [{"line", "reason"}]}``."""
        from workflow.engine.intake import read_csv

        created, bad = self.runtime.engine.import_proposals(
            read_csv(data), actor=actor, now=self.now, skip_invalid=skip_invalid,
            progress=progress,
        )  # fmt: skip
        return {
            "imported": created,
            "skipped": [{"line": line, "reason": reason} for line, reason in bad],
        }

    # --- moving running proposals to another definition version -------------------------

    def _selection(
        self,
        *,
        to_version: int,
        maps: Sequence[str] = (),
        fields: Mapping[str, Any] | None = None,
        keys: Sequence[str] = (),
        where_state: str | None = None,
    ) -> dict[str, Any]:
        from workflow.engine.migration import parse_state_map

        if keys and where_state is not None:
            raise InvalidInput("give either keys or a state, not both")
        return {
            "to_version": to_version,
            "state_map": parse_state_map(maps),
            "raw_fields": dict(fields or {}),
            "keys": list(dict.fromkeys(keys)) or None,
            "where_state": where_state,
            "deadline_setting": self.runtime.settings.section("process"),
        }

    @contextmanager
    def migration_plan_stream(
        self, **selection: Any
    ) -> Iterator[tuple[dict[str, Any], Iterator[dict[str, Any]]]]:
        """``migrate plan``, a chunk at a time in one read transaction: the head
        (``to_version``, ``to_hash``) and the proposals as ``--format json`` gives them."""
        engine = self.runtime.engine
        with engine.migration_plan_chunks(now=self.now, **self._selection(**selection)) as (
            head,
            chunks,
        ):
            items = (as_json(item.as_dict()) for chunk in chunks for item in chunk)
            yield {"to_version": head.to_version, "to_hash": head.to_hash}, items

    def migration_plan(self, **selection: Any) -> dict[str, Any]:
        """``migrate plan --format json``: the dry run, every proposal at once."""
        with self.migration_plan_stream(**selection) as (head, items):
            return {**head, "proposals": list(items)}

    def migrate(
        self, *, actor: str, partial: bool = False, comment: str | None = None, **selection: Any
    ) -> dict[str, Any]:
        """``migrate apply --format json``: the plan applied in one transaction."""
        options = self._selection(**selection)
        result, done = self.runtime.engine.migrate(
            actor=actor, now=self.now, partial=partial, comment=comment, **options
        )
        if not done.planned and options["where_state"] is not None:
            raise InvalidInput(
                f"no proposal in state {options['where_state']!r} to migrate to version"
                f" {options['to_version']}"
            )
        return {
            "to_version": result.to_version,
            "applied": [
                {"key": m.key, "from_state": m.from_state, "to_state": m.to_state, "seq": m.seq}
                for m in done.moved
            ],
            "refused": [{"key": k, "reason": str(e)} for k, e in done.refused],
        }

    # --- deadlines -----------------------------------------------------------------------

    def deadlines(
        self, *, overdue: bool = False, due_within: str | None = None, lead: str | None = None
    ) -> list[dict[str, Any]]:
        """The rows of ``deadlines --format json``: open deadlines, soonest first;
        ``due_within`` a duration such as ``14d`` or ``10wd`` from now."""
        from workflow.deadlines.queries import list_open_deadlines
        from workflow.process.calendar import end_of_local_day, local_date, parse_duration, shift

        until = None
        if due_within is not None:
            try:
                duration = parse_duration(due_within)
            except ValueError as exc:
                raise InvalidInput(f"due within: {exc}") from None
            until = end_of_local_day(shift(local_date(self.now), duration))
        rt = self.runtime
        rows = list_open_deadlines(
            rt.store, rt.machines, self.now, overdue=overdue, due_until=until, lead=lead
        )
        return as_json(rows)  # type: ignore[no-any-return]

    def move_deadline(
        self, key: str, kind: str, to_day: date, *, reason: str, actor: str
    ) -> dict[str, Any]:
        """``deadlines move --format json``: the open deadline ``kind`` of ``key`` moved."""
        from workflow.deadlines.move import deadline_move
        from workflow.engine.changes import MovedDeadline

        rt = self.runtime
        command = deadline_move(key, kind, to_day, reason=reason, now=self.now, effects=rt.effects)
        rt.engine.execute(key, command, actor=actor, now=self.now)
        moved: MovedDeadline = command.result
        return as_json(  # type: ignore[no-any-return]
            {
                "key": moved.key, "deadline": moved.kind, "from": moved.old_due_at,
                "to": moved.due_at, "sequence": moved.sequence,
                "rungs": [{"rung": name, "at": at} for name, at in moved.rungs],
            }
        )  # fmt: skip

    # --- notices -------------------------------------------------------------------------

    def notices(self, *, status: str | None = None, limit: int | None = None) -> list[Any]:
        """The rows of ``notices list --format json``, newest first (recipients as ``to``)."""
        from workflow.notices.outbox import list_notices
        from workflow.notices.rendering import renderer_for

        rt = self.runtime
        renderer = renderer_for(rt.settings.mail.templates)  # undelivered: subject from context
        with rt.store.read() as conn:
            rows = list_notices(conn, status=status, limit=limit, renderer=renderer)
        for r in rows:
            r["to"] = [x["address"] for x in r.pop("recipients")]
        return as_json(rows)  # type: ignore[no-any-return]

    # --- audit ---------------------------------------------------------------------------

    def audit_verify(
        self,
        *,
        checkpoint: str | None = None,
        recorder: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``audit verify --format json`` over the database, and the attached documents once
        the chains hold (``"documents"``); with ``recorder`` the chains' result is recorded on
        ``@system`` as theirs (``"recorded_seq"``), a break too."""
        from workflow.audit.verify import record_verification, verify_store

        rt = self.runtime
        key = rt.settings.audit_key
        result = verify_store(rt.store, key=key, checkpoint_digest=checkpoint, progress=progress)
        out = result.as_dict()
        if result.ok:  # the documents' hashes are in the entries: once these hold
            out["documents"] = self._verify_documents()
        if recorder is not None:
            out["recorded_seq"] = record_verification(
                rt.store, result, audit_key=key, actor_id=recorder, now=self.now
            )
        return as_json(out)  # type: ignore[no-any-return]

    def _verify_documents(self) -> dict[str, Any]:
        """Every attached document hashed again: ``{"checked", "broken"}``."""
        from workflow.audit.documents import verify_documents
        from workflow.documents.attach import DocumentPolicy

        rt = self.runtime
        policy = DocumentPolicy.from_section(rt.settings.section("documents"))
        return verify_documents(rt.store, policy.directory).as_dict()

    def audit_checkpoint(self, *, actor: str) -> dict[str, Any]:
        """``audit checkpoint --format json``: one digest over all chain heads, recorded."""
        from workflow.audit.checkpoint import take_checkpoint

        rt = self.runtime
        cp = take_checkpoint(
            rt.store, audit_key=rt.settings.audit_key, actor_id=actor, now=self.now
        )
        return as_json(cp.as_dict())  # type: ignore[no-any-return]

    def audit_export(
        self,
        out: TextIO,
        *,
        fmt: str,
        delimiter: str = ",",
        bom: bool = False,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``audit export``: every history entry with its hashes written to ``out`` (jsonl or
        csv); what was written: ``{"rows", "chains", "heads_digest"}``."""
        from workflow.audit.export import export_history

        rt = self.runtime
        summary = export_history(
            rt.store, out, fmt=fmt, keyed=rt.settings.audit_key is not None, now=self.now,
            delimiter=delimiter, bom=bom, progress=progress,
        )  # fmt: skip
        return {
            "rows": summary.rows,
            "chains": summary.chains,
            "heads_digest": summary.heads_digest,
        }

    def audit_log(
        self,
        *,
        key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        trigger: str | None = None,
    ) -> list[dict[str, Any]]:
        """History entries of one chain or of all, oldest first (``audit log``)."""
        from workflow.audit.log import audit_log

        with self.runtime.store.read() as conn:
            entries = list(
                audit_log(conn, key=key, since=since, until=until, actor=actor, trigger=trigger)
            )
        return as_json(entries)  # type: ignore[no-any-return]

    # --- reports -------------------------------------------------------------------------

    def _as_of(self, text: str | None) -> tuple[date | None, datetime]:
        from workflow.audit.asof import cutoff_of, parse_as_of

        if text is None:
            return None, self.now
        day = parse_as_of(text, self.now)
        return day, min(cutoff_of(day), self.now)

    def report_status(self, *, as_of: str | None = None) -> dict[str, Any]:
        """``report status --format json``: the public groups, and the rows per state."""
        from workflow.audit.asof import reconstruct
        from workflow.audit.reports import GROUPS, group_totals, newest_definition, status_report

        day, moment = self._as_of(as_of)
        with self.runtime.store.read() as conn:
            definition = newest_definition(conn)
            states = None
            if day is not None:
                states = [(p.state, p.handlungsfeld) for p in reconstruct(conn, moment)]
            rows = status_report(conn, definition, states)
        totals = group_totals(rows)
        return as_json(  # type: ignore[no-any-return]
            {
                "as_of": day.isoformat() if day else moment,
                "groups": {g: totals[g] for g in GROUPS},
                "outside": {g: n for g, n in totals.items() if g not in GROUPS},
                "rows": rows,
            }
        )

    def report_lead_times(self, *, as_of: str | None = None) -> list[dict[str, Any]]:
        """``report lead-times --format json``."""
        from workflow.audit.reports import lead_times, newest_definition

        day, moment = self._as_of(as_of)
        with self.runtime.store.read() as conn:
            rows = lead_times(conn, newest_definition(conn), moment if day else None)
        return as_json(rows)  # type: ignore[no-any-return]

    def report_overdue(self, *, as_of: str | None = None) -> list[dict[str, Any]]:
        """Open deadlines past due, grouped by lead ministry (``report overdue``)."""
        from workflow.audit.reports import overdue

        day, moment = self._as_of(as_of)
        rt = self.runtime
        with rt.store.read() as conn:
            groups = overdue(conn, moment, rt.directory, historical=day is not None)
        return as_json(groups)  # type: ignore[no-any-return]

    def report_stuck(self, *, days: int) -> list[dict[str, Any]]:
        """``report stuck --format json``: no transition for ``days`` days, or a dead end."""
        from workflow.audit.reports import stuck

        with self.runtime.store.read() as conn:
            rows = stuck(conn, self.now, days)
        return as_json(rows)  # type: ignore[no-any-return]
