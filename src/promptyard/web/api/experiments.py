"""/api/v1: experiments on a label (results, promote, rollback) and guarded ramps."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from promptyard.services import experiments, ramps
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, Id, LabelName, OptNumber, Time
from promptyard.web.api.schemas import SomeText

router = APIRouter(prefix="/api/v1", tags=["experiments"], responses=errors.READ)


class PromoteIn(BaseModel):
    # One of the two is needed (the service says so when neither is given).
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["version"], "properties": {"version": {"type": "integer"}}},
        {"required": ["policy"], "properties": {"policy": {"type": "object"}}}]})

    version: int | None = Field(None, ge=1, le=2**31 - 1, description="the winner: becomes the label's single version")
    policy: dict[str, Any] | None = Field(None, description="or a new split")
    reason: SomeText = Field(description="required: it goes into the audit trail")


class ReasonIn(BaseModel):
    reason: str = ""


class RampIn(BaseModel):
    candidate: int = Field(ge=1, le=2**31 - 1)
    baseline: int = Field(ge=1, le=2**31 - 1)
    steps: list[float] = Field(default_factory=lambda: [10, 25, 50, 100], description="candidate share, percent")
    interval_s: float = Field(3600, description="seconds between steps")
    guard: dict[str, Any] = Field(default_factory=lambda: {"metric": "error_rate", "margin": 2.0},
                                  description="{metric: score name | error_rate, margin}: revert when worse by more")
    min_n: int = Field(30, ge=1, le=10**6)
    sticky_key: str | None = None
    reason: str = ""


@router.get("/prompts/{prompt_id}/labels/{label}/experiment", responses=errors.FOUND)
def experiment(prompt_id: Id, label: LabelName, c: Ctx, p: Auth, baseline: OptNumber = None,
               since: Time | None = None, min_n: Annotated[int, Query(ge=1)] = 30):
    """Per version and segment: requests, error rate, latency, cost, score means with 95% CIs;
    each candidate against the baseline (Welch's t-test for numeric scores, a two-proportion z-test
    for error rate and pass/fail scores) with a plain-language verdict."""
    with c.db.read() as s:
        return shapes.plain(experiments.view(s, p, prompt_id, label, baseline=baseline, since=since, min_n=min_n))


@router.post("/prompts/{prompt_id}/labels/{label}/promote", responses=errors.WRITE | errors.FOUND)
def promote(prompt_id: Id, label: LabelName, body: PromoteIn, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(experiments.promote(s, p, prompt_id, label, version=body.version, policy=body.policy,
                                                reason=body.reason))


@router.post("/prompts/{prompt_id}/labels/{label}/rollback", responses=errors.WRITE | errors.FOUND)
def rollback(prompt_id: Id, label: LabelName, body: ReasonIn, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(experiments.rollback(s, p, prompt_id, label, reason=body.reason))


@router.get("/prompts/{prompt_id}/labels/{label}/ramps", responses=errors.FOUND)
def list_ramps(prompt_id: Id, label: str, c: Ctx, p: Auth):
    with c.db.read() as s:
        return {"items": shapes.plain(ramps.list_ramps(s, p, prompt_id, label))}


@router.post("/prompts/{prompt_id}/labels/{label}/ramps", status_code=201, responses=errors.WRITE | errors.FOUND)
def start_ramp(prompt_id: Id, label: LabelName, body: RampIn, c: Ctx, p: Auth):
    plan = body.model_dump(exclude={"reason"})
    with c.db.write() as s:
        return shapes.plain(ramps.start(s, p, prompt_id, label, plan, reason=body.reason))


@router.post("/ramps/{ramp_id}/stop", responses=errors.WRITE | errors.FOUND)
def stop_ramp(ramp_id: Id, body: ReasonIn, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(ramps.stop(s, p, ramp_id, reason=body.reason))


@router.post("/ramps/tick", responses=errors.WRITE)
def tick(c: Ctx, p: Auth):
    """Advance this workspace's due ramps now (the server also does it every PROMPTYARD_RAMP_TICK_S)."""
    with c.db.write() as s:
        return {"items": shapes.plain(ramps.tick_workspace(s, p))}
