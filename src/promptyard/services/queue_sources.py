"""Where an annotation queue's items come from (issue 17) besides a filter: a dataset version or an
evaluation run; and the one home of adding requests to a queue as items and of its sampling order.
services/annotation_queues.py holds the queues and the reviewing.

- **A dataset version**: the request logs its items were made from (an item taken from the log links
  to it). Items without a log (entered by hand, uploaded) are not reviewable as a request: they are
  skipped and counted (`source.without_log`). Sampling takes its share per prompt version of those
  logs, like a filter's; `limit` caps the items, in the dataset's order.
- **An evaluation run**: its output logs (one per dataset item and variant), optionally of some
  variants only. The outputs stored when the queue is made are its first items; after that the run's
  workers add each new output in the transaction that stores it (`outputs_stored`). Both take the
  run's row lock first, so no output is missed or added twice. With sampling, an output is taken
  when a fixed hash of (queue, request) falls below the rate, the same decision however the outputs
  arrive; when the run ends (`run_ended`) a variant of which none was taken gets its first output by
  that order, so every variant gets reviews.
- **Judge against people**: a queue score of a run's queue may name one of the run's judges or
  scorers (`judge`); `judge_values` gives that score's values on the queue's items for the overview's
  agreement. A queue score may not take the name of one of the run's scores: a log holds one value
  per name, and the reviewers' would replace the judge's.

A dataset's or a run's queue stores its source as JSON in `source_ref` ({dataset, version,
without_log} or {run, variants}); `describe` reads it back for the API.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain.numbers import ROW_ID_MAX
from promptyard.errors import InvalidInput
from promptyard.store import bulk
from promptyard.store.models import AnnotationQueue, EvaluationItem, EvaluationRun, QueueItem, Request
from promptyard.store.types import utcnow

KINDS = ("dataset", "evaluation")


# --- adding and sampling -----------------------------------------------------------------------


def add_requests(session: Session, q: AnnotationQueue, request_ids: list[int]) -> int:
    """Requests added as waiting items (those already in the queue are left as they are)."""
    if not request_ids:
        return 0
    have = set(session.scalars(select(QueueItem.request_id).where(
        QueueItem.queue_id == q.id, bulk.one_of(QueueItem.request_id, request_ids))))
    now = utcnow()
    new = [{"queue_id": q.id, "workspace_id": q.workspace_id, "request_id": rid, "state": "waiting", "reviewed": 0,
            "added_at": now} for rid in dict.fromkeys(request_ids) if rid not in have]
    bulk.insert(session, QueueItem.__table__, new)
    return len(new)


def order_key(queue_id: int, request_id: int) -> bytes:
    """A fixed pseudo-random order of a queue's candidates: the same sample on every run."""
    return hashlib.sha256(f"{queue_id}:{request_id}".encode()).digest()


def stratified(q: AnnotationQueue, rows: list[tuple[int, Any]]) -> list[int]:
    """Of candidates (request id, stratum), the sampling rate's share of each stratum (at least one
    each, so every arm of an experiment gets reviews), in the order given."""
    strata: dict[Any, list[int]] = defaultdict(list)
    for rid, stratum in rows:
        strata[stratum].append(rid)
    chosen: set[int] = set()
    for ids in strata.values():
        take = max(1, round(q.sampling["rate"] * len(ids)))
        chosen.update(sorted(ids, key=lambda rid: order_key(q.id, rid))[:take])
    return [rid for rid, _ in rows if rid in chosen]


def _taken(q: AnnotationQueue, request_id: int) -> bool:
    """One output of a run, in the sample or not: the same answer whenever it is asked."""
    if not q.sampling:
        return True
    return int.from_bytes(order_key(q.id, request_id)[:8], "big") < q.sampling["rate"] * 2 ** 64


# --- checking a source -------------------------------------------------------------------------


def _id(value: Any, field: str) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ROW_ID_MAX:
        raise InvalidInput("errors.queues.source_id", field=field)
    return value


