"""Folders by PromptLayer's REST paths (/api/public/v2/folders): our folder tree, addressed by id
and parent id; PromptLayer's folder `entities` endpoints (bulk list/move/delete) are not served."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from promptyard.domain import names
from promptyard.domain.records import FolderRecord
from promptyard.errors import NotFound
from promptyard.services import folders
from promptyard.web.compat import inputs
from promptyard.web.compat.inputs import Call

router = APIRouter(prefix="/api/public/v2/folders")
CallDep = Annotated[Call, Depends(inputs.call)]
Id = Annotated[int, Path(ge=1, le=inputs.MAX_ID)]


def _shape(f: FolderRecord) -> dict:
    return {"success": True, "id": f.id, "name": f.name, "parent_id": f.parent_id, "path": f.path,
            "created_at": f.created_at.isoformat()}


def _parent_path(call: Call, s) -> str | None:  # noqa: ANN001
    parent_id = inputs.integer(call.body, "parent_id")
    if parent_id is None:
        return None
    path = folders.paths_by_id(s, call.p.workspace_id, {parent_id}).get(parent_id)
    if path is None:
        raise NotFound("errors.prompts.no_folder_id_2", parent_id=parent_id)
    return path


@router.post("")
def create_folder(call: CallDep):
    name = names.folder_name(inputs.text(call.body, "name", required=True))  # one level: no '/'
    with call.c.db.write() as s:
        parent = _parent_path(call, s)
        f = folders.create(s, call.p, path=f"{parent}/{name}" if parent else name)
    return _shape(f)


@router.patch("/{folder_id}")
def update_folder(folder_id: Id, call: CallDep):
    with call.c.db.write() as s:
        parent = _parent_path(call, s)
        f = folders.update_folder(s, call.p, folder_id, name=inputs.text(call.body, "name"), parent_path=parent)
    return _shape(f)


@router.get("/resolve-id")
def resolve_id(call: CallDep, path: str):
    wanted = path.strip("/")
    with call.c.db.read() as s:
        found = next((f for f in folders.list_all(s, call.p) if f.path == wanted), None)
    if found is None:
        raise NotFound("errors.prompts.no_folder_path", path=path)
    return {"success": True, "id": found.id}
