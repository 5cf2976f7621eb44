"""Removing logs: the one home for it. Erasure (one log, every log of one end user, every log a
filter matches) and retention (logs older than the workspace's period, purged by the server's
tick and on request).

`delete_requests` is the one primitive: it takes the requests (and, through their keys' ON DELETE
CASCADE, their metadata, tags, scores and redaction counts) out of the tables with the dataset items made
from them (every version's: services/datasets.forget_requests), takes them and
their scores out of the running totals (version totals, latency buckets, score totals and the
experiments' per-unit sums, whose emptied units go), and drops pending updates sent for their
ids. Larger removals run in batches of BATCH logs, one transaction each, so that no purge holds
one huge transaction; afterwards the database gives the space back and its files keep no copy of
the text (store/db.Database.reclaim; docs/privacy.md says what is proven on which database).

Erasure and retention changes need the admin scope (owners and admins in the UI). Each run is
one audit event with who, when, what selected the logs and how many went; never their content.
An end user's metadata value is kept only as a keyed hash (see `value_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from promptyard.domain import access, query
from promptyard.domain.logs import text_of
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import annotation_queues, audit, datasets, experiment_records, keys, request_reads
from promptyard.store import bulk, faults, partitions, rollups, text_search
from promptyard.store.db import Database
from promptyard.store.models import AuditEvent, PendingUpdate, Request, Score, Span, Trace, Workspace
from promptyard.store.query_sql import where
from promptyard.store.types import utcnow

BATCH = 1000  # logs per transaction
TICK_BATCHES = 10  # batches one server tick purges at most (the next tick goes on)
MAX_RETENTION_DAYS = 36_500


# --- the primitive -----------------------------------------------------------------------------


_COLUMNS = (Request.id, Request.client_id, Request.prompt_name, Request.version_number, Request.status,
            Request.total_tokens, Request.cost, Request.latency_ms, Request.start_time, Request.experiment_id,
            Request.routing)


def delete_requests(session: Session, workspace_id: int, ids: list[int]) -> int:
    """Delete these requests of the workspace (ids of others are ignored) with the totals adjusted;
    how many went. The rows are locked first (PostgreSQL), so a score written at the same moment
    either lands before (and is subtracted here) or finds no request."""
    if not ids:
        return 0
    r = Request
    rows = session.execute(
        select(*_COLUMNS, r.input, r.output).where(r.workspace_id == workspace_id, bulk.one_of(r.id, ids))
        .order_by(r.id).with_for_update()).all()
    if not rows:
        return 0
    found = [row.id for row in rows]
    changes = _release(session, workspace_id, rows, rollups.Changes())
    text_search.remove(session, [(row.id, workspace_id, text_of(row.input), text_of(row.output)) for row in rows])
    session.execute(delete(Request.__table__).where(Request.workspace_id == workspace_id, bulk.one_of(Request.id, found)))
    changes.apply(session, workspace_id)  # last, in key order (see rollups)
    return len(found)


def _release(session: Session, workspace_id: int, rows: list[Any], changes: rollups.Changes) -> rollups.Changes:
    """Everything that holds on to these requests (rows of _COLUMNS) but their own tables' rows: their
    and their scores' share of the totals is subtracted into `changes`; their pending updates, client
    ids, traces, dataset items and queue items go."""
    found = [row.id for row in rows]
    scores: dict[int, list[tuple[str, float]]] = {}
    for rid, name, value in session.execute(select(Score.request_id, Score.name, Score.value)
                                            .where(bulk.one_of(Score.request_id, found))):
        scores.setdefault(rid, []).append((name, value))
    for row in rows:
        version = rollups.key(row.prompt_name, row.version_number)
        unit = experiment_records.unit_key(row.experiment_id, row.version_number, (row.routing or {}).get("rule"),
                                           (row.routing or {}).get("unit"))
        changes.request(version, at=row.start_time, status=row.status, total_tokens=row.total_tokens, cost=row.cost,
                        latency_ms=row.latency_ms, sign=-1, unit=unit)
        for name, value in scores.get(row.id, ()):
            changes.score(version, name, value, at=row.start_time, sign=-1, unit=unit)
    client_ids = [row.client_id for row in rows]
    session.execute(delete(PendingUpdate).where(PendingUpdate.workspace_id == workspace_id,
                                                bulk.one_of(PendingUpdate.client_id, client_ids)))
    partitions.forget(session, workspace_id, client_ids)
    _delete_traces(session, workspace_id, found)
    datasets.forget_requests(session, workspace_id, found)  # items made from them are copies of their text
    annotation_queues.remove_for_requests(session, found)
    return changes


def _run(db: Database, workspace_id: int, cond: ColumnElement[bool], *, record: Callable[[Session, int], Any],
         max_batches: int | None = None, skip_locked: bool = False, check: Callable[[Session], None] | None = None
         ) -> tuple[int, int]:
    """Delete every request of the workspace matching `cond`, BATCH per transaction, oldest id
    first; `record(session, deleted so far)` writes the audit event in each batch's transaction
    (so that it always says what is committed); `check` runs in the first. Several servers may
    purge at once: with `skip_locked` each takes rows the others do not hold. (deleted, batches
    that deleted something)."""
    total, batches, first = 0, 0, True
    while max_batches is None or batches < max_batches:
        with db.write() as s:
            if check and first:
                check(s)
            q = select(Request.id).where(Request.workspace_id == workspace_id, cond).order_by(Request.id).limit(BATCH)
            ids = list(s.scalars(q.with_for_update(skip_locked=True) if skip_locked else q))
            total += delete_requests(s, workspace_id, ids)
            if ids or first:
                record(s, total)
        first = False
        batches += 1 if ids else 0  # a look that finds nothing is no batch of work
        if len(ids) < BATCH:
            break
    if total:
        db.reclaim()
    return total, batches


class _Event:
    """One audit event per run, whose count grows with each committed batch."""

    def __init__(self, p: Principal, action: str, obj_type: str, obj_id: object, details: dict[str, Any],
                 *, when_empty: bool = True):
        self.p, self.action, self.obj_type, self.obj_id, self.details = p, action, obj_type, obj_id, details
        self.when_empty, self.id = when_empty, None

    def __call__(self, session: Session, count: int) -> None:
        if self.id is None:
            if not count and not self.when_empty:
                return
            event = audit.record(session, self.p.workspace_id, self.p.actor, self.action, self.obj_type, self.obj_id,
                                 self.details | {"count": count})
            session.flush()
            self.id = event.id
            return
        session.get(AuditEvent, self.id).details = self.details | {"count": count}


def _count(session: Session, workspace_id: int, cond: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(Request).where(Request.workspace_id == workspace_id, cond))


def _expect(workspace_id: int, cond: ColumnElement[bool], expected: int | None) -> Callable[[Session], None] | None:
    """The real run after a preview: refused when the selection no longer matches what was shown."""
    if expected is None:
        return None

    def check(session: Session) -> None:
        now = _count(session, workspace_id, cond)
        if now != expected:
            raise Conflict("errors.privacy.selection_now_matches_logs", now=now, expected=expected,
                           details={"count": now, "expected": expected})
    return check


# --- erasure -----------------------------------------------------------------------------------


def erase_one(db: Database, p: Principal, ref: str) -> dict[str, Any]:
    """Delete one log (by its id or number)."""
    access.require(p, "admin")
    with db.write() as s:
        rid = request_reads.find(s, p, ref)
        client_id = rid and s.scalar(select(Request.client_id).where(Request.id == rid))
        if rid is None or not delete_requests(s, p.workspace_id, [rid]):
            raise NotFound("errors.privacy.no_request_id", ref=ref)
        audit.record(s, p.workspace_id, p.actor, "request.erase", "request", rid,
                     {"client_id": client_id, "count": 1})
    db.reclaim()
    return {"id": client_id, "number": rid, "count": 1, "dry_run": False}


def value_digest(session: Session, workspace_id: int, key: str, value: str) -> str:
    """What the audit trail keeps of an erased end user: HMAC-SHA256 of key and value under a key
    derived from the server's secret, so that whoever knows the id (and runs this server) can show
    that its logs were erased, while the trail itself names nobody."""
    secret = session.info.get("secret") or b""
    k = hmac.new(secret, f"promptyard/erasure/{workspace_id}".encode(), hashlib.sha256).digest()
    return hmac.new(k, f"{key}\x00{value}".encode(), hashlib.sha256).hexdigest()


def end_user_filter(key: Any, value: Any) -> query.Node:
    """metadata.<key> = <value> (numbers become text, as in stored metadata)."""
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise InvalidInput("errors.privacy.metadata_key_1_200")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
        raise InvalidInput("errors.privacy.metadata_value_end_user")
    return query.check(query.Cond("metadata", key, "=", str(value)), path="metadata_value")


def erase_end_user(db: Database, p: Principal, key: Any, value: Any, *, dry_run: bool = False,
                   expected: int | None = None) -> dict[str, Any]:
    """Every log of one end user: those whose metadata `key` is `value`."""
    node = end_user_filter(key, value)
    with db.read() as s:
        details = {"metadata_key": key, "value_hmac": value_digest(s, p.workspace_id, key, node.value)}
    return _erase(db, p, node, "requests.erase_user", details, dry_run=dry_run, expected=expected)


def erasures_of(session: Session, p: Principal, key: Any, value: Any) -> list[dict[str, Any]]:
    """The proof that one end user's logs were erased: the erasure events whose keyed hash is
    theirs (who, when, how many), newest first."""
    access.require(p, "admin")
    node = end_user_filter(key, value)
    digest = value_digest(session, p.workspace_id, key, node.value)
    rows = session.scalars(select(AuditEvent).where(AuditEvent.workspace_id == p.workspace_id,
                                                     AuditEvent.action == "requests.erase_user")
                           .order_by(AuditEvent.id.desc()))
    return [{"actor": e.actor, "created_at": e.created_at, "count": e.details.get("count"),
             "metadata_key": e.details.get("metadata_key")}
            for e in rows if e.details.get("value_hmac") == digest and e.details.get("metadata_key") == key]


def parse_filter(filter: Any) -> query.Node:
    """The search language (text or its JSON form); an empty filter is refused, never 'every log'."""
    node = query.from_json(filter) if isinstance(filter, dict) else query.parse(filter if isinstance(filter, str)
                                                                                else "")
    if node is None:
        raise InvalidInput("errors.privacy.filter_say_which_logs")
    return node


def erase_by_filter(db: Database, p: Principal, filter: Any, *, dry_run: bool = False,
                    expected: int | None = None) -> dict[str, Any]:
    """Every log the filter matches (the language of search, domain/query.py)."""
    node = parse_filter(filter)
    return _erase(db, p, node, "requests.erase_filter", {"filter": query.to_text(node)}, dry_run=dry_run,
                  expected=expected)


def _erase(db: Database, p: Principal, node: query.Node, action: str, details: dict[str, Any], *,
           dry_run: bool, expected: int | None) -> dict[str, Any]:
    access.require(p, "admin")
    cond = where(node, utcnow())  # relative times are fixed once for the preview and every batch
    if dry_run:
        with db.read() as s:
            return {"count": _count(s, p.workspace_id, cond), "dry_run": True}
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int) or expected < 0):
        raise InvalidInput("errors.privacy.expected_count_preview_showed")
    count, _ = _run(db, p.workspace_id, cond, record=_Event(p, action, "requests", "", details),
                    check=_expect(p.workspace_id, cond, expected))
    return {"count": count, "dry_run": False}


def _delete_traces(session: Session, workspace_id: int, request_ids: list[int]) -> None:
    """The traces these requests were LLM calls of go with them, every span: the others (retrieval,
    tools, chains) may hold the same conversation. The trace's other logs stay, without a trace."""
    rows = list(session.scalars(select(Span.trace_row).where(
        Span.workspace_id == workspace_id, bulk.one_of(Span.request_id, request_ids)).distinct()))
    if rows:
        session.execute(delete(Span).where(bulk.one_of(Span.trace_row, rows)))
        session.execute(delete(Trace).where(Trace.workspace_id == workspace_id, bulk.one_of(Trace.id, rows)))


