"""Helpers without state that test modules share (fixtures are in conftest.py): a prompt, a
published version, a request log, the CLI, the PromptLayer SDK's publish.

`client` below is anything with httpx's request methods: the in-process `api` (TestClient) or a
live server's `live.http`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

CHAT = {
    "type": "chat",
    "messages": [
        {"role": "system", "content": "あなたは薬剤師のアシスタントです。"},
        {"role": "user", "content": "{question} (patient: {patient})"},
    ],
    "model": {"provider": "openai", "name": "gpt-4o", "parameters": {"temperature": 0.2, "max_tokens": 256}},
    "commit_message": "first draft",
}
NAME = "服薬指導/返信案"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(client, name: str = NAME, version: dict = CHAT, **kw: Any) -> dict:  # noqa: ANN001
    """A new prompt with its first version (POST /api/v1/prompts)."""
    r = client.post("/api/v1/prompts", json={"name": name, "version": version, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def publish(client, name: str, content: str = "Answer briefly: {question}", *, role: str = "system",  # noqa: ANN001
            commit: str = "first", labels: list[str] | None = None, **extra: Any) -> dict:
    """A new version of `name` (the prompt made if new) with one message (POST /api/v1/publish)."""
    body = {"name": name, "messages": [{"role": role, "content": content}], "commit_message": commit,
            "labels": labels or []} | extra
    r = client.post("/api/v1/publish", json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


def log(**kw: Any) -> dict:
    """A request log as a client sends it (fixed times: 2026-11-20)."""
    base = {"id": str(uuid.uuid4()), "provider": "openai", "model": "gpt-4o",
            "input": {"messages": [{"role": "user", "content": "この薬の用量は?"}], "parameters": {"temperature": 0}},
            "output": {"text": "1日2回です。"}, "start_time": "2026-11-20T10:00:00Z",
            "end_time": "2026-11-20T10:00:01.5Z", "usage": {"input_tokens": 1000, "output_tokens": 500},
            "tags": ["beta"], "metadata": {"env": "prod", "role": "staff", "user_id": 7}}
    base.update(kw)
    return base


def ingest(client, *logs: dict) -> dict:  # noqa: ANN001
    r = client.post("/api/v1/requests", json={"requests": list(logs)})
    assert r.status_code == 200, r.text
    return r.json()


def cli(*args: str, env: dict | None = None, **kw: Any) -> subprocess.CompletedProcess:
    """`promptyard ARGS...` in a process of its own."""
    return subprocess.run([sys.executable, "-m", "promptyard.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=60, **kw)


# --- the official promptlayer SDK ------------------------------------------------------------------------------

def chat_template(system: str, user: str = "{question}") -> dict:
    return {"type": "chat", "input_variables": ["question"], "messages": [
        {"role": "system", "content": [{"type": "text", "text": system}], "template_format": "f-string",
         "input_variables": []},
        {"role": "user", "content": [{"type": "text", "text": user}], "template_format": "f-string",
         "input_variables": ["question"]}]}


def pl_publish(pl, name: str, system: str, *, labels: list[str] | None = None, provider: str = "openai",  # noqa: ANN001
               model: str = "gpt-4o-mini", commit: str = "first", parameters: dict | None = None) -> dict:
    """Publish through the PromptLayer SDK (`pl.templates.publish`), as its users do."""
    return pl.templates.publish({
        "prompt_name": name, "prompt_template": chat_template(system), "commit_message": commit,
        "metadata": {"model": {"provider": provider, "name": model,
                               "parameters": {"temperature": 0.2} if parameters is None else parameters}},
        "release_labels": labels, "tags": ["compat"]})


def ours(live, method: str, path: str, **kw: Any) -> Any:  # noqa: ANN001
    """A call to our own API on the live server, which must succeed; its JSON."""
    r = live.http.request(method, path, **kw)
    assert r.status_code < 300, (r.status_code, r.text)
    return r.json()


def upgraded(url: str) -> tuple[Any, Any]:
    """A Database at `url` migrated to head, and a principal of a workspace in it (migration tests)."""
    from promptyard.services import keys
    from promptyard.store.db import Database
    from promptyard.store.migrate import upgrade

    db = Database(url)
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, "m")
    return db, keys.system_principal(ws)
