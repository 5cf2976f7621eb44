"""What the statement timeout costs and saves: a search too costly for the database (40 substring
conditions over 3,000 logs of ~11 KB input and output) with no limit, with the default limit
(30 s, so it never fires: the cost of checking) and with a 0.2 s limit. SQLite checks in a
progress handler; PostgreSQL has statement_timeout on the read pool's connections.

    .venv/bin/python bench/statement_timeout.py [database-url]
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid

from promptyard.domain import query
from promptyard.errors import TimedOut
from promptyard.services import keys, request_ingest, request_reads
from promptyard.store.db import Database
from promptyard.store.migrate import upgrade


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    db = Database(url)
    upgrade(db.engine)
    text = "lorem ipsum dolor sit amet " * 400
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, f"bench-{uuid.uuid4().hex[:6]}")
        p = keys.system_principal(ws)
        for _ in range(3):
            logs = [{"id": str(uuid.uuid4()), "provider": "openai", "model": "m", "input": {"text": text},
                     "output": {"text": text}, "start_time": "2026-11-20T10:00:00Z"} for _ in range(1000)]
            request_ingest.ingest(s, p, logs, max_batch=1000)
    costly = query.parse(" OR ".join(f'text ~ "q{i}"' for i in range(40)))
    cheap = None
    for limit in (0, 30, 0.2):
        limited = Database(url, statement_timeout_s=limit)
        for name, node in (("costly", costly), ("cheap", cheap)):
            started, outcome = time.perf_counter(), "answered"
            runs = 1 if node is costly else 200
            try:
                for _ in range(runs):
                    with limited.read() as s:
                        request_reads.search(s, p, node=node, limit=50)
            except TimedOut:
                outcome = "timed out"
            took = (time.perf_counter() - started) / runs
            print(f"{db.kind:10} limit {limit:>4} s  {name:6}: {took * 1000:8.1f} ms  {outcome}")
        limited.dispose()
    db.dispose()


if __name__ == "__main__":
    main()
