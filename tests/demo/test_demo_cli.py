"""``ruhrflow demo``'s options, checked before the round is played (not slow)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from workflow.cli.main import cli


def test_a_short_password_is_refused_before_the_round_is_played(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(directory), "--password", "kurz"])
    assert result.exit_code == 2
    assert "--password" in result.output and "12 characters" in result.output
    assert not directory.exists()  # nothing was played