def _purge_spans(db: Database, workspace_id: int, cutoff: datetime) -> None:
    """Retention for traces: spans that started before the cutoff (an LLM span goes with its log
    anyway), then the traces left without spans."""
    with db.write() as s:
        s.execute(delete(Span).where(Span.workspace_id == workspace_id, Span.start_time < cutoff))
        empty = select(Trace.id).where(Trace.workspace_id == workspace_id,
                                       ~select(Span.id).where(Span.trace_row == Trace.id).exists())
        s.execute(delete(Trace).where(Trace.id.in_(empty.scalar_subquery())))


# --- retention ---------------------------------------------------------------------------------


def _cutoff(days: int | None, now: datetime) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _expired(cutoff: datetime) -> ColumnElement[bool]:
    """Logs older than the period go by their start time (the conversation's), read from the
    (workspace_id, start_time) index."""
    return Request.start_time < cutoff


def retention(session: Session, p: Principal, now: datetime | None = None) -> dict[str, Any]:
    """The workspace's period, its cutoff now and how many logs a purge would remove (the dry run)."""
    access.require(p, "read")
    days = session.scalar(select(Workspace.retention_days).where(Workspace.id == p.workspace_id))
    cutoff = _cutoff(days, now or utcnow())
    return {"days": days, "cutoff": cutoff,
            "expired": 0 if cutoff is None else _count(session, p.workspace_id, _expired(cutoff))}


