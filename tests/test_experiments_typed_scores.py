"""Issue 17, experiments with typed scores on both databases: a pass/fail score keeps its
sequential verdict and adds pass rates with the Wilson interval and a two-proportion test
(statsmodels on the raw values); a categorical score gets no verdict ("unsupported": the sequential
test is on means) and a Mann-Whitney rank test instead (scipy on the raw values), segment traffic
left out; the experiment page says so in Japanese."""

from __future__ import annotations

import random
import uuid

import pytest
from scipy.stats import mannwhitneyu
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from promptyard.services import experiments, labels, prompts, request_ingest, score_configs, versions
from promptyard.store.types import utcnow

SPLIT = {"split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
         "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 2}]}


def _log(version: int, scores: dict, rule: str = "split") -> dict:
    return {"id": str(uuid.uuid4()), "model": "m", "start_time": utcnow().isoformat(),
            "prompt": {"name": "typed", "version": version}, "routing": {"label": "production", "rule": rule},
            "scores": [{"name": k, "value": v} for k, v in scores.items()]}


@pytest.fixture()
def experiment(database, principal):  # noqa: ANN001, ANN201
    rng = random.Random(17)
    with database.write() as s:
        pid = prompts.create(s, principal, name="typed").id
        for i in (1, 2):
            versions.publish(s, principal, pid, {"messages": [{"role": "user", "content": f"v{i}"}],
                                                 "commit_message": f"v{i}"})
        labels.move(s, principal, pid, "production", version=1, reason="baseline")
        score_configs.create(s, principal, {"name": "有用性", "type": "categorical", "categories": [
            {"value": v, "label": str(v)} for v in range(1, 6)]})
        score_configs.create(s, principal, {"name": "safe", "type": "boolean"})
        experiments.set_policy(s, principal, pid, "production", policy=SPLIT, reason="try v2",
                               declared={"primary_metric": "有用性"})
    raw: dict[int, dict[str, list]] = {1: {"有用性": [], "safe": []}, 2: {"有用性": [], "safe": []}}
    logs = []
    for version, (helpful, pass_rate) in ((1, ([2, 3, 3, 3, 4], 0.7)), (2, ([3, 4, 4, 4, 5], 0.85))):
        for _ in range(200):
            h, ok = rng.choice(helpful), rng.random() < pass_rate
            raw[version]["有用性"].append(h)
            raw[version]["safe"].append(100 if ok else 0)
            logs.append(_log(version, {"有用性": h, "safe": ok}))
    logs += [_log(2, {"有用性": 1, "safe": False}, rule="segment:staff") for _ in range(50)]  # not randomised
    with database.write() as s:
        assert not request_ingest.ingest(s, principal, logs, max_batch=10_000)["errors"]
    return pid, raw


def test_pass_fail_adds_proportions_and_categorical_gets_a_rank_test_not_a_verdict(database, principal,  # noqa: ANN001
                                                                                   experiment):
    pid, raw = experiment
    with database.read() as s:
        v = experiments.view(s, principal, pid, "production")
    by_metric = {c["metric"]: c for c in v["comparisons"] if c["candidate"] == 2}
    helpful, safe = by_metric["有用性"], by_metric["safe"]

    assert helpful["verdict"] == "unsupported" and helpful["shown"] is None and helpful["score_type"] == "categorical"
    assert "no verdict" in helpful["text"] and v["winner"] is None  # the primary metric cannot name a winner
    ref = mannwhitneyu(raw[1]["有用性"], raw[2]["有用性"], alternative="two-sided", method="asymptotic")
    rank = helpful["rank_test"]
    assert (rank["n1"], rank["n2"]) == (200, 200)  # the staff segment's 50 requests are left out
    assert rank["u"] == pytest.approx(ref.statistic) and rank["p"] == pytest.approx(ref.pvalue, abs=1e-9)
    assert (rank["median_baseline"], rank["median_candidate"]) == (3, 4) and rank["superiority"] > 0.5

    assert safe["verdict"] in ("better", "no_difference") and safe["score_type"] == "boolean"
    x1, x2 = sum(raw[1]["safe"]) // 100, sum(raw[2]["safe"]) // 100
    props = safe["proportions"]
    assert (props["baseline"]["successes"], props["candidate"]["successes"]) == (x1, x2)
    low, high = proportion_confint(x2, 200, method="wilson")
    assert (props["candidate"]["ci_low"], props["candidate"]["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    z, p = proportions_ztest([x2, x1], [200, 200])
    assert props["test"]["p"] == pytest.approx(p) and props["test"]["diff"] == pytest.approx((x2 - x1) / 200)
    assert safe["diff"] == pytest.approx((x2 - x1) / 2)  # the sequential test's difference, in points of 0-100


def test_experiment_page_says_why_there_is_no_verdict(ui, experiment):  # noqa: ANN001
    pid, _ = experiment
    page = ui("viewer", lang="ja").get(f"/ui/prompts/{pid}/labels/production/experiment").text
    assert "判定なし: 逐次検定は平均を比べますが" in page
    assert "順位検定（Mann-Whitney、固定サンプル）: 中央値 3 → 4" in page and "合格率 " in page


def test_a_ramp_cannot_be_guarded_by_a_categorical_score(database, principal, experiment):  # noqa: ANN001
    from promptyard.errors import InvalidInput
    from promptyard.services import ramps

    pid, _ = experiment
    with database.write() as s, pytest.raises(InvalidInput) as refused:
        ramps.start(s, principal, pid, "production", {"candidate": 2, "baseline": 1, "guard": {
            "metric": "有用性", "margin": 1}}, reason="ramp")
    assert "categorical" in refused.value.message and "カテゴリ" in refused.value.text("ja")
