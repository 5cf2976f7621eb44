"""Experiments on a label: routing on the server, results with statistics, promotion, rollback and
guarded ramps (services on SQLite and PostgreSQL; statistics checked against scipy)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from scipy import stats as sps

from promptyard.services import experiments, labels, prompts, ramps, versions
from promptyard.store.models import Request, Score
from promptyard.store.types import utcnow

POLICY = {"sticky_key": "user_id",
          "split": [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}],
          "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 5}]}


@pytest.fixture()
def prompt_id(database, principal):  # noqa: ANN001, ANN201
    with database.write() as s:
        pid = prompts.create(s, principal, name="reply").id
        for i in range(1, 6):
            versions.publish(s, principal, pid, {"messages": [{"role": "user", "content": f"v{i} {{q}}"}],
                                                 "commit_message": f"v{i}"})
        labels.move(s, principal, pid, "production", version=3, reason="baseline")
    return pid


def record(database, principal, prompt_id, version: int, *, rule: str = "split", scores=None,
           status: str = "ok", when=None) -> None:  # noqa: ANN001
    """Store one served request the way ingest does (label, version, routing rule, scores)."""
    with database.write() as s:
        req = Request(workspace_id=principal.workspace_id, client_id=str(uuid.uuid4()), start_time=when or utcnow(),
                      latency_ms=100.0, input={}, output={}, status=status, prompt_id=prompt_id,
                      version_number=version, label="production", routing={"label": "production", "rule": rule})
        s.add(req)
        s.flush()
        for name, value in (scores or {}).items():
            s.add(Score(workspace_id=principal.workspace_id, request_id=req.id, name=name, value=value))


def test_server_routing_staff_segment_and_sticky_split(database, principal, prompt_id):
    with database.write() as s:
        labels.move(s, principal, prompt_id, "production", policy=POLICY, reason="try v4")
    with database.read() as s:
        staff = labels.resolve(s, principal, "reply", label="production", metadata={"role": "staff", "user_id": "a"})
        assert (staff.version.number, staff.rule) == (5, "segment:staff")
        got = [labels.resolve(s, principal, "reply", label="production", metadata={"user_id": f"u{i}"})
               for i in range(2000)]
        again = labels.resolve(s, principal, "reply", label="production", metadata={"user_id": "u7"})
    share = sum(r.version.number == 4 for r in got) / len(got)
    assert 0.07 < share < 0.13
    assert again.version.number == got[7].version.number and again.unit == "u7"


def test_experiment_view_reports_the_better_version(database, principal, prompt_id):
    with database.write() as s:
        labels.move(s, principal, prompt_id, "production", policy=POLICY, reason="try v4")
    rng = random.Random(7)
    a = [min(100, max(0, rng.gauss(70, 10))) for _ in range(150)]
    b = [min(100, max(0, rng.gauss(78, 10))) for _ in range(150)]
    for va in a:
        record(database, principal, prompt_id, 3, scores={"medically_correct": va})
    for vb in b:
        record(database, principal, prompt_id, 4, scores={"medically_correct": vb})
    for _ in range(10):
        record(database, principal, prompt_id, 5, rule="segment:staff", scores={"medically_correct": 90})
    with database.read() as s:
        view = experiments.view(s, principal, prompt_id, "production")
    assert view["baseline"] == 3 and [v["version"] for v in view["versions"]] == [3, 4, 5]
    c = next(c for c in view["comparisons"] if c["candidate"] == 4 and c["metric"] == "medically_correct")
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert c["test"] == "welch_t" and c["verdict"] == "better"
    assert c["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
    assert c["diff"] == pytest.approx(sum(b) / len(b) - sum(a) / len(a))
    ci = ref.confidence_interval(0.95)
    assert (c["ci_low"], c["ci_high"]) == (pytest.approx(ci.low, rel=1e-6), pytest.approx(ci.high, rel=1e-6))
    assert c["text"].startswith("v4 is better on medically_correct by ")
    small = next(c for c in view["comparisons"] if c["candidate"] == 5 and c["metric"] == "medically_correct")
    assert small["verdict"] == "too_few" and any("v5: 10" in w for w in view["warnings"])
    v3 = view["versions"][0]["scores"]["medically_correct"]
    ref_ci = sps.t.interval(0.95, len(a) - 1, loc=sum(a) / len(a), scale=sps.sem(a))
    assert (v3["ci_low"], v3["ci_high"]) == (pytest.approx(ref_ci[0], rel=1e-6), pytest.approx(ref_ci[1], rel=1e-6))


def test_error_rate_and_pass_fail_use_two_proportions(database, principal, prompt_id):
    for i in range(100):
        record(database, principal, prompt_id, 3, status="error" if i < 20 else "ok",
               scores={"follows_manual": 100 if i < 60 else 0})
        record(database, principal, prompt_id, 4, status="error" if i < 5 else "ok",
               scores={"follows_manual": 100 if i < 85 else 0})
    with database.read() as s:
        view = experiments.view(s, principal, prompt_id, "production", since=utcnow() - timedelta(hours=1))
    err = next(c for c in view["comparisons"] if c["metric"] == "error_rate")
    assert err["test"] == "two_proportion_z" and err["verdict"] == "better"  # fewer errors is better
    assert err["diff"] == pytest.approx(-15.0)
    pooled = 25 / 200
    z = (0.05 - 0.20) / (pooled * (1 - pooled) * (2 / 100)) ** 0.5
    assert err["p_value"] == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-6)
    manual = next(c for c in view["comparisons"] if c["metric"] == "follows_manual")
    assert manual["test"] == "two_proportion_z" and manual["diff"] == pytest.approx(25.0)


def test_promote_and_rollback_are_recorded(database, principal, prompt_id):
    with database.write() as s:
        labels.move(s, principal, prompt_id, "production", policy=POLICY, reason="try v4")
        experiments.promote(s, principal, prompt_id, "production", version=4, reason="v4 wins")
    with database.read() as s:
        r = labels.resolve(s, principal, "reply", label="production", metadata={"user_id": "u1", "role": "staff"})
        assert (r.version.number, r.rule) == (4, None)
        hist = labels.history(s, principal, prompt_id, "production")
    assert (hist[0].to_version, hist[0].to_policy, hist[0].reason) == (4, None, "v4 wins")
    with database.write() as s:
        experiments.rollback(s, principal, prompt_id, "production", reason="complaints")
    with database.read() as s:
        label = next(lab for lab in prompts.get(s, principal, prompt_id).labels if lab.name == "production")
    assert label.policy["split"] == POLICY["split"]
    with pytest.raises(Exception, match="reason"):
        with database.write() as s:
            experiments.promote(s, principal, prompt_id, "production", version=4, reason=" ")


def _ramp(database, principal, prompt_id, guard="medically_correct"):  # noqa: ANN001, ANN202
    plan = {"candidate": 4, "baseline": 3, "steps": [10, 50, 100], "interval_s": 60,
            "guard": {"metric": guard, "margin": 3}, "min_n": 30}
    with database.write() as s:
        return ramps.start(s, principal, prompt_id, "production", plan, reason="ramp v4")


def _tick(database, minutes: int):  # noqa: ANN001, ANN202
    with database.write() as s:
        return ramps.tick(s, utcnow() + timedelta(minutes=minutes))


def test_guarded_ramp_steps_up_then_promotes(database, principal, prompt_id):
    ramp = _ramp(database, principal, prompt_id)
    assert ramp.weight == 10
    assert [r.note for r in _tick(database, 2) if r.id == ramp.id][0].startswith("held")  # no data yet
    for i in range(40):
        record(database, principal, prompt_id, 3, scores={"medically_correct": 70 + i % 5})
        record(database, principal, prompt_id, 4, scores={"medically_correct": 72 + i % 5})
    stepped = [r for r in _tick(database, 4) if r.id == ramp.id][0]
    assert (stepped.state, stepped.weight) == ("running", 50)
    with database.read() as s:
        label = next(lab for lab in prompts.get(s, principal, prompt_id).labels if lab.name == "production")
    assert {x["version"]: x["weight"] for x in label.policy["split"]} == {3: 50, 4: 50}
    done = [r for r in _tick(database, 6) if r.id == ramp.id][0]
    assert done.state == "done"
    with database.read() as s:
        r = labels.resolve(s, principal, "reply", label="production", metadata={"user_id": "x"})
    assert r.version.number == 4 and r.rule is None


def test_guarded_ramp_reverts_when_candidate_is_worse(database, principal, prompt_id):
    ramp = _ramp(database, principal, prompt_id)
    for i in range(40):
        record(database, principal, prompt_id, 3, scores={"medically_correct": 80 + i % 5})
        record(database, principal, prompt_id, 4, scores={"medically_correct": 60 + i % 5})
    reverted = [r for r in _tick(database, 2) if r.id == ramp.id][0]
    assert reverted.state == "reverted" and "worse" in reverted.note
    with database.read() as s:
        r = labels.resolve(s, principal, "reply", label="production", metadata={"user_id": "x"})
        hist = labels.history(s, principal, prompt_id, "production")
    assert r.version.number == 3 and hist[0].actor == f"ramp:{ramp.id}"


def test_only_admins_stop_a_ramp_on_production(database, principal, prompt_id):
    from dataclasses import replace

    from promptyard.errors import Forbidden

    ramp = _ramp(database, principal, prompt_id)
    editor = replace(principal, scopes=frozenset({"read", "prompts:read", "ingest", "write"}), actor="editor")
    with database.write() as s, pytest.raises(Forbidden):
        ramps.stop(s, editor, ramp.id, reason="no")
    with database.write() as s:
        assert ramps.stop(s, principal, ramp.id, reason="yes").state == "stopped"


def test_guarded_ramp_on_the_error_rate_reverts_when_the_candidate_fails_more(database, principal, prompt_id):
    """The default guard: the candidate's error rate above the baseline's by more than the margin
    (percentage points) reverts the ramp. A new ramp counts only requests since it started."""
    ramp = _ramp(database, principal, prompt_id, guard="error_rate")
    for i in range(60):
        record(database, principal, prompt_id, 3, status="error" if i % 20 == 0 else "ok")  # 5%
        record(database, principal, prompt_id, 4, status="error" if i % 20 < 6 else "ok")  # 30%
    reverted = [r for r in _tick(database, 2) if r.id == ramp.id][0]
    assert reverted.state == "reverted", reverted.note
    ramp = _ramp(database, principal, prompt_id, guard="error_rate")
    stepped = [r for r in _tick(database, 4) if r.id == ramp.id][0]  # since this ramp: no errors yet, too few
    assert stepped.state == "running"


def test_a_log_naming_only_the_label_records_version_and_rule(database, principal, prompt_id):
    """The caller sends the label it fetched by; the server stores the version the policy served
    and the rule that chose it (as our SDK and the fetch would have)."""
    from promptyard.services import request_log

    with database.write() as s:
        labels.move(s, principal, prompt_id, "production", policy=POLICY, reason="try v4 and v5")
        logs = [{"id": str(uuid.uuid4()), "model": "m", "metadata": meta,
                 "prompt": {"name": "reply", "label": "production"}}
                for meta in ({"role": "staff", "user_id": "u1"}, {"user_id": "u2"}, {})]
        assert request_log.ingest(s, principal, logs, max_batch=10)["accepted"] == 3
    with database.read() as s:
        got = [s.query(Request).filter_by(workspace_id=principal.workspace_id, client_id=one["id"]).one()
               for one in logs]
    assert (got[0].version_number, got[0].routing["rule"]) == (5, "segment:staff")
    assert got[1].version_number in (3, 4) and got[1].routing == {"label": "production", "rule": "split", "unit": "u2"}
    assert got[2].version_number in (3, 4) and got[2].routing["rule"] == "split" and got[2].label == "production"
