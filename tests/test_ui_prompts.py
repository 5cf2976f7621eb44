"""Registry pages in-process: list and folders, create, prompt page, editor, preview, diff,
labels - with roles and workspaces checked on the server."""

from __future__ import annotations

import re
import uuid

import pytest

from promptyard.services import keys, labels, prompts, versions


def _version(content: str = "You answer questions about {topic}.", commit: str = "first") -> dict:
    return {"type": "chat", "messages": [{"role": "system", "content": content},
                                         {"role": "user", "content": "{question}"}],
            "model": {"provider": "openai", "name": "gpt-4o-mini", "parameters": {"temperature": 0.2}},
            "commit_message": commit}


def _prompt(database, principal, name: str | None = None, folder: str | None = "experimental", n: int = 1) -> int:  # noqa: ANN001
    with database.write() as s:
        rec = prompts.create(s, principal, name=name or f"p-{uuid.uuid4().hex[:6]}", folder=folder)
        for i in range(n):
            versions.publish(s, principal, rec.id, _version(f"Version {i + 1} about {{topic}}.", f"commit {i + 1}"))
    return rec.id


def _editor_form(client, content: str, commit: str, **extra) -> dict:  # noqa: ANN001
    return {"csrf_token": client.csrf, "kind": "chat", "message_count": "2", "role_0": "system",
            "content_0": content, "role_1": "user", "content_1": "{question}", "provider": "openai",
            "model": "gpt-4o-mini", "template_format": "f-string", "parameters": '{"temperature": 0.5}',
            "commit_message": commit, **extra}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_preview_warns_on_every_empty_variable(ui, database, lang):
    """A known variable left blank, one only whitespace and one just added (no field yet) are all named."""
    client = ui("editor", lang=lang)
    pid = _prompt(database, client.principal)
    form = _editor_form(client, "About {topic} for {age}, {new_one}.", "", preview="1", var_topic="aspirin",
                        var_question="", var_age="  ")
    page = client.post(f"/ui/prompts/{pid}/edit", data=form)
    assert page.status_code == 200 and 'id="preview"' in page.text
    warning = re.search(r'<p class="warning vars" role="status" id="preview-unfilled">(.*?)</p>', page.text, re.S)
    assert re.findall(r"<code>([^<]+)</code>", warning.group(1)) == ["age", "new_one", "question"]
    assert ("サンプル値が空" if lang == "ja" else "have no sample value") in warning.group(1)
    assert "About aspirin for   , ." in page.text  # rendered, the blanks as they are
    filled = client.post(f"/ui/prompts/{pid}/edit", data=form | {"var_question": "q", "var_age": "3", "var_new_one": "x"})
    assert "preview-unfilled" not in filled.text


