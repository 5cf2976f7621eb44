"""The workspace's time zone and currency in the UI: times shown in it (the zone named on the page),
times typed into filters read in it, trends' days in it, costs in yen; the browser's zone when the
workspace has none (a cookie from app.js), UTC without it; the admin's form in English and Japanese."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from promptyard.web.ui import figures, times
from tests.support import log

pytestmark = pytest.mark.one_database

DISPLAY = "/api/v1/workspace/display"
EARLY = datetime(2026, 3, 1, 0, 30, tzinfo=timezone.utc)  # 09:30 in Tokyo
LATE_EVE = datetime(2026, 2, 28, 23, 30, tzinfo=timezone.utc)  # 08:30 on 1 March in Tokyo


def send(api, start: datetime, **kw) -> None:  # noqa: ANN001, ANN003
    body = log(start_time=start.isoformat(), end_time=(start + timedelta(seconds=1)).isoformat(), **kw)
    answer = api.post("/api/v1/requests", json={"requests": [body]})
    assert answer.json()["accepted"] == 1, answer.text


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr.*?</tr>", body, re.S)


def tokyo(api, **money) -> None:  # noqa: ANN001, ANN003
    answer = api.put(DISPLAY, json={"time_zone": "Asia/Tokyo", "currency": "USD", **money})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_log_at_0030_utc_shows_as_0930_in_a_tokyo_workspace_with_the_zone_named(api, ui, lang):
    send(api, EARLY)
    client = ui("viewer", lang=lang)
    assert "2026-03-01 00:30:00 UTC" in rows(client.get("/ui/requests").text)[0]
    tokyo(api)
    page = client.get("/ui/requests").text
    assert "2026-03-01 09:30:00 JST" in rows(page)[0]
    assert "Asia/Tokyo (UTC+9)" in page
    link = re.search(r'href="(/ui/requests/\d+)"', rows(page)[0]).group(1)
    assert "2026-03-01 09:30" in client.get(link).text
    assert "Asia/Tokyo (UTC+9)" in client.get("/ui/settings").text
    admin = ui("admin", lang=lang)
    for path in ("/ui/keys", "/ui/members"):  # keys' and members' dates are Tokyo's too
        page = admin.get(path).text
        assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d JST</td>", page) and " UTC</td>" not in page, path


def test_the_users_own_zone_goes_first_then_the_workspaces_then_the_browsers(api, ui):
    send(api, EARLY)
    client = ui("viewer")
    client.cookies.set(times.BROWSER_COOKIE, "America/New_York", path="/ui")
    assert "2026-02-28 19:30:00 EST" in client.get("/ui/requests").text  # the browser's
    tokyo(api)
    assert "2026-03-01 09:30:00 JST" in client.get("/ui/requests").text  # the workspace's
    client.post("/ui/settings", data={"csrf_token": client.csrf, "name": "v", "locale": "", "time_zone": "Europe/Berlin"})
    assert "2026-03-01 01:30:00 CET" in client.get("/ui/requests").text  # their own
    client.post("/ui/settings", data={"csrf_token": client.csrf, "name": "v", "locale": "", "time_zone": ""})
    assert "2026-03-01 09:30:00 JST" in client.get("/ui/requests").text  # back to the workspace's
    api.put(DISPLAY, json={"time_zone": None, "currency": "USD"})
    client.cookies.set(times.BROWSER_COOKIE, "Not/AZone", path="/ui")
    assert "2026-03-01 00:30:00 UTC" in client.get("/ui/requests").text  # a bad cookie is ignored


def test_filter_times_typed_without_an_offset_are_tokyo_times(api, ui):
    send(api, EARLY, tags=["early"])
    send(api, LATE_EVE, tags=["eve"])
    tokyo(api)
    client = ui("viewer")

    def tags(q: str) -> list[str]:
        page = client.get("/ui/requests", params={"q": q})
        assert page.status_code == 200, page.text
        return sorted(t for r in rows(page.text) for t in ("early", "eve") if f">{t}<" in r)

    assert tags('time >= "2026-03-01 09:00"') == ["early"]  # 09:00 JST = 00:00 UTC
    assert tags('time >= "2026-03-01 08:00" AND time < "2026-03-01 09:00"') == ["eve"]
    assert tags('time >= "2026-03-01"') == ["early", "eve"]  # Tokyo's 1 March starts at 15:00 UTC the day before
    assert tags('time < "2026-03-01"') == []
    assert tags('time >= "2026-03-01T00:00:00Z"') == ["early"]  # an explicit offset is taken as written
    assert tags('time >= "2026-03-01T09:00:00+09:00"') == ["early"]
    # The API's filters stay UTC.
    found = api.get("/api/v1/requests", params={"filter": 'time >= "2026-03-01 00:00"'}).json()["items"]
    assert [i["tags"] for i in found] == [["early"]]


def test_trend_days_are_the_workspaces_days(api, ui):
    now = datetime.now(timezone.utc)
    at = (now - timedelta(days=3)).replace(hour=16, minute=0, second=0, microsecond=0)  # 01:00 next day in Tokyo
    name = f"trend-{at:%H%M%S}"
    send(api, at, prompt={"name": name})
    client = ui("viewer")

    def days_with_one() -> list[str]:
        page = client.get("/ui/analytics", params={"prompt": name, "days": 7}).text
        return re.findall(r"<title>[^<]* · (\d{4}-\d\d-\d\d): 1</title>", page)

    assert at.date().isoformat() in days_with_one()
    tokyo(api)
    assert (at.date() + timedelta(days=1)).isoformat() in days_with_one()
    assert at.date().isoformat() not in days_with_one()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_costs_in_yen_at_the_admins_rate(api, ui, lang):
    send(api, EARLY)  # gpt-4o, 1000 input and 500 output tokens: $0.0075
    client = ui("viewer", lang=lang)
    assert "$0.0075<" in rows(client.get("/ui/requests").text)[0]
    tokyo(api, currency="JPY", per_usd=160)
    page = client.get("/ui/requests").text
    assert "¥1.20<" in rows(page)[0] and "$" not in rows(page)[0]
    link = re.search(r'href="(/ui/requests/\d+)"', rows(page)[0]).group(1)
    assert "¥1.20" in client.get(link).text
    assert "¥" in client.get("/ui/analytics").text


def test_yen_figures():
    yen = figures.Currency("JPY", 150.0)
    got = [figures.money(v, yen) for v in (None, 0, 10, 0.5, 0.0075, 0.000042)]
    assert got == ["—", "¥0", "¥1,500", "¥75.00", "¥1.12", "¥0.0063"]
    assert figures.money(0.0075) == "$0.0075"  # dollars by default


def test_zone_labels():
    winter = datetime(2026, 1, 15, tzinfo=timezone.utc)
    summer = datetime(2026, 7, 15, tzinfo=timezone.utc)
    assert times.zone_label("Asia/Tokyo", winter) == "Asia/Tokyo (UTC+9)"
    assert times.zone_label("Asia/Kolkata", winter) == "Asia/Kolkata (UTC+5:30)"
    assert times.zone_label("America/New_York", summer) == "America/New_York (UTC-4)"
    assert times.zone_label("UTC", winter) == "UTC"


@pytest.mark.parametrize(("lang", "saved", "refused"), [
    ("en", "Workspace display saved.", "For yen, enter how many yen one US dollar is"),
    ("ja", "ワークスペースの表示設定を保存しました。", "日本円の場合は、1 米ドルが何円か"),
])
def test_admins_set_the_display_in_the_settings_form(api, ui, lang, saved, refused):
    admin = ui("admin", lang=lang)
    form = admin.get("/ui/settings").text
    assert 'action="/ui/settings/display"' in form
    answer = admin.post("/ui/settings/display", data={"csrf_token": admin.csrf, "time_zone": "Asia/Tokyo",
                                                      "currency": "JPY", "per_usd": "abc"})
    assert answer.status_code == 422 and refused in answer.text
    answer = admin.post("/ui/settings/display", data={"csrf_token": admin.csrf, "time_zone": "Mars/Base",
                                                      "currency": "USD", "per_usd": ""})
    assert answer.status_code == 422
    answer = admin.post("/ui/settings/display", data={"csrf_token": admin.csrf, "time_zone": "Asia/Tokyo",
                                                      "currency": "JPY", "per_usd": "151.5"})
    assert answer.status_code == 200 and saved in answer.text  # followed the redirect
    assert api.get(DISPLAY).json() == {"time_zone": "Asia/Tokyo", "currency": "JPY", "per_usd": 151.5}
    assert 'value="151.5"' in answer.text and '<option value="Asia/Tokyo" selected>' in answer.text
    api.put(DISPLAY, json={"time_zone": None, "currency": "JPY", "per_usd": 150})
    assert 'name="per_usd" inputmode="decimal" value="150"' in admin.get("/ui/settings").text  # not 150.0


def test_editors_neither_see_nor_send_the_display_form(api, ui):
    editor = ui("editor")
    assert 'action="/ui/settings/display"' not in editor.get("/ui/settings").text
    answer = editor.post("/ui/settings/display", data={"csrf_token": editor.csrf, "time_zone": "Asia/Tokyo",
                                                       "currency": "USD"})
    assert answer.status_code == 403
    assert api.get(DISPLAY).json()["time_zone"] is None


def test_the_grammar_reads_times_without_an_offset_in_the_zone_it_is_given():
    from zoneinfo import ZoneInfo

    from promptyard.domain import query

    zone = ZoneInfo("Asia/Tokyo")
    assert query.parse('time >= "2026-03-01 09:00"', zone).value == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert query.parse('time >= "2026-03-01"', zone).value == datetime(2026, 2, 28, 15, tzinfo=timezone.utc)
    assert query.parse('time >= "2026-03-01 09:00"').value == datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    assert query.parse('time >= "2026-03-01T09:00Z"', zone).value == datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
