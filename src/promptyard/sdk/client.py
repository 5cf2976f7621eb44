"""Promptyard and AsyncPromptyard: fetch prompts (cached), log LLM calls (never blocking).

Both share one core: the prompt cache with its background refresher and change-feed watcher,
and the logging pipeline (batcher), and one `get` that yields the requests it needs: only how
they are sent differs (AsyncPromptyard awaits them).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
import uuid
import weakref
from typing import Any, Generator, Mapping
from urllib.parse import quote

import httpx

from promptyard import errors
from promptyard.domain import routing
from promptyard.sdk import http, signals
from promptyard.sdk import prompt as prompts
from promptyard.sdk.batcher import Batcher, BatcherConfig
from promptyard.sdk.cache import ChangeWatcher, Key, PromptCache
from promptyard.sdk.counters import FlushResult
from promptyard.sdk.datasets import Datasets
from promptyard.sdk.forks import Rearmed
from promptyard.sdk.prompt import Prompt
from promptyard.settings import client_config

_clients: "weakref.WeakSet[_Core]" = weakref.WeakSet()
Request = tuple[str, str, dict[str, Any]]  # what `get` needs sent: method, path, httpx keywords


class _Core(Rearmed):
    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 10.0,
                 cache_ttl: float = 60.0, stale_ttl: float = 3600.0, watch_changes: bool = True,
                 max_queue: int = 10_000, max_queue_bytes: int = 64 * 2**20, batch_size: int = 500,
                 flush_interval: float = 1.0, max_retries: int = 5,
                 spool_dir: str | os.PathLike[str] | None = None, shutdown_timeout: float = 5.0,
                 handle_signals: bool = True, redact: bool | Mapping[str, Any] | None = None,
                 redaction_key: bytes | str | None = None):
        env_url, env_key = client_config()
        # Redaction on the sender thread (log() stays a queue append), before anything is posted or spooled.
        self.redactor = None
        if redact not in (None, False):
            from promptyard.sdk.redact import LogRedactor  # the detectors load only when asked for

            self.redactor = LogRedactor(redact, redaction_key)
        self.base_url = (base_url or env_url).rstrip("/")
        self.api_key = api_key or env_key
        self.timeout = timeout
        # Built on first use, not here: creating an httpx client builds a TLS context (tens of
        # milliseconds), which a process that only logs should never pay on its own thread.
        self._reset()
        self.cache = PromptCache(self._fetch_bundle, cache_ttl, stale_ttl)
        self.watcher = ChangeWatcher(self._get_json, self.cache) if watch_changes else None
        self.batcher = Batcher(BatcherConfig(
            self.base_url, self.api_key, max_queue=max_queue, max_queue_bytes=max_queue_bytes,
            batch_size=batch_size, flush_interval=flush_interval,
            timeout=timeout, max_retries=max_retries, spool_dir=os.fspath(spool_dir) if spool_dir else None,
            shutdown_timeout=shutdown_timeout), prepare=self.redactor.item if self.redactor else None)
        self.handle_signals = handle_signals
        _clients.add(self)
        if handle_signals:
            signals.install(_on_stop_signal)

    def _reset(self) -> None:
        """No connection yet (also in a forked child, see forks.py: not the parent's sockets)."""
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    def _sync_http(self) -> httpx.Client:
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(base_url=self.base_url, headers=http.headers(self.api_key),
                                          timeout=self.timeout)
            return self._http

    def _close_http(self) -> None:
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    # --- logging: every call returns at once -------------------------------------------------

    def log(self, *, provider: str | None = None, model: str | None = None, input: Any = None,
            output: Any = None, start_time: Any = None, end_time: Any = None, status: str | None = None,
            error: Mapping[str, Any] | BaseException | None = None, usage: Mapping[str, Any] | None = None,
            cost: float | None = None, tags: list[str] | None = None, group: str | None = None,
            metadata: Mapping[str, Any] | None = None, scores: list[Mapping[str, Any]] | None = None,
            prompt: Prompt | Mapping[str, Any] | None = None, routing: Mapping[str, Any] | None = None,
            function_name: str | None = None, request_id: str | None = None) -> str:
        """Queue one request log; returns its id (generated here unless given) immediately."""
        rid = request_id or str(uuid.uuid4())
        now = time.time()
        body: dict[str, Any] = {"id": rid, "start_time": now if start_time is None else start_time,
                                "end_time": now if end_time is None else end_time,
                                "status": status or ("error" if error is not None else "ok")}
        if isinstance(error, BaseException):
            error = {"type": error.__class__.__name__, "message": str(error)}
        if isinstance(prompt, Prompt):
            routing = routing or prompt.routing
            prompt = prompt.link()
        for name, value in (("provider", provider), ("model", model), ("input", input), ("output", output),
                            ("error", error), ("usage", usage), ("cost", cost), ("tags", tags), ("group", group),
                            ("scores", scores), ("prompt", prompt), ("routing", routing),
                            ("function_name", function_name)):
            if value is not None:
                body[name] = value
        if metadata:
            body["metadata"] = {str(k): "" if v is None else str(v) for k, v in metadata.items()}
        self.batcher.put({"kind": "log", "body": body})
        return rid

    def score(self, request_id: str, name: str, value: float, comment: str | None = None) -> None:
        """Queue a score (0-100) for a request, also one whose log is not sent yet."""
        body: dict[str, Any] = {"name": name, "value": value, "source": "api"}
        if comment is not None:
            body["comment"] = comment
        self.batcher.put({"kind": "score", "id": request_id, "body": body})

    def metadata(self, request_id: str, values: Mapping[str, Any]) -> None:
        """Queue metadata (string values) for a request."""
        body = {str(k): "" if v is None else str(v) for k, v in values.items()}
        self.batcher.put({"kind": "metadata", "id": request_id, "body": body})

    def stats(self) -> dict[str, int]:
        """Counters: queued, sent, retried, dropped, spooled, replayed, rejected; and the current in_queue
        (waiting or being sent), in_queue_bytes (their estimated memory), spool_files."""
        return self.batcher.stats()

    def wrap(self, client: Any) -> Any:
        from promptyard.sdk.wrappers import wrap

        return wrap(client, self)

    # --- prompts: shared steps ------------------------------------------------------------------

    def _watch(self) -> None:
        if self.watcher is not None and self.watcher._thread is None:
            self.watcher.start()

    def _bundle_request(self, key: Key) -> tuple[str, dict[str, Any]]:
        name, version, label = key
        params: dict[str, Any] = {}
        if version is not None:
            params["version"] = version
        if label is not None:
            params["label"] = label
        return f"/api/v1/prompt-bundle/{quote(name, safe='/')}", params

    def _fetch_bundle(self, key: Key) -> dict[str, Any]:
        path, params = self._bundle_request(key)
        return self._request("GET", path, params=params)

    def _get_json(self, path: str, params: dict[str, Any], timeout: float | None) -> Any:
        return self._request("GET", path, params=params, timeout=timeout or self.timeout)

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self._sync_http().request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise http.unreachable(exc) from exc
        return http.check(response)

    def _get(self, name: str, version: int | None, label: str | None, variables: dict[str, Any] | None,
             metadata: Mapping[str, Any] | None, fallback: Any) -> Generator[Request, Any, Prompt]:
        """The one `get` of both clients, without I/O of its own: it yields each request it needs
        (method, path, httpx keywords) and is sent the JSON answer (or has the error thrown in);
        it returns the Prompt. `_drive` and `AsyncPromptyard._adrive` do the sending."""
        key: Key = (name, version, label)
        self._watch()
        entry, fresh = self.cache.lookup(key)
        stale = False
        if entry is not None and fresh:
            bundle = entry.bundle
        else:
            path, params = self._bundle_request(key)
            try:
                bundle = yield "GET", path, {"params": params}
                self.cache.store(key, bundle)
            except errors.Unavailable:
                if entry is not None:
                    bundle, stale = entry.bundle, True
                elif fallback is not None:
                    return self._from_fallback(name, fallback, variables)
                else:
                    raise
        version_data, route = self._choose(bundle, metadata)
        rendered = None
        if variables is not None:
            if version_data.get("template_format") == "jinja2":  # rendered by the server's sandbox
                body = {"version": version_data["number"], "variables": variables, "metadata": dict(metadata or {})}
                rendered = (yield "POST", f"/api/v1/fetch/{quote(name, safe='/')}", {"json": body})["rendered"]
            else:
                rendered = prompts.render_locally(version_data, variables)
        return self._build(key, bundle, version_data, route, variables, rendered, stale)

    def _drive(self, flow: Generator[Request, Any, Prompt]) -> Prompt:
        try:
            request = next(flow)
            while True:
                method, path, kw = request
                try:
                    answer = self._request(method, path, **kw)
                except Exception as exc:  # noqa: BLE001 - handed to the flow, which decides
                    request = flow.throw(exc)
                else:
                    request = flow.send(answer)
        except StopIteration as done:
            return done.value

    def _choose(self, bundle: dict[str, Any], metadata: Mapping[str, Any] | None
                ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The version to serve: the label's own, or the routing policy's pick, made here."""
        policy = bundle.get("policy")
        if not policy:
            return bundle["versions"][str(bundle["version"])], None
        a = routing.assign(policy, dict(metadata or {}), label=bundle["label"])
        return bundle["versions"][str(a.version)], {"label": bundle["label"], "rule": a.rule, "unit": a.unit}

    def _build(self, key: Key, bundle: dict[str, Any], version: dict[str, Any], route: dict[str, Any] | None,
               variables: dict[str, Any] | None, rendered: dict[str, Any] | None, stale: bool) -> Prompt:
        return prompts.build(key[0], version, label=bundle.get("label"), variables=variables, rendered=rendered,
                             routing=route, prompt_id=(bundle.get("prompt") or {}).get("id"), stale=stale)

    def _from_fallback(self, name: str, fallback: Any, variables: dict[str, Any] | None) -> Prompt:
        version = prompts.fallback_version(fallback)
        rendered = prompts.render_locally(version, variables) if variables is not None else None
        return prompts.build(name, version, label=None, variables=variables, rendered=rendered, routing=None,
                             prompt_id=None, is_fallback=True)

    def flush(self, timeout: float | None = 10.0) -> FlushResult:
        """Wait (up to `timeout` s) until every queued item is sent, spooled or dropped. The
        result counts what was delivered, rejected, spooled, dropped since the previous flush and
        what is still queued; it is true only when everything was delivered."""
        return self.batcher.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> FlushResult:
        """Flush within `timeout` (default: shutdown_timeout), keep the rest in the spool, stop."""
        return self.batcher.shutdown(timeout)


class Promptyard(_Core):
    """The synchronous client. `Promptyard()` reads PROMPTYARD_URL and PROMPTYARD_API_KEY.
    `client.datasets` reads and makes datasets (sdk/datasets.py)."""

    @property
    def datasets(self) -> Datasets:
        return Datasets(self._request)

    def get(self, name: str, *, version: int | None = None, label: str | None = None,
            variables: dict[str, Any] | None = None, metadata: Mapping[str, Any] | None = None,
            fallback: Any = None) -> Prompt:
        """A prompt version (by version, label, or the 'production' label / newest), rendered
        with `variables` when given; `metadata` feeds the label's routing policy."""
        return self._drive(self._get(name, version, label, variables, metadata, fallback))

    def close(self) -> None:
        self.shutdown()
        self._close_http()

    def __enter__(self) -> "Promptyard":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncPromptyard(_Core):
    """The asyncio client: `await get(...)`, `await flush()`, `await shutdown()`; log, score and
    metadata are plain calls because they never wait for anything."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._ahttp: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    def _async_http(self) -> httpx.AsyncClient:
        # An AsyncClient belongs to the event loop that created it.
        loop = asyncio.get_running_loop()
        if self._ahttp is None or self._ahttp[0] is not loop:
            self._ahttp = (loop, httpx.AsyncClient(base_url=self.base_url, headers=http.headers(self.api_key),
                                                   timeout=self.timeout))
        return self._ahttp[1]

    async def _arequest(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = await self._async_http().request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise http.unreachable(exc) from exc
        return http.check(response)

    async def get(self, name: str, *, version: int | None = None, label: str | None = None,
                  variables: dict[str, Any] | None = None, metadata: Mapping[str, Any] | None = None,
                  fallback: Any = None) -> Prompt:
        """Same as Promptyard.get; only a cache miss (or a jinja2 render) awaits the server."""
        return await self._adrive(self._get(name, version, label, variables, metadata, fallback))

    async def _adrive(self, flow: Generator[Request, Any, Prompt]) -> Prompt:
        try:
            request = next(flow)
            while True:
                method, path, kw = request
                try:
                    answer = await self._arequest(method, path, **kw)
                except Exception as exc:  # noqa: BLE001 - handed to the flow, which decides
                    request = flow.throw(exc)
                else:
                    request = flow.send(answer)
        except StopIteration as done:
            return done.value

    async def flush(self, timeout: float | None = 10.0) -> FlushResult:  # type: ignore[override]
        return await asyncio.to_thread(self.batcher.flush, timeout)

    async def shutdown(self, timeout: float | None = None) -> FlushResult:  # type: ignore[override]
        return await asyncio.to_thread(self.batcher.shutdown, timeout)

    async def aclose(self) -> None:
        await self.shutdown()
        if self._ahttp is not None:
            await self._ahttp[1].aclose()
        self._close_http()

    async def __aenter__(self) -> "AsyncPromptyard":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _shutdown_all() -> None:
    for client in list(_clients):
        client.batcher.shutdown()


def _on_stop_signal(terminating: bool) -> None:
    """SIGTERM/SIGINT: give every client that asked for it its `shutdown_timeout` (all at once,
    the senders work in parallel). When the signal will end the process, also stop the clients
    so what is left goes to the spool; otherwise only flush (the application may go on)."""
    clients = [c for c in list(_clients) if c.handle_signals]
    if not clients:
        return
    deadline = time.monotonic() + max(c.batcher.config.shutdown_timeout for c in clients)
    for client in clients:
        left = max(0.0, deadline - time.monotonic())
        if terminating:
            client.batcher.shutdown(left)
        else:
            client.batcher.flush(left)


atexit.register(_shutdown_all)
