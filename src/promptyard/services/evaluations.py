"""Evaluation runs (issue 16): one or more variants (prompt versions, or an unsaved draft) run over a dataset
version through a provider connection, scored by deterministic scorers (domain/scorers.py) and LLM judges
(domain/judges.py). This module creates, reads, cancels and resumes runs and compares two of them; the
background workers that execute the items are services/evaluation_runner.py.

A run is a work list: one `evaluation_items` row per (dataset item, variant), made when the run is created,
so that progress, cancel and resume are plain updates and a restart finds exactly what is left. Prompt
versions and judge prompts given by label are resolved to version numbers when the run is created, so a
run means the same thing however labels move later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from promptyard.domain import access, judges, paired, scorers
from promptyard.domain.logs import text_of
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import datasets, labels, providers, queue_sources, webhooks
from promptyard.services.render_pool import TemplateEngine
from promptyard.store import bulk
from promptyard.store.models import EvaluationItem, EvaluationRun, Request, Score
from promptyard.store.types import utcnow

STATUSES = ("queued", "running", "cancelled", "done", "failed")
ACTIVE = ("queued", "running")
DEFAULT_CONCURRENCY, MAX_CONCURRENCY = 8, 64
DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S = 60.0, 600.0
DEFAULT_ATTEMPTS, MAX_ATTEMPTS = 3, 10
MAX_VARIANTS = 5
MAX_JUDGES = 5
PAGE, MAX_PAGE = 100, 1000
ITEM_BATCH = 1000  # rows per insert when a run is created
METADATA_RUN = "promptyard.eval_run"  # metadata of every output's request log
METADATA_VARIANT = "promptyard.eval_variant"
RUN_TAG = "evaluation"
_OPTIONS = {"name", "dataset", "dataset_version", "variants", "provider", "model", "params", "concurrency",
            "timeout_s", "max_attempts", "scorers", "judges"}


def _bad(key: str, field: str, **params: Any) -> InvalidInput:
    return InvalidInput(key, details={"field": field}, field=field, **params)


def _int(spec: dict, key: str, default: int, low: int, high: int) -> int:
    value = spec.get(key, default)
    if type(value) is not int or not low <= value <= high:
        raise _bad("errors.evaluations.range", key, low=low, high=high)
    return value


# --- creating ----------------------------------------------------------------------------------


def _variant(session: Session, p: Principal, raw: Any, i: int, engine: TemplateEngine | None) -> dict[str, Any]:
    where = f"variants[{i}]"
    if not isinstance(raw, dict):
        raise _bad("errors.evaluations.variant", where)
    if "draft" in raw:
        draft = raw["draft"]
        if not isinstance(draft, dict) or set(raw) - {"draft"}:
            raise _bad("errors.evaluations.variant", where)
        kind, fmt = draft.get("kind", "chat"), draft.get("format", "f-string")
        template, params = draft.get("template"), draft.get("params", {})
        if kind not in ("chat", "completion") or fmt not in ("f-string", "jinja2") or not isinstance(params, dict):
            raise _bad("errors.evaluations.draft", f"{where}.draft")
        if engine is not None:
            template, _ = engine.check(kind, template, fmt)
        model = draft.get("model")
        if model is not None and (not isinstance(model, str) or not 0 < len(model) <= 200):
            raise _bad("errors.evaluations.draft", f"{where}.draft.model")
        return {"key": f"draft{i + 1}", "draft": True, "kind": kind, "format": fmt, "template": template,
                "params": params, "model": model}
    name, version, label = raw.get("prompt"), raw.get("version"), raw.get("label")
    if not isinstance(name, str) or set(raw) - {"prompt", "version", "label"} or (
            version is not None and type(version) is not int):
        raise _bad("errors.evaluations.variant", where)
    resolved = labels.resolve(session, p, name, version=version, label=label)
    if resolved.version is None:
        raise _bad("errors.evaluations.variant", where)
    v = resolved.version
    return {"key": f"{v.prompt_id}:v{v.number}", "prompt": v.prompt_name, "prompt_id": v.prompt_id,
            "version": v.number, "version_id": v.id}


def _judge(session: Session, p: Principal, raw: Any, i: int) -> dict[str, Any]:
    spec = judges.parse_spec(raw, f"judges[{i}]")
    v = labels.resolve(session, p, spec.prompt, version=spec.version, label=spec.label).version
    return {"name": spec.name, "prompt": v.prompt_name, "prompt_id": v.prompt_id, "version": v.number,
            "version_id": v.id, "scale": list(spec.scale), "model": spec.model}


def check_spec(session: Session, p: Principal, spec: Any, engine: TemplateEngine | None = None) -> dict[str, Any]:
    """A run's spec checked and resolved (InvalidInput naming the field; NotFound for what does not exist)."""
    if not isinstance(spec, dict):
        raise _bad("errors.evaluations.not_object", "body")
    unknown = sorted(set(spec) - _OPTIONS)
    if unknown:
        raise _bad("errors.evaluations.unknown_option", unknown[0], known=", ".join(sorted(_OPTIONS)))
    name = spec.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise _bad("errors.evaluations.name", "name")
    dataset_id, version = spec.get("dataset"), spec.get("dataset_version")
    if type(dataset_id) is not int:
        raise _bad("errors.evaluations.dataset", "dataset")
    if version is not None and (type(version) is not int or version < 1):
        raise _bad("errors.evaluations.dataset_version", "dataset_version")
    connection = spec.get("provider")
    if type(connection) is not int:
        raise _bad("errors.evaluations.provider", "provider")
    raw_variants = spec.get("variants")
    if not isinstance(raw_variants, list) or not 0 < len(raw_variants) <= MAX_VARIANTS:
        raise _bad("errors.evaluations.variants", "variants", most=MAX_VARIANTS)
    variants = [_variant(session, p, v, i, engine) for i, v in enumerate(raw_variants)]
    keys = [v["key"] for v in variants]
    if len(set(keys)) != len(keys):
        raise _bad("errors.evaluations.variant_twice", "variants")
    model = spec.get("model", "")
    if not isinstance(model, str) or len(model) > 200:
        raise _bad("errors.evaluations.model", "model")
    params = spec.get("params", {})
    if not isinstance(params, dict):
        raise _bad("errors.evaluations.params", "params")
    timeout = spec.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise _bad("errors.evaluations.range", "timeout_s", low=0, high=MAX_TIMEOUT_S)
    scorer_specs = [s.spec for s in scorers.parse_all(spec.get("scorers", []))]
    raw_judges = spec.get("judges", [])
    if not isinstance(raw_judges, list) or len(raw_judges) > MAX_JUDGES:
        raise _bad("errors.evaluations.judges", "judges", most=MAX_JUDGES)
    judge_specs = [_judge(session, p, j, i) for i, j in enumerate(raw_judges)]
    names = [s["name"] for s in scorer_specs] + [j["name"] for j in judge_specs]
    if len(set(names)) != len(names):
        raise _bad("errors.evaluations.score_twice", "judges")
    if not names:
        raise _bad("errors.evaluations.no_scores", "scorers")
    return {"name": name.strip(), "dataset_id": dataset_id, "dataset_version": version, "variants": variants,
            "connection_id": connection, "model": model, "params": params,
            "concurrency": _int(spec, "concurrency", DEFAULT_CONCURRENCY, 1, MAX_CONCURRENCY),
            "timeout_s": float(timeout), "max_attempts": _int(spec, "max_attempts", DEFAULT_ATTEMPTS, 1, MAX_ATTEMPTS),
            "scorers": scorer_specs, "judges": judge_specs}


