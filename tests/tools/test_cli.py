"""The command line as a newcomer meets it: ``gatewayerrors`` (the console script) and
``python -m gatewayerrors``, each run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatewayerrors import catalog
from gatewayerrors._tools.catalog_docs import render_markdown

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).with_name("gatewayerrors")
MODULE = [sys.executable, "-m", "gatewayerrors"]
COMMANDS = ("demo", "preview", "catalog", "maintenance")
REST_MARKUP = ("``", ":class:", ":mod:", ":func:", ":meth:", "::")


def run(command: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_help_is_plain_text(command: list[str]) -> None:
    result = run([*MODULE, *command, "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m gatewayerrors {' '.join(command)}".strip())
    assert [markup for markup in REST_MARKUP if markup in result.stdout] == []


def test_the_help_lists_every_command_with_a_summary() -> None:
    result = run([*MODULE, "--help"])
    lines = result.stdout.splitlines()
    for name in COMMANDS:
        at = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
        # argparse puts the summary of a long name on the next line
        line = lines[at] if len(lines[at].split()) > 1 else f"{lines[at]} {lines[at + 1]}"
        assert len(line.split()) > 3  # the name and a summary


def test_the_console_script_names_itself() -> None:
    assert CONSOLE_SCRIPT.exists(), "install the project (pip install -e .) for its script"
    result = run([str(CONSOLE_SCRIPT), "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: gatewayerrors [-h] COMMAND")
    assert "python -m" not in result.stdout
    preview = run([str(CONSOLE_SCRIPT), "preview", "--help"])
    assert preview.stdout.startswith("usage: gatewayerrors preview ")


def test_the_module_names_itself_as_run() -> None:
    result = run([*MODULE, "--help"])
    assert result.stdout.startswith("usage: python -m gatewayerrors [-h] COMMAND")


@pytest.mark.parametrize(
    ("command", "prog"),
    [(MODULE, "python -m gatewayerrors"), ([str(CONSOLE_SCRIPT)], "gatewayerrors")],
    ids=["module", "console-script"],
)
def test_no_command_is_a_usage_error(command: list[str], prog: str) -> None:
    result = run(command)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"usage: {prog} ")
    assert lines[-1] == f"{prog}: error: missing command: choose one of {', '.join(COMMANDS)}"


def test_an_unknown_command_lists_the_commands() -> None:
    result = run([*MODULE, "bogus"])
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert "invalid choice: 'bogus'" in last
    # argparse's own wording (quotes around the choices or not) varies by Python version.
    assert all(name in last.partition("choose from")[2] for name in COMMANDS)


def test_catalog_write_says_what_it_wrote(tmp_path: Path) -> None:
    result = run([*MODULE, "catalog", "--write", "catalog.md"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote catalog.md ({len(catalog)} codes)\n"
    assert (tmp_path / "catalog.md").read_text(encoding="utf-8") == render_markdown()


def test_preview_help_shows_the_defaults() -> None:
    result = run([*MODULE, "preview", "--help"])
    assert "folder to write into (default: gatewayerrors-preview)" in result.stdout
    assert "(default: problem)" in result.stdout
    assert "(default: app)" in result.stdout


def test_demo_help_shows_the_default_port() -> None:
    result = run([*MODULE, "demo", "--help"])
    assert "(default: 8000)" in result.stdout


def test_an_unknown_style_lists_the_styles(tmp_path: Path) -> None:
    result = run([*MODULE, "preview", "--out", "out", "--style", "bogus"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "python -m gatewayerrors preview: error: argument --style: invalid choice: 'bogus' "
        "(choose from 'problem', 'twitter', or MODULE:FUNC for your own)"
    )
    assert not (tmp_path / "out").exists()


def test_a_named_style_is_accepted(tmp_path: Path) -> None:
    result = run([*MODULE, "preview", "--out", "out", "--style", "twitter"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "index.html").exists()
