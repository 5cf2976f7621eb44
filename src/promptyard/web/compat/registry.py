"""Prompt templates, PromptLayer style: fetch (+ render, + A/B resolution by metadata), publish,
list. Versions, labels and routing policies are ours; only the shapes are PromptLayer's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from promptyard.domain.numbers import ascii_int
from promptyard.domain.records import Principal, Resolved
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import folders, labels, prompts, versions
from promptyard.services.render_pool import TemplateEngine, engine_for
from promptyard.web.compat import blueprints, inputs
from promptyard.web.compat.inputs import Call

router = APIRouter()
CallDep = Annotated[Call, Depends(inputs.call)]


def _resolve(s: Session, p: Principal, identifier: str, version: int | None, label: str | None,
             metadata: dict[str, str]) -> Resolved:
    """By exact name first, then by numeric template id (PromptLayer accepts both)."""
    try:
        return labels.resolve(s, p, identifier, version=version, label=label, metadata=metadata)
    except NotFound as by_name:
        number = ascii_int(identifier)
        if number is None:
            raise
        try:
            name = prompts.get(s, p, number).name
        except NotFound:
            raise by_name from None
        return labels.resolve(s, p, name, version=version, label=label, metadata=metadata)


def _selector(body: dict) -> tuple[int | None, str | None]:
    """PromptLayer: a label supersedes a version; with neither, the newest version."""
    label, version = inputs.text(body, "label"), inputs.integer(body, "version")
    if label:
        return None, label
    return version, None if version else "latest"


@router.post("/prompt-templates/{identifier:path}")
def get_template(identifier: str, call: CallDep):
    b = call.body
    version, label = _selector(b)
    metadata = inputs.string_map(b.get("metadata_filters"), "metadata_filters")
    variables = b.get("input_variables")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("errors.compat.input_variables_object")
    overrides = inputs.obj(b, "model_parameter_overrides")
    with call.c.db.read() as s:
        r = _resolve(s, call.p, identifier, version, label, metadata)
    v = r.version
    if b.get("skip_input_variable_rendering") is True:
        rendered = filled = v.template  # the SDK's cache renders locally
    else:
        filled = engine_for(call.c.settings).render(v.kind, v.template, v.template_format, variables or {},
                                                    strict=False)
        rendered = filled if variables else v.template
    provider = inputs.text(b, "provider") or v.provider
    model = inputs.text(b, "model") or v.model
    return blueprints.template_response(r.prompt, v, rendered, filled, provider, model, v.parameters | overrides,
                                        engine=engine_for(call.c.settings))


@router.get("/library-get-prompt-template")
def library_get_template(call: CallDep, prompt_name: str,
                         version: Annotated[int | None,
                                            Query(ge=1, le=inputs.MAX_ID)] = None, label: str | None = None):
    """Legacy path (dead code in SDK 1.5.16, cheap to keep for older SDKs)."""
    with call.c.db.read() as s:
        r = _resolve(s, call.p, prompt_name, None if label else version, label or (None if version else "latest"), {})
    v = r.version
    return {"id": r.prompt.id, "prompt_name": r.prompt.name, "version": v.number, "tags": list(r.prompt.tags),
            "prompt_template": blueprints.prompt_template(v.kind, v.template, v.template_format,
                                                          list(v.input_variables), engine=engine_for(call.c.settings)),
            "metadata": blueprints.metadata(v.provider, v.model, v.parameters)}


@router.post("/rest/prompt-templates")
def publish(call: CallDep):
    """The SDK sends its flat dict twice (as `prompt_template` and `prompt_version`); REST users
    send the documented nested form. Either way the content is `prompt_version.prompt_template`."""
    b = call.body
    head, body = inputs.obj(b, "prompt_template"), inputs.obj(b, "prompt_version")
    name = inputs.text(head, "prompt_name", required=True)
    spec = blueprints.to_spec(body.get("prompt_template"), body.get("metadata"), body.get("commit_message"))
    release = b.get("release_labels") or body.get("release_labels") or []
    if not isinstance(release, list) or not all(isinstance(n, str) for n in release):
        raise InvalidInput("errors.compat.release_labels_list_label")
    folder_id = inputs.integer(head, "folder_id")
    with call.c.db.write() as s:
        folder = _folder_path(s, call.p, folder_id)
        v, _ = versions.publish_by_name(s, call.p, name=name, spec=spec, folder=folder, tags=head.get("tags"),
                                        labels=release, engine=engine_for(call.c.settings))
        prompt = prompts.get(s, call.p, v.prompt_id)
    return JSONResponse({
        "id": prompt.id, "prompt_name": prompt.name, "prompt_version_id": v.id, "version_number": v.number,
        "tags": list(prompt.tags), "release_labels": list(v.labels), "commit_message": v.commit_message,
        "prompt_template": blueprints.prompt_template(v.kind, v.template, v.template_format, list(v.input_variables),
                                                      engine=engine_for(call.c.settings)),
        "metadata": blueprints.metadata(v.provider, v.model, v.parameters), "external_ids": [],
    }, status_code=201)


def _folder_path(s: Session, p: Principal, folder_id: int | None) -> str | None:
    if folder_id is None:
        return None
    path = folders.paths_by_id(s, p.workspace_id, {folder_id}).get(folder_id)
    if path is None:
        raise NotFound("errors.compat.no_folder_id", folder_id=folder_id)
    return path


@router.get("/prompt-templates")
def list_templates(call: CallDep, page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                   per_page: Annotated[int, Query(ge=1, le=100)] = 30, label: str | None = None):
    with call.c.db.read() as s:
        rows = versions.heads(s, call.p, label=label, limit=per_page + 1, offset=(page - 1) * per_page)
    more, rows = len(rows) > per_page, rows[:per_page]
    engine = engine_for(call.c.settings)
    return {"items": [_item(rec, v, engine) for rec, v in rows], "page": page, "per_page": per_page,
            "has_next": more, "has_prev": page > 1, "next_num": page + 1 if more else None,
            "prev_num": page - 1 if page > 1 else None}


def _item(rec: Any, v: Any, engine: TemplateEngine) -> dict[str, Any]:
    return {"id": rec.id, "prompt_name": rec.name, "tags": list(rec.tags), "folder_id": None,
            "version": v.number, "commit_message": v.commit_message,
            "prompt_template": blueprints.prompt_template(v.kind, v.template, v.template_format,
                                                          list(v.input_variables), engine=engine),
            "metadata": blueprints.metadata(v.provider, v.model, v.parameters),
            "parent_folder_name": rec.folder.rsplit("/", 1)[-1] if rec.folder else None,
            "full_folder_path": rec.folder}
