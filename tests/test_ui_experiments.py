"""Experiment pages: a label's policy, results with intervals, verdicts in both languages,
editing the split, promote and roll back - with roles checked."""

from __future__ import annotations

import random

import pytest

from promptyard.services import labels, prompts, versions
from tests.test_experiments import record
from tests.ui_support import ui  # noqa: F401

POLICY = {"sticky_key": "user_id", "split": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}],
          "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 3}]}


@pytest.fixture()
def experiment(database, principal):  # noqa: ANN001, ANN201
    with database.write() as s:
        pid = prompts.create(s, principal, name=f"reply-{random.randrange(10**6)}").id
        for i in range(1, 4):
            versions.publish(s, principal, pid, {"messages": [{"role": "user", "content": f"v{i} {{q}}"}],
                                                 "commit_message": f"v{i}"})
        labels.move(s, principal, pid, "production", version=1, reason="baseline")
        labels.move(s, principal, pid, "production", policy=POLICY, reason="try v2")
    rng = random.Random(7)
    for _ in range(40):
        record(database, principal, pid, 1, scores={"correct": rng.gauss(70, 5)})
        record(database, principal, pid, 2, scores={"correct": rng.gauss(80, 5)})
    for _ in range(3):
        record(database, principal, pid, 3, rule="segment:staff", scores={"correct": 90.0})
    return pid


def test_experiment_page_shows_policy_results_and_verdict(ui, experiment):
    client = ui("viewer")
    page = client.get(f"/ui/prompts/{experiment}/labels/production/experiment")
    assert page.status_code == 200, page.text
    text = page.text
    assert "sticky by user_id" in text and "staff" in text and "v1 90%" in text and "v2 10%" in text
    assert "v2 is better on correct by" in text and "p &lt; 0.001" in text
    assert "welch" in text.lower() and "too few samples" in text
    assert "segment:staff" in text  # the per-rule table
    assert "Change the split" not in text  # viewers get no forms
    listing = client.get("/ui/experiments").text
    assert f"/ui/prompts/{experiment}/labels/production/experiment" in listing, listing[-3000:]


def test_verdicts_in_japanese(ui, experiment):
    client = ui("viewer", lang="ja")
    text = client.get(f"/ui/prompts/{experiment}/labels/production/experiment").text
    assert "v2 は correct で" in text and "良い" in text and "サンプルが少なすぎて" in text
    # The service's English warnings and test names do not leak into the Japanese page.
    assert "too few samples" not in text and "welch_t" not in text and "ウェルチの t 検定" in text


def test_missing_baseline_is_warned_in_the_users_language(ui, experiment):
    client = ui("viewer", lang="ja")
    text = client.get(f"/ui/prompts/{experiment}/labels/production/experiment?baseline=3").text
    assert "基準バージョン v3 へのリクエストはありません" not in text  # v3 has staff requests
    text = client.get(f"/ui/prompts/{experiment}/labels/production/experiment?baseline=9").text
    assert "基準バージョン v9 へのリクエストはありません" in text and "no requests for the baseline" not in text


def test_edit_split_promote_and_roll_back(ui, experiment, database):
    client = ui("admin")
    base = f"/ui/prompts/{experiment}/labels/production"
    bad = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": "50", "weight_2": "40",
                                              "reason": "more"})
    assert bad.status_code == 422 and "100" in bad.text and 'value="40"' in bad.text
    bad_json = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": "50", "weight_2": "50",
                                                   "segments": "[{oops", "reason": "more"})
    assert bad_json.status_code == 422 and "segments: not valid JSON" in bad_json.text
    ok = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": "50", "weight_2": "50",
                                             "sticky_key": "user_id", "reason": "more traffic"},
                     follow_redirects=False)
    assert ok.status_code == 303
    with database.read() as s:
        label = next(x for x in prompts.get(s, client.principal, experiment).labels if x.name == "production")
    assert label.policy["split"] == [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]
    assert label.policy.get("segments") is None
    no_reason = client.post(f"{base}/promote", data={"csrf_token": client.csrf, "version": "2", "reason": ""})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    promoted = client.post(f"{base}/promote", data={"csrf_token": client.csrf, "version": "2",
                                                    "reason": "v2 is better"}, follow_redirects=False)
    assert promoted.status_code == 303
    with database.read() as s:
        label = next(x for x in prompts.get(s, client.principal, experiment).labels if x.name == "production")
    assert (label.version, label.policy) == (2, None)
    assert "All traffic gets v2" in client.get(f"{base}/experiment").text
    back = client.post(f"{base}/rollback", data={"csrf_token": client.csrf, "reason": "oops"}, follow_redirects=False)
    assert back.status_code == 303
    with database.read() as s:
        label = next(x for x in prompts.get(s, client.principal, experiment).labels if x.name == "production")
    assert label.policy["split"][0]["weight"] == 50
    assert "v2 is better" in client.get(f"/ui/prompts/{experiment}/labels").text  # in the history


def test_roles_on_experiment_actions(ui, experiment):
    editor, viewer = ui("editor"), ui("viewer")
    base = f"/ui/prompts/{experiment}/labels/production"
    refused = editor.post(f"{base}/promote", data={"csrf_token": editor.csrf, "version": "2", "reason": "mine"})
    assert refused.status_code == 403 and "admin" in refused.text
    assert viewer.post(f"{base}/rollback", data={"csrf_token": viewer.csrf, "reason": "x"}).status_code == 403
    assert editor.get(f"/ui/prompts/{experiment}/labels/nope/experiment").status_code == 404


