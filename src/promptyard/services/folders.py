"""The folder tree prompts live in (e.g. `experimental/` and `production/`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from promptyard.domain import access, names
from promptyard.domain.records import FolderRecord, Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import audit
from promptyard.store.models import Folder, Prompt


def _record(f: Folder) -> FolderRecord:
    return FolderRecord(f.id, f.name, f.path, f.parent_id, f.created_at)


def _get(session: Session, workspace_id: int, folder_id: int) -> Folder:
    f = session.scalar(select(Folder).where(Folder.workspace_id == workspace_id, Folder.id == folder_id))
    if f is None:
        raise NotFound("errors.prompts.no_folder_id", folder_id=folder_id)
    return f


def by_path(session: Session, workspace_id: int, path: str) -> Folder | None:
    return session.scalar(select(Folder).where(Folder.workspace_id == workspace_id, Folder.path == path))


def ensure_path(session: Session, workspace_id: int, path: str | None, *, actor: str) -> Folder | None:
    """The folder at `path`, creating missing ancestors (like mkdir -p); None for the top level."""
    parts = names.folder_path(path) if path is not None else []
    parent: Folder | None = None
    for i in range(len(parts)):
        sub = "/".join(parts[: i + 1])
        folder = by_path(session, workspace_id, sub)
        if folder is None:
            folder = Folder(workspace_id=workspace_id, parent_id=parent.id if parent else None,
                            name=parts[i], path=sub)
            session.add(folder)
            session.flush()
            audit.record(session, workspace_id, actor, "folder.create", "folder", folder.id, {"path": sub})
        parent = folder
    return parent


def create(session: Session, p: Principal, *, path: str) -> FolderRecord:
    access.require(p, "write")
    workspace_id, actor = p.workspace_id, p.actor
    parts = names.folder_path(path)
    if not parts:
        raise InvalidInput("errors.prompts.folder_path_empty")
    if by_path(session, workspace_id, "/".join(parts)):
        raise Conflict("errors.prompts.folder_already_exists", parts='/'.join(parts))
    return _record(ensure_path(session, workspace_id, path, actor=actor))


def list_all(session: Session, p: Principal) -> list[FolderRecord]:
    access.require(p, "prompts:read")
    workspace_id = p.workspace_id
    rows = session.scalars(select(Folder).where(Folder.workspace_id == workspace_id).order_by(Folder.path))
    return [_record(f) for f in rows]


def update_folder(session: Session, p: Principal, folder_id: int, *, name: str | None = None,
                  parent_path: str | None = None) -> FolderRecord:
    """Rename and/or move a folder (parent_path '' = top level); descendants follow."""
    access.require(p, "write")
    workspace_id, actor = p.workspace_id, p.actor
    folder = _get(session, workspace_id, folder_id)
    old_path = folder.path
    new_name = names.folder_name(name) if name is not None else folder.name
    if parent_path is None:
        parent_prefix = old_path.rsplit("/", 1)[0] if "/" in old_path else ""
        parent = by_path(session, workspace_id, parent_prefix) if parent_prefix else None
    else:
        parent = ensure_path(session, workspace_id, parent_path, actor=actor)
    new_path = f"{parent.path}/{new_name}" if parent else new_name
    if new_path == old_path:
        return _record(folder)
    if new_path.startswith(old_path + "/"):
        raise InvalidInput("errors.prompts.folder_cannot_moved_into")
    if by_path(session, workspace_id, new_path):
        raise Conflict("errors.prompts.folder_already_exists_2", new_path=new_path)
    folder.name, folder.parent_id, folder.path = new_name, parent.id if parent else None, new_path
    # Descendants keep their place in the tree; only their stored paths change.
    for child in session.scalars(select(Folder).where(Folder.workspace_id == workspace_id,
                                                      Folder.path.startswith(old_path + "/", autoescape=True))):
        child.path = new_path + child.path[len(old_path):]
    audit.record(session, workspace_id, actor, "folder.update", "folder", folder.id,
                 {"from": old_path, "to": new_path})
    audit.changed(session, workspace_id, "*", "folder")  # '*': every prompt's folder path may have moved
    return _record(folder)


def delete(session: Session, p: Principal, folder_id: int) -> None:
    access.require(p, "write")
    workspace_id, actor = p.workspace_id, p.actor
    folder = _get(session, workspace_id, folder_id)
    has_children = session.scalar(select(func.count()).select_from(Folder).where(Folder.parent_id == folder.id))
    has_prompts = session.scalar(select(func.count()).select_from(Prompt).where(Prompt.folder_id == folder.id))
    if has_children or has_prompts:
        raise Conflict("errors.prompts.folder_empty_prompts_folders", path=folder.path, has_prompts=has_prompts,
                       has_children=has_children)
    session.delete(folder)
    audit.record(session, workspace_id, actor, "folder.delete", "folder", folder_id, {"path": folder.path})


def paths_by_id(session: Session, workspace_id: int, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Folder.id, Folder.path).where(Folder.workspace_id == workspace_id,
                                                                Folder.id.in_(ids)))
    return {r.id: r.path for r in rows}