def dataset_wanted(source: dict[str, Any]) -> tuple[int, int | None]:
    """(dataset id, version number or None for the latest) from a dataset source: `dataset` (or
    `ref`, its id) and `version`."""
    dataset = _id(source.get("dataset") or source.get("ref"), "source.dataset")
    version = source.get("version")
    return dataset, None if version in (None, "") else _id(version, "source.version")


def run_wanted(source: dict[str, Any]) -> int:
    return _id(source.get("run") or source.get("ref"), "source.run")


def variants_of(run: EvaluationRun, wanted: Any) -> list[str]:
    """The run's variants a queue takes: keys, or prompt version numbers; none given: all ([])."""
    if wanted in (None, "", []):
        return []
    if not isinstance(wanted, list) or len(wanted) > len(run.variants) + 10:
        raise InvalidInput("errors.queues.variants", known=_known(run))
    out = []
    for w in wanted:
        found = [v["key"] for v in run.variants if w == v["key"] or (
            not isinstance(w, bool) and str(w).strip() == str(v.get("version")) and not v.get("draft"))]
        if len(found) != 1:
            raise InvalidInput("errors.queues.variant", variant=str(w)[:100], known=_known(run))
        out.append(found[0])
    return list(dict.fromkeys(out))


def _known(run: EvaluationRun) -> str:
    return ", ".join(v["key"] if v.get("draft") else f"{v['key']} (v{v['version']})" for v in run.variants)


def run_scores(run: EvaluationRun) -> list[str]:
    return [s["name"] for s in run.scorers] + [j["name"] for j in run.judges]


def check_judges(run: EvaluationRun | None, specs: list[dict[str, Any]], raw: list[Any]) -> list[dict[str, Any]]:
    """The queue's scores with the run score each is compared with (`judge`, from the raw specs);
    a judge only on a run's queue, of a score the run gives, and no queue score named like one."""
    names = run_scores(run) if run is not None else []
    out = []
    for i, (spec, given) in enumerate(zip(specs, raw)):
        judge = given.get("judge") if isinstance(given, dict) else None
        if spec["name"] in names:
            raise InvalidInput("errors.queues.score_of_run", field=f"scores[{i}].name", name=spec["name"])
        if judge in (None, ""):
            out.append(spec)
            continue
        if run is None:
            raise InvalidInput("errors.queues.judge_needs_run", field=f"scores[{i}].judge")
        if judge not in names:
            raise InvalidInput("errors.queues.judge", field=f"scores[{i}].judge", known=", ".join(names))
        out.append(spec | {"judge": judge})
    return out


def dataset_ref(dataset_id: int, number: int, without_log: int) -> str:
    return json.dumps({"dataset": dataset_id, "version": number, "without_log": without_log})


def run_ref(run: EvaluationRun, variants: list[str]) -> str:
    return json.dumps({"run": run.id, "variants": variants})


def describe(kind: str, ref: str) -> dict[str, Any]:
    """A queue's source for the API: {kind, ref} and, for a dataset or a run, its parts (`ref` is
    then the object's id)."""
    if kind not in KINDS:
        return {"kind": kind, "ref": ref}
    try:
        parts = json.loads(ref)
    except ValueError:
        parts = None
    if not isinstance(parts, dict):  # a queue made before sources were followed: the id only
        return {"kind": kind, "ref": ref}
    return {"kind": kind, "ref": str(parts.get("dataset", parts.get("run", "")))} | parts


# --- the first items ---------------------------------------------------------------------------


def from_dataset(session: Session, q: AnnotationQueue, request_ids: list[int], limit: int) -> int:
    """A dataset's logs added (sampled per prompt version with a rate), up to `limit`."""
    if q.sampling and request_ids:
        strata = {r.id: (r.prompt_name or "", r.version_number or 0) for r in session.execute(
            select(Request.id, Request.prompt_name, Request.version_number).where(
                Request.workspace_id == q.workspace_id, bulk.one_of(Request.id, request_ids)))}
        request_ids = stratified(q, [(rid, strata.get(rid)) for rid in request_ids])
    return add_requests(session, q, request_ids[:limit])


