"""Prompt template validation, variable extraction and rendering, including the Jinja2 sandbox."""

from __future__ import annotations

import json
import string
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptyard.domain import sandbox
from promptyard.domain.templates import (
    DEFAULT_LIMITS,
    FORMATS,
    RenderError,
    RenderLimits,
    extract_variables,
    render,
    render_text,
    validate_template,
)
from promptyard.errors import InvalidInput


def chat(*contents: str, **extra) -> dict:
    roles = ["system", "user", "assistant"]
    return {"messages": [{"role": roles[i % 3], "content": c} for i, c in enumerate(contents)], **extra}


def text(source: str) -> dict:
    return {"text": source}


def jinja(source: str, variables: dict | None = None, *, strict: bool = True, limits=DEFAULT_LIMITS) -> str:
    return render_text(source, "jinja2", variables or {}, strict=strict, limits=limits)


def fstr(source: str, variables: dict | None = None, *, strict: bool = True, limits=DEFAULT_LIMITS) -> str:
    return render_text(source, "f-string", variables or {}, strict=strict, limits=limits)


# --- shape -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "template", "fmt", "message"),
    [
        ("prompt", text("x"), "f-string", "unknown template type"),
        ("chat", chat("x"), "mustache", "unknown template format"),
        ("chat", [], "f-string", "template: must be an object"),
        ("chat", {}, "f-string", "messages: must be a non-empty list"),
        ("chat", {"messages": []}, "f-string", "messages: must be a non-empty list"),
        ("chat", {"messages": "hi"}, "f-string", "messages: must be a non-empty list"),
        ("chat", {"messages": ["hi"]}, "f-string", "messages[0]: must be an object"),
        ("chat", {"messages": [{"role": "robot", "content": "x"}]}, "f-string", "messages[0].role: must be one of"),
        ("chat", {"messages": [{"role": ["user"], "content": "x"}]}, "f-string", "messages[0].role"),
        ("chat", {"messages": [{"role": "user", "content": "x"}, {"role": "user"}]}, "f-string",
         "messages[1].content: must be a string"),
        ("chat", {"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "jinja2",
         "messages[0].content: must be a string"),
        ("chat", {"messages": [{"role": "user", "content": "x", "name": 3}]}, "f-string", "messages[0].name"),
        ("chat", {"messages": [{"role": "user", "content": "x"}], "tools": {"a": 1}}, "f-string",
         "tools: must be a list"),
        ("completion", {}, "f-string", "text: must be a string"),
        ("completion", text(""), "jinja2", "text: must not be empty"),
        ("completion", {"messages": [{"role": "user", "content": "x"}]}, "f-string", "text: must be a string"),
    ],
)
def test_shape_errors(kind, template, fmt, message):
    for call in (validate_template, extract_variables):
        with pytest.raises(InvalidInput) as info:
            call(kind, template, fmt)
        assert message in info.value.message
    with pytest.raises(InvalidInput) as info:
        render(kind, template, fmt, {})
    assert message in info.value.message


def test_validate_normalises_to_known_keys():
    template = {
        "type": "chat",
        "input_variables": ["x"],
        "messages": [
            {"role": "system", "content": "Be brief.", "template_format": "f-string"},
            {"role": "user", "content": "{question}", "name": "pharmacist"},
            {"role": "assistant", "content": "", "name": None},
            {"role": "tool", "content": "42"},
            {"role": "developer", "content": "dev"},
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"x": "{not rendered}"}}}],
    }
    assert validate_template("chat", template, "f-string") == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "{question}", "name": "pharmacist"},
            {"role": "assistant", "content": ""},
            {"role": "tool", "content": "42"},
            {"role": "developer", "content": "dev"},
        ],
        "tools": template["tools"],
    }
    assert validate_template("completion", {"text": "Hi {name}", "model": "x"}, "f-string") == {"text": "Hi {name}"}
    assert "tools" not in validate_template("chat", chat("x", tools=None), "jinja2")


