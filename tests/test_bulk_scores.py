"""Issue 15, bulk scores: POST /api/v1/scores and POST /api/v1/requests/metadata on both databases
(the same semantics as the one-request routes: re-scoring replaces, updates for logs not arrived
wait for them, comments and values redacted), per-entry errors, limits, and running totals that
stay exact under parallel bulk calls."""

from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from promptyard.domain import query
from promptyard.services import experiments, log_stats, request_annotations, request_ingest, versions
from tests.support import ingest, log

PHONE = "090-4821-7736"


def scores_of(api, ref: str) -> dict:  # noqa: ANN001
    return {s["name"]: s for s in api.get(f"/api/v1/requests/{ref}").json()["scores"]}


def assert_totals_exact(api, prompt: str) -> None:  # noqa: ANN001
    """The running totals (no filter) equal the statistics recounted from the stored scores."""
    totals = api.get("/api/v1/requests/stats", params={"prompt": prompt}).json()["items"]
    recount = api.get("/api/v1/requests/stats", params={"prompt": prompt, "filter": 'status = "ok"'}).json()["items"]
    assert totals and len(totals) == len(recount)
    for t, e in zip(totals, recount):
        assert t["scores"].keys() == e["scores"].keys()
        for name in t["scores"]:
            assert t["scores"][name]["n"] == e["scores"][name]["n"]
            assert abs(t["scores"][name]["mean"] - e["scores"][name]["mean"]) < 1e-9


def test_bulk_scores_store_replace_wait_and_report_by_index(api):
    prompt = f"bulk-{uuid.uuid4().hex[:6]}"
    api.post("/api/v1/publish", json={"name": prompt, "commit_message": "c", "messages": [
        {"role": "user", "content": "hi"}]})
    a = log(prompt={"name": prompt, "version": 1}, scores=[{"name": "正確さ", "value": 10}])
    b = log(prompt={"name": prompt, "version": 1})
    later = log(prompt={"name": prompt, "version": 1})
    ingest(api, a, b)
    number_b = api.get(f"/api/v1/requests/{b['id']}").json()["number"]
    r = api.post("/api/v1/scores", json={"scores": [
        {"request": a["id"], "name": "正確さ", "value": 70, "comment": "二回目", "source": "human"},  # replaces 10
        {"request": number_b, "name": "helpful", "value": 50},  # by number (a JSON number)
        {"request": str(number_b), "name": "helpful", "value": 55},  # the same, later: wins
        {"request": later["id"], "name": "helpful", "value": 90},  # not arrived: waits for its log
        {"request": a["id"], "name": "helpful", "value": 101},  # refused
        {"request": "123456789012", "name": "x", "value": 1},  # a number no request has
        {"request": {"id": 1}, "name": "x", "value": 1},
        "not an object",
        {"request": b["id"], "value": 40}]})  # name: "default", as on the one-request route
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["pending"]) == (4, 1)
    assert [(e["index"], e["field"]) for e in out["errors"]] == [
        (4, "scores[4].value"), (5, "scores[5].request"), (6, "scores[6].request"), (7, "scores[7]")]
    assert "0 to 100" in out["errors"][0]["message"] and "123456789012" in out["errors"][1]["message"]
    got = scores_of(api, a["id"])
    assert set(got) == {"正確さ"}
    assert (got["正確さ"]["value"], got["正確さ"]["comment"], got["正確さ"]["source"]) == (70, "二回目", "human")
    assert got["正確さ"]["updated_at"] >= got["正確さ"]["created_at"]
    assert {n: s["value"] for n, s in scores_of(api, b["id"]).items()} == {"helpful": 55, "default": 40}
    ingest(api, later)
    assert scores_of(api, later["id"])["helpful"]["value"] == 90
    assert_totals_exact(api, prompt)


