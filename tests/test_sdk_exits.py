"""How the SDK's queue survives the end of its process: SIGTERM and SIGINT flush within
`shutdown_timeout` and then do what they did before (end the process, run the application's
handler, raise KeyboardInterrupt); a kill -9 during an outage loses nothing logged more than a
second before, when the spool is on. Real child processes against a real HTTP sink."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from promptyard import Promptyard
from tests.sdk_support import Hanging, Sink, closed_port_url, read_spool

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

BOUND = 5.0  # shutdown_timeout: the longest the handler waits for the server

CHILD = textwrap.dedent("""
    import os, signal, sys, time
    from promptyard import Promptyard
    url, spool, mode = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    if mode == "app-handler":  # the application's own handlers, set before the client exists
        def mine(signum, frame):
            print("app handler ran; still queued:", py.stats()["in_queue"], flush=True)
            sys.exit(3)
        def hard_stop(signum, frame):
            print("hard stop; still queued:", py.stats()["in_queue"], flush=True)
            os._exit(5)  # no atexit: only a flush before this handler keeps the queue
        signal.signal(signal.SIGTERM, mine)
        signal.signal(signal.SIGINT, hard_stop)
    py = Promptyard(url, "key", spool_dir=spool, shutdown_timeout=%(bound)s, timeout=30, watch_changes=False)
    for i in range(1000):
        py.log(output=i, request_id=f"log-{i}")
    try:  # the signal may come as soon as "logged" is out
        print("logged", flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        print("KeyboardInterrupt; still queued:", py.stats()["in_queue"], flush=True)
        sys.exit(4)
""") % {"bound": BOUND}

ALL = {f"log-{i}" for i in range(1000)}


@pytest.fixture()
def slow_sink():  # noqa: ANN201
    s = Sink()
    s.delay = 0.5  # every answer takes half a second: 1,000 logs are two batches, one second
    yield s
    s.stop()


def run_child(url: str, sig: int, spool: str = "", mode: str = "") -> tuple[int, str]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, url, spool, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "logged", proc.stderr.read()
    proc.send_signal(sig)
    try:  # a hang guard, not a speed figure: the handler must give up after its bound
        out, err = proc.communicate(timeout=BOUND + 15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, out + err


def test_sigterm_flushes_the_queue_and_still_terminates(slow_sink: Sink) -> None:
    code, output = run_child(slow_sink.url, signal.SIGTERM)
    assert code == -signal.SIGTERM, output  # still "killed by SIGTERM", as without the SDK
    assert set(slow_sink.logs) == ALL  # before: only the batch in flight (500) arrived


def test_sigterm_runs_the_applications_handler_after_flushing(slow_sink: Sink) -> None:
    code, output = run_child(slow_sink.url, signal.SIGTERM, mode="app-handler")
    assert code == 3 and "app handler ran; still queued: 0" in output, output
    assert set(slow_sink.logs) == ALL


def test_sigint_flushes_before_the_applications_handler(slow_sink: Sink) -> None:
    code, output = run_child(slow_sink.url, signal.SIGINT, mode="app-handler")
    assert code == 5 and "hard stop; still queued: 0" in output, output
    assert set(slow_sink.logs) == ALL


def test_default_sigint_still_raises_keyboard_interrupt_and_exit_flushes(slow_sink: Sink) -> None:
    code, output = run_child(slow_sink.url, signal.SIGINT)
    assert code == 4 and "KeyboardInterrupt" in output, output
    assert set(slow_sink.logs) == ALL  # sent by the shutdown at exit


def test_sigterm_with_a_hanging_server_spools_everything_within_the_bound(tmp_path) -> None:  # noqa: ANN001
    hanging = Hanging()
    spool = tmp_path / "spool"
    code, output = run_child(hanging.url, signal.SIGTERM, spool=str(spool))
    hanging.close()
    assert code == -signal.SIGTERM, output
    assert {i["body"]["id"] for i in read_spool(spool)} == ALL


THREADS = textwrap.dedent("""
    import signal, sys, threading
    from promptyard import Promptyard
    url = sys.argv[1]
    t = threading.Thread(target=lambda: Promptyard(url, "key", watch_changes=False))
    t.start(); t.join()
    print("thread:", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
    Promptyard(url, "key", watch_changes=False, handle_signals=False)
    print("opted out:", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
    Promptyard(url, "key", watch_changes=False)
    print("main:", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
          signal.getsignal(signal.SIGINT) is signal.default_int_handler)  # asyncio.run() relies on it
""")


def test_handlers_are_installed_only_from_the_main_thread_and_can_be_refused() -> None:
    out = subprocess.run([sys.executable, "-c", THREADS, closed_port_url()], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.split("\n")[:3] == ["thread: True", "opted out: True", "main: False True"], out.stderr


KILLED = textwrap.dedent("""
    import json, sys, time
    from promptyard import Promptyard
    py = Promptyard(sys.argv[1], "key", spool_dir=sys.argv[2], watch_changes=False)  # default timings
    ids = [py.log(output=i) for i in range(150)]
    time.sleep(1.5)  # the first send has failed by now: the sender is in "down" mode
    ids += [py.log(output=i) for i in range(150)]
    print(json.dumps(ids), flush=True)
    time.sleep(60)
""")


def test_kill_9_during_an_outage_keeps_what_was_logged_a_second_before(tmp_path) -> None:  # noqa: ANN001
    url, spool = closed_port_url(), tmp_path / "spool"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, url, str(spool)], stdout=subprocess.PIPE, text=True)
    ids = json.loads(proc.stdout.readline())
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    sink = Sink(port=int(url.rsplit(":", 1)[1]))  # the server comes back
    try:
        replay = Promptyard(sink.url, "key", spool_dir=spool, flush_interval=0.05, watch_changes=False)
        sink.wait_for(300)
        replay.shutdown()
        assert set(sink.logs) == set(ids) and len(ids) == 300
        assert sum(len(p) for p in sink.posts) == 300  # each sent once: nothing stored twice
    finally:
        sink.stop()