def test_create_prompt_in_a_folder_and_list_it(ui):
    client = ui("editor")
    page = client.get("/ui/prompts/new?folder=experimental")
    assert page.status_code == 200 and 'value="experimental"' in page.text
    form = _editor_form(client, "Hello {name}", "first version", name="greeter", folder="experimental/pharmacy",
                        description="says hello", save="1")
    answer = client.post("/ui/prompts/new", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    detail = client.get(answer.headers["location"])
    assert "greeter" in detail.text and "first version" in detail.text and "Prompt created" in detail.text
    listing = client.get("/ui/prompts?folder=experimental")
    assert "greeter" in listing.text and "pharmacy/" in listing.text
    assert "greeter" not in client.get("/ui/prompts?folder=production").text


def test_create_prompt_errors_rerender_the_form(ui, database):
    client = ui("editor")
    _prompt(database, client.principal, name="taken")
    form = _editor_form(client, "Hi", "first", name="taken", folder="", description="", save="1")
    answer = client.post("/ui/prompts/new", data=form)
    assert answer.status_code == 409 and "already exists" in answer.text and 'name="content_0"' in answer.text
    form = _editor_form(client, "Hi {", "first", name="fresh", folder="", description="", save="1")
    answer = client.post("/ui/prompts/new", data=form)
    assert answer.status_code == 422 and "form-error" in answer.text


def test_prompt_page_shows_versions_template_model(ui, database):
    client = ui("viewer")
    pid = _prompt(database, client.principal, n=2)
    page = client.get(f"/ui/prompts/{pid}")
    assert page.status_code == 200
    for text in ("commit 1", "commit 2", "Version 2 about {topic}.", "gpt-4o-mini", "temperature", "tester"):
        assert text in page.text, text
    assert "Version 1 about" in client.get(f"/ui/prompts/{pid}?v=1").text
    assert client.get(f"/ui/prompts/{pid}?v=9").status_code == 404


def test_editor_flow_creates_version_2_and_requires_a_commit_message(ui, database):
    client = ui("editor")
    pid = _prompt(database, client.principal)
    page = client.get(f"/ui/prompts/{pid}/edit")
    assert page.status_code == 200 and "Version 1 about {topic}." in page.text
    missing = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(client, "New {topic}", "", save="1"))
    assert missing.status_code == 422 and "commit message is required" in missing.text
    assert "New {topic}" in missing.text  # the edit is kept
    saved = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(client, "New {topic}", "shorter", save="1"),
                        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("v=2&notice=version_saved")
    with database.read() as s:
        v2 = versions.get(s, client.principal, pid, 2)
    assert v2.commit_message == "shorter" and v2.author == client.email and v2.parameters == {"temperature": 0.5}
    same = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(client, "New {topic}", "again", save="1"))
    assert same.status_code == 409 and "identical to version 2" in same.text


def test_editor_add_and_remove_messages_without_js(ui, database):
    client = ui("editor")
    pid = _prompt(database, client.principal)
    more = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(client, "x", "", add_message="1"))
    assert more.status_code == 200 and 'name="content_2"' in more.text
    form = _editor_form(client, "only user stays", "drop system", remove_0="1", save="1")
    assert client.post(f"/ui/prompts/{pid}/edit", data=form, follow_redirects=False).status_code == 303
    with database.read() as s:
        assert [m["role"] for m in versions.get(s, client.principal, pid, 2).template["messages"]] == ["user"]


def test_preview_renders_with_samples_and_shows_errors(ui, database):
    client = ui("editor")
    pid = _prompt(database, client.principal)
    ok = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(
        client, "About {topic}.", "", preview="1", var_topic="aspirin", var_question="dose?"))
    assert ok.status_code == 200 and "About aspirin." in ok.text and 'id="preview"' in ok.text
    assert "preview-unfilled" not in ok.text
    broken = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(client, "About {topic", "", preview="1"))
    assert broken.status_code == 422 and "preview-error" in broken.text
    jinja = _editor_form(client, "{{ ''.__class__.__mro__ }}", "", preview="1", template_format="jinja2")
    assert client.post(f"/ui/prompts/{pid}/edit", data=jinja).status_code == 422
    bad_json = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(client, "x", "c", save="1",
                                                                         parameters="{temperature: 1"))
    assert bad_json.status_code == 422 and "parameters: not valid JSON" in bad_json.text
    with database.read() as s:
        assert prompts.get(s, client.principal, pid).latest_version == 1


def test_diff_side_by_side(ui, database):
    client = ui("viewer")
    pid = _prompt(database, client.principal, n=1)
    with database.write() as s:
        spec = _version("Version 2 about {topic}.", "v2") | {"model": {"provider": "openai", "name": "gpt-4o",
                                                                         "parameters": {"temperature": 0.7}}}
        versions.publish(s, client.principal, pid, spec)
    page = client.get(f"/ui/prompts/{pid}/diff")
    assert page.status_code == 200
    assert re.search(r'<tr class="replace">.*Version <del>1</del> about.*Version <ins>2</ins> about', page.text, re.S)
    assert "parameters.temperature" in page.text and "gpt-4o" in page.text
    assert "0.7" in client.get(f"/ui/prompts/{pid}/diff?left=2&right=1").text
    assert client.get(f"/ui/prompts/{pid}/diff?left=1&right=7").status_code == 404


