"""The request log through the API on SQLite and PostgreSQL: ingest, annotate, read, search,
statistics, export."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptyard.services import redaction, request_annotations
from tests.support import CHAT, NAME, ingest, log


def test_ingest_derives_latency_cost_and_coerces_metadata(api):
    one = log(scores=[{"name": "follows_manual", "value": 80}, {"name": "medically_correct", "value": 55}])
    assert ingest(api, one)["accepted"] == 1
    got = api.get(f"/api/v1/requests/{one['id']}").json()
    assert got["latency_ms"] == 1500 and got["total_tokens"] == 1500
    assert got["cost"] == (1000 * 2.5 + 500 * 10.0) / 1e6
    assert got["metadata"] == {"env": "prod", "role": "staff", "user_id": "7"}
    assert {s["name"]: s["value"] for s in got["scores"]} == {"follows_manual": 80, "medically_correct": 55}
    assert api.get(f"/api/v1/requests/{got['number']}").json()["id"] == one["id"]


def test_own_cost_wins_and_unknown_models_have_none(api):
    a, b = log(cost=0.5), log(model="my-local-llama")
    ingest(api, a, b)
    assert api.get(f"/api/v1/requests/{a['id']}").json()["cost"] == 0.5
    assert api.get(f"/api/v1/requests/{b['id']}").json()["cost"] is None


def test_replay_stores_nothing_twice(api):
    batch = [log(), log()]
    assert ingest(api, *batch)["accepted"] == 2
    again = ingest(api, *batch, batch[0])
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert len(api.get("/api/v1/requests").json()["items"]) == 2


def test_bad_logs_reported_by_index_good_ones_stored(api):
    r = api.post("/api/v1/requests", json={"requests": [log(), {"start_time": "yesterday"},
                                                        log(metadata={"a": {"nested": 1}})]})
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 1
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "start_time"), (2, "metadata.a")]
    r = api.post("/api/v1/requests", json={"requests": [{"status": "maybe"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    assert api.post("/api/v1/requests", json={"requests": []}).status_code == 422
    too_many = api.post("/api/v1/requests", json={"requests": [log() for _ in range(1001)]})
    assert too_many.status_code in (413, 422)


def test_label_resolves_to_the_served_version(api):
    pid = api.post("/api/v1/prompts", json={"name": NAME, "version": CHAT}).json()["id"]
    api.post(f"/api/v1/prompts/{pid}/versions", json={**CHAT, "messages": [{"role": "user", "content": "v2 {q}"}]})
    api.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 1, "reason": "proven"})
    one = log(prompt={"name": NAME, "label": "production", "variables": {"question": "用量?", "patient": "P1"}})
    res = ingest(api, one, log(prompt={"name": "nope", "version": 1}))
    assert res["warnings"][0]["index"] == 1
    got = api.get(f"/api/v1/requests/{one['id']}").json()
    assert (got["prompt"], got["version"], got["label"]) == (NAME, 1, "production")
    assert got["rendered_template"]["messages"][1]["content"] == "用量? (patient: P1)"
    assert got["input_variables"] == {"question": "用量?", "patient": "P1"}
    assert [i["id"] for i in api.get("/api/v1/requests", params={"prompt": NAME, "version": 1}).json()["items"]] \
        == [one["id"]]


def test_scores_update_and_arrive_before_the_log(api):
    one = log()
    rid = one["id"]
    r = api.post(f"/api/v1/requests/{rid}/scores", json={"name": "medically_correct", "value": 40})
    assert r.json()["pending"] is True
    api.post(f"/api/v1/requests/{rid}/metadata", json={"reviewer": "薬剤師A"})
    ingest(api, one)
    got = api.get(f"/api/v1/requests/{rid}").json()
    assert got["metadata"]["reviewer"] == "薬剤師A"
    assert got["scores"][0]["value"] == 40
    api.post(f"/api/v1/requests/{rid}/scores", json={"name": "medically_correct", "value": 90, "comment": "ok",
                                                     "source": "human", "author": "ph@example.jp"})
    s = api.get(f"/api/v1/requests/{rid}").json()["scores"][0]
    assert (s["value"], s["author"], s["source"]) == (90, "ph@example.jp", "human")
    assert s["updated_at"] >= s["created_at"]
    bad = api.post(f"/api/v1/requests/{rid}/scores", json={"name": "x", "value": 101})
    assert bad.status_code == 422 and "0 to 100" in bad.json()["error"]["message"]
    api.post(f"/api/v1/requests/{rid}/tags", json={"add": ["reviewed"], "remove": ["beta"]})
    assert api.get(f"/api/v1/requests/{rid}").json()["tags"] == ["reviewed"]
    assert api.post("/api/v1/requests/123456789/scores", json={"name": "x", "value": 1}).status_code == 404


def test_three_condition_filter_and_text_search(api):
    match = log(metadata={"env": "prod", "role": "staff"}, scores=[{"name": "medically_correct", "value": 40}],
                output={"text": "用量は1日3回"})
    ingest(api, match,
           log(metadata={"env": "dev", "role": "staff"}, scores=[{"name": "medically_correct", "value": 40}]),
           log(metadata={"env": "prod", "role": "staff"}, scores=[{"name": "medically_correct", "value": 90}]),
           log(metadata={"env": "prod"}, tags=["other"], scores=[{"name": "medically_correct", "value": 10}]))
    f = ('metadata.env = "prod" AND score.medically_correct < 60 AND (tag = "beta" OR metadata.role = "staff") '
         'AND text ~ "用量"')
    items = api.get("/api/v1/requests", params={"filter": f}).json()["items"]
    assert [i["id"] for i in items] == [match["id"]]
    as_json = {"and": [{"field": "metadata.env", "op": "=", "value": "prod"},
                       {"field": "score", "key": "medically_correct", "op": "<", "value": 60},
                       {"field": "output", "op": "~", "value": "1日3回"}]}
    items = api.post("/api/v1/requests/search", json={"filter": as_json}).json()["items"]
    assert [i["id"] for i in items] == [match["id"]]
    r = api.get("/api/v1/requests", params={"filter": 'metadata.env = prod'})
    assert r.status_code == 422 and r.json()["error"]["details"]["position"] == 15


def test_keyset_paging_is_stable_under_inserts(api):
    logs = [log(start_time=f"2026-11-20T10:00:{i:02d}Z", end_time=None) for i in range(7)]
    ingest(api, *logs)
    page1 = api.get("/api/v1/requests", params={"limit": 3}).json()
    ingest(api, log(start_time="2026-11-20T11:00:00Z", end_time=None))  # newer: must not shift later pages
    page2 = api.get("/api/v1/requests", params={"limit": 3, "cursor": page1["next_cursor"]}).json()
    page3 = api.get("/api/v1/requests", params={"limit": 3, "cursor": page2["next_cursor"]}).json()
    seen = [i["id"] for p in (page1, page2, page3) for i in p["items"]]
    assert seen == [x["id"] for x in reversed(logs)] and page3["next_cursor"] is None
    assert api.get("/api/v1/requests", params={"cursor": "garbage"}).status_code == 422


def test_stats_per_version_with_confidence_intervals(api):
    api.post("/api/v1/publish", json={**CHAT, "name": "s"})
    values = [50, 60, 70, 80, 90]
    ingest(api, *[log(prompt={"name": "s", "version": 1}, status="error" if v == 50 else "ok",
                      scores=[{"name": "q", "value": v}]) for v in values])
    item = api.get("/api/v1/requests/stats", params={"prompt": "s"}).json()["items"][0]
    assert (item["version"], item["count"], item["error_rate"]) == (1, 5, 0.2)
    q = item["scores"]["q"]
    assert q["n"] == 5 and q["mean"] == 70 and round(q["ci_low"], 2) == 50.37 and round(q["ci_high"], 2) == 89.63
    assert item["latency_p50"] == pytest.approx(1500, rel=0.01)  # from the running totals' histogram


def test_stats_filtered_and_unfiltered_agree_with_numpy_percentiles(api):
    """Both ways to read statistics give the numpy percentiles (exactly with a filter, within 1%
    from the running totals without); late scores count for the version of their request."""
    import numpy as np

    api.post("/api/v1/publish", json={**CHAT, "name": "pct"})
    api.post("/api/v1/publish", json={**CHAT, "name": "pct", "messages": [{"role": "user", "content": "v2"}]})
    latencies = {1: [120, 80, 300, 95, 101, 2000, 130], 2: [50, 70]}
    logs = [log(prompt={"name": "pct", "version": v}, start_time="2026-11-20T10:00:00Z",
                end_time=f"2026-11-20T10:00:{ms // 1000:02d}.{ms % 1000:03d}Z", metadata={"env": "prod"})
            for v, values in latencies.items() for ms in values]
    ingest(api, *logs, log(prompt={"name": "pct", "version": 1}, metadata={"env": "dev"}))
    for i, one in enumerate(logs):  # scored after the logs arrived
        api.post(f"/api/v1/requests/{one['id']}/scores", json={"name": "ok", "value": 10 * i})
    plain = {i["version"]: i for i in api.get("/api/v1/requests/stats", params={"prompt": "pct"}).json()["items"]}
    prod = {i["version"]: i for i in api.get("/api/v1/requests/stats", params={
        "prompt": "pct", "filter": 'metadata.env = "prod"'}).json()["items"]}
    assert plain[1]["count"] == 8 and prod[1]["count"] == 7
    for v, values in latencies.items():
        assert prod[v]["latency_p50"] == pytest.approx(np.percentile(values, 50))
        assert prod[v]["latency_p95"] == pytest.approx(np.percentile(values, 95))
        assert prod[v]["scores"]["ok"] == pytest.approx(plain[v]["scores"]["ok"])
    assert plain[1]["latency_p50"] == pytest.approx(np.percentile(latencies[1] + [1500], 50), rel=0.01)
    assert plain[2]["scores"]["ok"]["n"] == 2 and plain[2]["scores"]["ok"]["mean"] == 75


def test_running_totals_equal_the_logs_after_any_writes(api):
    """Statistics over all logs come from running totals; after ingest (with replays), pending and
    late scores, re-scoring and relinking a log to another version they equal the statistics
    computed from the logs themselves (a filter that matches every log)."""
    api.post("/api/v1/publish", json={**CHAT, "name": "tot"})
    api.post("/api/v1/publish", json={**CHAT, "name": "tot", "messages": [{"role": "user", "content": "v2"}]})
    early = log(prompt={"name": "tot", "version": 1})
    api.post(f"/api/v1/requests/{early['id']}/scores", json={"name": "q", "value": 30})  # before its log
    logs = [early] + [log(prompt={"name": "tot", "version": 1 + i % 2}, status="error" if i % 3 == 0 else "ok",
                          end_time=f"2026-11-20T10:00:0{1 + i % 5}Z", scores=[{"name": "q", "value": 10 * i}])
                      for i in range(8)] + [log(usage=None, scores=[{"name": "q", "value": 99}])]
    ingest(api, *logs)
    ingest(api, *logs[:3])  # a replay changes nothing
    api.post(f"/api/v1/requests/{logs[1]['id']}/scores", json={"name": "q", "value": 100})  # re-scored
    api.post(f"/api/v1/requests/{logs[2]['id']}/scores", json={"name": "extra", "value": 5})
    with api.app.state.ctx.db.write() as s:  # relinked, as PromptLayer's track.prompt does
        request_annotations.link_prompt(s, api.principal, logs[3]["id"], name="tot", version=1)
    everything = 'status = "ok" OR status = "error"'
    totals = api.get("/api/v1/requests/stats").json()["items"]
    exact = api.get("/api/v1/requests/stats", params={"filter": everything}).json()["items"]
    assert [(i["prompt"], i["version"]) for i in totals] == [(i["prompt"], i["version"]) for i in exact]
    for t, e in zip(totals, exact):
        for field in ("count", "error_rate", "tokens_total", "tokens_mean", "cost_total"):
            assert t[field] == pytest.approx(e[field]), field
        for field in ("latency_p50", "latency_p95"):
            assert t[field] == pytest.approx(e[field], rel=0.01), field
        assert t["scores"].keys() == e["scores"].keys()
        for name in t["scores"]:
            assert t["scores"][name] == pytest.approx(e["scores"][name]), name


def test_pending_update_that_raced_its_log_is_applied_later(api, database):
    """A score kept pending while its log was being stored (neither transaction saw the other's
    row) is applied by the server's periodic sweep, with its author, and counted in the totals."""
    from promptyard.store.models import PendingUpdate

    one = log(scores=[])
    ingest(api, one)
    with database.write() as s:  # what the race leaves behind: a pending score for a stored log
        s.add(PendingUpdate(workspace_id=api.principal.workspace_id, client_id=one["id"], kind="scores",
                            payload={"name": "late", "value": 70, "comment": "", "source": "human",
                                     "author": "ph@example.jp"}))
    with database.write() as s:
        assert request_annotations.apply_late_pending(s, grace_s=3600) >= 1
    got = api.get(f"/api/v1/requests/{one['id']}").json()["scores"]
    assert [(x["name"], x["value"], x["author"]) for x in got] == [("late", 70, "ph@example.jp")]
    unlinked = [i for i in api.get("/api/v1/requests/stats").json()["items"] if i["prompt"] is None]
    assert unlinked[0]["scores"]["late"]["n"] == 1
    from datetime import datetime, timedelta, timezone

    with database.write() as s:  # one whose log never came, past the grace window
        s.add(PendingUpdate(workspace_id=api.principal.workspace_id, client_id="never-came", kind="scores",
                            payload={"name": "x", "value": 1}, created_at=datetime.now(timezone.utc) - timedelta(hours=2)))
    with database.write() as s:
        assert request_annotations.apply_late_pending(s, grace_s=3600) == 0
    with database.read() as s:
        assert s.query(PendingUpdate).filter_by(client_id="never-came").count() == 0


