"""Immutable prompt versions: publish (numbered 1, 2, 3 ... under a row lock), read, diff."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access, diff, names
from promptyard.domain.records import Principal, VersionRecord
from promptyard.domain.versions import VersionSpec, as_text, parse_spec
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import audit, prompts
from promptyard.services.render_pool import TemplateEngine, engine_for
from promptyard.settings import Settings
from promptyard.store.models import Prompt, PromptVersion, ReleaseLabel
from promptyard.store.types import utcnow


def record(v: PromptVersion, prompt_name: str, labels: list[str] | None = None) -> VersionRecord:
    return VersionRecord(v.id, v.prompt_id, prompt_name, v.number, v.kind, v.template, v.template_format,
                         list(v.input_variables), v.provider, v.model, dict(v.parameters or {}), v.commit_message,
                         v.author, v.created_at, labels or [])


def parse(p: Principal, spec: dict[str, Any], engine: TemplateEngine | None = None) -> VersionSpec:
    """A version checked for publishing (InvalidInput naming the problem). Jinja2 templates are
    compiled in a bounded worker process (render_pool); call this before the transaction's first
    query, as `publish` does: a slow compile must not hold the write lock (SQLite)."""
    access.require(p, "write")  # only writers get to make the server compile templates
    return parse_spec(spec, (engine or engine_for(Settings())).check)  # no engine given: the default limits


def publish(session: Session, p: Principal, prompt_id: int, spec: dict[str, Any] | VersionSpec,
            labels: list[str] | None = None, *, engine: TemplateEngine | None = None) -> tuple[VersionRecord, bool]:
    """A new version; (version, True). Identical content to the newest version is a no-op:
    (newest version, False). `labels` are moved to the new version (reason: the commit message).
    `engine` holds the server's template limits (default ones without it)."""
    access.require(p, "write")
    parsed = spec if isinstance(spec, VersionSpec) else parse(p, spec, engine)
    label_names = [names.label_name(n) for n in (labels or [])]
    # The row lock serialises concurrent publishers of one prompt on PostgreSQL; on SQLite the
    # BEGIN IMMEDIATE write transaction already does.
    prompt = prompts.load(session, p, prompt_id, lock=True)
    newest = _load(session, prompt.id, prompt.latest_version) if prompt.latest_version else None
    if newest is not None and newest.content_hash == parsed.content_hash:
        created, version = False, newest
    else:
        version = PromptVersion(
            workspace_id=p.workspace_id, prompt_id=prompt.id, number=prompt.latest_version + 1, kind=parsed.kind,
            template=parsed.template, template_format=parsed.template_format,
            input_variables=parsed.input_variables, provider=parsed.provider, model=parsed.model,
            parameters=parsed.parameters, commit_message=parsed.commit_message, author=p.actor,
            content_hash=parsed.content_hash)
        session.add(version)
        prompt.latest_version, prompt.updated_at = version.number, utcnow()
        session.flush()
        created = True
        audit.record(session, p.workspace_id, p.actor, "prompt.publish", "prompt", prompt.id,
                     {"version": version.number, "commit_message": parsed.commit_message})
        audit.changed(session, p.workspace_id, prompt.name, "version")
    if label_names:
        from promptyard.services import labels as label_service

        for name in label_names:
            label_service.move(session, p, prompt.id, name, version=version.number,
                               reason=parsed.commit_message)
    return record(version, prompt.name, label_names_of(session, version)), created


def publish_by_name(session: Session, p: Principal, *, name: str, spec: dict[str, Any], folder: str | None = None,
                    description: str | None = None, tags: list[str] | None = None,
                    labels: list[str] | None = None, engine: TemplateEngine | None = None,
                    ) -> tuple[VersionRecord, bool]:
    """Publish to the prompt called `name`, creating it first if needed (prompts as code)."""
    access.require(p, "write")
    name = names.prompt_name(name)
    parsed = parse(p, spec, engine)  # refuse a bad version before creating anything
    prompt_id = session.scalar(select(Prompt.id).where(Prompt.workspace_id == p.workspace_id, Prompt.name == name))
    if prompt_id is None:
        prompt_id = prompts.create(session, p, name=name, folder=folder, description=description or "",
                                   tags=tags).id
    elif folder is not None or description is not None or tags is not None:
        prompts.update(session, p, prompt_id, folder=folder, description=description, tags=tags)
    return publish(session, p, prompt_id, parsed, labels)


