"""Evaluation pages: the runs list with a form to start one, a run (live progress by polling a small JSON
route from web/static/evaluations.js; without JavaScript a reload shows the same), its results per variant
and item, and the paired comparison of two runs or variants with the outputs side by side and a
character diff (domain/diff.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from promptyard.domain import access, diff
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import datasets, evaluations, providers
from promptyard.services.render_pool import engine_for
from promptyard.web.context import ctx, db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Editor, UiUser, Viewer

router = APIRouter()
SIMPLE_SCORERS = ("exact_match", "contains", "similarity", "valid_json")
PAGE = 200


def _runs_page(request: Request, user: UiUser, *, form: dict[str, Any], status: int = 200,
               error: str | None = None) -> Response:
    """The runs and the form to start one, which picks a dataset and a connection by name."""
    with db(request).read() as s:
        runs = evaluations.list_runs(s, user.principal, limit=100)
        writer = access.has(user.principal, "write")
        choices = providers.choices(s, user.principal) if writer else []
        sets = datasets.list_all(s, user.principal) if writer else []
    return render.page(request, user, "ui/evaluations/list.html", status_code=status, runs=runs, connections=choices,
                       datasets=sets, scorer_types=SIMPLE_SCORERS, form=form, error=error)


@router.get("/evaluations", name="evaluations")
def runs_page(request: Request, user: Viewer, dataset: Annotated[int | None, Query(ge=1, le=2**53)] = None):
    return _runs_page(request, user, form={"dataset": str(dataset or "")})


def _variants(text: str) -> list[dict[str, Any]]:
    """One variant a line: NAME, NAME@3 or NAME:label."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        name, at, number = line.rpartition("@")
        if at and number.lstrip("v").isdigit():
            out.append({"prompt": name, "version": int(number.lstrip("v"))})
            continue
        name, colon, label = line.rpartition(":")
        out.append({"prompt": name, "label": label} if colon and name else {"prompt": line})
    return out


def _form_int(form: FormData, key: str) -> int | None:
    value = str(form.get(key) or "").strip()
    return int(value) if value.isdigit() and len(value) < 16 else None


@router.post("/evaluations", name="evaluation_create")
def create_run(request: Request, user: Editor, form: FormData):
    session.check_csrf(user, form)
    fields = {k: str(form.get(k) or "") for k in ("name", "dataset", "dataset_version", "provider", "variants",
                                                  "judge", "judge_name", "model", "expected_text")}
    scorers = [{"type": t} for t in form.getlist("scorer") if t in SIMPLE_SCORERS and t != "contains"]
    if "contains" in form.getlist("scorer") and fields["expected_text"].strip():
        scorers.append({"type": "contains", "value": fields["expected_text"].strip()})
    judges = []
    if fields["judge"].strip():
        judge = _variants(fields["judge"])[0]
        judges.append(judge | {"name": fields["judge_name"].strip() or "judge"})
    spec: dict[str, Any] = {"name": fields["name"].strip(), "variants": _variants(fields["variants"]),
                            "scorers": scorers, "judges": judges, "model": fields["model"].strip()}
    for key in ("dataset", "dataset_version", "provider"):
        value = _form_int(form, key)
        if value is not None:
            spec[key] = value
    try:
        with db(request).write() as s:
            run = evaluations.create(s, user.principal, spec, engine=engine_for(ctx(request).settings))
    except (InvalidInput, NotFound) as exc:
        return _runs_page(request, user, status=422, form=fields | {"scorer": form.getlist("scorer")},
                          error=exc.text(user.locale))
    ctx(request).wake_runner()
    return render.redirect(request, "evaluation", notice="evaluation_started", run_id=run["id"])


