"""/api/v1/folders: the folder tree."""

from __future__ import annotations

from fastapi import APIRouter

from promptyard.services import folders
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, Id
from promptyard.web.api.schemas import FolderIn, FolderPatch

router = APIRouter(prefix="/api/v1/folders", tags=["folders"], responses=errors.READ)


@router.get("")
def list_folders(c: Ctx, p: Auth):
    with c.db.read() as s:
        return {"items": shapes.plain(folders.list_all(s, p))}


@router.post("", status_code=201, responses=errors.WRITE)
def create_folder(body: FolderIn, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(folders.create(s, p, path=body.path))


@router.patch("/{folder_id}", responses=errors.WRITE | errors.FOUND)
def update_folder(folder_id: Id, body: FolderPatch, c: Ctx, p: Auth):
    """Rename (`name`) and/or move (`parent`) a folder; its sub-folders and prompts follow."""
    with c.db.write() as s:
        return shapes.plain(folders.update_folder(s, p, folder_id, name=body.name, parent_path=body.parent))


@router.delete("/{folder_id}", status_code=204, responses=errors.WRITE | errors.FOUND)
def delete_folder(folder_id: Id, c: Ctx, p: Auth):
    with c.db.write() as s:
        folders.delete(s, p, folder_id)
