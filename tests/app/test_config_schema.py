"""The one configuration schema: every probe of the review refused in one line, exit 2.

Given a configuration file with one bad value, when any command loads it (here
``ruhrflow config check``, which loads it as ``serve`` and ``scheduler run`` do), then the
answer is one ``error:`` line naming the key, exit 2 — never exit 70, never silence.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow.app import config_schema
from workflow.app.resources import shipped_file
from workflow.app.settings import load_settings
from workflow.cli.main import cli
from workflow.errors import InvalidConfig

PROBES = [
    ("[databse]\nurl = 'sqlite:///x.db'\n", "unknown section 'databse' (did you mean [database]?)"),
    ("[web]\nsesion_hours = 3\n", "did you mean web.session_hours?"),
    ("[process]\ntimezon = 'Europe/Berlin'\n", "did you mean process.timezone?"),
    ("[database]\nbusy_timeout_seconds = nan\n", "database.busy_timeout_seconds must be a finite"),
    ("[database]\nbusy_timeout_seconds = inf\n", "database.busy_timeout_seconds must be a finite"),
    ("[database]\nbusy_timeout_seconds = -1\n", "database.busy_timeout_seconds must be > 0"),
    ("[scheduler]\ndigest_time = '25:99'\n", "scheduler.digest_time"),
    ("[scheduler]\ndigest_time = '02:30'\n", "where the clocks change"),
    ("[scheduler]\ndigest_time = 7\n", "scheduler.digest_time"),
    ("[scheduler]\ndigest_day = 'funday'\n", "scheduler.digest_day must be one of"),
    ("[process]\ntimezone = 'Mars/Olympus'\n", "'Mars/Olympus' is no IANA time zone"),
    ("[web]\nsession_hours = 1e12\n", "web.session_hours must be > 0"),
    ("[web]\nsession_hours = 0\n", "web.session_hours must be > 0"),
    ("[process]\ncabinet_session = '2019-02-30'\n", "'2019-02-30' is no date that exists"),
    ("[process]\nbudget_deadline = 0001-01-01\n", "process.budget_deadline must lie between"),
    ("[process]\nkickoff = 'soon'\n", "process.kickoff must be a date"),
    ("[scheduler]\nbatch_size = -5\n", "scheduler.batch_size must lie between 1"),
    ("[scheduler]\nbatch_size = true\n", "scheduler.batch_size must be a whole number"),
    ("[mail.delivery]\nmax_attempts = -1\n", "mail.delivery.max_attempts must lie between"),
    ("[mail.smtp]\nport = 70000\n", "mail.smtp.port must lie between 1 and 65535"),
    ("[mail]\ntemplates = 'no-such-templates'\n", "mail.templates:"),
    ("[process]\ndefinition = 'no-such.yaml'\n", "process.definition:"),
    ("[web]\nsecure_cookies = 'no'\n", "web.secure_cookies must be true or false"),
    ("[security]\nallow_impersonation = 1\n", "security.allow_impersonation must be true or"),
    ('[mail]\nsignature = "Gru\\u00df\\u001b[31m"\n', "mail.signature contains a control"),
    ('[mail]\nsender = "Koordination \\u202e"\n', "mail.sender contains a bidi control"),
    ("[web]\nbase_url = 'javascript:alert(1)'\n", "web.base_url must be an http(s) URL"),
    ("[web]\nbase_url = 'https://user@evil.example'\n", "web.base_url must be an http(s) URL"),
    ("[web]\nbase_url = 'https://a.example/?next=x'\n", "web.base_url must be an http(s) URL"),
    ("[web]\ntrusted_hosts = 'example.org'\n", "web.trusted_hosts must be a list of strings"),
    ("[web]\npublic_dir = 'no-such-board'\n", "web.public_dir:"),
    ("database = 3\n", "database must be a table"),
    ("[mail.smtp]\npassword = 'x'\n", "must not be in a configuration file"),
    ("not toml [", "not valid TOML"),
]


def _check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    return result.exit_code, result.output


@pytest.mark.parametrize(("content", "message"), PROBES)
def test_a_bad_value_is_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    # given a configuration with one bad value
    path = tmp_path / "site.toml"
    path.write_text(content, encoding="utf-8")
    # when it is checked, then one error line names the key
    code, output = _check(path)
    assert code == 2, output
    assert output.count("\n") == 1 and output.startswith("error: "), output
    assert message in output
    # and the loader every command uses refuses it the same way
    with pytest.raises(InvalidConfig, match=re.escape(message)):
        load_settings(path, env={})


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null", "."])
def test_a_file_that_is_no_regular_file_is_refused(special: str) -> None:
    code, output = _check(Path(special))
    assert code == 2 and "not a regular file" in output, output


def test_a_binary_or_oversized_file_is_refused(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00")
    assert _check(binary)[0] == 2 and "not UTF-8" in _check(binary)[1]
    nul = tmp_path / "nul.toml"
    nul.write_bytes(b"[web]\x00\n")
    assert _check(nul)[0] == 2 and "NUL" in _check(nul)[1]
    huge = tmp_path / "huge.toml"
    huge.write_text("# " + "x" * (1024 * 1024) + "\n", encoding="utf-8")
    assert _check(huge)[0] == 2 and "larger than" in _check(huge)[1]


def test_a_good_file_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        "[process]\ncabinet_session = 2019-11-05\nextra_day = '2020-01-31'\n"
        "[scheduler]\ndigest_day = 'FRI'\noutbox_interval_seconds = 30\n"
        "[web]\nsecure_cookies = true\ntrusted_hosts = ['ruhrflow.example']\n"
        "base_url = 'http://[::1]:8000/ruhrflow'\n",
        encoding="utf-8",
    )
    code, output = _check(path)
    assert (code, output) == (0, f"{path}: ok\n")
    settings = load_settings(path, env={})
    assert settings.section("scheduler")["digest_day"] == "fri"
    assert str(settings.section("process")["extra_day"]) == "2020-01-31"


def test_without_a_path_it_checks_the_configuration_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "site.toml"
    path.write_text("[web]\nsession_hours = -1\n", encoding="utf-8")
    monkeypatch.setenv("RUHRFLOW_CONFIG", str(path))
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 2 and "web.session_hours" in result.output


def documented_keys(text: str) -> set[str]:
    """The keys config/ruhrflow.toml names, set or commented out (``# key = …``), dotted."""
    found: set[str] = set()
    section = ""
    for line in text.splitlines():
        stripped = line.lstrip("#").strip()
        header = re.fullmatch(r"\[([A-Za-z0-9_.]+)\]", stripped)
        if header:
            section = header.group(1)
            found.add(section)  # a table of free keys (``[web.oidc.actors]``) is a key itself
            continue
        key = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", stripped)
        if key:
            found.add(f"{section}.{key.group(1)}")
    return found


def test_every_key_of_the_schema_is_documented_in_the_shipped_configuration() -> None:
    documented = documented_keys(shipped_file("config", "ruhrflow.toml").read_text("utf-8"))
    missing = [key for key in config_schema.all_keys() if key not in documented]
    assert missing == []


def test_the_shipped_configuration_passes_its_own_schema() -> None:
    assert load_settings(env={}).section("scheduler")["outbox_interval_seconds"] == 60


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[directory]\npath = "{binary}"\n', "not UTF-8"),
        ('[process]\ndefinition = "{binary}"\n', "not UTF-8"),
        ('[directory]\npath = "{broken}"\n', "not valid TOML"),
        (
            '[web.oidc]\nissuer = "https://sso.example/r"\nclient_id = "ruhrflow"\n'
            '[web.oidc.actors]\n"/gruppe" = "niemand"\n',
            "names 'niemand', which is no actor",
        ),
    ],
)
def test_config_check_reads_the_files_it_names_as_serve_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    # given a configuration whose definition, directory or SSO mapping is broken
    binary = tmp_path / "binary"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe")
    broken = tmp_path / "broken.toml"
    broken.write_text("[ministries\n", encoding="utf-8")
    path = tmp_path / "site.toml"
    path.write_text(content.format(binary=binary, broken=broken), encoding="utf-8")
    monkeypatch.setenv("RUHRFLOW_OIDC_CLIENT_SECRET", "geheimnis-der-tests")
    # when it is checked, then the first problem is one line, exit 2
    code, output = _check(path)
    assert code == 2 and output.count("\n") == 1 and message in output, output
