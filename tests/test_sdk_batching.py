"""Issue 15: the SDK sends a batch's scores and metadata updates in one request each, through the
same batcher as logs (spooled when the server is down, replayed later), against a real server on
both databases; a server without the bulk routes gets them one by one."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from promptyard import Promptyard
from tests.sdk_support import Recorder, Sink, closed_port_url

FAST = dict(flush_interval=0.05, timeout=5.0, watch_changes=False, handle_signals=False)


@pytest.fixture()
def recorder(live):  # noqa: ANN001, ANN201
    r = Recorder(live.url)
    yield r
    r.stop()


def stats_of(live, run: str) -> dict:  # noqa: ANN001
    """Score statistics recounted from the stored logs of one run (a filter: not the running totals)."""
    r = live.http.get("/api/v1/requests/stats", params={"filter": f'metadata.run = "{run}"'})
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    return item


def test_scores_and_metadata_travel_in_bulk_and_are_stored(live, recorder):  # noqa: ANN001
    run = uuid.uuid4().hex
    py = Promptyard(recorder.url, live.api_key, batch_size=500, **FAST)
    try:
        early = str(uuid.uuid4())
        py.score(early, "q", 12, comment="ログより先")  # its log comes later: waits on the server
        ids = [py.log(model="m", output=f"出力{i}", metadata={"run": run}) for i in range(300)]
        for i, rid in enumerate(ids):
            py.score(rid, "q", i % 101)
            py.metadata(rid, {"reviewer": f"薬剤師{i % 3}"})
        for rid in ids[:50]:
            py.score(rid, "q", 100)  # re-scored: the later value is the one kept
        assert py.flush(30)
        py.log(model="m", output="遅れて", metadata={"run": run}, request_id=early)
        assert py.flush(30)
        stats = py.stats()
        assert stats["sent"] == 300 + 351 + 300 + 1 and stats["rejected"] == stats["dropped"] == 0
    finally:
        py.shutdown(5)
    paths = [path for path, _ in recorder.bodies]
    assert set(paths) == {"/api/v1/requests", "/api/v1/scores", "/api/v1/requests/metadata"}, set(paths)
    assert paths.count("/api/v1/scores") < 20 and paths.count("/api/v1/requests/metadata") < 20  # not 351 and 300
    sent = [e for p, b in recorder.bodies if p == "/api/v1/scores" for e in json.loads(b)["scores"]]
    assert len(sent) == 351 and sent[0] == {"request": early, "name": "q", "value": 12, "source": "api",
                                            "comment": "ログより先"}
    values = [100] * 50 + [i % 101 for i in range(50, 300)] + [12]
    got = stats_of(live, run)
    assert got["count"] == 301 and got["scores"]["q"]["n"] == 301
    assert abs(got["scores"]["q"]["mean"] - sum(values) / len(values)) < 1e-9
    one = live.http.get(f"/api/v1/requests/{ids[70]}").json()
    assert one["metadata"] == {"run": run, "reviewer": "薬剤師1"} and one["scores"][0]["value"] == 70
    assert live.http.get(f"/api/v1/requests/{early}").json()["scores"][0]["comment"] == "ログより先"


def test_scores_spooled_while_the_server_is_down_are_replayed_in_bulk(live, tmp_path):  # noqa: ANN001
    run = uuid.uuid4().hex
    down = Promptyard(closed_port_url(), live.api_key, spool_dir=tmp_path, **FAST)
    ids = [down.log(output=f"o{i}", metadata={"run": run}) for i in range(20)]
    for rid in ids:
        down.score(rid, "helpful", 60)
        down.metadata(rid, {"step": "spooled"})
    result = down.shutdown(5)
    assert result.spooled == 60 and result.dropped == 0
    up = Promptyard(live.url, live.api_key, spool_dir=tmp_path, **FAST)  # replays what the first left
    try:
        deadline = time.time() + 30
        while up.stats()["replayed"] < 60 and time.time() < deadline:
            time.sleep(0.05)
        assert up.stats()["replayed"] == 60 and up.stats()["spool_files"] == 0
        got = stats_of(live, run)
        assert got["count"] == 20 and got["scores"]["helpful"]["n"] == 20
        assert live.http.get(f"/api/v1/requests/{ids[3]}").json()["metadata"]["step"] == "spooled"
    finally:
        up.shutdown(5)


@pytest.fixture()
def sink():  # noqa: ANN201
    s = Sink()
    yield s
    s.stop()


def test_refused_entries_are_counted_and_an_old_server_gets_one_request_each(sink):  # noqa: ANN001
    py = Promptyard(sink.url, "key", **FAST)
    good, bad = py.log(output="a"), py.log(output="b")
    sink.reject_ids.add(bad)
    py.score(good, "q", 1)
    py.score(bad, "q", 2)
    py.metadata(bad, {"k": "v"})
    assert py.flush(10) is not True  # not everything was delivered
    assert py.stats()["rejected"] == 3 and py.stats()["sent"] == 2  # the log, its score and metadata refused
    assert sink.paths == ["/api/v1/requests", "/api/v1/scores", "/api/v1/requests/metadata"]
    sink.bulk, sink.paths = False, []
    py.score(good, "q", 3)
    py.score(good, "r", 4)
    py.metadata(good, {"k": "w"})
    assert py.flush(10)
    assert sink.paths == ["/api/v1/scores", f"/api/v1/requests/{good}/scores", f"/api/v1/requests/{good}/scores",
                          f"/api/v1/requests/{good}/metadata"]  # one 404, then one by one, also for metadata
    assert sink.scores[-2:] == [(good, {"name": "q", "value": 3, "source": "api"}),
                                (good, {"name": "r", "value": 4, "source": "api"})]
    assert sink.metadata[-1] == (good, {"k": "w"})
    py.shutdown()
