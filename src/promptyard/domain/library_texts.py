"""Texts that libraries write, as catalogue Texts in the reader's language (issue 18).

Three libraries word problems in English for us: json's decoder (`JSONDecodeError.msg`), Jinja2's
parser and runtime (`TemplateSyntaxError`, `UndefinedError`, `SecurityError`), and pydantic's
validation (the API's 422 answers). Each is read here by kind, with its particulars (the tag, the
token, the limit) kept as fields, and becomes a key of `messages/errors.library.*.json`; a kind not
known here still gets a sentence in the reader's language, with the library's words in parentheses.

Pure functions of the library's message or error dict: no import of jinja2 or pydantic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from promptyard.catalogue import Text

# -- json's decoder ---------------------------------------------------------------------------------

_JSON = {
    "Expecting value": "errors.library.json_expecting_value",
    "Expecting property name enclosed in double quotes": "errors.library.json_expecting_name",
    "Expecting ':' delimiter": "errors.library.json_expecting_colon",
    "Expecting ',' delimiter": "errors.library.json_expecting_comma",
    "Unterminated string starting at": "errors.library.json_unterminated_string",
    "Invalid control character at": "errors.library.json_control_character",
    "Invalid \\escape": "errors.library.json_bad_escape",
    "Invalid \\uXXXX escape": "errors.library.json_bad_escape",
    "Extra data": "errors.library.json_extra_data",
    "Illegal trailing comma before end of object": "errors.library.json_trailing_comma",
    "Illegal trailing comma before end of array": "errors.library.json_trailing_comma",
}


def json_reason(msg: str) -> Text:
    """What json's decoder found (`JSONDecodeError.msg`, without its position)."""
    key = _JSON.get(msg) or next((k for m, k in _JSON.items() if msg.startswith(m)), None)
    return Text(key) if key else Text("errors.library.json_other", detail=_short(msg))


def json_problem(exc: json.JSONDecodeError) -> Text:
    """The whole problem, with the line and column (1-based) of `exc.pos` in its document."""
    return Text("errors.library.json_at", reason=json_reason(exc.msg), line=exc.lineno, column=exc.colno)


# -- Jinja2 -----------------------------------------------------------------------------------------

_Q = r"'((?:[^'\\]|\\.)*)'"  # one quoted name as Jinja writes it (repr)
_LOOKING = r"(?: Jinja was looking for the following tags: (?P<tags>.+?)\.)?"
_INNERMOST = rf"(?: The innermost block that needs to be closed is {_Q}\.)?"
_NESTING = r" You probably made a nesting mistake\. Jinja is expecting this tag, but currently looking for (?P<tags>.+?)\."
_JINJA: list[tuple[re.Pattern, str]] = [(re.compile(p + r"\.?$", re.S), k) for p, k in [
    (rf"Unexpected end of template\.{_LOOKING}{_INNERMOST}", "errors.library.jinja_unexpected_end"),
    (rf"Encountered unknown tag {_Q}\.{_NESTING}{_INNERMOST}", "errors.library.jinja_nesting"),
    (rf"Encountered unknown tag {_Q}\.{_LOOKING}{_INNERMOST}", "errors.library.jinja_unknown_tag"),
    (rf"unexpected end of template, expected {_Q}", "errors.library.jinja_end_expected"),
    (rf"expected token {_Q}, got {_Q}", "errors.library.jinja_expected_got"),
    (rf"unexpected {_Q}, expected {_Q}", "errors.library.jinja_unexpected_expected"),
    (rf"Expected an expression, got {_Q}", "errors.library.jinja_expression_expected"),
    (rf"unexpected char {_Q} at \d+", "errors.library.jinja_unexpected_char"),
    (rf"unexpected {_Q}", "errors.library.jinja_unexpected"),
    (rf"No filter named {_Q}", "errors.library.jinja_no_filter"),
    (rf"No test named {_Q}", "errors.library.jinja_no_test"),
    (r"Missing end of comment tag", "errors.library.jinja_comment_not_closed"),
    (rf"block {_Q} defined twice", "errors.library.jinja_block_twice"),
    (r"tag name expected", "errors.library.jinja_tag_name_expected"),
    (r"Invalid character in identifier", "errors.library.jinja_bad_identifier"),
    (rf"{_Q} is undefined", "errors.library.jinja_undefined"),
    (rf"{_Q} has no attribute {_Q}", "errors.library.jinja_no_attribute"),
    (rf"(.+?) has no element {_Q}", "errors.library.jinja_no_element"),
    (rf"access to attribute {_Q} of {_Q} object is unsafe", "errors.library.jinja_unsafe_attribute"),
]]
# The fields of each kind, in the order of the pattern's groups (named groups: by name).
_JINJA_FIELDS = {
    "errors.library.jinja_unknown_tag": ("tag",), "errors.library.jinja_nesting": ("tag",),
    "errors.library.jinja_end_expected": ("expected",), "errors.library.jinja_expected_got": ("expected", "got"),
    "errors.library.jinja_unexpected_expected": ("got", "expected"),
    "errors.library.jinja_expression_expected": ("got",), "errors.library.jinja_unexpected_char": ("char",),
    "errors.library.jinja_unexpected": ("got",), "errors.library.jinja_no_filter": ("name",),
    "errors.library.jinja_no_test": ("name",), "errors.library.jinja_block_twice": ("name",),
    "errors.library.jinja_undefined": ("name",), "errors.library.jinja_no_attribute": ("obj", "name"),
    "errors.library.jinja_no_element": ("obj", "name"), "errors.library.jinja_unsafe_attribute": ("name", "obj"),
}
# Jinja's words for tokens that are not written as themselves (lexer.describe_token).
_TOKENS = {
    "end of print statement": "errors.library.token_variable_end", "begin of print statement":
    "errors.library.token_variable_begin", "end of statement block": "errors.library.token_block_end",
    "begin of statement block": "errors.library.token_block_begin", "end of template": "errors.library.token_eof",
    "end of comment": "errors.library.token_comment_end", "begin of comment": "errors.library.token_comment_begin",
    "name": "errors.library.token_name", "string": "errors.library.token_string",
    "integer": "errors.library.token_integer", "float": "errors.library.token_float",
    "template data / text": "errors.library.token_data",
}


