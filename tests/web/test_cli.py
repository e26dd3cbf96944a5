"""``ruhrflow user`` and ``ruhrflow token`` through click's runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow import Runtime
from workflow.access import accounts
from workflow.cli.main import cli

PASSWORD = "ein-sehr-gutes-passwort"


@pytest.fixture(autouse=True)
def _fast(fast_hashes: None) -> None:
    pass


def run(database_url: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", database_url, *args], input=stdin)
    return result.exit_code, result.output


def test_set_password_list_and_disable(database_url: str, runtime: Runtime) -> None:
    code, out = run(database_url, "user", "set-password", "im", "--password-stdin",
                    stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 0, out
    assert accounts.authenticate(runtime.store, "im", PASSWORD, datetime.now(UTC)) == "im"
    # an account an SSO login made has no password; the list says which
    accounts.sso_login(runtime.store, runtime.directory, "vm", datetime.now(UTC))
    code, out = run(database_url, "user", "list", "--format", "json")
    listed = {a["actor"]: a for a in json.loads(out)}
    assert code == 0 and set(listed) == {"im", "vm"}
    assert listed["im"]["password"] is True and listed["vm"]["password"] is False
    code, out = run(database_url, "user", "disable", "im")
    assert code == 0
    assert not accounts.is_active(runtime.store, "im")
    code, out = run(database_url, "user", "set-password", "im", "--password-stdin", stdin="kurz\n")
    assert code == 2 and "12 characters" in out


def test_token_create_prints_the_token_last_and_revoke_stops_it(
    database_url: str, runtime: Runtime
) -> None:
    run(database_url, "user", "set-password", "im", "--password-stdin", stdin=PASSWORD + "\n")
    code, out = run(database_url, "token", "create", "im", "--expires", "30d")
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    token_id = out.split()[1]
    assert accounts.actor_for_token(runtime.store, token, datetime.now(UTC)) == "im"
    code, out = run(database_url, "token", "revoke", token_id)
    assert code == 0, out
    assert accounts.actor_for_token(runtime.store, token, datetime.now(UTC)) is None
    code, out = run(database_url, "token", "create", "im", "--expires", "soon")
    assert code == 2


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ("99999999999d", "is longer than 3650d; for a token that does not expire, say never"),
        ("9" * 5000 + "d", "is longer than 3650d"),  # int() refuses the digits themselves
        ("3651d", "is longer than 3650d"),
        ("87601h", "is longer than 3650d"),
        ("\u0665d", "is not a duration such as 90d"),  # an Arabic-Indic 5
        ("0d", "is not a duration such as 90d"),
    ],
)
def test_token_create_refuses_a_lifetime_past_ten_years_in_one_line(
    database_url: str, expires: str, message: str
) -> None:
    # 99999999999d overflowed a timedelta: an internal error, exit 70
    run(database_url, "user", "set-password", "im", "--password-stdin", stdin=PASSWORD + "\n")
    code, out = run(database_url, "token", "create", "im", "--expires", expires)
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out
    code, out = run(database_url, "token", "create", "im", "--expires", "3650d")
    assert code == 0, out


def test_serve_refuses_an_oidc_mapping_to_an_unknown_actor_before_it_starts(
    database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "sso.toml"
    config.write_text(
        '[web.oidc]\nissuer = "https://sso.nrw.example/realms/land"\nclient_id = "ruhrflow"\n'
        '[web.oidc.actors]\n"/ruhrkonferenz/niemand" = "niemand"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "--db", database_url, "serve"],
        env={"RUHRFLOW_OIDC_CLIENT_SECRET": "s"},
    )
    assert result.exit_code == 2, result.output
    assert "web.oidc.actors.'/ruhrkonferenz/niemand' names 'niemand'" in result.output
    # one error line, after serve's note on mail (tests/cli/test_serve_note.py)
    assert [ln for ln in result.output.splitlines() if "error" in ln.lower()] == [
        result.output.strip().splitlines()[-1]
    ]
