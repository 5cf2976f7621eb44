"""Servers the SDK tests talk to besides `live` (conftest.py): a log sink that fails on demand,
and a socket that accepts connections and never answers; reading the SDK's spool."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


class _Loopback(ThreadingHTTPServer):
    """A threaded HTTP server on a loopback port, serving from its own thread until stop()."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0):
        super().__init__(("127.0.0.1", port), handler)

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Sink(_Loopback):
    """Stores request logs by client id (like the server: a replay stores nothing twice), with
    faults on demand: `fail` answers the next N posts with `fail_status`; `drop_after_store`
    stores the next N batches and then closes the connection without answering; `delay` seconds
    of sleep before each answer make it a slow server. Scores and metadata arrive in bulk
    (/api/v1/scores, /api/v1/requests/metadata) or, with `bulk` False (a server from before those
    routes: 404), one by one; `paths` lists every path posted. Any other path is proxied to
    `upstream` (the live app) when given."""

    def __init__(self, upstream: str | None = None, port: int = 0):
        super().__init__(_SinkHandler, port)
        self.upstream = upstream
        self.logs: dict[str, dict] = {}
        self.posts: list[list[str]] = []  # ids per received log batch, in order
        self.scores: list[tuple[str, dict]] = []
        self.metadata: list[tuple[str, dict]] = []
        self.fail = self.drop_after_store = 0
        self.fail_status = 500
        self.delay = 0.0
        self.reject_ids: set[str] = set()
        self.bulk = True
        self.paths: list[str] = []
        self.lock = threading.Lock()
        self.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.time() + timeout
        while len(self.logs) < count and time.time() < deadline:
            time.sleep(0.02)


class _SinkHandler(BaseHTTPRequestHandler):
    server: Sink
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._proxy(b"")

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if not self.path.startswith(("/api/v1/requests", "/api/v1/scores")):
            return self._proxy(body)
        s = self.server
        time.sleep(s.delay)
        with s.lock:
            s.paths.append(self.path)
            if self.path in BULK and not s.bulk:
                return self._answer(404, {"error": {"code": "not_found", "message": "no such route"}})
            if s.fail > 0:
                s.fail -= 1
                return self._answer(s.fail_status, {"error": {"code": "x", "message": "injected"}})
            data = json.loads(body)
            answer = self._store(data)
            if s.drop_after_store > 0:
                s.drop_after_store -= 1
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
        self._answer(200, answer)

    def _store(self, data: dict) -> dict:
        s = self.server
        parts = self.path.split("/")
        if len(parts) == 6:  # /api/v1/requests/{id}/scores|metadata
            (s.scores if parts[5] == "scores" else s.metadata).append((parts[4], data))
            return {"ok": True}
        if self.path in BULK:
            key, stored = BULK[self.path]
            errors = []
            for index, entry in enumerate(data[key]):
                if entry["request"] in s.reject_ids:
                    errors.append({"index": index, "field": f"{key}[{index}].request", "message": "refused"})
                else:
                    getattr(s, stored).append((entry["request"], stored_entry(entry)))
            return {"accepted": len(data[key]) - len(errors), "pending": 0, "errors": errors}
        items = data.get("requests", [data]) if isinstance(data, dict) else data
        s.posts.append([i["id"] for i in items])
        accepted = duplicates = 0
        errors = []
        for index, item in enumerate(items):
            if item["id"] in s.reject_ids:
                errors.append({"index": index, "field": "id", "message": "refused"})
            elif item["id"] in s.logs:
                duplicates += 1
            else:
                s.logs[item["id"]] = item
                accepted += 1
        return {"accepted": accepted, "duplicates": duplicates, "errors": errors}

    def _proxy(self, body: bytes) -> None:
        if not self.server.upstream:
            return self._answer(404, {"error": {"code": "not_found", "message": "no upstream"}})
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        r = httpx.request(self.command, self.server.upstream + self.path, content=body or None, headers=headers,
                          timeout=60)
        self._answer(r.status_code, r.json())

    def _answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


BULK = {"/api/v1/scores": ("scores", "scores"), "/api/v1/requests/metadata": ("updates", "metadata")}


def stored_entry(entry: dict) -> dict:
    """A bulk entry as the one-request route's body: a score without its request, or the metadata."""
    if "metadata" in entry:
        return entry["metadata"]
    return {k: v for k, v in entry.items() if k != "request"}


class Recorder(_Loopback):
    """A loopback HTTP server that keeps the raw bytes of every request body it gets and passes the
    request on to `upstream` (the live server), answering with its answer."""

    def __init__(self, upstream: str):
        super().__init__(_RecorderHandler)
        self.upstream = upstream
        self.bodies: list[tuple[str, bytes]] = []
        self.start()


class _RecorderHandler(BaseHTTPRequestHandler):
    server: Recorder
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if body:
            self.server.bodies.append((self.path, body))
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        r = httpx.request(self.command, self.server.upstream + self.path, content=body or None, headers=headers,
                          timeout=60)
        self.send_response(r.status_code)
        self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    do_GET = do_POST = do_PUT = _forward  # noqa: N815


class Hanging:
    """Accepts connections (the kernel's backlog does) and never reads or answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def read_spool(directory: Path) -> list[dict]:
    items = []
    for path in sorted(directory.iterdir()):
        if ".jsonl" in path.name and not path.name.startswith("."):
            items += [json.loads(line) for line in path.read_text().splitlines()]
    return items
