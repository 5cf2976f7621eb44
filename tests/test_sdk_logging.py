"""The SDK's logging pipeline under faults: a real HTTP sink that fails, hangs or drops the
connection on demand, and a real child process that exits with a full queue."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
import tracemalloc

import pytest

from promptyard import FlushResult, Promptyard
from tests.sdk_support import Hanging, Sink, closed_port_url, read_spool

FAST = dict(flush_interval=0.05, timeout=1.0, watch_changes=False)


@pytest.fixture()
def sink():  # noqa: ANN201
    s = Sink()
    yield s
    s.stop()


def test_log_returns_id_at_once_and_batches_arrive(sink: Sink) -> None:
    py = Promptyard(sink.url, "key", batch_size=50, **FAST)
    ids = [py.log(provider="openai", model="m", input={"n": i}, output=f"o{i}") for i in range(120)]
    py.score(ids[0], "quality", 90, comment="good")
    py.metadata(ids[0], {"user": 7})
    assert len(set(ids)) == 120
    assert py.flush(10)
    assert set(sink.logs) == set(ids)
    assert max(len(p) for p in sink.posts) <= 50
    assert sink.scores == [(ids[0], {"name": "quality", "value": 90, "source": "api", "comment": "good"})]
    assert sink.metadata == [(ids[0], {"user": "7"})]
    stats = py.stats()
    assert stats["sent"] == 122 and stats["dropped"] == stats["retried"] == 0
    py.shutdown()


def test_unstorable_characters_become_replacement_characters(sink: Sink) -> None:
    py = Promptyard(sink.url, "key", **FAST)
    rid = py.log(input={"bad\x00key": "nul\x00here"}, output="lone \ud800 surrogate", tags=["t\udfff"])
    assert py.flush(5)
    stored = sink.logs[rid]
    assert stored["input"] == {"bad\ufffdkey": "nul\ufffdhere"}
    assert stored["output"] == "lone \ufffd surrogate" and stored["tags"] == ["t\ufffd"]


def test_500s_and_429s_are_retried_with_the_same_ids(sink: Sink) -> None:
    sink.fail, sink.fail_status = 3, 503
    py = Promptyard(sink.url, "key", max_retries=10, **FAST)
    py.batcher.config = py.batcher.config.__class__(**{**py.batcher.config.__dict__, "retry_base": 0.01})
    ids = [py.log(output=i) for i in range(10)]
    assert py.flush(10)
    sink.fail, sink.fail_status = 2, 429
    ids += [py.log(output=i) for i in range(10)]
    assert py.flush(10)
    assert set(sink.logs) == set(ids)
    assert py.stats()["retried"] == 5 and py.stats()["sent"] == 20


def test_connection_dropped_after_store_resends_without_duplicates(sink: Sink) -> None:
    sink.drop_after_store = 1
    py = Promptyard(sink.url, "key", **FAST)
    ids = [py.log(output=i) for i in range(25)]
    assert py.flush(10)
    assert len(sink.posts) == 2 and sink.posts[0] == sink.posts[1] == ids  # the same ids, sent again
    assert len(sink.logs) == 25 and py.stats()["sent"] == 25


def test_other_4xx_is_not_retried_and_counted_as_rejected(sink: Sink) -> None:
    sink.fail, sink.fail_status = 1, 401
    py = Promptyard(sink.url, "key", **FAST)
    py.log(output="x")
    assert py.flush(5) == FlushResult(rejected=1)  # finished, but not delivered: false
    assert py.stats()["rejected"] == 1 and py.stats()["retried"] == 0
    bad = py.log(output="refused one")
    sink.reject_ids.add(bad)
    good = py.log(output="fine")
    assert py.flush(5) == FlushResult(delivered=1, rejected=1)
    assert good in sink.logs and bad not in sink.logs and py.stats()["rejected"] == 2


def test_burst_larger_than_queue_never_blocks_and_counts_drops() -> None:
    hanging = Hanging()
    py = Promptyard(hanging.url, "key", max_queue=1000, **FAST)
    start = time.perf_counter()
    for i in range(5000):
        py.log(output=i)
    elapsed = time.perf_counter() - start
    stats = py.stats()
    assert elapsed < 1.0, elapsed
    # Bounded by the queue plus the one batch the sender holds in flight.
    assert 1000 <= stats["queued"] <= 1000 + py.batcher.config.batch_size
    assert stats["dropped"] == 5000 - stats["queued"]
    assert not py.flush(0.2)
    hanging.close()


def test_server_down_spools_and_a_restarted_client_replays_everything(sink: Sink, tmp_path) -> None:  # noqa: ANN001
    spool = tmp_path / "spool"
    down = Promptyard(closed_port_url(), "key", spool_dir=spool, max_retries=1, **FAST)
    ids = [down.log(output=i) for i in range(300)]
    assert down.flush(10) == FlushResult(spooled=300)  # kept on disk, not delivered: false
    assert down.stats()["spooled"] == 300 and down.stats()["sent"] == 0
    assert len(read_spool(spool)) == 300
    down.shutdown()
    up = Promptyard(sink.url, "key", spool_dir=spool, **FAST)  # replays on start, before any new log
    sink.wait_for(300)
    assert set(sink.logs) == set(ids)
    deadline = time.time() + 5  # the sink has the logs before the client has read its answer
    while (up.stats()["spool_files"] or up.stats()["replayed"] < 300) and time.time() < deadline:
        time.sleep(0.02)
    assert up.stats()["replayed"] == 300 and up.stats()["spool_files"] == 0
    up.shutdown()


def test_server_back_after_outage_is_found_by_probe(sink: Sink, tmp_path) -> None:  # noqa: ANN001
    py = Promptyard(sink.url, "key", spool_dir=tmp_path, max_retries=0, **FAST)
    py.batcher.config = py.batcher.config.__class__(**{**py.batcher.config.__dict__, "probe_interval": 0.2})
    sink.fail = 1
    first = py.log(output="during outage")
    assert py.flush(5) == FlushResult(spooled=1)
    second = py.log(output="after")
    sink.wait_for(2, timeout=5)
    assert set(sink.logs) == {first, second}


EXIT_SCRIPT = textwrap.dedent("""
    import sys, time
    from promptyard import Promptyard
    py = Promptyard(sys.argv[1], "key", spool_dir=sys.argv[2], shutdown_timeout=1.0, timeout=30,
                    max_queue=5000, watch_changes=False)
    ids = [py.log(output=i) for i in range(5000)]
    print(",".join(ids[:1] + ids[-1:]), flush=True)
    print("logged", flush=True)