@pytest.mark.parametrize(
    ("content", "message", "column"),
    [
        ("Hello {name}, } more", "unexpected '}' at column 15 (write '}}' for a literal brace)", 15),
        ("Hello {name", "unclosed '{' at column 7 (write '{{' for a literal brace)", 7),
        ("Total {a.b}", "invalid placeholder '{a.b}' at column 7: f-string templates allow simple names only", 7),
        ("{a[0]}", "invalid placeholder '{a[0]}' at column 1", 1),
        ("{0}", "invalid placeholder '{0}' at column 1", 1),
        ("x {}", "invalid placeholder '{}' at column 3", 3),
        ("{a!r}", "invalid placeholder '{a!r}' at column 1", 1),
        ("{ name }", "invalid placeholder '{ name }' at column 1", 1),
        ('Reply as {"answer": 1}', "invalid placeholder '{\"answer\": 1}' at column 10", 10),
        ("{x:{width}}", "nested placeholders in a format spec are not allowed at column 4", 4),
        ("{a{b}", "unexpected '{' at column 3", 3),
    ],
)
def test_fstring_syntax_errors_name_message_and_column(content, message, column):
    template = chat("fine {x}", content)
    with pytest.raises(InvalidInput) as info:
        validate_template("chat", template, "f-string")
    assert info.value.message.startswith("messages[1].content: ")
    assert message in info.value.message
    assert info.value.details == {"field": "messages[1].content", "line": 1, "column": column}
    with pytest.raises(InvalidInput):
        extract_variables("chat", template, "f-string")


def test_fstring_syntax_error_on_a_later_line_names_line_and_column():
    with pytest.raises(InvalidInput) as info:
        validate_template("completion", text("line one\nline {two} }"), "f-string")
    assert info.value.message == "text: unexpected '}' at line 2, column 12 (write '}}' for a literal brace)"
    assert info.value.details["line"] == 2


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hi {{ name }", "'}' is not expected here"),
        ("{% for x in xs %}{{ x }}", "the template ends inside the 'for' block: close it with 'endfor' or 'else'"),
        ("{% if a %}x{% endfor %}", "unknown tag 'endfor' inside the 'if' block"),
        ("{{ x|no_such_filter }}", "there is no filter named 'no_such_filter'"),
        ("{% include 'other' %}", "'{% include %}' is not available in prompt templates"),
        ("{% extends 'base' %}", "'{% extends %}' is not available"),
        ("{% import 'm' as m %}", "'{% import %}' is not available"),
        ("{% from 'm' import x %}", "'{% from ... import %}' is not available"),
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "text"),
        ("{{ " + "9" * 5000 + " }}", "could not be compiled"),
    ],
)
def test_jinja_syntax_errors(source, message):
    with pytest.raises(InvalidInput) as info:
        validate_template("completion", text(source), "jinja2")
    assert info.value.message.startswith("text: ")
    assert message in info.value.message


def test_jinja_syntax_error_names_message_index_and_line():
    with pytest.raises(InvalidInput) as info:
        validate_template("chat", chat("ok", "one\ntwo {{ x }\nthree"), "jinja2")
    assert info.value.message.startswith("messages[1].content: ")
    assert "(line 2)" in info.value.message
    assert info.value.details == {"field": "messages[1].content", "line": 2}


def test_jinja_too_deeply_nested_loops_are_invalid_not_a_crash():
    source = "{% for a in x %}" * 30 + "{% endfor %}" * 30
    with pytest.raises(InvalidInput):
        validate_template("completion", text(source), "jinja2")


# --- variables -------------------------------------------------------------------------------


def test_extract_variables_fstring_ordered_unique_across_messages():
    template = chat("You help {患者名}.", "{question} for {患者名}; {{literal}} {price:>8.2f}", "{question}")
    assert extract_variables("chat", template, "f-string") == ["患者名", "question", "price"]
    assert extract_variables("completion", text("no variables {{here}}"), "f-string") == []


def test_extract_variables_jinja():
    template = chat(
        "{{ title }} {% for item in items %}{{ item.name }} {{ loop.index }} {{ sep }}{% endfor %}",
        "{% set local = 1 %}{{ local }} {{ 患者名|upper }} {{ title }}"
        "{% if flag is defined %}{{ a if b else c }}{% endif %}{{ range(2)|list }}"
        "{% macro m(arg) %}{{ arg }}{{ outer }}{% endmacro %}{{ m(1) }}"
        "{{ x|indent(width=4) }}{{ user.width }}",
    )
    assert extract_variables("chat", template, "jinja2") == [
        "title", "items", "sep", "患者名", "flag", "a", "b", "c", "outer", "x", "user",
    ]


# --- rendering -------------------------------------------------------------------------------


