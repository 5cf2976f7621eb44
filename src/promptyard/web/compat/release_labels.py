"""Release labels by PromptLayer's REST paths. Moves go through our label service, so each is
recorded in the label history (who, when, from, to) like a move in our UI; the protected
'production' label still needs the admin scope and a `reason`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from promptyard.domain.numbers import ascii_int
from promptyard.errors import NotFound
from promptyard.services import labels, prompts
from promptyard.web.compat import inputs
from promptyard.web.compat.inputs import Call

router = APIRouter()
CallDep = Annotated[Call, Depends(inputs.call)]
Id = Annotated[int, Path(ge=1, le=inputs.MAX_ID)]


def _shape(ref: labels.LabelRef) -> dict:
    return {"id": ref.id, "name": ref.name, "prompt_id": ref.prompt_id, "prompt_version_id": ref.version_id,
            "prompt_version_number": ref.version, "created_at": ref.created_at.isoformat()}


@router.get("/prompt-templates/{identifier:path}/labels")
def list_labels(identifier: str, call: CallDep):
    with call.c.db.read() as s:
        try:
            prompt_id = prompts.get_by_name(s, call.p, identifier).id
        except NotFound:
            prompt_id = ascii_int(identifier)
            if prompt_id is None:
                raise
        found = labels.refs(s, call.p, prompt_id)
    return {"release_labels": [{"release_label": r.name, "release_label_id": r.id, "prompt_version_id": r.version_id,
                                "prompt_version_number": r.version} for r in found]}


@router.post("/prompts/{prompt_id}/label")
def create_label(prompt_id: Id, call: CallDep):
    name = inputs.text(call.body, "name", required=True)
    version = inputs.integer(call.body, "prompt_version_number", required=True)
    with call.c.db.write() as s:
        labels.move(s, call.p, prompt_id, name, version=version, reason=call.body.get("reason") or "")
        ref = labels.refs(s, call.p, prompt_id, name)[0]
    return _shape(ref)


@router.patch("/prompt-labels/{label_id}")
def move_label(label_id: Id, call: CallDep):
    version = inputs.integer(call.body, "prompt_version_number", required=True)
    with call.c.db.write() as s:
        ref = labels.ref_by_id(s, call.p, label_id)
        labels.move(s, call.p, ref.prompt_id, ref.name, version=version, reason=call.body.get("reason") or "")
        ref = labels.ref_by_id(s, call.p, label_id)
    return _shape(ref)


@router.delete("/prompt-labels/{label_id}", status_code=204)
def delete_label(label_id: Id, call: CallDep, reason: str = ""):
    with call.c.db.write() as s:
        ref = labels.ref_by_id(s, call.p, label_id)
        labels.delete(s, call.p, ref.prompt_id, ref.name, reason=reason or call.body.get("reason") or "")
    return Response(status_code=204)