def test_label_move_with_reason_and_history(ui, database):
    client = ui("admin")
    pid = _prompt(database, client.principal, n=2)
    no_reason = client.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": client.csrf, "label": "production",
                                                                "version": "1", "reason": ""})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    answer = client.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": client.csrf, "label": "production",
                                                             "version": "1", "reason": "proven"},
                         follow_redirects=False)
    assert answer.status_code == 303
    client.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": client.csrf, "label": "production",
                                                    "version": "2", "reason": "better answers"})
    page = client.get(f"/ui/prompts/{pid}/labels")
    assert "better answers" in page.text and "proven" in page.text and client.email in page.text
    assert client.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": client.csrf, "label": "x",
                                                           "version": "9", "reason": ""}).status_code == 422


def test_roles_are_checked_on_the_server(ui, database):
    viewer, editor = ui("viewer"), ui("editor")
    pid = _prompt(database, viewer.principal, n=2)
    assert "Edit" not in viewer.get(f"/ui/prompts/{pid}").text.split("<main>")[1].split("Versions")[0]
    assert viewer.get(f"/ui/prompts/{pid}/edit").status_code == 403
    assert viewer.get("/ui/prompts/new").status_code == 403
    form = _editor_form(viewer, "x", "c", save="1")
    assert viewer.post(f"/ui/prompts/{pid}/edit", data=form).status_code == 403
    assert viewer.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": viewer.csrf, "label": "staging",
                                                           "version": "1"}).status_code == 403
    move = {"csrf_token": editor.csrf, "label": "production", "version": "2", "reason": "I want to"}
    refused = editor.post(f"/ui/prompts/{pid}/labels", data=move)
    assert refused.status_code == 403 and "admin" in refused.text
    assert editor.post(f"/ui/prompts/{pid}/labels", data=move | {"label": "staging"},
                       follow_redirects=False).status_code == 303


def test_another_workspaces_prompt_is_not_found(ui, database):
    client = ui("admin")
    with database.write() as s:
        other_ws, _ = keys.ensure_workspace(s, f"other-{uuid.uuid4().hex[:6]}")
    other = keys.system_principal(other_ws)
    pid = _prompt(database, other, name="secret-prompt")
    with database.write() as s:
        labels.move(s, other, pid, "staging", version=1)
    for path in (f"/ui/prompts/{pid}", f"/ui/prompts/{pid}/edit", f"/ui/prompts/{pid}/diff",
                 f"/ui/prompts/{pid}/labels"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "secret-prompt" not in answer.text
    assert client.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": client.csrf, "label": "staging",
                                                            "version": "1"}).status_code == 404
    assert "secret-prompt" not in client.get("/ui/prompts").text


def test_rename_move_describe_and_tag(ui, database):
    client = ui("editor")
    pid = _prompt(database, client.principal, name="drafty", folder="experimental")
    form = {"csrf_token": client.csrf, "name": "final", "folder": "production/pharmacy", "description": "done",
            "tags": "a, b"}
    assert client.post(f"/ui/prompts/{pid}/details", data=form, follow_redirects=False).status_code == 303
    with database.read() as s:
        rec = prompts.get(s, client.principal, pid)
    assert (rec.name, rec.folder, rec.description, rec.tags) == ("final", "production/pharmacy", "done", ["a", "b"])
    _prompt(database, client.principal, name="taken")
    clash = client.post(f"/ui/prompts/{pid}/details", data=form | {"name": "taken"})
    assert clash.status_code == 409 and "already exists" in clash.text and 'value="taken"' in clash.text
    viewer = ui("viewer")
    assert viewer.post(f"/ui/prompts/{pid}/details", data=form | {"csrf_token": viewer.csrf}).status_code == 403


