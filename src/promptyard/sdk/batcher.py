"""The logging pipeline: ONE bounded in-memory queue, drained in batches by a daemon thread.

The caller's side (`put`) is an append under a lock: it never does I/O and never waits. The
queue is capped twice, in items (`max_queue`) and in bytes (`max_queue_bytes`, an estimate of
the memory the queued and in-flight items hold); a full queue refuses the NEWEST item (counted
in `dropped`): what is already queued keeps its order and nothing queued is thrown away behind
the sender's back. The HTTP client is built on the sender thread, so no call on the caller's
thread builds a TLS context or touches the network.

The sender posts each batch in at most three requests: its logs, then its scores
(/api/v1/scores), then its metadata updates (/api/v1/requests/metadata), so scores and metadata
usually find their request already stored (and otherwise wait for it on the server). A server
without the bulk routes (404) gets them one by one, as before. It retries connection errors,
timeouts, 429 and 5xx with exponential backoff and jitter; any other 4xx is a data problem that
no retry fixes: it is logged and counted as `rejected`. Every log carries its client id, so a
batch sent twice (an answer lost after the server stored it) is stored once.

Without a spool a failing batch is retried until it goes through or the client shuts down (the
bounded queue caps the memory meanwhile). With a spool the first failure writes the batch to
disk and the sender enters "down" mode (write-through): every `write_through` seconds what was
logged goes straight to the spool (fsync'd, so a kill -9 loses at most the last second), and
probes, backing off like retries up to one every `probe_interval` seconds, replay the spool
when the server answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import httpx

from promptyard.sdk import http, signals
from promptyard.sdk.counters import Counters, FlushResult
from promptyard.sdk.forks import Rearmed
from promptyard.sdk.sizes import approx_size
from promptyard.sdk.spool import Spool
from promptyard.sdk.text import dumps

log = logging.getLogger("promptyard.sdk")
LOGS_PATH = "/api/v1/requests"
BATCHES = {"score": ("/api/v1/scores", "scores"), "metadata": (f"{LOGS_PATH}/metadata", "updates")}  # path, list


@dataclass(frozen=True)
class BatcherConfig:
    base_url: str
    api_key: str | None
    max_queue: int = 10_000
    max_queue_bytes: int = 64 * 2**20
    batch_size: int = 500
    flush_interval: float = 1.0
    timeout: float = 10.0
    max_retries: int = 5  # no longer read: with a spool one failure spools, without one a batch is retried
    retry_base: float = 0.25
    retry_cap: float = 30.0
    probe_interval: float = 5.0
    spool_dir: str | None = None
    shutdown_timeout: float = 5.0
    write_through: float = 0.5


class Batcher(Rearmed):
    def __init__(self, config: BatcherConfig, prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        self.config = config
        self.prepare = prepare  # item -> the body that may leave the process (SDK-side redaction)
        self.spool = Spool(config.spool_dir) if config.spool_dir else None
        self._reset()
        if self.spool is not None and self.spool.pending():
            self._start()  # replay what an earlier run left behind, without waiting for a new log

    def _reset(self) -> None:
        """Fresh state: also in a forked child (see forks.py), whose copy of the parent's thread is
        gone and whose copy of the parent's queue the parent itself will send."""
        self.counters = Counters()
        self._mark = Counters()  # the counters when the last flush returned
        # Reentrant: the SIGTERM handler flushes on the main thread, which the signal may have
        # interrupted inside put() while it held this lock.
        self._lock = threading.RLock()
        self._done = threading.Condition(self._lock)
        self._q: deque[tuple[dict[str, Any], int]] = deque()  # (item, its estimated bytes)
        self._q_bytes = self._inflight_bytes = 0
        self._inflight: list[dict[str, Any]] | None = None
        self._enqueued = self._finished = 0
        self._wake, self._halt = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._stopping = self._closed = self._down = False
        self._next_probe, self._probe_attempt = 0.0, 0
        self._per_call = False  # the server has no bulk routes for scores and metadata

    # --- caller side ------------------------------------------------------------------------

    def put(self, item: dict[str, Any]) -> bool:
        """Queue one item; False when it was dropped (queue full or client shut down)."""
        size = approx_size(item)
        with self._lock:
            if (self._closed or len(self._q) >= self.config.max_queue
                    or self._q_bytes + self._inflight_bytes + size > self.config.max_queue_bytes):
                self.counters.dropped += 1
                return False
            self._q.append((item, size))
            self._q_bytes += size
            self._enqueued += 1
            self.counters.queued += 1
            n = len(self._q)
        if self._thread is None:
            self._start()
        if n >= self.config.batch_size:
            self._wake.set()
        return True

    def stats(self) -> dict[str, int]:
        with self._lock:
            out = asdict(self.counters)
            out["in_queue"] = len(self._q) + len(self._inflight or ())
            out["in_queue_bytes"] = self._q_bytes + self._inflight_bytes
        out["spool_files"] = self.spool.pending() if self.spool else 0
        return out

    def flush(self, timeout: float | None = None) -> FlushResult:
        """Wait until everything queued so far is delivered, rejected, spooled or dropped, or
        `timeout` seconds passed; say what happened since the previous flush."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._enqueued
        self._wait(target, deadline)
        return self._result(target)

    def shutdown(self, timeout: float | None = None) -> FlushResult:
        """Send what can be sent within `timeout`; spool (or count as dropped) the rest; stop."""
        if self._closed:
            return self._result(self._enqueued)
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._enqueued
        self._wait(target, deadline)
        self._stopping = True
        self._halt.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._closed = True
            left = [item for item, _ in self._q] + (self._inflight or [])
            self._q.clear()
            self._inflight, self._q_bytes, self._inflight_bytes = None, 0, 0
        if left:
            self._park(left)
            self._count_finished(len(left))
        return self._result(target)

    def _wait(self, target: int, deadline: float | None) -> bool:
        if self._thread is None and target > self._finished:
            self._start()
        self._wake.set()
        with self._done:
            while self._finished < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._done.wait(0.05 if left is None else min(left, 0.05))
                self._wake.set()
        return True

    def _result(self, target: int) -> FlushResult:
        with self._lock:
            now = replace(self.counters)
            before, self._mark = self._mark, now
            return FlushResult.between(before, now, queued=max(0, target - self._finished))

    # --- sender side --------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="promptyard-sender", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        signals.keep_off_this_thread()
        try:
            self._replay()
            while True:
                self._wake.wait(min(self.config.flush_interval, self.config.write_through)
                                if self._down else self.config.flush_interval)
                self._wake.clear()
                while not self._halt.is_set():
                    batch = self._take()
                    if not batch:
                        break
                    self._ship(batch)
                if self._stopping:
                    return
                self._replay()
        finally:
            if self._stopping and self._http is not None:
                self._http.close()

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            n = min(len(self._q), self.config.batch_size)
            pairs = [self._q.popleft() for _ in range(n)]
            size = sum(s for _, s in pairs)
            self._q_bytes -= size
            self._inflight, self._inflight_bytes = [item for item, _ in pairs] or None, size
            return self._inflight or []

    def _ship(self, batch: list[dict[str, Any]]) -> None:
        try:
            sent, rejected, unsent = self._deliver(batch)
        except Exception:  # noqa: BLE001 - a value that cannot be sent must not kill the sender
            log.exception("promptyard: %d log items could not be encoded and were dropped", len(batch))
            sent, rejected, unsent = 0, len(batch), []
        with self._lock:
            if self._inflight is not batch:
                return  # shutdown took this batch over (and spooled it) while we were sending
            self._inflight, self._inflight_bytes = None, 0
            self.counters.sent += sent
            self.counters.rejected += rejected
        if unsent:
            self._park(unsent)  # not under the lock: an fsync must not make put() wait
        self._count_finished(len(batch))

    def _count_finished(self, n: int) -> None:
        with self._done:
            self._finished += n
            self._done.notify_all()

    def _ready(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items as they may leave the process: with `prepare` (redaction), each body rewritten once.
        Both ways out, a request (_deliver) and the spool (_park), begin here; a shutdown that takes over
        a batch the sender is still preparing prepares what is not marked yet itself."""
        if self.prepare is not None:
            for item in items:
                if not item.get("ready"):
                    item["body"] = self.prepare(item)
                    item["ready"] = True  # after the body: a reader that sees the mark sees the new body
        return items

    def _park(self, items: list[dict[str, Any]]) -> None:
        """Keep what could not be sent on disk; without a spool it is lost (and counted)."""
        try:
            items = self._ready(items)
        except Exception:  # noqa: BLE001 - never write what could not be redacted
            log.exception("promptyard: %d log items could not be redacted and were dropped", len(items))
            with self._lock:
                self.counters.dropped += len(items)
            return
        stored = self.spool.write(items) if self.spool else 0
        with self._lock:
            self.counters.spooled += stored
            self.counters.dropped += len(items) - stored
        if stored < len(items):
            log.error("promptyard: %d log items could not be sent and were dropped", len(items) - stored)

    def _replay(self) -> None:
        """Send spooled files while the server answers; stop at the first failure."""
        # In "down" mode _post only sends when a probe is due, so this also finds out that the
        # server is back when the application logs nothing new.
        while self.spool is not None and not self._halt.is_set() and not self._q:
            if self._down and not self._probe_due():
                return  # not even a claim: reading a file only to give it back is wasted I/O
            claimed = self.spool.claim()
            if claimed is None:
                return
            path, items = claimed
            try:
                sent, rejected, unsent = self._deliver(items)
            except Exception:  # noqa: BLE001 - keep a file we cannot read as data for a human
                log.exception("promptyard: spool file %s cannot be sent; left in place", path)
                return
            with self._lock:
                self.counters.sent += sent
                self.counters.replayed += sent
                self.counters.rejected += rejected
            if len(unsent) == len(items):
                self.spool.release(path)
                return
            if unsent:
                self.spool.write(unsent)
            self.spool.done(path)

    # --- delivery -----------------------------------------------------------------------------

    def _deliver(self, items: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
        """(sent, rejected, unsent): the logs in one request, then the scores in one, then the metadata."""
        items = self._ready(items)
        sent = rejected = 0
        groups = [[i for i in items if i["kind"] == kind] for kind in ("log", "score", "metadata")]
        for n, group in enumerate(groups):
            if not group:
                continue
            ok, bad, failed = self._post_kind(group)
            sent, rejected = sent + ok, rejected + bad
            if failed:
                return sent, rejected, failed + [i for later in groups[n + 1:] for i in later]
        return sent, rejected, []

    def _post_kind(self, items: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
        kind = items[0]["kind"]
        if kind == "log":
            return self._post_batch(LOGS_PATH, "requests", items)
        if self._per_call:
            return self._post_each(items)
        path, key = BATCHES[kind]
        return self._post_batch(path, key, items)

    def _post_batch(self, path: str, key: str, items: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
        """One request for many items of a kind: {key: [entry, ...]}, answered with errors by index."""
        response = self._post(path, {key: [_entry(i) for i in items]})
        if response is None:
            return 0, 0, items
        if response.status_code in (404, 405) and path != LOGS_PATH:
            # A server from before the bulk routes: one request per item, as then (until restarted).
            log.warning("promptyard: %s not found on the server; sending scores and metadata one by one", path)
            self._per_call = True
            return self._post_each(items)
        if response.status_code in (413, 422) and len(items) > 1 and not _item_errors(response):
            # Too large, or refused as a whole: halve it so one bad item costs only itself.
            mid = len(items) // 2
            a, b = self._post_batch(path, key, items[:mid]), self._post_batch(path, key, items[mid:])
            return a[0] + b[0], a[1] + b[1], a[2] + b[2]
        if response.status_code >= 300:
            _log_rejection(path, response)
            return 0, len(items), []
        errors = _item_errors(response)
        if errors:
            log.error("promptyard: server refused %d of %d items, e.g. %s", len(errors), len(items), errors[0])
        return len(items) - len(errors), len(errors), []

    def _post_each(self, items: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
        sent = rejected = 0
        for n, item in enumerate(items):
            path = f"{LOGS_PATH}/{item['id']}/{'scores' if item['kind'] == 'score' else 'metadata'}"
            outcome = self._post(path, item["body"])
            if outcome is None:
                return sent, rejected, items[n:]
            if outcome.status_code < 300:
                sent += 1
            else:
                rejected += 1
                _log_rejection(path, outcome)
        return sent, rejected, []

    def _post(self, path: str, body: Any) -> httpx.Response | None:
        """The final answer (2xx, or a 4xx not worth retrying), or None: not sent, keep it."""
        content = dumps(body)
        attempt = 0
        while True:
            if self._halt.is_set() or (self._down and not self._probe_due()):
                return None
            response, problem = self._send(path, content)
            if response is not None:
                self._down = False
                return response
            if self.spool is not None:
                self._went_down(problem)
                return None
            delay = http.backoff(attempt, self.config.retry_base, self.config.retry_cap)
            attempt += 1
            with self._lock:
                self.counters.retried += 1
            if attempt == 1:
                log.warning("promptyard: sending logs failed (%s); retrying", problem)
            if self._halt.wait(delay):
                return None

    def _send(self, path: str, content: bytes) -> tuple[httpx.Response | None, str]:
        """(the answer, "") or (None, what went wrong) when it is worth trying again."""
        if self._http is None:
            # Built here, at the first send, on the sender thread: an httpx client builds a TLS
            # context (tens of milliseconds of CPU, holding the GIL), which must not fall on the
            # thread that called log(), nor compete with it while it logs its first burst.
            self._http = httpx.Client(base_url=self.config.base_url, headers=http.headers(self.config.api_key)
                                      | {"Content-Type": "application/json"}, timeout=self.config.timeout)
        try:
            response = self._http.post(path, content=content)
        except httpx.HTTPError as exc:
            return None, f"{exc.__class__.__name__}: {exc}"
        if http.retryable(status=response.status_code):
            return None, f"HTTP {response.status_code}"
        return response, ""

    def _went_down(self, problem: str) -> None:
        """With a spool one failure is enough to keep logs on disk rather than in memory (a
        retry in memory loses the batch, and all logged meanwhile, to a kill -9). Retries
        then come from the spool, backing off like in-memory ones, up to `probe_interval`."""
        if not self._down:
            log.warning("promptyard server unreachable (%s); spooling logs to %s", problem, self.spool.dir)
            self._down, self._probe_attempt = True, 0
        else:
            self._probe_attempt += 1
        step = http.backoff(self._probe_attempt, self.config.retry_base, self.config.retry_cap)
        self._next_probe = time.monotonic() + min(self.config.probe_interval, step)

    def _probe_due(self) -> bool:
        return time.monotonic() >= self._next_probe


def _entry(item: dict[str, Any]) -> Any:
    """An item as an entry of its kind's bulk request."""
    if item["kind"] == "score":
        return {"request": item["id"]} | item["body"]
    if item["kind"] == "metadata":
        return {"request": item["id"], "metadata": item["body"]}
    return item["body"]


def _item_errors(response: httpx.Response) -> list[Any]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors if isinstance(errors, list) else []


def _log_rejection(path: str, response: httpx.Response) -> None:
    log.error("promptyard: %s refused (%s): %s", path, response.status_code, http.error_of(response))
