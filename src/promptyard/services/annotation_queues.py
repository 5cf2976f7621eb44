"""Annotation queues (issue 17): requests set aside for people (pharmacists) to score, one item
at a time. A queue comes from a filter (the search language, optionally sampled per prompt
version), a dataset version or an evaluation run (services/queue_sources.py: its source logs, its
outputs as the run stores them), or by hand; it names the scores to give (in a run's queue, maybe the
run's judge each is compared with), its reviewers and how many reviewers each item needs (1-3).

A reviewer is through with an item when they gave every score (`done`) or skipped it: a
`QueueMark`. The next item for a reviewer is the first waiting item after the last one they
marked that they have not marked: an index walk on queue_items (queue_id, state, id) with a key
lookup in queue_marks per candidate, no scan (bench/bench_review.py). When an item has its
reviews, each score's mean (or the single value; the lower median for a score config's set of
values: domain/score_configs.combined) is written to the request's scores (source "human") through
services/request_annotations, so statistics and experiments count them. A queue's score named like
a score config (services/score_configs) takes its type, values and rubric (`from_config`).

A reviewer named on the queue sees the other reviewers' values of an item only once they have
given theirs. The overview's agreement and disagreements are services/queue_agreement.py. Erasing a
request removes its items and reviews (services/erasure.py)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from promptyard.domain import access, query
from promptyard.domain import score_configs as scd
from promptyard.domain.logs import SCORE_NAME
from promptyard.domain.numbers import ROW_ID_MAX
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from promptyard.services import audit, datasets, evaluations, keys, score_configs
from promptyard.services import queue_agreement as qa
from promptyard.services import queue_sources as qs
from promptyard.services import request_annotations as ra
from promptyard.store import bulk, query_plan
from promptyard.store.models import (
    AnnotationQueue,
    Membership,
    QueueItem,
    QueueMark,
    Request,
    Review,
    User,
)
from promptyard.store.types import utcnow

SOURCE_KINDS = ("filter", "dataset", "evaluation", "manual")
SCORE_KINDS = ("scale5", "yes_no", "numeric", "categorical")  # 1-5 buttons, yes/no (100 / 0), 0-100, a config's labels
FREE_KINDS = SCORE_KINDS[:3]  # the kinds a queue may give a score without a config
MAX_SCORES = 10
MAX_REVIEWERS = 100
MAX_ITEMS = 10_000  # items one creation or sample adds at most
DEFAULT_ITEMS = 1000
MAX_ADD = 1000  # request ids one call adds
MAX_TEXT = 5000
QUEUES = "annotation_queues"  # session.info key: the queues read in this session, by id


# --- checking what is sent ---------------------------------------------------------------------


def _text(value: Any, field: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise InvalidInput("errors.queues.bad_text", field=field, limit=limit)
    if required and not value.strip():
        raise InvalidInput("errors.queues.empty", field=field)
    return value.strip() if required else value


def _scores(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_SCORES:
        raise InvalidInput("errors.queues.scores", n=MAX_SCORES)
    out, seen = [], set()
    for i, s in enumerate(value):
        s = {"name": s} if isinstance(s, str) else s
        if not isinstance(s, dict):
            raise InvalidInput("errors.queues.scores", n=MAX_SCORES)
        name, kind = s.get("name"), s.get("kind") or "scale5"
        if not isinstance(name, str) or not SCORE_NAME.match(name) or name in seen:
            raise InvalidInput("errors.queues.score_name", field=f"scores[{i}].name")
        if kind not in FREE_KINDS:
            raise InvalidInput("errors.queues.score_kind", field=f"scores[{i}].kind", kinds=", ".join(FREE_KINDS))
        seen.add(name)
        out.append({"name": name, "kind": kind, "rubric": _text(s.get("rubric"), f"scores[{i}].rubric")})
    return out


def _reviewers(session: Session, p: Principal, value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_REVIEWERS or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= ROW_ID_MAX for v in value):
        raise InvalidInput("errors.queues.reviewers", n=MAX_REVIEWERS)
    ids = sorted(set(value))
    members = set(session.scalars(select(Membership.user_id).where(Membership.workspace_id == p.workspace_id,
                                                                   bulk.one_of(Membership.user_id, ids)))) if ids else set()
    strangers = [i for i in ids if i not in members]
    if strangers:
        raise InvalidInput("errors.queues.not_members", ids=", ".join(map(str, strangers)))
    return ids


def _per_item(value: Any, reviewers: list[int]) -> int:
    n = 1 if value is None else value
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 3:
        raise InvalidInput("errors.queues.per_item")
    if reviewers and n > len(reviewers):
        raise InvalidInput("errors.queues.per_item_reviewers", n=n, reviewers=len(reviewers))
    return n


def _sampling(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    rate = value.get("rate") if isinstance(value, dict) else None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise InvalidInput("errors.queues.rate")
    daily = value.get("daily", False)
    if not isinstance(daily, bool):
        raise InvalidInput("errors.queues.daily")
    return {"rate": float(rate), "daily": daily}


def _limit(value: Any) -> int:
    n = DEFAULT_ITEMS if value is None else value
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_ITEMS:
        raise InvalidInput("errors.queues.limit", n=MAX_ITEMS)
    return n


YES, NO = scd.PASS, scd.FAIL  # yes/no answers are stored as 100 / 0, like a boolean score config
_YES, _NO = ("y", "yes", "true", "1", "100"), ("n", "no", "false", "0")


def from_config(spec: dict[str, Any], config: scd.ScoreConfig | None) -> dict[str, Any]:
    """A queue's score as the workspace's score config (services/score_configs) defines it, when
    it has one of that name: boolean -> yes / no, categorical -> its labels, numeric -> its range
    (1-5 in steps of 1 -> the 1-5 buttons); the config's rubric unless the queue gives its own."""
    if config is None:
        return spec
    out = spec | {"rubric": spec["rubric"] or config.rubric, "config": True}
    if config.type == "boolean":
        return out | {"kind": "yes_no"}
    if config.type == "categorical":
        return out | {"kind": "categorical", "categories": [
            {"value": c.value, "label": c.label, "description": c.description} for c in config.categories]}
    if (config.min_value, config.max_value, config.step) == (1, 5, 1):
        return out | {"kind": "scale5"}
    return out | {"kind": "numeric", "min": config.min_value, "max": config.max_value, "step": config.step}