def create(session: Session, p: Principal, spec: Any, *, engine: TemplateEngine | None = None) -> dict[str, Any]:
    """A queued run with one item per (dataset item, variant); the workers start it."""
    access.require(p, "write")
    checked = check_spec(session, p, spec, engine)
    if not any(c.id == checked["connection_id"] for c in providers.choices(session, p)):
        raise NotFound("errors.evaluations.no_provider", id=checked["connection_id"])
    dataset, number, items = datasets.iterate(session, p, checked["dataset_id"], checked["dataset_version"])
    run = EvaluationRun(workspace_id=p.workspace_id, name=checked["name"], dataset_id=dataset["id"],
                        dataset_version=number, variants=checked["variants"], connection_id=checked["connection_id"],
                        model=checked["model"], params=checked["params"], concurrency=checked["concurrency"],
                        timeout_s=checked["timeout_s"], max_attempts=checked["max_attempts"],
                        scorers=checked["scorers"], judges=checked["judges"], status="queued", created_by=p.actor,
                        created_at=utcnow())
    session.add(run)
    session.flush()
    total, rows = 0, []
    for item in items:
        for v in checked["variants"]:
            rows.append({"workspace_id": p.workspace_id, "run_id": run.id, "dataset_item_id": item["id"],
                         "position": item["position"], "variant": v["key"], "status": "pending", "attempts": 0,
                         "scores": {}, "error": ""})
        if len(rows) >= ITEM_BATCH:
            bulk.insert(session, EvaluationItem.__table__, rows)
            total, rows = total + len(rows), []
    if rows:
        bulk.insert(session, EvaluationItem.__table__, rows)
        total += len(rows)
    if not total:
        raise _bad("errors.evaluations.empty_dataset", "dataset", name=dataset["name"], version=number)
    run.items_total = total
    return record(run)


