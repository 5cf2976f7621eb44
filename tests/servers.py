"""A real `promptyard serve` process for end-to-end tests (SDKs, CLI, browser)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


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

    def stop(self) -> None:
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
                      login.group(2) if login else "", lines, proc)
