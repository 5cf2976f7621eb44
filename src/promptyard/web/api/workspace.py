"""/api/v1/workspace/display: the workspace's time zone and currency for the UI
(services/workspace_display.py). Reading needs `read`, changing `admin` (audited). The API itself
keeps ISO-8601 UTC times and US-dollar costs whatever these say."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from promptyard.services import workspace_display
from promptyard.web.api import errors
from promptyard.web.api.deps import Auth, Ctx

router = APIRouter(prefix="/api/v1/workspace", tags=["workspace"], responses=errors.READ)


class DisplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_zone: StrictStr | None = Field(None, max_length=200, description="an IANA name (Asia/Tokyo); null = each "
                                        "viewer's browser zone (UTC without JavaScript)")
    currency: StrictStr = Field("USD", max_length=10, description="USD or JPY")
    per_usd: StrictFloat | StrictInt | None = Field(None, description="JPY only: yen per US dollar (costs are "
                                                    "stored in dollars)")


@router.get("/display")
def get_display(c: Ctx, p: Auth):
    """{"time_zone": name or null, "currency": "USD" | "JPY", "per_usd": rate or null}."""
    with c.db.read() as s:
        return workspace_display.display(s, p)


@router.put("/display", responses=errors.WRITE)
def set_display(body: DisplayIn, c: Ctx, p: Auth):
    """Set the time zone and currency (admin; audited with the values before and after)."""
    with c.db.write() as s:
        return workspace_display.set_display(s, p, time_zone=body.time_zone, currency=body.currency,
                                             per_usd=body.per_usd)
