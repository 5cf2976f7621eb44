"""How the UI writes times, and which zone it writes them in. Storage and the API stay UTC; a page
shows every time in one zone and names it in the header ("Asia/Tokyo (UTC+9)").

The zone is the user's own (their settings), else the workspace's (services/workspace_display),
else the browser's: app.js puts `Intl`'s zone name into the `py_tz` cookie, so without JavaScript
it is UTC. Filter times typed without an offset are read in the same zone (request_pages)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from promptyard.services.workspace_display import valid_zone

BROWSER_COOKIE = "py_tz"  # set by static/app.js
DASH = "—"


def zone_for(own: str | None, workspace: str | None, browser: str | None) -> str:
    """The first valid zone of the user's, the workspace's and the browser's; UTC when none is."""
    return next((z for z in (own, workspace, browser) if valid_zone(z)), "UTC")


def shown(value: datetime | str | None, zone: str, seconds: bool = False) -> str:
    """A stored instant (aware, naive = UTC, or ISO text) in `zone`: 2026-03-01 09:30 JST."""
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    local = value.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def zone_label(zone: str, now: datetime | None = None) -> str:
    """The zone and its offset now: "Asia/Tokyo (UTC+9)", "Asia/Kolkata (UTC+5:30)", "UTC"."""
    offset = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(zone)).utcoffset() or timedelta()
    if zone == "UTC":
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"{zone} (UTC{sign}{minutes // 60}{f':{minutes % 60:02d}' if minutes % 60 else ''})"
