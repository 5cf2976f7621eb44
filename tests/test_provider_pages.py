"""The Providers admin page: create, edit (the secret write-only), delete, in English and Japanese."""

from __future__ import annotations

import re
import uuid

SECRET = "sk-page-" + "Zx81" * 5 + "end7"


def _create(client, fake_llm, **kw):  # noqa: ANN001, ANN003, ANN202
    name = f"prov-{uuid.uuid4().hex[:6]}"
    form = {"csrf_token": client.csrf, "name": name, "kind": "openai", "base_url": fake_llm.openai_base_url,
            "default_model": "gpt-4o-mini", "headers": "X-Team: pharmacy", "secret_header": "", "secret": SECRET,
            **kw}
    answer = client.post("/ui/providers", data=form, follow_redirects=False)
    return name, answer


def test_an_admin_creates_edits_and_deletes_a_connection(ui, fake_llm):
    client = ui("admin")
    name, answer = _create(client, fake_llm)
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and name in page.text and "X-Team: pharmacy" in page.text
    assert SECRET not in page.text and SECRET[-4:] in page.text  # its last four only
    listing = client.get("/ui/providers")
    assert name in listing.text and SECRET not in listing.text
    edit = re.search(r'action="(/ui/providers/\d+)"', page.text).group(1)
    # A new base URL without the secret: refused, with the reason, nothing changed.
    moved = client.post(edit, data={"csrf_token": client.csrf, "name": name, "kind": "openai",
                                    "base_url": "http://127.0.0.1:9/v1", "default_model": "m", "headers": ""})
    assert moved.status_code == 409 and "secret again" in moved.text
    assert fake_llm.openai_base_url in client.get(edit).text
    saved = client.post(edit, data={"csrf_token": client.csrf, "name": name, "kind": "openai", "secret": "sk-new-key-0000-9999",
                                    "base_url": "http://127.0.0.1:9/v1", "default_model": "m", "headers": ""},
                        follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(edit)
    assert "http://127.0.0.1:9/v1" in page.text and "9999" in page.text and "sk-new-key" not in page.text
    gone = client.post(edit + "/delete", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert gone.status_code == 303 and name not in client.get("/ui/providers").text


def test_refusals_show_in_the_users_language_and_keep_what_was_typed(ui, fake_llm):
    client = ui("admin", lang="ja")
    _, answer = _create(client, fake_llm, base_url="http://169.254.169.254/latest", default_model="typed-model")
    assert answer.status_code == 422
    assert "メタデータ" in answer.text and "typed-model" in answer.text and SECRET not in answer.text
    _, answer = _create(client, fake_llm, headers="no colon here")
    assert answer.status_code == 422 and "名前: 値" in answer.text
    assert "LLM プロバイダー" in client.get("/ui/providers").text


def test_only_admins_see_providers(ui, fake_llm):
    editor = ui("editor")
    assert editor.get("/ui/providers").status_code == 403
    _, answer = _create(editor, fake_llm)
    assert answer.status_code == 403
    assert 'href="/ui/providers"' not in editor.get("/ui/prompts").text
    assert 'href="/ui/providers"' in ui("admin").get("/ui/prompts").text
