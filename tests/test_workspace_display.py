"""The workspace's display settings on SQLite and PostgreSQL: a time zone (none by default: the
browser's) and a currency (USD by default; JPY with a rate per dollar), validated with clear 4xx,
changed by admins only and audited; the API keeps UTC times whatever the zone."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from promptyard.errors import Forbidden, InvalidInput
from promptyard.services import workspace_display
from tests.conftest import make_key
from tests.erasure_support import events
from tests.support import log

URL = "/api/v1/workspace/display"


def test_defaults_then_an_admin_sets_tokyo_and_yen_which_is_audited(api, database):
    assert api.get(URL).json() == {"time_zone": None, "currency": "USD", "per_usd": None}
    answer = api.put(URL, json={"time_zone": "Asia/Tokyo", "currency": "JPY", "per_usd": 150})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"time_zone": "Asia/Tokyo", "currency": "JPY", "per_usd": 150.0}
    assert api.get(URL).json() == answer.json()
    (event,) = events(database, api.principal, "display.set")
    assert event.details == {"from": {"time_zone": None, "currency": "USD", "per_usd": None},
                             "to": {"time_zone": "Asia/Tokyo", "currency": "JPY", "per_usd": 150.0}}
    assert api.put(URL, json={"time_zone": "Asia/Tokyo", "currency": "JPY", "per_usd": 150}).status_code == 200
    assert len(events(database, api.principal, "display.set")) == 1  # nothing changed: nothing recorded
    back = api.put(URL, json={"time_zone": None, "currency": "USD"})
    assert back.json() == {"time_zone": None, "currency": "USD", "per_usd": None}


@pytest.mark.parametrize("body", [
    {"time_zone": "Mars/Olympus", "currency": "USD"}, {"time_zone": "", "currency": "USD"},
    {"time_zone": "../../etc/passwd", "currency": "USD"}, {"time_zone": 9, "currency": "USD"},
    {"currency": "EUR"}, {"currency": "JPY"}, {"currency": "JPY", "per_usd": 0}, {"currency": "JPY", "per_usd": -3},
    {"currency": "JPY", "per_usd": 1e9}, {"currency": "JPY", "per_usd": "150"}, {"currency": "JPY", "per_usd": True},
    {"currency": "USD", "per_usd": 1.0}, {"colour": "red"},
])
def test_bad_settings_are_refused_with_422(api, body):
    answer = api.put(URL, json=body)
    assert answer.status_code == 422, (body, answer.text)
    assert answer.json()["error"]["code"] == "invalid_input"
    assert api.get(URL).json()["currency"] == "USD"  # unchanged


def test_only_admins_change_them_and_every_reader_sees_them(app, api, database):
    reader = TestClient(app, raise_server_exceptions=False)
    reader.headers["Authorization"] = "Bearer " + make_key(database, api.principal, scopes=("read", "write", "ingest"))
    assert reader.put(URL, json={"time_zone": "Asia/Tokyo", "currency": "USD"}).status_code == 403
    api.put(URL, json={"time_zone": "Asia/Tokyo", "currency": "USD"})
    assert reader.get(URL).json()["time_zone"] == "Asia/Tokyo"


def test_the_service_checks_rights_and_values(database, principal):
    editor = principal.__class__(workspace_id=principal.workspace_id, actor="ed", scopes=frozenset({"read", "write"}))
    with database.write() as s, pytest.raises(Forbidden):
        workspace_display.set_display(s, editor, time_zone="UTC", currency="USD", per_usd=None)
    with database.write() as s, pytest.raises(InvalidInput) as bad:
        workspace_display.set_display(s, principal, time_zone="Asia/Tokio", currency="USD", per_usd=None)
    assert bad.value.details["field"] == "time_zone"
    with database.write() as s:
        got = workspace_display.set_display(s, principal, time_zone="Europe/Berlin", currency="JPY", per_usd=151.25)
    assert got == {"time_zone": "Europe/Berlin", "currency": "JPY", "per_usd": 151.25}


def test_the_api_keeps_utc_times_in_a_tokyo_workspace(api):
    api.put(URL, json={"time_zone": "Asia/Tokyo", "currency": "JPY", "per_usd": 150})
    api.post("/api/v1/requests", json={"requests": [log(start_time="2026-03-01T00:30:00Z", end_time="2026-03-01T00:30:01Z")]})
    item = api.get("/api/v1/requests").json()["items"][0]
    assert item["start_time"].startswith("2026-03-01T00:30:00")
    # A filter without an offset stays UTC in the API (01:00 Tokyo time would match the log).
    assert api.get("/api/v1/requests", params={"filter": 'time >= "2026-03-01 00:00"'}).json()["items"]
    assert api.get("/api/v1/requests", params={"filter": 'time >= "2026-03-01 01:00"'}).json()["items"] == []
