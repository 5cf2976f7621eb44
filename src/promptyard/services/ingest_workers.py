"""Ingest's preparation runs in worker processes, so that the server ingests on every core.

Preparing a batch (decoding the body, checking each log, redaction, the stored forms of its JSON and
the text index's words: services/request_ingest.prepare, services/otlp_ingest.prepare) needs no
database and was about two thirds of ingest's CPU time; the server's one process, holding Python's one
lock, did all of it. The API's ingest routes hand the body to a pool of worker processes and keep only
the database work (services/request_ingest.store) and HTTP; each batch's write transaction starts when
its preparation is done, so another batch is prepared while one is written.

* PROMPTYARD_INGEST_WORKERS processes (0: prepare in the server process), started on the first large
  batch (services/worker_processes.py);
* bodies under SMALL_BYTES are prepared in the server process: the round trip costs more than it saves;
* a worker that dies, or does not answer within DEADLINE_S, is replaced by the pool and the batch is
  prepared in the server process instead: logging never fails for the pool's sake. A batch's own
  fault (a bad body, too many logs) comes back from the worker as the same error, not as a failure.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

from pebble import ProcessPool

from promptyard import log_scrub
from promptyard.services import worker_processes

log = logging.getLogger("promptyard.ingest")

SMALL_BYTES = 32 * 1024
DEADLINE_S = 60.0

T = TypeVar("T")


def run(workers: int, function: Callable[..., T], *args: Any, size: int) -> T:
    """function(*args) in one of `workers` worker processes (in this one for 0 workers or a body of fewer
    than SMALL_BYTES `size`); `function` and its arguments and answer must pickle."""
    if workers <= 0 or size < SMALL_BYTES:
        return function(*args)
    try:
        raised, answer = _pool(workers).schedule(_job, args=(function, *args), timeout=DEADLINE_S).result()
    except Exception as exc:  # the pool failed (a worker died, timed out, could not start)
        log.warning("an ingest worker failed (%s); the batch is prepared in the server process",
                    log_scrub.error_name(exc))
        return function(*args)
    if raised:
        raise answer
    return answer


def _job(function: Callable[..., T], *args: Any) -> tuple[bool, Any]:
    """In a worker: (False, the answer) or (True, the exception `function` raised), so that the server
    tells the batch's own errors from the pool's."""
    try:
        return False, function(*args)
    except Exception as exc:  # handed back to the caller, raised there
        return True, exc


def _pool(workers: int) -> ProcessPool:
    return worker_processes.pool("ingest", workers, lambda: {"max_workers": workers,
                                                             "initializer": worker_processes.collect_less})
