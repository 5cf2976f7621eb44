"""`promptyard privacy ...` against a real server (SQLite, and PostgreSQL by URL): retention shown and
set, purge and erase previewed first, then confirmed (--yes, or refused without a terminal)."""

from __future__ import annotations

import subprocess
import uuid
from datetime import timedelta

import pytest

from promptyard.store.types import utcnow
from tests.servers import start_live
from tests.support import cli


@pytest.fixture(scope="module")
def live(tmp_path_factory, database):  # noqa: ANN001, ANN201
    """A server that never ticks: the test purges by hand, and the tick would purge first."""
    server = start_live(tmp_path_factory.mktemp("live"), database, env={"PROMPTYARD_RAMP_TICK_S": "0"})
    yield server
    server.stop()


def _log(days: float = 0, **kw) -> dict:  # noqa: ANN003
    return {"id": str(uuid.uuid4()), "model": "m", "input": "用量は?", "output": "1日2回です。",
            "start_time": (utcnow() - timedelta(days=days)).isoformat()} | kw


def test_privacy_commands(live):
    env = live.client_env
    http = live.http
    old, user_logs, kept = _log(60), [_log(metadata={"patient_id": "P-cli"}) for _ in range(2)], _log(model="keep")
    one = _log(model="one")
    assert http.post("/api/v1/requests", json={"requests": [old, *user_logs, kept, one]}).status_code == 200

    shown = cli("privacy", "retention", env=env)
    assert shown.returncode == 0 and "retention: none" in shown.stdout, shown.stderr
    refused = cli("privacy", "retention", "--days", "30", env=env)
    assert refused.returncode == 1 and "--reason" in refused.stderr
    bad = cli("privacy", "retention", "--days", "0", "--reason", "x", env=env)
    assert bad.returncode == 1 and "days" in bad.stderr
    set_ = cli("privacy", "retention", "--days", "30", "--reason", "pharmacy policy", env=env)
    assert set_.returncode == 0 and "30 days" in set_.stdout and "1 logs past it" in set_.stdout, set_.stdout

    dry = cli("privacy", "purge", "--dry-run", env=env)
    assert dry.returncode == 0 and dry.stdout.startswith("1 logs started before"), dry.stdout
    unconfirmed = cli("privacy", "purge", env=env, stdin=subprocess.DEVNULL)
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
    assert http.get(f"/api/v1/requests/{old['id']}").status_code == 200
    purged = cli("privacy", "purge", "--yes", env=env)
    assert purged.returncode == 0 and "purged 1 logs" in purged.stdout, purged.stdout + purged.stderr
    assert http.get(f"/api/v1/requests/{old['id']}").status_code == 404

    preview = cli("privacy", "erase", "--user", "patient_id=P-cli", "--dry-run", env=env)
    assert preview.returncode == 0 and preview.stdout.startswith("2 logs with metadata patient_id"), preview.stdout
    assert cli("privacy", "erase", "--user", "patient_id", "--yes", env=env).returncode == 1
    erased = cli("privacy", "erase", "--user", "patient_id=P-cli", "--yes", env=env)
    assert erased.returncode == 0 and "erased 2 logs" in erased.stdout
    assert all(http.get(f"/api/v1/requests/{x['id']}").status_code == 404 for x in user_logs)
    proof = cli("privacy", "erased", "--user", "patient_id=P-cli", env=env)
    assert proof.returncode == 0 and "2 logs erased" in proof.stdout, proof.stdout + proof.stderr
    assert "no erasure" in cli("privacy", "erased", "--user", "patient_id=P-other", env=env).stdout

    by_filter = cli("privacy", "erase", "--filter", 'model = "one"', "--yes", env=env)
    assert by_filter.returncode == 0 and "erased 1 logs" in by_filter.stdout
    syntax = cli("privacy", "erase", "--filter", "model =", "--yes", env=env)
    assert syntax.returncode == 1 and syntax.stderr.startswith("error:")

    single = cli("privacy", "erase", "--request", kept["id"], "--yes", env=env)
    assert single.returncode == 0 and f"erased request {kept['id']}" in single.stdout
    assert cli("privacy", "erase", "--request", kept["id"], "--yes", env=env).returncode == 1  # gone: not found
    forever = cli("privacy", "retention", "--keep-forever", "--reason", "legal hold", env=env)
    assert forever.returncode == 0 and "retention: none" in forever.stdout


def test_db_vacuum_full_turns_an_older_sqlite_file_to_incremental_auto_vacuum(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # as a file made before this version: auto_vacuum NONE
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE x (a)")
    url = f"sqlite:///{path}"
    assert cli("db", "upgrade", "--database-url", url).returncode == 0
    mode = sqlite3.connect(path).execute("PRAGMA auto_vacuum").fetchone()[0]
    assert mode == 0  # the server cannot change it on a file that has tables
    done = cli("db", "vacuum", "--full", "--database-url", url)
    assert done.returncode == 0 and "VACUUM (sqlite)" in done.stdout, done.stderr
    assert sqlite3.connect(path).execute("PRAGMA auto_vacuum").fetchone()[0] == 2


def test_redaction_commands(live, tmp_path):  # noqa: ANN001
    env = live.client_env
    shown = cli("privacy", "redaction", env=env)
    assert shown.returncode == 0 and "redaction: on" in shown.stdout and "phone" in shown.stdout, shown.stderr
    refused = cli("privacy", "redaction", "--off", "postal_code", env=env)
    assert refused.returncode == 1 and "reason" in refused.stderr
    changed = cli("privacy", "redaction", "--detector", "phone=mask", "--off", "postal_code", "--reason", "cli test",
                  env=env)
    assert changed.returncode == 0 and "mask" in changed.stdout, changed.stderr
    names = tmp_path / "names.txt"
    names.write_text("蒼井ミドリ\n\n西園寺 撫子\n", encoding="utf-8")
    added = cli("privacy", "terms", "--add", str(names), env=env)
    assert added.returncode == 0 and "term list: 3 entries" in added.stdout, added.stderr
    preview = cli("privacy", "preview", "担当 蒼井ミドリ 090-1234-5678 〒100-0001", env=env)
    assert preview.stdout.strip() == "担当 [氏名] ***-****-**** 〒100-0001", preview.stdout
    assert "phone 1" in preview.stderr and "term 1" in preview.stderr
    assert "term list: 0 entries" in cli("privacy", "terms", "--clear", env=env).stdout
    back = cli("privacy", "redaction", "--detector", "phone=placeholder", "--on", "postal_code", env=env)
    assert back.returncode == 0, back.stderr
