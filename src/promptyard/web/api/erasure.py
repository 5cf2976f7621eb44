"""/api/v1: erasure of logs (one, one end user's, a filter's) and the workspace's retention period
and purge (services/erasure.py). Admin scope for every change; a dry run answers with the count."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from promptyard.errors import InvalidInput
from promptyard.services import erasure
from promptyard.web.api import errors, logs, shapes
from promptyard.web.api.deps import Auth, Ctx
from promptyard.web.api.schemas import SomeText

assert logs.router  # imported first: it registers the path convertor `request_ref` used below
router = APIRouter(prefix="/api/v1", tags=["privacy"], responses=errors.READ)


class EraseIn(BaseModel):
    """Say which logs: a `filter`, or an end user by `metadata_key` and `metadata_value` (not both)."""

    filter: str | dict[str, Any] | None = Field(None, description="the search language (docs/requests.md), as text "
                                                                  "or its JSON form; an empty filter is refused")
    metadata_key: str | None = Field(None, min_length=1, max_length=200,
                                     description="the metadata key naming the end user, e.g. patient_id or user_id")
    metadata_value: StrictStr | StrictInt | StrictFloat | None = Field(
        None, description="the end user's id under that key (a number matches its text, as metadata stores it)")
    dry_run: StrictBool = Field(False, description="only count the logs that would be erased")
    expected: int | None = Field(None, ge=0, le=2**53, description="the count the preview showed: the erasure is "
                                 "refused (409) when the selection matches another number now")


class EndUserIn(BaseModel):
    metadata_key: str = Field(min_length=1, max_length=200, description="the metadata key naming the end user")
    metadata_value: StrictStr | StrictInt | StrictFloat = Field(description="the end user's id under that key")


class RetentionIn(BaseModel):
    days: int | None = Field(description="keep logs this many days (by their start time); null = until erased",
                             ge=1, le=erasure.MAX_RETENTION_DAYS)
    reason: SomeText = Field(description="required: it goes into the audit trail")


class PurgeIn(BaseModel):
    dry_run: StrictBool = Field(False, description="only count the logs past the retention period")


@router.delete("/requests/{ref:request_ref}", responses=errors.WRITE | errors.FOUND)
def erase_request(ref: str, c: Ctx, p: Auth):
    """Erase one log (by its id or number) with its scores, metadata and tags; the running totals
    and experiment sums no longer count it. Audited."""
    return shapes.plain(erasure.erase_one(c.db, p, ref))


@router.post("/requests/erase", responses=errors.WRITE)
def erase_requests(body: EraseIn, c: Ctx, p: Auth):
    """Erase every log of one end user (`metadata_key` = `metadata_value`) or every log a filter
    matches. Preview first (`dry_run`), then erase with `expected` set to the preview's count. In
    batches of 1,000 logs per transaction; one audit event says who, the filter (or the key and a
    keyed hash of the value) and the count."""
    if body.filter is not None and body.metadata_key is not None:
        raise InvalidInput("errors.privacy.send_filter_metadata_key")
    if body.metadata_key is not None:
        return erasure.erase_end_user(c.db, p, body.metadata_key, body.metadata_value, dry_run=body.dry_run,
                                      expected=body.expected)
    if body.metadata_value is not None:
        raise InvalidInput("errors.privacy.metadata_value_needs_metadata")
    return erasure.erase_by_filter(c.db, p, body.filter, dry_run=body.dry_run, expected=body.expected)


@router.post("/privacy/erasures")
def erasures_of(body: EndUserIn, c: Ctx, p: Auth):
    """Whether (and when, by whom, how many logs) one end user's logs were erased: the audit trail
    keeps a keyed hash of their id, matched here (POST: the id stays out of addresses and logs)."""
    with c.db.read() as s:
        return {"items": shapes.plain(erasure.erasures_of(s, p, body.metadata_key, body.metadata_value))}


@router.get("/privacy/retention")
def get_retention(c: Ctx, p: Auth):
    """The retention period (null: logs are kept until erased), its cutoff now, and how many logs are past it."""
    with c.db.read() as s:
        return shapes.plain(erasure.retention(s, p))


@router.put("/privacy/retention", responses=errors.WRITE)
def set_retention(body: RetentionIn, c: Ctx, p: Auth):
    """Set the retention period (admin; audited with the reason). The server's tick purges what is past it."""
    with c.db.write() as s:
        return shapes.plain(erasure.set_retention(s, p, body.days, body.reason))


@router.post("/privacy/purge", responses=errors.WRITE)
def purge(body: PurgeIn, c: Ctx, p: Auth):
    """Purge the logs past the retention period now (the server's tick does it too, a bounded
    number at a time), or with `dry_run` count them."""
    return shapes.plain(erasure.purge(c.db, p, dry_run=body.dry_run))
