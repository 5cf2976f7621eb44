"""Issue 16's proof, the whole evaluation loop in headless Chromium against a real `promptyard serve`,
done only through the browser the way a PdM or a pharmacist would (setup alone goes through the API:
the production prompt and its logged, scored requests):

an admin adds a provider connection to the fake provider; a dataset is made from a filter over the
request log (`score.medically_correct < 60`); a worse candidate is written in the editor and run beside
the baseline with an LLM judge, the page following the run live until it finishes; the comparison
shows the paired interval and the items that got worse first; a gate on `production` refuses to
promote the worse candidate and says why; a better candidate is written and run, and promoting it
passes; the label's page shows the decision with the runs it rests on.

The fake provider (tests/fakes/llm.py) echoes each version's user message, and its `judge-*` models
grade an answer by the checklist in the judge's prompt: so each version's instructions decide its
scores, and the questions (which the echo repeats) make them differ from item to item.
"""

from __future__ import annotations

import re
import uuid

import pytest

from promptyard.services import keys
from tests.browser import dataset_from_filter, new_page
from tests.support import log
from tests.ui_support import PASSWORD, make_user

pytestmark = pytest.mark.browser  # on both databases in English, on SQLite in Japanese

CHECKLIST = "dose, meals, doctor"
BASELINE = "{question}\nGive the dose and say whether to take it with meals."
WORSE = "{question}\nBe brief."
BETTER = "{question}\nGive the dose, say whether to take it with meals, and when to see a doctor."
# Pharmacists scored these production answers low (medically_correct < 60): the regression set.
LOW = ["How much ibuprofen can I take?", "Can I take loxoprofen before meals?", "What dose of aspirin is safe?",
       "Should I call a doctor about a rash?", "Is a double dose okay after meals?",
       "My child has a fever; when do we see a doctor?"]
HIGH = ["Can I drink alcohol with this?", "Where do I keep insulin?"]

TEXTS = {
    "en": {"dataset_saved": "A new version of the dataset was saved.", "refused": "gate refuses", "moved": "Label moved."},
    "ja": {"dataset_saved": "データセットの新しいバージョンを保存しました。", "refused": "ゲート", "moved": "ラベルを移動しました。"},
}


def _production_logs(live, prompt: str, mark: str) -> None:  # noqa: ANN001
    logs = [log(metadata={"batch": mark}, start_time=f"2026-11-20T10:00:{i:02d}Z", end_time=None,
                prompt={"name": prompt, "label": "production", "variables": {"question": q}},
                input={"messages": [{"role": "user", "content": q}]}, output={"text": f"answer to {q}"},
                scores=[{"name": "medically_correct", "value": 30 + 5 * i if q in LOW else 90}])
            for i, q in enumerate(LOW + HIGH)]
    answer = live.http.post("/api/v1/requests", json={"requests": logs})
    assert answer.status_code == 200 and answer.json()["accepted"] == len(logs), answer.text


def _new_version(page, live, prompt_id: int, user_text: str, message: str) -> None:  # noqa: ANN001
    page.goto(f"{live.url}/ui/prompts/{prompt_id}/edit")
    page.fill("textarea[name=content_1]", user_text)
    page.fill("input[name=commit_message]", message)
    page.click("button[name=save]")
    page.wait_for_url(re.compile(r".*notice=version_saved$"))


def _promote(page, version: int, reason: str) -> None:  # noqa: ANN001
    """Move production to `version` from the labels page (the page it lands on is left to the caller)."""
    form = page.locator("form[action$='/labels']")
    form.locator("input[name=label]").fill("production")
    form.locator("select[name=version]").select_option(str(version))
    form.locator("input[name=reason]").fill(reason)
    form.locator("button.primary").click()
    page.wait_for_load_state()


def _run(page, dataset_url: str, name: str, variants: str, provider: str, judge: str) -> str:  # noqa: ANN001
    """Start a run from the dataset's page and follow it live until it finishes; the run page's URL."""
    page.goto(dataset_url)
    page.click("#evaluate")
    form = page.locator("#new-run")
    form.locator("input[name=name]").fill(name)
    form.locator("select[name=provider]").select_option(label=f"{provider} (openai)")
    form.locator("textarea[name=variants]").fill(variants)
    form.locator("input[name=scorer][value=exact_match]").uncheck()
    form.locator("input[name=judge]").fill(judge)
    form.locator("input[name=judge_name]").fill("medically_correct")
    form.locator("button").click()
    page.wait_for_url(re.compile(r".*/ui/evaluations/\d+\?notice=evaluation_started$"))
    page.wait_for_selector("#run-progress:not([data-poll])", timeout=60_000)  # evaluations.js reloads it when done
    assert page.locator("#run-progress .status-done").count() == 1, page.inner_text("#run-progress")
    return page.url.split("?")[0]


def _login(database, live) -> dict[str, str]:  # noqa: ANN001
    """Who logs in: the first-run owner on SQLite; on PostgreSQL an owner made in the workspace of the
    server's key (tests/servers.start_live gives each PostgreSQL server a workspace of its own; a first-run
    login it printed belongs to the default workspace)."""
    if database.kind == "sqlite":
        return {}
    with database.write() as s:
        principal, _ = keys.authenticate(s, live.api_key)
    return {"email": make_user(database, principal, "owner"), "password": PASSWORD}


