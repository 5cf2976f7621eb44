"""Dependencies shared by the API routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from promptyard.domain.records import Principal
from promptyard.web.context import AppContext, ctx, key_from_headers, request_principal


async def api_principal(request: Request) -> Principal:
    return await request_principal(request, key_from_headers(request))


Auth = Annotated[Principal, Depends(api_principal)]
Ctx = Annotated[AppContext, Depends(ctx)]

# Ids and numbers are bounded so that no client value overflows a database integer column
# (32-bit on PostgreSQL; SQLite raises OverflowError past 2**63).
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Number = Annotated[int, Path(ge=1, le=MAX_ID)]
OptNumber = Annotated[int | None, Query(ge=1, le=MAX_ID)]