def test_malformed_addresses_are_html_404s(ui):
    client = ui("viewer")
    for path in ("/ui/prompts/abc", "/ui/prompts/99999999999", "/ui/prompts/0/diff", "/ui/prompts/1/diff?left=x"):
        answer = client.get(path)
        assert answer.status_code in (404, 422), path
        assert answer.headers["content-type"].startswith("text/html") and "Traceback" not in answer.text


def test_nul_characters_and_files_in_forms_are_refused_on_every_database(ui, database):
    """PostgreSQL cannot store NUL and SQLite would: both refuse it (as the API does), with the
    error page in the user's language instead of a database error. No UI form takes files."""
    client = ui("editor")
    pid = _prompt(database, client.principal)
    answer = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(client, "a\x00b {topic}", "nul", save="1"))
    assert answer.status_code == 422 and "NUL character" in answer.text
    settings = client.post("/ui/settings", data={"csrf_token": client.csrf, "name": "me\x00", "locale": "",
                                                 "time_zone": "UTC"})
    assert settings.status_code == 422 and "NUL character" in settings.text
    upload = client.post(f"/ui/prompts/{pid}/labels/production/policy", data={"csrf_token": client.csrf},
                         files={"weight_1": ("w.txt", b"100")})
    assert upload.status_code == 422 and "does not take files" in upload.text
    with database.read() as s:
        assert prompts.get(s, client.principal, pid).latest_version == 1


def test_numbers_that_only_look_like_digits_are_form_errors(ui, database):
    """'²'.isdigit() is True but int('²') fails: such fields re-render the form, never a 500."""
    client = ui("admin")
    pid = _prompt(database, client.principal, n=2)
    label = client.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": client.csrf, "label": "staging",
                                                            "version": "²", "reason": "r"})
    assert label.status_code == 422 and "choose the version" in label.text
    huge = client.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": client.csrf, "label": "staging",
                                                           "version": "9" * 30, "reason": "r"})
    assert huge.status_code == 422
    assert client.post("/ui/workspace", data={"csrf_token": client.csrf, "workspace_id": "²"}).status_code == 404
    edit = client.post(f"/ui/prompts/{pid}/edit", data=_editor_form(client, "x {topic}", "", base="²", preview="1",
                                                                     var_topic="t", var_question="q"))
    assert edit.status_code == 200


def test_nul_in_the_address_is_refused_not_a_database_error(ui, database):
    client = ui("viewer")
    pid = _prompt(database, client.principal)
    for path in ("/ui/prompts?q=a%00b", "/ui/prompts?folder=%00", f"/ui/prompts/{pid}/labels/a%00b/experiment"):
        answer = client.get(path)
        assert answer.status_code == 422 and "NUL character" in answer.text, path


def test_registry_dates_are_shown_in_the_users_time_zone(ui, database):
    from datetime import datetime, timezone

    from sqlalchemy import update

    from promptyard.store.models import LabelEvent, PromptVersion

    client = ui("editor")
    pid = _prompt(database, client.principal)
    with database.write() as s:
        labels.move(s, client.principal, pid, "staging", version=1, reason="try")
        when = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
        s.execute(update(PromptVersion).where(PromptVersion.prompt_id == pid).values(created_at=when))
        s.execute(update(LabelEvent).where(LabelEvent.prompt_id == pid).values(created_at=when))
    assert "2026-11-20 01:00 UTC" in client.get(f"/ui/prompts/{pid}").text
    client.post("/ui/settings", data={"csrf_token": client.csrf, "name": "me", "locale": "", "time_zone": "Asia/Tokyo"})
    assert "2026-11-20 10:00 JST" in client.get(f"/ui/prompts/{pid}").text
    assert "2026-11-20 10:00 JST" in client.get(f"/ui/prompts/{pid}/labels").text
