"""A real `promptyard serve` process for end-to-end tests (SDKs, CLI, browser)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    api_key: str
    admin_email: str
    admin_password: str
    output: list[str]
    process: subprocess.Popen
    data_dir: Path = field(default=Path())

    @cached_property
    def http(self) -> httpx.Client:
        """A client of this server, authenticated with its admin key: `live.http.get("/api/v1/...")`."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30)

    @property
    def client_env(self) -> dict[str, str]:
        """The environment the CLI (and the SDK) read to reach this server."""
        return {"PROMPTYARD_URL": self.url, "PROMPTYARD_API_KEY": self.api_key}

    def stop(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(data_dir: Path, database_url: str | None = None, env: dict | None = None,
                 timeout: float = 60) -> LiveServer:
    port = free_port()
    full_env = dict(os.environ, PROMPTYARD_DATA_DIR=str(data_dir), PROMPTYARD_PORT=str(port),
                    PROMPTYARD_LOG_LEVEL="warning", **(env or {}))
    full_env.pop("PROMPTYARD_DATABASE_URL", None)
    if database_url:
        full_env["PROMPTYARD_DATABASE_URL"] = database_url
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", "serve"], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError("server exited:\n" + "".join(lines))
        lines.append(line)
        if line.strip().startswith("Log in at") or "admin API key:" in line:
            break
    text = "".join(lines)
    # Not a terminal: the first start writes the owner password and admin key to a private file
    # in the data dir and prints only its path.
    written = re.search(r"They are in (\S+) \(readable only", text)
    if written:
        text += Path(written.group(1)).read_text(encoding="utf-8")
    key = re.search(r"admin API key: (\S+)", text)
    login = re.search(r"as (\S+) with password: (\S+)", text)
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", key.group(1) if key else "", login.group(1) if login else "",
                      login.group(2) if login else "", lines, proc, data_dir)


def start_live(data_dir: Path, database=None, env: dict | None = None) -> LiveServer:  # noqa: ANN001
    """A server on the test's database: SQLite in `data_dir` (with its first-run admin login), or
    the shared PostgreSQL test database, then with an admin key in a workspace of its own."""
    url = None if database is None or database.kind == "sqlite" else database.url
    server = start_server(data_dir, url, env)
    if url:
        from tests.support import cli

        made = cli("keys", "create", "--name", "live", "--scopes", "read,write,ingest,admin",
                   "--workspace", f"live-{uuid.uuid4().hex[:8]}", "--database-url", url)
        if made.returncode != 0:
            server.stop()
            raise RuntimeError(made.stderr)
        server.api_key = made.stdout.strip().splitlines()[-1].strip()
    return server