def test_render_chat_keeps_roles_names_and_tools():
    tools = [{"type": "function", "function": {"name": "f", "description": "{x} {{ x }}"}}]
    template = {
        "messages": [
            {"role": "system", "content": "You are {role}."},
            {"role": "user", "content": "Hi, I am {name}.", "name": "customer"},
        ],
        "tools": tools,
    }
    out = render("chat", template, "f-string", {"role": "a pharmacist", "name": "山田"})
    assert out == {
        "messages": [
            {"role": "system", "content": "You are a pharmacist."},
            {"role": "user", "content": "Hi, I am 山田.", "name": "customer"},
        ],
        "tools": tools,
    }
    jinja_template = {"messages": [{"role": "user", "content": "{{ q }}", "name": "n"}], "tools": tools}
    assert render("chat", jinja_template, "jinja2", {"q": "why?"}) == {
        "messages": [{"role": "user", "content": "why?", "name": "n"}],
        "tools": tools,
    }
    assert render("completion", text("{{ a }}+{{ b }}"), "jinja2", {"a": 1, "b": 2}) == {"text": "1+2"}


def test_fstring_values():
    variables = {
        "s": "患者名: 山田", "i": 42, "f": 2.5, "t": True, "n": None,
        "d": {"drug": "イブプロフェン", "mg": [200, 400]}, "l": [1, "two", None],
    }
    assert fstr("{s}|{i}|{f}|{t}|{n}|{d}|{l}", variables) == (
        '患者名: 山田|42|2.5|True||{"drug":"イブプロフェン","mg":[200,400]}|[1,"two",null]'
    )
    assert fstr("{{literal}} {{{s}}} }} {{", {"s": "x"}) == "{literal} {x} } {"
    assert fstr("[{i:>5}] [{f:.3f}] [{s:.2}] [{n:>3}] [{i:,}]", {**variables, "i": 1234567}) == (
        "[1234567] [2.500] [患者] [   ] [1,234,567]"
    )
    assert fstr("{class} {def}", {"class": "A", "def": "B"}) == "A B"


def test_fstring_bad_format_spec_is_a_render_error():
    with pytest.raises(RenderError, match=r"text: cannot format \{s:d\}"):
        fstr("{s:d}", {"s": "abc"})
    with pytest.raises(RenderError, match="over the limit"):
        fstr("{s:>1000000000}", {"s": "abc"})
    with pytest.raises(RenderError, match="over the limit"):
        fstr("{f:.999999999f}", {"f": 1.5})


def test_strict_lists_all_missing_variables():
    with pytest.raises(InvalidInput) as info:
        render("chat", chat("{a} {b}", "{c} {a}"), "f-string", {"b": 1})
    assert info.value.message == "missing input variable(s): a, c"
    assert info.value.details == {"missing": ["a", "c"]}
    assert not isinstance(info.value, RenderError)
    with pytest.raises(InvalidInput) as info:
        render("chat", chat("{{ a }} {{ b }}", "{{ c.d }} {{ a }}"), "jinja2", {"b": 1})
    assert info.value.message == "missing input variable(s): a, c"


def test_strict_jinja_allows_guarded_optional_variables():
    source = "{% if extra is defined %}[{{ extra }}]{% endif %}{{ x|default('none') }}"
    assert jinja(source, {}) == "none"
    assert jinja(source, {"extra": 1, "x": 2}) == "[1]2"


def test_strict_jinja_missing_attribute_is_invalid_input():
    with pytest.raises(InvalidInput, match="has no attribute 'name'"):
        jinja("{{ user.name }}", {"user": {}})


def test_lenient_missing_and_none_render_empty():
    assert fstr("[{a}] [{b:>3}] [{n}]", {"n": None}, strict=False) == "[] [   ] []"
    assert jinja("[{{ a }}] [{{ a.b.c }}] [{{ a['x'].y }}] [{{ n }}] [{{ a|upper }}]", {"n": None}, strict=False) == (
        "[] [] [] [] []"
    )
    assert jinja("[{{ n }}]", {"n": None}) == "[]"
    out = render("chat", chat("{a}", "{b}"), "f-string", {}, strict=False)
    assert [m["content"] for m in out["messages"]] == ["", ""]


