"""`promptyard --version`, the examples in `--help` (each one parses with the real parser) and the note
on which commands need the server extra."""

from __future__ import annotations

import re
import shlex
from importlib.metadata import version

import pytest

from promptyard.cli import build_parser
from promptyard.cli_help import EXAMPLES, SERVER_COMMANDS
from tests.support import cli

pytestmark = pytest.mark.one_database


def test_version_names_the_installed_package():
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"promptyard {version('promptyard')}"


@pytest.mark.parametrize("command", [c for c in EXAMPLES if c != "promptyard"])
def test_each_main_command_help_has_examples_and_says_what_it_needs(command):
    out = cli(command, "--help")
    assert out.returncode == 0 and "examples:" in out.stdout, out.stderr
    needs = "pip install 'promptyard[server]'" if command in SERVER_COMMANDS else "only `pip install promptyard`"
    assert needs in out.stdout


def test_main_help_lists_the_server_commands():
    out = cli("--help").stdout
    assert "examples:" in out and "need the server\nextra: pip install 'promptyard[server]'" in out
    for command in SERVER_COMMANDS:
        assert re.search(rf"^\s+{command}\s.*\[server\]$", out, re.M), command


def _example_commands() -> list[list[str]]:
    """Every `promptyard ...` line of the examples, without the comment after two spaces, leading
    VAR=value assignments and a redirection."""
    found = []
    for text in EXAMPLES.values():
        for line in text.splitlines():
            if not line.startswith("  "):  # an example is indented; prose is not
                continue
            words = shlex.split(re.split(r"\s{2,}", line.strip())[0])
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if ">" in words:  # the shell's redirection is not the command's
                words = words[:words.index(">")]
            if words[:1] == ["promptyard"]:
                found.append(words[1:])
    return found


def test_every_example_parses():
    commands = _example_commands()
    assert len(commands) >= 25
    for argv in commands:
        args = build_parser().parse_args(argv)  # argparse exits (fails the test) on a wrong example
        assert argv == [] or args.cmd == argv[0]