def set_retention(session: Session, p: Principal, days: Any, reason: Any) -> dict[str, Any]:
    """Keep logs `days` days (1-36,500), or until erased (None). Audited, with the reason."""
    access.require(p, "admin")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                             or not 1 <= days <= MAX_RETENTION_DAYS):
        raise InvalidInput("errors.privacy.days_whole_number_from", max_retention_days=MAX_RETENTION_DAYS)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 5000:
        raise InvalidInput("errors.privacy.reason_say_why_retention")
    ws = session.get(Workspace, p.workspace_id, with_for_update=True)
    before, ws.retention_days = ws.retention_days, days
    audit.record(session, p.workspace_id, p.actor, "retention.set", "workspace", p.workspace_id,
                 {"from": before, "to": days, "reason": reason.strip()})
    session.flush()
    return retention(session, p)


def purge(db: Database, p: Principal, *, dry_run: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Purge this workspace's expired logs now (all of them), or say how many would go."""
    access.require(p, "admin")
    now = now or utcnow()
    with db.read() as s:
        state = retention(s, p, now)
    if dry_run or state["cutoff"] is None:
        return {"count": state["expired"], "dry_run": dry_run, "days": state["days"], "cutoff": state["cutoff"]}
    count, _ = _purge_workspace(db, p, state["days"], state["cutoff"], None)
    return {"count": count, "dry_run": False, "days": state["days"], "cutoff": state["cutoff"]}


def _purge_workspace(db: Database, p: Principal, days: int, cutoff: datetime,
                     max_batches: int | None) -> tuple[int, int]:
    event = _Event(p, "retention.purge", "workspace", p.workspace_id, {"days": days, "cutoff": cutoff.isoformat()},
                   when_empty=False)
    done = _run(db, p.workspace_id, _expired(cutoff), record=event, max_batches=max_batches, skip_locked=True)
    _purge_spans(db, p.workspace_id, cutoff)
    return done


def purge_expired(db: Database, now: datetime | None = None, *, max_batches: int = TICK_BATCHES) -> dict[int, int]:
    """The server's tick: expired logs of every workspace with a retention period, at most
    `max_batches` batches in all (the next tick goes on); on PostgreSQL whole expired months first
    (`drop_expired_months`). Safe from several processes at once. {workspace id: logs purged}."""
    now = now or utcnow()
    done = drop_expired_months(db, now)
    with db.read() as s:
        periods = s.execute(select(Workspace.id, Workspace.retention_days)
                            .where(Workspace.retention_days.is_not(None)).order_by(Workspace.id)).all()
    budget = max_batches
    for workspace_id, days in periods:
        if budget <= 0:
            break
        p = keys.system_principal(workspace_id, actor="retention")
        n, used = _purge_workspace(db, p, days, _cutoff(days, now), budget)
        budget -= used
        if n:
            done[workspace_id] = done.get(workspace_id, 0) + n
    if db.unreclaimed:  # an earlier reclaim left work (the text index's merge, a checkpoint): on with it
        db.reclaim(erased=False)
    return done


# --- whole months (PostgreSQL) -----------------------------------------------------------------


def drop_expired_months(db: Database, now: datetime) -> dict[int, int]:
    """PostgreSQL: every closed month of the request log (store/partitions.py) whose logs are all
    past their workspace's period, or that is empty, is dropped whole: its partitions' files go at
    once, with no row-by-row delete and no VACUUM. The row-by-row purge keeps each log's period
    exact meanwhile, so this is what takes a backlog (a period shortened, a server that was off)
    and the emptied months. {workspace id: logs purged}."""
    with db.read() as s:
        conn = s.connection()
        closed = [m for m in partitions.months(conn) if m.high <= partitions.first_id(partitions.month_of(now))] \
            if partitions.is_partitioned(conn) else []
    done: dict[int, int] = {}
    for month in closed:
        try:
            for workspace_id, n in _drop_month(db, month, now).items():
                done[workspace_id] = done.get(workspace_id, 0) + n
        except DBAPIError as exc:
            if not faults.lock_timed_out(exc):
                raise
            # a long read held the log's tables: the next tick tries again
    return done


CHUNK = 5000  # logs read at once while a month is dropped
# How long dropping a month waits for a lock before it tries again at the next tick: the detach
# waits for reads of the log to finish, and queues every new read and write behind it meanwhile.
LOCK_WAIT = "200ms"


def _drop_month(db: Database, month: partitions.Month, now: datetime) -> dict[int, int]:
    part = month.partition("requests")
    with db.write() as s:
        conn = s.connection()
        partitions.lock(conn)  # one dropper at a time, the partitions as listed
        if month not in partitions.months(conn):
            return {}
        kept = text(f"SELECT 1 FROM workspaces w WHERE EXISTS (SELECT 1 FROM {part} r WHERE r.workspace_id = w.id "
                    "AND r.start_time >= coalesce(:now - make_interval(secs => w.retention_days * 86400.0), "
                    "'-infinity')) LIMIT 1")
        if conn.scalar(kept, {"now": now}):  # most ticks: a month still in its period, no lock taken
            return {}
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
        # scores and metadata updates of these logs wait until the month is gone (and then find no log)
        conn.execute(text(f"LOCK TABLE {', '.join(month.partition(t) for t in partitions.TABLES)} IN SHARE MODE"))
        if conn.scalar(kept, {"now": now}):  # a period lengthened before the lock
            return {}
        periods = dict(s.execute(select(Workspace.id, Workspace.retention_days)).all())
        changes: dict[int, rollups.Changes] = {}
        counts: dict[int, int] = {}
        after = month.low
        while True:  # one pass, in id order
            q = select(Request.workspace_id, *_COLUMNS).where(Request.id < month.high)
            rows = s.execute((q if after is None else q.where(Request.id >= after)).order_by(Request.id)
                             .limit(CHUNK)).all()
            if not rows:
                break
            for workspace_id in sorted({row.workspace_id for row in rows}):
                of = [row for row in rows if row.workspace_id == workspace_id]
                _release(s, workspace_id, of, changes.setdefault(workspace_id, rollups.Changes()))
                counts[workspace_id] = counts.get(workspace_id, 0) + len(of)
            after = rows[-1].id + 1
        for workspace_id in sorted(changes):  # in key order (see rollups)
            changes[workspace_id].apply(s, workspace_id)
        s.execute(text("UPDATE evaluation_items SET request_id = NULL WHERE request_id < :high"
                       + ("" if month.low is None else " AND request_id >= :low")), {"high": month.high, "low": month.low})
        partitions.drop(conn, month)
        for workspace_id, n in counts.items():
            p = keys.system_principal(workspace_id, actor="retention")
            days = periods[workspace_id]
            _Event(p, "retention.purge", "workspace", workspace_id,
                   {"days": days, "cutoff": _cutoff(days, now).isoformat(), "month": month.name})(s, n)
    return counts
