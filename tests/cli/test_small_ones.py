"""Issue 13's small ones: help that is not cut off, a preview that says when it is
hypothetical, and a dot picture that reads top to bottom."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import NOW
from support import add_proposal, walk_to

from workflow.cli.main import COMMANDS, cli
from workflow.engine.engine import Engine


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.stdout


def _groups() -> list[str]:
    names = []
    for name in sorted(COMMANDS):
        if "Commands:" in invoke(name, "--help"):
            names.append(name)
    return names


def test_group_help_lists_every_command_without_cutting_it_off() -> None:
    # given every command group, when its help is printed 80 columns wide
    groups = _groups()
    assert {"proposal", "audit", "notices", "scheduler", "definition", "report"} <= set(groups)
    for group in groups:
        listing = invoke(group, "--help").split("Commands:")[1]
        # then no line ends in "...", and each command's first sentence is there in full
        assert "..." not in listing, (group, listing)
        words = " ".join(listing.split()).replace("- ", "-")  # wrapped after a hyphen
        command = cli.get_command(click.Context(cli), group)
        assert isinstance(command, click.Group)
        for sub in command.commands.values():
            first = " ".join((sub.help or "").split("\n\n")[0].split())
            assert first.split(". ")[0].rstrip(".") in words, (group, sub.name)
    proposal = " ".join(invoke("proposal", "--help").split()).replace("- ", "-")
    assert "Import proposals from a UTF-8 CSV (all or nothing unless --skip-invalid)." in proposal


def test_preview_of_a_trigger_that_cannot_fire_now_says_it_is_hypothetical(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # given a proposal in consultation
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    base = ["--db", database_url, "--now", "2019-07-16T10:00"]
    # when the cabinet's approval is previewed
    result = CliRunner().invoke(cli, [*base, "notices", "preview", key, "approve"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    # then the preview says first that it is hypothetical, and from which state it pretends
    assert first.startswith("Hypothetical: ") and "'consultation'" in first
    assert "'cabinet' (Kabinettvorlage)" in first
    assert "Bisheriger Stand:       Kabinettvorlage" in result.stdout
    doc = json.loads(
        CliRunner().invoke(cli, [*base, "notices", "preview", key, "approve", "--format",
                                 "json"]).stdout
    )  # fmt: skip
    assert "cannot fire" in doc["hypothetical"]
    # and a trigger that can leave the current state is previewed as it is, without the note
    real = CliRunner().invoke(cli, [*base, "notices", "preview", key, "close_consultation"])
    assert real.exit_code == 0 and not real.stdout.startswith("Hypothetical")
    assert json.loads(
        CliRunner().invoke(cli, [*base, "notices", "preview", key, "close_consultation",
                                 "--format", "json"]).stdout
    )["hypothetical"] is None  # fmt: skip


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_the_dot_picture_reads_top_to_bottom(tmp_path: Path) -> None:
    # given the shipped process drawn by Graphviz
    source = invoke("definition", "show", "--format", "dot")
    svg = subprocess.run(
        ["dot", "-Tsvg"], input=source, capture_output=True, text=True, check=True
    ).stdout
    width, height = (float(v) for v in re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"',
                                                  svg).groups())  # fmt: skip
    # then it is about as high as wide, not a 4,400-pixel ribbon (it was 3,314 × 439 pt)
    assert width < 1_400 and height > 0.6 * width
