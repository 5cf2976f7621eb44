"""Dependencies shared by the API routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from promptyard.domain import names
from promptyard.domain.records import Principal
from promptyard.web.context import AppContext, cached_principal, ctx, key_from_headers, principal_for_key


async def api_principal(request: Request) -> Principal:
    # Async so that a cached key costs no thread hop; a lookup runs in the thread pool.
    raw = key_from_headers(request)
    return cached_principal(raw) or await run_in_threadpool(principal_for_key, ctx(request), raw)


Auth = Annotated[Principal, Depends(api_principal)]
Ctx = Annotated[AppContext, Depends(ctx)]

# Ids and numbers are bounded so that no client value overflows a database integer column
# (32-bit on PostgreSQL; SQLite raises OverflowError past 2**63).
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Number = Annotated[int, Path(ge=1, le=MAX_ID)]
OptNumber = Annotated[int | None, Query(ge=1, le=MAX_ID)]

# Names in paths and queries: their rules in the OpenAPI; the services check them and say why.
PromptName = Annotated[str, Path(description="the prompt's name (may contain '/')",
                                 json_schema_extra={"pattern": names.PROMPT_NAME_PATTERN, "maxLength": 200})]
LabelName = Annotated[str, Path(json_schema_extra={"pattern": names.LABEL_PATTERN})]
FolderQuery = Annotated[str | None, Query(description="folder path; '' = top level",
                                          json_schema_extra={"pattern": names.FOLDER_PATH_PATTERN})]
