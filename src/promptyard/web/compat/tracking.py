"""Logging, PromptLayer style: /track-request (wrapper, run()), /log-request, /library-track-*
(prompt, metadata, score), groups. Every write goes through our request-log services, so the
rows are the same ones our API, search and UI read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from promptyard.domain.numbers import ROW_ID_MAX
from promptyard.services import groups, request_annotations, request_ingest
from promptyard.web.compat import inputs, request_logs
from promptyard.web.compat.inputs import Call

router = APIRouter()
CallDep = Annotated[Call, Depends(inputs.call)]
SOURCE = "promptlayer"


def _ok(message: str, **extra: object) -> dict:
    return {"success": True, "message": message, **extra}


@router.post("/track-request")
@router.post("/rest/track-request")
def track_request(call: CallDep):
    log = request_logs.from_track_request(call.body)
    with call.c.db.write() as s:
        rid, _ = request_ingest.ingest_one(s, call.p, log, source=SOURCE, prompt_id=inputs.integer(call.body, "prompt_id"))
    blueprint = request_logs.blueprint(log) if call.body.get("return_prompt_blueprint") else None
    return _ok("Request tracked successfully", request_id=rid, prompt_blueprint=blueprint)


@router.post("/log-request")
@router.post("/rest/log-request")
def log_request(call: CallDep):
    log = request_logs.from_log_request(call.body)
    with call.c.db.write() as s:
        rid, _ = request_ingest.ingest_one(s, call.p, log, source=SOURCE, prompt_id=inputs.integer(call.body, "prompt_id"))
    status = call.body.get("status") or "SUCCESS"
    return JSONResponse({"id": rid, "prompt_version": request_logs.blueprint(log), "status": status,
                         "error_type": call.body.get("error_type"), "error_message": call.body.get("error_message"),
                         "tags_array": log["tags"] or [], "metadata": log["metadata"]}, status_code=201)


def _request_ref(call: Call) -> str:
    return str(inputs.integer(call.body, "request_id", required=True, hi=ROW_ID_MAX))


@router.post("/library-track-prompt")
@router.post("/rest/track-prompt")
def track_prompt(call: CallDep):
    b = call.body
    version, label = inputs.integer(b, "version"), inputs.text(b, "label")
    with call.c.db.write() as s:
        request_annotations.link_prompt(s, call.p, _request_ref(call),
                                        name=inputs.text(b, "prompt_name", required=True),
                                        version=version, label=None if version else label or "latest",
                                        variables=b.get("prompt_input_variables"))
    return _ok("Prompt tracked successfully")


@router.post("/library-track-metadata")
@router.post("/rest/track-metadata")
def track_metadata(call: CallDep):
    with call.c.db.write() as s:
        request_annotations.annotate(s, call.p, _request_ref(call), request_annotations.METADATA,
                                     inputs.obj(call.body, "metadata"), grace_s=call.c.settings.pending_grace_s)
    return _ok("Metadata tracked successfully")


@router.post("/library-track-score")
@router.post("/rest/track-score")
def track_score(call: CallDep):
    """Wire field `name` (the SDK's `score_name`), sent only when given; default name 'default'.
    Re-scoring a name replaces its value."""
    score = {"name": call.body.get("name") or "default", "value": call.body.get("score")}
    with call.c.db.write() as s:
        request_annotations.annotate(s, call.p, _request_ref(call), request_annotations.SCORES, score,
                                     grace_s=call.c.settings.pending_grace_s)
    return _ok("Score tracked successfully")


@router.post("/create-group")
def create_group(call: CallDep):
    with call.c.db.write() as s:
        group_id = groups.create(s, call.p)
    return _ok("Group created", id=group_id)


@router.post("/track-group")
@router.post("/rest/track-group")
def track_group(call: CallDep):
    with call.c.db.write() as s:
        groups.attach(s, call.p, _request_ref(call), inputs.integer(call.body, "group_id", required=True))
    return _ok("Group tracked successfully")