def test_start_and_stop_a_guarded_ramp(ui, experiment, database):
    from promptyard.services import ramps

    client = ui("admin")
    base = f"/ui/prompts/{experiment}/labels/production"
    form = {"csrf_token": client.csrf, "candidate": "2", "baseline": "1", "steps": "10, 50, 100",
            "interval_min": "30", "metric": "correct", "margin": "3", "min_n": "20", "sticky_key": "user_id",
            "reason": "ramp v2"}
    bad = client.post(f"{base}/ramps", data=form | {"steps": "50, 10"})
    assert bad.status_code == 422 and "steps must rise" in bad.text and 'value="50, 10"' in bad.text
    assert client.post(f"{base}/ramps", data=form | {"margin": "lots"}).status_code == 422
    assert client.post(f"{base}/ramps", data=form, follow_redirects=False).status_code == 303
    page = client.get(f"{base}/experiment").text
    assert "running" in page and "10 → 50 → 100%" in page and "v1 90%" in page
    again = client.post(f"{base}/ramps", data=form)
    assert again.status_code == 409 and "already has a running ramp" in again.text
    with database.read() as s:
        ramp_id = ramps.list_ramps(s, client.principal, experiment, "production")[0].id
    viewer = ui("viewer")
    assert "running" in viewer.get(f"{base}/experiment").text  # viewers see ramps, without the forms
    assert viewer.post(f"{base}/ramps/{ramp_id}/stop", data={"csrf_token": viewer.csrf}).status_code == 403
    stopped = client.post(f"{base}/ramps/{ramp_id}/stop", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert stopped.status_code == 303
    with database.read() as s:
        assert ramps.list_ramps(s, client.principal, experiment, "production")[0].state == "stopped"


@pytest.mark.parametrize("typed", ["٢", "²", "2_0", "nan", "inf", "1e999"])
def test_numbers_in_forms_are_ascii_digits_only(ui, experiment, database, typed):
    """int()/float() read '٢' as 2 and 'nan' as a number, and str.isdigit() accepts '²' (which int()
    refuses): the forms take the digits they show and say what they expected for anything else."""
    from promptyard.services import ramps

    client = ui("admin")
    base = f"/ui/prompts/{experiment}/labels/production"
    form = {"csrf_token": client.csrf, "candidate": "2", "baseline": "1", "steps": "10, 50, 100",
            "interval_min": "30", "metric": "correct", "margin": "3", "min_n": "20", "sticky_key": "", "reason": "r"}
    for field in ("candidate", "min_n", "margin", "interval_min", "steps"):
        answer = client.post(f"{base}/ramps", data=form | {field: typed})
        assert answer.status_code == 422 and "the ramp needs numbers" in answer.text, (field, answer.status_code)
    weights = client.post(f"{base}/policy", data={"csrf_token": client.csrf, "weight_1": typed, "weight_2": "50",
                                                  "reason": "r"})
    assert weights.status_code == 422 and "must be a number" in weights.text
    with database.read() as s:
        assert ramps.list_ramps(s, client.principal, experiment, "production") == []


def test_form_numbers_read_ascii_only():
    from promptyard.domain.numbers import ascii_decimal, ascii_int

    assert [ascii_int(t) for t in ("12", " 7 ", "+3", "²", "١٢", "1_0", "-1", "1.0", "")] == \
        [12, 7, None, None, None, None, None, None, None]
    assert ascii_int("0", lo=1, hi=9) is None and ascii_int("10", lo=1, hi=9) is None
    assert [ascii_decimal(t) for t in ("1.5", "-2", ".5", "1e3", "nan", "inf", "1e999", "١.٥", "1,5")] == \
        [1.5, -2.0, 0.5, 1000.0, None, None, None, None, None]


def test_the_page_shows_the_domains_p_value_next_to_the_verdict():
    """The sentence takes the domain's rounding: p = 0.0449 reads 'p = 0.045' beside 'better',
    in both languages (the page used to round it itself, to 'p = 0.04', or 0.045 to 'p = 0.05')."""
    from promptyard.services.experiments import Arm, compare
    from promptyard.web.ui.experiment_pages import verdict_text

    base = [50.0 + (i % 7) for i in range(40)]

    def arms(delta: float) -> tuple[Arm, Arm]:
        a, b = Arm(1, None, requests=40), Arm(2, None, requests=40)
        a.scores["m"], b.scores["m"] = list(base), [v + delta for v in reversed(base)]
        return a, b

    lo, hi = 0.0, 5.0  # the shift at which Welch's p crosses 0.045, from below
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if compare(*arms(mid), "m", 30)["p_value"] > 0.045 else (lo, mid)
    c = compare(*arms(hi), "m", 30)
    assert 0.0449 < c["p_value"] < 0.045 and c["verdict"] == "better"
    assert c["shown"]["p"] == "0.045"
    assert "(p = 0.045)" in verdict_text(c, "en") and "(p = 0.045)" in verdict_text(c, "ja")