def test_jinja_features_used_in_prompts():
    variables = {
        "items": [{"name": "A", "ok": True}, {"name": "B", "ok": False}, {"name": "C", "ok": True}],
        "doc": {"title": "添付文書", "tags": ["x", "y"]},
        "n": 3,
    }
    cases = {
        "{% for i in items if i.ok %}{{ loop.index }}.{{ i.name }}{{ ', ' if not loop.last }}{% endfor %}": "1.A, 2.C",
        "{{ items|map(attribute='name')|join('/') }}": "A/B/C",
        "{{ items|selectattr('ok')|map(attribute='name')|list }}": "['A', 'C']",
        "{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}": "37",
        "{% set a, b = n, n * 2 %}{{ a }}-{{ b }}": "3-6",
        "{{ doc.title }}: {{ doc['tags']|join(', ') }}": "添付文書: x, y",
        "{{ doc|tojson }}": json.dumps({"title": "添付文書", "tags": ["x", "y"]}, sort_keys=True),
        "{{ {'k': n, 'v': [n, n]} }}": "{'k': 3, 'v': [3, 3]}",
        "{% macro li(x) %}<{{ x }}>{% endmacro %}{{ li(1) }}{{ li('b') }}": "<1><b>",
        "{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}in{% endcall %}": "[in]",
        "{% filter upper %}shout {{ n }}{% endfilter %}": "SHOUT 3",
        "{% set block %}x{{ n }}{% endset %}{{ block * 2 }}": "x3x3",
        "{{ 'a' ~ n ~ 'b' }} {{ '%05.1f'|format(2.25) }} {{ '{:>4}'.format(n) }}": "a3b 002.2    3",
        "{{ range(n)|sum }} {{ [3, 1, 2]|sort|first }} {{ 'Hello'|replace('l', 'L') }}": "3 1 HeLLo",
        "{{ 'a b c'.split()|length }} {{ '  x '.strip() }} {{ 'abc'|center(7) }}|": "3 x   abc  |",
        "{% for x in [1, 2, 3] %}{{ loop.cycle('odd', 'even') }} {% endfor %}": "odd even odd ",
        "{% autoescape true %}{{ '<b>' ~ n }}{% endautoescape %}": "&lt;b&gt;3",
        "{{ 2 ** 10 }} {{ 7 // 2 }} {{ 7 % 4 }} {{ [1] + [2] }} {{ (1, 2) + (3,) }}": "1024 3 3 [1, 2] (1, 2, 3)",
        "line\n{{ n }}\n": "line\n3\n",
        "{#- comment -#} {% raw %}{{ not rendered }}{% endraw %}": "{{ not rendered }}",
    }
    for source, expected in cases.items():
        assert jinja(source, variables) == expected, source


def test_plain_text_is_untouched_in_both_formats():
    for source in ("line\r\nbreaks\rstay\n", "trailing newline\n", "% # $ text"):
        for fmt in FORMATS:
            assert render_text(source, fmt, {}) == source


def test_compiled_templates_are_cached():
    source = "cache {{ probe_variable_for_cache }}"
    jinja(source, {"probe_variable_for_cache": 1})
    before = sandbox._compiled.cache_info().hits
    for i in range(5):
        assert jinja(source, {"probe_variable_for_cache": i}) == f"cache {i}"
    assert sandbox._compiled.cache_info().hits >= before + 5


# --- sandbox: reach --------------------------------------------------------------------------

LEAKS = ("class", "module", "function", "built-in", "mro", "globals", "os.", "subprocess", "Environment", "<")


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ self.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ range.__self__ }}",
        "{{ loop.__class__ }}",
        "{{ x.__class__ }}",
    ],
)
@pytest.mark.parametrize("strict", [True, False])
def test_python_internals_are_refused_when_parsing(payload, strict):
    with pytest.raises(RenderError) as info:
        jinja(payload, {"x": "s"}, strict=strict)
    assert "security violation" in info.value.message
    with pytest.raises(RenderError, match="security violation"):
        validate_template("completion", text(payload), "jinja2")


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''|attr('__class__') }}",
        "{{ (''|attr('__class__')|attr('__mro__'))[1] }}",
        "{{ x['__class__'] }}",
        "{{ x['__class__']['__mro__'] }}",
        "{{ '{0.__class__}'.format(x) }}",
        "{{ '{a.__class__.__mro__}'.format_map({'a': x}) }}",
        "{{ ('{0.__cla' ~ 'ss__}').format(x) }}",
        "{{ ('{0.__class__}'|attr('format'))(x) }}",
        "{{ (items|map('upper')).gi_frame }}",
        "{{ (items|map('upper')).gi_code }}",
        "{{ x|attr('_' ~ '_class_' ~ '_') }}",
        "{% macro m() %}{% endmacro %}{{ m|attr('_func') }}",
    ],
)
@pytest.mark.parametrize("strict", [True, False])
def test_python_internals_are_refused_at_run_time(payload, strict):
    with pytest.raises(RenderError) as info:
        jinja(payload, {"x": "s", "items": ["a"]}, strict=strict)
    assert "security violation" in info.value.message


