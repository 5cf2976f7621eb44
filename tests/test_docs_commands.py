"""The shell commands in README.md, docs/*.md and clients/js/README.md stay true: every `promptyard ...`
command in a shell block (and in its `# or: ...` comment) parses with the real CLI, and they are run for
real, in the order the docs give them, against a live server with the data they speak of (the prompt
服薬指導/返信案 with versions 1-4, production on v3; the policy JSON of docs/experiments.md)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from promptyard.cli import build_parser
from tests.support import cli, ours, publish

pytestmark = pytest.mark.one_database

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "clients" / "js" / "README.md"]
SEPARATORS = {"&&", "||", ";", "|", "&"}
COMMAND = re.compile(r"\s*(?:[A-Z_]+=\S*\s+)*(?:\S*/)?promptyard\s")
# What a documented command answers here when it is not 0, and why.
EXPECTED = {
    ("experiments", "declare"): (1, "no experiment"),  # `42` stands for an id from `experiments list`
    ("users", "create"): (2, "no terminal to ask for the password on"),  # asks on a terminal; tests have none
}
# The docs show these side by side, not one after the other: what puts the server back afterwards.
UNDO = {("privacy", "redaction", "--disable"): ["privacy", "redaction", "--enable"]}
NOT_RUN = {"serve"}  # runs until stopped: test_cli.py starts it with the documented flags


def shell_lines() -> list[tuple[str, str]]:
    """(file, line) of every shell code block, continuation lines joined; a `# or: CMD` comment is a line too."""
    found = []
    for path in FILES:
        for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                found.append((path.name, line))
                alternative = re.search(r"#\s*or:\s*(.+)$", line)
                if alternative:
                    found.append((path.name, alternative.group(1)))
    return found


def documented_commands() -> list[tuple[str, list[str]]]:
    """(file, argv after `promptyard`) for each line that runs promptyard, in the docs' order: VAR=value
    prefixes, redirections and what follows `&&`, `;`, `|`, `&` dropped."""
    commands = []
    for name, line in shell_lines():
        if not COMMAND.match(line):  # other programs' lines (curl bodies span lines: not shell words alone)
            continue
        words = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        words.whitespace_split, words.commenters = True, "#"
        segment: list[str] = []
        for word in [*words, ";"]:
            if word not in SEPARATORS:
                segment.append(word)
                continue
            while segment and re.fullmatch(r"[A-Z_]+=\S*", segment[0]):
                segment.pop(0)
            if ">" in segment:
                segment = segment[:segment.index(">")]
            if segment and Path(segment[0]).name == "promptyard":
                commands.append((name, segment[1:]))
            segment = []
    return commands


def test_every_documented_command_parses():
    commands = documented_commands()
    assert len(commands) >= 25, commands
    for name, argv in commands:
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{name}: `promptyard {shlex.join(argv)}` does not parse")


def _documented_policy() -> dict:
    text = (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8")
    body = re.search(r"```json\nPUT /api/v1/prompts/\{id\}/labels/production\n(.*?)```", text, re.S).group(1)
    return json.loads(body)["policy"]


def _seed(live, work: Path) -> None:  # noqa: ANN001
    for i, commit in enumerate(["first", "shorter", "dosage first", "dosage first, shorter"], 1):
        publish(live.http, "服薬指導/返信案", f"v{i}: 用量を確認してから答えてください。\n{{question}}",
                commit=commit, folder="production", labels=["production"] if i == 3 else [])
    (work / "policy.json").write_text(json.dumps(_documented_policy()), encoding="utf-8")
    (work / "names.txt").write_text("山田花子\n佐藤一郎\n", encoding="utf-8")
    # docs/datasets.md: a file to upload and a low-scored log for its filter.
    (work / "questions.csv").write_text("question,patient,expected,metadata.source\n"
                                        "授乳中でも飲めますか?,30代女性,医師に相談してください。,薬局\n", encoding="utf-8")
    ours(live, "POST", "/api/v1/requests", json={"requests": [{
        "model": "gpt-4o", "prompt": {"name": "服薬指導/返信案", "variables": {"question": "飲み忘れたら?"}},
        "output": {"text": "気づいた時に飲んでください。"}, "scores": [{"name": "medically_correct", "value": 40}]}]})


def test_the_documented_commands_run(live, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _seed(live, work)
    import promptyard

    env = dict(os.environ, **live.client_env, PROMPTYARD_DATA_DIR=str(live.data_dir),
               PYTHONPATH=os.pathsep.join([str(Path(promptyard.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    env.pop("PROMPTYARD_DATABASE_URL", None)
    ran = 0
    for name, argv in documented_commands():
        if not argv or argv[0] in NOT_RUN:
            continue
        out = subprocess.run([sys.executable, "-m", "promptyard.cli", *argv], cwd=work, env=env, capture_output=True,
                             text=True, timeout=120, stdin=subprocess.DEVNULL)
        code, says = EXPECTED.get(tuple(argv[:2]), (0, ""))
        shown = f"{name}: promptyard {shlex.join(argv)} -> {out.returncode}\n{out.stdout[-1500:]}{out.stderr[-1500:]}"
        assert out.returncode == code and says in out.stderr and "Traceback" not in out.stderr, shown
        ran += 1
        if tuple(argv[:3]) in UNDO:
            assert cli(*UNDO[tuple(argv[:3])], env=live.client_env).returncode == 0
    assert ran >= 15  # a guard against an extraction that finds nothing
    assert (work / "prompts" / "服薬指導" / "返信案.yaml").exists() and (work / "low.csv").exists()
    assert (work / "for-excel.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert "授乳中でも飲めますか?" in (work / "regression.csv").read_text(encoding="utf-8-sig")  # docs/datasets.md
    labels = ours(live, "GET", "/api/v1/prompts/by-name/%E6%9C%8D%E8%96%AC%E6%8C%87%E5%B0%8E%2F%E8%BF%94%E4%BF%A1%E6%A1%88")
    assert {lab["name"] for lab in labels["labels"]} >= {"production", "staging"}


def test_version_and_help_as_the_docs_show_them():
    assert cli("--version").stdout.startswith("promptyard ")
    for argv in (["--help"], *[[c, "--help"] for c in sorted({a[0] for _, a in documented_commands() if a})]):
        out = cli(*argv)
        assert out.returncode == 0 and "usage: promptyard" in out.stdout, (argv, out.stderr)
