"""The official `promptlayer` SDK against our compat API: time the caller is blocked per logged
call, with the server up, down and hanging, next to our own SDK's `Promptyard.log` (same three
cases, fewer calls than bench_sdk.py so the run stays short).

The PromptLayer SDK sends each log synchronously on the caller's thread: `pl.log_request(...)`
is one `POST /log-request` (the wrapper's `POST /track-request` behaves the same way, after the
provider has answered). Its sync HTTP session has no timeout, so against a hanging server a
call blocks until the connection dies; the async client times out after 5 s. Those cases are
measured on a few calls only, each under a watchdog."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import bench_sdk  # noqa: E402
import promptlayer  # noqa: E402
from common import free_port, machine, pct, server, write_section  # noqa: E402

UP_CALLS, DOWN_CALLS, HANG_CALLS, HANG_CAP_S = 1000, 5, 2, 20.0
LOG = dict(provider="openai", model="gpt-4o", parameters={"temperature": 0.2}, tags=["bench"],
           input={"type": "chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "Dose?" * 5}]}]},
           output={"type": "chat", "messages": [{"role": "assistant", "content": [{"type": "text", "text": "Two."}]}]},
           input_tokens=30, output_tokens=20)


def _call(pl: promptlayer.PromptLayer, i: int) -> None:
    now = time.time()
    pl.log_request(request_start_time=now, request_end_time=now, metadata={"user": str(i)}, **LOG)


def sync_blocked(url: str, key: str, calls: int) -> list[float]:
    pl = promptlayer.PromptLayer(api_key=key, base_url=url, throw_on_error=False)
    times = []
    for i in range(calls):
        t = time.perf_counter()
        _call(pl, i)
        times.append(time.perf_counter() - t)
    return times


def sync_blocked_capped(url: str, calls: int) -> tuple[list[float], int]:
    """Calls on a daemon thread, each given HANG_CAP_S: (finished durations, calls still blocked)."""
    done: list[float] = []
    stuck = 0
    for i in range(calls):
        t = time.perf_counter()
        worker = threading.Thread(target=_call, args=(promptlayer.PromptLayer(api_key="k", base_url=url,
                                                                                throw_on_error=False), i), daemon=True)
        worker.start()
        worker.join(HANG_CAP_S)
        if worker.is_alive():
            stuck += 1
        else:
            done.append(time.perf_counter() - t)
    return done, stuck


def async_blocked(url: str, calls: int) -> list[float]:
    async def run() -> list[float]:
        apl = promptlayer.AsyncPromptLayer(api_key="k", base_url=url, throw_on_error=False)
        times = []
        for i in range(calls):
            now = time.time()
            t = time.perf_counter()
            await apl.log_request(request_start_time=now, request_end_time=now, metadata={"user": str(i)}, **LOG)
            times.append(time.perf_counter() - t)
        return times

    return asyncio.run(run())


def _hanging() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)  # never accepts: connections complete in the backlog, nothing is ever answered
    return s


def ours(url: str) -> tuple[float, float]:
    bench_sdk.N = 2000
    p50, p99, _ = bench_sdk.blocked_per_log(url)
    return p50, p99


def main() -> None:
    logging.getLogger("promptlayer").setLevel(logging.CRITICAL)  # one warning per failed call otherwise
    with server() as (url, key):
        up = sync_blocked(url, key, UP_CALLS)
        ours_up = ours(url)
    down_url = f"http://127.0.0.1:{free_port()}"
    down = sync_blocked(down_url, "k", DOWN_CALLS)
    ours_down = ours(down_url)
    hang = _hanging()
    hang_url = f"http://127.0.0.1:{hang.getsockname()[1]}"
    hung, stuck = sync_blocked_capped(hang_url, HANG_CALLS)
    hung_async = async_blocked(hang_url, HANG_CALLS)
    ours_hang = ours(hang_url)
    hang.close()

    def ms(values: list[float], q: float) -> str:
        return f"{pct(values, q) * 1000:,.1f}" if values else "-"

    hung_text = (f"> {HANG_CAP_S:.0f} s (still blocked; no timeout) for {stuck} of {HANG_CALLS} calls"
                 if stuck else f"{ms(hung, 50)} / {ms(hung, 99)}")
    rows = [
        f"| server up | {ms(up, 50)} / {ms(up, 99)} | {ours_up[0] / 1000:.3f} / {ours_up[1] / 1000:.3f} |",
        f"| server down (connection refused) | {ms(down, 50)} / {ms(down, 99)} | "
        f"{ours_down[0] / 1000:.3f} / {ours_down[1] / 1000:.3f} |",
        f"| server hanging (accepts, never answers), sync client | {hung_text} | "
        f"{ours_hang[0] / 1000:.3f} / {ours_hang[1] / 1000:.3f} |",
        f"| server hanging, `AsyncPromptLayer` (awaited) | {ms(hung_async, 50)} / {ms(hung_async, 99)} | - |",
    ]
    text = "\n".join([
        "## The `promptlayer` SDK against our compat API (bench/bench_promptlayer_sdk.py)", "",
        f"{machine()}; promptlayer {promptlayer.__version__}. Time the caller is blocked per logged call, "
        "p50 / p99 in milliseconds. PromptLayer: `pl.log_request(...)` (one synchronous `POST /log-request`; the "
        "wrapper makes the same kind of call, `/track-request`, after each provider answer), "
        f"{UP_CALLS:,} calls with the server up, {DOWN_CALLS} down, {HANG_CALLS} hanging (each hanging call "
        f"watched for {HANG_CAP_S:.0f} s). Ours: `Promptyard.log(...)` (queued, sent by a daemon thread), "
        "2,000 calls per case, with `bench_sdk.py`'s placeholder key (its sender's batches are refused; the "
        "caller-side time does not depend on that).", "",
        "| server | `promptlayer` SDK p50 / p99 (ms) | Promptyard SDK p50 / p99 (ms) |", "|---|---|---|", *rows, "",
        "Server down: the SDK's HTTP session retries the connection twice with back-off before giving up (the "
        "log is lost, a warning is logged). Server hanging: its sync session sets no timeout, so the caller "
        "waits until the connection dies; the async client gives up after its 5 s timeout "
        "(`PROMPTLAYER_HTTP_TIMEOUT`). Our SDK never waits on the network in the caller's thread.",
    ])
    write_section("bench-promptlayer-sdk", text)
    print(text)


if __name__ == "__main__":
    main()
