"""``ruhrflow --server URL``: the CLI as a client of the service's JSON API.

People act through the service, not with a database login (DESIGN: "One door"): the
command sends its request with a bearer token, the service runs the engine as the token's
account, and the command formats the answer as it formats the database's. An error answer
(always ``{"error": "<one line>"}``) becomes the same ``error:`` line and exit code the
command would give on the database (:func:`exit_code_of`).

The token comes from ``RUHRFLOW_TOKEN`` or from the token file ``ruhrflow login`` writes
(``RUHRFLOW_TOKEN_FILE``, default ``~/.config/ruhrflow/token``): JSON with the server it
belongs to, readable by its owner alone — a file others may read is refused, and a token is
only ever sent to the server it was issued for. Plain ``http://`` is accepted for this
machine only (``localhost``, ``127.0.0.1``, ``::1``): a token never crosses a network in
clear text.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote, urlsplit

from workflow.errors import InvalidInput, WorkflowError

if TYPE_CHECKING:
    import requests

    from workflow.progress import ProgressCallback

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
PAGE = 1000  # rows per request of a list (the API's largest page)
TIMEOUT = (10, 600)  # seconds to connect, to wait for an answer (a bulk advance takes a while)


class ServiceError(WorkflowError):
    """The service refused a request or failed; carries the exit code the database would
    have given for the same refusal."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ServiceUnavailable(WorkflowError):
    """The service cannot be reached, or answers with something other than its API."""

    exit_code = 3


def exit_code_of(status: int) -> int:
    """The CLI's exit code for an HTTP status of the API (errors.py's codes).

    400 malformed, 401 no valid token, 413 too large, 422 invalid value: bad input (2);
    403 permission, 404 unknown proposal, 409 refused or concurrent, 429 throttled: refused
    (1); 500 a bug in the service (70); 502-504 unavailable (3).
    """
    if status in (400, 401, 405, 413, 415, 422):
        return 2
    if status == 500:
        return 70
    if status >= 500:
        return 3
    return 1


def check_server(url: str) -> str:
    """``url`` without a trailing slash; https, or http to this machine only."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"--server {url!r} is no http(s) URL such as https://ruhrflow.example")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise InvalidInput(
            f"--server {url!r}: use https:// — a token must not cross the network in clear"
            " text (http:// is for this machine only)"
        )
    if parts.query or parts.fragment:
        raise InvalidInput(f"--server {url!r} must not have a query or fragment")
    return url.strip().rstrip("/")


def default_token_file() -> Path:
    """``RUHRFLOW_TOKEN_FILE``, else ``$XDG_CONFIG_HOME/ruhrflow/token`` (``~/.config``)."""
    named = os.environ.get("RUHRFLOW_TOKEN_FILE")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ruhrflow" / "token"


def read_token(server: str, path: Path | None = None) -> str:
    """The token for ``server``: ``RUHRFLOW_TOKEN``, or the token file's if it was issued
    by ``server`` and only its owner may read it."""
    token = os.environ.get("RUHRFLOW_TOKEN", "").strip()
    if token:
        return token
    path = path or default_token_file()
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(
            f"no token for {server}: run `ruhrflow login --server {server}` or set RUHRFLOW_TOKEN"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the token file {path}: {exc}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise InvalidInput(
            f"the token file {path} may be read by others (mode {stat.S_IMODE(mode):04o});"
            f" it is not used: chmod 600 {path}, or log in again"
        )
    try:
        saved = json.loads(text)
        saved_server, token = str(saved["server"]), str(saved["token"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(f"the token file {path} is not one `ruhrflow login` wrote") from None
    if saved_server.rstrip("/") != server:
        raise InvalidInput(
            f"the token in {path} is for {saved_server}, not {server}: run"
            f" `ruhrflow login --server {server}`"
        )
    return token


def write_token(path: Path, server: str, token: str) -> None:
    """Write the token file: mode 0600 from its first byte, replaced whole."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when a partial file of another mode was left behind
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"server": server, "token": token}, out)
            out.write("\n")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