def _summary(s, user, run: dict[str, Any]) -> list[dict[str, Any]]:  # noqa: ANN001
    """Per variant: items done and failed, and the mean of each score."""
    names = [sc["name"] for sc in run["scorers"]] + [j["name"] for j in run["judges"]]
    page = evaluations.items(s, user.principal, run["id"], limit=1000)
    rows = {v["key"]: {"variant": v, "done": 0, "failed": 0, "sums": {n: [0.0, 0] for n in names}}
            for v in run["variants"]}
    while True:
        for item in page["items"]:
            row = rows.get(item["variant"])
            if row is None:
                continue
            row["done"] += item["status"] == "done"
            row["failed"] += item["status"] == "failed"
            for n in names:
                value = (item["scores"] or {}).get(n)
                if isinstance(value, (int, float)):
                    row["sums"][n][0] += value
                    row["sums"][n][1] += 1
        if page["next"] is None:
            break
        page = evaluations.items(s, user.principal, run["id"], after=page["next"], limit=1000)
    for row in rows.values():
        row["means"] = {n: (total / count if count else None, count) for n, (total, count) in row["sums"].items()}
    return list(rows.values())


@router.get("/evaluations/compare", name="evaluation_compare")
def compare_page(request: Request, user: Viewer, base: Annotated[int, Query(ge=1, le=2**53)],
                 candidate: Annotated[int, Query(ge=1, le=2**53)],
                 base_variant: Annotated[str | None, Query(max_length=100)] = None,
                 candidate_variant: Annotated[str | None, Query(max_length=100)] = None):
    with db(request).read() as s:
        result = evaluations.compare(s, user.principal, base, candidate, base_variant=base_variant or None,
                                     candidate_variant=candidate_variant or None, worst=50)
    for row in result["items"]:
        left, right = row["base"]["output"] or "", row["candidate"]["output"] or ""
        row["marks"] = diff.char_marks(left, right)
    return render.page(request, user, "ui/evaluations/compare.html", result=result, segments=diff.segments)


@router.get("/evaluations/{run_id}", name="evaluation")
def run_page(request: Request, user: Viewer, run_id: Id, after: Annotated[int, Query(ge=0, le=2**53)] = 0):
    with db(request).read() as s:
        run = evaluations.get(s, user.principal, run_id)
        items = evaluations.items(s, user.principal, run_id, after=after, limit=PAGE)
        summary = _summary(s, user, run)
    names = [sc["name"] for sc in run["scorers"]] + [j["name"] for j in run["judges"]]
    return render.page(request, user, "ui/evaluations/run.html", run=run, page_items=items, summary=summary,
                       names=names, active=run["status"] in evaluations.ACTIVE,
                       progress_url=request.app.url_path_for("evaluation_progress", run_id=run_id),
                       specs=json.dumps({"scorers": run["scorers"], "judges": run["judges"]}, ensure_ascii=False,
                                        indent=2))


@router.get("/evaluations/{run_id}/progress", name="evaluation_progress")
def progress_json(request: Request, user: Viewer, run_id: Id):
    """The small answer the run page polls (status and counts)."""
    with db(request).read() as s:
        state = evaluations.progress(s, user.principal, run_id)
    return JSONResponse({"status": state["status"], "progress": state["progress"], "cost": state["cost"]},
                        headers={"Cache-Control": "no-store"})


@router.post("/evaluations/{run_id}/cancel", name="evaluation_cancel")
def cancel(request: Request, user: Editor, run_id: Id, form: FormData):
    session.check_csrf(user, form)
    with db(request).write() as s:
        evaluations.cancel(s, user.principal, run_id)
    return render.redirect(request, "evaluation", notice="evaluation_cancelled", run_id=run_id)


@router.post("/evaluations/{run_id}/resume", name="evaluation_resume")
def resume(request: Request, user: Editor, run_id: Id, form: FormData):
    session.check_csrf(user, form)
    with db(request).write() as s:
        evaluations.resume(s, user.principal, run_id, retry_failed=form.get("retry_failed") == "1")
    ctx(request).wake_runner()
    return render.redirect(request, "evaluation", notice="evaluation_resumed", run_id=run_id)