# --- reading -----------------------------------------------------------------------------------


def record(run: EvaluationRun) -> dict[str, Any]:
    finished = run.items_done + run.items_failed
    return {"id": run.id, "name": run.name, "dataset": run.dataset_id, "dataset_version": run.dataset_version,
            "variants": run.variants, "provider": run.connection_id, "model": run.model, "params": run.params,
            "concurrency": run.concurrency, "timeout_s": run.timeout_s, "max_attempts": run.max_attempts,
            "scorers": run.scorers, "judges": run.judges, "status": run.status,
            "progress": {"total": run.items_total, "done": run.items_done, "failed": run.items_failed,
                         "left": run.items_total - finished},
            "cost": run.cost, "input_tokens": run.input_tokens, "output_tokens": run.output_tokens,
            "error": run.error, "created_by": run.created_by, "created_at": run.created_at,
            "started_at": run.started_at, "finished_at": run.finished_at}


def load(session: Session, p: Principal, run_id: int, *, lock: bool = False) -> EvaluationRun:
    q = select(EvaluationRun).where(EvaluationRun.workspace_id == p.workspace_id, EvaluationRun.id == run_id)
    run = session.scalar(q.with_for_update() if lock else q)
    if run is None:
        raise NotFound("errors.evaluations.not_found", id=run_id)
    return run


def get(session: Session, p: Principal, run_id: int) -> dict[str, Any]:
    access.require(p, "read")
    return record(load(session, p, run_id))


