"""The JavaScript client's own tests (`node --test` in clients/js) against a real server process."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import start_server

JS = Path(__file__).resolve().parents[1] / "clients" / "js"


def test_js_client(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required for the JavaScript client tests")
    server = start_server(tmp_path)
    try:
        env = dict(os.environ, PROMPTYARD_URL=server.url, PROMPTYARD_API_KEY=server.api_key)
        out = subprocess.run([node, "--test"], cwd=JS, env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
