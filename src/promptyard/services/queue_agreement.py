"""What an annotation queue's overview says about its reviews (services/annotation_queues.py holds the
queues): agreement between reviewers per score, agreement between a run's judge and the reviewers
(a queue made from an evaluation run, services/queue_sources.py), and the items where reviewers differ.
The coefficients are domain/agreement.py's; no reviewer's values leave here except to those allowed
to see them (`disagreements`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from promptyard.domain import agreement
from promptyard.domain import score_configs as scd
from promptyard.services import queue_sources as qs
from promptyard.services import score_configs
from promptyard.store import bulk
from promptyard.store.models import AnnotationQueue, QueueItem, QueueMark, Review

DISAGREEMENTS = 50  # items the overview lists


LEVELS = {"scale5": "ordinal", "categorical": "ordinal", "yes_no": "nominal", "numeric": "interval"}


def agreement_of(session: Session, q: AnnotationQueue) -> list[dict[str, Any]]:
    """Per score: Krippendorff's alpha over the items two or more reviewers scored (ordinal for 1-5
    and categories, nominal for yes / no, interval for numbers: domain/agreement.py) and the share
    of agreeing pairs. Only the coefficients: no reviewer's values."""
    units: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item_id, name, value in session.execute(select(Review.item_id, Review.name, Review.value)
                                                .where(Review.queue_id == q.id)):
        units[name][item_id].append(value)
    out = []
    for spec in q.scores:
        rated = [vs for vs in units[spec["name"]].values() if len(vs) > 1]
        level = LEVELS.get(spec["kind"], "interval")
        alpha, pairs = agreement.krippendorff_alpha(rated, level=level), agreement.percent_agreement(rated)
        out.append({"name": spec["name"], "level": level, "alpha": alpha.value, "observed": pairs.value,
                    "items": alpha.n, "reason": alpha.reason})
    return out


def _scale(spec: dict[str, Any]) -> tuple[float, float, list[float] | None]:
    """A queue score's range and, when its answers are a set, the values it allows."""
    if spec["kind"] == "scale5":
        return 1, 5, [1, 2, 3, 4, 5]
    if spec["kind"] == "yes_no":
        return scd.FAIL, scd.PASS, [scd.FAIL, scd.PASS]
    if spec["kind"] == "categorical":
        values = sorted(c["value"] for c in spec.get("categories") or [])
        return values[0], values[-1], values
    return spec.get("min", 0), spec.get("max", 100), None


def judge_agreement(session: Session, q: AnnotationQueue) -> list[dict[str, Any]]:
    """A run's queue, per score that names one of the run's judges or scorers (`judge`): Krippendorff's
    alpha between the judge and the reviewers (their `combined` value) on the items both scored, the
    judge's 0-100 put on the score's scale (domain/agreement.on_scale); the level as between reviewers."""
    judged = qs.judge_values(session, q)
    if not judged:
        return []
    configs = score_configs.for_scoring(session, q.workspace_id)
    people: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for rid, name, value in session.execute(select(QueueItem.request_id, Review.name, Review.value).join(
            QueueItem, QueueItem.id == Review.item_id).where(Review.queue_id == q.id, bulk.one_of(Review.name, list(judged)))):
        people[name][rid].append(value)
    out = []
    for spec in q.scores:
        name = spec["name"]
        if name not in judged:
            continue
        config = configs.get(name) if spec.get("config") else None
        low, high, allowed = _scale(spec)
        units = [[agreement.on_scale(judged[name][rid], low, high, allowed), scd.combined(values, config)]
                 for rid, values in people[name].items() if rid in judged[name]]
        level = LEVELS.get(spec["kind"], "interval")
        alpha, pairs = agreement.krippendorff_alpha(units, level=level), agreement.percent_agreement(units)
        out.append({"name": name, "judge": spec["judge"], "level": level, "alpha": alpha.value,
                    "observed": pairs.value, "items": alpha.n, "judged": len(judged[name]), "reason": alpha.reason})
    return out


def disagreements(session: Session, q: AnnotationQueue, *, viewer: int | None = None,
                  limit: int = DISAGREEMENTS) -> list[dict[str, Any]]:
    """Items and scores where the reviewers' values differ (most spread first). A reviewer named on
    the queue sees the values of the items they have reviewed only; of the others, that they differ."""
    spread = (func.max(Review.value) - func.min(Review.value)).label("spread")
    rows = session.execute(select(Review.item_id, Review.name, spread, func.count().label("n"))
                           .where(Review.queue_id == q.id).group_by(Review.item_id, Review.name)
                           .having(and_(func.count() > 1, func.max(Review.value) > func.min(Review.value)))
                           .order_by(spread.desc(), Review.item_id).limit(limit)).all()
    if not rows:
        return []
    item_ids = sorted({r.item_id for r in rows})
    values: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for v in session.scalars(select(Review).where(bulk.one_of(Review.item_id, item_ids))
                             .order_by(Review.reviewer_id)):
        values[(v.item_id, v.name)].append({"reviewer": v.reviewer_id, "value": v.value, "comment": v.comment})
    seen = set(session.scalars(select(QueueMark.item_id).where(
        QueueMark.reviewer_id == viewer, QueueMark.state == "done", bulk.one_of(QueueMark.item_id, item_ids)))) \
        if viewer is not None else set()
    blind = viewer is not None and viewer in q.reviewers
    numbers = dict(session.execute(select(QueueItem.id, QueueItem.request_id).where(bulk.one_of(QueueItem.id, item_ids))).all())
    return [{"item": r.item_id, "request": numbers.get(r.item_id), "name": r.name, "spread": r.spread, "reviews": r.n,
             "given": values[(r.item_id, r.name)] if not blind or r.item_id in seen else None} for r in rows]