@pytest.mark.parametrize("payload", ["{{ request }}", "{{ config }}", "{{ cycler }}", "{{ lipsum }}", "{{ joiner }}",
                                     "{{ namespace }}", "{{ dict }}", "{{ request.application }}",
                                     "{{ config.items() }}", "{{ lipsum() }}"])
def test_flask_and_jinja_globals_do_not_exist(payload):
    try:
        assert jinja(payload, strict=False) == ""
    except InvalidInput as exc:  # calling an undefined value fails even in lenient mode
        assert "is undefined" in exc.message
    with pytest.raises(InvalidInput, match="missing input variable"):
        jinja(payload)


def test_underscored_dict_keys_are_still_reachable():
    row = {"_id": 7, "created__date": "2024-01-01"}
    assert jinja("{{ row._id }} {{ row['_id'] }} {{ row.created__date }}", {"row": row}) == "7 7 2024-01-01"


def test_immutable_values_cannot_be_changed():
    for payload in ("{{ items.append(1) }}", "{{ d.update({'a': 1}) }}", "{{ d.clear() }}", "{{ items.pop() }}"):
        with pytest.raises(RenderError, match="security violation"):
            jinja(payload, {"items": [1], "d": {"a": 0}})


def test_only_range_is_global():
    assert set(sandbox._ENVS[True].globals) == {"range"}
    assert set(sandbox._ENVS[False].globals) == {"range"}


# --- sandbox: size ---------------------------------------------------------------------------


def refused_quickly(source: str, variables: dict | None = None, match: str = "", limits=DEFAULT_LIMITS) -> RenderError:
    start = time.perf_counter()
    with pytest.raises(RenderError, match=match or None) as info:
        jinja(source, variables, limits=limits)
    assert time.perf_counter() - start < 1.0, source  # generous: CI machines are busy
    return info.value


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("{{ 'x' * 100000000 }}", "repetition with \\*"),
        ("{{ 100000000 * 'x' }}", "repetition with \\*"),
        ("{{ [1] * 100000000 }}", "repetition with \\*"),
        ("{{ 9 ** (9 ** 9) }}", "integer power"),
        ("{{ (2 ** 9000) * (2 ** 9000) }}", "integer product"),
        ("{{ 'a'|center(10**9) }}", "integer argument 1000000000 is over the limit of 100000"),
        ("{{ 'a'.ljust(10**9) }}", "integer argument 1000000000"),
        ("{{ 'a'.zfill(10**9) }}", "integer argument"),
        ("{{ range(10**9)|list }}", "integer argument"),
        ("{{ range(0, 10**9, 1)|list }}", "integer argument"),
        ("{{ range(-100000, 100000)|list }}", "range of 200,000 items"),
        ("{{ 'a'|indent(10**9) }}", "integer argument"),
        ("{{ 'a'|truncate(10**9) }}", "integer argument"),
        ("{{ x|batch(10**9) }}", "integer argument"),
        ("{{ (1).to_bytes(10**9, 'big') }}", "integer argument"),
        ("{{ '%1000000000d' % 1 }}", "format width"),
        ("{{ '%.*f' % (1000000000, 1.5) }}", "integer argument"),
        ("{{ '%1000000000s'|format('a') }}", "format width"),
        ("{{ '{:>1000000000}'.format(1) }}", "format width"),
        ("{{ '{:{w}}'.format(1, w=1000000000) }}", "integer argument"),
        ("{{ '{:>1000000000}'.format_map({}) }}", "format width"),
        ("{% set a = 'x' * 100000 %}{{ a|replace('', a) }}", "filter 'replace'"),
        ("{% set a = 'x' * 100000 %}{{ a.replace('x', a) }}", "str.replace"),
        ("{% set a = 'x' * 100000 %}{{ a.encode().replace('x'.encode(), a.encode()) }}", "bytes.replace"),
        ("{{ ('\t' * 100000).expandtabs(100000) }}", "str.expandtabs"),
        ("{{ ('x' * 100000).translate({120: 'y' * 100000}) }}", "str.translate"),
        ("{{ ('x' * 100000).join(('y' * 100000)) }}", "str.join"),
        ("{{ range(100000)|join('x' * 100000) }}", "filter 'join'"),
        ("{% set a = ['x' * 100000] * 9 %}{{ a|join }}{{ (a + a)|join }}", "concatenation with \\+"),
        ("{{ ('\n' * 100000)|indent('x' * 100000) }}", "filter 'indent'"),
        ("{{ ('x ' * 50000)|wordwrap(1, wrapstring='y' * 100000) }}", "filter 'wordwrap'"),
        ("{{ (range(1000)|list)|tojson(indent=100000) }}", "filter 'tojson'"),
        ("{{ x|sum(start=[]) }}", "sum filter adds numbers only"),
        ("{% set a = 'x' * 100000 %}{{ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a }}", "concatenation with ~"),
        ("{% set a = 'x' * 100000 %}{% set b = a + a + a + a + a + a + a + a + a + a + a %}", "concatenation with \\+"),
        ("{% set a = ['x' * 100000] * 9 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}", "a literal"),
        ("{% set a = ['x' * 100000] * 9 %}{% set b = {'k': a, 'l': a} %}", "a literal"),
        ("{% set a = ['x' * 100000] * 9 %}{% set b = (a, a) %}", "a literal"),
        ("{% set a = [range(1000)|list] * 1000 %}{{ a }}", "repetition with \\*"),
        ("{% set a = [range(1000)|list] * 900 %}{{ [a] * 900 }}", "repetition with \\*"),
    ],
)
def test_oversized_values_are_refused_before_they_are_built(payload, match):
    refused_quickly(payload, {"x": [[1]] * 10})