def from_run(session: Session, q: AnnotationQueue, run: EvaluationRun) -> int:
    """The run's outputs stored so far (of the queue's variants, in the sample); all of them when
    the run has ended, with every variant's first."""
    variants = describe(q.source_kind, q.source_ref).get("variants") or []
    cond = [EvaluationItem.run_id == run.id, EvaluationItem.status == "done", EvaluationItem.request_id.is_not(None)]
    if variants:
        cond.append(bulk.one_of(EvaluationItem.variant, variants))
    rows = session.execute(select(EvaluationItem.request_id, EvaluationItem.variant).where(*cond)
                           .order_by(EvaluationItem.id)).all()
    added = add_requests(session, q, [rid for rid, _ in rows if _taken(q, rid)])
    if run.status not in ("queued", "running"):
        added += _every_variant(session, q, rows)
    return added


def _every_variant(session: Session, q: AnnotationQueue, rows: list[tuple[int, str]]) -> int:
    if not q.sampling:
        return 0
    by_variant: dict[str, list[int]] = defaultdict(list)
    for rid, variant in rows:
        by_variant[variant].append(rid)
    have = set(session.scalars(select(QueueItem.request_id).where(QueueItem.queue_id == q.id)))
    first = [min(ids, key=lambda rid: order_key(q.id, rid)) for ids in by_variant.values()
             if not have.intersection(ids)]
    return add_requests(session, q, first)


# --- following a run ---------------------------------------------------------------------------


def _following(session: Session, run: EvaluationRun) -> list[AnnotationQueue]:
    queues = session.scalars(select(AnnotationQueue).where(
        AnnotationQueue.workspace_id == run.workspace_id, AnnotationQueue.source_kind == "evaluation",
        AnnotationQueue.status == "open")).all()
    return [q for q in queues if describe(q.source_kind, q.source_ref).get("run") == run.id]


def outputs_stored(session: Session, run: EvaluationRun, outputs: list[tuple[int, str]]) -> int:
    """The run's workers stored these outputs (request id, variant): each open queue following the
    run takes those of its variants in its sample. The caller holds the run's row lock."""
    added = 0
    for q in _following(session, run) if outputs else []:
        variants = describe(q.source_kind, q.source_ref).get("variants") or []
        added += add_requests(session, q, [rid for rid, v in outputs if (not variants or v in variants)
                                           and _taken(q, rid)])
    return added


def run_ended(session: Session, run: EvaluationRun) -> int:
    """The run ended: a sampled queue following it takes the first output of a variant it has none of."""
    return sum(from_run(session, q, run) for q in _following(session, run) if q.sampling)


def judge_values(session: Session, q: AnnotationQueue) -> dict[str, dict[int, float]]:
    """For each queue score that names a run score (`judge`): the run's value of that score on the
    queue's items, by request id (what the judge or scorer gave; none where it failed)."""
    pairs = {s["name"]: s["judge"] for s in q.scores if s.get("judge")}
    run = describe(q.source_kind, q.source_ref).get("run") if q.source_kind == "evaluation" else None
    if not pairs or run is None:
        return {}
    rows = session.execute(select(EvaluationItem.request_id, EvaluationItem.scores).join(
        QueueItem, QueueItem.request_id == EvaluationItem.request_id).where(
        QueueItem.queue_id == q.id, EvaluationItem.run_id == run, EvaluationItem.workspace_id == q.workspace_id))
    out: dict[str, dict[int, float]] = {name: {} for name in pairs}
    for rid, scores in rows:
        for name, judge in pairs.items():
            value = (scores or {}).get(judge)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[name][rid] = float(value)
    return out
