"""Evaluation runs end to end on both databases: the real openai/anthropic wire formats against the fake LLM
server (tests/fakes/llm.py answers "echo: <last user message>"), scorers and judges, retries, cancel and
resume, a restart in the middle of a run, the paired comparison and the label gate."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import select

from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import evaluations, gates, labels, ramps
from promptyard.services.evaluation_runner import Runner
from promptyard.store.models import AuditEvent, Request, Score
from tests.eval_support import ENGINE, connection, create, dataset, prompt, run_items


def wait_for(check, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


QUESTIONS = [{"input": {"question": "aspirin dose"}, "expected": "echo: aspirin dose"},
             {"input": {"question": "アスピリンの用量"}, "expected": "echo: アスピリンの用量"},
             {"input": {"question": "ibuprofen"}, "expected": "echo: paracetamol"}]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_run_scores_every_item_and_stores_each_output_as_a_tagged_log(database, principal, fake_llm, kind):
    conn = connection(database, principal, fake_llm, kind, "gpt-4o-mini" if kind == "openai" else "claude-3-5-haiku")
    data = dataset(database, principal, QUESTIONS)
    name = f"qa-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{question}")
    judge = f"judge-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, judge, "Score: 4/5 because {output} matches {expected}")
    run = create(database, principal, {
        "dataset": data, "variants": [{"prompt": name, "version": 1}], "provider": conn,
        "scorers": [{"type": "exact_match"}, {"type": "contains", "name": "mentions", "value": "aspirin",
                                               "normalize": ["case"]}, {"type": "length", "max": 5}],
        "judges": [{"prompt": judge, "name": "helpful", "scale": [1, 5]}]})
    assert run["status"] == "queued" and run["progress"] == {"total": 3, "done": 0, "failed": 0, "left": 3}
    Runner(database, ENGINE).run_until_idle()
    with database.read() as s:
        done = evaluations.get(s, principal, run["id"])
        logs = list(s.scalars(select(Request).where(Request.workspace_id == principal.workspace_id,
                                                    Request.source == "evaluation").order_by(Request.id)))
        scores = {(sc.request_id, sc.name): sc for sc in s.scalars(select(Score).where(
            Score.request_id.in_([r.id for r in logs])))}
    assert done["status"] == "done" and done["progress"] == {"total": 3, "done": 3, "failed": 0, "left": 0}
    assert done["input_tokens"] > 0 and done["output_tokens"] > 0 and done["cost"] > 0
    items = run_items(database, run["id"])
    assert [i.scores["exact_match"] for i in items] == [100.0, 100.0, 0.0]
    assert [i.scores["mentions"] for i in items] == [100.0, 0.0, 0.0]
    assert [i.scores["length"] for i in items] == [0.0, 0.0, 0.0]
    assert [i.scores["helpful"] for i in items] == [75.0, 75.0, 75.0]
    assert all(i.status == "done" and i.attempts == 1 and i.error == "" for i in items)
    assert [r.id for r in logs] == [i.request_id for i in items]
    first = logs[0]
    assert first.tags == ["evaluation", f"evaluation-{run['id']}"] and first.prompt_id is None  # no production stats
    assert first.output == {"messages": [{"role": "assistant", "content": "echo: aspirin dose"}]}
    assert first.input["messages"] == [{"role": "user", "content": "aspirin dose"}]
    with database.read() as s:
        from promptyard.store.models import RequestMetadata

        meta = dict(s.execute(select(RequestMetadata.key, RequestMetadata.value).where(
            RequestMetadata.request_id == first.id)).all())
    assert meta[evaluations.METADATA_RUN] == str(run["id"]) and meta["promptyard.eval_version"] == "1"
    rule, judged = scores[(first.id, "exact_match")], scores[(first.id, "helpful")]
    assert (rule.source, rule.value) == ("rule", 100.0)
    assert judged.source == "judge" and judged.author == f"judge:{judge}@v1/{first.model}"
    assert "because echo: aspirin dose matches echo: aspirin dose" in judged.comment


def test_judge_answers_without_a_score_are_recorded_on_the_item(database, principal, fake_llm):
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, [{"input": {"q": "Score: 5"}}, {"input": {"q": "no number at all"}},
                                         {"input": {"q": "Score: 9"}}])
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{q}")
    judge = f"j-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, judge, "{output}")  # the judge echoes the answer, which echoes the input
    run = create(database, principal, {"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                       "judges": [{"prompt": judge, "name": "quality"}]})
    Runner(database, ENGINE).run_until_idle()
    items = run_items(database, run["id"])
    assert [i.status for i in items] == ["done", "done", "done"]
    assert [i.scores["quality"] for i in items] == [100.0, None, None]
    assert "holds no score" in items[1].error and "outside its scale 1-5" in items[2].error
    with database.read() as s:
        assert evaluations.get(s, principal, run["id"])["status"] == "done"


def test_429s_are_retried_and_failing_items_fail_with_the_reason(database, principal, fake_llm):
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, QUESTIONS)
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{question}")
    flaky = f"flaky-429-2-{uuid.uuid4().hex[:8]}"
    run = create(database, principal, {"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                       "model": flaky, "scorers": [{"type": "exact_match"}]})
    Runner(database, ENGINE).run_until_idle()
    assert [i.status for i in run_items(database, run["id"])] == ["done"] * 3
    assert len([r for r in fake_llm.requests if r.body and r.body.get("model") == flaky]) == 5  # 2 refused
    broken = create(database, principal, {"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                          "model": "fail-500", "max_attempts": 2,
                                          "scorers": [{"type": "exact_match"}]})
    Runner(database, ENGINE).run_until_idle(timeout_s=90)
    items = run_items(database, broken["id"])
    assert all(i.status == "failed" and i.attempts == 2 and "500" in i.error for i in items)
    with database.read() as s:
        got = evaluations.get(s, principal, broken["id"])
    assert got["status"] == "failed" and got["progress"]["failed"] == 3 and got["error"] == "every item failed"


def test_cancel_then_resume_runs_each_item_once(database, principal, fake_llm):
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, [{"input": {"question": f"q{i}"}} for i in range(8)])
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{question}")
    run = create(database, principal, {"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                       "model": "slow-150", "concurrency": 1, "scorers": [{"type": "valid_json"}]})
    runner = Runner(database, ENGINE, workers=2, poll_s=0.05)
    runner.start()
    try:
        wait_for(lambda: sum(i.status == "done" for i in run_items(database, run["id"])) >= 2)
        with database.write() as s:
            cancelled = evaluations.cancel(s, principal, run["id"])
        assert cancelled["status"] == "cancelled"
        # the item in flight finishes; nothing new starts
        wait_for(lambda: not {i.status for i in run_items(database, run["id"])} & {"pending", "running"})
        time.sleep(0.3)
        statuses = [i.status for i in run_items(database, run["id"])]
        assert "cancelled" in statuses and "pending" not in statuses and "running" not in statuses
        assert statuses.count("done") <= 4
        with database.write() as s, pytest.raises(Conflict):
            evaluations.cancel(s, principal, run["id"])
        with database.write() as s:
            assert evaluations.resume(s, principal, run["id"])["status"] == "queued"
        runner.wake()
        wait_for(lambda: all(i.status == "done" for i in run_items(database, run["id"])))
    finally:
        runner.stop()
    items = run_items(database, run["id"])
    assert len({i.request_id for i in items}) == 8 and all(i.attempts == 1 for i in items)
    with database.read() as s:
        assert evaluations.get(s, principal, run["id"])["status"] == "done"
        with pytest.raises(Conflict):
            evaluations.resume(s, principal, run["id"])


def test_a_restart_in_the_middle_resumes_without_running_finished_items_again(database, principal, fake_llm):
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, [{"input": {"question": f"q{i}"}} for i in range(10)])
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{question}")
    run = create(database, principal, {"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                       "model": "slow-300", "concurrency": 3, "timeout_s": 1.5,
                                       "scorers": [{"type": "exact_match", "name": "x"}]})
    first = Runner(database, ENGINE, workers=3, poll_s=0.05, lease_margin_s=0.0)
    first.start()
    wait_for(lambda: sum(i.status == "done" for i in run_items(database, run["id"])) >= 3)
    first.stop(timeout_s=0)  # the server goes away with items in flight
    before = {i.id: i.request_id for i in run_items(database, run["id"]) if i.status == "done"}
    assert 3 <= len(before) < 10
    second = Runner(database, ENGINE, workers=3, poll_s=0.05, lease_margin_s=0.0)
    second.run_until_idle(timeout_s=60)
    items = run_items(database, run["id"])
    assert all(i.status == "done" for i in items)
    assert all(before[i.id] == i.request_id for i in items if i.id in before)  # finished ones kept as they were
    with database.read() as s:
        logs = s.scalars(select(Request.client_id).where(Request.workspace_id == principal.workspace_id,
                                                         Request.source == "evaluation")).all()
        assert evaluations.get(s, principal, run["id"])["progress"]["done"] == 10
    assert sorted(logs) == sorted(f"eval-{run['id']}-{i.id}" for i in items)  # exactly one log per item


def test_bad_specs_are_refused_naming_the_field(database, principal, fake_llm):
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, QUESTIONS)
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{question}")
    good = {"dataset": data, "variants": [{"prompt": name}], "provider": conn, "scorers": [{"type": "exact_match"}]}
    for change, key in [({"scorers": [{"type": "bleu"}]}, "errors.scorers.unknown_type"),
                        ({"scorers": [{"type": "regex", "pattern": "("}]}, "errors.scorers.pattern_invalid"),
                        ({"scorers": []}, "errors.evaluations.no_scores"),
                        ({"variants": []}, "errors.evaluations.variants"),
                        ({"variants": [{"prompt": name}, {"prompt": name, "version": 1}]},
                         "errors.evaluations.variant_twice"),
                        ({"concurrency": 0}, "errors.evaluations.range"),
                        ({"judges": [{"prompt": name, "scale": [5, 1]}]}, "errors.judges.scale"),
                        ({"colour": "red"}, "errors.evaluations.unknown_option")]:
        with database.write() as s, pytest.raises(InvalidInput) as exc:
            evaluations.create(s, principal, good | change, engine=ENGINE)
        assert exc.value.key == key, (change, exc.value.message)
    for change in ({"dataset": 10**9}, {"variants": [{"prompt": "no-such-prompt"}]}, {"provider": 10**9}):
        with database.write() as s, pytest.raises(NotFound):
            evaluations.create(s, principal, good | change, engine=ENGINE)


def _gate_setup(database, principal, fake_llm):
    """A prompt whose v1 (on production) and v3 answer right and whose v2 answers wrong, run on 6 items."""
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, [{"input": {"question": f"q{i}"}, "expected": f"echo: q{i}"}
                                         for i in range(6)])
    name = f"gated-{uuid.uuid4().hex[:6]}"
    pid = prompt(database, principal, name, "{question}", "wrong {question}", "{question} ", "{question}?",
                 labels_=("production",))
    run = create(database, principal, {"dataset": data, "provider": conn, "scorers": [{"type": "exact_match"}],
                                       "variants": [{"prompt": name, "version": n} for n in (1, 2, 3)]})
    Runner(database, ENGINE).run_until_idle()
    return pid, data, run


def test_compare_two_variants_paired_by_item_worst_first(api, database, fake_llm):
    pid, data, run = _gate_setup(database, api.principal, fake_llm)
    v1, v2 = f"{pid}:v1", f"{pid}:v2"
    r = api.get("/api/v1/evaluations/compare", params={"base": run["id"], "candidate": run["id"],
                                                       "base_variant": v1, "candidate_variant": v2})
    assert r.status_code == 200, r.text
    body = r.json()
    exact = body["scores"]["exact_match"]
    assert (exact["n"], exact["mean_diff"], exact["base_mean"], exact["candidate_mean"]) == (6, -100.0, 100.0, 0.0)
    assert exact["ci"]["method"] == "paired_t" and body["shown_interval"] == "paired_t"
    assert body["items"][0]["worst_diff"] == -100.0
    assert body["items"][0]["base"]["output"] == "echo: q0" and body["items"][0]["candidate"]["output"] == "echo: wrong q0"
    assert body["totals"]["base"]["items"] == 6 and body["totals"]["candidate"]["mean_latency_ms"] > 0
    back = api.get("/api/v1/evaluations/compare", params={"base": run["id"], "candidate": run["id"],
                                                          "base_variant": v2, "candidate_variant": v1}).json()
    assert [row["worst_diff"] for row in back["items"]] == [100.0] * 6  # an improvement shows as one, not as 0
    bad = api.get("/api/v1/evaluations/compare", params={"base": run["id"], "candidate": run["id"]})
    assert bad.status_code == 422 and "variants" in bad.json()["error"]["message"]


def test_the_gate_refuses_a_worse_candidate_and_lets_a_good_one_through(api, database, fake_llm):
    p = api.principal
    pid, data, run = _gate_setup(database, p, fake_llm)
    r = api.put(f"/api/v1/prompts/{pid}/labels/production/gate",
                json={"dataset": data, "score": "exact_match", "max_drop": 2})
    assert r.status_code == 200, r.text
    refused = api.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 2, "reason": "try v2"})
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert "worse than the baseline by up to 100.0 points" in error["message"] and str(run["id"]) in error["message"]
    with database.write() as s, pytest.raises(Conflict) as exc:
        ramps.start(s, p, pid, "production", {"candidate": 2, "baseline": 1}, reason="ramp v2")
    assert exc.value.key == "errors.gates.worse" and exc.value.text("ja").startswith("「production」")
    with database.write() as s, pytest.raises(Conflict) as exc:
        labels.move(s, p, pid, "production", version=4, reason="never evaluated")
    assert exc.value.key == "errors.gates.no_run"
    moved = api.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 3, "reason": "v3 is as good"})
    assert moved.status_code == 200, moved.text
    with database.read() as s:
        passed = s.scalars(select(AuditEvent).where(AuditEvent.workspace_id == p.workspace_id,
                                                    AuditEvent.action == "gate.pass")).all()
    assert len(passed) == 1 and passed[0].details["candidate_run"] == run["id"] and passed[0].details["candidate"] == 3
    with database.write() as s:  # a rollback never waits for an evaluation
        labels.move(s, p, pid, "production", version=1, reason="rollback")
    assert api.get(f"/api/v1/prompts/{pid}/labels/production/gate").json()["gate"]["max_drop"] == 2
    assert api.delete(f"/api/v1/prompts/{pid}/labels/production/gate").status_code == 204
    with database.write() as s:
        labels.move(s, p, pid, "production", version=2, reason="no gate any more")
        assert gates.get(s, p, pid, "production") is None


def test_api_runs_list_get_items_progress(api, database, fake_llm):
    p = api.principal
    conn = connection(database, p, fake_llm)
    data = dataset(database, p, QUESTIONS)
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, p, name, "{question}")
    r = api.post("/api/v1/evaluations", json={"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                              "scorers": [{"type": "similarity"}], "name": "smoke"})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    bad = api.post("/api/v1/evaluations", json={"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                                "scorers": [{"type": "regex", "pattern": "(x+x+)+y" * 100}]})
    assert bad.status_code == 422 and "scorers[0].pattern" in bad.json()["error"]["message"]
    Runner(database, ENGINE).run_until_idle()
    assert api.get(f"/api/v1/evaluations/{run_id}/progress").json()["status"] == "done"
    assert [x["id"] for x in api.get("/api/v1/evaluations", params={"dataset": data}).json()["items"]] == [run_id]
    page = api.get(f"/api/v1/evaluations/{run_id}/items", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next"] is not None
    assert page["items"][0]["scores"]["similarity"] == 100.0
    assert api.get("/api/v1/evaluations/999999999").status_code == 404
    assert api.post(f"/api/v1/evaluations/{run_id}/cancel").status_code == 409


def test_concurrency_is_bounded_and_used(database, principal, fake_llm):
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, [{"input": {"question": f"q{i}"}} for i in range(12)])
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{question}")
    run = create(database, principal, {"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                       "model": "slow-300", "concurrency": 4, "scorers": [{"type": "valid_json"}]})
    runner = Runner(database, ENGINE, workers=16, poll_s=0.02)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], runner._in_flight)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    runner.start()
    try:
        wait_for(lambda: all(i.status == "done" for i in run_items(database, run["id"])), 30)
    finally:
        runner.stop()
        stop.set()
        watcher.join()
    assert peak[0] == 4
    assert time.monotonic() - started < 12 * 0.3  # in parallel, not one after another


def test_a_finished_run_emits_the_evaluation_finished_webhook(database, principal, fake_llm):
    from promptyard.services import webhooks
    from promptyard.store.models import WebhookDelivery

    with database.write() as s:
        hook = webhooks.create(s, principal, url="https://hooks.example.com/evals", events=["evaluation.finished"])
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, QUESTIONS)
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{question}")
    run = create(database, principal, {"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                       "scorers": [{"type": "exact_match"}]})
    Runner(database, ENGINE).run_until_idle()
    with database.read() as s:
        sent = s.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)).all()
    assert [d.event for d in sent] == ["evaluation.finished"]
    body = sent[0].payload
    payload = body.get("payload", body.get("data", body))
    text = str(payload)
    assert str(run["id"]) in text and "exact_match" in text and "66.66" in text  # 2 of 3 items match


def test_items_claimed_ahead_are_cancelled_with_the_run_and_run_once_after_resume(database, principal, fake_llm):
    conn = connection(database, principal, fake_llm)
    tag = uuid.uuid4().hex[:6]
    data = dataset(database, principal, [{"input": {"question": f"{tag}-{i}"}} for i in range(40)])
    name = f"p-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{question}")
    run = create(database, principal, {"dataset": data, "variants": [{"prompt": name}], "provider": conn,
                                       "model": "slow-300", "concurrency": 8, "scorers": [{"type": "valid_json"}]})
    runner = Runner(database, ENGINE, workers=2, poll_s=0.05)  # two at a time, four claimed ahead
    runner.start()
    try:
        wait_for(lambda: sum(i.status == "running" for i in run_items(database, run["id"])) > 2)
        wait_for(lambda: sum(i.status == "done" for i in run_items(database, run["id"])) >= 4)
        with database.write() as s:
            evaluations.cancel(s, principal, run["id"])
        wait_for(lambda: not {i.status for i in run_items(database, run["id"])} & {"pending", "running"})
        statuses = [i.status for i in run_items(database, run["id"])]
        assert set(statuses) == {"done", "cancelled"} and statuses.count("done") < 40
        with database.write() as s:
            evaluations.resume(s, principal, run["id"])
        runner.wake()
        wait_for(lambda: all(i.status == "done" for i in run_items(database, run["id"])))
    finally:
        runner.stop()
    asked = [r for r in fake_llm.requests if isinstance(r.body, dict) and str(r.body["messages"][-1]["content"])
             .startswith(tag)]
    assert len(asked) == 40  # every item called once: none claimed ahead was called and then dropped
    assert len({i.request_id for i in run_items(database, run["id"])}) == 40