def test_nine_to_the_nine_to_the_nine_is_small_in_jinja():
    # Jinja's ** is left-associative: (9 ** 9) ** 9 has 78 digits, so it is rendered;
    # the right-associative reading is the dangerous one and is refused.
    start = time.perf_counter()
    assert jinja("{{ 9 ** 9 ** 9 }}") == str((9**9) ** 9)
    assert time.perf_counter() - start < 1.0
    refused_quickly("{{ 9 ** (9 ** 9) }}", match="integer power")


def test_exponential_macros_are_stopped_by_the_buffer_limit():
    source = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% else %}{{ 'x' * 100000 }}{% endif %}"
        "{% endmacro %}{{ f(40) }}"
    )
    refused_quickly(source, match="buffered template output")


def test_block_set_in_a_loop_is_bounded():
    source = "{% set big %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}{{ big|length }}"
    refused_quickly(source)


def test_output_limit():
    limits = RenderLimits(max_output_chars=1000)
    assert jinja("{{ 'x' * 1000 }}", limits=limits) == "x" * 1000
    error = refused_quickly("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", limits=limits)
    assert "rendered output is longer than 1,000 characters" in error.message
    assert refused_quickly("{% for i in range(100000) %}xxxxxxxxxxx{% endfor %}").message.startswith("text: ")
    with pytest.raises(RenderError, match="longer than 1,000 characters"):
        fstr("{a}{a}", {"a": "x" * 600}, limits=limits)
    with pytest.raises(RenderError, match="longer than 1,000 characters"):
        fstr("x" * 1001, limits=limits)
    # the budget covers the whole template, not each message
    template = chat("{a}", "{a}")
    with pytest.raises(RenderError, match=r"messages\[1\]\.content: rendered output"):
        render("chat", template, "f-string", {"a": "x" * 600}, limits=limits)
    with pytest.raises(RenderError, match=r"messages\[1\]\.content: rendered output"):
        render("chat", chat("{{ a }}", "{{ a }}"), "jinja2", {"a": "x" * 600}, limits=limits)
    with pytest.raises(RenderError, match=r"messages\[1\]\.content: rendered output"):
        render("chat", chat("{{ a }}", "x" * 600), "jinja2", {"a": "x" * 600}, limits=limits)


def test_a_large_input_list_still_renders():
    items = [{"name": f"drug {i}", "mg": i} for i in range(5000)]
    out = jinja("{% for d in items %}{{ d.name }}={{ d.mg }};{% endfor %}", {"items": items})
    assert out.count(";") == 5000


# --- sandbox: time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "variables"),
    [
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", {}),
        ("{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}",
         {"xs": list(range(5000))}),
    ],
)
def test_time_limit_stops_long_loops(payload, variables):
    start = time.perf_counter()
    with pytest.raises(RenderError) as info:
        jinja(payload, variables)
    elapsed = time.perf_counter() - start
    assert "template rendering took longer than 1.0 s" in info.value.message
    assert elapsed < 3 * DEFAULT_LIMITS.max_seconds


