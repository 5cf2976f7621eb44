"""Experiment pages (issue 12): a label's running experiment with its declaration, per-rule arms,
randomised comparisons (always-valid, Holm) and winner, in English and Japanese; declaring,
editing the split, promoting (the winner by default, force outside the experiment), past
experiments with their frozen evidence; roles checked. Data comes through the real ingest."""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import asdict

import pytest

from promptyard.services import experiment_records, experiments, labels, prompts, request_ingest, versions
from promptyard.store.types import utcnow

SPLIT = {"sticky_key": "user_id", "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]}
STAFF_V2 = SPLIT | {"segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}],
                                  "version": 2}]}


def _prompt(database, principal, policy, declared=None) -> tuple[int, str]:  # noqa: ANN001
    name = f"reply-{uuid.uuid4().hex[:8]}"
    with database.write() as s:
        pid = prompts.create(s, principal, name=name).id
        for i in range(1, 4):
            versions.publish(s, principal, pid, {"messages": [{"role": "user", "content": f"v{i} {{q}}"}],
                                                 "commit_message": f"v{i}"})
        labels.move(s, principal, pid, "production", version=1, reason="baseline")
        experiments.set_policy(s, principal, pid, "production", policy=policy, reason="try v2",
                               declared=declared or {"primary_metric": "q", "hypothesis": "v2 answers better"})
    return pid, name


