"""Names that could escape a directory or hide from a reader are refused on every surface (API,
PromptLayer publish, UI forms, `prompts push`), and `prompts pull` never writes outside its
directory, even when a server sends such a name."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from promptyard.domain import names
from promptyard.errors import InvalidInput
from tests.conftest import make_key
from tests.support import CHAT, cli

BAD_PROMPT_NAMES = {
    "../../.github/workflows/x": "'..' as a path segment",
    "a/../b": "'..' as a path segment",
    "./x": "'.' as a path segment",
    "a/./b": "'.' as a path segment",
    "..": "'..' as a path segment",
    "/etc/passwd": "'/'",
    "a\\b": "'\\'",
    "..\\..\\x": "'\\'",
    "a\tb": "control character U+0009",
    "zero\u200bwidth": "U+200B",
    "\ufeffbom": "U+FEFF",
    "soft\u00adhyphen": "U+00AD",
    "evil\u202egnp.exe": "U+202E",
    "iso\u2066late": "U+2066",
    "mark\u200fx": "U+200F",
    "arabic\u061cmark": "U+061C",
    "word\u2060joiner": "U+2060",
    "line\u2028sep": "U+2028",
}
GOOD_PROMPT_NAMES = ["服薬指導/返信案", "a.b/c..d", "v1.2/..x", "...", "español/ñ", "emoji 🙂"]
BAD_FOLDERS = ["..", ".", "a\\b", "x\u202ey", "z\u200bw", "\u00ad", "a/../b"]


@pytest.mark.parametrize("name", sorted(BAD_PROMPT_NAMES))
def test_domain_refuses_unsafe_prompt_names(name):
    with pytest.raises(InvalidInput, match="prompt name") as exc:
        names.prompt_name(name)
    assert BAD_PROMPT_NAMES[name] in exc.value.message


@pytest.mark.parametrize("name", GOOD_PROMPT_NAMES)
def test_domain_keeps_japanese_and_dotted_names(name):
    assert names.prompt_name(name) == name


@pytest.mark.parametrize("name", sorted(BAD_PROMPT_NAMES))
def test_api_refuses_unsafe_prompt_names(api, name):
    for r in (api.post("/api/v1/prompts", json={"name": name, "version": CHAT}),
              api.post("/api/v1/publish", json={"name": name, **CHAT})):
        assert r.status_code == 422, r.text
        assert BAD_PROMPT_NAMES[name] in r.json()["error"]["message"]
    pid = api.post("/api/v1/prompts", json={"name": f"ok-{uuid.uuid4().hex[:6]}"}).json()["id"]
    renamed = api.patch(f"/api/v1/prompts/{pid}", json={"name": name})
    assert renamed.status_code == 422 and "prompt name" in renamed.json()["error"]["message"]


def test_api_keeps_japanese_names(api):
    for name in GOOD_PROMPT_NAMES:
        unique = f"{name}-{uuid.uuid4().hex[:4]}"
        assert api.post("/api/v1/prompts", json={"name": unique, "version": CHAT}).status_code == 201
        assert api.get(f"/api/v1/fetch/{quote(unique, safe='')}").status_code == 200


@pytest.mark.parametrize("folder", BAD_FOLDERS)
def test_api_refuses_unsafe_folders(api, folder):
    r = api.post("/api/v1/folders", json={"path": folder})
    assert r.status_code == 422 and "folder name" in r.json()["error"]["message"], r.text
    r = api.post("/api/v1/prompts", json={"name": f"p-{uuid.uuid4().hex[:6]}", "folder": folder})
    assert r.status_code == 422 and "folder name" in r.json()["error"]["message"], r.text


def test_promptlayer_publish_refuses_unsafe_names(app, database, principal):
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["X-API-KEY"] = make_key(database, principal)
    template = {"type": "chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    for name in ("../../.github/workflows/x", "x\u202ey", "a\\b"):
        r = client.post("/rest/prompt-templates", json={"prompt_template": {"prompt_name": name},
                                                         "prompt_version": {"prompt_template": template}})
        # PromptLayer's SDK raises only on 400 (see web/compat/errors.py), so bad input is 400 there.
        assert r.status_code == 400 and "prompt name may not" in r.json()["message"], r.text
    r = client.post("/api/public/v2/folders", json={"name": ".."})
    assert r.status_code == 400 and "'..' as a path segment" in r.json()["message"], r.text


def test_ui_forms_refuse_unsafe_names(ui):
    client = ui("editor")
    form = {"csrf_token": client.csrf, "kind": "chat", "message_count": "1", "role_0": "user",
            "content_0": "hi", "provider": "openai", "model": "gpt-4o-mini", "template_format": "f-string",
            "parameters": "{}", "commit_message": "first", "save": "1", "description": ""}
    page = client.post("/ui/prompts/new", data=form | {"name": "../../x", "folder": ""})
    assert page.status_code == 422 and "as a path segment" in page.text
    page = client.post("/ui/prompts/new", data=form | {"name": "ok", "folder": "a/../b"})
    assert page.status_code == 422 and "as a path segment" in page.text
    page = client.post("/ui/prompts/new", data=form | {"name": "x\u202ey", "folder": ""})
    assert page.status_code == 422 and "U+202E" in page.text


def test_push_refuses_and_pull_stays_inside_its_directory(live, tmp_path, database):
    env = live.client_env
    src = tmp_path / "src"
    src.mkdir()
    (src / "evil.yaml").write_text("name: ../../.github/workflows/evil\nmessages:\n  - {role: user, content: hi}\n",
                                   encoding="utf-8")
    pushed = cli("prompts", "push", str(src), "-m", "x", env=env)
    assert pushed.returncode == 1 and "'..' as a path segment" in pushed.stderr
    # A name stored before the rule (or sent by another server): put straight into the database.
    ok, bad = f"good-{uuid.uuid4().hex[:6]}", f"../../escaped-{uuid.uuid4().hex[:6]}"
    (src / "evil.yaml").unlink()
    for n in (ok, "tmp-" + ok):
        (src / f"{n}.yaml").write_text("messages:\n  - {role: user, content: hi}\n", encoding="utf-8")
    assert cli("prompts", "push", str(src), "-m", "x", env=env).returncode == 0
    with _live_db(live, tmp_path, database).begin() as conn:
        conn.execute(text("UPDATE prompts SET name = :bad WHERE name = :old"), {"bad": bad, "old": "tmp-" + ok})
    out = tmp_path / "work" / "pulled"
    pulled = cli("prompts", "pull", str(out), env=env)
    assert pulled.returncode == 1 and "refusing to write prompt" in pulled.stderr and "outside" in pulled.stderr
    assert (out / f"{ok}.yaml").exists()
    assert not list(tmp_path.rglob("escaped-*")), "pull wrote outside its directory"


def _live_db(live, tmp_path: Path, database):  # noqa: ANN001, ANN202
    from sqlalchemy import create_engine

    if database.kind == "sqlite":
        return create_engine(f"sqlite:///{live.data_dir / 'promptyard.db'}")
    return database.engine


def test_pull_target_refuses_symlinks_out(tmp_path):
    from promptyard.cli_prompts import pull_target

    out = tmp_path / "out"
    (out).mkdir()
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidInput, match="outside"):
        pull_target(out, "link/../../x")
    with pytest.raises(InvalidInput, match="outside"):
        pull_target(out, "/etc/x")
    assert pull_target(out, "服薬指導/返信案") == out / "服薬指導" / "返信案.yaml"


def test_the_invisible_characters_are_unicodes_format_and_separator_characters():
    import sys
    import unicodedata

    from promptyard.domain.names import _INVISIBLE

    wanted = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) in ("Cf", "Zl", "Zp")}
    assert _INVISIBLE == wanted, sorted(wanted ^ _INVISIBLE)