def jinja_reason(message: str | None) -> Text:
    """What Jinja2 found, from its message (a syntax error's, an undefined value's, the sandbox's)."""
    text = (message or "").strip()
    for pattern, key in _JINJA:
        found = pattern.match(text)
        if found is None:
            continue
        groups = found.groupdict()
        if key in ("errors.library.jinja_unexpected_end", "errors.library.jinja_unknown_tag",
                    "errors.library.jinja_nesting"):
            return _open_block(key, found, groups)
        values = [g for i, g in enumerate(found.groups()) if i not in _named_indexes(pattern)]
        return Text(key, **{name: _token(v) if name in ("expected", "got") else _quoted(v)
                            for name, v in zip(_JINJA_FIELDS.get(key, ()), values)})
    return Text("errors.library.jinja_other", detail=_short(text or "syntax error"))


def _named_indexes(pattern: re.Pattern) -> set[int]:
    return {i - 1 for i in pattern.groupindex.values()}


def _open_block(key: str, found: re.Match, groups: dict[str, Any]) -> Text:
    """An end or a tag where a block is still open: name the block and the tags that would close it."""
    positional = [g for i, g in enumerate(found.groups()) if i not in _named_indexes(found.re)]
    tag = positional[0] if key != "errors.library.jinja_unexpected_end" else None
    block = positional[-1] if len(positional) > (0 if tag is None else 1) else None
    fields: dict[str, Any] = {"tag": _quoted(tag)} if tag is not None else {}
    if block and groups.get("tags"):
        return Text(key + "_in", block=_quoted(block), tags=_one_of(re.findall(_Q, groups["tags"])), **fields)
    return Text(key, **fields) if key != "errors.library.jinja_nesting" else Text(
        "errors.library.jinja_unknown_tag", **fields)


def _token(word: str | None) -> Text | str:
    """A token Jinja expected or found: its words for the kinds it names ("end of print statement")."""
    key = _TOKENS.get(word or "")
    return Text(key) if key else _quoted(word)


def _quoted(word: str | None) -> str:
    """A name as Jinja quoted it (a tag, a block, a variable, a character)."""
    return "'" + (word or "").replace("\\'", "'") + "'"


def _one_of(words: Iterable[str]) -> Text | str:
    """'a' or 'b' or 'c' (「'a'、'b'、'c'」 in Japanese), each word as Jinja's token."""
    items: list[Text | str] = [_token(w) for w in words]
    if not items:
        return ""
    text = items[0]
    for item in items[1:]:
        text = Text("errors.library.or_list", items=text, last=item)
    return text


# -- pydantic ---------------------------------------------------------------------------------------

