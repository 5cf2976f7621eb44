"""Evaluation runs in a real `promptyard serve`: the server's own background workers, a server killed in the
middle of a run and started again (every item done exactly once), the CLI's `evals run --wait` and
`evals compare`, and the SDK's `client.evals`."""

from __future__ import annotations

import time
import uuid

import pytest

from promptyard import Promptyard
from tests.servers import start_server
from tests.support import cli, publish

pytestmark = pytest.mark.one_database


def _answer(r):  # noqa: ANN001, ANN202
    assert r.status_code < 300, r.text
    return r.json()


def _seed(http, fake_llm, n: int) -> tuple[int, str, str, str]:  # noqa: ANN001
    conn = _answer(http.post("/api/v1/providers", json={
        "name": f"fake-{uuid.uuid4().hex[:6]}", "kind": "openai", "base_url": fake_llm.openai_base_url,
        "default_model": "gpt-4o-mini", "secret": "sk-test"}))
    data = _answer(http.post("/api/v1/datasets", json={"name": f"回帰-{uuid.uuid4().hex[:6]}"}))
    _answer(http.post(f"/api/v1/datasets/{data['id']}/items", json={
        "items": [{"input": {"question": f"質問{i}"}, "expected": f"echo: 質問{i}"} for i in range(n)]}))
    name = f"evals/{uuid.uuid4().hex[:6]}"
    publish(http, name, "{question}", role="user")
    publish(http, name, "先に: {question}", role="user", commit="second")
    return data["id"], data["name"], conn["name"], name


def _wait(http, run_id: int, timeout_s: float = 60) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _answer(http.get(f"/api/v1/evaluations/{run_id}/progress"))
        if state["status"] in ("done", "failed", "cancelled"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {state}")


def test_a_killed_server_resumes_its_run_and_the_cli_and_sdk_drive_runs(tmp_path, fake_llm):
    env = {"PROMPTYARD_EVAL_LEASE_MARGIN_S": "0", "PROMPTYARD_EVAL_POLL_S": "0.1"}
    server = start_server(tmp_path / "data", env=env)
    try:
        data, data_name, conn_name, name = _seed(server.http, fake_llm, 12)
        conn = next(c["id"] for c in _answer(server.http.get("/api/v1/providers"))["items"] if c["name"] == conn_name)
        run = _answer(server.http.post("/api/v1/evaluations", json={
            "dataset": data, "provider": conn, "variants": [{"prompt": name, "version": 1}], "model": "slow-400",
            "concurrency": 2, "timeout_s": 2, "scorers": [{"type": "exact_match"}]}))
        deadline = time.monotonic() + 30
        while _answer(server.http.get(f"/api/v1/evaluations/{run['id']}/progress"))["progress"]["done"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = _answer(server.http.get(f"/api/v1/evaluations/{run['id']}/items", params={"status": "done"}))
        server.process.kill()  # no shutdown: the items in flight are simply lost
        server.process.wait(10)
    except BaseException:
        server.stop()
        raise
    server.http.close()
    again = start_server(tmp_path / "data", env=env)
    again.api_key = server.api_key
    try:
        http = again.http
        assert _wait(http, run["id"])["status"] == "done"
        items = _answer(http.get(f"/api/v1/evaluations/{run['id']}/items", params={"limit": 100}))["items"]
        assert len(items) == 12 and all(i["status"] == "done" for i in items)
        assert len({i["request"] for i in items}) == 12  # one log per item
        kept = {i["id"]: i["request"] for i in before["items"]}
        assert all(kept[i["id"]] == i["request"] for i in items if i["id"] in kept)
        assert all(i["scores"]["exact_match"] == 100.0 for i in items)
        logs = _answer(http.post("/api/v1/requests/search", json={
            "filter": f'metadata."promptyard.eval_run" = "{run["id"]}"', "limit": 100}))
        assert len(logs["items"]) == 12

        cli_env = again.client_env
        done = cli("evals", "run", "--dataset", data_name, "--provider", conn_name, "--prompt", f"{name}@1",
                   "--prompt", f"{name}@2", "--scorer", "exact_match", "--wait", "--poll", "0.1", env=cli_env)
        assert done.returncode == 0, done.stderr
        assert "done; 24 done, 0 failed of 24" in done.stdout
        run_id = int(done.stderr.split()[1])
        pid = _answer(http.get(f"/api/v1/evaluations/{run_id}"))["variants"][0]["prompt_id"]
        compared = cli("evals", "compare", str(run_id), str(run_id), "--base-variant", f"{pid}:v1",
                       "--candidate-variant", f"{pid}:v2", env=cli_env)
        assert compared.returncode == 0, compared.stderr
        assert "exact_match: -100.0" in compared.stdout and "先に: 質問" in compared.stdout

        with Promptyard(base_url=again.url, api_key=again.api_key) as client:
            queued = client.evals.run(dataset=data, provider=conn, variants=[{"prompt": name, "version": 2}],
                                      scorers=[{"type": "contains", "value": "先に"}])
            finished = client.evals.wait(queued["id"], timeout_s=60, poll_s=0.1)
            assert finished["status"] == "done" and finished["progress"]["done"] == 12
            assert {i["scores"]["contains"] for i in client.evals.items(queued["id"])} == {100.0}
    finally:
        again.stop()
