"""The Japanese UI in headless Chromium at 1360 and 1024 px: the UI's own short texts (labels,
table headers, buttons) keep their words whole (比較元, 基準, 候補, 失効させる, 応答時間 were once
broken one character per line), measured on the rendered boxes; the key-type radios each start
their own line; a two-character change in a long Japanese line is marked on the diff page."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from tests.browser import new_page
from tests.support import log

pytestmark = pytest.mark.one_database  # the storage is not the subject: SQLite only

LINE = "服薬指導では、患者さんの年齢と体重を確認してから用量を説明し、副作用と飲み合わせについても必ず触れてください。"

# The words of the UI's short texts that the layout broke over two lines: a word runs to a space
# or to Japanese punctuation (、。・ are fair places to break); its characters, as a Range, must
# lie on one line box (one distinct top).
BROKEN_WORDS = """() => {
  const out = [];
  const sel = "label, th, button, legend, .button, summary, dt, h1, h2, h3, .badge, nav a, .verdict";
  for (const el of document.querySelectorAll(sel)) {
    if (!el.getClientRects().length) continue;  // not shown (a closed <details>)
    for (const node of el.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE) continue;
      for (const m of node.textContent.matchAll(/[^\\s、。・]+[、。・]?/g)) {
        const r = document.createRange();
        r.setStart(node, m.index);
        r.setEnd(node, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
        if (tops.size > 1) out.push(m[0]);
      }
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def pages(live):  # noqa: ANN001, ANN201
    """A prompt with three versions (the last changes two characters of a long Japanese line), a
    production split with logs and scores (the experiment page's 基準 / 候補), and its paths."""
    name = f"服薬指導/返信案-{uuid.uuid4().hex[:4]}"
    for text in ("あなたは薬剤師です。\n" + LINE, "あなたは薬剤師です。\n" + LINE + "\n短く答えてください。",
                 "あなたは薬剤師です。\n" + LINE.replace("年齢", "症状") + "\n短く答えてください。"):
        body = {"name": name, "commit_message": "版", "messages": [{"role": "system", "content": text}]}
        pid = live.http.post("/api/v1/publish", json=body).raise_for_status().json()["prompt_id"]
    live.http.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 2, "reason": "基準"}).raise_for_status()
    policy = {"split": [{"version": 2, "weight": 50}, {"version": 3, "weight": 50}]}
    live.http.put(f"/api/v1/prompts/{pid}/labels/production",
                  json={"policy": policy, "reason": "試す", "experiment": {"primary_metric": "q"}}).raise_for_status()
    logs = [log(prompt={"name": name, "version": 2 + i % 2, "label": "production"}, latency_ms=800 + i,
                scores=[{"name": "q", "value": 60 + i % 30}]) for i in range(60)]
    live.http.post("/api/v1/requests", json={"requests": logs}).raise_for_status()
    return {"diff": f"/ui/prompts/{pid}/diff?left=2&right=3", "experiment": f"/ui/prompts/{pid}/labels/production/experiment",
            "keys": "/ui/keys", "requests": f"/ui/requests?prompt={quote(name)}", "analytics": "/ui/analytics",
            "prompts": "/ui/prompts", "labels": f"/ui/prompts/{pid}/labels", "edit": f"/ui/prompts/{pid}/edit",
            "request": "/ui/requests/1", "experiments": "/ui/experiments", "members": "/ui/members",
            "providers": "/ui/providers", "webhooks": "/ui/webhooks", "playground": "/ui/requests/1/playground"}


@pytest.mark.parametrize("width", [1360, 1024])
def test_japanese_words_stay_whole_in_labels_headers_and_buttons(browser, live, pages, width):  # noqa: ANN001
    page = new_page(browser, live, "ja")
    page.set_viewport_size({"width": width, "height": 900})
    broken = {}
    for name, path in pages.items():
        page.goto(live.url + path)
        assert page.get_attribute("html", "lang") == "ja"
        if words := page.evaluate(BROKEN_WORDS):
            broken[name] = words
    assert broken == {}

    page.goto(live.url + pages["diff"])  # the words of the brief, each on one line of its own box
    label = page.locator("label.inline-label", has_text="比較元")
    height, line = page.evaluate("""el => {
        const r = document.createRange(); r.selectNodeContents(el.firstChild);
        return [r.getBoundingClientRect().height, parseFloat(getComputedStyle(el).lineHeight)]; }""",
                                 label.element_handle())
    assert height <= line * 1.2, (height, line)

    page.goto(live.url + pages["keys"])
    scopes = page.locator("input[name=scopes]").last.bounding_box()
    publishable = page.locator("input[name=kind][value=publishable]").bounding_box()
    assert publishable["y"] >= scopes["y"] + scopes["height"]  # its own line, not after the scopes
    page.context.close()


def test_a_two_character_change_in_a_long_japanese_line_is_marked(browser, live, pages):  # noqa: ANN001
    page = new_page(browser, live, "ja")
    page.goto(live.url + pages["diff"])
    row = page.locator("table.diff tr.replace")
    assert row.count() == 1
    assert row.locator("td.l del").all_inner_texts() == ["年齢"]
    assert row.locator("td.r ins").all_inner_texts() == ["症状"]
    marked, plain = page.evaluate("""() => {
        const ins = document.querySelector('table.diff td.r ins'), td = ins.closest('td');
        return [getComputedStyle(ins).backgroundColor, getComputedStyle(td).backgroundColor]; }""")
    assert marked != plain  # the two characters stand out from the changed line's own colour
    page.context.close()
