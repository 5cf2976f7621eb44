"""Python SDK: time the caller is blocked per logged call (p50/p99) with the server up, down
and hanging; memory for 100,000 queued logs; cached `get` latency. Targets: log p50 < 50 us,
p99 < 1 ms; cached get < 20 us."""

from __future__ import annotations

import gc
import socket
import sys
import time
import tracemalloc
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import free_port, machine, pct, server, write_section  # noqa: E402

from promptyard import Promptyard  # noqa: E402

N = 20_000
MESSAGES = [{"role": "system", "content": "You help pharmacists."}, {"role": "user", "content": "What dose?" * 5}]


def blocked_per_log(url: str, key: str = "no-server-here") -> tuple[float, float, dict]:
    py = Promptyard(url, key, watch_changes=False, max_queue=N + 1000, timeout=2.0)
    times = []
    for i in range(N):
        t = time.perf_counter_ns()
        py.log(provider="openai", model="gpt-4o", input={"messages": MESSAGES}, output="Take two." * 10,
               usage={"input_tokens": 30, "output_tokens": 20}, tags=["bench"], metadata={"user": str(i)})
        times.append(time.perf_counter_ns() - t)
    py.flush(30)
    stats = py.stats()
    py.shutdown(0.5)
    return pct(times, 50) / 1000, pct(times, 99) / 1000, stats


def queued_memory() -> float:
    """MiB held by 100,000 queued logs (the sender is stuck on a hanging server)."""
    hanging = _hanging()
    py = Promptyard(f"http://127.0.0.1:{hanging.getsockname()[1]}", "key", watch_changes=False,
                    max_queue=100_000, timeout=60)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(100_000):
        py.log(provider="openai", model="gpt-4o", input={"messages": MESSAGES}, output="Take two.",
               metadata={"user": str(i)})
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    hanging.close()
    return used / 2**20


def _hanging() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    return s


def cached_get(url: str, key: str) -> tuple[float, float, float, float]:
    h = {"Authorization": f"Bearer {key}"}
    httpx.post(url + "/api/v1/publish", headers=h, json={"name": "bench/greet", "messages": MESSAGES + [
        {"role": "user", "content": "{q}"}], "commit_message": "b", "labels": ["production"]}).raise_for_status()
    py = Promptyard(url, key, watch_changes=False)
    py.get("bench/greet")
    plain, rendered = [], []
    for _ in range(N):
        t = time.perf_counter_ns()
        py.get("bench/greet")
        plain.append(time.perf_counter_ns() - t)
        t = time.perf_counter_ns()
        py.get("bench/greet", variables={"q": "dose?"})
        rendered.append(time.perf_counter_ns() - t)
    return pct(plain, 50) / 1000, pct(plain, 99) / 1000, pct(rendered, 50) / 1000, pct(rendered, 99) / 1000


def main() -> None:
    rows = []
    with server() as (url, key):
        up = blocked_per_log(url, key)
        get = cached_get(url, key)
    down = blocked_per_log(f"http://127.0.0.1:{free_port()}")
    hang = _hanging()
    hanging = blocked_per_log(f"http://127.0.0.1:{hang.getsockname()[1]}")
    hang.close()
    memory = queued_memory()
    for label, (p50, p99, _) in (("server up", up), ("server down (connection refused)", down),
                                 ("server hanging (accepts, never answers)", hanging)):
        rows.append(f"| {label} | {p50:.1f} | {p99:.1f} |")
    text = "\n".join([
        "## Python SDK (bench/bench_sdk.py)", "",
        f"{machine()}; {N:,} calls each. Caller-side time of `Promptyard.log(...)` (a chat log with "
        "messages, usage, tags, metadata); sending happens on the SDK's daemon thread. \"Server up\" is a "
        f"live `promptyard serve` (SQLite) that stored the logs: {up[2].get('sent', 0):,} of {N:,} sent "
        "and stored by the end of the run.", "",
        "| server | log p50 (us) | log p99 (us) |", "|---|---|---|", *rows, "",
        f"Memory held by 100,000 queued logs (server hanging, nothing sent): {memory:.0f} MiB "
        f"({memory * 2**20 / 100_000:.0f} bytes per log, measured with tracemalloc).", "",
        f"Cached `get` (no variables): p50 {get[0]:.1f} us, p99 {get[1]:.1f} us; "
        f"with f-string rendering of 3 messages: p50 {get[2]:.1f} us, p99 {get[3]:.1f} us.", "",
        "Targets: log p50 < 50 us, p99 < 1 ms; cached get < 20 us.", "",
        "The official `promptlayer` SDK side by side, against our PromptLayer-compatible API: see the next "
        "section (bench/bench_promptlayer_sdk.py).",
    ])
    write_section("bench-sdk", text)
    print(text)


if __name__ == "__main__":
    main()
