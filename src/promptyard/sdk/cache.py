"""The prompt cache: bundles by (name, version, label) with a TTL, stale-while-revalidate, one
background refresh per key, and invalidation driven by the registry change feed.

A *bundle* is what `GET /api/v1/prompt-bundle/{name}` answers: the label's routing policy (or
none) and every version it can serve, so a routed label is assigned here with no network call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable

from promptyard import errors
from promptyard.sdk import http, signals
from promptyard.sdk.forks import Rearmed

log = logging.getLogger("promptyard.sdk")
Key = tuple[str, int | None, str | None]


class Entry:
    __slots__ = ("bundle", "fetched_at")

    def __init__(self, bundle: dict[str, Any], fetched_at: float):
        self.bundle, self.fetched_at = bundle, fetched_at


class PromptCache(Rearmed):
    def __init__(self, fetch: Callable[[Key], dict[str, Any]], ttl: float = 60.0, stale_ttl: float = 3600.0):
        self.fetch, self.ttl, self.stale_ttl = fetch, ttl, stale_ttl
        self.entries: dict[Key, Entry] = {}
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: deque[Key] = deque()
        self._refreshing: set[Key] = set()
        self._again: set[Key] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def lookup(self, key: Key) -> tuple[Entry | None, bool]:
        """(entry, fresh). A stale entry still inside the stale window schedules one refresh and
        is served meanwhile; an older one is returned too (for stale-if-error) but not fresh."""
        entry = self.entries.get(key)
        if entry is None:
            return None, False
        age = time.monotonic() - entry.fetched_at
        if age < self.ttl:
            return entry, True
        if age < self.ttl + self.stale_ttl:
            self.refresh_later(key)
            return entry, True
        return entry, False

    def store(self, key: Key, bundle: dict[str, Any]) -> None:
        self.entries[key] = Entry(bundle, time.monotonic())

    def invalidate(self, prompt_name: str | None = None) -> int:
        """Expire the entries of one prompt (all with None) and refresh them in the background;
        until then they are served stale, so no caller waits for the network."""
        keys = [k for k in list(self.entries) if prompt_name is None or k[0] == prompt_name]
        for key in keys:
            entry = self.entries.get(key)
            if entry is not None:
                entry.fetched_at = time.monotonic() - self.ttl  # stale from now on
            self.refresh_later(key, again=True)
        return len(keys)

    def refresh_later(self, key: Key, again: bool = False) -> None:
        """Queue one background refresh of `key`. With `again`, a refresh already under way is
        followed by one more: it may have read the registry before the change we were told of."""
        with self._lock:
            if key in self._refreshing:
                if again:
                    self._again.add(key)
                return  # one refresh per key at a time
            self._refreshing.add(key)
            self._pending.append(key)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="promptyard-refresh", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        signals.keep_off_this_thread()
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._pending:
                        break
                    key = self._pending.popleft()
                try:
                    self.store(key, self.fetch(key))
                except errors.NotFound:
                    self.entries.pop(key, None)  # deleted label or prompt: the next get says so
                except Exception as exc:  # noqa: BLE001 - keep serving the stale entry
                    log.warning("promptyard: refreshing prompt %s failed: %s", key[0], exc)
                finally:
                    with self._lock:
                        if key in self._again:
                            self._again.discard(key)
                            self._pending.append(key)
                        else:
                            self._refreshing.discard(key)


class ChangeWatcher(Rearmed):
    """Follows GET /api/v1/changes (long poll) and expires cached entries of changed prompts."""

    def __init__(self, get: Callable[..., Any], cache: PromptCache, wait: float = 25.0):
        self.get, self.cache, self.wait = get, cache, wait
        self._reset()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="promptyard-changes", daemon=True)
            self._thread.start()

    def _reset(self) -> None:
        """Not started (also in a forked child, see forks.py): the next get starts it again."""
        self.cursor: int | None = None
        self.connected = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        signals.keep_off_this_thread()
        failures = 0
        while True:
            try:
                self._step()
                failures = 0
            except (errors.Unauthorized, errors.Forbidden) as exc:
                log.error("promptyard: change feed refused (%s); cached prompts expire by TTL only", exc)
                return
            except Exception as exc:  # noqa: BLE001 - the server may be restarting: try again
                failures += 1
                if failures == 1:
                    log.warning("promptyard: change feed unavailable (%s); retrying", exc)
                time.sleep(http.backoff(min(failures, 6), 0.5, 30.0))

    def _step(self) -> None:
        if self.cursor is None:
            self.cursor = int(self.get("/api/v1/changes", {}, 10.0)["cursor"])
            # Anything fetched before the cursor was known may already be out of date.
            self.cache.invalidate()
            self.connected.set()
            return
        body = self.get("/api/v1/changes", {"since": self.cursor, "wait": self.wait}, self.wait + 10.0)
        names = {item["prompt"] for item in body.get("items", [])}
        for name in names:
            self.cache.invalidate(name)
        self.cursor = int(body.get("cursor", self.cursor))