def score_value(spec: dict[str, Any], value: Any, config: scd.ScoreConfig | None = None, comment: str = "") -> float:
    """A reviewer's value for one score, as its kind (and its score config, when it has one) allows:
    yes / no as 100 / 0, a category by its number or label."""
    if spec["kind"] == "yes_no":
        word = str(value).strip().lower() if isinstance(value, (str, int, float, bool)) else None
        value = YES if word in _YES else NO if word in _NO else value
    elif isinstance(value, str):
        value = _float(value.strip()) if _float(value.strip()) is not None else value
    if config is not None:
        return scd.check(config, value, comment, "human", field_name=spec["name"])
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and spec["kind"] == "scale5":
        ok = value in (1, 2, 3, 4, 5)
    elif ok and spec["kind"] == "yes_no":
        ok = value in (YES, NO)
    elif ok:
        ok = 0 <= value <= 100
    if not ok:
        if spec["kind"] == "scale5":
            raise InvalidInput("errors.queues.value_scale5", name=spec["name"])
        raise InvalidInput("errors.queues.value_yes_no" if spec["kind"] == "yes_no" else "errors.queues.value_numeric",
                           name=spec["name"])
    return float(value)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# --- queues ------------------------------------------------------------------------------------


def _queue(session: Session, p: Principal, queue_id: int, *, lock: bool = False) -> AnnotationQueue:
    """The workspace's queue, locked when asked; read once per session (a page asks several times;
    the session's identity map holds rows only while they are referenced, so the session keeps it)."""
    kept = session.info.setdefault(QUEUES, {})
    if lock:
        found = session.scalar(select(AnnotationQueue).where(AnnotationQueue.workspace_id == p.workspace_id,
                                                             AnnotationQueue.id == queue_id).with_for_update()
                             .execution_options(populate_existing=True))  # the locked row's values, not the kept ones
    else:
        found = kept.get(queue_id) or (session.get(AnnotationQueue, queue_id) if 1 <= queue_id <= ROW_ID_MAX else None)
        found = found if found is not None and found.workspace_id == p.workspace_id else None
    if found is None:
        raise NotFound("errors.queues.not_found", id=queue_id)
    kept[queue_id] = found
    return found


