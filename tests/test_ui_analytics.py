"""The analytics page in the navigation, and its trends over time."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.one_database


@pytest.mark.parametrize(("lang", "word"), [("en", "Analytics"), ("ja", "分析")])
def test_analytics_is_in_the_top_navigation(ui, lang, word):  # noqa: ANN001
    page = ui("viewer", lang=lang).get("/ui/analytics").text
    nav = re.search(r'<nav class="main".*?</nav>', page, re.S).group(0)
    assert f'<a href="/ui/analytics" aria-current="page">{word}</a>' in nav


def _recent_logs(api, name: str, days_ago: list[int]) -> None:  # noqa: ANN001
    from datetime import datetime, timedelta, timezone

    from tests.support import ingest, log, publish

    publish(api, name, "v1 {q}")
    publish(api, name, "v2 {q}")
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    logs = []
    for i, ago in enumerate(days_ago):
        at = now - timedelta(days=ago)
        logs.append(log(start_time=at.isoformat(), end_time=(at + timedelta(seconds=1)).isoformat(),
                        prompt={"name": name, "version": 1 + i % 2}, status="error" if i % 3 == 0 else "ok",
                        scores=[{"name": "follows_manual", "value": 70 + i}]))
    ingest(api, *logs)


@pytest.mark.parametrize(("lang", "titles"), [
    ("en", ["Requests per day", "Error rate per day", "Score follows_manual: mean per day"]),
    ("ja", ["1 日のリクエスト数", "1 日のエラー率", "スコア follows_manual: 1 日の平均"])])
def test_trends_per_day_and_version_as_charts(api, ui, lang, titles):  # noqa: ANN001
    import xml.etree.ElementTree as ET

    from tests.support import unique

    name = unique("trend")
    _recent_logs(api, name, [0, 0, 1, 2, 2, 2, 5, 20])
    client = ui("viewer", lang=lang)
    page = client.get("/ui/analytics", params={"prompt": name, "days": 7})
    assert page.status_code == 200
    figures = re.findall(r'<figure class="chart-box" data-chart="(trend:[^"]+)">\s*<figcaption>([^<]+)</figcaption>\s*'
                         r"(<svg.*?</svg>)", page.text, re.S)
    assert [f[0] for f in figures] == ["trend:count", "trend:error_rate", "trend:score:follows_manual"]
    assert [f[1] for f in figures] == titles
    svg = ET.fromstring(figures[0][2])
    ns = "{http://www.w3.org/2000/svg}"
    lines = svg.findall(f"{ns}g")
    assert [g.get("data-label") for g in lines] == [f"{name}@1", f"{name}@2"]  # the busier version first
    tips = [c.find(f"{ns}title").text for g in lines for c in g.iter(f"{ns}circle")]
    assert len(tips) == 14 and all(t.split(": ")[-1].isdigit() for t in tips)  # a point per day (7) per version
    assert sum(int(t.split(": ")[-1]) for t in tips) == 7  # the log 20 days ago is outside the period
    assert 'selected>' in page.text and client.get("/ui/analytics", params={"days": 0}).status_code == 422
    assert client.get("/ui/analytics", params={"days": "x"}).status_code == 422


def test_no_trends_without_requests_in_the_period(api, ui):  # noqa: ANN001
    from tests.support import unique

    name = unique("old")
    _recent_logs(api, name, [20])
    page = ui("viewer", lang="ja").get("/ui/analytics", params={"prompt": name, "days": 7}).text
    assert f"{name}@1" in page and 'data-chart="trend:count"' not in page  # the table has it, the trends do not
    assert '<p class="empty" id="no-trends">この期間のリクエストはありません。</p>' in page


def test_line_chart_breaks_at_missing_days_escapes_labels_and_caps_the_lines():
    import xml.etree.ElementTree as ET
    from datetime import date, timedelta

    from promptyard.web.ui import trend_charts

    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(5)]
    bad = '<script>window.__xss=1</script>'
    svg = str(trend_charts.line_chart(days, [(bad, [(1, "a"), (2, "b"), None, (4, "d"), (5, "e")])],
                                      title=bad, axis_fmt=str))
    assert "<script" not in svg
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f".//{ns}polyline")) == 2 and len(root.findall(f".//{ns}circle")) == 4
    series = [{"prompt": "p", "version": v, "count": [v, 0, 0, 0, 0], "errors": [0] * 5, "scores": {}}
              for v in range(1, 12)]
    charts = trend_charts.trend_charts({"days": days, "series": series}, lambda k, **kw: k, "ja")
    assert len(ET.fromstring(str(charts[0].svg)).findall(f"{ns}g")) == trend_charts.MAX_LINES


@pytest.mark.parametrize(("lang", "title", "per_hour"), [("en", "Trends by hour", "Requests per hour"),
                                                        ("ja", "時間ごとの推移", "1 時間のリクエスト数")])
def test_trends_per_hour(api, ui, lang, title, per_hour):  # noqa: ANN001
    import xml.etree.ElementTree as ET

    from tests.support import unique

    name = unique("hourly")
    _recent_logs(api, name, [0, 0, 1, 20])
    client = ui("viewer", lang=lang)
    page = client.get("/ui/analytics", params={"prompt": name, "per": "hour", "days": 30})  # a week at most
    assert page.status_code == 200
    assert f'<h2 id="trends">{title}</h2>' in page.text and '<option value="hour" selected>' in page.text
    assert '<option value="7" selected>' in page.text
    figure = re.search(r'data-chart="trend:count">\s*<figcaption>([^<]+)</figcaption>\s*(<svg.*?</svg>)', page.text,
                       re.S)
    assert figure.group(1) == per_hour
    ns = "{http://www.w3.org/2000/svg}"
    lines = ET.fromstring(figure.group(2)).findall(f"{ns}g")
    points = [int(c.find(f"{ns}title").text.split(": ")[-1]) for g in lines for c in g.iter(f"{ns}circle")]
    assert len(points) == 2 * 168 and sum(points) == 3  # an hour a point for a week, per version
    assert client.get("/ui/analytics", params={"per": "minute"}).status_code == 422
