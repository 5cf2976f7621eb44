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
    "services": ("promptyard.web", "promptyard.sdk", "fastapi", "jinja2", "httpx", "httpx2", "httpcore2", "starlette",
                 "openai", "anthropic"),
    "sdk": ("promptyard.store", "promptyard.services", "promptyard.web", "sqlalchemy", "fastapi"),
    # The surfaces reach the database through web/context.py, never the store itself.
    "web/api": ("promptyard.web.compat", "promptyard.web.ui", "promptyard.store"),
    "web/compat": ("promptyard.web.api", "promptyard.web.ui", "promptyard.store"),
    "web/ui": ("promptyard.web.api", "promptyard.web.compat", "promptyard.store"),
}
# The one home of outbound HTTP calls (LLM providers, webhooks) is the one service that speaks HTTP; the
# one home of LLM calls is the one service that drives the providers' official clients (over outbound's).
EXEMPT = {"services/outbound.py": ("httpx2", "httpcore2"), "services/llm_calls.py": ("openai", "anthropic")}


def imports_of(path: Path, text: str | None = None) -> set[str]:
    """Every module a file imports, relative imports resolved (`from ..store import db` in
    web/x.py is promptyard.store.db), anywhere in the file (also inside functions)."""
    package = ["promptyard", *path.relative_to(SRC).parent.parts]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8") if text is None else text)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def test_layers_point_one_way():
    problems = []
    for pkg, banned in FORBIDDEN.items():
        for path in sorted((SRC / pkg).rglob("*.py")):
            for name in imports_of(path):
                allowed = EXEMPT.get(str(path.relative_to(SRC)), ())
                if any(name == b or name.startswith(b + ".") for b in banned if b not in allowed):
                    problems.append(f"{path.relative_to(SRC)} imports {name}")
    assert not problems, "\n".join(problems)


def test_the_layer_check_sees_every_import_form():
    """The check above can fail: a UI module importing the store, absolutely, relatively or as
    a module, is seen."""
    probe = SRC / "web" / "ui" / "probe.py"  # never written: its text is given
    for source in ("from promptyard.store.db import Database", "import promptyard.store.models",
                   "from ...store import db", "from promptyard import store", "def f():\n    from ...store import db"):
        found = imports_of(probe, source)
        assert any(n == "promptyard.store" or n.startswith("promptyard.store.") for n in found), (source, found)


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


def test_templates_ask_access_rules_instead_of_spelling_them():
    """Rights and protected labels have one home (domain/access.py); templates call can(...),
    can_move(...) and protected(...) instead of inspecting scopes or naming a label."""
    templates = SRC / "web" / "templates"
    found = [str(p.relative_to(templates)) for p in templates.rglob("*.html")
             if "principal.scopes" in (text := p.read_text(encoding="utf-8"))
             or "'production'" in text or '"production"' in text]
    assert found == []