def serve(database, principal, name: str, quality, users: int = 200, per_user: int = 3,  # noqa: ANN001
          seed: int = 1) -> None:
    """Logs as clients send them (label routed by the server at ingest): `quality(staff, version)`
    is the mean score, `version` being unknown to the client, so the score is drawn per routed
    version by resolving the label the same way the client would."""
    rng = random.Random(seed)
    logs = []
    with database.read() as s:
        for u in range(users):
            meta = {"user_id": f"u{u}", **({"role": "staff"} if u < users // 5 else {})}
            served = labels.resolve(s, principal, name, label="production", metadata=meta).version.number
            for _ in range(per_user):
                value = min(100.0, max(0.0, rng.gauss(quality("role" in meta, served), 10)))
                logs.append({"client_id": str(uuid.uuid4()), "start_time": utcnow().isoformat(), "latency_ms": 100,
                             "input": {"messages": []}, "output": {}, "metadata": meta,
                             "prompt": {"name": name, "label": "production"},
                             "scores": [{"name": "q", "value": value}]})
    with database.write() as s:
        assert request_ingest.ingest(s, principal, logs, max_batch=10000)["accepted"] == len(logs)


@pytest.fixture()
def confounded(database, principal):  # noqa: ANN001, ANN201
    """Staff always get v2 and score higher; v1 and v2 are equally good for everyone else."""
    pid, name = _prompt(database, principal, STAFF_V2)
    serve(database, principal, name, lambda staff, version: 80.0 if staff else 60.0)
    return pid


@pytest.fixture()
def effect(database, principal):  # noqa: ANN001, ANN201
    """A 50/50 sticky split where v2 really scores 12 points higher."""
    pid, name = _prompt(database, principal, SPLIT)
    serve(database, principal, name, lambda staff, version: 60.0 + (12.0 if version == 2 else 0.0))
    return pid


def _view(database, principal, pid):  # noqa: ANN001, ANN202
    with database.read() as s:
        return experiments.view(s, principal, pid, "production")


def _label(database, principal, pid):  # noqa: ANN001, ANN202
    with database.read() as s:
        return next(x for x in prompts.get(s, principal, pid).labels if x.name == "production")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_confounded_segment_is_not_randomised_and_gets_no_verdict(ui, confounded, database, principal):
    view = _view(database, principal, confounded)
    assert [r["randomised"] for r in view["rules"]] == [False, True] and view["winner"] is None
    page = ui("viewer").get(f"/ui/prompts/{confounded}/labels/production/experiment")
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "segment:staff" in text and "not randomised: no comparison" in text
    assert " is better on " not in text and "v2 answers better" in text  # the hypothesis, not a verdict
    assert "analysed per user_id" in text and "Units received" in text  # the split's sample-ratio line
    primary = view["comparisons"][0]
    assert primary["metric"] == "q" and primary["verdict"] == "no_difference"
    assert f"always-valid p = {primary['shown']['p']}" in text
    assert "No winner yet" in text and "Change the split" not in text  # viewers get no forms


def test_real_effect_is_better_with_the_domains_numbers(ui, effect, database, principal):
    view = _view(database, principal, effect)
    c = view["comparisons"][0]
    assert (c["metric"], c["primary"], c["verdict"], view["winner"]) == ("q", True, "better", 2)
    text = _text(ui("viewer").get(f"/ui/prompts/{effect}/labels/production/experiment").text)
    shown = c["shown"]
    assert f"v2 is better on q by {shown['diff']} ± {shown['half']} points (always-valid p" in text
    assert f"+{shown['diff']} ± {shown['half']}" in text and "primary" in text and "guardrail" in text
    assert "planned analysis only" in text and "safe to read at any time" in text and "Holm" in text
    detectable = f"{c['detectable']:.{shown['places']}f}"
    assert f"a true difference of about {detectable} points would be found 80% of the time" in text
    assert "The evidence favours v2." in text
    listing = _text(ui("viewer").get("/ui/experiments").text)
    assert "v2 answers better" in listing


def test_japanese_pages(ui, confounded, effect):
    client = ui("viewer", lang="ja")
    text = _text(client.get(f"/ui/prompts/{confounded}/labels/production/experiment").text)
    assert "ランダム割付なし: 比較しません" in text and "user_id ごとに分析" in text and "常時有効" in text
    assert "について v1 と v2 の差は示されていません" in text and "まだ勝者はいません" in text
    assert "not randomised" not in text and "no difference shown" not in text  # no English leaks through
    text = _text(client.get(f"/ui/prompts/{effect}/labels/production/experiment").text)
    assert "v2 は q で" in text and "良い (常時有効 p" in text and "エビデンスは v2 を支持しています" in text
    assert "80% の確率で検出できます" in text and "Holm" in text


def test_promote_the_winner_then_the_past_experiment_is_frozen(ui, effect, database, principal):
    client = ui("admin")
    base = f"/ui/prompts/{effect}/labels/production"
    page = client.get(f"{base}/experiment").text
    assert '<option value="2" selected>v2 (the winner)</option>' in page
    running = _view(database, principal, effect)
    experiment_id, shown = running["experiment"]["id"], running["comparisons"][0]["shown"]
    promoted = client.post(f"{base}/promote", data={"csrf_token": client.csrf, "version": "",
                                                    "reason": "v2 wins"}, follow_redirects=False)
    assert promoted.status_code == 303, promoted.text
    label = _label(database, principal, effect)
    assert (label.version, label.policy) == (2, None)
    now = _text(client.get(f"{base}/experiment").text)
    assert "This label serves one version, v2" in now and f"#{experiment_id}" in now and "promoted v2" in now
    past = client.get(f"/ui/experiments/{experiment_id}")
    assert past.status_code == 200, past.text
    text = _text(past.text)
    assert "promoted v2" in text and "v2 wins" in text and "forced" not in text and "ended" in text
    assert "frozen" in text and f"by {shown['diff']} ± {shown['half']} points" in text
    assert f"/ui/prompts/{effect}/labels" in past.text  # the label history
    ended = client.post(f"{base}/experiment/declare", data={"csrf_token": client.csrf,
                                                            "experiment_id": str(experiment_id), "hypothesis": "x"})
    assert ended.status_code == 409 and "frozen" in ended.text


def test_promoting_outside_the_experiment_needs_force(ui, effect, database, principal):
    client = ui("admin")
    base = f"/ui/prompts/{effect}/labels/production"
    refused = client.post(f"{base}/promote", data={"csrf_token": client.csrf, "version": "3", "reason": "v3"})
    assert refused.status_code == 409 and "was not in experiment" in refused.text
    assert _label(database, principal, effect).policy is not None
    forced = client.post(f"{base}/promote", data={"csrf_token": client.csrf, "version": "3", "force": "1",
                                                  "reason": "v3 fixes a dosage bug"}, follow_redirects=False)
    assert forced.status_code == 303
    assert _label(database, principal, effect).version == 3
    with database.read() as s:
        record = experiment_records.list_for(s, principal, effect, "production")[0]
    assert record.outcome["kind"] == "promoted" and record.outcome["forced"] is True
    assert "promoted v3 (forced)" in _text(client.get(f"/ui/experiments/{record.id}").text)


def test_no_winner_means_promote_must_name_a_version(ui, confounded):
    client = ui("admin")
    base = f"/ui/prompts/{confounded}/labels/production"
    assert '<option value="" selected>— choose a version —</option>' in client.get(f"{base}/experiment").text
    answer = client.post(f"{base}/promote", data={"csrf_token": client.csrf, "version": "", "reason": "go"})
    assert answer.status_code == 409 and "no winner yet" in answer.text


def test_declaration_form_and_hostile_hypothesis(ui, effect, database, principal):
    client = ui("editor")
    experiment_id = _view(database, principal, effect)["experiment"]["id"]
    base = f"/ui/prompts/{effect}/labels/production"
    form = {"csrf_token": client.csrf, "experiment_id": str(experiment_id),
            "hypothesis": "<script>alert(1)</script> v2 is clearer", "primary_metric": "q",
            "planned_units": "400", "min_effect": "2"}
    bad = client.post(f"{base}/experiment/declare", data=form | {"planned_units": "٤٠٠"})
    assert bad.status_code == 422 and "whole number" in bad.text and 'value="٤٠٠"' in bad.text
    assert client.post(f"{base}/experiment/declare", data=form, follow_redirects=False).status_code == 303
    view = _view(database, principal, effect)
    assert (view["experiment"]["planned_units"], view["experiment"]["min_effect"]) == (400, 2.0)
    page = client.get(f"{base}/experiment").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; v2 is clearer" in page
    for path in (f"/ui/experiments/{experiment_id}", "/ui/experiments"):
        assert "<script>alert(1)</script>" not in client.get(path).text
    c = view["comparisons"][0]
    if c["units_needed"] is not None:  # the plan line, when the service says more units are needed
        assert f"About {c['units_needed']} more units per arm to detect 2 points" in _text(page)


def test_policy_form_declares_the_new_experiment(ui, effect, database, principal):
    client = ui("admin")
    base = f"/ui/prompts/{effect}/labels/production"
    bad = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": "50", "weight_2": "40",
                                              "reason": "more", "hypothesis": "kept"})
    assert bad.status_code == 422 and "100" in bad.text and 'value="40"' in bad.text and ">kept</textarea>" in bad.text
    bad_json = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": "50", "weight_2": "50",
                                                   "segments": "[{oops", "reason": "more"})
    assert bad_json.status_code == 422 and "segments: not valid JSON" in bad_json.text
    bad_effect = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": "50", "weight_2": "50",
                                                     "min_effect": "nan", "reason": "more"})
    assert bad_effect.status_code == 422 and "minimum effect must be a number" in bad_effect.text
    ok = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": "80", "weight_3": "20",
                                             "sticky_key": "user_id", "reason": "try v3", "hypothesis": "v3 is shorter",
                                             "primary_metric": "error_rate", "planned_units": "600",
                                             "min_effect": "1.5"}, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    assert _label(database, principal, effect).policy["split"] == [{"version": 1, "weight": 80},
                                                                   {"version": 3, "weight": 20}]
    view = _view(database, principal, effect)
    declared = {k: view["experiment"][k] for k in ("hypothesis", "primary_metric", "planned_units", "min_effect")}
    assert declared == {"hypothesis": "v3 is shorter", "primary_metric": "error_rate", "planned_units": 600,
                        "min_effect": 1.5}
    with database.read() as s:
        records = experiment_records.list_for(s, principal, effect, "production")
    assert [r.outcome and r.outcome["kind"] for r in records] == [None, "changed"]
    page = _text(client.get(f"{base}/experiment").text)
    assert "policy changed" in page and "v2 answers better" in page and "v3 is shorter" in page


