"""Screenshots of the main UI pages for docs/ui.md, taken with Playwright in headless Chromium
against a fresh `promptyard serve` filled with example data through the public API.

    .venv/bin/python docs/screenshots/take.py        # writes docs/screenshots/*.png
    .venv/bin/python docs/screenshots/take.py privacy privacy-ja   # only these

(From a worktree, put its src first: PYTHONPATH=src, or the server runs the installed package.)

Japanese pages need a CJK font in the OS (Debian: apt-get install fonts-noto-cjk), or their text
shows as empty boxes.
"""

from __future__ import annotations

import random
import sys
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.browser import ARGS, CHROMIUM  # noqa: E402
from tests.servers import start_server  # noqa: E402

OUT = Path(__file__).parent
NARROW = {"experiment-ja-1024": 1024}  # shots taken at a smaller window width than 1360 px
NAME = "服薬指導/返信案"
SYSTEM = ("You are a pharmacist answering patients' questions about {drug}.\n"
          "Follow the pharmacy manual. Answer in plain words and say when to see a doctor.")


def seed(url: str, key: str) -> int:
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    model = {"provider": "openai", "name": "gpt-4o-mini", "parameters": {"temperature": 0.2, "max_tokens": 400}}
    texts = [SYSTEM, SYSTEM + "\nKeep answers under 120 words.",
             SYSTEM.replace("plain words", "plain, friendly words") + "\nKeep answers under 120 words.\n"
             "End with one safety reminder."]
    for i, (text, commit) in enumerate(zip(texts, ["first version", "shorter answers",
                                                    "add a safety reminder (pharmacist review)"])):
        body = {"name": NAME, "folder": "production/pharmacy", "description": "Replies to patient questions",
                "messages": [{"role": "system", "content": text}, {"role": "user", "content": "{question}"}],
                "model": model | {"parameters": {"temperature": 0.2 if i < 2 else 0.3, "max_tokens": 400}},
                "commit_message": commit}
        pid = api.post("/api/v1/publish", json=body).raise_for_status().json()["prompt_id"]
    for name, folder in (("triage/first-question", "experimental"), ("summaries/visit-note", "experimental"),
                         ("faq/opening-hours", "production")):
        api.post("/api/v1/publish", json={"name": name, "folder": folder, "commit_message": "first version",
                                          "messages": [{"role": "user", "content": "{text}"}]}).raise_for_status()
    api.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 2, "reason": "reviewed by the pharmacy lead"})
    api.put(f"/api/v1/prompts/{pid}/labels/staging", json={"version": 3, "reason": "for review"})
    policy = {"sticky_key": "user_id", "split": [{"version": 2, "weight": 80}, {"version": 3, "weight": 20}],
              "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 3}]}
    api.put(f"/api/v1/prompts/{pid}/labels/production",
            json={"policy": policy, "reason": "try the safety reminder on 20% of patients",
                  "experiment": {"hypothesis": "a closing safety reminder makes replies follow the manual more often",
                                 "primary_metric": "follows_manual", "planned_units": 800}}).raise_for_status()
    rng, logs = random.Random(4), []
    for i in range(400):
        meta = {"user_id": f"u{i}", "role": "staff" if i % 25 == 0 else "patient"}
        got = api.get(f"/api/v1/fetch/{quote(NAME, safe='')}", params={"label": "production", **{
            f"meta.{k}": v for k, v in meta.items()}}).raise_for_status().json()
        v = got["version"]["number"]
        score = min(100, max(0, rng.gauss(72 if v == 2 else 79, 12)))
        at = datetime.now(timezone.utc)  # after the split started: the experiment counts it
        logs.append({"id": str(uuid.uuid4()), "provider": "openai", "model": "gpt-4o-mini", "start_time": at.isoformat(),
                     "end_time": (at + timedelta(seconds=rng.uniform(0.6, 2.4))).isoformat(),
                     "input": {"messages": [{"role": "user", "content": "この薬は食後に飲みますか?"}]},
                     "output": {"text": "はい、食後に服用してください。"}, "metadata": meta,
                     "usage": {"input_tokens": 300, "output_tokens": rng.randint(80, 200)},
                     "status": "error" if rng.random() < 0.02 else "ok",
                     "scores": [{"name": "follows_manual", "value": round(score)}],
                     "prompt": {"name": NAME, "version": v, "label": "production"},
                     "routing": {"label": "production", "rule": got["routing"]["rule"], "unit": meta["user_id"]}})
    api.post("/api/v1/requests", json={"requests": logs + before_the_experiment(NAME, rng)}).raise_for_status()
    return pid


def before_the_experiment(name: str, rng: random.Random) -> list[dict]:
    """Two weeks of production traffic on v2 before the split started today (for the trends)."""
    now, logs = datetime.now(timezone.utc), []
    for day in range(1, 14):
        for _ in range(rng.randint(18, 30)):
            at = now - timedelta(days=day, hours=rng.uniform(0, 20))
            logs.append({"id": str(uuid.uuid4()), "provider": "openai", "model": "gpt-4o-mini",
                         "start_time": at.isoformat(), "end_time": (at + timedelta(seconds=rng.uniform(0.6, 2.4))).isoformat(),
                         "input": {"messages": [{"role": "user", "content": "飲み忘れたときはどうしますか?"}]},
                         "output": {"text": "気づいたときに 1 回分を飲んでください。"}, "metadata": {"role": "patient"},
                         "usage": {"input_tokens": 300, "output_tokens": rng.randint(80, 200)},
                         "status": "error" if rng.random() < 0.02 else "ok",
                         "scores": [{"name": "follows_manual", "value": round(min(100, max(0, rng.gauss(72, 12))))}],
                         "prompt": {"name": name, "version": 2, "label": "production"}})
    return logs


def main() -> None:
    from playwright.sync_api import sync_playwright

    live = start_server(Path(tempfile.mkdtemp()))
    try:
        pid = seed(live.url, live.api_key)
        shots = [("en", "login", "/ui/login", None), ("en", "prompts", "/ui/prompts", None),
                 ("en", "prompt", f"/ui/prompts/{pid}", None), ("en", "editor", f"/ui/prompts/{pid}/edit", "preview"),
                 ("en", "diff", f"/ui/prompts/{pid}/diff?left=1&right=3", None),
                 ("en", "labels", f"/ui/prompts/{pid}/labels", None),
                 ("en", "experiment", f"/ui/prompts/{pid}/labels/production/experiment", None),
                 ("en", "keys", "/ui/keys", None), ("en", "members", "/ui/members", None),
                 ("en", "privacy", "/ui/privacy", None), ("ja", "privacy-ja", "/ui/privacy", None),
                 ("ja", "prompt-ja", f"/ui/prompts/{pid}", None),
                 ("ja", "experiment-ja", f"/ui/prompts/{pid}/labels/production/experiment", None),
                 ("en", "analytics", f"/ui/analytics?prompt={quote(NAME)}&days=14", None),
                 ("ja", "analytics-ja", f"/ui/analytics?prompt={quote(NAME)}&days=14", None),
                 ("ja", "diff-ja", f"/ui/prompts/{pid}/diff?left=1&right=3", None),
                 ("ja", "keys-ja", "/ui/keys", None),
                 ("ja", "experiment-ja-1024", f"/ui/prompts/{pid}/labels/production/experiment", None)]
        wanted = set(sys.argv[1:])  # names of shots to retake (default: all)
        shots = [shot for shot in shots if not wanted or shot[1] in wanted]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            for lang in ("en", "ja"):
                context = browser.new_context(locale="ja-JP" if lang == "ja" else "en-US",
                                              viewport={"width": 1360, "height": 900}, timezone_id="Asia/Tokyo")
                page = context.new_page()
                page.goto(live.url + "/ui/login")
                if lang == "en" and (not wanted or "login" in wanted):
                    page.screenshot(path=str(OUT / "login.png"))
                page.fill("input[name=email]", live.admin_email)
                page.fill("input[name=password]", live.admin_password)
                page.click("form[action='/ui/login'] button")
                page.wait_for_url("**/ui/prompts")
                if lang == "en":  # dates in the screenshots in Japan's time zone
                    page.goto(live.url + "/ui/settings")
                    page.select_option("select[name=time_zone]", "Asia/Tokyo")
                    page.click("form[action='/ui/settings'] button.primary")
                for shot_lang, name, path, action in shots:
                    if shot_lang != lang or name == "login":
                        continue
                    page.set_viewport_size({"width": NARROW.get(name, 1360), "height": 900})
                    page.goto(live.url + path)
                    if action == "preview":
                        page.fill("textarea[name=var_drug]", "loxoprofen")
                        page.fill("textarea[name=var_question]", "Can I take it before meals?")
                        page.click("button[name=preview]")
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                    print("wrote", OUT / f"{name}.png")
                context.close()
            browser.close()
    finally:
        live.stop()


if __name__ == "__main__":
    main()