# pydantic's error type -> the key that words it, with the ctx fields the text uses.
PYDANTIC: dict[str, tuple[str, tuple[str, ...]]] = {
    "missing": ("errors.library.v_missing", ()),
    "extra_forbidden": ("errors.library.v_extra", ()),
    "string_type": ("errors.library.v_text", ()),
    "string_unicode": ("errors.library.v_text", ()),
    "int_type": ("errors.library.v_integer", ()),
    "int_parsing": ("errors.library.v_integer", ()),
    "int_from_float": ("errors.library.v_integer", ()),
    "int_parsing_size": ("errors.library.v_number_too_large", ()),
    "float_type": ("errors.library.v_number", ()),
    "float_parsing": ("errors.library.v_number", ()),
    "finite_number": ("errors.library.v_finite", ()),
    "bool_type": ("errors.library.v_bool", ()),
    "bool_parsing": ("errors.library.v_bool", ()),
    "list_type": ("errors.library.v_list", ()),
    "tuple_type": ("errors.library.v_list", ()),
    "set_type": ("errors.library.v_list", ()),
    "dict_type": ("errors.library.v_object", ()),
    "mapping_type": ("errors.library.v_object", ()),
    "model_type": ("errors.library.v_object", ()),
    "model_attributes_type": ("errors.library.v_object", ()),
    "none_required": ("errors.library.v_null", ()),
    "greater_than": ("errors.library.v_greater_than", ("gt",)),
    "greater_than_equal": ("errors.library.v_at_least", ("ge",)),
    "less_than": ("errors.library.v_less_than", ("lt",)),
    "less_than_equal": ("errors.library.v_at_most", ("le",)),
    "multiple_of": ("errors.library.v_multiple_of", ("multiple_of",)),
    "string_too_short": ("errors.library.v_text_too_short", ("min_length",)),
    "string_too_long": ("errors.library.v_text_too_long", ("max_length",)),
    "string_pattern_mismatch": ("errors.library.v_pattern", ("pattern",)),
    "too_short": ("errors.library.v_too_few", ("min_length",)),
    "too_long": ("errors.library.v_too_many", ("max_length",)),
    "literal_error": ("errors.library.v_one_of", ("expected",)),
    "enum": ("errors.library.v_one_of", ("expected",)),
    "datetime_type": ("errors.library.v_datetime", ()),
    "datetime_parsing": ("errors.library.v_datetime", ()),
    "datetime_from_date_parsing": ("errors.library.v_datetime", ()),
    "datetime_object_invalid": ("errors.library.v_datetime", ()),
    "date_type": ("errors.library.v_date", ()),
    "date_parsing": ("errors.library.v_date", ()),
    "date_from_datetime_parsing": ("errors.library.v_date", ()),
    "date_from_datetime_inexact": ("errors.library.v_date", ()),
    "timezone_aware": ("errors.library.v_timezone_aware", ()),
    "uuid_type": ("errors.library.v_uuid", ()),
    "uuid_parsing": ("errors.library.v_uuid", ()),
    "url_type": ("errors.library.v_url", ()),
    "url_parsing": ("errors.library.v_url", ()),
    "union_tag_invalid": ("errors.library.v_tag_invalid", ("discriminator", "tag", "expected_tags")),
    "union_tag_not_found": ("errors.library.v_tag_missing", ("discriminator",)),
}


def validation_field(err: Mapping[str, Any]) -> str:
    """The dotted name of an error's place ("messages.0.role"), without FastAPI's "body"/"query" root
    ("body" for a body that is not JSON, whose place is a position)."""
    if err.get("type") == "json_invalid":
        return "body"
    return ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header", "cookie")) \
        or "body"


def validation_problem(err: Mapping[str, Any], body: object = None) -> Text:
    """One of pydantic's errors (an item of `ValidationError.errors()`), without its field. `body` is
    the text FastAPI could not parse, for the line and column of a JSON error."""
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind == "json_invalid":
        position = (err.get("loc") or (None,))[-1]
        if isinstance(body, (str, bytes)) and isinstance(position, int):
            doc = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            return json_problem(json.JSONDecodeError(str(ctx.get("error", "")), doc, position))
        return Text("errors.library.json_invalid", reason=json_reason(str(ctx.get("error", ""))))
    known = PYDANTIC.get(kind)
    if known is None:
        return Text("errors.library.v_other", detail=_short(str(err.get("msg") or kind)))
    key, names = known
    fields = {name: ctx.get(name, "") for name in names}
    if "expected" in fields:
        fields["expected"] = _one_of(re.findall(_Q, str(fields["expected"]))) or str(fields["expected"])
    return Text(key, **fields)


def validation_message(problems: list[tuple[str, Text]]) -> Text:
    """The sentence for an answer's `message`: the first problem, and how many more there are."""
    field, problem = problems[0] if problems else ("body", Text("errors.library.v_other", detail="invalid"))
    first = Text("errors.library.field_problem", field=field, problem=problem)
    more = len(problems) - 1
    if more == 0:
        return first
    return Text("errors.library.and_one_more" if more == 1 else "errors.library.and_more", first=first, n=more)


def _short(text: str, size: int = 300) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