def _load(session: Session, prompt_id: int, number: int) -> PromptVersion | None:
    return session.scalar(select(PromptVersion).where(PromptVersion.prompt_id == prompt_id,
                                                      PromptVersion.number == number))


def label_names_of(session: Session, version: PromptVersion) -> list[str]:
    return list(session.scalars(select(ReleaseLabel.name).where(ReleaseLabel.version_id == version.id)
                                .order_by(ReleaseLabel.name)))


def get(session: Session, p: Principal, prompt_id: int, number: int) -> VersionRecord:
    access.require(p, "prompts:read")
    prompt = prompts.load(session, p, prompt_id)
    v = by_number_or_404(session, prompt, number)
    return record(v, prompt.name, label_names_of(session, v))


def list_versions(session: Session, p: Principal, prompt_id: int) -> list[VersionRecord]:
    access.require(p, "prompts:read")
    prompt = prompts.load(session, p, prompt_id)
    labels: dict[int, list[str]] = {}
    for name, vid in session.execute(select(ReleaseLabel.name, ReleaseLabel.version_id)
                                     .where(ReleaseLabel.prompt_id == prompt.id).order_by(ReleaseLabel.name)):
        labels.setdefault(vid, []).append(name)
    rows = session.scalars(select(PromptVersion).where(PromptVersion.prompt_id == prompt.id)
                           .order_by(PromptVersion.number.desc()))
    return [record(v, prompt.name, labels.get(v.id, [])) for v in rows]


def compare(session: Session, p: Principal, prompt_id: int, left: int, right: int) -> dict[str, Any]:
    """Side-by-side rows for the template text, and the model/parameter changes."""
    a, b = get(session, p, prompt_id, left), get(session, p, prompt_id, right)
    ta, tb = as_text(a.kind, a.template), as_text(b.kind, b.template)

    def flat(v: VersionRecord) -> dict[str, Any]:
        base = {"type": v.kind, "template_format": v.template_format, "provider": v.provider, "model": v.model}
        return base | {f"parameters.{k}": val for k, val in v.parameters.items()}

    return {
        "prompt": a.prompt_name, "from": a, "to": b,
        "rows": diff.text_rows(ta, tb),
        "unified": diff.unified(ta, tb, f"v{a.number}", f"v{b.number}"),
        "changes": diff.field_changes(flat(a), flat(b)),
    }


def by_number_or_404(session: Session, prompt: Prompt, number: int) -> PromptVersion:
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise InvalidInput("errors.versions.version_whole_number_least", number=number)
    v = _load(session, prompt.id, number)
    if v is None:
        raise NotFound("errors.versions.prompt_has_no_version", name=prompt.name, number=number,
                       latest_version=prompt.latest_version)
    return v


def heads(session: Session, p: Principal, *, label: str | None = None, limit: int = 30,
          offset: int = 0) -> list[tuple[Any, VersionRecord]]:
    """(prompt record, version) per prompt, by name: the newest version, or with `label` the
    version the label points at (a routing label's base version); prompts without it are left out.
    One query for the versions of the whole page (used by the PromptLayer template list)."""
    from sqlalchemy import and_, or_

    page = [r for r in prompts.search(session, p, label=label, limit=limit, offset=offset) if r.latest_version]
    wanted = {}
    for r in page:
        number = next((lab.version for lab in r.labels if lab.name == label), None) if label else r.latest_version
        if number:
            wanted[r.id] = number
    if not wanted:
        return []
    rows = session.scalars(select(PromptVersion).where(or_(*(
        and_(PromptVersion.prompt_id == pid, PromptVersion.number == n) for pid, n in wanted.items()))))
    by_prompt = {v.prompt_id: v for v in rows}
    return [(r, record(by_prompt[r.id], r.name)) for r in page if r.id in by_prompt]