def list_runs(session: Session, p: Principal, *, dataset: int | None = None, status: str | None = None,
              limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
    """The workspace's runs, newest first (`before`: ids below it, for the next page)."""
    access.require(p, "read")
    if status is not None and status not in STATUSES:
        raise _bad("errors.evaluations.status", "status", known=", ".join(STATUSES))
    if not 1 <= limit <= 200:
        raise _bad("errors.evaluations.range", "limit", low=1, high=200)
    q = select(EvaluationRun).where(EvaluationRun.workspace_id == p.workspace_id)
    if dataset is not None:
        q = q.where(EvaluationRun.dataset_id == dataset)
    if status is not None:
        q = q.where(EvaluationRun.status == status)
    if before is not None:
        q = q.where(EvaluationRun.id < before)
    return [record(r) for r in session.scalars(q.order_by(EvaluationRun.id.desc()).limit(limit))]


def _item(i: EvaluationItem) -> dict[str, Any]:
    return {"id": i.id, "dataset_item": i.dataset_item_id, "position": i.position, "variant": i.variant,
            "status": i.status, "attempts": i.attempts, "request": i.request_id, "latency_ms": i.latency_ms,
            "cost": i.cost, "scores": i.scores, "error": i.error, "finished_at": i.finished_at}


def items(session: Session, p: Principal, run_id: int, *, status: str | None = None, after: int = 0,
          limit: int = PAGE) -> dict[str, Any]:
    """One page of a run's items in (position, variant) order; `next` is the `after` of the next page."""
    access.require(p, "read")
    if not 1 <= limit <= MAX_PAGE:
        raise _bad("errors.evaluations.range", "limit", low=1, high=MAX_PAGE)
    run = load(session, p, run_id)
    q = select(EvaluationItem).where(EvaluationItem.run_id == run.id, EvaluationItem.id > after)
    if status is not None:
        q = q.where(EvaluationItem.status == status)
    rows = session.scalars(q.order_by(EvaluationItem.id).limit(limit + 1)).all()
    page = [_item(i) for i in rows[:limit]]
    return {"run": run.id, "items": page, "next": page[-1]["id"] if len(rows) > limit else None}


def progress(session: Session, p: Principal, run_id: int) -> dict[str, Any]:
    """The small answer a page polls: status and counts."""
    access.require(p, "read")
    run = load(session, p, run_id)
    out = record(run)
    return {"id": run.id, "status": run.status, "progress": out["progress"], "cost": run.cost,
            "finished_at": run.finished_at}


# --- the end of a run ---------------------------------------------------------------------------


def finished(session: Session, run: EvaluationRun) -> None:
    """A run ended (done, failed or cancelled): the `evaluation.finished` webhook, with each variant's mean
    per score, in the transaction that ended it; the annotation queues that follow it take their last
    outputs (services/queue_sources.run_ended)."""
    sums: dict[str, dict[str, list[float]]] = {v["key"]: {} for v in run.variants}
    rows = session.execute(select(EvaluationItem.variant, EvaluationItem.scores).where(
        EvaluationItem.run_id == run.id, EvaluationItem.status == "done"))
    for variant, values in rows:
        for name, value in (values or {}).items():
            if isinstance(value, (int, float)):
                sums.setdefault(variant, {}).setdefault(name, []).append(float(value))
    webhooks.emit(session, run.workspace_id, "evaluation.finished", {
        "run_id": run.id, "name": run.name, "status": run.status, "dataset": run.dataset_id,
        "dataset_version": run.dataset_version,
        "versions": [{"key": v["key"], "prompt": v.get("prompt"), "version": v.get("version"),
                      "draft": bool(v.get("draft"))} for v in run.variants],
        "items": {"total": run.items_total, "done": run.items_done, "failed": run.items_failed},
        "cost": run.cost, "scores": {key: {n: sum(vals) / len(vals) for n, vals in by_name.items()}
                                     for key, by_name in sums.items()}})
    queue_sources.run_ended(session, run)


# --- cancel and resume -------------------------------------------------------------------------


def cancel(session: Session, p: Principal, run_id: int) -> dict[str, Any]:
    """Stop a queued or running run: items not yet finished are cancelled (those in flight finish, but the
    run stays cancelled). Cancelling a finished run is refused."""
    access.require(p, "write")
    run = load(session, p, run_id, lock=True)
    if run.status not in ACTIVE:
        raise Conflict("errors.evaluations.not_active", id=run.id, status=run.status)
    session.execute(update(EvaluationItem).where(EvaluationItem.run_id == run.id,
                                                 EvaluationItem.status == "pending").values(status="cancelled"))
    run.status, run.finished_at = "cancelled", utcnow()
    finished(session, run)
    return record(run)


def resume(session: Session, p: Principal, run_id: int, *, retry_failed: bool = False) -> dict[str, Any]:
    """Queue a cancelled or failed run again: its cancelled items (and failed ones with `retry_failed`)
    are pending again; finished items are never run twice."""
    access.require(p, "write")
    run = load(session, p, run_id, lock=True)
    if run.status in ACTIVE:
        raise Conflict("errors.evaluations.already_active", id=run.id)
    again = ["cancelled", "failed"] if retry_failed else ["cancelled"]
    failed_again = 0
    if retry_failed:
        failed_again = session.scalar(select(func.count()).where(EvaluationItem.run_id == run.id,
                                                                 EvaluationItem.status == "failed")) or 0
    changed = session.execute(update(EvaluationItem).where(
        EvaluationItem.run_id == run.id, EvaluationItem.status.in_(again)).values(
        status="pending", attempts=0, claimed_at=None, error="")).rowcount
    if not changed:
        raise Conflict("errors.evaluations.nothing_left", id=run.id)
    run.items_failed -= failed_again
    run.status, run.finished_at, run.error = "queued", None, ""
    return record(run)


# --- comparing ---------------------------------------------------------------------------------


def _variant_of(run: EvaluationRun, key: str | None, which: str) -> dict[str, Any]:
    if key is None:
        if len(run.variants) != 1:
            raise _bad("errors.evaluations.which_variant", f"{which}_variant", id=run.id,
                       known=", ".join(v["key"] for v in run.variants))
        return run.variants[0]
    found = next((v for v in run.variants if v["key"] == key), None)
    if found is None:
        raise _bad("errors.evaluations.which_variant", f"{which}_variant", id=run.id, known=", ".join(v["key"] for v in run.variants))
    return found


def _done_items(session: Session, run_id: int, variant: str) -> dict[int, EvaluationItem]:
    rows = session.scalars(select(EvaluationItem).where(EvaluationItem.run_id == run_id,
                                                        EvaluationItem.variant == variant,
                                                        EvaluationItem.status == "done"))
    return {i.dataset_item_id: i for i in rows}


def score_names(run: EvaluationRun) -> list[str]:
    return [s["name"] for s in run.scorers] + [j["name"] for j in run.judges]


def paired_scores(session: Session, base: tuple[EvaluationRun, str], candidate: tuple[EvaluationRun, str],
                  name: str) -> tuple[paired.Paired, dict[int, EvaluationItem], dict[int, EvaluationItem]]:
    """One score of two (run, variant)s paired by dataset item."""
    left, right = _done_items(session, base[0].id, base[1]), _done_items(session, candidate[0].id, candidate[1])

    def values(found: dict[int, EvaluationItem]) -> dict[int, float]:
        return {k: float(i.scores[name]) for k, i in found.items() if isinstance(i.scores.get(name), (int, float))}

    return paired.compare(values(left), values(right)), left, right


def _stat(result: paired.Paired) -> dict[str, Any]:
    return {"n": result.n, "base_mean": result.base_mean, "candidate_mean": result.candidate_mean,
            "mean_diff": result.mean_diff, "sd_diff": result.sd_diff,
            "ci": {"method": "paired_t", "low": result.t_low, "high": result.t_high},
            "bootstrap_ci": {"method": "percentile_bootstrap", "low": result.boot_low, "high": result.boot_high,
                             "resamples": paired.BOOTSTRAP_RESAMPLES, "seed": paired.BOOTSTRAP_SEED},
            "p": result.p, "only_base": result.only_base, "only_candidate": result.only_candidate}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _outputs(session: Session, workspace_id: int, request_ids: list[int]) -> dict[int, str]:
    """The output texts of these request logs (an erased log has none)."""
    if not request_ids:
        return {}
    rows = session.execute(select(Request.id, Request.output).where(Request.workspace_id == workspace_id,
                                                                    bulk.one_of(Request.id, request_ids)))
    return {rid: text_of(out) for rid, out in rows}


def _human_scores(session: Session, found: dict[int, EvaluationItem]) -> dict[str, dict[int, float]]:
    """The scores people gave the outputs (source human: an annotation queue's reviews, or the request
    page's), by name and dataset item."""
    item_of = {i.request_id: k for k, i in found.items() if i.request_id is not None}
    out: dict[str, dict[int, float]] = {}
    if item_of:
        for name, rid, value in session.execute(select(Score.name, Score.request_id, Score.value).where(
                bulk.one_of(Score.request_id, list(item_of)), Score.source == "human")):
            out.setdefault(name, {})[item_of[rid]] = value
    return out


def compare(session: Session, p: Principal, base_id: int, candidate_id: int, *, base_variant: str | None = None,
            candidate_variant: str | None = None, worst: int = 50) -> dict[str, Any]:
    """Per score the paired difference candidate - base (domain/paired.py), the `worst` items that got worse
    first with both outputs, and cost and latency. Both runs must be on the same dataset version. Scores
    people gave both runs' outputs (source human, e.g. through an annotation queue) are compared too,
    marked `"source": "human"`."""
    access.require(p, "read")
    base, cand = load(session, p, base_id), load(session, p, candidate_id)
    if (base.dataset_id, base.dataset_version) != (cand.dataset_id, cand.dataset_version):
        raise _bad("errors.evaluations.different_datasets", "candidate", base=base.id, candidate=cand.id)
    bv, cv = _variant_of(base, base_variant, "base"), _variant_of(cand, candidate_variant, "candidate")
    if base.id == cand.id and bv["key"] == cv["key"]:
        raise _bad("errors.evaluations.same_variant", "candidate_variant")
    common = [n for n in score_names(base) if n in score_names(cand)]
    scores: dict[str, Any] = {}
    left = right = {}
    worse: dict[int, float] = {}
    for name in common:
        result, left, right = paired_scores(session, (base, bv["key"]), (cand, cv["key"]), name)
        scores[name] = _stat(result)
        for it in result.items:
            worse[it.key] = min(worse.get(it.key, 0.0), it.diff)
    if not common:
        left, right = _done_items(session, base.id, bv["key"]), _done_items(session, cand.id, cv["key"])
    people = _human_scores(session, left), _human_scores(session, right)
    for name in sorted(set(people[0]) & set(people[1]) - set(common)):
        scores[name] = _stat(paired.compare(people[0][name], people[1][name])) | {"source": "human"}
    order = sorted((k for k in left if k in right), key=lambda k: (worse.get(k, 0.0), left[k].position))
    rows = []
    shown = order[:max(0, min(worst, 500))]
    texts = _outputs(session, p.workspace_id, [i for k in shown for i in (left[k].request_id, right[k].request_id) if i])
    for k in shown:
        b, c = left[k], right[k]
        rows.append({"dataset_item": k, "position": b.position, "worst_diff": worse.get(k, 0.0),
                     "base": {"request": b.request_id, "scores": b.scores, "latency_ms": b.latency_ms,
                              "output": texts.get(b.request_id)},
                     "candidate": {"request": c.request_id, "scores": c.scores, "latency_ms": c.latency_ms,
                                   "output": texts.get(c.request_id)}})

    def totals(found: dict[int, EvaluationItem]) -> dict[str, Any]:
        lat = [i.latency_ms for i in found.values() if i.latency_ms is not None]
        costs = [i.cost for i in found.values() if i.cost is not None]
        return {"items": len(found), "cost": sum(costs) if costs else None, "mean_latency_ms": _mean(lat)}

    return {"base": {"run": base.id, "variant": bv}, "candidate": {"run": cand.id, "variant": cv},
            "dataset": base.dataset_id, "dataset_version": base.dataset_version, "shown_interval": "paired_t",
            "scores": scores, "items": rows, "totals": {"base": totals(left), "candidate": totals(right)}}


# --- for the gate (services/gates.py) ---------------------------------------------------------


def finished_runs_with(session: Session, workspace_id: int, dataset_id: int, prompt_id: int,
                       number: int, limit: int = 200) -> list[tuple[EvaluationRun, str]]:
    """Done runs on the dataset (newest first) that ran version `number` of the prompt: (run, variant key)."""
    runs = session.scalars(select(EvaluationRun).where(
        EvaluationRun.workspace_id == workspace_id, EvaluationRun.dataset_id == dataset_id,
        EvaluationRun.status == "done").order_by(EvaluationRun.id.desc()).limit(limit))
    out = []
    for run in runs:
        for v in run.variants:
            if v.get("prompt_id") == prompt_id and v.get("version") == number:
                out.append((run, v["key"]))
    return out