def _record(q: AnnotationQueue) -> dict[str, Any]:
    return {"id": q.id, "name": q.name, "description": q.description,
            "source": qs.describe(q.source_kind, q.source_ref), "scores": q.scores, "reviewers": q.reviewers,
            "reviews_per_item": q.reviews_per_item, "sampling": q.sampling, "status": q.status,
            "created_by": q.created_by, "created_at": q.created_at, "updated_at": q.updated_at}


def _source(session: Session, p: Principal, source: Any) -> dict[str, Any]:
    """The queue's source checked: its kind, the `ref` stored, and what fills it: a filter's parsed
    form, a dataset version's logs, a run (locked, see services/queue_sources.py)."""
    kind = source.get("kind") if isinstance(source, dict) else None
    if kind not in SOURCE_KINDS:
        raise InvalidInput("errors.queues.source", kinds=", ".join(SOURCE_KINDS))
    if kind == "dataset":
        d, number, logs, without = datasets.source_requests(session, p, *qs.dataset_wanted(source))
        return {"kind": kind, "ref": qs.dataset_ref(d["id"], number, without), "logs": logs}
    if kind == "evaluation":
        run = evaluations.load(session, p, qs.run_wanted(source), lock=True)
        return {"kind": kind, "ref": qs.run_ref(run, qs.variants_of(run, source.get("variants"))), "run": run}
    ref = _text(source.get("ref"), "source.ref", required=kind == "filter")
    return {"kind": kind, "ref": ref, "node": _filter(ref) if kind == "filter" else None}


def create(session: Session, p: Principal, body: Any) -> dict[str, Any]:
    """A new queue (editors). Its first items: a filter's matches (newest first, up to `limit`), a
    dataset version's logs, a run's outputs so far (services/queue_sources.py); sampled per prompt
    version (a run's: per output) when `sampling` says so."""
    access.require(p, "write")
    if not isinstance(body, dict):
        raise InvalidInput("errors.queues.body")
    src = _source(session, p, body.get("source") or {"kind": "manual"})
    reviewers = _reviewers(session, p, body.get("reviewers"))
    sampling = _sampling(body.get("sampling"))
    if sampling and src["kind"] == "manual":
        raise InvalidInput("errors.queues.sampling_needs_filter")
    if sampling and sampling["daily"] and src["kind"] != "filter":
        raise InvalidInput("errors.queues.daily_needs_filter")
    configs = score_configs.for_scoring(session, p.workspace_id)
    scores = qs.check_judges(src.get("run"), [from_config(spec, configs.get(spec["name"]))
                                              for spec in _scores(body.get("scores"))], body["scores"])
    q = AnnotationQueue(workspace_id=p.workspace_id, name=_text(body.get("name"), "name", required=True, limit=200),
                        description=_text(body.get("description"), "description"), source_kind=src["kind"],
                        source_ref=src["ref"], scores=scores, reviewers=reviewers,
                        reviews_per_item=_per_item(body.get("reviews_per_item"), reviewers), sampling=sampling,
                        status="open", created_by=p.actor)
    limit = _limit(body.get("limit"))
    if session.scalar(select(AnnotationQueue.id).where(AnnotationQueue.workspace_id == p.workspace_id,
                                                       AnnotationQueue.name == q.name)) is not None:
        raise Conflict("errors.queues.name_taken", name=q.name)
    session.add(q)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("errors.queues.name_taken", name=q.name) from None
    added = _fill(session, q, src, limit)
    audit.record(session, p.workspace_id, p.actor, "queue.create", "annotation_queue", q.id,
                 {"name": q.name, "source": q.source_kind, "items": added})
    return _record(q) | {"items": added}


def _fill(session: Session, q: AnnotationQueue, src: dict[str, Any], limit: int) -> int:
    if src.get("node") is not None:
        now = utcnow()
        q.sampled_until = now
        return qs.add_requests(session, q, _sample(session, q, src["node"], None, now, limit))
    if "logs" in src:
        return qs.from_dataset(session, q, src["logs"], limit)
    if "run" in src:
        return qs.from_run(session, q, src["run"])
    return 0


def _filter(text: str) -> query.Node:
    node = query.parse(text)
    if node is None:
        raise InvalidInput("errors.queues.empty", field="source.ref")
    return node


