"""Long CLI work shows a progress bar (rows, rows a second, ETA) on standard error when that is a
terminal (a real pty here), and prints nothing there when it is not."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import pytest

from promptyard.cli_exports import ExportRows
from tests.support import cli, ingest, log, unique

pytestmark = pytest.mark.one_database

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """`promptyard ARGS` with its standard error on a pseudo-terminal; its exit code and what it drew."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave,
                            env=dict(os.environ, TERM="xterm-256color", COLUMNS="160", **env))
    os.close(slave)
    drawn, deadline = [], time.time() + 60
    while time.time() < deadline:
        if select.select([master], [], [], 1)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process closed its end of the terminal
                break
            if not data:
                break
            drawn.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(10), ANSI.sub("", b"".join(drawn).decode("utf-8", "replace")).replace("\r", "\n")


def test_export_shows_rows_rate_and_eta_on_a_terminal_and_nothing_when_piped(live, tmp_path):
    batch = unique("bar")
    ingest(live.http, *[log(metadata={"batch": batch}, output={"text": f"一行目 {i}\n二行目, \"引用\"\n"})
                        for i in range(120)])
    env, flt = live.client_env, f'metadata.batch = "{batch}"'
    for fmt in ("csv", "jsonl"):
        code, drawn = on_a_terminal("requests", "export", "--filter", flt, "--format", fmt,
                                    "-o", str(tmp_path / f"out.{fmt}"), env=env)
        assert code == 0, drawn
        assert re.search(r"export .*120/120 rows [\d,]+ rows/s ETA", drawn), drawn
    piped = cli("requests", "export", "--filter", flt, "--format", "csv", "-o", str(tmp_path / "p.csv"), env=env)
    assert piped.returncode == 0 and piped.stderr == ""
    code, drawn = on_a_terminal("privacy", "erase", "--filter", flt, "--yes", env=env)
    assert code == 0 and re.search(r"erase .*120/120 rows", drawn), drawn


def test_db_redact_shows_logs_done_on_a_terminal(live):
    ingest(live.http, log(output={"text": "電話 090-1234-5678"}))
    code, drawn = on_a_terminal("db", "redact", "--dry-run", "--data-dir", str(live.data_dir), env={})
    assert code == 0 and re.search(r"redact .*\d+/\? logs", drawn), drawn
    quiet = cli("db", "redact", "--dry-run", "--data-dir", str(live.data_dir))
    assert quiet.returncode == 0 and quiet.stderr == "" and "logs would be redacted" in quiet.stdout


def test_csv_rows_are_counted_across_chunks_with_line_breaks_in_cells():
    rows = ExportRows("csv")
    text = b'id,output_text\r\n1,"a\r\nb ""q"""\r\n2,plain\r\n3,"x\r\n'
    assert sum(rows.count(text[i:i + 3]) for i in range(0, len(text), 3)) == 2
    assert rows.count(b'y"\r\n') == 1
    assert ExportRows("jsonl").count(b'{"a": "x\\ny"}\n{}\n') == 2


def test_dataset_upload_and_export_show_a_bar_on_a_terminal(live, tmp_path):
    env, name = live.client_env, unique("進捗")
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(f'{{"input": {{"q": "質問{i}"}}}}\n' for i in range(300)), encoding="utf-8")
    code, drawn = on_a_terminal("datasets", "upload", name, str(src), "--create", env=env)
    size = src.stat().st_size
    assert code == 0 and re.search(rf"upload .*{size}/{size} bytes", drawn), drawn
    code, drawn = on_a_terminal("datasets", "export", name, "-o", str(tmp_path / "out.jsonl"), env=env)
    assert code == 0 and re.search(r"export .*300/300 items", drawn), drawn
