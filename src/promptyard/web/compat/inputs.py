"""Reading PromptLayer requests: the JSON body, the API key (header or body), and field values
the way the SDK sends them (explicit nulls for absent values, ids as ints or numeric strings)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from promptyard.domain.numbers import MAX_ID, ascii_int
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, TooLarge
from promptyard.web.context import AppContext, api_key, ctx, request_principal


@dataclass
class Call:
    """One authenticated compat call: the app context, who is calling, and the JSON body."""

    c: AppContext
    p: Principal
    body: dict[str, Any]


async def call(request: Request) -> Call:
    """Dependency: body first (the key may be in it), then the key - header `X-API-KEY` first,
    then body `api_key`, as the SDK sends it in one or the other depending on the endpoint."""
    body = await _body(request)
    raw = api_key(request.headers) or (body.get("api_key") if isinstance(body.get("api_key"), str) else None)
    context = ctx(request)
    principal = await request_principal(request, raw)
    limit = min(context.settings.publishable_max_body_bytes, context.settings.max_body_bytes)
    if principal.key_kind == "publishable" and len(await request.body()) > limit:
        # The guard applies this limit to keys in headers; a key in the body is known only now.
        raise TooLarge("errors.compat.request_body_larger_than", limit=limit)
    return Call(context, principal, body)


async def _body(request: Request) -> dict[str, Any]:
    data = await request.body()
    if not data.strip():
        return {}
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("errors.compat.body_valid_json", exc=exc) from None
    except RecursionError:  # the guard refuses deep bodies first; this holds if its limit is raised
        raise InvalidInput("errors.compat.body_json_nested_too") from None
    if not isinstance(value, dict):
        raise InvalidInput("errors.compat.body_json_object")
    return value


def integer(body: dict, name: str, *, required: bool = False, hi: int = MAX_ID) -> int | None:
    """An id or number (up to `hi`: ROW_ID_MAX for a request's): a JSON integer or a numeric string
    (the REST docs show string ids)."""
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput("errors.compat.name_required", name=name)
        return None
    number = ascii_int(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= hi:
        raise InvalidInput("errors.compat.whole_number_from_0", name=name, max_id=hi, value=str(value)[:40])
    return number


def text(body: dict, name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput("errors.compat.name_required", name=name)
        return None
    if not isinstance(value, str):
        raise InvalidInput("errors.compat.name_string", name=name)
    return value


def obj(body: dict, name: str) -> dict:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("errors.compat.name_object", name=name)
    return value


def string_map(value: Any, name: str) -> dict[str, str]:
    """Metadata as str -> str: run() sends its metadata unchecked, so numbers, booleans and even
    nested values arrive; they are kept as text rather than refused after the LLM call was made."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("errors.compat.object_key_value", name=name)
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items() if v is not None}
