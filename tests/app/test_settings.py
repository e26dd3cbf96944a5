"""Settings: shipped defaults, overrides, environment, and secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.app.resources import shipped_dir
from workflow.app.settings import load_settings
from workflow.errors import InvalidConfig


def test_defaults_come_from_the_shipped_config() -> None:
    s = load_settings(env={})
    assert s.database_url == "sqlite:///ruhrflow.db"
    assert s.definition_path == shipped_dir("definitions") / "ruhr_konferenz.yaml"
    assert s.directory_path == shipped_dir("config") / "directory.toml"
    assert s.mail.transport == "maildir"
    assert s.audit_key is None and s.mail.smtp.password is None


def test_a_config_file_overrides_single_values(tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text('[mail.smtp]\nhost = "mail.example"\nport = 587\nsecurity = "starttls"\n')
    s = load_settings(cfg, env={})
    assert (s.mail.smtp.host, s.mail.smtp.port, s.mail.smtp.security) == (
        "mail.example", 587, "starttls",
    )  # fmt: skip
    assert s.mail.sender.startswith("Ruhr-Konferenz")  # untouched default


def test_url_precedence_is_option_then_environment_then_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "sqlite:///from-file.db"\n')
    env = {"RUHRFLOW_DATABASE_URL": "sqlite:///from-env.db"}
    assert load_settings(cfg, env={}).database_url == "sqlite:///from-file.db"
    assert load_settings(cfg, env=env).database_url == "sqlite:///from-env.db"
    assert load_settings(cfg, database_url="sqlite:///opt.db", env=env).database_url == (
        "sqlite:///opt.db"
    )


def test_secrets_come_from_the_environment_and_stay_out_of_repr() -> None:
    env = {"RUHRFLOW_SMTP_PASSWORD": "s3cret-pw", "RUHRFLOW_AUDIT_KEY": "k3y-material",
           "RUHRFLOW_DATABASE_URL": "postgresql+psycopg://u:dbpass@h/db"}  # fmt: skip
    s = load_settings(env=env)
    assert s.mail.smtp.password == "s3cret-pw"
    assert s.audit_key == b"k3y-material"
    text = repr(s) + repr(s.mail) + repr(s.mail.smtp)
    for secret in ("s3cret-pw", "k3y-material", "dbpass"):
        assert secret not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[mail]\ntransport = 'pigeon'\n", "mail.transport"),
        ("[mail.smtp]\nsecurity = 'tls13'\n", "mail.smtp.security"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    with pytest.raises(InvalidConfig, match=message):
        load_settings(cfg, env={})