def test_rollback_and_roles(ui, effect, database, principal):
    editor, viewer = ui("editor"), ui("viewer")
    base = f"/ui/prompts/{effect}/labels/production"
    experiment_id = str(_view(database, principal, effect)["experiment"]["id"])
    refused = editor.post(f"{base}/promote", data={"csrf_token": editor.csrf, "version": "2", "reason": "mine"})
    assert refused.status_code == 403 and "admin" in refused.text
    for path, data in ((f"{base}/rollback", {"reason": "x"}), (f"{base}/promote", {"version": "2", "reason": "x"}),
                       (f"{base}/policy", {"weight_1": "100", "reason": "x"}),
                       (f"{base}/experiment/declare", {"experiment_id": experiment_id, "hypothesis": "mine"})):
        assert viewer.post(path, data={"csrf_token": viewer.csrf, **data}).status_code == 403, path
    no_csrf = editor.post(f"{base}/experiment/declare", data={"experiment_id": experiment_id, "hypothesis": "x"})
    assert no_csrf.status_code == 403
    assert editor.get(f"/ui/prompts/{effect}/labels/nope/experiment").status_code == 404
    assert viewer.get("/ui/experiments/999999999").status_code == 404
    assert _view(database, principal, effect)["experiment"]["hypothesis"] == "v2 answers better"
    admin = ui("admin")
    back = admin.post(f"{base}/rollback", data={"csrf_token": admin.csrf, "reason": "oops"}, follow_redirects=False)
    assert back.status_code == 303
    assert (_label(database, principal, effect).version, _label(database, principal, effect).policy) == (1, None)
    assert "rolled back to v1" in _text(admin.get(f"{base}/experiment").text)


