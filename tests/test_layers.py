"""Architecture rules of DESIGN.md, checked by walking imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "promptyard"

# package -> packages it must never import
FORBIDDEN = {
    "domain": ("promptyard.store", "promptyard.services", "promptyard.web", "promptyard.sdk", "sqlalchemy",
               "fastapi", "httpx"),
    "store": ("promptyard.services", "promptyard.web", "promptyard.sdk", "fastapi"),
    "services": ("promptyard.web", "promptyard.sdk", "fastapi", "jinja2", "httpx", "starlette"),
    "sdk": ("promptyard.store", "promptyard.services", "promptyard.web", "sqlalchemy", "fastapi"),
    "web/api": ("promptyard.web.compat", "promptyard.web.ui"),
    "web/compat": ("promptyard.web.api", "promptyard.web.ui"),
    "web/ui": ("promptyard.web.api", "promptyard.web.compat"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_layers_point_one_way():
    problems = []
    for pkg, banned in FORBIDDEN.items():
        for path in sorted((SRC / pkg).rglob("*.py")):
            for name in imports_of(path):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    problems.append(f"{path.relative_to(SRC)} imports {name}")
    assert not problems, "\n".join(problems)


def test_only_settings_reads_the_environment():
    readers = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
               if "os.environ" in p.read_text(encoding="utf-8") or "getenv(" in p.read_text(encoding="utf-8")]
    assert readers == ["settings.py"], readers


def test_sdk_imports_without_server_dependencies():
    code = ("import sys, promptyard; "
            "bad = [m for m in ('sqlalchemy', 'fastapi', 'starlette', 'alembic', 'jinja2') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
