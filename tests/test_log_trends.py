"""services/log_trends.per_day on both databases: logs fall in the viewer's local day, per
version, with errors and score means; the filter and the period bound what is counted."""

from __future__ import annotations

from datetime import date, datetime, timezone

from promptyard.domain import query
from promptyard.services import log_trends, prompts, request_ingest, versions
from tests.support import log

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)  # 21:00 in Tokyo


def _logs(database, principal, *logs: dict) -> None:  # noqa: ANN001
    with database.write() as s:
        pid = prompts.create(s, principal, name="reply").id
        for n in (1, 2):
            versions.publish(s, principal, pid, {"messages": [{"role": "user", "content": f"v{n}"}], "commit_message": "c"})
        assert request_ingest.ingest(s, principal, list(logs), max_batch=100)["accepted"] == len(logs)


def test_days_are_local_and_split_by_version_with_errors_and_score_means(database, principal):  # noqa: ANN001
    p = {"name": "reply", "version": 1}
    _logs(database, principal,
          log(start_time="2026-11-20T14:30:00Z", end_time="2026-11-20T14:30:01Z", prompt=p,  # 11-20 23:30 JST
              scores=[{"name": "q", "value": 60}]),
          log(start_time="2026-11-20T15:30:00Z", end_time="2026-11-20T15:30:01Z", prompt=p,  # 11-21 00:30 JST
              status="error", scores=[{"name": "q", "value": 80}]),
          log(start_time="2026-11-21T01:00:00Z", end_time="2026-11-21T01:00:01Z", prompt=p,
              scores=[{"name": "q", "value": 100}]),
          log(start_time="2026-11-21T02:00:00Z", end_time="2026-11-21T02:00:01Z", prompt={"name": "reply", "version": 2}),
          log(start_time="2026-11-10T02:00:00Z", end_time="2026-11-10T02:00:01Z", prompt=p))  # before the period
    with database.read() as s:
        tokyo = log_trends.per_day(s, principal, days=3, tz="Asia/Tokyo", now=NOW)
        utc = log_trends.per_day(s, principal, days=3, tz="UTC", now=NOW)
        only_errors = log_trends.per_day(s, principal, days=3, tz="Asia/Tokyo", now=NOW,
                                         node=query.parse('status = "error"'))
    assert tokyo["days"] == [date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21)]
    v1, v2 = tokyo["series"]
    assert (v1["prompt"], v1["version"], v2["version"]) == ("reply", 1, 2)
    assert v1["count"] == [0, 1, 2] and v1["errors"] == [0, 0, 1] and v2["count"] == [0, 0, 1]
    assert v1["scores"]["q"] == [None, (1, 60.0), (2, 90.0)] and v2["scores"] == {}
    assert utc["series"][0]["count"] == [0, 2, 1]  # the same logs, UTC's days
    assert [(s["version"], s["count"]) for s in only_errors["series"]] == [(1, [0, 0, 1])]


def test_hours_are_local_including_a_zone_half_an_hour_off_utc(database, principal):  # noqa: ANN001
    """per_hour: the last n hours, the current one included, each log in its local hour (India's
    hours start at :30 UTC); the logs of the day test fall in Tokyo's hours 23:00, 00:00, 10:00, 11:00."""
    p = {"name": "reply", "version": 1}
    _logs(database, principal,
          log(start_time="2026-11-20T14:30:00Z", end_time="2026-11-20T14:30:01Z", prompt=p),  # 23:30 JST
          log(start_time="2026-11-20T15:30:00Z", end_time="2026-11-20T15:30:01Z", prompt=p, status="error",
              scores=[{"name": "q", "value": 80}]),  # 00:30 JST
          log(start_time="2026-11-21T01:00:00Z", end_time="2026-11-21T01:00:01Z", prompt=p),  # 10:00 JST
          log(start_time="2026-11-21T11:59:00Z", end_time="2026-11-21T11:59:01Z", prompt=p),  # 20:59 JST
          log(start_time="2026-11-21T12:00:00Z", end_time="2026-11-21T12:00:01Z", prompt=p))  # now: 21:00 JST
    with database.read() as s:
        tokyo = log_trends.per_hour(s, principal, hours=24, tz="Asia/Tokyo", now=NOW)
        india = log_trends.per_hour(s, principal, hours=3, tz="Asia/Kolkata", now=NOW)  # 17:30 IST
    starts = tokyo["hours"]
    assert len(starts) == 24 and starts[-1].hour == 21 and starts[0].hour == 22 and starts[0].day == 20
    assert all(h.utcoffset().total_seconds() == 9 * 3600 and h.minute == 0 for h in starts)
    (v1,) = tokyo["series"]
    hour = {h.strftime("%d %H"): i for i, h in enumerate(starts)}
    assert {k: v1["count"][i] for k, i in hour.items() if v1["count"][i]} == {
        "20 23": 1, "21 00": 1, "21 10": 1, "21 20": 1, "21 21": 1}
    assert v1["errors"][hour["21 00"]] == 1 and v1["scores"]["q"][hour["21 00"]] == (1, 80.0)
    assert [(h.hour, h.minute) for h in india["hours"]] == [(15, 0), (16, 0), (17, 0)]
    assert india["series"][0]["count"] == [0, 0, 2]  # 11:59Z is 17:29 IST, 12:00Z 17:30 IST: both in 17:00
