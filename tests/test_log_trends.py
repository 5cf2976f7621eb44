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


def test_per_day_from_the_running_totals_is_exact_under_concurrent_writes(database, principal):  # noqa: ANN001
    """12 writers ingest overlapping batches (replays included) of logs spread over 5 days and their
    hours, re-score each other's logs, and erase some, all at once: the trends read from the running
    totals per hour (no filter) equal those counted from the logs (a filter that matches every log),
    per local day and per local hour, in Tokyo and in New York (daylight saving ends in the period)."""
    import random
    import uuid
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    from sqlalchemy import func, select

    from promptyard.services import erasure, request_annotations
    from promptyard.store.models import HourTotals

    with database.write() as s:
        pid = prompts.create(s, principal, name="busy").id
        for n in (1, 2, 3):
            versions.publish(s, principal, pid, {"messages": [{"role": "user", "content": f"v{n}"}], "commit_message": "c"})
    now = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)  # New York left daylight saving on 11-01
    ids = [str(uuid.uuid4()) for _ in range(360)]

    def one(i: int) -> dict:
        at = now - timedelta(minutes=(i * 37) % (5 * 24 * 60))
        return log(id=ids[i], start_time=at.isoformat(), end_time=(at + timedelta(seconds=1)).isoformat(),
                   prompt={"name": "busy", "version": 1 + i % 3}, status="error" if i % 7 == 0 else "ok",
                   scores=[{"name": "q", "value": i % 101}, {"name": "r", "value": i % 5}])

    def writer(w: int) -> None:
        rng = random.Random(w)
        for first in (w * 30, (w * 30 + 11) % 360):  # the second batch overlaps another writer's
            with database.write() as s:
                request_ingest.ingest(s, principal, [one(i % 360) for i in range(first, first + 30)], max_batch=100)
        for i in rng.sample(range(w * 30 + 30), 8):
            with database.write() as s:
                request_annotations.annotate(s, principal, ids[i], request_annotations.SCORES,
                                             {"name": "q", "value": rng.randrange(101)}, grace_s=60)
        erasure.erase_one(database, principal, ids[w * 30 + 3])

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(writer, range(12)))
    every = query.parse('status = "ok" OR status = "error"')
    with database.read() as s:
        for tz in ("Asia/Tokyo", "America/New_York"):
            totals = log_trends.per_day(s, principal, days=7, tz=tz, now=now)
            logs = log_trends.per_day(s, principal, days=7, tz=tz, now=now, node=every)
            _same(totals, logs)
            assert 348 <= sum(sum(x["count"]) for x in totals["series"]) < 360  # an erased log may be replayed
            _same(log_trends.per_hour(s, principal, hours=72, tz=tz, now=now),
                  log_trends.per_hour(s, principal, hours=72, tz=tz, now=now, node=every))
        kept = s.scalar(select(func.sum(HourTotals.requests)).where(HourTotals.workspace_id == principal.workspace_id))
        assert kept == sum(sum(x["count"]) for x in totals["series"])  # the totals were read (the period has all)


def _same(totals: dict, logs: dict) -> None:
    assert len(totals["series"]) == len(logs["series"]) == 3
    for t, e in zip(totals["series"], logs["series"], strict=True):
        assert (t["prompt"], t["version"], t["count"], t["errors"]) == (e["prompt"], e["version"], e["count"], e["errors"])
        assert t["scores"].keys() == e["scores"].keys() == {"q", "r"}
        for name, days in t["scores"].items():
            for a, b in zip(days, e["scores"][name], strict=True):
                assert (a is None and b is None) or (a[0] == b[0] and abs(a[1] - b[1]) < 1e-9), (name, a, b)