def test_start_and_stop_a_guarded_ramp(ui, effect, database):
    from promptyard.services import ramps

    client = ui("admin")
    base = f"/ui/prompts/{effect}/labels/production"
    assert "minimum units per arm" in client.get(f"{base}/experiment").text
    form = {"csrf_token": client.csrf, "candidate": "2", "baseline": "1", "steps": "10, 50, 100",
            "interval_min": "30", "metric": "q", "margin": "3", "min_n": "20", "sticky_key": "user_id",
            "reason": "ramp v2"}
    bad = client.post(f"{base}/ramps", data=form | {"steps": "50, 10"})
    assert bad.status_code == 422 and "steps must rise" in bad.text and 'value="50, 10"' in bad.text
    assert client.post(f"{base}/ramps", data=form | {"margin": "lots"}).status_code == 422
    assert client.post(f"{base}/ramps", data=form, follow_redirects=False).status_code == 303
    page = client.get(f"{base}/experiment").text
    assert "running" in page and "10 → 50 → 100%" in page
    again = client.post(f"{base}/ramps", data=form)
    assert again.status_code == 409 and "already has a running ramp" in again.text
    with database.read() as s:
        ramp_id = ramps.list_ramps(s, client.principal, effect, "production")[0].id
    viewer = ui("viewer")
    assert viewer.post(f"{base}/ramps/{ramp_id}/stop", data={"csrf_token": viewer.csrf}).status_code == 403
    stopped = client.post(f"{base}/ramps/{ramp_id}/stop", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert stopped.status_code == 303
    with database.read() as s:
        assert ramps.list_ramps(s, client.principal, effect, "production")[0].state == "stopped"


@pytest.mark.parametrize("typed", ["٢", "²", "2_0", "nan", "inf", "1e999"])
def test_numbers_in_forms_are_ascii_digits_only(ui, database, principal, typed):
    """int()/float() read '٢' as 2 and 'nan' as a number, and str.isdigit() accepts '²' (which int()
    refuses): the forms take the digits they show and say what they expected for anything else."""
    from promptyard.services import ramps

    pid, _ = _prompt(database, principal, SPLIT)
    client = ui("admin")
    base = f"/ui/prompts/{pid}/labels/production"
    form = {"csrf_token": client.csrf, "candidate": "2", "baseline": "1", "steps": "10, 50, 100",
            "interval_min": "30", "metric": "q", "margin": "3", "min_n": "20", "sticky_key": "", "reason": "r"}
    for field in ("candidate", "min_n", "margin", "interval_min", "steps"):
        answer = client.post(f"{base}/ramps", data=form | {field: typed})
        assert answer.status_code == 422 and "the ramp needs numbers" in answer.text, (field, answer.status_code)
    weights = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": typed, "weight_2": "50",
                                                  "reason": "r"})
    assert weights.status_code == 422 and "must be a number" in weights.text
    units = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": "50", "weight_2": "50",
                                                "planned_units": typed, "reason": "r"})
    assert units.status_code == 422 and "planned units must be a whole number" in units.text
    with database.read() as s:
        assert ramps.list_ramps(s, client.principal, pid, "production") == []


def test_form_numbers_read_ascii_only():
    from promptyard.domain.numbers import ascii_decimal, ascii_int

    assert [ascii_int(t) for t in ("12", " 7 ", "+3", "²", "١٢", "1_0", "-1", "1.0", "")] == \
        [12, 7, None, None, None, None, None, None, None]
    assert ascii_int("0", lo=1, hi=9) is None and ascii_int("10", lo=1, hi=9) is None
    assert [ascii_decimal(t) for t in ("1.5", "-2", ".5", "1e3", "nan", "inf", "1e999", "١.٥", "1,5")] == \
        [1.5, -2.0, 0.5, 1000.0, None, None, None, None, None]


