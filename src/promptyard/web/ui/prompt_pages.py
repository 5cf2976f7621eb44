"""Registry pages: the folder tree and prompt list, creating a prompt, a prompt with its versions,
and the side-by-side diff of two versions. (The editor is in editor_pages, labels in label_pages.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from promptyard import catalogue
from promptyard.domain import diff, templates
from promptyard.domain.records import FolderRecord
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import folders, prompts, versions
from promptyard.services.render_pool import engine_for
from promptyard.web.context import ctx, db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Editor, Viewer
from promptyard.web.ui.version_form import VersionForm

router = APIRouter()

Text = Annotated[str, Query(max_length=1000)]
OptNumber = Annotated[int | None, Query(ge=1, le=render.MAX_ID)]


def folder_tree(rows: list[FolderRecord]) -> list[dict[str, Any]]:
    """Nested nodes {name, path, children} from the flat, path-sorted folder list."""
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for f in rows:
        node = nodes[f.path] = {"name": f.name, "path": f.path, "children": []}
        parent = f.path.rsplit("/", 1)[0] if "/" in f.path else None
        (nodes[parent]["children"] if parent in nodes else roots).append(node)
    return roots


@router.get("/prompts", name="prompts")
def prompt_list(request: Request, user: Viewer, folder: Text = "", q: Text = "") -> Response:
    with db(request).read() as s:
        tree = folder_tree(folders.list_all(s, user.principal))
        rows = prompts.search(s, user.principal, q=q or None, folder=folder or None, limit=1000)
    return render.page(request, user, "ui/prompts/list.html", tree=tree, prompts=rows, folder=folder, q=q)


def _new_form(request: Request, user: session.UiUser, form: VersionForm, *, status: int = 200, error: str | None = None,
              fields: dict[str, str] | None = None) -> Response:
    with db(request).read() as s:
        paths = [f.path for f in folders.list_all(s, user.principal)]
    return render.page(request, user, "ui/prompts/new.html", status_code=status, vf=form, error=error,
                       fields=fields or {"name": "", "folder": "", "description": ""}, folder_paths=paths,
                       variables=form.variables(engine_for(ctx(request).settings)), roles=templates.ROLES,
                       formats=templates.FORMATS)


@router.get("/prompts/new", name="prompt_new")
def prompt_new(request: Request, user: Editor, folder: Text = "") -> Response:
    return _new_form(request, user,
                     VersionForm(commit_message=catalogue.translate(user.locale, "editor.first_commit_message")),
                     fields={"name": "", "folder": folder, "description": ""})


@router.post("/prompts/new", name="prompt_create")
def prompt_create(request: Request, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    vf = VersionForm.from_form(form)
    fields = {k: str(form.get(k) or "").strip() for k in ("name", "folder", "description")}
    if form.get("add_message"):
        vf.add_message()
        return _new_form(request, user, vf, fields=fields)
    try:
        first = versions.parse(user.principal, vf.spec(), engine_for(ctx(request).settings))  # before the lock
        with db(request).write() as s:
            # As the API does: the prompt and its first version in one transaction.
            rec = prompts.create(s, user.principal, name=fields["name"], folder=fields["folder"] or None,
                                 description=fields["description"])
            versions.publish(s, user.principal, rec.id, first)
    except (InvalidInput, Conflict) as exc:
        return _new_form(request, user, vf, status=exc.status, error=exc, fields=fields)
    return render.redirect(request, "prompt", notice="prompt_created", prompt_id=rec.id)


def _detail(request: Request, user: session.UiUser, prompt_id: int, v: int | None = None, *, status: int = 200,
            error: str | None = None, fields: dict[str, str] | None = None) -> Response:
    with db(request).read() as s:
        prompt = prompts.get(s, user.principal, prompt_id)
        history = versions.list_versions(s, user.principal, prompt_id)
    shown = next((x for x in history if x.number == v), None) if v else (history[0] if history else None)
    if v and shown is None:
        raise NotFound("errors.versions.prompt_has_no_version_2", name=prompt.name, v=v)
    fields = fields or {"name": prompt.name, "folder": prompt.folder or "", "description": prompt.description,
                        "tags": ", ".join(prompt.tags)}
    return render.page(request, user, "ui/prompts/detail.html", status_code=status, prompt=prompt,
                       versions=history, shown=shown, error=error, fields=fields)


@router.get("/prompts/{prompt_id}", name="prompt")
def prompt_page(request: Request, prompt_id: Id, user: Viewer, v: OptNumber = None) -> Response:
    return _detail(request, user, prompt_id, v)


@router.post("/prompts/{prompt_id}/details", name="prompt_details")
def prompt_details(request: Request, prompt_id: Id, user: Editor, form: FormData) -> Response:
    """Rename, move to another folder ('' = top level), describe, tag."""
    session.check_csrf(user, form)
    fields = {k: str(form.get(k) or "").strip() for k in ("name", "folder", "description", "tags")}
    tags = [t.strip() for t in fields["tags"].split(",") if t.strip()]
    try:
        with db(request).write() as s:
            prompts.update(s, user.principal, prompt_id, name=fields["name"], folder=fields["folder"],
                           description=fields["description"], tags=tags)
    except (InvalidInput, Conflict) as exc:
        return _detail(request, user, prompt_id, status=exc.status, error=exc, fields=fields)
    return render.redirect(request, "prompt", notice="details_saved", prompt_id=prompt_id)


@router.get("/prompts/{prompt_id}/diff", name="prompt_diff")
def prompt_diff(request: Request, prompt_id: Id, user: Viewer, left: OptNumber = None,
                right: OptNumber = None) -> Response:
    with db(request).read() as s:
        prompt = prompts.get(s, user.principal, prompt_id)
        right = right or prompt.latest_version
        left = left or max(right - 1, 1)
        d = versions.compare(s, user.principal, prompt_id, left, right) if prompt.latest_version else None
    return render.page(request, user, "ui/prompts/diff.html", prompt=prompt, d=d, left=left, right=right,
                       segments=diff.segments)
