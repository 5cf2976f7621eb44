"""Helpers the erasure and retention tests share: logs stamped now (retention counts age from
them), a canary no detector redacts, workspaces, and where a canary could hide on disk."""

from __future__ import annotations

import random
import string
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import select

from promptyard.services import audit, keys, request_ingest
from promptyard.store.models import Request
from promptyard.store.types import utcnow


def canary() -> str:
    """Text no redaction detector touches (no digit runs, no honorific): カナリア + random letters."""
    return "カナリア" + "".join(random.choices(string.ascii_letters, k=24))


def log(**kw):  # noqa: ANN003, ANN201
    base = {"id": str(uuid.uuid4()), "model": "gpt-4o", "input": {"messages": [{"role": "user", "content": "用量は?"}]},
            "output": {"text": "1日2回です。"}, "start_time": utcnow().isoformat(), "latency_ms": 900,
            "usage": {"input_tokens": 100, "output_tokens": 50}, "tags": ["beta"], "metadata": {"env": "prod"}}
    return base | kw


def ingest(database, p, logs):  # noqa: ANN001, ANN201
    with database.write() as s:
        result = request_ingest.ingest(s, p, logs, max_batch=100_000)
    assert not result["errors"], result["errors"][:3]


def workspace(database):  # noqa: ANN001, ANN201
    with database.write() as s:
        ws_id, _ = keys.ensure_workspace(s, f"ws-{uuid.uuid4().hex[:10]}")
    return keys.system_principal(ws_id, actor="admin@example.com")


def ids_in(database, p):  # noqa: ANN001, ANN201
    with database.read() as s:
        return set(s.scalars(select(Request.client_id).where(Request.workspace_id == p.workspace_id)))


def events(database, p, action):  # noqa: ANN001, ANN201
    with database.read() as s:
        return [e for e in audit.list_events(s, p) if e.action == action]


def canary_log(mark: str) -> dict:
    return log(input={"messages": [{"role": "user", "content": f"患者の相談: {mark} の件で薬について"}]},
               output={"text": f"{mark} 了解しました"}, metadata={"patient_id": mark, "note": mark},
               tags=[mark[:40]], scores=[{"name": "q", "value": 50, "comment": mark}])


def sqlite_files(database) -> list[Path]:  # noqa: ANN001
    path = Path(database.engine.url.database)
    return [path, path.with_name(path.name + "-wal")]


def in_files(files: list[Path], needle: bytes) -> list[str]:
    """The names of the files that hold `needle`, read by another process: closing a file of the
    database in this one would drop every lock this process's SQLite connections hold on it (POSIX
    locks are the process's), and another process closing the database last would then delete the
    WAL under them (a later test on the shared database read stale pages: "file is not a database")."""
    code = "import sys; print(bytes.fromhex(sys.argv[1]) in open(sys.argv[2], 'rb').read())"
    return [f.name for f in files if f.exists() and subprocess.run(
        [sys.executable, "-c", code, needle.hex(), str(f)], capture_output=True, text=True,
        check=True).stdout.strip() == "True"]
