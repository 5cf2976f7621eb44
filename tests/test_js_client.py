"""The JavaScript client's own tests (`npm test` in clients/js), run as a user would run them alone:
they start a real server of their own (clients/js/test/live-server.js) or skip with a message."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[1] / "clients" / "js"


def _npm_test(**env: str) -> subprocess.CompletedProcess:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm (Node.js) is required for the JavaScript client tests")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTYARD_")}
    return subprocess.run([npm, "test"], cwd=JS, env=clean | env, capture_output=True, text=True, timeout=180)


def _count(word: str, out: str) -> int:
    return int(re.search(rf"^# {word} (\d+)", out, re.M).group(1))


def test_npm_test_starts_its_own_server() -> None:
    out = _npm_test(PROMPTYARD_PYTHON=sys.executable)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert _count("skipped", out.stdout) == 0 and _count("pass", out.stdout) >= 7, out.stdout[-2000:]


def test_npm_test_without_a_server_skips_the_live_tests_and_says_why() -> None:
    out = _npm_test(PROMPTYARD_PYTHON="/nonexistent/python")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "live tests skipped: no server: set PROMPTYARD_URL" in out.stdout
    assert _count("skipped", out.stdout) >= 3 and _count("fail", out.stdout) == 0


def _npm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm (Node.js) is required for the JavaScript client tests")
    return subprocess.run([npm, *args, "--no-audit", "--no-fund", "--offline"], cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def _imports(project: Path) -> str:
    script = ("const m = await import('promptyard');"
              "const { createRequire } = await import('node:module');"
              "const pkg = createRequire(process.cwd() + '/')('promptyard/package.json');"
              "console.log(typeof m.Promptyard, typeof m.find, pkg.version);")
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=project, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_documented_installs_work(tmp_path):
    """`npm install ./clients/js` and `npm pack` + installing the tarball, as docs/quickstart.md says."""
    version = json.loads((JS / "package.json").read_text())["version"]
    packed = _npm("pack", "--pack-destination", str(tmp_path), cwd=JS)
    assert packed.returncode == 0, packed.stderr
    tarball = tmp_path / f"promptyard-{version}.tgz"
    assert tarball.exists()
    listed = subprocess.run(["tar", "tzf", str(tarball)], capture_output=True, text=True).stdout.split()
    assert sorted(listed) == ["package/README.md", "package/package.json", "package/src/index.js",
                              "package/src/redaction.js"]
    for source in (str(tarball), str(JS)):
        app = tmp_path / f"app-{len(source)}"
        app.mkdir()
        (app / "package.json").write_text('{"name": "app", "private": true, "type": "module"}')
        done = _npm("install", source, cwd=app)
        assert done.returncode == 0, done.stderr
        assert _imports(app) == f"function function {version}"