def list_queues(session: Session, p: Principal) -> list[dict[str, Any]]:
    access.require(p, "read")
    rows = session.scalars(select(AnnotationQueue).where(AnnotationQueue.workspace_id == p.workspace_id)
                           .order_by(AnnotationQueue.created_at.desc(), AnnotationQueue.id.desc())).all()
    counts = _counts(session, [q.id for q in rows])
    return [_record(q) | {"counts": counts.get(q.id, {"waiting": 0, "done": 0})} for q in rows]


def _counts(session: Session, queue_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"waiting": 0, "done": 0})
    if queue_ids:
        for qid, state, n in session.execute(select(QueueItem.queue_id, QueueItem.state, func.count())
                                             .where(bulk.one_of(QueueItem.queue_id, queue_ids))
                                             .group_by(QueueItem.queue_id, QueueItem.state)):
            out[qid][state] = n
    return dict(out)


def record(session: Session, p: Principal, queue_id: int) -> dict[str, Any]:
    """The queue without its counts (what the review page needs)."""
    access.require(p, "read")
    return _record(_queue(session, p, queue_id))


def get(session: Session, p: Principal, queue_id: int) -> dict[str, Any]:
    access.require(p, "read")
    q = _queue(session, p, queue_id)
    return _record(q) | {"counts": _counts(session, [q.id]).get(q.id, {"waiting": 0, "done": 0})}


def set_status(session: Session, p: Principal, queue_id: int, status: Any) -> dict[str, Any]:
    """Close a queue (no more reviews, samples or run outputs) or open it again (editors; a run's queue
    then takes the outputs stored meanwhile)."""
    access.require(p, "write")
    if status not in ("open", "closed"):
        raise InvalidInput("errors.queues.status")
    q = _queue(session, p, queue_id)
    run_id = qs.describe(q.source_kind, q.source_ref).get("run") if status == "open" else None
    # A run's row is locked before the queue's, as its workers take them (they add items under it).
    run = evaluations.load(session, p, run_id, lock=True) if run_id is not None else None
    q = _queue(session, p, queue_id, lock=True)
    if run is not None and q.status == "closed":  # the outputs the run stored while the queue was closed
        qs.from_run(session, q, run)
    q.status, q.updated_at = status, utcnow()
    audit.record(session, p.workspace_id, p.actor, "queue.status", "annotation_queue", q.id, {"status": status})
    return get(session, p, queue_id)


# --- items -------------------------------------------------------------------------------------


def add_items(session: Session, p: Principal, queue_id: int, refs: Any) -> dict[str, Any]:
    """Requests (by id or number) added to a queue (editors); unknown ones are reported."""
    access.require(p, "write")
    if not isinstance(refs, list) or not 1 <= len(refs) <= MAX_ADD or not all(
            isinstance(r, (str, int)) and not isinstance(r, bool) for r in refs):
        raise InvalidInput("errors.queues.requests", n=MAX_ADD)
    q = _queue(session, p, queue_id, lock=True)
    wanted = [str(r) for r in refs]
    found = ra.targets(session, p, wanted)  # (locked: an erasure waits for us, or we for it)
    missing = [r for r in wanted if r not in found]
    return {"added": qs.add_requests(session, q, [found[r].id for r in wanted if r in found]), "unknown": missing}


def _sample(session: Session, q: AnnotationQueue, node: query.Node, since: datetime | None, until: datetime,
            limit: int) -> list[int]:
    """The filter's matches started before `until` (and from `since`), newest first; with a
    sampling rate, that share of each prompt version's matches (at least one each, so every arm
    of an experiment gets reviews), up to `limit` in all."""
    plan = query_plan.every_match(session, node, q.workspace_id)
    cond = [plan.workspace() == q.workspace_id, plan.where(until), Request.start_time < until]
    if since is not None:
        cond.append(Request.start_time >= since)
    cap = MAX_ITEMS * 10 if q.sampling else limit
    rows = session.execute(select(Request.id, Request.prompt_name, Request.version_number).where(*cond)
                           .order_by(Request.start_time.desc(), Request.id.desc()).limit(cap)).all()
    if not q.sampling:
        return [r.id for r in rows]
    return qs.stratified(q, [(r.id, (r.prompt_name or "", r.version_number or 0)) for r in rows])[:limit]