def test_nothing_usable_is_a_422_and_bad_bodies_are_clear_4xx(api):
    rid = ingest(api, log())["ids"][0]
    for body in (None, [], {}, {"scores": []}, {"scores": "x"}, {"scores": {"request": rid}}, "scores"):
        r = api.post("/api/v1/scores", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input", (body, r.text)
    r = api.post("/api/v1/scores", json={"scores": [{"request": rid, "name": "x", "value": 1}] * 1001})
    assert r.status_code == 422 and "at most 1000" in r.json()["error"]["message"]
    r = api.post("/api/v1/scores", json={"scores": [{"request": rid, "name": "x", "value": "high"},
                                                    {"request": "", "name": "x", "value": 1}]})
    assert r.status_code == 422 and [e["index"] for e in r.json()["errors"]] == [0, 1]
    assert scores_of(api, rid) == {}  # nothing of a refused call is stored
    r = api.post("/api/v1/requests/metadata", json={"updates": [{"request": rid}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "updates[0].metadata"
    answer = api.get("/api/v1/requests/metadata")  # POST only, not a request named "metadata"
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"


def test_bulk_metadata_overwrites_adds_and_waits(api):
    one, two, later = log(), log(), log()
    ingest(api, one, two)
    r = api.post("/api/v1/requests/metadata", json={"updates": [
        {"request": one["id"], "metadata": {"env": "staging", "reviewer": "薬剤師A"}},
        {"request": two["id"], "metadata": {"n": 3, "ok": True}},
        {"request": one["id"], "metadata": {"reviewer": "薬剤師B"}},  # later in the call: wins
        {"request": later["id"], "metadata": {"batch": "夜間"}},
        {"request": two["id"], "metadata": {"nested": {"a": 1}}}]})
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["pending"]) == (3, 1)
    assert r.json()["errors"][0]["field"] == "updates[4].metadata.nested"
    assert api.get(f"/api/v1/requests/{one['id']}").json()["metadata"] == {
        "env": "staging", "role": "staff", "user_id": "7", "reviewer": "薬剤師B"}
    assert api.get(f"/api/v1/requests/{two['id']}").json()["metadata"] == {
        "env": "prod", "role": "staff", "user_id": "7", "n": "3", "ok": "true"}
    ingest(api, later)
    assert api.get(f"/api/v1/requests/{later['id']}").json()["metadata"]["batch"] == "夜間"
    found = api.get("/api/v1/requests", params={"filter": 'metadata.reviewer = "薬剤師B"'}).json()["items"]
    assert [i["id"] for i in found] == [one["id"]]


def test_comments_and_values_are_redacted_before_storage_also_when_pending(api):
    stored, later = log(), log()
    ingest(api, stored)
    r = api.post("/api/v1/scores", json={"scores": [
        {"request": stored["id"], "name": "q", "value": 1, "comment": f"折り返し {PHONE}"},
        {"request": later["id"], "name": "q", "value": 2, "comment": f"電話 {PHONE}"}]})
    m = api.post("/api/v1/requests/metadata", json={"updates": [{"request": stored["id"],
                                                                 "metadata": {"callback": PHONE}}]})
    assert r.status_code == m.status_code == 200 and r.json()["pending"] == 1
    ingest(api, later)
    assert scores_of(api, stored["id"])["q"]["comment"] == "折り返し [電話番号]"
    assert scores_of(api, later["id"])["q"]["comment"] == "電話 [電話番号]"
    got = api.get(f"/api/v1/requests/{stored['id']}").json()
    assert got["metadata"]["callback"] == "[電話番号]" and got["redacted"]["phone"] == 2
    assert api.get(f"/api/v1/requests/{later['id']}").json()["redacted"] == {"phone": 1}


def test_parallel_bulk_calls_keep_running_totals_exact(database, principal):
    """12 writers send bulk scores for overlapping requests at once, each in its own order (lock
    order must not depend on it), with replays and re-scores, while more logs arrive and their
    scores wait for them: no deadlock, nothing lost, and the running totals per version and the
    experiment's per-unit sums equal the statistics recounted from the stored scores."""
    with database.write() as s:
        for i in range(2):
            spec = {"messages": [{"role": "user", "content": f"variant {i} {{x}}"}], "commit_message": "c"}
            pid = versions.publish_by_name(s, principal, name="bulk-busy", spec=spec)[0].prompt_id
        experiments.set_policy(s, principal, pid, "production", reason="two-way", policy={
            "sticky_key": "user", "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]})
    ids = [str(uuid.uuid4()) for _ in range(200)]
    now = time.time()  # within the experiment, which started just now

    def log_of(i: int) -> dict:
        return log(id=ids[i], prompt={"name": "bulk-busy", "version": 1 + i % 2}, start_time=now, end_time=now + 1,
                   routing={"label": "production", "rule": "split", "unit": f"u{i % 20}"})

    with database.write() as s:
        request_ingest.ingest(s, principal, [log_of(i) for i in range(100)], max_batch=1000)

    def writer(w: int) -> None:
        rng = random.Random(w)
        for round_ in range(4):
            picked = rng.sample(range(200), 60)  # half not ingested yet, at first
            entries = [{"request": ids[i], "name": rng.choice(["q", "r"]), "value": rng.randrange(101)}
                       for i in picked]
            with database.write() as s:
                request_annotations.annotate_many(s, principal, request_annotations.SCORE_BATCH,
                                                  {"scores": entries}, grace_s=600, max_items=1000)
            if w % 4 == round_:
                with database.write() as s:  # more logs arrive (replays included), taking up what waited
                    request_ingest.ingest(s, principal, [log_of(i) for i in range(100 + w * 8, 140 + w * 8)
                                                         if i < 200], max_batch=1000)

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(writer, range(12)))
    with database.write() as s:
        request_ingest.ingest(s, principal, [log_of(i) for i in range(200)], max_batch=1000)
        request_annotations.apply_late_pending(s, grace_s=600)
    with database.read() as s:
        totals = log_stats.per_version(s, principal, prompt="bulk-busy")
        exact = log_stats.per_version(s, principal, prompt="bulk-busy", node=query.parse('status = "ok"'))
        arms = experiments.view(s, principal, pid, "production")["rules"][0]["arms"]
    assert sum(t["count"] for t in totals) == 200
    assert sum(e["scores"]["q"]["n"] + e["scores"]["r"]["n"] for e in exact) > 150
    for t, e in zip(totals, exact, strict=True):
        assert t["version"] == e["version"] and t["scores"].keys() == e["scores"].keys()
        for name in e["scores"]:
            assert t["scores"][name]["n"] == e["scores"][name]["n"]
            assert abs(t["scores"][name]["mean"] - e["scores"][name]["mean"]) < 1e-9
    for arm, e in zip(arms, exact, strict=True):
        assert (arm["version"], arm["requests"]) == (e["version"], e["count"])
        for name in e["scores"]:
            assert arm["scores"][name]["n"] == e["scores"][name]["n"]
            assert abs(arm["scores"][name]["mean"] - e["scores"][name]["mean"]) < 1e-9
