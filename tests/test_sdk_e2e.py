"""Our SDK against a real `promptyard serve`: logs, scores and metadata arrive; wrapped provider
calls are linked to the served version; and the whole experiment loop (split + staff segment,
scores, statistics, promotion) works as a user would run it."""

from __future__ import annotations

import random
import time

import openai
import pytest

from promptyard import Promptyard, wrap
from tests.support import publish

pytestmark = pytest.mark.one_database  # the storage is not the subject: SQLite only


def wait_for(live, rid: str, timeout: float = 10.0) -> dict:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = live.http.get(f"/api/v1/requests/{rid}")
        if r.status_code == 200:
            return r.json()
        time.sleep(0.05)
    raise AssertionError(f"request {rid} never arrived")


def test_sdk_logs_scores_and_metadata_reach_the_server(live):
    py = Promptyard(live.url, live.api_key, flush_interval=0.05)
    try:
        rid = py.log(provider="openai", model="gpt-4o", input={"messages": [{"role": "user", "content": "用量?"}]},
                     output={"text": "1日2回"}, usage={"input_tokens": 10, "output_tokens": 5}, tags=["beta"],
                     metadata={"env": "prod"})
        py.score(rid, "medically_correct", 80)
        py.metadata(rid, {"reviewer": "ph-1"})
        assert py.flush(10)
        got = wait_for(live, rid)
        assert got["metadata"] == {"env": "prod", "reviewer": "ph-1"} and got["tags"] == ["beta"]
        assert [(s["name"], s["value"]) for s in got["scores"]] == [("medically_correct", 80)]
        assert py.stats()["dropped"] == 0
    finally:
        py.shutdown(5)


def test_wrapped_call_is_linked_to_the_served_version(live, fake_llm):
    publish(live.http, "e2e/linked", "Answer briefly: {question}", labels=["staging"])
    py = Promptyard(live.url, live.api_key, flush_interval=0.05)
    try:
        client = wrap(openai.OpenAI(base_url=fake_llm.openai_base_url, api_key="x", max_retries=0), py)
        prompt = py.get("e2e/linked", label="staging", variables={"question": "副作用は?"})
        resp = client.chat.completions.create(model="gpt-4o-mini", **prompt.openai_kwargs(), tags=["wrapped"])
        assert py.flush(10)
        got = wait_for(live, resp.promptyard_request_id)
        assert (got["prompt"], got["version"], got["label"]) == ("e2e/linked", 1, "staging")
        assert got["input_variables"] == {"question": "副作用は?"} and got["tags"] == ["wrapped"]
        assert "副作用は?" in str(got["input"]) and got["total_tokens"] > 0
    finally:
        py.shutdown(5)


def test_experiment_end_to_end(live):
    for i in (1, 2, 3, 4):
        publish(live.http, "e2e/reply", f"reply version {i}: {{question}}")
    pid = live.http.get("/api/v1/prompts/by-name/e2e%2Freply").json()["id"]
    policy = {"sticky_key": "user_id", "split": [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}],
              "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}],
                            "version": 4}]}
    r = live.http.put(f"/api/v1/prompts/{pid}/labels/production",
              json={"version": 3, "policy": policy, "reason": "try v4 on 10% and staff",
                    "experiment": {"primary_metric": "medically_correct", "hypothesis": "v4 answers more accurately"}})
    assert r.status_code == 200, r.text
    py = Promptyard(live.url, live.api_key, flush_interval=0.05, batch_size=500)
    rng = random.Random(3)
    served = {3: 0, 4: 0}
    try:
        for i in range(600):
            meta = {"user_id": f"u{i}", "role": "staff" if i % 10 == 0 else "customer"}
            prompt = py.get("e2e/reply", label="production", metadata=meta, variables={"question": "q"})
            version = prompt.version
            served[version] += 1
            rid = py.log(provider="openai", model="gpt-4o", prompt=prompt, metadata=meta, output={"text": "a"})
            py.score(rid, "medically_correct", min(100.0, max(0.0, rng.gauss(80 if version == 4 else 70, 8))))
        assert py.flush(30)
    finally:
        py.shutdown(5)
    assert 100 < served[4] < 200  # 60 staff + ~10% of the other 540
    deadline = time.time() + 15
    while time.time() < deadline:
        view = live.http.get(f"/api/v1/prompts/{pid}/labels/production/experiment").json()
        if sum(a["requests"] for rule in view["rules"] for a in rule["arms"]) == 600:
            break
        time.sleep(0.2)
    rules = {(a["version"], r["rule"]) for r in view["rules"] for a in r["arms"] if a["requests"]}
    assert rules == {(3, "split"), (4, "split"), (4, "segment:staff")}
    c = next(c for c in view["comparisons"] if c["metric"] == "medically_correct")
    # Staff (always v4) are not in the comparison: only the randomised split is.
    assert (c["baseline"], c["candidate"], c["verdict"], c["primary"], c["strata"]) == (3, 4, "better", True, ["split"])
    assert 7 < c["diff"] < 13 and c["ci_low"] > 0 and c["p"] < 0.001 and view["winner"] == 4
    assert c["text"].startswith("v4 is better on medically_correct by ")
    r = live.http.post(f"/api/v1/prompts/{pid}/labels/production/promote", json={"reason": c["text"]})
    assert r.status_code == 200 and r.json()["version"] == 4 and r.json()["policy"] is None  # the winner
    (done,) = live.http.get(f"/api/v1/prompts/{pid}/labels/production/experiments").json()["items"]
    assert (done["state"], done["outcome"]["kind"], done["outcome"]["version"]) == ("ended", "promoted", 4)
    frozen = live.http.get(f"/api/v1/experiments/{done['id']}").json()
    assert frozen["frozen"] and frozen["comparisons"] == view["comparisons"]
    fresh = Promptyard(live.url, live.api_key)
    try:
        got = {fresh.get("e2e/reply", label="production", metadata={"user_id": f"n{i}"}).version
               for i in range(20)}
    finally:
        fresh.shutdown(5)
    assert got == {4}
    history = live.http.get(f"/api/v1/prompts/{pid}/label-history", params={"label": "production"}).json()
    assert history["items"][0]["reason"] == c["text"] and history["items"][0]["to_version"] == 4
