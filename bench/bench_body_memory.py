"""Memory a real `promptyard serve` (SQLite) adds while it answers 4 concurrent maximum-size
bodies of tiny JSON values: peak RSS of the server process (VmHWM, reset before each case
through /proc/<pid>/clear_refs) minus its RSS before. "Before" is the same server with the value
count turned off (PROMPTYARD_MAX_BODY_VALUES=10**12): the bodies are parsed, then refused by the
batch limit, as every body was before the count existed.

    python bench/bench_body_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import _listening, first_run_key, free_port, machine, write_section  # noqa: E402

CONCURRENT = 4
TINY = b'{"requests": [' + b"{}, " * 2_000_000 + b"{}]}"  # 8.0 MB, 2 million empty objects
UNDER = b'{"requests": [' + b'{"k": 1}, ' * 49_000 + b"{}]}"  # just under 100,000 values: parsed, then refused


def _status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _start(extra: dict) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    env = dict(os.environ, PROMPTYARD_DATA_DIR=tempfile.mkdtemp(prefix="py-bench-mem-"), PROMPTYARD_PORT=str(port),
               PROMPTYARD_LOG_LEVEL="warning", **extra)
    env.pop("PROMPTYARD_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    key = first_run_key(proc)
    while not _listening(port):
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}", key


def _case(pid: int, url: str, key: str, path: str, body: bytes) -> tuple[float, list[int], str]:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS
    before = _status(pid, "VmRSS")
    headers = {"Authorization": f"Bearer {key}", "X-API-KEY": key, "Content-Type": "application/json"}

    def post(_: int) -> httpx.Response:
        return httpx.post(url + path, content=body, headers=headers, timeout=300)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = list(pool.map(post, range(CONCURRENT)))
    message = answers[0].json().get("message") or answers[0].json().get("error", {}).get("message", "")
    return _status(pid, "VmHWM") - before, [r.status_code for r in answers], message[:90]


def run(extra: dict) -> list[tuple[str, float, list[int], str]]:
    proc, url, key = _start(extra)
    try:
        for _ in range(3):  # warm up: imports, first queries, allocator arenas
            httpx.post(url + "/api/v1/requests", json={"provider": "p", "model": "m", "input": "x", "output": "y"},
                       headers={"Authorization": f"Bearer {key}"})
        rows = []
        for label, path, body in [("API ingest, 8 MB of `{}`", "/api/v1/requests", TINY),
                                  ("PromptLayer /track-request, 8 MB of `{}`", "/track-request", TINY),
                                  ("API ingest, 49,000 `{\"k\": 1}` (just under the value limit)", "/api/v1/requests",
                                   UNDER)]:
            rows.append((label, *_case(proc.pid, url, key, path, body)))
        return rows
    finally:
        proc.terminate()
        proc.wait(10)


def check_cost() -> tuple[float, float]:
    """Milliseconds (best of 20) the guard's checks and a json.loads take on one 500-log batch
    of bench_ingest.py: what every ingest call pays for the checks."""
    import json

    from bench_ingest import make_log

    from promptyard.settings import Settings
    from promptyard.web import body_checks

    s = Settings()
    body = json.dumps({"requests": [make_log(i) for i in range(500)]}, ensure_ascii=False).encode()

    def best(fn) -> float:  # noqa: ANN001
        times = []
        for _ in range(20):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times) * 1000

    return (best(lambda: body_checks.check(body, max_values=s.max_body_values, max_depth=s.max_json_depth,
                                           limit_name="")), best(lambda: json.loads(body)))


def main() -> None:
    before = run({"PROMPTYARD_MAX_BODY_VALUES": str(10**12)})
    after = run({})
    checks_ms, parse_ms = check_cost()
    lines = ["## Memory of maximum-size bodies (`bench/bench_body_memory.py`)",
             f"{CONCURRENT} concurrent requests with the same body to one `promptyard serve` (SQLite); {machine()}. "
             "Peak RSS of the server process during the requests minus its RSS before, in MiB. Before: the value "
             "count off (`PROMPTYARD_MAX_BODY_VALUES=10**12`), so bodies are parsed and only then refused by the "
             "batch limit. After: the default limit of 100,000 values, counted on the raw bytes. Target: under 100 MiB.",
             "", "| body | before: MiB added | before: answer | after: MiB added | after: answer |", "|---|---|---|---|---|"]
    for (label, b_mib, b_status, _), (_, a_mib, a_status, a_msg) in zip(before, after):
        lines.append(f"| {label} | {b_mib:.0f} | {b_status[0]} | {a_mib:.0f} | {a_status[0]}: {a_msg} |")
    lines += ["", f"Cost of the checks on every body: {checks_ms:.1f} ms for one 500-log batch of `bench_ingest.py` "
              f"(json.loads of the same body: {parse_ms:.1f} ms), best of 20 in-process."]
    print("\n".join(lines))
    write_section("body-memory", "\n".join(lines))


if __name__ == "__main__":
    main()
