"""Texts written by libraries reach a Japanese reader in Japanese (issue 18): pydantic's problems in
the API's 422 answers, json's decoder in forms and uploads, Jinja2's syntax and undefined errors in
the editor preview (domain/library_texts.py, messages/errors.library.*.json)."""

from __future__ import annotations

import html
import json
import re
import typing
import uuid

import pytest

from promptyard import catalogue
from promptyard.domain import library_texts, sandbox
from promptyard.errors import PromptyardError
from promptyard.services import prompts, versions

pytestmark = pytest.mark.one_database

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
JA = {"Accept-Language": "ja-JP,ja;q=0.9"}


def _ja(answer) -> dict:  # noqa: ANN001
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert JAPANESE.search(error["message"]), error
    for problem in error["details"]:
        assert JAPANESE.search(problem["problem"]), problem
    return error


# -- the API's 422 answers, one request per kind -------------------------------------------------------

def _dataset(api) -> int:  # noqa: ANN001
    answer = api.post("/api/v1/datasets", json={"name": f"d-{uuid.uuid4().hex[:6]}"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_missing_field_in_japanese_names_the_field(api):
    error = _ja(api.post("/api/v1/datasets", json={}, headers=JA))
    assert error["message"] == "name: 必須の項目です"
    assert error["details"] == [{"field": "name", "problem": "必須の項目です", "type": "missing"}]
    english = api.post("/api/v1/datasets", json={}).json()["error"]
    assert english["message"] == "name: required" and not JAPANESE.search(english["message"])


def test_text_too_long_keeps_its_limit(api):
    error = _ja(api.post("/api/v1/datasets", json={"name": "d", "description": "x" * 10_001}, headers=JA))
    assert error["message"] == "description: 10000 文字以内にしてください"
    assert error["details"][0]["type"] == "string_too_long"


def test_integer_parsing_and_bounds_in_the_query(api):
    dataset = _dataset(api)
    error = _ja(api.get(f"/api/v1/datasets/{dataset}/items", params={"limit": "many"}, headers=JA))
    assert error["message"] == "limit: 整数にしてください" and error["details"][0]["type"] == "int_parsing"
    error = _ja(api.get(f"/api/v1/datasets/{dataset}/items", params={"limit": "0"}, headers=JA))
    assert error["message"] == "limit: 1 以上にしてください"


def test_choices_and_unknown_fields_and_the_count_of_more(api):
    body = {"name": f"p-{uuid.uuid4().hex[:6]}", "version": {"commit_message": "x", "template_format": "mustache",
                                                              "messages": [{"role": "user", "content": "hi"}]}}
    error = _ja(api.post("/api/v1/prompts", json=body, headers=JA))
    assert error["message"] == "version.template_format: 'f-string'、'jinja2' のいずれかにしてください"
    english = api.post("/api/v1/prompts", json=body).json()["error"]["message"]
    assert english == "version.template_format: must be one of 'f-string' or 'jinja2'"
    two = _ja(api.post("/api/v1/datasets", json={"description": 5}, headers=JA))
    assert two["message"] == "name: 必須の項目です（ほかに 1 件の問題があります）"


def test_unknown_field_where_the_schema_forbids_them(api):
    error = _ja(api.put("/api/v1/workspace/display", json={"colour": "blue"}, headers=JA))
    assert any(p["type"] == "extra_forbidden" and p["field"] == "colour" for p in error["details"]), error


def test_broken_json_body_by_line_and_column(api):
    body = '{\n  "name": "d",\n  "description": \n}'
    answer = api.post("/api/v1/datasets", content=body, headers={**JA, "Content-Type": "application/json"})
    error = _ja(answer)
    assert error["message"] == "body: JSON として読めません: ここに値が必要です（4 行 1 列目）", error
    english = api.post("/api/v1/datasets", content=body, headers={"Content-Type": "application/json"})
    assert english.json()["error"]["message"] == "body: not valid JSON: a value is expected here (line 4, column 1)"
    not_utf8 = api.post("/api/v1/datasets", content=b"\xff\xfe{",
                      headers={**JA, "Content-Type": "application/json"})
    assert _ja(not_utf8)["message"] == "body: JSON として読めません（UTF-8 のテキストにしてください）"


# -- every error type our schemas can produce has its own words -----------------------------------------

# What each core schema type may answer (pydantic_core's error types), and where its children are.
_PRODUCES = {
    "str": ("string_type",), "int": ("int_type", "int_parsing", "int_from_float", "int_parsing_size"),
    "float": ("float_type", "float_parsing"), "bool": ("bool_type", "bool_parsing"), "list": ("list_type",),
    "tuple": ("tuple_type",), "set": ("set_type",), "dict": ("dict_type",), "literal": ("literal_error",),
    "enum": ("enum",), "datetime": ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"),
    "date": ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"),
    "model": ("model_type", "model_attributes_type"), "model-fields": (), "none": ("none_required",),
    "nullable": (), "default": (), "union": (), "any": (), "definitions": (), "definition-ref": (),
    "uuid": ("uuid_type", "uuid_parsing"), "url": ("url_type", "url_parsing"), "json-or-python": (),
    "lax-or-strict": (), "chain": (), "tagged-union": ("union_tag_invalid", "union_tag_not_found"),
    "bytes": ("bytes_type",), "model-field": (),
}
_NOT_SCHEMAS = ("metadata", "serialization", "ref", "config", "function")  # what a schema holds that validates nothing
_CONSTRAINTS = {"max_length": {"str": "string_too_long"}, "min_length": {"str": "string_too_short"},
                "pattern": {"str": "string_pattern_mismatch"}, "ge": "greater_than_equal", "gt": "greater_than",
                "le": "less_than_equal", "lt": "less_than", "multiple_of": "multiple_of"}


def _types_of(schema: dict, found: set[str], unknown: set[str], seen: set[int]) -> None:
    if id(schema) in seen:
        return
    seen.add(id(schema))
    kind = schema.get("type")
    if kind not in _PRODUCES and not str(kind).startswith("function-"):
        unknown.add(str(kind))
    found.update(_PRODUCES.get(kind, ()))
    if str(kind).startswith("function-"):
        found.add("value_error")
    for name, rule in _CONSTRAINTS.items():
        if schema.get(name) is not None:
            found.add(rule.get(kind, "too_long" if name == "max_length" else "too_short")
                      if isinstance(rule, dict) else rule)
    if kind == "float" and schema.get("allow_inf_nan") is False:
        found.add("finite_number")
    if kind == "model-fields":
        if any(f.get("schema", {}).get("type") != "default" for f in schema["fields"].values()):
            found.add("missing")
    if kind == "model" and (schema.get("config") or {}).get("extra_fields_behavior") == "forbid":
        found.add("extra_forbidden")
    for name, value in schema.items():
        if name in _NOT_SCHEMAS:
            continue
        if _is_schema(value):
            value = [value]
        for child in value if isinstance(value, list) else value.values() if isinstance(value, dict) else [value]:
            if isinstance(child, tuple):  # a union's (schema, label) choice
                child = child[0]
            if _is_schema(child):
                _types_of(child, found, unknown, seen)
            elif isinstance(child, dict):  # a model's fields, a tagged union's choices
                for grandchild in child.values():
                    if _is_schema(grandchild):
                        _types_of(grandchild, found, unknown, seen)


def _is_schema(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str)


def _route_error_types() -> tuple[set[str], set[str]]:
    """What every route of web/api (its modules found by walking the package) can answer."""
    import importlib
    import pkgutil

    from fastapi.routing import APIRoute

    import promptyard.web.api

    def fields(dependant):  # noqa: ANN001, ANN202 - a route's parameters and those of its dependencies
        yield from (*dependant.path_params, *dependant.query_params, *dependant.header_params,
                    *dependant.cookie_params, *dependant.body_params)
        for sub in dependant.dependencies:
            yield from fields(sub)

    found, unknown, routes = {"json_invalid", "missing"}, set(), 0  # every JSON body parses, and is needed
    for info in pkgutil.iter_modules(promptyard.web.api.__path__):
        router = getattr(importlib.import_module(f"promptyard.web.api.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute):
                routes += 1
                for field in fields(route.dependant):
                    _types_of(field._type_adapter.core_schema, found, unknown, set())
    assert routes > 50
    return found, unknown


def test_every_error_type_our_schemas_can_produce_has_its_own_key():
    from pydantic_core.core_schema import ErrorType

    found, unknown = _route_error_types()
    assert unknown == set(), f"teach this sweep what core schema types {unknown} can answer"
    assert {"missing", "string_too_long", "int_parsing", "literal_error", "greater_than_equal",
            "extra_forbidden", "list_type", "bool_type"} <= found
    assert found <= set(typing.get_args(ErrorType)), found - set(typing.get_args(ErrorType))
    # json_invalid: worded by json_problem; value_error: only FastAPI's UploadFile check (a form field that is
    # not a file), worded by the generic text that names the field
    without = sorted(found - set(library_texts.PYDANTIC) - {"json_invalid", "value_error"})
    assert without == [], f"pydantic error types without a catalogue key: {without}"


def test_every_type_has_words_and_an_unknown_one_still_names_its_field():
    for kind, (key, fields) in library_texts.PYDANTIC.items():
        text = library_texts.validation_problem({"type": kind, "ctx": {f: 7 for f in fields}}).render("ja")
        assert JAPANESE.search(text) and "{" not in text, (kind, text)
    odd = library_texts.validation_problem({"type": "complex_str_parsing", "msg": "Input should be complex"})
    message = library_texts.validation_message([("model.parameters.x", odd)]).render("ja")
    assert message.startswith("model.parameters.x: 値が正しくありません") and JAPANESE.search(message)


def test_every_key_the_tables_name_is_in_the_catalogue():
    keys = {k for k, _ in library_texts.PYDANTIC.values()} | set(library_texts._JSON.values()) \
        | set(library_texts._TOKENS.values()) | {k for _, k in library_texts._JINJA}
    keys |= {k + "_in" for k in keys if k.endswith(("unexpected_end", "unknown_tag", "nesting"))}
    keys.discard("errors.library.jinja_nesting")  # only its "_in" form: without a block it is an unknown tag
    assert sorted(k for k in keys if not catalogue.has(k)) == []


# -- json's decoder, by kind -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ['{"a": }', "{a: 1}", "[1 2]", '"abc', '{"a" 1}', "[1] x", '"\\q"', '"a\tb"'])
def test_json_decoder_reasons_in_japanese(text):
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(text)
    assert library_texts.json_reason(caught.value.msg).key != "errors.library.json_other", caught.value.msg
    ja = library_texts.json_problem(caught.value).render("ja")
    assert JAPANESE.search(ja) and f"{caught.value.lineno} 行 {caught.value.colno} 列目" in ja, ja


# -- Jinja2, by kind -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "japanese"), [
    ("{% for x in y %}", "'for' ブロックが閉じられないままテンプレートが終わっています（'endfor'、'else' のいずれかで閉じてください）"),
    ("{{ x ", "変数タグの終わり（}}） が必要な所でテンプレートが終わっています"),
    ("{% foo %}", "不明なタグ 'foo' があります"),
    ("{% if x %}{% endfor %}", "'if' ブロックの中に不明なタグ 'endfor' があります"),
    ("{% for x in y %}{% if a %}{% endfor %}", "'endfor' の入れ子が正しくありません。先に 'if' ブロックを"),
    ("{{ x y }}", "変数タグの終わり（}}） が必要な所に 'y' があります"),
    ("{{ (x }}", "予期しない '}' があります（')' が必要です）"),
    ("{{ }}", "式が必要な所に 変数タグの終わり（}}） があります"),
    ("{{ x | nofilter }}", "'nofilter' という名前のフィルターはありません"),
    ("{# hi", "コメントが #} で閉じられていません"),
    ('{{ "abc }}', "予期しない文字 '\"' があります"),
])
def test_jinja_syntax_errors_by_kind_keep_the_line(source, japanese):
    with pytest.raises(PromptyardError) as caught:
        sandbox.check_jinja("content", "first line\n" + source)
    text = caught.value.text("ja")
    assert japanese in text and "（2 行目）" in text, text
    assert "Jinja" not in text and "unexpected" not in text.lower()
    assert caught.value.details == {"field": "content", "line": 2}


def test_jinja_undefined_values_in_japanese():
    from promptyard.domain.render_limits import RenderLimits

    with pytest.raises(PromptyardError) as caught:
        sandbox.render_jinja([("content", "{{ a.b }}")], {"a": {}}, True, RenderLimits())
    assert caught.value.text("ja") == "content: 'dict object' に属性 'b' はありません"
    with pytest.raises(PromptyardError) as caught:
        sandbox.render_jinja([("content", "{{ nobody }}")], {}, True, RenderLimits())
    assert caught.value.text("ja") == "content: 'nobody' が定義されていません"


# -- the UI: the editor preview and a JSON field of a form ------------------------------------------------

def _prompt(database, principal) -> int:  # noqa: ANN001
    with database.write() as s:
        rec = prompts.create(s, principal, name=f"p-{uuid.uuid4().hex[:6]}")
        versions.publish(s, principal, rec.id, {"type": "chat", "commit_message": "v1",
                                                "messages": [{"role": "user", "content": "hi"}]})
    return rec.id


def _edit(editor, pid: int, content: str, parameters: str = "{}", fmt: str = "jinja2"):  # noqa: ANN001, ANN202
    """A preview, or with other parameters than "{}" a save (the preview does not read them)."""
    form = {"csrf_token": editor.csrf, "kind": "chat", "message_count": "1", "role_0": "user",
            "content_0": content, "provider": "openai", "model": "gpt-4o-mini", "template_format": fmt,
            "parameters": parameters, "commit_message": "", "preview": "1"}
    if parameters != "{}":
        form.update(commit_message="try", preview="")
    return editor.post(f"/ui/prompts/{pid}/edit", data=form)


def test_editor_preview_shows_jinja_errors_in_japanese(ui, database, principal):
    pid = _prompt(database, principal)
    page = _edit(ui("editor", lang="ja"), pid, "{% for d in drugs %}\n{{ d }}")
    assert page.status_code == 422 and "preview-error" in page.text
    text = html.unescape(page.text)
    assert "'for' ブロックが閉じられないままテンプレートが終わっています" in text and "2 行目" in text, text
    assert "Unexpected end of template" not in text and "Jinja was looking" not in text


def test_a_json_field_of_the_editor_in_japanese(ui, database, principal):
    pid = _prompt(database, principal)
    page = _edit(ui("editor", lang="ja"), pid, "hi", parameters='{"temperature": 0.2,}', fmt="f-string")
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "ダブルクォートで囲んだプロパティ名が必要です" in text and "Expecting" not in text, text
