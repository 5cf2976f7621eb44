"""Dependencies shared by the API routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from promptyard.domain.records import Principal
from promptyard.web.context import AppContext, ctx, key_from_headers, principal_for_key


def api_principal(request: Request) -> Principal:
    return principal_for_key(ctx(request), key_from_headers(request))


Auth = Annotated[Principal, Depends(api_principal)]
Ctx = Annotated[AppContext, Depends(ctx)]
