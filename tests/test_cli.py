"""The CLI and a real `promptyard serve` process (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from urllib.parse import quote

import httpx
import pytest

from tests.servers import start_server

PY = [sys.executable, "-m", "promptyard.cli"]


@pytest.fixture()
def live(tmp_path, database):  # noqa: ANN001, ANN201
    url = None if database.kind == "sqlite" else database.url
    server = start_server(tmp_path / "data", url)
    if not server.api_key:  # the shared PostgreSQL database was set up before: a key of our own
        made = cli("keys", "create", "--name", "cli-test", "--scopes", "read,write,ingest,admin",
                   "--workspace", f"cli-{uuid.uuid4().hex[:8]}",
                   "--database-url", url)
        assert made.returncode == 0, made.stderr
        server.api_key = made.stdout.strip()
    yield server
    server.stop()


def cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    import os

    return subprocess.run([*PY, *args], capture_output=True, text=True, env=dict(os.environ, **(env or {})),
                          timeout=60, **kw)


def test_serve_health_first_run_and_restart(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        out = "".join(server.output)
        assert "serving on http://127.0.0.1:" in out and server.api_key.startswith("py_sk_")
        assert server.admin_email == "admin@localhost" and len(server.admin_password) >= 10
        health = httpx.get(server.url + "/-/health").json()
        assert health["status"] == "ok" and health["database"] == "sqlite" and health["version"]
        assert (tmp_path / "data" / "promptyard.db").exists()
    finally:
        server.stop()
    again = start_server(tmp_path / "data")  # second start: nothing new shown, key still works
    try:
        assert again.api_key == "" and "Log in at" in "".join(again.output)
        r = httpx.get(again.url + "/api/v1/prompts", headers={"Authorization": f"Bearer {server.api_key}"})
        assert r.status_code == 200
    finally:
        again.stop()


def test_keys_and_users_commands(tmp_path):
    env = {"PROMPTYARD_DATA_DIR": str(tmp_path)}
    assert cli("db", "upgrade", env=env).returncode == 0
    made = cli("keys", "create", "--name", "ci", "--scopes", "read", env=env)
    assert made.returncode == 0, made.stderr
    raw = made.stdout.strip()
    assert raw.startswith("py_sk_") and "\n" not in raw
    listed = cli("keys", "list", env=env).stdout
    assert "ci" in listed and raw not in listed and "active" in listed
    key_id = listed.split("\t")[0]
    assert cli("keys", "revoke", key_id, env=env).returncode == 0
    assert "revoked" in cli("keys", "list", env=env).stdout
    bad = cli("keys", "create", "--name", "x", "--scopes", "root", env=env)
    assert bad.returncode == 1 and "scopes" in bad.stderr
    assert cli("users", "create", "--email", "ph@example.jp", "--password", "long-enough-pw", env=env).returncode == 0


def test_prompts_push_pull_roundtrip(live, tmp_path):
    env = {"PROMPTYARD_URL": live.url, "PROMPTYARD_API_KEY": live.api_key}
    src = tmp_path / "prompts"
    (src / "服薬指導").mkdir(parents=True)
    (src / "服薬指導" / "返信案.yaml").write_text(
        "folder: production\nmodel: {provider: openai, name: gpt-4o, parameters: {temperature: 0.2}}\n"
        "messages:\n  - role: system\n    content: 丁寧に答えてください。\n  - role: user\n    content: '{question}'\n",
        encoding="utf-8")
    first = cli("prompts", "push", str(src), "-m", "initial", "--label", "staging", env=env)
    assert first.returncode == 0, first.stderr
    assert "服薬指導/返信案: new version v1" in first.stdout
    again = cli("prompts", "push", str(src), "-m", "no change", env=env)
    assert "unchanged (v1)" in again.stdout
    out = tmp_path / "pulled"
    assert cli("prompts", "pull", str(out), env=env).returncode == 0
    pulled = (out / "服薬指導" / "返信案.yaml").read_text(encoding="utf-8")
    assert "丁寧に答えてください。" in pulled and "folder: production" in pulled
    listed = cli("prompts", "list", env=env).stdout
    assert "服薬指導/返信案\tv1\tproduction\tstaging=v1" in listed
    got = cli("prompts", "get", "服薬指導/返信案", "--label", "staging", env=env)
    assert '"number": 1' in got.stdout
    missing = cli("prompts", "get", "nope", env=env)
    assert missing.returncode == 1 and "no prompt named 'nope'" in missing.stderr


def test_requests_export_command(live, tmp_path):
    env = {"PROMPTYARD_URL": live.url, "PROMPTYARD_API_KEY": live.api_key}
    r = httpx.post(live.url + "/api/v1/requests", headers={"Authorization": f"Bearer {live.api_key}"},
                   json={"requests": [{"model": "m", "metadata": {"env": "prod"}, "output": {"text": "=1+1"}},
                                      {"model": "m", "metadata": {"env": "dev"}}]})
    assert r.json()["accepted"] == 2
    out = tmp_path / "prod.csv"
    done = cli("requests", "export", "--filter", 'metadata.env = "prod"', "--format", "csv", "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "prod" in lines[1]
    bad = cli("requests", "export", "--filter", "metadata.env = prod", env=env)
    assert bad.returncode == 1 and "position" in bad.stderr


def test_experiment_commands(live, tmp_path):
    """The whole experiment life cycle from the command line: policy, show, ramp, tick, stop,
    promote, rollback, clear."""
    env = {"PROMPTYARD_URL": live.url, "PROMPTYARD_API_KEY": live.api_key}
    auth = {"Authorization": f"Bearer {live.api_key}"}
    name = f"cli/exp-{uuid.uuid4().hex[:6]}"
    for text in ("v1 {q}", "v2 {q}"):
        r = httpx.post(live.url + "/api/v1/publish", headers=auth, json={
            "name": name, "messages": [{"role": "user", "content": text}], "commit_message": text,
            "labels": ["production"] if text.startswith("v1") else []})
        assert r.status_code in (200, 201), r.text
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"sticky_key": "user_id", "split": [{"version": 1, "weight": 90},
                                                                      {"version": 2, "weight": 10}],
                                  "segments": [{"name": "staff", "when": [{"key": "role", "op": "=",
                                                                           "value": "staff"}], "version": 2}]}))
    done = cli("experiments", "policy", name, "production", "--file", str(policy), "--reason", "try v2", env=env)
    assert done.returncode == 0 and "policy set" in done.stdout, done.stderr
    staff = httpx.get(live.url + f"/api/v1/fetch/{quote(name, safe='')}", headers=auth,
                      params={"label": "production", "meta.role": "staff"}).json()
    assert staff["version"]["number"] == 2
    shown = cli("experiments", "show", name, "production", env=env)
    assert shown.returncode == 0 and "v1" in shown.stdout, shown.stderr
    bad = cli("experiments", "policy", name, "production", "--file", str(policy), "--reason", " ", env=env)
    assert bad.returncode == 1 and "needs a reason" in bad.stderr
    cli("experiments", "policy", name, "production", "--clear", "--version", "1", "--reason", "plain", env=env)
    ramp = cli("experiments", "ramp", name, "production", "--candidate", "2", "--baseline", "1", "--steps", "10",
               "50", "100", "--interval", "1", "--reason", "ramp it", env=env)
    assert ramp.returncode == 0 and "running" in ramp.stdout, ramp.stderr
    ramp_id = ramp.stdout.split()[1]
    assert cli("experiments", "tick", env=env).returncode == 0
    stopped = cli("experiments", "stop-ramp", ramp_id, "--reason", "enough", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    promoted = cli("experiments", "promote", name, "production", "--version", "2", "--reason", "v2 wins", env=env)
    assert promoted.returncode == 0 and "v2" in promoted.stdout, promoted.stderr
    back = cli("experiments", "rollback", name, "production", "--reason", "oops", env=env)
    assert back.returncode == 0 and "-> v" in back.stdout, back.stderr
    history = httpx.get(live.url + f"/api/v1/prompts/by-name/{quote(name, safe='')}", headers=auth).json()
    assert history["labels"]
    missing = cli("experiments", "policy", name, "production", "--file", str(tmp_path / "nope.json"),
                  "--reason", "x", env=env)
    assert missing.returncode != 0


def test_serve_flags_win_over_the_environment(tmp_path):
    """--host, --port and --data-dir override PROMPTYARD_HOST / _PORT / _DATA_DIR."""
    import os
    import time

    from tests.servers import free_port

    port = free_port()
    env = dict(os.environ, PROMPTYARD_PORT="9", PROMPTYARD_DATA_DIR=str(tmp_path / "env"), PROMPTYARD_LOG_LEVEL="warning")
    env.pop("PROMPTYARD_DATABASE_URL", None)
    proc = subprocess.Popen([*PY, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
                             str(tmp_path / "flag")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.time() + 60, None
        while time.time() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/-/health", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health and health["status"] == "ok"
        assert (tmp_path / "flag" / "promptyard.db").exists() and not (tmp_path / "env").exists()
    finally:
        proc.terminate()
        proc.wait(10)
