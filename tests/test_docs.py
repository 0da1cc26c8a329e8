"""Docs that tests keep honest: every command the README shows exists, and CI runs the README's test."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from banron.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _shell_lines(markdown: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", markdown, re.DOTALL)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


BANRON_LINES = [line for line in _shell_lines(README) if line.startswith("banron ")]


def test_readme_shows_banron_commands() -> None:
    assert len(BANRON_LINES) >= 6


@pytest.mark.parametrize("line", BANRON_LINES)
def test_every_readme_command_parses(line: str) -> None:
    """Each command's subcommand path and options exist (checked through --help, not run)."""
    argv = shlex.split(line)[1:]
    words = [a for a in argv if not a.startswith("-")]
    # Walk down the command tree: sub-app, then command.
    path: list[str] = []
    for w in words[:2]:
        probe = CliRunner().invoke(app, [*path, w, "--help"])
        if probe.exit_code != 0:
            break
        path.append(w)
    assert path, f"README shows an unknown command: {line}"
    help_text = CliRunner().invoke(app, [*path, "--help"], terminal_width=200).output
    for opt in (a.split("=", 1)[0] for a in argv if a.startswith("--")):
        assert opt in help_text, f"{line}: option {opt} not in `banron {' '.join(path)} --help`"


def test_make_targets_in_readme_exist_and_ci_runs_the_readme_test_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\S+)", "\n".join(_shell_lines(README)), re.MULTILINE):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.MULTILINE)
    assert "make test " in README or "make test\n" in README


def test_env_settings_in_readme_exist() -> None:
    from banron.config import Settings

    fields = Settings().model_dump()
    for var in re.findall(r"BANRON_([A-Z_]+)=", README):
        node = fields
        for part in var.lower().split("__"):
            assert part in node, f"README names BANRON_{var}, which is not a setting"
            node = node[part]
