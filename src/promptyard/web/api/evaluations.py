"""/api/v1/evaluations: evaluation runs (create, list, get, progress, items, cancel, resume), the paired comparison
of two runs, and /api/v1/prompts/{id}/labels/{label}/gate (a label that needs a passing evaluation)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from promptyard.domain.numbers import MAX_ID
from promptyard.services import evaluations, gates
from promptyard.services.render_pool import engine_for
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, Id, LabelName

router = APIRouter(prefix="/api/v1", tags=["evaluations"], responses=errors.READ)

_VARIANT = ('{"prompt": name, "version": n} | {"prompt": name, "label": label} (resolved to its version now) | '
            '{"draft": {"template": {...}, "kind": "chat"|"completion", "format": "f-string"|"jinja2", "params": {}, '
            '"model": ...}} (an unsaved draft, never a version)')
_SCORER = ('{"type": exact_match|contains|not_contains|regex|valid_json|json_schema|length|similarity, "name": ..., '
           'options}: see docs/evaluations.md')
_JUDGE = '{"prompt": name, "version": n | "label": label, "name": score name, "scale": [1, 5], "model": ...}'


class EvaluationIn(BaseModel):
    dataset: int = Field(ge=1, le=MAX_ID, description="the dataset's id")
    dataset_version: int | None = Field(None, ge=1, le=MAX_ID, description="default: its latest version")
    variants: list[dict[str, Any]] = Field(description="1-5 variants, each " + _VARIANT)
    provider: int = Field(ge=1, le=MAX_ID, description="the provider connection's id (/api/v1/providers)")
    model: str = Field("", max_length=200, description="'' = each variant's model, else the connection's default")
    params: dict[str, Any] = Field(default_factory=dict, description="model parameters over each variant's own")
    concurrency: int = Field(evaluations.DEFAULT_CONCURRENCY, description="items in flight at once, 1-64")
    timeout_s: float = Field(evaluations.DEFAULT_TIMEOUT_S, description="per item (and per judge call), at most 600")
    max_attempts: int = Field(evaluations.DEFAULT_ATTEMPTS, description="calls per item before it fails, 1-10")
    scorers: list[dict[str, Any]] = Field(default_factory=list, description="deterministic scorers, each " + _SCORER)
    judges: list[dict[str, Any]] = Field(default_factory=list, description="LLM judges, each " + _JUDGE)
    name: str = Field("", max_length=200)


class ResumeIn(BaseModel):
    retry_failed: bool = Field(False, description="also run the failed items again")


class GateIn(BaseModel):
    dataset: int = Field(ge=1, le=MAX_ID, description="the dataset the evaluation runs on")
    score: str = Field(max_length=100, description="the score compared, e.g. medically_correct")
    max_drop: float = Field(0.0, ge=0, le=100, description="points the candidate may be worse by, by the paired "
                                                           "95% interval's lower bound")


Status = Annotated[Literal["queued", "running", "cancelled", "done", "failed"] | None, Query()]


@router.post("/evaluations", status_code=201, responses=errors.WRITE | errors.FOUND)
def create_run(body: EvaluationIn, c: Ctx, p: Auth):
    """Queue a run: one item per (dataset item, variant). The server's background workers run it (bounded by
    `concurrency`); poll /evaluations/{id}/progress. 422 names a bad field, 404 a missing dataset, prompt or
    connection."""
    engine = engine_for(c.settings)
    with c.db.write() as s:
        run = evaluations.create(s, p, body.model_dump(exclude_none=True), engine=engine)
    c.wake_runner()
    return shapes.plain(run)


@router.get("/evaluations")
def list_runs(c: Ctx, p: Auth, dataset: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None, status: Status = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50,
              before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None):
    """Runs, newest first (`before`: the last id of the previous page)."""
    with c.db.read() as s:
        return {"items": shapes.plain(evaluations.list_runs(s, p, dataset=dataset, status=status, limit=limit,
                                                            before=before))}


@router.get("/evaluations/compare", responses=errors.FOUND)
def compare(c: Ctx, p: Auth, base: Annotated[int, Query(ge=1, le=MAX_ID)],
            candidate: Annotated[int, Query(ge=1, le=MAX_ID)],
            base_variant: Annotated[str | None, Query(max_length=100)] = None,
            candidate_variant: Annotated[str | None, Query(max_length=100)] = None,
            worst: Annotated[int, Query(ge=0, le=500)] = 50):
    """Two runs (or two variants of one run) on the same dataset version: per score the paired difference
    candidate - base with its paired-t 95% interval (shown, and what gates use) and a percentile bootstrap
    interval beside it; the `worst` items that got worse first, with both outputs; cost and latency."""
    with c.db.read() as s:
        return shapes.plain(evaluations.compare(s, p, base, candidate, base_variant=base_variant,
                                                candidate_variant=candidate_variant, worst=worst))


@router.get("/evaluations/{run_id}", responses=errors.FOUND)
def get_run(run_id: Id, c: Ctx, p: Auth):
    with c.db.read() as s:
        return shapes.plain(evaluations.get(s, p, run_id))


@router.get("/evaluations/{run_id}/progress", responses=errors.FOUND)
def progress(run_id: Id, c: Ctx, p: Auth):
    """Status and counts only: what a page or the CLI polls."""
    with c.db.read() as s:
        return shapes.plain(evaluations.progress(s, p, run_id))


@router.get("/evaluations/{run_id}/items", responses=errors.FOUND)
def run_items(run_id: Id, c: Ctx, p: Auth, status: Annotated[str | None, Query(max_length=20)] = None,
              after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    """One page of items: status, attempts, the request log of the output, scores, error."""
    with c.db.read() as s:
        return shapes.plain(evaluations.items(s, p, run_id, status=status, after=after, limit=limit))


@router.post("/evaluations/{run_id}/cancel", responses=errors.WRITE | errors.FOUND)
def cancel(run_id: Id, c: Ctx, p: Auth):
    """Items not yet started are cancelled; 409 for a run that is not queued or running."""
    with c.db.write() as s:
        return shapes.plain(evaluations.cancel(s, p, run_id))


@router.post("/evaluations/{run_id}/resume", responses=errors.WRITE | errors.FOUND)
def resume(run_id: Id, c: Ctx, p: Auth, body: ResumeIn | None = None):
    """Queue a cancelled or failed run again; finished items never run twice."""
    with c.db.write() as s:
        run = evaluations.resume(s, p, run_id, retry_failed=bool(body and body.retry_failed))
    c.wake_runner()
    return shapes.plain(run)


@router.get("/prompts/{prompt_id}/labels/{label}/gate", responses=errors.FOUND)
def get_gate(prompt_id: Id, label: LabelName, c: Ctx, p: Auth):
    """The label's gate, or null."""
    with c.db.read() as s:
        return {"gate": shapes.plain(gates.get(s, p, prompt_id, label))}


@router.put("/prompts/{prompt_id}/labels/{label}/gate", responses=errors.WRITE | errors.FOUND)
def set_gate(prompt_id: Id, label: LabelName, body: GateIn, c: Ctx, p: Auth):
    """Promotions of the label to a newer version and ramps on it then need a passing evaluation: 409 naming
    the reason otherwise. Needs the rights to move the label; audited."""
    with c.db.write() as s:
        return {"gate": shapes.plain(gates.set_gate(s, p, prompt_id, label, dataset=body.dataset, score=body.score,
                                                    max_drop=body.max_drop))}


@router.delete("/prompts/{prompt_id}/labels/{label}/gate", status_code=204, responses=errors.WRITE | errors.FOUND)
def delete_gate(prompt_id: Id, label: LabelName, c: Ctx, p: Auth):
    with c.db.write() as s:
        gates.delete(s, p, prompt_id, label)
