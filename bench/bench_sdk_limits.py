"""Python SDK limits: what the caller's thread pays for the first log (client construction +
first `log()`, in a fresh process), and the memory a burst of large logs holds while the server
hangs (20,000 logs of 40 KB each; RSS of the process). Each case runs in its own interpreter,
so imports, TLS contexts and allocator state of one do not count in another."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, free_port, machine, write_section  # noqa: E402

FIRST_LOG = textwrap.dedent("""
    import json, sys, time
    from promptyard import Promptyard
    t = time.perf_counter()
    py = Promptyard(sys.argv[1], "key", watch_changes=False)
    py.log(provider="openai", model="gpt-4o", input={"messages": [{"role": "user", "content": "hi"}]}, output="ok")
    print(json.dumps({"ms": (time.perf_counter() - t) * 1000}))
""")

LARGE = textwrap.dedent("""
    import json, socket, sys
    from promptyard import Promptyard
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    hanging = socket.socket(); hanging.bind(("127.0.0.1", 0)); hanging.listen(1024)
    py = Promptyard(f"http://127.0.0.1:{hanging.getsockname()[1]}", "key", watch_changes=False, timeout=600)
    py.log(output="warm-up")
    before = rss()
    for i in range(20_000):
        py.log(provider="openai", model="gpt-4o",
               input={"messages": [{"role": "user", "content": f"{i} " + "x" * 40_000}]}, output="ok")
    stats = py.stats()
    print(json.dumps({"mib": rss() - before, "held": stats["in_queue"], "dropped": stats["dropped"],
                      "bytes": stats.get("in_queue_bytes")}))
""")


def child(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=600,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    url = f"https://127.0.0.1:{free_port()}"  # nothing listens: only the caller-side cost counts
    first = sorted(child(FIRST_LOG, url)["ms"] for _ in range(7))
    large = child(LARGE)
    text = "\n".join([
        "## Python SDK limits (bench/bench_sdk_limits.py)", "",
        f"{machine()}. First log: `Promptyard(url)` and the first `log()` in a fresh interpreter, on the "
        f"caller's thread (the HTTP client and its TLS context are built on the sender thread): median "
        f"{statistics.median(first):.1f} ms, slowest {first[-1]:.1f} ms of 7 runs (before the client was "
        "built on the sender thread, measured the same way: median 552 ms, slowest 730 ms). What is left "
        "is mostly `Thread.start()` waiting for the OS to run the new sender thread on a busy machine.", "",
        "Large logs: 20,000 logs of 40 KB each while the server accepts connections and never answers "
        f"(default caps: `max_queue=10_000`, `max_queue_bytes=64 MiB`): the process grew by "
        f"{large['mib']:.0f} MiB of RSS, holding {large['held']:,} logs "
        f"({(large['bytes'] or 0) / 2**20:.0f} MiB by the SDK's estimate) and dropping {large['dropped']:,} "
        "(counted in `stats()['dropped']`). Before the byte cap the same run held 10,000 logs in 447 MiB.",
    ])
    write_section("bench-sdk-limits", text)
    print(text)


if __name__ == "__main__":
    main()
