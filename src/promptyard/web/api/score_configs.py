"""/api/v1/score-configs: typed definitions of named scores (numeric, boolean, categorical), their
rubric, who may give them and when a comment is required. Editors write, members read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from promptyard.domain import score_configs as sc
from promptyard.services import score_configs
from promptyard.web.api import errors, schemas, shapes
from promptyard.web.api.deps import Auth, Ctx, Id

router = APIRouter(prefix="/api/v1/score-configs", tags=["scores"], responses=errors.READ)

_CATEGORY = {"type": "object", "required": ["value", "label"], "properties": {
    "value": {"type": "number", "description": "what a score of this label stores"},
    "label": {"type": "string", "minLength": 1, "maxLength": 100},
    "description": {"type": "string", "maxLength": sc.MAX_DESCRIPTION}}}
CONFIG = {"type": "object", "required": ["type"], "properties": {
    "name": {"type": "string", "pattern": "^[\\w.\\-]{1,100}$",
             "description": "the scores' name (on create; it does not change)"},
    "type": {"enum": list(sc.TYPES)},
    "min": {"type": ["number", "null"], "description": "numeric: default 0"},
    "max": {"type": ["number", "null"], "description": "numeric: default 100"},
    "step": {"type": ["number", "null"], "description": "numeric: values on this grid from min; null = any"},
    "categories": {"type": "array", "minItems": 2, "maxItems": sc.MAX_CATEGORIES, "items": _CATEGORY,
                   "description": "categorical: ordered from the lowest value"},
    "rubric": {"type": ["string", "null"], "maxLength": sc.MAX_RUBRIC, "description": "Markdown"},
    "sources": {"type": "array", "items": {"enum": list(sc.SOURCES)}, "description": "default: all"},
    "comment_required_below": {"type": ["number", "null"]},
    "archived": {"type": "boolean", "description": "an archived score takes no new scores"}}}
_OUT = {200: {"description": "the score config", "content": {"application/json": {"schema": CONFIG}}}}


def _out(config: sc.ScoreConfig) -> dict[str, Any]:
    return sc.as_body(config) | {"created_at": shapes.iso(config.created_at),
                                 "updated_at": shapes.iso(config.updated_at)}


@router.get("")
def list_score_configs(c: Ctx, p: Auth, archived: Annotated[bool, Query()] = True):
    """Every score config of the workspace, by name (`archived=false` leaves archived ones out)."""
    with c.db.read() as s:
        return {"items": [_out(x) for x in score_configs.list_all(s, p, archived=archived)]}


@router.post("", status_code=201, responses=errors.WRITE, openapi_extra=schemas.body(CONFIG))
def create_score_config(c: Ctx, p: Auth, body: Annotated[Any, Body()]):
    """A new score config: scores of its name are checked against it from now on (on every surface)."""
    with c.db.write() as s:
        return _out(score_configs.create(s, p, body))


@router.get("/{config_id}", responses=errors.FOUND)
def get_score_config(config_id: Id, c: Ctx, p: Auth):
    with c.db.read() as s:
        return _out(score_configs.get(s, p, config_id))


@router.put("/{config_id}", responses=errors.WRITE | errors.FOUND, openapi_extra=schemas.body(CONFIG))
def update_score_config(config_id: Id, c: Ctx, p: Auth, body: Annotated[Any, Body()]):
    """The config replaced (every field; the name stays). Stored scores are not re-checked."""
    with c.db.write() as s:
        return _out(score_configs.update(s, p, config_id, body))


@router.delete("/{config_id}", status_code=204, responses=errors.WRITE | errors.FOUND)
def delete_score_config(config_id: Id, c: Ctx, p: Auth):
    """The config removed; its scores stay, as free-form 0-100 scores."""
    with c.db.write() as s:
        score_configs.delete(s, p, config_id)
