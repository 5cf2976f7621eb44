"""Every message a user can see comes from the catalogue, in both languages (issue 18).

(a) every `errors.*` key has a Japanese text with the English text's fields, that renders and is
    Japanese; (b) every error the code raises names a catalogue key; (c) the API answers in the
    Accept-Language's language with the key; (d) the leaks the issue named show in Japanese in the UI.
"""

from __future__ import annotations

import ast
import html
import re
import string
import uuid
from pathlib import Path

import pytest

from promptyard import catalogue
from promptyard.errors import Forbidden, InvalidInput, PromptyardError
from promptyard.services import labels, prompts, versions

SRC = Path(catalogue.__file__).parent
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
# Texts made only of their fields (a field name, then a wrapped error's own translated text).
ONLY_FIELDS = {"errors.templates.in_field", "errors.templates.failed_in_field", "errors.prompts.in_file",
               "errors.library.field_problem", "errors.library.or_list"}
# Calls that may pass a message that is not a literal key, and why.
PASS_THROUGH = {
    ("errors.py", "from_status"),  # the SDK re-raises a server's (already translated) message
    ("errors.py", "as_text"),  # an error's own key, as a field of the error that wraps it
    ("domain/templates.py", "_bad"),  # builds the error for its callers' literal keys
    ("domain/scorers.py", "_bad"),  # the same, for a scorer spec's field
    ("domain/judges.py", "_bad"),
    ("services/evaluations.py", "_bad"),
    ("services/outbound.py", "addresses"),  # the key `refusal` chose for the address
    # a library's message read by kind: keys from tables that test_library_texts checks are all in the catalogue
    ("domain/library_texts.py", "json_reason"),
    ("domain/library_texts.py", "jinja_reason"),
    ("domain/library_texts.py", "_open_block"),
    ("domain/library_texts.py", "_token"),
    ("domain/library_texts.py", "validation_problem"),
    ("domain/library_texts.py", "validation_message"),
}


def _error_keys() -> list[str]:
    return sorted(k for k in catalogue.catalogue("en") if k.startswith("errors."))


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_there_are_error_keys_in_every_area():
    areas = {k.split(".")[1] for k in _error_keys()}
    assert {"prompts", "versions", "labels", "experiments", "requests", "filters", "privacy", "users",
            "keys"} <= areas


@pytest.mark.parametrize("key", _error_keys())
def test_every_error_renders_in_japanese_with_the_same_fields(key):
    en, ja = catalogue.catalogue("en")[key], catalogue.catalogue("ja").get(key)
    assert ja is not None, f"{key} has no Japanese text"
    assert _fields(ja) == _fields(en), key
    dummy = {name: 1234 for name in _fields(en)}
    text = ja.format(**dummy)  # raises on a broken template (translate would only log it)
    assert catalogue.translate("ja", key, **dummy) == text
    if key not in ONLY_FIELDS:
        assert JAPANESE.search(text), f"{key} is not translated: {text!r}"
        assert text != en.format(**dummy)


def _error_classes() -> dict[str, int | None]:
    """PromptyardError and every subclass defined in src/promptyard, each with the index of its
    message key among the call's arguments: its __init__'s `message` or `key` parameter (LogError's
    is second), inherited when it has no __init__; None for a wrapper whose __init__ takes another
    error rather than a message (its inner error is checked where it is made)."""
    classes: dict[str, int | None] = {"PromptyardError": 0}
    defs = [node for p in SRC.rglob("*.py") for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(node, ast.ClassDef)]
    grew = True
    while grew:
        grew = False
        for node in defs:
            bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", None) for b in node.bases]
            known = [b for b in bases if b in classes]
            if node.name in classes or not known:
                continue
            init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
            if init is None:
                classes[node.name] = classes[known[0]]
            else:
                params = [a.arg for a in init.args.args[1:]]
                classes[node.name] = next((i for i, a in enumerate(params) if a in ("message", "key")), None)
            grew = True
    return classes


def _calls(names: set[str]):
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        catalogue_text = "from promptyard.catalogue import Text" in source  # (not SQLAlchemy's or rich's Text)
        parents = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name not in names:
                continue
            if name == "Text" and not (catalogue_text if isinstance(f, ast.Name) else
                                       isinstance(f.value, ast.Name) and f.value.id == "catalogue"):
                continue
            owner = node
            while owner in parents and not isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                owner = parents[owner]
            yield rel, getattr(owner, "name", ""), name, node


def _names_a_key(arg: ast.expr | None) -> bool:
    if isinstance(arg, ast.Constant):
        return isinstance(arg.value, str) and catalogue.has(arg.value)
    if isinstance(arg, ast.IfExp):  # Text("a" if x else "b")
        return _names_a_key(arg.body) and _names_a_key(arg.orelse)
    if isinstance(arg, ast.JoinedStr):  # Text(f"role.{role}"): one of a family of keys
        prefix = arg.values[0].value if isinstance(arg.values[0], ast.Constant) else ""
        return "." in prefix and any(k.startswith(prefix) for k in catalogue.catalogue("en"))
    return False


def test_every_raised_error_names_a_catalogue_key():
    classes = _error_classes()
    assert {"InvalidInput", "FilterSyntaxError", "LogError", "RenderError", "PolicyError"} <= set(classes)
    assert classes["LogError"] == 1 and classes["TooLarge"] == 0  # LogError(field, key, ...)
    wrong, seen = [], 0
    for rel, function, name, call in _calls(set(classes) | {"Text"}):
        index = 0 if name == "Text" else classes[name]
        if (rel, function) in PASS_THROUGH or index is None:
            continue
        arg = call.args[index] if len(call.args) > index else None
        seen += 1
        if not _names_a_key(arg) or (isinstance(arg, ast.JoinedStr) and name != "Text"):
            wrong.append(f"{rel}:{call.lineno} {name}({ast.unparse(arg) if arg else ''})")
    assert seen > 250
    assert wrong == [], "\n".join(wrong)


