"""Hostile text (names, templates, commit messages, reasons, descriptions) is shown as text on
every registry page: escaped by Jinja2, never interpreted as HTML, never a live link."""

from __future__ import annotations

import uuid

from promptyard.services import labels, prompts, versions

SCRIPT = "<script>window.__xss=1;alert(1)</script>"
IMG = '<img src=x onerror="window.__xss=2;alert(2)">'
BREAK = '"><svg onload=alert(3)>'
JS_URL = "javascript:alert(4)"
RAW = ("<script>window.__xss", "<img src=x", "<svg onload", 'href="javascript:')


def _hostile(database, principal) -> int:  # noqa: ANN001
    with database.write() as s:
        rec = prompts.create(s, principal, name=f"evil {IMG} {uuid.uuid4().hex[:4]}", folder=f"x{IMG}",
                             description=f"{SCRIPT} {JS_URL}", tags=[BREAK])
        for i in range(2):
            versions.publish(s, principal, rec.id, {
                "type": "chat", "commit_message": f"{SCRIPT} commit {i}",
                "messages": [{"role": "system", "content": f"{IMG} {BREAK} {i} {{topic}}", "name": BREAK},
                             {"role": "user", "content": SCRIPT}],
                "tools": [{"type": "function", "function": {"name": "f", "description": IMG}}],
                "model": {"provider": IMG, "name": SCRIPT, "parameters": {BREAK: SCRIPT}}})
        labels.move(s, principal, rec.id, "production", version=2, reason=f"{SCRIPT} {JS_URL}")
    return rec.id


def _clean(html: str) -> None:
    for raw in RAW:
        assert raw not in html, raw
    assert "&lt;script&gt;" in html or "&lt;img" in html


def test_registry_pages_escape_hostile_text(ui, database):
    client = ui("admin", name=f"me {SCRIPT}")
    pid = _hostile(database, client.principal)
    pages = ["/ui/prompts", f"/ui/prompts/{pid}", f"/ui/prompts/{pid}?v=1", f"/ui/prompts/{pid}/diff?left=1&right=2",
             f"/ui/prompts/{pid}/labels", f"/ui/prompts/{pid}/edit", "/ui/settings"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        _clean(answer.text)


def test_preview_and_errors_escape_hostile_input(ui, database):
    client = ui("editor")
    pid = _hostile(database, client.principal)
    form = {"csrf_token": client.csrf, "kind": "chat", "message_count": "1", "role_0": "user",
            "content_0": f"{SCRIPT} {{topic}}", "template_format": "f-string", "parameters": "{}",
            "preview": "1", "var_topic": IMG}
    answer = client.post(f"/ui/prompts/{pid}/edit", data=form)
    assert answer.status_code == 200
    _clean(answer.text)
    bad = client.post(f"/ui/prompts/{pid}/edit", data=form | {"content_0": f"{IMG} {{", "preview": "1"})
    assert bad.status_code == 422
    _clean(bad.text)
    bad_label = client.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": client.csrf, "label": SCRIPT,
                                                                 "version": "1", "reason": IMG})
    assert bad_label.status_code == 422
    _clean(bad_label.text)


def test_hostile_next_and_notice_parameters_are_inert(ui):
    client = ui("viewer")
    answer = client.get(f"/ui/settings?notice={SCRIPT}")
    assert answer.status_code == 200 and "<script>window" not in answer.text
    for target in ("javascript:alert(1)", "//evil.example/ui", "https://evil.example/ui"):
        page = client.get("/ui/login", params={"next": target}, follow_redirects=False)  # logged in: goes on
        assert page.status_code == 303 and page.headers["location"] == "/ui/", target
        switched = client.post("/ui/language", data={"csrf_token": client.csrf, "lang": "en", "next": target},
                               follow_redirects=False)
        assert switched.status_code == 303 and switched.headers["location"] == "/ui/", target


def test_admin_and_experiment_pages_escape_hostile_text(ui, database):
    from promptyard.services import experiments, keys, request_ingest

    client = ui("admin", name=f"me {IMG}")
    pid = _hostile(database, client.principal)
    policy = {"sticky_key": SCRIPT, "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
              "segments": [{"name": SCRIPT, "when": [{"key": IMG, "op": "=", "value": BREAK}], "version": 2}]}
    with database.write() as s:
        experiments.set_policy(s, client.principal, pid, "production", policy=policy, reason=SCRIPT,
                               declared={"hypothesis": f"{SCRIPT} {IMG}"})
        keys.create_key(s, client.principal, name=f"key {SCRIPT}", kind="publishable",
                        allowed_origins=["https://app.example.com"])
        name = prompts.get(s, client.principal, pid).name
        logged = request_ingest.ingest(s, client.principal, [
            {"id": str(uuid.uuid4()), "model": "m", "metadata": {IMG: BREAK, SCRIPT: f"unit {SCRIPT}"},
             "prompt": {"name": name, "label": "production"}, "scores": [{"name": "q", "value": 1.0}]}],
            max_batch=10)
    assert logged["accepted"] == 1 and not logged["warnings"]
    client.post("/ui/invitations", data={"csrf_token": client.csrf, "email": "x@example.com", "role": "viewer"})
    for path in ("/ui/keys", "/ui/members", "/ui/experiments", f"/ui/prompts/{pid}/labels/production/experiment"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        _clean(answer.text)
