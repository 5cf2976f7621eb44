"""Annotations of many requests in one call: POST /api/v1/scores and POST /api/v1/requests/metadata
(what the SDKs' batchers send; one request's routes stay in web/api/logs.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from promptyard.services import request_annotations as ra
from promptyard.web.api import errors, schemas
from promptyard.web.api.deps import Auth, Ctx

router = APIRouter(prefix="/api/v1", tags=["requests"], responses=errors.WRITE)

_REQUEST = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 64}, {"type": "integer", "minimum": 1}],
            "description": "the request's id (client-generated) or its number"}
_ENTRY = {"type": "object", "required": ["request"], "properties": {"request": _REQUEST}}
SCORES_BATCH = {"type": "object", "required": ["scores"], "properties": {"scores": {
    "type": "array", "minItems": 1, "items": {"allOf": [_ENTRY, schemas.SCORE]}}}}
METADATA_BATCH = {"type": "object", "required": ["updates"], "properties": {"updates": {
    "type": "array", "minItems": 1, "items": {"allOf": [_ENTRY, {"type": "object", "required": ["metadata"],
                                                                 "properties": {"metadata": schemas.METADATA_BODY}}]}}}}


class AnnotationProblem(BaseModel):
    index: int = Field(description="position of the entry in the call")
    field: str | None = None
    message: str


class AnnotationsOut(BaseModel):
    """What a call did: entries applied to stored requests, kept pending for requests not stored yet
    (applied when their log arrives), and why the others were refused."""

    accepted: int
    pending: int
    errors: list[AnnotationProblem]


_ANSWERS = {200: {"model": AnnotationsOut, "description": "applied or kept pending (some entries may be refused: "
                                                          "see errors)"},
            422: {"model": AnnotationsOut | errors.ErrorOut, "description": "no entry could be used"}}


def _many(c: Ctx, p: Auth, batch: ra.Batch, body: Any) -> JSONResponse:
    limit = ra.batch_limit(p, c.settings.max_batch, c.settings.publishable_max_batch)
    with c.db.write() as s:
        result = ra.annotate_many(s, p, batch, body, grace_s=c.settings.pending_grace_s, max_items=limit)
    status = 422 if result["errors"] and not (result["accepted"] or result["pending"]) else 200
    return JSONResponse(result, status_code=status)


@router.post("/scores", responses=_ANSWERS, openapi_extra=schemas.body(SCORES_BATCH))
def add_many_scores(c: Ctx, p: Auth, body: Annotated[Any, Body()]):
    """Scores for many requests in one transaction (up to PROMPTYARD_MAX_BATCH): {"scores": [{request,
    name, value 0-100, comment?, source?, author?}, ...]}. Re-scoring a (request, name) updates it; a
    request whose log has not arrived keeps its scores pending, as on /requests/{id}/scores."""
    return _many(c, p, ra.SCORE_BATCH, body)


@router.post("/requests/metadata", responses=_ANSWERS, openapi_extra=schemas.body(METADATA_BATCH))
def add_many_metadata(c: Ctx, p: Auth, body: Annotated[Any, Body()]):
    """Metadata for many requests in one transaction: {"updates": [{request, metadata: {key: value}}, ...]};
    keys are added or overwritten, as on /requests/{id}/metadata."""
    return _many(c, p, ra.METADATA_BATCH, body)
