"""Dependencies shared by the API routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from promptyard.domain import names
from promptyard.domain.numbers import MAX_ID
from promptyard.domain.records import Principal
from promptyard.web.context import AppContext, api_key, ctx, request_principal


async def api_principal(request: Request) -> Principal:
    return await request_principal(request, api_key(request.headers))


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


