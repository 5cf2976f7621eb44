"""Dependencies shared by the API routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from promptyard.domain.records import Principal
from promptyard.web.context import AppContext, ctx, key_from_headers, principal_for_key


def api_principal(request: Request) -> Principal:
    return principal_for_key(ctx(request), key_from_headers(request))


Auth = Annotated[Principal, Depends(api_principal)]
Ctx = Annotated[AppContext, Depends(ctx)]

# Ids and numbers are bounded so that no client value overflows a database integer (SQLite raises
# OverflowError past 2**63).
MAX_ID = 2**53
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Number = Annotated[int, Path(ge=1, le=MAX_ID)]
OptNumber = Annotated[int | None, Query(ge=1, le=MAX_ID)]
