"""A workspace's display settings: the time zone the UI shows times in and reads typed times in,
and the currency costs are shown in (US dollars, or yen at a rate per dollar an admin enters; costs
are stored in dollars, as model prices are). Admin only to change, audited like retention.

The time zone is an IANA name; none set means each viewer's browser zone (UTC without JavaScript).
A user's own zone in their settings goes before the workspace's (web/ui/session.py)."""

from __future__ import annotations

import math
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput
from promptyard.services import audit
from promptyard.store.models import Workspace

CURRENCIES = ("USD", "JPY")
MAX_RATE = 1_000_000.0  # units of the currency per US dollar


def valid_zone(name: object) -> bool:
    """An IANA time zone name this server knows ("Asia/Tokyo", "UTC")."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def display(session: Session, p: Principal) -> dict[str, Any]:
    """{"time_zone": name or None, "currency": "USD" | "JPY", "per_usd": rate or None}."""
    access.require(p, "read")
    return _shown(session.get(Workspace, p.workspace_id))


def set_display(session: Session, p: Principal, *, time_zone: Any, currency: Any, per_usd: Any) -> dict[str, Any]:
    """Set both settings at once (None time zone: the browser's). USD takes no rate; JPY needs one."""
    access.require(p, "admin")
    if time_zone is not None and not valid_zone(time_zone):
        raise InvalidInput("errors.system.time_zone_unknown_time", time_zone=str(time_zone)[:64],
                           details={"field": "time_zone", "ui_message": "error.display_zone"})
    if currency not in CURRENCIES:
        raise InvalidInput("errors.system.currency_currencies", currencies=', '.join(CURRENCIES),
                           details={"field": "currency", "ui_message": "error.display_currency"})
    if currency == "USD" and per_usd is not None:
        raise InvalidInput("errors.system.per_usd_us_dollars",
                           details={"field": "per_usd", "ui_message": "error.display_rate"})
    if currency != "USD" and not _rate_ok(per_usd):
        raise InvalidInput("errors.system.per_usd_needs_rate", currency=currency, max_rate=MAX_RATE,
                           details={"field": "per_usd", "ui_message": "error.display_rate"})
    ws = session.get(Workspace, p.workspace_id, with_for_update=True)
    before = _shown(ws)
    ws.time_zone = time_zone
    ws.currency = None if currency == "USD" else {"code": currency, "per_usd": float(per_usd)}
    after = _shown(ws)
    if after != before:
        audit.record(session, p.workspace_id, p.actor, "display.set", "workspace", p.workspace_id,
                     {"from": before, "to": after})
    session.flush()
    return after


def _rate_ok(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 < value <= MAX_RATE)


def _shown(ws: Workspace) -> dict[str, Any]:
    money = ws.currency or {}
    return {"time_zone": ws.time_zone, "currency": money.get("code", "USD"), "per_usd": money.get("per_usd")}
