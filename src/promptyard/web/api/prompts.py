"""/api/v1: prompts, versions, labels, diff, fetch and the SDKs' bundle.

Prompts are addressed by id in paths; names (which may contain '/') are only ever the last
path segment (`/by-name/{name}`, `/fetch/{name}`, `/prompt-bundle/{name}`) so no name can be
mistaken for a sub-path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from promptyard.services import experiments, labels, prompts, versions
from promptyard.services.render_pool import engine_for
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import MAX_ID, Auth, Ctx, FolderQuery, Id, LabelName, Number, OptNumber, PromptName
from promptyard.web.api.schemas import FetchIn, LabelIn, PromptIn, PromptPatch, PublishIn, VersionIn

router = APIRouter(prefix="/api/v1", tags=["prompts"], responses=errors.READ)


@router.get("/prompts")
def list_prompts(c: Ctx, p: Auth, q: str | None = None, folder: FolderQuery = None, tag: str | None = None,
                 label: str | None = None, recursive: bool = True,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0):
    with c.db.read() as s:
        rows = prompts.search(s, p, q=q, folder=folder, recursive=recursive, tag=tag, label=label,
                              limit=limit, offset=offset)
    return {"items": shapes.plain(rows)}


@router.post("/prompts", status_code=201, responses=errors.WRITE)
def create_prompt(body: PromptIn, c: Ctx, p: Auth):
    first = versions.parse(p, body.version.spec(), engine_for(c.settings)) if body.version else None
    with c.db.write() as s:
        rec = prompts.create(s, p, name=body.name, folder=body.folder, description=body.description, tags=body.tags)
        if first:
            versions.publish(s, p, rec.id, first, body.version.labels)
            rec = prompts.get(s, p, rec.id)
    return shapes.plain(rec)


@router.post("/publish", responses={201: {"description": "a new version"},
                                    200: {"description": "identical to the newest version: nothing created"}}
              | errors.WRITE)
def publish(body: PublishIn, c: Ctx, p: Auth):
    """Publish a version to the prompt named `name`, creating the prompt if needed."""
    with c.db.write() as s:
        v, created = versions.publish_by_name(s, p, name=body.name, spec=body.spec() | {"name": None},
                                              folder=body.folder, description=body.description, tags=body.tags,
                                              labels=body.labels, engine=engine_for(c.settings))
    return JSONResponse(shapes.version(v) | {"created": created}, status_code=201 if created else 200)


@router.get("/prompts/by-name/{name:path}", responses=errors.FOUND)
def get_prompt_by_name(name: PromptName, c: Ctx, p: Auth):
    with c.db.read() as s:
        return shapes.plain(prompts.get_by_name(s, p, name))


@router.get("/prompts/{prompt_id}", responses=errors.FOUND)
def get_prompt(prompt_id: Id, c: Ctx, p: Auth):
    with c.db.read() as s:
        return shapes.plain(prompts.get(s, p, prompt_id))


@router.patch("/prompts/{prompt_id}", responses=errors.WRITE | errors.FOUND)
def update_prompt(prompt_id: Id, body: PromptPatch, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(prompts.update(s, p, prompt_id, name=body.name, folder=body.folder,
                                           description=body.description, tags=body.tags))


@router.get("/prompts/{prompt_id}/versions", responses=errors.FOUND)
def list_versions(prompt_id: Id, c: Ctx, p: Auth):
    with c.db.read() as s:
        return {"items": [shapes.version(v) for v in versions.list_versions(s, p, prompt_id)]}


@router.post("/prompts/{prompt_id}/versions", responses={201: {"description": "a new version"},
                                                         200: {"description": "identical content: no new version"}}
              | errors.WRITE | errors.FOUND)
def publish_version(prompt_id: Id, body: VersionIn, c: Ctx, p: Auth):
    with c.db.write() as s:
        v, created = versions.publish(s, p, prompt_id, body.spec(), body.labels, engine=engine_for(c.settings))
    return JSONResponse(shapes.version(v) | {"created": created}, status_code=201 if created else 200)


@router.get("/prompts/{prompt_id}/versions/{number}", responses=errors.FOUND)
def get_version(prompt_id: Id, number: Number, c: Ctx, p: Auth):
    with c.db.read() as s:
        return shapes.version(versions.get(s, p, prompt_id, number))


@router.get("/prompts/{prompt_id}/diff", responses=errors.FOUND)
def diff_versions(prompt_id: Id, c: Ctx, p: Auth, left: Annotated[int, Query(alias="from", ge=1, le=MAX_ID)],
                  right: Annotated[int, Query(alias="to", ge=1, le=MAX_ID)]):
    with c.db.read() as s:
        d = versions.compare(s, p, prompt_id, left, right)
    return shapes.plain(d | {"from": shapes.version(d["from"]), "to": shapes.version(d["to"])})


@router.get("/prompts/{prompt_id}/labels", responses=errors.FOUND)
def list_labels(prompt_id: Id, c: Ctx, p: Auth):
    with c.db.read() as s:
        return {"items": shapes.plain(labels.list_labels(s, p, prompt_id))}


@router.put("/prompts/{prompt_id}/labels/{name}", responses=errors.WRITE | errors.FOUND)
def move_label(prompt_id: Id, name: LabelName, body: LabelIn, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(experiments.set_policy(
            s, p, prompt_id, name, version=body.version, policy=body.policy, reason=body.reason,
            declared=body.experiment.model_dump(exclude_unset=True) if body.experiment else None))


@router.delete("/prompts/{prompt_id}/labels/{name}", status_code=204, responses=errors.WRITE | errors.FOUND)
def delete_label(prompt_id: Id, name: LabelName, c: Ctx, p: Auth, reason: str = ""):
    with c.db.write() as s:
        labels.delete(s, p, prompt_id, name, reason=reason)


@router.get("/prompts/{prompt_id}/label-history", responses=errors.FOUND)
def label_history(prompt_id: Id, c: Ctx, p: Auth, label: str | None = None):
    with c.db.read() as s:
        return {"items": shapes.plain(labels.history(s, p, prompt_id, label))}


@router.get("/fetch/{name:path}", responses=errors.FOUND)
def fetch(name: PromptName, request: Request, c: Ctx, p: Auth, version: OptNumber = None,
          label: str | None = None):
    """The hot path: a prompt version by name + version | label, not rendered. Request metadata
    for routing policies goes in `meta.<key>=<value>` query parameters."""
    metadata = {k[5:]: v for k, v in request.query_params.items() if k.startswith("meta.")}
    with c.db.read() as s:
        r = labels.resolve(s, p, name, version=version, label=label, metadata=metadata)
    return JSONResponse(shapes.resolved(r))  # already JSON-ready: skip FastAPI's slow re-encoding


@router.get("/prompt-bundle/{name:path}", responses=errors.FOUND)
def prompt_bundle(name: PromptName, c: Ctx, p: Auth, version: OptNumber = None, label: str | None = None):
    """For our SDKs, which cache it and route by themselves (same hashing as the server,
    tests/vectors/routing.json): {prompt, label, policy, version (the label's own), versions:
    {number: version}}; by `version`, by `label`, or (neither) 'production' if set, else the newest."""
    with c.db.read() as s:
        return shapes.bundle(labels.bundle(s, p, name, version=version, label=label))


@router.post("/fetch/{name:path}", responses=errors.documented(413) | errors.FOUND)
def fetch_rendered(name: PromptName, body: FetchIn, c: Ctx, p: Auth):
    """A version chosen by version | label | routing policy on `metadata`, rendered with `variables`."""
    metadata = {str(k): "" if v is None else str(v) for k, v in body.metadata.items()}
    with c.db.read() as s:
        r = labels.resolve(s, p, name, version=body.version, label=body.label, metadata=metadata)
    rendered = None
    if body.variables is not None:
        v = r.version
        rendered = engine_for(c.settings).render(v.kind, v.template, v.template_format, body.variables)
    return shapes.resolved(r, rendered)