class Client:
    """JSON over HTTP to one server, as one token's account."""

    def __init__(self, server: str, token: str | None, session: requests.Session | None = None):
        import requests

        self.server = server
        self.token = token
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """The decoded JSON answer and its headers; an error answer raises ServiceError."""
        import requests

        url = self.server + path
        try:
            headers = {"Content-Type": content_type} if content_type else None
            response = self.session.request(
                method, url, params=params, json=body, data=raw, headers=headers,
                timeout=TIMEOUT, allow_redirects=False,
            )  # fmt: skip
        except requests.RequestException as exc:
            why = _why(exc)
            raise ServiceUnavailable(f"cannot reach the service at {self.server}: {why}") from None
        return self._json(response, method, path), response.headers

    def _json(self, response: requests.Response, method: str, path: str) -> Any:
        """The decoded JSON of an answer; an error answer raises ServiceError."""
        try:
            data = response.json()
        except ValueError:
            raise ServiceUnavailable(
                f"{self.server} answered {method} {path} with HTTP {response.status_code} and no"
                " JSON: is it a ruhrflow service?"
            ) from None
        if response.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            if not isinstance(message, str):
                message = f"HTTP {response.status_code} from {self.server}"
            if response.status_code == 401 and self.token is not None and "token" not in message:
                message += f" (run `ruhrflow login --server {self.server}`)"
            raise ServiceError(" ".join(message.split()), exit_code_of(response.status_code))
        return data

    def download(
        self, path: str, *, params: Mapping[str, Any] | None = None
    ) -> tuple[str, Mapping[str, str]]:
        """A text answer (an export) and its headers; an error answer raises as ``call``."""
        import requests

        try:
            response = self.session.get(
                self.server + path, params=params, timeout=TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as exc:
            why = _why(exc)
            raise ServiceUnavailable(f"cannot reach the service at {self.server}: {why}") from None
        if response.status_code >= 400:
            self._json(response, "GET", path)  # raises the error it carries
        response.encoding = "utf-8"
        return response.text, response.headers


def _why(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    return text if len(text) < 300 else text[:300] + "…"


def _path(*parts: str) -> str:
    return "/api/" + "/".join(quote(p, safe="") for p in parts)


class RemoteBackend:
    """The service at ``--server``: every operation one request, as the token's account."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def proposals(
        self,
        *,
        state: str | None = None,
        handlungsfeld: int | None = None,
        lead: str | None = None,
        definition_version: int | None = None,
    ) -> list[dict[str, Any]]:
        filters = {
            "state": state,
            "handlungsfeld": handlungsfeld,
            "lead": lead,
            "definition_version": definition_version,
        }
        params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        rows: list[dict[str, Any]] = []
        while True:  # page by page, as long as the service names a next page
            page, headers = self.client.call(
                "GET", "/api/proposals", params={**params, "limit": PAGE, "offset": len(rows)}
            )
            rows += page
            if 'rel="next"' not in headers.get("Link", "") or not page:
                return rows

    def proposal(self, key: str) -> dict[str, Any]:
        data, _ = self.client.call("GET", _path("proposals", key))
        return dict(data)

    def history(self, key: str) -> list[dict[str, Any]]:
        data, _ = self.client.call("GET", _path("proposals", key, "history"))
        return list(data)

    def triggers(
        self, key: str, fields: Mapping[str, str], comment: str | None
    ) -> list[dict[str, Any]]:
        params: list[tuple[str, str]] = [("set", f"{k}={v}") for k, v in fields.items()]
        if comment is not None:
            params.append(("comment", comment))
        data, _ = self.client.call("GET", _path("proposals", key, "triggers"), params=params)
        return list(data)

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
        body: dict[str, Any] = {"trigger": trigger, "fields": dict(fields)}
        if where_state is not None:
            body["where"] = {"state": where_state}
        else:
            body["keys"] = list(keys)
        if comment is not None:
            body["comment"] = comment
        if partial:
            body["partial"] = True
        if dry_run:
            body["dry_run"] = True
        data, _ = self.client.call("POST", "/api/advance", body=body)
        return dict(data)

    def record_statement(
        self, key: str, *, party: str, group: str, position: str, text: str
    ) -> dict[str, Any]:
        body = {"party": party, "group": group, "position": position, "text": text}
        data, _ = self.client.call("POST", _path("proposals", key, "statements"), body=body)
        return dict(data)

    def add_funding(
        self, key: str, *, source: str, amount: str, year: int, secured: bool
    ) -> dict[str, Any]:
        body = {"source": source, "amount": amount, "year": year, "secured": secured}
        data, _ = self.client.call("POST", _path("proposals", key, "funding"), body=body)
        return dict(data)

    def add_proposal(self, **proposal: Any) -> dict[str, Any]:
        body = {k: list(v) if k == "participating" else v for k, v in proposal.items()}
        data, _ = self.client.call("POST", "/api/proposals", body=_given(body))
        return dict(data)

    def import_proposals(
        self, data: bytes, *, skip_invalid: bool, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        params = {"skip_invalid": "true"} if skip_invalid else None
        answer, _ = self.client.call(
            "POST", "/api/proposals/import", params=params, raw=data, content_type="text/csv"
        )
        return dict(answer)

    def migration_plan(
        self, **selection: Any
    ) -> AbstractContextManager[tuple[dict[str, Any], Iterator[dict[str, Any]]]]:
        data, _ = self.client.call("POST", "/api/migrations/plan", body=_migration(selection))
        proposals = data.pop("proposals")
        return nullcontext((dict(data), iter(proposals)))

    def migrate(self, *, partial: bool, comment: str | None, **selection: Any) -> dict[str, Any]:
        body = {**_migration(selection), "partial": partial or None, "comment": comment}
        data, _ = self.client.call("POST", "/api/migrations/apply", body=_given(body))
        return dict(data)

    def deadlines(
        self, *, overdue: bool, due_within: str | None, lead: str | None
    ) -> list[dict[str, Any]]:
        params = {"overdue": "true" if overdue else None, "due_within": due_within, "lead": lead}
        data, _ = self.client.call("GET", "/api/deadlines", params=_given(params))
        return list(data)

    def move_deadline(self, key: str, kind: str, to_day: date, reason: str) -> dict[str, Any]:
        body = {"to": to_day.isoformat(), "reason": reason}
        path = _path("proposals", key, "deadlines", kind, "move")
        data, _ = self.client.call("POST", path, body=body)
        return dict(data)

    def notices(self, *, status: str | None, limit: int | None) -> list[dict[str, Any]]:
        params = _given({"status": status, "limit": limit})
        data, _ = self.client.call("GET", "/api/notices", params=params)
        return list(data)

    def audit_verify(
        self, *, checkpoint: str | None, record: bool, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        body = _given({"checkpoint": checkpoint, "record": record or None})
        data, _ = self.client.call("POST", "/api/audit/verify", body=body)
        return dict(data)

    def audit_checkpoint(self) -> dict[str, Any]:
        data, _ = self.client.call("POST", "/api/audit/checkpoint", body={})
        return dict(data)

    def audit_log(
        self,
        *,
        key: str | None,
        since: datetime | None,
        until: datetime | None,
        actor: str | None,
        trigger: str | None,
    ) -> list[dict[str, Any]]:
        params = _given(
            {
                "key": key,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "actor": actor,
                "trigger": trigger,
            }
        )
        data, _ = self.client.call("GET", "/api/audit/log", params=params)
        return list(data)

    def audit_export(
        self,
        out: TextIO,
        *,
        fmt: str,
        delimiter: str,
        bom: bool,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        params = {"format": fmt, "delimiter": delimiter, "bom": "true" if bom else "false"}
        text, headers = self.client.download("/api/audit/export", params=params)
        out.write(text)
        return {
            "rows": int(headers.get("X-Ruhrflow-Rows", "0")),
            "chains": int(headers.get("X-Ruhrflow-Chains", "0")),
            "heads_digest": headers.get("X-Ruhrflow-Heads-Digest", ""),
        }

    def report(self, name: str, **options: Any) -> Any:
        data, _ = self.client.call("GET", _path("reports", name), params=_given(options))
        return data


def _migration(selection: Mapping[str, Any]) -> dict[str, Any]:
    """The body of a migration request: the CLI's selection, ``where`` as the API takes it."""
    body = {
        "to_version": selection["to_version"],
        "map": list(selection.get("maps", ())),
        "fields": dict(selection.get("fields") or {}),
        "keys": list(selection.get("keys", ())),
    }
    if selection.get("where_state") is not None:
        body["where"] = {"state": selection["where_state"]}
    return body


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