""")


def test_exit_with_full_queue_within_timeout_and_spool_keeps_the_rest(sink: Sink, tmp_path) -> None:  # noqa: ANN001
    hanging = Hanging()
    spool = tmp_path / "spool"
    start = time.time()
    out = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, hanging.url, str(spool)], capture_output=True,
                         text=True, timeout=30, cwd=os.getcwd())
    took = time.time() - start
    assert out.returncode == 0, out.stderr
    assert took < 6, took  # interpreter start + 1 s shutdown timeout, not the 30 s HTTP timeout
    items = read_spool(spool)
    assert len({i["body"]["id"] for i in items}) == 5000
    hanging.close()
    replay = Promptyard(sink.url, "key", spool_dir=spool, **FAST)
    sink.wait_for(5000, timeout=20)
    assert len(sink.logs) == 5000
    replay.shutdown()


def test_flush_and_shutdown_without_spool_count_what_is_lost() -> None:
    py = Promptyard(closed_port_url(), "key", **FAST)
    for i in range(10):
        py.log(output=i)
    start = time.time()
    assert py.flush(0.5) == FlushResult(queued=10)  # still retrying when the time was up
    assert py.shutdown(0.5) == FlushResult(dropped=10)  # no spool to keep them
    assert time.time() - start < 3
    assert py.stats()["dropped"] == 10
    assert py.log(output="after shutdown") and py.stats()["dropped"] == 11


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_has_its_own_queue_and_thread(sink: Sink) -> None:
    py = Promptyard(sink.url, "key", **FAST)
    parent_id = py.log(output="parent")
    assert py.flush(5)
    pid = os.fork()
    if pid == 0:  # child: a fresh queue and sender thread; the parent's items are not resent
        child_id = py.log(output="child", request_id="child-" + parent_id)
        ok = py.flush(5) and py.stats()["sent"] == 1
        os._exit(0 if ok and child_id else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert set(sink.logs) == {parent_id, "child-" + parent_id}
    assert sum(len(p) for p in sink.posts) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_every_part_rearms_itself_in_a_forked_child_even_with_its_lock_held() -> None:
    import threading

    py = Promptyard(closed_port_url(), "key", redact=True, **(FAST | {"watch_changes": True}))
    locks = (py._http_lock, py.batcher._lock, py.cache._lock, py.redactor._lock)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # another thread holds every lock while the main thread forks
        for lock in locks:
            lock.acquire()
        held.set()
        release.wait()
        for lock in reversed(locks):
            lock.release()

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(5)
    watcher_ready = py.watcher.connected
    pid = os.fork()
    if pid == 0:  # child: fresh locks (the copies stay held for ever), so none of these blocks
        fresh = all(new is not old for new, old in zip(
            (py._http_lock, py.batcher._lock, py.cache._lock, py.redactor._lock), locks))
        py._sync_http()
        py.log(output="child")
        py.cache.refresh_later(("x", None, None))
        os._exit(0 if fresh and py.watcher.connected is not watcher_ready else 1)
    release.set()
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 0
    py.shutdown(0)


def test_queue_is_capped_in_bytes_and_the_batch_in_flight_counts() -> None:
    hanging = Hanging()
    cap = 2 * 2**20
    py = Promptyard(hanging.url, "key", max_queue_bytes=cap, **FAST)
    assert Promptyard(hanging.url, "key", **FAST).batcher.config.max_queue_bytes == 64 * 2**20
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(200):  # 40 KB events: 8 MB in all, four times the cap
        py.log(input={"messages": [{"role": "user", "content": f"{i}" + "x" * 40_000}]})
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    stats = py.stats()
    # Real memory: the capped items, plus the encoded copy of the batch being sent (at most as
    # large again); without the cap all 8 MB stayed.
    assert 0 < stats["in_queue_bytes"] <= cap and held < cap * 2.5
    assert stats["queued"] <= cap // 40_000 and stats["dropped"] == 200 - stats["queued"]
    deadline = time.time() + 5
    while py.batcher._inflight is None and time.time() < deadline:  # the sender takes the batch ...
        time.sleep(0.01)
    stats = py.stats()
    assert stats["in_queue"] == stats["queued"] and stats["in_queue_bytes"] > cap - 50_000  # ... still held
    py.log(input="x" * 40_000)
    assert py.stats()["dropped"] == stats["dropped"] + 1  # its bytes still count against the cap
    hanging.close()


HTTP_THREAD = textwrap.dedent("""
    import httpx, json, ssl, sys, threading
    records = []
    def note(what):
        records.append([what, threading.current_thread().name])
    real_context, real_init = ssl.create_default_context, httpx.Client.__init__
    def context(*args, **kwargs):
        note("tls context")
        return real_context(*args, **kwargs)
    def init(self, *args, **kwargs):
        note("httpx client")
        real_init(self, *args, **kwargs)
    ssl.create_default_context, httpx.Client.__init__ = context, init
    sys.addaudithook(lambda event, args: event == "socket.connect" and note("connect"))
    from promptyard import Promptyard
    py = Promptyard(sys.argv[1], "key", watch_changes=False, flush_interval=0.05)
    py.log(output="first")
    delivered = bool(py.flush(10))
    print(json.dumps({"all": records, "delivered": delivered}))
