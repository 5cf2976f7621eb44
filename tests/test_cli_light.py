"""The light install (`pip install promptyard`, no server extra): a process in which the server's
packages genuinely cannot be imported (an import hook refuses them, as if they were not installed).
Server commands, and bare `promptyard`, say which extra to install and exit 2; client commands work."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from promptyard.cli_help import SERVER_MODULES

pytestmark = pytest.mark.one_database

ROOT = Path(__file__).resolve().parents[1]

WITHOUT_SERVER = f"""
import sys
BLOCKED = {sorted(SERVER_MODULES)!r}
class NotInstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, NotInstalled)
"""


def light(*args: str, code: str = "from promptyard.cli import main; sys.exit(main(sys.argv[1:]))",
          tmp: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTYARD_")}
    env["PROMPTYARD_DATA_DIR"] = str(tmp / "data")
    return subprocess.run([sys.executable, "-c", WITHOUT_SERVER + code, *args], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL)


def test_the_server_packages_really_cannot_be_imported(tmp_path):
    out = light(code="import sqlalchemy", tmp=tmp_path)
    assert out.returncode == 1 and "ModuleNotFoundError: No module named 'sqlalchemy'" in out.stderr


@pytest.mark.parametrize("argv", [[], ["serve"], ["serve", "--port", "8799"], ["db", "upgrade"], ["keys", "list"],
                                  ["keys", "create", "--name", "x"], ["users", "create", "--email", "a@b.jp",
                                                                      "--password", "long-enough-pw"]])
def test_server_commands_say_to_install_the_extra(argv, tmp_path):
    out = light(*argv, tmp=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "this command needs `pip install 'promptyard[server]'`" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert not (tmp_path / "data" / "promptyard.db").exists()


def test_client_commands_work_without_the_extra(tmp_path):
    assert light("--help", tmp=tmp_path).returncode == 0
    assert light("--version", tmp=tmp_path).stdout.startswith("promptyard ")
    assert "examples:" in light("prompts", "--help", tmp=tmp_path).stdout
    out = light("prompts", "list", "--url", "http://127.0.0.1:9", "--api-key", "py_sk_x", tmp=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr and "server]" not in out.stderr, out.stderr
    assert "could not reach the Promptyard server at http://127.0.0.1:9" in out.stderr


def test_the_blocked_modules_cover_the_server_extra():
    """Every distribution of pyproject's [server] extra provides a module in SERVER_MODULES."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["server"]
    core = {"pyyaml"}  # also a core dependency: the light install has it
    modules_of: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    for requirement in extra:
        dist = requirement.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
        if dist in core:
            continue
        assert modules_of.get(dist, set()) & SERVER_MODULES, (dist, modules_of.get(dist))
