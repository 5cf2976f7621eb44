"""/api/v1: experiments on a label (records, evidence, declaration, promote, rollback) and guarded ramps."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from promptyard.domain import experiments as ex
from promptyard.domain.numbers import MAX_ID
from promptyard.errors import NotFound
from promptyard.services import experiment_records, experiments, ramps
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, Id, LabelName, OptNumber
from promptyard.web.api.schemas import ExperimentIn, SomeText

router = APIRouter(prefix="/api/v1", tags=["experiments"], responses=errors.READ)


class PromoteIn(BaseModel):
    version: int | None = Field(None, ge=1, le=MAX_ID,
                                description="the version to make the label's single version; default: the winner")
    policy: dict[str, Any] | None = Field(None, description="or a new split (which starts a new experiment)")
    reason: SomeText = Field(description="required: it goes into the audit trail")
    force: bool = Field(False, description="promote a version that was not in the experiment")


class ReasonIn(BaseModel):
    reason: str = ""


class RampIn(BaseModel):
    candidate: int = Field(ge=1, le=MAX_ID)
    baseline: int = Field(ge=1, le=MAX_ID)
    steps: list[float] = Field(default_factory=lambda: [10, 25, 50, 100], description="candidate share, percent")
    interval_s: float = Field(3600, description="seconds between steps")
    guard: dict[str, Any] = Field(default_factory=lambda: {"metric": "error_rate", "margin": 2.0},
                                  description="{metric: score name | error_rate, margin}: step while shown worse by "
                                              "less than the margin, revert when shown worse by more")
    min_n: int = Field(ex.MIN_UNITS, ge=2, le=10**6, description="units per arm before the guard is judged")
    planned_units: int = Field(ex.DEFAULT_PLANNED_UNITS, ge=2, le=10**9, description="tunes the always-valid interval")
    sticky_key: str | None = None
    reason: str = ""


MinUnits = Annotated[int, Query(ge=2, le=10**6, description="units per arm below which a metric is not tested")]


@router.get("/prompts/{prompt_id}/labels/{label}/experiment", responses=errors.FOUND)
def experiment(prompt_id: Id, label: LabelName, c: Ctx, p: Auth, baseline: OptNumber = None,
               min_units: MinUnits = ex.MIN_UNITS):
    """The label's running experiment: per routing rule the arms (units, requests, error rate,
    latency, cost, score means with 95% intervals), the sample-ratio check, and every candidate
    against the baseline within the randomised rules, with always-valid intervals and
    Holm-adjusted p-values, the fixed-horizon numbers, a verdict and the winner."""
    with c.db.read() as s:
        found = experiments.view(s, p, prompt_id, label, baseline=baseline, min_units=min_units)
    if found is None:
        raise NotFound("errors.experiments.label_has_no_running", label=label, prompt_id=prompt_id)
    return shapes.plain(found)


@router.get("/prompts/{prompt_id}/labels/{label}/experiments", responses=errors.FOUND)
def list_experiments(prompt_id: Id, label: LabelName, c: Ctx, p: Auth):
    """Every experiment of the label, newest first: one per policy period."""
    with c.db.read() as s:
        return {"items": shapes.plain(experiment_records.list_for(s, p, prompt_id, label))}


@router.get("/experiments/{experiment_id}", responses=errors.FOUND)
def get_experiment(experiment_id: Id, c: Ctx, p: Auth, baseline: OptNumber = None,
                   min_units: MinUnits = ex.MIN_UNITS):
    """One experiment with its evidence: frozen as it ended, or live while it runs."""
    with c.db.read() as s:
        return shapes.plain(experiments.get(s, p, experiment_id, baseline=baseline, min_units=min_units))


@router.patch("/experiments/{experiment_id}", responses=errors.WRITE | errors.FOUND)
def declare(experiment_id: Id, body: ExperimentIn, c: Ctx, p: Auth):
    """Set what a running experiment tests (hypothesis, primary metric, planned units, minimum effect)."""
    with c.db.write() as s:
        return shapes.plain(experiment_records.declare(s, p, experiment_id, body.model_dump(exclude_unset=True)))


@router.post("/prompts/{prompt_id}/labels/{label}/promote", responses=errors.WRITE | errors.FOUND)
def promote(prompt_id: Id, label: LabelName, body: PromoteIn, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(experiments.promote(s, p, prompt_id, label, version=body.version, policy=body.policy,
                                                reason=body.reason, force=body.force))


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