def sample_daily(session: Session, now: datetime | None = None) -> int:
    """For each open queue with a daily sample: the filter's logs of each whole day (UTC) since its
    last sample, sampled per version and added. The server's tick runs it; rows are locked and
    skipped by other processes."""
    now = now or utcnow()
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    queues = session.scalars(select(AnnotationQueue).where(
        AnnotationQueue.status == "open", AnnotationQueue.source_kind == "filter",
        AnnotationQueue.sampled_until < today).with_for_update(skip_locked=True)).all()
    added = 0
    for q in queues:
        if not (q.sampling or {}).get("daily"):
            continue
        start = q.sampled_until.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        start = max(start, q.sampled_until)
        while start < today:
            end = min(start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1), today)
            added += qs.add_requests(session, q, _sample(session, q, _filter(q.source_ref), start, end, MAX_ITEMS))
            start = end
        q.sampled_until = today
    return added


# --- reviewing ---------------------------------------------------------------------------------


def _reviewer(p: Principal, q: AnnotationQueue, reviewer: Any = None) -> int:
    """Who reviews: the calling user, when named on the queue or an admin; an admin key (no user)
    names the member it records reviews for."""
    if reviewer is not None:
        if not access.has(p, "admin"):
            raise Forbidden("errors.queues.on_behalf")
        if isinstance(reviewer, bool) or not isinstance(reviewer, int) or not 1 <= reviewer <= ROW_ID_MAX:
            raise InvalidInput("errors.queues.reviewer")
        return reviewer
    if p.user_id is None:
        raise InvalidInput("errors.queues.reviewer_needed")
    if p.user_id not in q.reviewers and not access.has(p, "admin"):
        raise Forbidden("errors.queues.not_reviewer")
    return p.user_id


def _member(session: Session, p: Principal, user_id: int) -> None:
    if session.scalar(select(Membership.id).where(Membership.workspace_id == p.workspace_id,
                                                  Membership.user_id == user_id)) is None:
        raise InvalidInput("errors.queues.not_members", ids=str(user_id))


def _not_marked(reviewer_id: int) -> Any:
    return ~exists().where(QueueMark.item_id == QueueItem.id, QueueMark.reviewer_id == reviewer_id)


def next_item_row(session: Session, q: AnnotationQueue, reviewer_id: int) -> QueueItem | None:
    """The reviewer's next item: the first waiting one after the last they marked that they have not
    marked, else the first such from the start (items added meanwhile, or passed over). One statement
    while there is one after the last mark (that mark is one index entry, however many marks)."""
    last = (select(QueueMark.item_id).where(QueueMark.queue_id == q.id, QueueMark.reviewer_id == reviewer_id)
            .order_by(QueueMark.item_id.desc()).limit(1).scalar_subquery())
    base = select(QueueItem).where(QueueItem.queue_id == q.id, QueueItem.state == "waiting",
                                   _not_marked(reviewer_id)).order_by(QueueItem.id).limit(1)
    return session.scalar(base.where(QueueItem.id > func.coalesce(last, 0))) or session.scalar(base)


def next_item(session: Session, p: Principal, queue_id: int, *, reviewer: Any = None) -> dict[str, Any]:
    """{item: the reviewer's next item (see item()) or None, progress}."""
    access.require(p, "read")
    q = _queue(session, p, queue_id)
    rid = _reviewer(p, q, reviewer)
    found = next_item_row(session, q, rid) if q.status == "open" else None
    return {"item": _item(session, p, q, found, rid, unmarked=True) if found else None,
            "progress": progress_of(session, q, rid)}


def item(session: Session, p: Principal, queue_id: int, item_id: int, *, reviewer: Any = None) -> dict[str, Any]:
    access.require(p, "read")
    q = _queue(session, p, queue_id)
    rid = _reviewer(p, q, reviewer) if (reviewer is not None or p.user_id is not None) else None
    return _item(session, p, q, item_id, rid)


def _item_row(session: Session, q: AnnotationQueue, item_id: int) -> QueueItem:
    found = session.scalar(select(QueueItem).where(QueueItem.queue_id == q.id, QueueItem.id == item_id))
    if found is None:
        raise NotFound("errors.queues.item_not_found", id=item_id)
    return found


