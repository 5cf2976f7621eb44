"""/api/v1/annotation-queues: queues of requests for people to score (services/annotation_queues.py,
docs/review.md): create one (editors), add requests, and review: the next item, a review, a skip
(reviewers named on the queue, and admins; an admin key names the member it reviews for)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from promptyard.domain.numbers import MAX_ID
from promptyard.services import annotation_queues as aq
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, Id

router = APIRouter(prefix="/api/v1/annotation-queues", tags=["annotation queues"], responses=errors.READ)

Reviewer = Annotated[int | None, Query(ge=1, le=MAX_ID, description="admin keys: the member whose review this is")]


class ScoreSpec(BaseModel):
    name: str = Field(pattern=r"^[\w.\-]{1,100}$", description="the request score it writes")
    kind: Literal["scale5", "yes_no", "numeric"] = Field("scale5", description="1-5 buttons, yes/no (1/0), or 0-100")
    rubric: str = Field("", max_length=aq.MAX_TEXT, description="Markdown shown beside the buttons")
    judge: str | None = Field(None, pattern=r"^[\w.\-]{1,100}$",
                              description="a run's queue: the run's judge (or scorer) this score is compared with")


class SourceIn(BaseModel):
    kind: Literal["filter", "dataset", "evaluation", "manual"] = "manual"
    ref: str = Field("", description="filter: the search language (docs/requests.md); dataset / evaluation: its id "
                                     "(or give `dataset` / `run`)")
    dataset: int | None = Field(None, ge=1, le=MAX_ID, strict=True, description="dataset: its id")
    version: int | None = Field(None, ge=1, le=MAX_ID, strict=True, description="dataset: the version (default the latest)")
    run: int | None = Field(None, ge=1, le=MAX_ID, strict=True, description="evaluation: the run's id")
    variants: list[Annotated[str, Field(max_length=200)] | Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=20,
        description="evaluation: only these variants (keys or prompt version numbers); empty = all")


class SamplingIn(BaseModel):
    rate: float = Field(gt=0, le=1, description="share of the logs taken per prompt version (at least one each; "
                                                 "a run's: each output with this chance, every variant at least one)")
    daily: bool = Field(False, description="filters: also sample each new day's logs (the server's tick)")


class QueueIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=aq.MAX_TEXT)
    source: SourceIn = Field(default_factory=SourceIn)
    scores: list[ScoreSpec] = Field(min_length=1, max_length=aq.MAX_SCORES)
    reviewers: list[int] = Field(default_factory=list, max_length=aq.MAX_REVIEWERS,
                                 description="member user ids (admins may review as well)")
    reviews_per_item: int = Field(1, ge=1, le=3, strict=True)
    sampling: SamplingIn | None = None
    limit: int = Field(aq.DEFAULT_ITEMS, ge=0, le=aq.MAX_ITEMS, strict=True, description="items a filter or a dataset adds at most")


class StatusIn(BaseModel):
    status: Literal["open", "closed"]


class ItemsIn(BaseModel):
    requests: list[Annotated[str, Field(strict=True)] | Annotated[int, Field(strict=True)]] = Field(min_length=1, max_length=aq.MAX_ADD, description="request ids or numbers")


class ReviewIn(BaseModel):
    values: dict[str, float | int | str] = Field(description="every score of the queue: {name: value}; yes/no as 1/0")
    comment: str = Field("", max_length=aq.MAX_TEXT)
    reviewer: int | None = Field(None, ge=1, le=MAX_ID, description="admin keys: the member whose review this is")


class SkipIn(BaseModel):
    reviewer: int | None = Field(None, ge=1, le=MAX_ID)


@router.get("")
def list_queues(c: Ctx, p: Auth):
    """Every queue of the workspace, newest first, with its waiting and done counts."""
    with c.db.read() as s:
        return {"items": shapes.plain(aq.list_queues(s, p))}


@router.post("", status_code=201, responses=errors.WRITE | errors.FOUND)
def create_queue(body: QueueIn, c: Ctx, p: Auth):
    """A new queue (editors). Its first items (`items` says how many): a filter's matches, a dataset
    version's source logs (items without one are skipped: `source.without_log`), or an evaluation run's
    outputs so far, the later ones added as the run stores them; sampled with `sampling`. Unknown
    dataset, version or run: 404."""
    with c.db.write() as s:
        return JSONResponse(shapes.plain(aq.create(s, p, body.model_dump())), status_code=201)


@router.get("/{queue_id}", responses=errors.FOUND)
def get_queue(queue_id: Id, c: Ctx, p: Auth):
    """The queue with progress per reviewer, agreement between reviewers (and, for a run's queue,
    between the run's judges and the reviewers: `judge_agreement`) and the items where reviewers differ
    (a reviewer named on the queue sees the values only of items they reviewed)."""
    with c.db.read() as s:
        return shapes.plain(aq.overview(s, p, queue_id))


@router.patch("/{queue_id}", responses=errors.FOUND | errors.WRITE)
def set_status(queue_id: Id, body: StatusIn, c: Ctx, p: Auth):
    """Close a queue (no reviews, no samples) or open it again (editors)."""
    with c.db.write() as s:
        return shapes.plain(aq.set_status(s, p, queue_id, body.status))


@router.post("/{queue_id}/items", responses=errors.FOUND | errors.WRITE)
def add_items(queue_id: Id, body: ItemsIn, c: Ctx, p: Auth):
    """Requests added to the queue (editors): {added, unknown: the refs of no request}."""
    with c.db.write() as s:
        return aq.add_items(s, p, queue_id, body.requests)


@router.get("/{queue_id}/next", responses=errors.FOUND)
def next_item(queue_id: Id, c: Ctx, p: Auth, reviewer: Reviewer = None):
    """The reviewer's next item (null when none is left) and their progress {done, skipped, total,
    position}. Other reviewers' values are hidden (`others` null) until the reviewer gave theirs."""
    with c.db.read() as s:
        return shapes.plain(aq.next_item(s, p, queue_id, reviewer=reviewer))


@router.get("/{queue_id}/items/{item_id}", responses=errors.FOUND)
def get_item(queue_id: Id, item_id: Id, c: Ctx, p: Auth, reviewer: Reviewer = None):
    """One item with its request, the reviewer's own reviews and (once given) the others'."""
    with c.db.read() as s:
        return shapes.plain(aq.item(s, p, queue_id, item_id, reviewer=reviewer))


@router.post("/{queue_id}/items/{item_id}/reviews", responses=errors.FOUND | errors.WRITE)
def review(queue_id: Id, item_id: Id, body: ReviewIn, c: Ctx, p: Auth):
    """The reviewer's values for every score (again: replaced). When the item has its reviews it
    is done and the request's scores are written (each score's mean, source human)."""
    with c.db.write() as s:
        return aq.submit(s, p, queue_id, item_id, body.values, comment=body.comment, reviewer=body.reviewer)


@router.post("/{queue_id}/items/{item_id}/skip", responses=errors.FOUND | errors.WRITE)
def skip(queue_id: Id, item_id: Id, c: Ctx, p: Auth, body: SkipIn | None = None):
    """The reviewer passes the item over; it stays waiting for the others."""
    with c.db.write() as s:
        return aq.skip(s, p, queue_id, item_id, reviewer=body.reviewer if body else None)
