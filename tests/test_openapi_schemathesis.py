"""The OpenAPI tells the truth: `schemathesis run --checks all` against a real `promptyard serve`
(on SQLite and on PostgreSQL) finds no failure - every status a route answers is documented,
requests the schema allows are accepted (see schemathesis.toml for the operations whose rules JSON
Schema cannot state), requests it forbids are refused, 405s carry Allow, answers match their
schemas. Bounded and seeded, so it is repeatable and takes about a minute per database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

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


def test_schemathesis_all_checks_find_nothing(database, principal, tmp_path):  # noqa: ANN001
    _seed(database, principal)
    key = make_key(database, principal)
    server = start_server(tmp_path, database_url=database.engine.url.render_as_string(hide_password=False))
    try:
        assert httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        run = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{server.url}/api/v1/openapi.json", "--checks", "all",
             "-H", f"Authorization: Bearer {key}", "--max-examples", str(EXAMPLES), "--seed", "1",
             "--generation-deterministic", "--no-color", "--config-file", str(ROOT / "schemathesis.toml")],
            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    finally:
        server.stop()
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-12000:]
    assert "No issues found" in report or " passed" in report, report[-3000:]