@pytest.mark.parametrize(
    "payload",
    [
        "{% for i in range(100000) %}{% for j in range(100000) if j < 0 %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% if i == j %}{% endif %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
        "{% set s %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endset %}",
        "{% for i in range(100000) %}{% set x = range(100000)|select('odd')|list %}{% endfor %}",
        "{% for i in range(100000) %}{{ range(100000)|map('string')|join|length }}{% endfor %}",
    ],
)
def test_time_limit_other_shapes(payload):
    limits = RenderLimits(max_seconds=0.2)
    start = time.perf_counter()
    with pytest.raises(RenderError, match="took longer than 0.2 s"):
        jinja(payload, limits=limits)
    assert time.perf_counter() - start < 3 * 0.2 + 0.4


def test_recursion_is_a_render_error():
    with pytest.raises(RenderError, match="recursion"):
        jinja("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
    with pytest.raises(RenderError, match="recursion"):
        jinja("{% for i in range(100000) recursive %}{{ loop(range(100000)) }}{% endfor %}")


def test_one_deadline_for_the_whole_template():
    # ten messages of ~0.15 s each (here): only a shared deadline stops them within the limit
    limits = RenderLimits(max_seconds=0.3)
    slow = "{% for i in range(100) %}{% for j in range(6000) %}{% endfor %}{% endfor %}"
    start = time.perf_counter()
    with pytest.raises(RenderError, match=r"messages\[\d\]\.content: template rendering took longer"):
        render("chat", chat(*[slow] * 10), "jinja2", {}, limits=limits)
    assert time.perf_counter() - start < 3 * 0.3


def test_limits_are_per_render_across_threads():
    slow = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    quick = chat("{{ a }} and {{ b }}")

    def slow_render():
        with pytest.raises(RenderError, match="0.3 s"):
            jinja(slow, limits=RenderLimits(max_seconds=0.3))
        return "stopped"

    def quick_render(i):
        return render("chat", quick, "jinja2", {"a": i, "b": threading.get_ident()})["messages"][0]["content"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        slow_future = pool.submit(slow_render)
        outputs = list(pool.map(quick_render, range(200)))
        assert slow_future.result() == "stopped"
    assert all(out.startswith(f"{i} and ") for i, out in enumerate(outputs))


# --- properties ------------------------------------------------------------------------------

no_braces = st.text().filter(lambda s: "{" not in s and "}" not in s)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text())
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                              st.dictionaries(st.text(max_size=5), inner, max_size=4)),
                           max_leaves=10)


@given(no_braces, st.sampled_from(FORMATS), st.booleans())
def test_text_without_braces_renders_unchanged(source, fmt, strict):
    if source:
        assert render("completion", text(source), fmt, {}, strict=strict) == {"text": source}
        assert render("chat", chat(source), fmt, {}, strict=strict)["messages"][0]["content"] == source


@given(st.text())
def test_fstring_string_values_render_verbatim(value):
    assert fstr("{a}", {"a": value}) == value
    assert fstr("<{a}>{{a}}", {"a": value}) == f"<{value}>{{a}}"
    assert jinja("{{ a }}", {"a": value}) == value


@given(json_values)
def test_fstring_any_json_value(value):
    if value is None:
        expected = ""
    elif isinstance(value, (dict, list)):
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        expected = str(value)
    assert fstr("{a}", {"a": value}) == expected


FSTRING_PIECES = ["{", "}", "a", "b1", ":", ">3", "!r", ".", "[0]", " ", "é", "患者"]