def test_export_csv_neutralises_formulas_and_jsonl(api):
    ingest(api, log(metadata={"note": "=HYPERLINK(\"http://evil\")"}, model="-cmd"), log())
    text = api.get("/api/v1/requests/export", params={"format": "csv"}).text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "id" and len(rows) == 3
    assert any(cell.startswith("'-cmd") for cell in rows[1] + rows[2])
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)
    assert rows[0][-5:] == ["input_text", "output_text", "error", "trace_id", "span_id"]
    assert "1日2回です。" in rows[1][-4] and rows[1][-2:] == ["", ""]  # not sent as spans
    lines = api.get("/api/v1/requests/export", params={"format": "jsonl", "filter": 'model = "-cmd"'}).text
    items = [json.loads(x) for x in lines.splitlines()]
    assert [i["model"] for i in items] == ["-cmd"]
    assert items[0]["output"] == {"text": "1日2回です。"} and items[0]["input"]["messages"][0]["content"] == "この薬の用量は?"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=80))
def test_random_filters_never_500(api, text):
    r = api.get("/api/v1/requests", params={"filter": text})
    assert r.status_code in (200, 422), r.text


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)))
def test_filter_values_match_literally(api, value):
    r = api.post("/api/v1/requests/search", json={"filter": {"field": "metadata.k", "op": "=", "value": value}})
    assert r.status_code == 200 and r.json()["items"] == []


def test_a_pending_update_is_redacted_as_its_kind_is():
    """Pending updates store their kind by name; the stored-log redaction looks the name up in
    redaction.UPDATES, ingest and annotate in request_annotations.KINDS: the two must agree."""
    assert {name: kind.redact for name, kind in request_annotations.KINDS.items()} == redaction.UPDATES
