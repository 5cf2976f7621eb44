"""/api/v1/datasets: versioned datasets of items for evaluation runs (services/datasets.py,
services/dataset_files.py). Viewers read; editors (the `write` scope) make new versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr

from promptyard.domain import datasets as dd
from promptyard.domain.numbers import MAX_ID
from promptyard.errors import InvalidInput
from promptyard.services import dataset_files, datasets
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, Id
from promptyard.web.downloads import download

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"], responses=errors.READ)

Message = Annotated[str, Field(max_length=10_000, description="why this version was made")]


class DatasetIn(BaseModel):
    name: str = Field(min_length=1, max_length=dd.MAX_NAME, description="any script; no '/'")
    description: str = Field("", max_length=10_000)


class ItemIn(BaseModel):
    input: dict[str, Any] | list[dict[str, Any]] = Field(
        description="the prompt's variables {name: value}, or a list of chat messages [{role, content}]")
    expected: str | None = Field(None, description="the expected output (text)")
    metadata: dict[str, StrictStr | StrictInt | float | StrictBool] = Field(
        default_factory=dict, description="text values; numbers and booleans become text")


class ItemsIn(BaseModel):
    items: list[ItemIn] = Field(min_length=1)
    message: Message = ""


class ItemPatch(BaseModel):
    input: dict[str, Any] | list[dict[str, Any]] | None = None
    expected: str | None = None
    metadata: dict[str, StrictStr | StrictInt | float | StrictBool] | None = None
    message: Message = ""


class DeleteIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**53)]] = Field(min_length=1, description="item ids of the latest version")
    message: Message = ""


class FromLogIn(BaseModel):
    """Say which logs: a `filter` (the search language, as text or its JSON form) or `requests`
    (their ids or numbers), not both."""

    filter: str | dict[str, Any] | None = None
    requests: list[StrictStr | Annotated[int, Field(ge=1, le=2**53)]] | None = Field(
        None, max_length=datasets.MAX_FROM_LOG)
    max_items: int = Field(datasets.MAX_FROM_LOG, ge=1, le=datasets.MAX_FROM_LOG,
                           description="a filter takes at most this many logs, the newest first")
    expected: StrictBool = Field(True, description="each log's output becomes the item's expected output")
    message: Message = ""


def _plain_items(items: list[ItemIn]) -> list[dict[str, Any]]:
    return [i.model_dump() for i in items]


@router.get("")
def list_datasets(c: Ctx, p: Auth, name: Annotated[str | None, Query(max_length=dd.MAX_NAME)] = None):
    """Every dataset of the workspace by name (`name`: just that one, to find its id)."""
    with c.db.read() as s:
        return {"items": shapes.plain(datasets.list_all(s, p, name=name))}


@router.post("", status_code=201, responses=errors.WRITE)
def create_dataset(body: DatasetIn, c: Ctx, p: Auth):
    """A new dataset, with no version until items are added."""
    with c.db.write() as s:
        return shapes.plain(datasets.create(s, p, name=body.name, description=body.description))


@router.get("/{dataset_id}", responses=errors.FOUND)
def get_dataset(dataset_id: Id, c: Ctx, p: Auth):
    """The dataset and its versions, newest first."""
    with c.db.read() as s:
        return shapes.plain(datasets.get(s, p, dataset_id))


@router.get("/{dataset_id}/items", responses=errors.FOUND)
def list_items(dataset_id: Id, c: Ctx, p: Auth, version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
               after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
               limit: Annotated[int, Query(ge=1, le=datasets.MAX_PAGE)] = datasets.PAGE):
    """One page of a version's items (default: the latest) in order; `next` is the `after` of the
    next page (null on the last)."""
    with c.db.read() as s:
        return shapes.plain(datasets.items(s, p, dataset_id, version=version, after=after, limit=limit))


@router.post("/{dataset_id}/items", status_code=201, responses=errors.WRITE | errors.FOUND)
def add_items(dataset_id: Id, body: ItemsIn, c: Ctx, p: Auth):
    """A new version with these items added at the end (redacted by the workspace's policy)."""
    with c.db.write() as s:
        return shapes.plain(datasets.add_items(s, p, dataset_id, _plain_items(body.items), message=body.message))


@router.patch("/{dataset_id}/items/{item_id}", responses=errors.WRITE | errors.FOUND)
def update_item(dataset_id: Id, item_id: Id, body: ItemPatch, c: Ctx, p: Auth):
    """A new version in which this item (of the latest version) has the fields given."""
    changes = body.model_dump(exclude_unset=True)
    message = changes.pop("message", "")
    with c.db.write() as s:
        return shapes.plain(datasets.update_item(s, p, dataset_id, item_id, changes, message=message))


@router.post("/{dataset_id}/items/delete", responses=errors.WRITE | errors.FOUND)
def delete_items(dataset_id: Id, body: DeleteIn, c: Ctx, p: Auth):
    """A new version without these items."""
    with c.db.write() as s:
        return shapes.plain(datasets.delete_items(s, p, dataset_id, body.ids, message=body.message))


@router.post("/{dataset_id}/from-log", status_code=201, responses=errors.WRITE | errors.FOUND)
def from_log(dataset_id: Id, body: FromLogIn, c: Ctx, p: Auth):
    """A new version with logs added: those a filter matches (newest first, at most `max_items`;
    `truncated` says more matched) or the requests named. Each item takes the log's prompt
    variables (else its messages) as input, its output as expected, its metadata, and a link to
    it; erasing the log erases the item."""
    with c.db.write() as s:
        if (body.filter is None) == (body.requests is None):
            raise InvalidInput("errors.datasets.from_log_one_of")
        if body.requests is not None:
            return shapes.plain(datasets.from_requests(s, p, dataset_id, body.requests, with_expected=body.expected,
                                                       message=body.message))
        return shapes.plain(datasets.from_filter(s, p, dataset_id, body.filter, max_items=body.max_items,
                                                 with_expected=body.expected, message=body.message))


@router.post("/{dataset_id}/upload", status_code=201, responses=errors.WRITE | errors.FOUND)
def upload(dataset_id: Id, c: Ctx, p: Auth, file: Annotated[UploadFile, File(description="CSV or JSONL, UTF-8")],
           format: Annotated[str | None, Form(pattern="^(csv|jsonl)$", description="default: the file name's "
                                              "extension")] = None,
           message: Annotated[str, Form(max_length=10_000)] = ""):
    """A new version with the file's rows added (docs/datasets.md has the shapes). A bad row is a 422
    naming its line and column (`details`: {line, column, field}) and nothing is stored."""
    fmt = dataset_files.format_of(format, file.filename)
    with c.db.write() as s:
        return shapes.plain(dataset_files.upload(s, p, dataset_id, file.file, fmt, message=message))


@router.get("/{dataset_id}/export", response_class=Response, responses=errors.FOUND | {200: {
    "description": "the version's items, one JSON object per line (jsonl) or CSV with a header row",
    "content": {dataset_files.MEDIA["jsonl"]: {}, dataset_files.MEDIA["csv"].split(";")[0]: {}}}})
def export(dataset_id: Id, c: Ctx, p: Auth, version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
           format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "jsonl",
           bom: Annotated[bool, Query(description="CSV: UTF-8 with a byte order mark, for Excel")] = False):
    """A version (default: the latest) as a file, streamed."""
    name: list[str] = []

    def chunks(s: Any) -> Any:
        filename, parts = dataset_files.export(s, p, dataset_id, version, format, bom=bom)
        name.append(filename)
        return parts

    response = download(c.db.read, chunks, media_type=dataset_files.MEDIA[format], filename="dataset")
    response.headers["Content-Disposition"] = f'attachment; filename="{name[0]}"'
    return response
