"""Helpers for tests that need evaluation runs: a provider connection to the fake LLM server
(tests/fakes/llm.py), a dataset, chat prompts, a run created and its items read."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from promptyard.services import datasets, evaluations, prompts, providers, versions
from promptyard.services.render_pool import engine_for
from promptyard.settings import Settings
from promptyard.store.models import EvaluationItem

ENGINE = engine_for(Settings())


def connection(database, principal, fake_llm, kind: str = "openai", model: str = "gpt-4o-mini") -> int:
    url = fake_llm.openai_base_url if kind == "openai" else fake_llm.anthropic_base_url
    with database.write() as s:
        return providers.create(s, principal, name=f"{kind}-{uuid.uuid4().hex[:6]}", kind=kind, base_url=url,
                                secret="sk-test", default_model=model).id


def dataset(database, principal, items: list[dict]) -> int:
    with database.write() as s:
        made = datasets.create(s, principal, name=f"set-{uuid.uuid4().hex[:6]}")
        datasets.add_items(s, principal, made["id"], items, message="first")
    return made["id"]


def prompt(database, principal, name: str, *templates: str, labels_: tuple[str, ...] = ()) -> int:
    """A chat prompt whose versions 1, 2, ... have one user message each."""
    with database.write() as s:
        made = prompts.create(s, principal, name=name)
        for i, text in enumerate(templates):
            spec = {"messages": [{"role": "user", "content": text}], "commit_message": f"v{i + 1}"}
            versions.publish(s, principal, made.id, spec, list(labels_) if i == 0 else None, engine=ENGINE)
    return made.id


def create(database, principal, spec: dict) -> dict:
    with database.write() as s:
        return evaluations.create(s, principal, spec, engine=ENGINE)


def run_items(database, run_id: int) -> list[EvaluationItem]:
    with database.read() as s:
        return list(s.scalars(select(EvaluationItem).where(EvaluationItem.run_id == run_id)
                              .order_by(EvaluationItem.id)))