def test_error_fields_that_are_texts_translate_with_the_message():
    exc = InvalidInput("errors.names.may_not_contain_char", what=catalogue.Text("errors.names.what_prompt_name"),
                       problem=catalogue.Text("errors.names.control_char", code="U+0007 (BELL)"))
    assert exc.message == "prompt name may not contain the control character U+0007 (BELL)"
    assert exc.text("ja") == "プロンプト名に制御文字 U+0007 (BELL)は使えません"
    # a message that is not a key (an SDK error from a server's answer) is kept as it is
    assert PromptyardError("server said no").text("ja") == "server said no"


def test_api_answers_in_the_accept_language_with_the_key(api):
    en = api.get("/api/v1/prompts/999999").json()["error"]
    assert en == {"code": "not_found", "key": "errors.prompts.no_prompt_id", "message": "no prompt with id 999999",
                  "details": None}
    ja = api.get("/api/v1/prompts/999999", headers={"Accept-Language": "ja-JP,ja;q=0.9"}).json()["error"]
    assert ja["key"] == en["key"] and ja["message"] == "ID 999999 のプロンプトはありません"
    bad = api.get("/api/v1/requests", params={"filter": "metadata.env = prod"}, headers={"Accept-Language": "ja"})
    assert bad.status_code == 422 and "引用符で囲んでください" in bad.json()["error"]["message"]
    assert bad.json()["error"]["details"] == {"position": 15}


def test_compat_errors_stay_english(app, database, principal):
    from fastapi.testclient import TestClient

    from tests.conftest import make_key

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/library-get-prompt-template", params={"prompt_name": "nope"}, headers={"X-API-KEY": make_key(database, principal),
                                                       "Accept-Language": "ja"})
    assert r.status_code == 404 and not JAPANESE.search(r.text), r.text


def _page_text(response) -> str:  # noqa: ANN001
    return html.unescape(response.text)


def _prompt(database, principal, n: int = 2) -> int:  # noqa: ANN001
    with database.write() as s:
        rec = prompts.create(s, principal, name=f"p-{uuid.uuid4().hex[:6]}")
        for i in range(n):
            versions.publish(s, principal, rec.id, {"type": "chat", "commit_message": f"v{i + 1}",
                                                    "messages": [{"role": "user", "content": f"v{i + 1} {{topic}}"}]})
        labels.move(s, principal, rec.id, "production", version=1, reason="baseline")
    return rec.id


def test_production_permission_message_in_japanese(ui, database, principal):
    pid = _prompt(database, principal)
    editor = ui("editor", lang="ja")
    refused = editor.post(f"/ui/prompts/{pid}/labels", data={"csrf_token": editor.csrf, "label": "production",
                                                             "version": "2", "reason": "mine"})
    assert refused.status_code == 403
    text = _page_text(refused)
    assert Forbidden("errors.labels.moving_label_needs_admin", name="production").text("ja") in text
    assert "needs the admin role" not in text


def test_split_sum_message_in_japanese(ui, database, principal):
    pid = _prompt(database, principal)
    admin = ui("admin", lang="ja")
    bad = admin.post(f"/ui/prompts/{pid}/labels/production/policy",
                     data={"csrf_token": admin.csrf, "weight_1": "50", "weight_2": "40", "reason": "more"})
    assert bad.status_code == 422, bad.text
    text = _page_text(bad)
    assert "重みの合計は 100 にしてください（合計: 90）" in text and "must sum to" not in text


def test_preview_error_in_japanese(ui, database, principal):
    pid = _prompt(database, principal)
    editor = ui("editor", lang="ja")
    form = {"csrf_token": editor.csrf, "kind": "chat", "message_count": "1", "role_0": "user",
            "content_0": "About {topic", "provider": "openai", "model": "gpt-4o-mini", "template_format": "f-string",
            "parameters": "{}", "commit_message": "", "preview": "1"}
    broken = editor.post(f"/ui/prompts/{pid}/edit", data=form)
    assert broken.status_code == 422 and "preview-error" in broken.text
    text = _page_text(broken)
    assert "閉じられていない '{' があります" in text and "7 列目" in text, text
    assert "unclosed" not in text and "literal brace" not in text


def test_forbidden_page_in_japanese(ui):
    page = ui("viewer", lang="ja").get("/ui/prompts/new")
    assert page.status_code == 403
    text = _page_text(page)
    assert "このページには「編集」の権限が必要です。あなたのロールは閲覧者です" in text, text
    assert "this page needs" not in text


def test_filter_syntax_error_in_japanese(ui):
    page = ui("viewer", lang="ja").get("/ui/requests", params={"q": "metadata.env = prod"})
    assert page.status_code == 422
    text = _page_text(page)
    assert "値が必要です。テキストの値は引用符で囲んでください" in text and "quote text values" not in text


@pytest.mark.parametrize("lang, prefill", [("en", "first version"), ("ja", "最初のバージョン")])
def test_new_prompt_commit_message_prefill_is_translated(ui, lang, prefill):
    page = ui("editor", lang=lang).get("/ui/prompts/new")
    assert page.status_code == 200 and f'value="{prefill}"' in page.text
