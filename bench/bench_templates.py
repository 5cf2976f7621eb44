"""Slow Jinja2 templates and everyone else: latency of plain requests (health, an unrendered fetch,
an f-string render) while six slow renders are in flight, and what publishing a template that is
slow to compile costs the server (time, server-process memory). SQLite, one server process.

    .venv/bin/python bench/bench_templates.py                 # this tree ("after")
    .venv/bin/python bench/bench_templates.py --src /tmp/base/src --label before   # another tree

Each run writes its own row; rows of other labels already in docs/benchmarks.md are kept.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DOC, _listening, first_run_key, free_port, machine, pct, write_section  # noqa: E402

SLOW_RENDERS = 6
SAMPLES = 90
RUNAWAY = "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}"
# 96 KB (under the 100,000-character limit) of output nodes: seconds to parse and compile.
SLOW_COMPILE = "{{ a }} " * 12_000 + "{{ a }}"
SECTION = "templates"


@contextmanager
def serve(src: str | None) -> Iterator[tuple[str, str, int]]:
    """(URL, admin key, server pid) of a `promptyard serve` running the code in `src` (default: ours)."""
    port = free_port()
    env = dict(os.environ, PROMPTYARD_DATA_DIR=tempfile.mkdtemp(prefix="py-bench-"), PROMPTYARD_PORT=str(port),
               PROMPTYARD_LOG_LEVEL="warning")
    if src:
        env["PYTHONPATH"] = src
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    key = first_run_key(proc)
    while not _listening(port):
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", key, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def timings(client: httpx.Client, n: int) -> list[float]:
    """Milliseconds of health / unrendered fetch / f-string render, in turn."""
    calls = [lambda: client.get("/-/health"), lambda: client.get("/api/v1/fetch/plain"),
             lambda: client.post("/api/v1/fetch/plain", json={"variables": {"q": "hi"}})]
    out = []
    for i in range(n):
        t = time.perf_counter()
        calls[i % 3]().raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
    return out


def under_load(url: str, key: str, client: httpx.Client) -> list[float]:
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as own:
            while not stop.is_set():
                own.post("/api/v1/fetch/slow", json={"variables": {"q": 1}})

    threads = [threading.Thread(target=hammer) for _ in range(SLOW_RENDERS)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the slow renders are running
    try:
        return timings(client, SAMPLES)
    finally:
        stop.set()
        for t in threads:
            t.join()


def run(src: str | None) -> dict[str, float]:
    with serve(src) as (url, key, pid), \
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        for name, content, fmt in (("plain", "{q}", "f-string"), ("slow", RUNAWAY, "jinja2")):
            client.post("/api/v1/publish", json={"name": name, "template_format": fmt, "commit_message": "bench",
                                                 "messages": [{"role": "user", "content": content}]}).raise_for_status()
        timings(client, 60)  # warm up
        idle = timings(client, SAMPLES)
        loaded = under_load(url, key, client)
        before = rss_mib(pid)
        t = time.perf_counter()
        answer = client.post("/api/v1/publish", json={"name": "big", "template_format": "jinja2",
                                                      "commit_message": "bench", "text": SLOW_COMPILE,
                                                      "type": "completion"})
        publish_s = time.perf_counter() - t
        return {"idle_p50": pct(idle, 50), "idle_p95": pct(idle, 95), "load_p50": pct(loaded, 50),
                "load_p95": pct(loaded, 95), "load_p99": pct(loaded, 99), "publish_s": publish_s,
                "publish_status": answer.status_code, "rss_growth": rss_mib(pid) - before}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", help="run the server from this source tree (PYTHONPATH)")
    parser.add_argument("--label", default="after: Jinja2 in worker processes")
    args = parser.parse_args()
    r = run(args.src)
    row = (f"| {args.label} | {r['idle_p50']:.2f} | {r['idle_p95']:.2f} | {r['load_p50']:.2f} | {r['load_p95']:.2f} "
           f"| {r['load_p99']:.2f} | {r['publish_status']} in {r['publish_s']:.1f} s | {r['rss_growth']:+.0f} |")
    print(row)
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    kept = re.findall(r"^\| (?!label|---)[^|]+ \|.*$", _section(old), re.M)
    rows = [line for line in kept if not line.startswith(f"| {args.label} |")] + [row]
    write_section(SECTION, f"""
## Slow Jinja2 templates and everyone else (`bench/bench_templates.py`)
A real `promptyard serve` (SQLite, one process, default settings: 2 template workers, render timeout 1 s,
compile timeout 2 s). {SAMPLES} sequential plain requests (health, unrendered fetch, f-string render, in turn)
idle and while {SLOW_RENDERS} clients keep a runaway Jinja2 render in flight; then one publish of a 96 KB
Jinja2 template that takes seconds to parse and compile, with the server process's memory growth.
Milliseconds, {machine()} (shared with other jobs).

| label | idle p50 | idle p95 | loaded p50 | loaded p95 | loaded p99 | slow-compile publish | server RSS MiB |
|---|---|---|---|---|---|---|---|
""" + "\n".join(rows))


def _section(text: str) -> str:
    m = re.search(rf"<!-- {SECTION} -->(.*?)<!-- /{SECTION} -->", text, re.S)
    return m.group(1) if m else ""


if __name__ == "__main__":
    main()