def _item(session: Session, p: Principal, q: AnnotationQueue, item: int | QueueItem, reviewer_id: int | None, *,
          unmarked: bool = False) -> dict[str, Any]:
    """An item (its id, or its row) with its request (input, output) and reviews: the reviewer's own,
    and the others' only when the reviewer has given theirs (or is not named on the queue).
    `unmarked`: the reviewer has not marked it (next_item_row), so has given nothing yet."""
    it = item if isinstance(item, QueueItem) else _item_row(session, q, item)
    r = session.get(Request, it.request_id)
    mark = session.scalar(select(QueueMark.state).where(QueueMark.item_id == it.id, QueueMark.reviewer_id == reviewer_id)
                          ) if reviewer_id and not unmarked else None
    blind = reviewer_id is not None and reviewer_id in q.reviewers and mark != "done"
    reviews = [] if blind and unmarked else session.scalars(
        select(Review).where(Review.item_id == it.id).order_by(Review.reviewer_id, Review.name)).all()
    mine = [_review(v) for v in reviews if v.reviewer_id == reviewer_id]
    others = None if blind else [_review(v) for v in reviews if v.reviewer_id != reviewer_id]
    return {"id": it.id, "queue": q.id, "state": it.state, "reviewed": it.reviewed, "added_at": it.added_at,
            "mark": mark, "request": {"id": r.client_id, "number": r.id, "start_time": r.start_time,
                                      "prompt": r.prompt_name, "version": r.version_number, "model": r.model,
                                      "status": r.status, "input": r.input, "output": r.output},
            "mine": mine, "others": others, "others_hidden": blind}


def _review(v: Review) -> dict[str, Any]:
    return {"reviewer": v.reviewer_id, "name": v.name, "value": v.value, "comment": v.comment,
            "created_at": v.created_at}


def _mark(session: Session, it: QueueItem, reviewer_id: int, state: str) -> str | None:
    """The reviewer's mark on the item set to `state`; the one it had before (None: none)."""
    old = session.scalar(select(QueueMark).where(QueueMark.item_id == it.id, QueueMark.reviewer_id == reviewer_id)
                         .with_for_update())
    before = old.state if old else None
    if old is None:
        session.add(QueueMark(item_id=it.id, reviewer_id=reviewer_id, queue_id=it.queue_id, state=state))
    else:
        old.state, old.created_at = state, utcnow()
    session.flush()
    return before


def submit(session: Session, p: Principal, queue_id: int, item_id: int, values: Any, *, comment: Any = None,
           reviewer: Any = None) -> dict[str, Any]:
    """The reviewer's values for every score of the queue ({name: value}) and a comment; giving
    them again replaces them. The item is done when enough reviewers gave theirs: the request's
    scores are then written (each score's mean over the reviewers)."""
    access.require(p, "read")
    q = _queue(session, p, queue_id)
    rid = _reviewer(p, q, reviewer)
    if reviewer is not None:
        _member(session, p, rid)
    if q.status != "open":
        raise Conflict("errors.queues.closed", name=q.name)
    if not isinstance(values, dict):
        raise InvalidInput("errors.queues.values")
    specs = {s["name"]: s for s in q.scores}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise InvalidInput("errors.queues.unknown_score", name=unknown[0])
    missing = [n for n in specs if values.get(n) in (None, "")]
    if missing:
        raise InvalidInput("errors.queues.missing_score", name=missing[0])
    text = _text(comment, "comment")
    configs = score_configs.for_scoring(session, q.workspace_id)
    checked = {n: score_value(specs[n], values[n], configs.get(n) if specs[n].get("config") else None, text)
               for n in specs}
    it = session.scalar(select(QueueItem).where(QueueItem.queue_id == q.id, QueueItem.id == item_id).with_for_update())
    if it is None:
        raise NotFound("errors.queues.item_not_found", id=item_id)
    have = {v.name: v for v in session.scalars(select(Review).where(Review.item_id == it.id,
                                                                    Review.reviewer_id == rid))}
    for name, value in checked.items():
        if name in have:
            have[name].value, have[name].comment, have[name].created_at = value, text, utcnow()
        else:
            session.add(Review(item_id=it.id, queue_id=q.id, workspace_id=q.workspace_id, reviewer_id=rid, name=name,
                               value=value, comment=text))
    if _mark(session, it, rid, "done") != "done":
        it.reviewed += 1
    if it.reviewed >= q.reviews_per_item:
        it.state = "done"
        _write_scores(session, p, q, it, configs)
    session.flush()
    return {"item": it.id, "state": it.state, "reviewed": it.reviewed}


