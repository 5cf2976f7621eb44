"""Dependencies shared by the API routers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator

from promptyard.domain import names
from promptyard.domain.numbers import MAX_ID
from promptyard.domain.records import Principal
from promptyard.web.context import AppContext, ctx, key_from_headers, request_principal


async def api_principal(request: Request) -> Principal:
    return await request_principal(request, key_from_headers(request))


Auth = Annotated[Principal, Depends(api_principal)]
Ctx = Annotated[AppContext, Depends(ctx)]

# Ids and numbers are bounded so that no client value overflows a database integer column.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Number = Annotated[int, Path(ge=1, le=MAX_ID)]
OptNumber = Annotated[int | None, Query(ge=1, le=MAX_ID)]

# Names in paths and queries: their rules in the OpenAPI; the services check them and say why.
PromptName = Annotated[str, Path(description="the prompt's name (may contain '/')",
                                 json_schema_extra={"pattern": names.PROMPT_NAME_PATTERN, "maxLength": 200})]
LabelName = Annotated[str, Path(json_schema_extra={"pattern": names.LABEL_PATTERN})]
FolderQuery = Annotated[str | None, Query(description="folder path; '' = top level",
                                          json_schema_extra={"pattern": names.FOLDER_PATH_PATTERN})]


# A time in a query: RFC 3339 as the OpenAPI's `date-time` says. Pydantic alone also reads numbers
# ('0.5' became 1970-01-01T00:00:00.5Z) and times without an offset, which the schema does not allow.
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:[Zz]|[+-]\d\d:\d\d)")


def _rfc3339(value: Any) -> Any:
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T09:00:00Z")
    return value


Time = Annotated[datetime, BeforeValidator(_rfc3339)]