""")


def test_first_log_builds_no_http_client_or_tls_context_on_the_callers_thread(sink: Sink) -> None:
    out = subprocess.run([sys.executable, "-c", HTTP_THREAD, sink.url], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["delivered"] is True
    assert {tuple(r) for r in seen["all"]} >= {("httpx client", "promptyard-sender"),
                                               ("tls context", "promptyard-sender"), ("connect", "promptyard-sender")}
    assert all(thread == "promptyard-sender" for _, thread in seen["all"]), seen  # none on MainThread


def test_spool_directory_and_files_are_private(tmp_path) -> None:  # noqa: ANN001
    spool = tmp_path / "new" / "spool"
    old = os.umask(0o022)  # the usual umask, which made them 0755 / 0644
    try:
        py = Promptyard(closed_port_url(), "key", spool_dir=spool, **FAST)
        py.log(output="a patient's question")
        assert py.flush(5) == FlushResult(spooled=1)
        py.shutdown()
    finally:
        os.umask(old)
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    files = list(spool.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_flush_counts_since_the_previous_flush_including_drops_at_the_door(sink: Sink) -> None:
    py = Promptyard(sink.url, "key", max_queue=5, **FAST)
    sink.delay = 0.3  # the queue fills while the first batch is on its way
    for i in range(20):
        py.log(output=i)
    result = py.flush(10)
    assert not result and result.dropped == 15 and result.delivered == 5 and result.queued == 0
    sink.delay = 0
    py.log(output="again")
    assert py.flush(10) == FlushResult(delivered=1) and py.flush(10) == FlushResult()


def test_size_estimate_counts_texts_and_stops_on_a_cycle() -> None:
    from promptyard.sdk.sizes import approx_size

    big = approx_size({"input": {"messages": [{"role": "user", "content": "x" * 40_000}]}})
    assert 40_000 < big < 41_000
    assert approx_size("日本語" * 1000) > 6000  # 2 bytes a character in memory, not 1
    looped: dict = {"a": 1}
    looped["self"] = looped
    assert approx_size(looped) > 64 * 2**10  # counted until the budget, then given up: no hang