@pytest.mark.parametrize("lang", ["en", pytest.param("ja", marks=pytest.mark.one_database)])
def test_the_evaluation_loop_in_the_browser(browser, database, live, fake_llm, lang):  # noqa: ANN001
    mark = uuid.uuid4().hex[:6]
    prompt = f"pharmacy/answer-{lang}-{mark}"
    made = live.http.post("/api/v1/publish", json={
        "name": prompt, "commit_message": "baseline", "labels": ["production"],
        "messages": [{"role": "system", "content": "You are a careful pharmacist."}, {"role": "user", "content": BASELINE}]})
    assert made.status_code in (200, 201), made.text
    prompt_id = made.json()["prompt_id"]
    _production_logs(live, prompt, mark)
    page = new_page(browser, live, lang, **_login(database, live))

    # 2. The admin connects the fake provider.
    page.click("nav.main a[href='/ui/providers']")
    provider = f"fake-{lang}-{mark}"
    page.fill("input[name=name]", provider)
    page.fill("input[name=base_url]", fake_llm.openai_base_url)
    page.fill("input[name=default_model]", "gpt-4o-mini")
    page.fill("input[name=secret]", "sk-fake-" + mark)
    page.click("form[action='/ui/providers'] button.primary")
    page.wait_for_url(re.compile(r".*/ui/providers/\d+\?notice=provider_saved$"))

    # 3. A dataset of the production answers pharmacists scored low.
    dataset = f"regression-{lang}-{mark}"
    dataset_from_filter(page, live, f'metadata.batch = "{mark}" and score.medically_correct < 60', dataset)
    assert TEXTS[lang]["dataset_saved"] in page.inner_text("main")
    dataset_url = page.url.split("?")[0]
    items = page.inner_text("#items")
    assert all(q in items for q in LOW) and not any(q in items for q in HIGH)

    # The judge: a registry prompt with a rubric, on the fake's checklist judge model.
    judge = f"judges/medical-{lang}-{mark}"
    page.goto(live.url + "/ui/prompts/new")
    page.fill("input[name=name]", judge)
    page.fill("textarea[name=content_0]", f"Grade the pharmacist's answer from 1 to 5.\nChecklist: {CHECKLIST}")
    page.fill("textarea[name=content_1]", "Question: {input}\nAnswer: {output}")
    page.fill("input[name=model]", "judge-checklist")
    page.fill("input[name=commit_message]", "checklist rubric")
    page.click("button[name=save]")
    page.wait_for_url(re.compile(r".*/ui/prompts/\d+\?notice=prompt_created$"))

    # 4. A worse candidate (v2: shorter instructions), run beside the baseline (v1) with the judge.
    _new_version(page, live, prompt_id, WORSE, "shorter answers")
    first = _run(page, dataset_url, "worse candidate", f"{prompt}@1\n{prompt}@2", provider, judge)
    first_id = first.rsplit("/", 1)[1]
    summary = page.inner_text("#summary")
    assert "67.5" in summary or "78.3" in summary, summary

    # 5. The comparison: the paired interval, the items that got worse first.
    page.locator("form[action$='/evaluations/compare'] button").click()
    page.wait_for_url(re.compile(r".*/ui/evaluations/compare\?.*"))
    row = page.locator("#scores tbody tr").first.inner_text()
    assert "medically_correct" in row and "[" in row, row
    worst = page.locator("#pairs tbody tr").first.inner_text()
    assert "-67.5" in worst, worst

    # 6. A gate on production; promoting the worse candidate is refused, with the reason.
    page.goto(f"{live.url}/ui/prompts/{prompt_id}/labels")
    gate = page.locator("#gate-form")
    gate.locator("input[name=label]").fill("production")
    gate.locator("select[name=dataset]").select_option(label=dataset)
    gate.locator("input[name=score]").fill("medically_correct")
    gate.locator("input[name=max_drop]").fill("2")
    gate.locator("button").click()
    page.wait_for_url(re.compile(r".*/labels\?notice=gate_saved$"))
    assert dataset in page.inner_text("#gates") and "medically_correct" in page.inner_text("#gates")
    _promote(page, 2, "shorter is enough")
    refusal = page.inner_text("#form-error")
    assert TEXTS[lang]["refused"] in refusal and "medically_correct" in refusal, refusal
    assert refusal.count(f"#{first_id}") == 1 and "n = 6" in refusal, refusal  # one run with both versions
    assert page.locator("table").first.locator("td", has_text="v1").count() == 1  # production stays on v1

    # A better candidate (v3), run alone: the gate pairs it with the baseline's earlier run, item by item.
    _new_version(page, live, prompt_id, BETTER, "dose, meals and when to see a doctor")
    second = _run(page, dataset_url, "better candidate", f"{prompt}@3", provider, judge)
    second_id = second.rsplit("/", 1)[1]
    assert "100.0" in page.inner_text("#summary")
    page.goto(f"{live.url}/ui/prompts/{prompt_id}/labels")
    _promote(page, 3, "passes the regression set")
    page.wait_for_url(re.compile(r".*/labels\?notice=label_moved$"))
    assert page.inner_text("p.notice") == TEXTS[lang]["moved"]
    decision = page.locator("#gate-decisions tbody tr").first.inner_text()
    assert "v1" in decision and "v3" in decision and "medically_correct" in decision, decision
    assert f"#{first_id}" in decision and f"#{second_id}" in decision and "+21.7" in decision, decision
    page.locator("#gate-decisions tbody tr").first.locator("a", has_text=re.compile(".+")).last.click()
    page.wait_for_url(re.compile(r".*/ui/evaluations/compare\?.*"))
    assert "+21.7" in page.inner_text("#scores")
    pairs = [r.inner_text() for r in page.locator("#pairs tbody tr").all()]
    assert [p.split()[1] for p in pairs] == ["+0.0"] * 2 + ["+32.5"] * 4, pairs  # an improvement shows as one
    assert page.evaluate("window.__xss") is None and page.dialogs == []
    page.context.close()
