"""Where a command's data comes from: the database, or the service (``--server``).

The commands that work both ways ask a :class:`Backend` for their data and format what it
returns; the data is the JSON of ``--format json`` either way, so the text, the formats and
the exit codes are computed once, in the command. :class:`LocalBackend` calls the engine
through :class:`workflow.app.operations.Operations` — the functions the web API calls too —
and :class:`workflow.cli.remote.RemoteBackend` calls that API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from workflow.app.operations import Operations
    from workflow.cli.context import CliContext
    from workflow.progress import ProgressCallback


class Backend(Protocol):
    """The operations a command can run on the database or over the API (as JSON data)."""

    def proposals(
        self,
        *,
        state: str | None = None,
        handlungsfeld: int | None = None,
        lead: str | None = None,
        definition_version: int | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of ``proposal list --format json``."""
        ...

    def proposal(self, key: str) -> dict[str, Any]:
        """``proposal show --format json``."""
        ...

    def history(self, key: str) -> list[dict[str, Any]]:
        """``history --format json``."""
        ...

    def triggers(
        self, key: str, fields: Mapping[str, str], comment: str | None
    ) -> list[dict[str, Any]]:
        """``triggers --format json``, for the acting identity (if any)."""
        ...

    def advance(
        self,
        trigger: str,
        *,
        keys: Sequence[str],
        where_state: str | None,
        comment: str | None,
        fields: Mapping[str, str],
        partial: bool,
        dry_run: bool,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``advance --format json``: ``{"applied": […], "refused": […]}``."""
        ...

    def record_statement(
        self, key: str, *, party: str, group: str, position: str, text: str
    ) -> dict[str, Any]:
        """A consultation statement: ``{"key", "seq", …}``."""
        ...

    def add_funding(
        self, key: str, *, source: str, amount: str, year: int, secured: bool
    ) -> dict[str, Any]:
        """A funding line: ``{"key", "seq", "amount", …}`` (the amount as decimal text)."""
        ...

    def add_proposal(self, **proposal: Any) -> dict[str, Any]:
        """``proposal add``: title, handlungsfeld, themenforum, lead, key, cost (text),
        participating, summary; ``{"key": …}``."""
        ...

    def import_proposals(
        self, data: bytes, *, skip_invalid: bool, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """``proposal import``: ``{"imported": [keys], "skipped": [{"line", "reason"}]}``."""
        ...

    def migration_plan(
        self, **selection: Any
    ) -> AbstractContextManager[tuple[dict[str, Any], Iterator[dict[str, Any]]]]:
        """``migrate plan``: the head (``to_version``, ``to_hash``) and the proposals, as a
        context (on the database they come a chunk at a time from one read)."""
        ...

    def migrate(self, *, partial: bool, comment: str | None, **selection: Any) -> dict[str, Any]:
        """``migrate apply --format json``."""
        ...

    def deadlines(
        self, *, overdue: bool, due_within: str | None, lead: str | None
    ) -> list[dict[str, Any]]:
        """``deadlines --format json``."""
        ...

    def move_deadline(self, key: str, kind: str, to_day: date, reason: str) -> dict[str, Any]:
        """``deadlines move --format json``."""
        ...

    def notices(self, *, status: str | None, limit: int | None) -> list[dict[str, Any]]:
        """``notices list --format json``."""
        ...

    def audit_verify(
        self, *, checkpoint: str | None, record: bool, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """``audit verify --format json`` (with ``recorded_seq`` when recorded)."""
        ...

    def audit_checkpoint(self) -> dict[str, Any]:
        """``audit checkpoint --format json``."""
        ...

    def audit_log(
        self,
        *,
        key: str | None,
        since: datetime | None,
        until: datetime | None,
        actor: str | None,
        trigger: str | None,
    ) -> list[dict[str, Any]]:
        """``audit log --format json``."""
        ...

    def audit_export(
        self,
        out: TextIO,
        *,
        fmt: str,
        delimiter: str,
        bom: bool,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``audit export`` into ``out``: ``{"rows", "chains", "heads_digest"}``."""
        ...

    def report(self, name: str, **options: Any) -> Any:
        """``report NAME --format json``: status, lead-times, overdue (``as_of``), stuck
        (``days``)."""
        ...


@dataclass(frozen=True)
class LocalBackend:
    """The database named by ``--db`` (or the config); the actor is ``--as`` or the login."""

    cli: CliContext

    def _ops(self) -> Operations:
        from workflow.app.operations import Operations

        return Operations(self.cli.runtime, self.cli.now)

    def proposals(
        self,
        *,
        state: str | None = None,
        handlungsfeld: int | None = None,
        lead: str | None = None,
        definition_version: int | None = None,
    ) -> list[dict[str, Any]]:
        return self._ops().proposals(
            state=state,
            handlungsfeld=handlungsfeld,
            lead=lead,
            definition_version=definition_version,
        )

    def proposal(self, key: str) -> dict[str, Any]:
        return self._ops().proposal(key)

    def history(self, key: str) -> list[dict[str, Any]]:
        return self._ops().history(key)

    def triggers(
        self, key: str, fields: Mapping[str, str], comment: str | None
    ) -> list[dict[str, Any]]:
        actor = self.cli.resolve_actor()
        return self._ops().triggers(key, actor=actor, fields=fields, comment=comment)

    def advance(
        self,
        trigger: str,
        *,
        keys: Sequence[str],
        where_state: str | None,
        comment: str | None,
        fields: Mapping[str, str],
        partial: bool,
        dry_run: bool,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        actor = self.cli.require_actor()
        return self._ops().advance(
            trigger,
            actor=actor,
            keys=keys,
            where_state=where_state,
            comment=comment,
            fields=fields,
            partial=partial,
            dry_run=dry_run,
            progress=progress,
        )

    def record_statement(
        self, key: str, *, party: str, group: str, position: str, text: str
    ) -> dict[str, Any]:
        actor = self.cli.require_actor()
        return self._ops().record_statement(
            key, actor=actor, party=party, group=group, position=position, text=text
        )

    def add_funding(
        self, key: str, *, source: str, amount: str, year: int, secured: bool
    ) -> dict[str, Any]:
        actor = self.cli.require_actor()
        return self._ops().add_funding(
            key, actor=actor, source=source, amount=amount, year=year, secured=secured
        )

    def add_proposal(self, **proposal: Any) -> dict[str, Any]:
        actor = self.cli.require_actor()
        return self._ops().add_proposal(actor=actor, **proposal)

    def import_proposals(
        self, data: bytes, *, skip_invalid: bool, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        actor = self.cli.require_actor()
        return self._ops().import_proposals(
            data, actor=actor, skip_invalid=skip_invalid, progress=progress
        )

    def migration_plan(
        self, **selection: Any
    ) -> AbstractContextManager[tuple[dict[str, Any], Iterator[dict[str, Any]]]]:
        return self._ops().migration_plan_stream(**selection)

    def migrate(self, *, partial: bool, comment: str | None, **selection: Any) -> dict[str, Any]:
        ops = self._ops()
        actor = self.cli.require_actor()
        return ops.migrate(actor=actor, partial=partial, comment=comment, **selection)

    def deadlines(
        self, *, overdue: bool, due_within: str | None, lead: str | None
    ) -> list[dict[str, Any]]:
        return self._ops().deadlines(overdue=overdue, due_within=due_within, lead=lead)

    def move_deadline(self, key: str, kind: str, to_day: date, reason: str) -> dict[str, Any]:
        actor = self.cli.require_actor()
        return self._ops().move_deadline(key, kind, to_day, reason=reason, actor=actor)

    def notices(self, *, status: str | None, limit: int | None) -> list[dict[str, Any]]:
        return self._ops().notices(status=status, limit=limit)

    def audit_verify(
        self, *, checkpoint: str | None, record: bool, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        recorder = self.cli.require_actor() if record else None
        return self._ops().audit_verify(checkpoint=checkpoint, recorder=recorder, progress=progress)

    def audit_checkpoint(self) -> dict[str, Any]:
        actor = self.cli.require_actor()
        return self._ops().audit_checkpoint(actor=actor)

    def audit_log(
        self,
        *,
        key: str | None,
        since: datetime | None,
        until: datetime | None,
        actor: str | None,
        trigger: str | None,
    ) -> list[dict[str, Any]]:
        return self._ops().audit_log(
            key=key, since=since, until=until, actor=actor, trigger=trigger
        )

    def audit_export(
        self,
        out: TextIO,
        *,
        fmt: str,
        delimiter: str,
        bom: bool,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        return self._ops().audit_export(
            out, fmt=fmt, delimiter=delimiter, bom=bom, progress=progress
        )

    def report(self, name: str, **options: Any) -> Any:
        ops = self._ops()
        reports: dict[str, Callable[..., Any]] = {
            "status": ops.report_status,
            "lead-times": ops.report_lead_times,
            "overdue": ops.report_overdue,
            "stuck": ops.report_stuck,
        }
        return reports[name](**options)
