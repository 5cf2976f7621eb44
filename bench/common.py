"""Shared pieces of the benchmarks: a server process on a temporary database, percentiles, and
writing figures into docs/benchmarks.md between markers (one section per benchmark)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(fn, runs: int, warm: int = 1) -> list[float]:  # noqa: ANN001
    """Milliseconds of `runs` calls of fn, after `warm` untimed ones."""
    for _ in range(warm):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process so far (Linux /proc)."""
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def database_cpu_seconds() -> float:
    """User + system CPU seconds of the local PostgreSQL server's processes so far, with those of its
    backends that have ended (Linux /proc; readable when the benchmark runs as root or as postgres)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                name, rest = f.read().split(" (", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        if name == "postgres":
            fields = rest.split()
            total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def server_processes() -> tuple[list[int], list[int]]:
    """([the running `promptyard serve`], [its worker processes: the forkserver's children]) (Linux)."""
    def parent_and_cmd(pid: int) -> tuple[int, str]:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return parent, f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return -1, ""
    procs = {int(p): parent_and_cmd(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    servers = [p for p, (_, cmd) in procs.items() if "promptyard.cli serve" in cmd]
    forkservers = [p for p, (parent, cmd) in procs.items() if parent in servers and "forkserver" in cmd]
    return servers, [p for p, (parent, _) in procs.items() if parent in forkservers]


@contextmanager
def server(database_url: str | None = None, extra_env: dict | None = None) -> Iterator[tuple[str, str]]:
    """A real `promptyard serve` process; yields (base URL, admin API key)."""
    data = tempfile.mkdtemp(prefix="py-bench-")
    port = free_port()
    env = dict(os.environ, PROMPTYARD_DATA_DIR=data, PROMPTYARD_PORT=str(port), PROMPTYARD_LOG_LEVEL="warning",
               **(extra_env or {}))
    if database_url:
        env["PROMPTYARD_DATABASE_URL"] = database_url
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    key = first_run_key(proc)
    deadline = time.time() + 60
    while not _listening(port) and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        proc.terminate()
        proc.wait(10)


def first_run_key(proc: subprocess.Popen) -> str:
    """The admin API key a first start hands out, read from the server's output (printed on a
    terminal; otherwise written to a private file whose path is printed); '' on later starts."""
    text = ""
    for line in proc.stdout:  # everything is said before the server listens
        text += line
        if line.strip().startswith("Log in at") or "admin API key:" in line:
            break
    written = re.search(r"They are in (\S+) \(readable only", text)
    if written:
        text += Path(written.group(1)).read_text(encoding="utf-8")
    key = re.search(r"admin API key: (\S+)", text)
    return key.group(1) if key else ""


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def write_section(name: str, markdown: str) -> None:
    """Replace the section between <!-- name --> markers in docs/benchmarks.md."""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\nFigures written by `bench/` scripts.\n"
    block = f"<!-- {name} -->\n{markdown.strip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def fresh_pg(url: str) -> bool:
    """Drop and create the PostgreSQL database `url` names; False when PostgreSQL is not there."""
    return _pg_admin(url, create=True)


def drop_pg(url: str) -> bool:
    """Drop the PostgreSQL database `url` names (a bench's own, when it is done)."""
    return _pg_admin(url, create=False)


def _pg_admin(url: str, *, create: bool) -> bool:
    from sqlalchemy import create_engine

    base, name = url.rsplit("/", 1)
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        admin.dispose()


def key_file(database_url: str) -> Path:
    """Where seed_million.py keeps the API key of the data set it seeded at this URL."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", database_url.split("://", 1)[-1]).strip("-")
    return ROOT / "bench" / "out" / f"{name[-80:]}.key"


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"


def by_size(kept: Path, sizes: str, measure: Callable[[int], dict]) -> dict[str, dict]:
    """Measure each data set size of `sizes` ("5000,100000"), with the load average as each one
    starts (read before a missing data set is seeded), merged into the runs kept in `kept`
    (JSON, per size) and returned."""
    results = json.loads(kept.read_text()) if kept.exists() else {}
    for rows in (int(r) for r in sizes.split(",")):
        load = os.getloadavg()[0]
        got = measure(rows) | {"load": load}
        results[str(rows)] = got
        print(rows, json.dumps(got), flush=True)
    kept.write_text(json.dumps(results, indent=1))
    return results