def _write_scores(session: Session, p: Principal, q: AnnotationQueue, it: QueueItem,
                  configs: dict[str, scd.ScoreConfig]) -> None:
    """The request's scores from the item's reviews (domain/score_configs.combined), the comments joined."""
    by_name: dict[str, list[Review]] = defaultdict(list)
    for v in session.scalars(select(Review).where(Review.item_id == it.id).order_by(Review.reviewer_id)):
        by_name[v.name].append(v)
    payload = [{"name": name, "value": scd.combined([v.value for v in vs], configs.get(name)), "source": "human",
                "comment": " / ".join(v.comment for v in vs if v.comment)[:MAX_TEXT], "author": f"queue:{q.name}"[:320]}
               for name, vs in by_name.items()]
    writer = keys.system_principal(q.workspace_id, actor=p.actor)
    ra.annotate(session, writer, str(it.request_id), ra.SCORES, payload, grace_s=0, stored_only=True)


def skip(session: Session, p: Principal, queue_id: int, item_id: int, *, reviewer: Any = None) -> dict[str, Any]:
    """The reviewer passes the item over (their reviews of it, if any, stay)."""
    access.require(p, "read")
    q = _queue(session, p, queue_id)
    rid = _reviewer(p, q, reviewer)
    it = _item_row(session, q, item_id)
    existing = session.scalar(select(QueueMark.state).where(QueueMark.item_id == it.id, QueueMark.reviewer_id == rid))
    if existing != "done":
        _mark(session, it, rid, "skipped")
    return {"item": it.id, "state": it.state}


# --- progress and the overview ---------------------------------------------------------------


def progress_of(session: Session, q: AnnotationQueue, reviewer_id: int) -> dict[str, int]:
    """For one reviewer: items they are through with (done, skipped), and the queue's items."""
    items = select(func.count()).select_from(QueueItem).where(QueueItem.queue_id == q.id).scalar_subquery()
    done, skipped, total = session.execute(select(
        func.count().filter(QueueMark.state == "done"), func.count().filter(QueueMark.state == "skipped"), items)
        .where(QueueMark.queue_id == q.id, QueueMark.reviewer_id == reviewer_id)).one()
    done, skipped, total = done or 0, skipped or 0, total or 0
    return {"done": done, "skipped": skipped, "total": total, "position": min(done + skipped + 1, total)}


def progress(session: Session, p: Principal, queue_id: int) -> dict[str, int]:
    """The calling reviewer's progress in a queue (see progress_of)."""
    access.require(p, "read")
    q = _queue(session, p, queue_id)
    return progress_of(session, q, _reviewer(p, q))


def overview(session: Session, p: Principal, queue_id: int) -> dict[str, Any]:
    """A queue with its counts, progress per reviewer and the items where reviewers differ."""
    access.require(p, "read")
    q = _queue(session, p, queue_id)
    total = session.scalar(select(func.count()).select_from(QueueItem).where(QueueItem.queue_id == q.id)) or 0
    per: dict[int, dict[str, int]] = defaultdict(lambda: {"done": 0, "skipped": 0})
    for rid, state, n in session.execute(select(QueueMark.reviewer_id, QueueMark.state, func.count())
                                         .where(QueueMark.queue_id == q.id)
                                         .group_by(QueueMark.reviewer_id, QueueMark.state)):
        per[rid][state] = n
    ids = sorted(set(q.reviewers) | set(per))
    people = {u.id: u for u in session.scalars(select(User).where(bulk.one_of(User.id, ids)))} if ids else {}
    reviewers = [{"id": i, "email": people[i].email if i in people else "", "name": people[i].name if i in people else "",
                  "named": i in q.reviewers, **per[i]} for i in ids]
    return get(session, p, queue_id) | {"total": total, "reviewers": reviewers, "agreement": qa.agreement_of(session, q),
                                        "judge_agreement": qa.judge_agreement(session, q),
                                        "disagreements": qa.disagreements(session, q, viewer=p.user_id)}


def remove_for_requests(session: Session, request_ids: list[int]) -> None:
    """Erasure: the queue items of these requests go, with their marks and reviews."""
    if not request_ids:
        return
    items = select(QueueItem.id).where(bulk.one_of(QueueItem.request_id, request_ids))
    session.execute(delete(Review).where(Review.item_id.in_(items)))
    session.execute(delete(QueueMark).where(QueueMark.item_id.in_(items)))
    session.execute(delete(QueueItem).where(bulk.one_of(QueueItem.request_id, request_ids)))
