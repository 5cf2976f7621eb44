"""Prompts: create, rename, move, describe, tag, list and search."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from promptyard.domain import access, names
from promptyard.domain.records import LabelRecord, Principal, PromptRecord
from promptyard.errors import Conflict, NotFound
from promptyard.services import audit, folders
from promptyard.store.models import Folder, Prompt, PromptTag, PromptVersion, ReleaseLabel
from promptyard.store.types import utcnow


def records(session: Session, workspace_id: int, rows: list[Prompt]) -> list[PromptRecord]:
    """Records for several prompts with two extra queries in all (labels, folders), not N+1."""
    ids = [r.id for r in rows]
    labels: dict[int, list[LabelRecord]] = defaultdict(list)
    if ids:
        q = (select(ReleaseLabel, PromptVersion.number).join(PromptVersion, ReleaseLabel.version_id == PromptVersion.id)
             .where(ReleaseLabel.prompt_id.in_(ids)).order_by(ReleaseLabel.name))
        for label, number in session.execute(q):
            labels[label.prompt_id].append(LabelRecord(label.name, number, label.policy, label.updated_by,
                                                       label.updated_at))
    paths = folders.paths_by_id(session, workspace_id, {r.folder_id for r in rows if r.folder_id})
    return [PromptRecord(r.id, r.name, paths.get(r.folder_id) if r.folder_id else None, r.description,
                         list(r.tags or []), r.latest_version, labels[r.id], r.created_at, r.updated_at)
            for r in rows]


def load(session: Session, p: Principal, prompt_id: int, *, lock: bool = False) -> Prompt:
    q = select(Prompt).where(Prompt.workspace_id == p.workspace_id, Prompt.id == prompt_id)
    row = session.scalar(q.with_for_update() if lock else q)
    if row is None:
        raise NotFound("errors.prompts.no_prompt_id", prompt_id=prompt_id)
    return row


def load_by_name(session: Session, p: Principal, name: str, *, lock: bool = False) -> Prompt:
    q = select(Prompt).where(Prompt.workspace_id == p.workspace_id, Prompt.name == names.lookup_name(name))
    row = session.scalar(q.with_for_update() if lock else q)
    if row is None:
        raise NotFound("errors.prompts.no_prompt_named", name=name)
    return row


def get(session: Session, p: Principal, prompt_id: int) -> PromptRecord:
    access.require(p, "prompts:read")
    return records(session, p.workspace_id, [load(session, p, prompt_id)])[0]


def get_by_name(session: Session, p: Principal, name: str) -> PromptRecord:
    access.require(p, "prompts:read")
    return records(session, p.workspace_id, [load_by_name(session, p, name)])[0]


def create(session: Session, p: Principal, *, name: str, folder: str | None = None, description: str = "",
           tags: list[str] | None = None) -> PromptRecord:
    access.require(p, "write")
    name = names.prompt_name(name)
    if session.scalar(select(Prompt.id).where(Prompt.workspace_id == p.workspace_id, Prompt.name == name)):
        raise Conflict("errors.prompts.prompt_named_already_exists", name=name)
    parent = folders.ensure_path(session, p.workspace_id, folder, actor=p.actor)
    row = Prompt(workspace_id=p.workspace_id, name=name, folder_id=parent.id if parent else None,
                 description=_description(description), tags=names.tags(tags))
    session.add(row)
    session.flush()
    _sync_tags(session, row)
    audit.record(session, p.workspace_id, p.actor, "prompt.create", "prompt", row.id, {"name": name})
    return records(session, p.workspace_id, [row])[0]


def update(session: Session, p: Principal, prompt_id: int, *, name: str | None = None, folder: str | None = None,
           description: str | None = None, tags: list[str] | None = None) -> PromptRecord:
    """Rename, move (folder '' = top level), describe or re-tag a prompt."""
    access.require(p, "write")
    row = load(session, p, prompt_id, lock=True)
    changes: dict[str, object] = {}
    if name is not None and names.prompt_name(name) != row.name:
        new = names.prompt_name(name)
        if session.scalar(select(Prompt.id).where(Prompt.workspace_id == p.workspace_id, Prompt.name == new)):
            raise Conflict("errors.prompts.prompt_named_already_exists_2", new=new)
        audit.changed(session, p.workspace_id, row.name, "prompt")  # the old name stops resolving
        changes["name"], row.name = [row.name, new], new
    if folder is not None:
        parent = folders.ensure_path(session, p.workspace_id, folder, actor=p.actor)
        changes["folder"], row.folder_id = folder, parent.id if parent else None
    if description is not None:
        changes["description"], row.description = True, _description(description)
    if tags is not None:
        changes["tags"], row.tags = names.tags(tags), names.tags(tags)
        _sync_tags(session, row)
    if changes:
        row.updated_at = utcnow()
        audit.changed(session, p.workspace_id, row.name, "prompt")
        audit.record(session, p.workspace_id, p.actor, "prompt.update", "prompt", row.id, changes)
    return records(session, p.workspace_id, [row])[0]


def _description(text: object) -> str:
    if not isinstance(text, str) or len(text) > 10_000:
        from promptyard.errors import InvalidInput
        raise InvalidInput("errors.prompts.description_string_most_10")
    return text


def _sync_tags(session: Session, row: Prompt) -> None:
    session.execute(delete(PromptTag).where(PromptTag.prompt_id == row.id))
    session.add_all(PromptTag(prompt_id=row.id, tag=t, workspace_id=row.workspace_id) for t in row.tags or [])


def search(session: Session, p: Principal, *, q: str | None = None, folder: str | None = None,
           recursive: bool = True, tag: str | None = None, label: str | None = None,
           limit: int = 100, offset: int = 0) -> list[PromptRecord]:
    """Prompts by name substring, folder (with sub-folders unless recursive=False), tag, label."""
    access.require(p, "prompts:read")
    stmt = select(Prompt).where(Prompt.workspace_id == p.workspace_id)
    if q:
        stmt = stmt.where(Prompt.name.contains(q, autoescape=True))
    if folder is not None:
        stmt = _in_folder(stmt, session, p, folder, recursive)
    if tag:
        stmt = stmt.where(Prompt.id.in_(select(PromptTag.prompt_id).where(
            PromptTag.workspace_id == p.workspace_id, PromptTag.tag == tag)))
    if label:
        stmt = stmt.where(Prompt.id.in_(select(ReleaseLabel.prompt_id).where(
            ReleaseLabel.workspace_id == p.workspace_id, ReleaseLabel.name == label)))
    rows = session.scalars(stmt.order_by(Prompt.name).limit(min(max(limit, 1), 1000)).offset(max(offset, 0)))
    return records(session, p.workspace_id, list(rows))


def _in_folder(stmt, session: Session, p: Principal, folder: str, recursive: bool):  # noqa: ANN001, ANN202
    parts = names.folder_path(folder)
    if not parts:  # the top level
        return stmt if recursive else stmt.where(Prompt.folder_id.is_(None))
    path = "/".join(parts)
    sub = select(Folder.id).where(Folder.workspace_id == p.workspace_id)
    if recursive:
        sub = sub.where(or_(Folder.path == path, Folder.path.startswith(path + "/", autoescape=True)))
    else:
        sub = sub.where(Folder.path == path)
    return stmt.where(Prompt.folder_id.in_(sub))