@given(st.one_of(st.text(), st.lists(st.sampled_from(FSTRING_PIECES)).map("".join)))
def test_fstring_parser_agrees_with_str_format(source):
    """Whatever we accept, str.format reads the same way, and we accept nothing it rejects."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(source) if name is not None]
    except ValueError:
        fields = None
    try:
        variables = extract_variables("completion", text(source or "x"), "f-string")
    except InvalidInput:
        return
    assert fields is not None
    assert all(name.isidentifier() and conv is None and "{" not in spec for name, spec, conv in fields)
    assert variables == list(dict.fromkeys(name for name, _, _ in fields))
    values = {name: f"<{name}>" for name in variables}
    try:  # safe here: simple names only, string values (the oracle, not the implementation)
        expected = source.format(**values)
    except ValueError:
        with pytest.raises(RenderError):
            fstr(source, values)
        return
    assert (fstr(source, values) if source else "") == expected


JINJA_PIECES = [
    "{{", "}}", "{%", "%}", "{#", "#}", " ", "x", "y", "items", "for", "in", "endfor", "if", "endif", "else", "set",
    "=", "macro", "endmacro", "call", "endcall", "caller()", "(", ")", "[", "]", ",", ".", "|", "~", "+", "*", "**",
    "%", "/", "-", "0", "9", "100000", "'a'", '"b"', "range", "join", "replace", "upper", "list", "attr", "format",
    "__class__", "loop", "self", "recursive", "is", "defined", "not", "and", "{}", ":", "\n", "raw", "endraw",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.lists(st.sampled_from(JINJA_PIECES), max_size=30).map("".join)),
       st.sampled_from(FORMATS), st.booleans(), st.dictionaries(st.sampled_from(["x", "y", "items"]), json_values))
def test_rendering_raises_only_invalid_input(source, fmt, strict, variables):
    limits = RenderLimits(max_seconds=0.05, max_output_chars=10_000, max_int=1000)
    try:
        render("completion", text(source), fmt, variables, strict=strict, limits=limits)
    except InvalidInput:
        pass


# A grammar of Jinja expressions and statements, so that the fuzzer reaches the sandbox hooks
# (most random text is a syntax error and never renders).
FILTERS = sorted(sandbox._ENVS[True].filters)
METHODS = ["replace('a', x)", "join(items)", "split()", "center(n)", "ljust(n)", "expandtabs(n)", "upper()",
           "format(x, n)", "encode()", "count('a')", "zfill(n)", "translate({97: x})", "strip()", "items()"]
atoms = st.sampled_from(["x", "items", "n", "'a'", "'%s-%d'", "'{}{:>3}'", "9", "100000", "2", "-1", "1.5",
                         "none", "true", "loop", "range(n)", "[]", "{}", "undefined_name", "self"])


def _expressions(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from(["*", "**", "+", "~", "%", "-", "//", "/", "==", "in", "and"]), inner)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, st.sampled_from(FILTERS), st.lists(inner, max_size=2))
        .map(lambda t: f"({t[0]}|{t[1]}({', '.join(t[2])}))" if t[2] else f"({t[0]}|{t[1]})"),
        st.tuples(inner, st.sampled_from(METHODS)).map(lambda t: f"{t[0]}.{t[1]}"),
        st.lists(inner, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
        st.tuples(inner, inner).map(lambda t: f"{{'k': {t[0]}, 'v': {t[1]}}}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
    )


expressions = st.recursive(atoms, _expressions, max_leaves=8)
statements = st.recursive(
    expressions.map(lambda e: "{{ " + e + " }}"),
    lambda inner: st.one_of(
        st.tuples(expressions, inner).map(lambda t: f"{{% for x in {t[0]} %}}{t[1]}{{% endfor %}}"),
        st.tuples(expressions, inner).map(lambda t: f"{{% set x = {t[0]} %}}{t[1]}"),
        st.tuples(expressions, inner, inner).map(lambda t: f"{{% if {t[0]} %}}{t[1]}{{% else %}}{t[2]}{{% endif %}}"),
        st.tuples(inner, inner).map(lambda t: f"{{% macro f(x) %}}{t[0]}{{% endmacro %}}{t[1]}{{{{ f(x) }}}}"),
        st.tuples(inner, inner).map(lambda t: t[0] + t[1]),
    ),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statements, st.booleans(), st.dictionaries(st.sampled_from(["x", "items", "n"]), json_values))
def test_sandbox_fuzz_stays_within_limits(source, strict, variables):
    limits = RenderLimits(max_seconds=0.05, max_output_chars=10_000, max_int=1000)
    start = time.perf_counter()
    try:
        out = jinja(source, variables, strict=strict, limits=limits)
    except InvalidInput:
        pass
    else:
        assert len(out) <= limits.max_output_chars
    assert time.perf_counter() - start < 2.0, source  # bounded (generous for busy machines)


def test_fstring_rendering_does_not_load_jinja2():
    code = (
        "import sys; import promptyard.domain.templates as t; "
        "assert t.render_text('{a}', 'f-string', {'a': 1}) == '1'; "
        "assert 'jinja2' not in sys.modules and 'markupsafe' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
