"""The OpenAPI tells the truth: `schemathesis run --checks all` against a real `promptyard serve`
(on SQLite and on PostgreSQL) finds no failure - every status a route answers is documented,
requests the schema allows are accepted (see schemathesis.toml for the operations whose rules JSON
Schema cannot state), requests it forbids are refused, 405s carry Allow, answers match their
schemas. Bounded and seeded (deterministic), so it is repeatable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_key
from tests.servers import start_server

ROOT = Path(__file__).resolve().parents[1]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 5


def _seed(database, principal) -> None:  # noqa: ANN001
    """Something to find, so that valid ids and names reach the code behind them."""
    from promptyard.services import versions

    with database.write() as s:
        versions.publish_by_name(s, principal, name="fuzz", spec={
            "messages": [{"role": "user", "content": "{q}"}], "commit_message": "seed"}, labels=["staging"])


def _decoys(database) -> None:  # noqa: ANN001
    """Keys of another workspace with the smallest ids, so that the run's boundary values (key id
    1, 2, ...) for DELETE /api/v1/keys/{id} meet a 404 rather than revoking the run's own key."""
    from promptyard.services import keys

    with database.write() as s:
        ws_id, _ = keys.ensure_workspace(s, "schemathesis-decoys")
    for _ in range(3):
        make_key(database, keys.system_principal(ws_id, actor="decoy"))


@pytest.mark.slow  # schemathesis' coverage phase alone sends ~3,000 boundary requests per database
def test_schemathesis_all_checks_find_nothing(database, principal, tmp_path):  # noqa: ANN001
    _seed(database, principal)
    _decoys(database)
    key = make_key(database, principal)
    server = start_server(tmp_path, database_url=database.engine.url.render_as_string(hide_password=False))
    try:
        assert httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        run = subprocess.run(
            [str(SCHEMATHESIS), "--config-file", str(ROOT / "schemathesis.toml"), "--no-color", "run",
             f"{server.url}/api/v1/openapi.json", "--checks", "all", "-H", f"Authorization: Bearer {key}",
             "--max-examples", str(EXAMPLES), "--seed", "1", "--generation-deterministic"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    finally:
        server.stop()
    report = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(report)
    failures = report[report.find("FAILURES"):report.find("WARNINGS")] if "FAILURES" in report else report
    assert run.returncode == 0, failures[:12000]
    assert "Authentication failed" not in report, "the run's key stopped working: the run proves little"
    assert "No issues found" in report or " passed" in report, report[-3000:]
