"""Dataset pages: the list (and a form to make one), a dataset (its versions, a version's items page
by page with links to the logs they came from, upload, export, removing an item), making a version
from the request list's filter, and "add to dataset" from a request's page. Every step works
without JavaScript; services/datasets.py and services/dataset_files.py check rights and input."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData as StarletteFormData
from starlette.datastructures import UploadFile

from promptyard.domain import query as filters
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import dataset_files, datasets, request_reads
from promptyard.web.context import db
from promptyard.web.downloads import download
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Editor, UiUser, Viewer

router = APIRouter()
Text = Annotated[str, Query(max_length=4000)]
Number = Annotated[int | None, Query(ge=1, le=render.MAX_ID)]
PAGE = 50


def _problem(user: UiUser, exc: InvalidInput | Conflict | NotFound) -> str:
    return exc.text(user.locale)


# --- the list ------------------------------------------------------------------------------------


def _list_page(request: Request, user: UiUser, *, status: int = 200, error: str | None = None,
               form: dict | None = None) -> Response:
    with db(request).read() as s:
        found = datasets.list_all(s, user.principal)
    return render.page(request, user, "ui/datasets/list.html", status_code=status, datasets=found, error=error,
                       form=form or {"name": "", "description": ""})


@router.get("/datasets", name="datasets")
def list_page(request: Request, user: Viewer) -> Response:
    return _list_page(request, user)


@router.post("/datasets", name="dataset_create")
def create(request: Request, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = {k: str(form.get(k) or "") for k in ("name", "description")}
    try:
        with db(request).write() as s:
            made = datasets.create(s, user.principal, name=fields["name"], description=fields["description"])
    except (InvalidInput, Conflict) as exc:
        return _list_page(request, user, status=422, error=_problem(user, exc), form=fields)
    return render.redirect(request, "dataset", notice="dataset_created", dataset_id=made["id"])


# --- one dataset ---------------------------------------------------------------------------------


def _dataset_page(request: Request, user: UiUser, dataset_id: int, *, version: int | None = None, after: int = 0,
                  status: int = 200, error: str | None = None) -> Response:
    with db(request).read() as s:
        d = datasets.get(s, user.principal, dataset_id)
        page = (datasets.items(s, user.principal, dataset_id, version=version, after=after, limit=PAGE)
                if d["latest_version"] else None)
    return render.page(request, user, "ui/datasets/detail.html", status_code=status, d=d, page=page, error=error,
                       after=after)


@router.get("/datasets/{dataset_id}", name="dataset")
def dataset_page(request: Request, dataset_id: Id, user: Viewer, version: Number = None,
                 after: Annotated[int, Query(ge=0, le=render.MAX_ID)] = 0) -> Response:
    return _dataset_page(request, user, dataset_id, version=version, after=after)


async def read_upload(request: Request) -> StarletteFormData:
    """The upload form: one file (spooled by the parser, read line by line by the service) and text fields."""
    form = await request.form(max_files=1, max_fields=10)
    for key, value in form.multi_items():
        if isinstance(value, str) and ("\x00" in key or "\x00" in value):
            raise InvalidInput("errors.system.text_may_contain_nul", details={"ui_message": "error.form_nul"})
    return form


@router.post("/datasets/{dataset_id}/upload", name="dataset_upload")
def upload(request: Request, dataset_id: Id, user: Editor,
           form: Annotated[StarletteFormData, Depends(read_upload)]) -> Response:
    session.check_csrf(user, form)
    file = form.get("file")
    message = form.get("message")
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidInput("errors.datasets.file_empty", field="file")
        fmt = dataset_files.format_of(form.get("format") or None, file.filename)
        with db(request).write() as s:
            dataset_files.upload(s, user.principal, dataset_id, file.file, fmt,
                                 message=message if isinstance(message, str) else "")
    except (InvalidInput, NotFound) as exc:
        return _dataset_page(request, user, dataset_id, status=422, error=_problem(user, exc))
    return render.redirect(request, "dataset", notice="dataset_version", dataset_id=dataset_id)


@router.post("/datasets/{dataset_id}/items/{item_id}/delete", name="dataset_item_delete")
def delete_item(request: Request, dataset_id: Id, item_id: Id, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    try:
        with db(request).write() as s:
            datasets.delete_items(s, user.principal, dataset_id, [item_id], message=str(form.get("message") or ""))
    except (InvalidInput, NotFound) as exc:
        return _dataset_page(request, user, dataset_id, status=422, error=_problem(user, exc))
    return render.redirect(request, "dataset", notice="dataset_version", dataset_id=dataset_id)


@router.get("/datasets/{dataset_id}/export", name="dataset_export")
def export(request: Request, dataset_id: Id, user: Viewer, version: Number = None,
           format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "jsonl", bom: bool = False) -> Response:
    name: list[str] = []

    def chunks(s: Any) -> Any:
        filename, parts = dataset_files.export(s, user.principal, dataset_id, version, format, bom=bom)
        name.append(filename)
        return parts

    response = download(db(request).read, chunks, media_type=dataset_files.MEDIA[format], filename="dataset")
    response.headers["Content-Disposition"] = f'attachment; filename="{name[0]}"'
    return response


# --- from the request log ------------------------------------------------------------------------


def _target(s: Any, user: UiUser, form: Any) -> int:
    """The dataset a from-log form names: one chosen from the list, else a new one by name."""
    chosen = render.form_id(form.get("dataset"))
    if chosen:
        return chosen
    return datasets.create(s, user.principal, name=str(form.get("name") or ""))["id"]


def _from_page(request: Request, user: UiUser, fields: dict[str, str], *, status: int = 200,
               error: str | None = None) -> Response:
    with db(request).read() as s:
        found = datasets.list_all(s, user.principal)
    return render.page(request, user, "ui/datasets/from_log.html", status_code=status, datasets=found,
                       fields=fields, error=error, max_items=datasets.MAX_FROM_LOG)


def _fields(source: Any) -> dict[str, str]:
    names = ("q", "prompt", "version", "request", "dataset", "name", "message", "max_items", "expected")
    return {k: str(source.get(k) or "") for k in names}


@router.get("/datasets-from-log", name="dataset_from_log")
def from_log_page(request: Request, user: Editor, q: Text = "", prompt: Text = "", version: Number = None,
                  ref: Annotated[str, Query(alias="request", max_length=64)] = "") -> Response:
    """The form for the request list's filter (q, prompt, version) or for one request (`request`)."""
    fields = _fields({"q": q, "prompt": prompt, "version": version or "", "request": ref,
                      "max_items": "1000", "expected": "1"})
    return _from_page(request, user, fields)


@router.post("/datasets-from-log", name="dataset_from_log_do")
def from_log(request: Request, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = _fields(form)
    expected = bool(fields["expected"])
    try:
        with db(request).write() as s:
            ds = _target(s, user, form)
            if fields["request"]:
                datasets.from_requests(s, user.principal, ds, [fields["request"]], with_expected=expected,
                                       message=fields["message"])
            else:
                version = render.form_id(fields["version"]) if fields["prompt"] else None
                node = request_reads.scoped(filters.parse(fields["q"], ZoneInfo(user.time_zone)),
                                            fields["prompt"] or None, version)
                max_items = render.form_id(fields["max_items"]) or 0
                datasets.from_filter(s, user.principal, ds, filters.to_json(node) if node else "",
                                     max_items=max_items, with_expected=expected, message=fields["message"])
    except (InvalidInput, Conflict, NotFound) as exc:
        return _from_page(request, user, fields, status=422, error=_problem(user, exc))
    return render.redirect(request, "dataset", notice="dataset_version", dataset_id=ds)