def test_the_page_shows_the_domains_p_value_next_to_the_verdict():
    """The sentence takes the domain's rounding: an always-valid p of 0.0449 reads 'p = 0.045'
    beside 'better', in both languages (rounding it here would read 'p = 0.04', or 0.045 'p = 0.05');
    the fixed-horizon p, given without a `shown`, follows the same rule."""
    from promptyard.domain.stats import p_shown, shown_effect
    from promptyard.web.ui.experiment_pages import p_of, signed_diff, verdict_text

    p = 0.04496
    c = {"candidate": 2, "baseline": 1, "metric": "q", "primary": True, "verdict": "better", "diff": 3.04,
         "units_baseline": 40, "units_candidate": 40, "shown": asdict(shown_effect(3.04, 3.0, p)),
         "fixed": {"ci_low": 1.0, "ci_high": 5.0, "p": p, "p_shown": p_shown(p)}}
    assert c["shown"]["p"] == "0.045"
    assert "(always-valid p = 0.045)" in verdict_text(c, "en") and "(常時有効 p = 0.045)" in verdict_text(c, "ja")
    assert p_of(c["fixed"]["p_shown"]) == "p = 0.045" and p_of(p_shown(0.0004)) == "p < 0.001"
    assert signed_diff(c) == "+3.0 ± 3.0" and signed_diff(c | {"diff": -3.04}) == "-3.0 ± 3.0"


def test_warnings_are_translated_from_their_codes(ui, effect, database, principal):
    with database.read() as s:
        codes = [w["code"] for w in experiments.view(s, principal, effect, "production", baseline=3)["warnings"]]
    assert codes == ["baseline_not_in_policy", "nothing_randomised"]
    path = f"/ui/prompts/{effect}/labels/production/experiment?baseline=3"
    text = _text(ui("viewer").get(path).text)
    assert "The baseline v3 is not served by this policy" in text and "nothing is compared" in text
    ja = _text(ui("viewer", lang="ja").get(path).text)
    assert "基準 v3 はこのポリシーで配信されていない" in ja and "ランダムに分けるルールがありません" in ja
    assert "baseline_not_in_policy" not in ja and "nothing_randomised" not in ja


def test_a_sample_ratio_mismatch_withholds_the_verdict_in_both_languages():
    """The warning and the withheld verdict, from the service's fields (a broken assignment is
    not something the real router produces, so these are the dict's shapes as the contract gives)."""
    from promptyard.web.ui.experiment_pages import verdict_text, warning_text

    warning = {"code": "sample_ratio_mismatch", "rule": "split", "p": 1e-9, "p_shown": "< 0.001"}
    assert warning_text(warning, "en") == ("The traffic split does not match the policy in rule split (p < 0.001): "
                                           "verdicts withheld.")
    assert "ルール split" in warning_text(warning, "ja") and "判定は保留" in warning_text(warning, "ja")
    c = {"candidate": 2, "baseline": 1, "metric": "q", "primary": True, "verdict": "withheld", "diff": 3.0,
         "units_baseline": 90, "units_candidate": 40, "shown": None}
    assert verdict_text(c, "en") == "no verdict: the traffic split does not match the policy"
    assert "判定を保留" in verdict_text(c, "ja")
    assert warning_text({"code": "something_new"}, "ja") == "something_new"  # a code the UI does not know yet


DECISION_FORMS = ("/promote", "/rollback", "/ramps", "/policy")


@pytest.mark.parametrize(("role", "label", "forms"), [
    ("viewer", "production", False), ("editor", "production", False), ("admin", "production", True),
    ("owner", "production", True), ("editor", "staging", True)])
def test_decision_forms_only_for_who_may_move_the_label(ui, database, principal, role, label, forms):  # noqa: ANN001
    """Promote / Roll back / Ramp / Split post to the label's move: only shown where the server takes them."""
    pid, _ = _prompt(database, principal, SPLIT)
    if label != "production":
        with database.write() as s:
            experiments.set_policy(s, principal, pid, label, policy=SPLIT, reason="try", version=1)
    client = ui(role, lang="ja")
    page = client.get(f"/ui/prompts/{pid}/labels/{label}/experiment").text
    actions = re.findall(r'<form method="post" action="([^"]+)"', page)
    shown = [a for a in actions if a.endswith(DECISION_FORMS)]
    assert len(shown) == (4 if forms else 0), actions
    assert ('id="decide-admin-only"' in page) == (role == "editor" and not forms)
    if role == "editor" and not forms:
        assert "管理者だけです" in page
        for path in DECISION_FORMS:  # and the server still refuses what the page no longer offers
            answer = client.post(f"/ui/prompts/{pid}/labels/{label}{path}", follow_redirects=False,
                                 data={"csrf_token": client.csrf, "reason": "r", "version": "2", "weight_1": "50",
                                       "weight_2": "50", "candidate": "2", "baseline": "1", "steps": "10, 100",
                                       "interval_min": "5", "metric": "error_rate", "margin": "5", "min_n": "30"})
            assert answer.status_code == 403, (path, answer.status_code)
