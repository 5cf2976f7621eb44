"""The server's pools of worker processes (services/render_pool.py's template workers and
services/ingest_workers.py's): made on first use, one per set of settings, shared by every app in the
process, made anew when broken, stopped when the process exits. Workers start from a forkserver on
Linux (forking the threaded server is unsafe; a forkserver is a clean single-threaded process, forked
once), which has imported what the workers run, so a new worker starts in milliseconds; elsewhere they
are spawned."""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import sys
import threading
from multiprocessing.context import BaseContext
from typing import Any, Callable, Hashable

from pebble import ProcessPool

# What the forkserver imports once, before forking any worker.
PRELOAD = ["promptyard.domain.sandbox", "promptyard.web.api.logs", "promptyard.web.compat.otlp"]


def context() -> BaseContext:
    if sys.platform == "linux":
        found = multiprocessing.get_context("forkserver")
        found.set_forkserver_preload(PRELOAD)
        return found
    return multiprocessing.get_context("spawn")


_pools: dict[tuple[str, Hashable], ProcessPool] = {}
_lock = threading.Lock()


def pool(name: str, settings: Hashable, make: Callable[[], dict[str, Any]]) -> ProcessPool:
    """The pool `name` with these settings; `make()` gives ProcessPool's arguments for a new one."""
    with _lock:
        found = _pools.get((name, settings))
        if found is None or not found.active:
            found = _pools[(name, settings)] = ProcessPool(context=context(), **make())
        return found


# Allocations between young collections (Python's default: 700). A batch of 500 logs makes ~50,000 objects.
YOUNG_COLLECTION_EVERY = 50_000


def collect_less() -> None:
    """Fewer garbage collections, in the server process and the ingest workers, once started: what exists
    by now (modules, the app) is never traversed again, and the young generation is collected every
    YOUNG_COLLECTION_EVERY allocations. Python's defaults ran a collection every 700 objects while a
    batch was decoded, unpickled and stored (full ones over the whole heap among them): a tenth to a
    fifth of ingest's CPU time (docs/benchmarks.md, "Batch ingest")."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 20, 20)


@atexit.register
def stop() -> None:
    with _lock:
        for found in _pools.values():
            found.stop()
        _pools.clear()
