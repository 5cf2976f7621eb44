"""The API's OpenAPI document: FastAPI's, plus the rules that hold for every request body and that
FastAPI cannot see because middleware enforces them (web/middleware.py refuses JSON text with NUL
characters anywhere, in known fields and in ignored ones alike).

So every string in a request body gets a pattern without NUL, every object's keys too, and every
free-form JSON value (`{}`, extra properties) becomes JsonValue: any JSON without NUL in its text.
Clients and fuzzers then know what the server accepts.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from fastapi import FastAPI

NO_NUL = "^[^\\u0000]*$"
JSON_VALUE_REF = "#/components/schemas/JsonValue"
JSON_VALUE = {
    "description": "any JSON value whose text has no NUL (\\u0000) characters",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL}, {"type": "number"}, {"type": "boolean"}, {"type": "null"},
        {"type": "array", "items": {"$ref": JSON_VALUE_REF}},
        {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": {"$ref": JSON_VALUE_REF}},
    ],
}
_COMBINERS = ("anyOf", "oneOf", "allOf")


def install(app: FastAPI) -> None:
    """Replace app.openapi with one that adds the body rules (computed once, like FastAPI's)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_body_rules(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_body_rules(document: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    body_models = _body_models(doc, schemas)
    for name in body_models:
        schemas[name] = _no_nul(schemas[name])
    for path in doc.get("paths", {}).values():
        for op in path.values():
            for content in (op.get("requestBody") or {}).get("content", {}).values():
                if "schema" in content:
                    content["schema"] = _no_nul(content["schema"])
    schemas["JsonValue"] = JSON_VALUE
    return doc


def _body_models(doc: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """Names of the component schemas that request bodies use, directly or nested."""
    found: set[str] = set()
    stack = [c.get("schema") for p in doc.get("paths", {}).values() for op in p.values()
             for c in (op.get("requestBody") or {}).get("content", {}).values()]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] not in found:
                name = ref.rsplit("/", 1)[1]
                found.add(name)
                stack.append(schemas.get(name))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _no_nul(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return schema
    if not schema or set(schema) <= {"title", "description", "default"}:  # any JSON at all
        return {**schema, "$ref": JSON_VALUE_REF}
    out = dict(schema)
    for key in _COMBINERS:
        if key in out:
            out[key] = [_no_nul(s) for s in out[key]]
    kind = out.get("type")
    if kind == "string" and "pattern" not in out and "enum" not in out and "const" not in out:
        out["pattern"] = NO_NUL
    if kind == "array":
        out["items"] = _no_nul(out.get("items", {}))
    if kind == "object":
        names = out.get("propertyNames") or {}
        out["propertyNames"] = names if "pattern" in names else {**names, "pattern": NO_NUL}
        out["properties"] = {k: _no_nul(v) for k, v in out.get("properties", {}).items()}
        extra = out.get("additionalProperties", True)
        out["additionalProperties"] = {"$ref": JSON_VALUE_REF} if extra is True else _no_nul(extra)
    return out
