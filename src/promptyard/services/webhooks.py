"""Webhooks: a workspace's registry and experiment events POSTed to URLs of its choice (admins; audited).

Events (EVENTS): version.published, label.moved, experiment.started, experiment.ended, ramp.stopped,
evaluation.finished, and webhook.test (only ever sent by "send test event").

`emit(session, workspace_id, event, payload)` writes one outbox row per subscribed webhook in the
caller's transaction: a change that rolls back sends nothing, and a committed change is never lost (the
row waits until it is delivered). The server's tick (`deliver_due`, web/app.py) sends due rows in
bounded batches, outside any transaction; a delivery that fails (no answer, or not 2xx) is retried after
1 min, 5 min, 30 min, 2 h and 12 h, then marked failed. Each delivery is one attempt
(services/outbound.send without retries of its own: the schedule is the retry) under the outbound rules,
checked again at every connection.

The body (format json) is `{"id", "event", "created_at", "workspace_id", "data"}`; `id` stays the same
across retries (receivers deduplicate on it, also sent as X-Promptyard-Delivery). Format slack sends
`{"text": ...}`, which Slack's (and Mattermost's, Discord's /slack) incoming webhooks show as a message.
Signature: `X-Promptyard-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with
`X-Promptyard-Timestamp: <unix seconds>` (docs/webhooks.md shows how to verify it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as random_secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound, PromptyardError
from promptyard.services import audit, outbound, secrets
from promptyard.store.models import Webhook, WebhookDelivery
from promptyard.store.types import utcnow

EVENTS = ("version.published", "label.moved", "experiment.started", "experiment.ended", "ramp.stopped",
          "evaluation.finished")
TEST_EVENT = "webhook.test"
FORMATS = ("json", "slack")
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
               timedelta(hours=12))  # after attempt 1..5; attempt 6 failing marks the delivery failed
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
BATCH = 50  # deliveries per tick
SENDERS = 8  # deliveries sent at once
# A claimed delivery is not claimed again meanwhile (by another server; after a crash, once it passes). Longer
# than a batch can take: ceil(BATCH / SENDERS) * DELIVERY_TIMEOUT_S = 70 s.
LEASE = timedelta(minutes=2)
DELIVERY_TIMEOUT_S = 10.0
EXCERPT = 500
MAX_HOOKS = 50


@dataclass(frozen=True)
class WebhookRecord:
    id: int
    url: str
    events: list[str]
    format: str
    active: bool
    description: str
    secret_hint: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    secret: str | None = None  # only in the answer that created it (or rotated it)


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    webhook_id: int
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str
    response_excerpt: str
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


def _record(w: Webhook, session: Session, secret: str | None = None) -> WebhookRecord:
    hint = secrets.hint(secret or _secret_of(session, w, quiet=True))
    return WebhookRecord(w.id, w.url, list(w.events), w.format, bool(w.active), w.description, hint, w.created_by,
                         w.created_at, w.updated_at, secret)


def _delivery(d: WebhookDelivery) -> DeliveryRecord:
    return DeliveryRecord(d.id, d.webhook_id, d.event, d.payload, d.status, d.attempts, d.next_attempt_at,
                          d.last_status, d.last_error, d.response_excerpt, d.created_at, d.updated_at, d.delivered_at)


def _context(webhook_id: int) -> str:
    return f"webhook:{webhook_id}"


def _secret_of(session: Session, w: Webhook, quiet: bool = False) -> str:
    try:
        return secrets.decrypt(session, w.secret, _context(w.id))
    except PromptyardError:
        if quiet:
            return ""
        raise


def _row(session: Session, workspace_id: int, webhook_id: int) -> Webhook:
    w = session.scalar(select(Webhook).where(Webhook.workspace_id == workspace_id, Webhook.id == webhook_id))
    if w is None:
        raise NotFound("errors.webhooks.not_found", id=webhook_id)
    return w


# ------------------------------------------------------------------------------------------ checks


def _url(session: Session, value: Any) -> str:
    outbound.check(value, outbound.policy_of(session))
    return value.strip()


def _events(value: Any) -> list[str]:
    if value is None:
        return ["*"]
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise InvalidInput("errors.webhooks.events", field="events", events=", ".join(EVENTS))
    bad = [e for e in value if e != "*" and e not in EVENTS]
    if bad:
        raise InvalidInput("errors.webhooks.unknown_event", field="events", name=bad[0][:60],
                           events=", ".join(EVENTS))
    return ["*"] if "*" in value else sorted(set(value))


def _format(value: Any) -> str:
    if value not in FORMATS:
        raise InvalidInput("errors.webhooks.format", field="format")
    return value


def _description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidInput("errors.webhooks.description", field="description")
    return value.strip()


def _new_secret(value: Any) -> str:
    if value in (None, ""):
        return "whsec_" + random_secrets.token_urlsafe(32)
    if not isinstance(value, str) or not 16 <= len(value) <= 200 or any(ord(c) < 33 for c in value):
        raise InvalidInput("errors.webhooks.secret", field="secret")
    return value


# ------------------------------------------------------------------------------------------ admin


def list_all(session: Session, p: Principal) -> list[WebhookRecord]:
    access.require(p, "admin")
    rows = session.scalars(select(Webhook).where(Webhook.workspace_id == p.workspace_id).order_by(Webhook.id))
    return [_record(w, session) for w in rows]


def get(session: Session, p: Principal, webhook_id: int) -> WebhookRecord:
    access.require(p, "admin")
    return _record(_row(session, p.workspace_id, webhook_id), session)


def create(session: Session, p: Principal, *, url: Any, events: Any = None, format: Any = "json",  # noqa: A002
           description: Any = "", secret: Any = None, active: bool = True) -> WebhookRecord:
    """A new webhook; its signing secret (given, or made here) is in this answer only."""
    access.require(p, "admin")
    url = _url(session, url)
    plain = _new_secret(secret)
    count = len(session.scalars(select(Webhook.id).where(Webhook.workspace_id == p.workspace_id)).all())
    if count >= MAX_HOOKS:
        raise InvalidInput("errors.webhooks.too_many", field="url", limit=MAX_HOOKS)
    w = Webhook(workspace_id=p.workspace_id, url=url, events=_events(events), format=_format(format),
                description=_description(description), active=1 if active else 0, secret="", created_by=p.actor)
    session.add(w)
    session.flush()
    w.secret = secrets.encrypt(session, plain, _context(w.id))
    audit.record(session, p.workspace_id, p.actor, "webhook.create", "webhook", w.id,
                 {"url": outbound.shown(url), "events": w.events, "format": w.format})
    return _record(w, session, plain)


def update(session: Session, p: Principal, webhook_id: int, changes: dict[str, Any]) -> WebhookRecord:
    """Change the fields given: url, events, format, description, active; `rotate_secret: true` makes
    a new signing secret (in this answer only)."""
    access.require(p, "admin")
    w = _row(session, p.workspace_id, webhook_id)
    changed, plain = [], None
    if "url" in changes and changes["url"] != w.url:
        w.url = _url(session, changes["url"])
        changed.append("url")
    for field, check in (("events", _events), ("format", _format), ("description", _description)):
        if field in changes and changes[field] is not None:
            value = check(changes[field])
            if value != getattr(w, field):
                setattr(w, field, value)
                changed.append(field)
    if changes.get("active") is not None and int(bool(changes["active"])) != w.active:
        w.active = int(bool(changes["active"]))
        changed.append("active")
    if changes.get("rotate_secret"):
        plain = _new_secret(changes.get("secret"))
        w.secret = secrets.encrypt(session, plain, _context(w.id))
        changed.append("secret")
    if changed:
        w.updated_at = utcnow()
        audit.record(session, p.workspace_id, p.actor, "webhook.update", "webhook", w.id,
                     {"url": outbound.shown(w.url), "changed": changed})
    return _record(w, session, plain)


def delete(session: Session, p: Principal, webhook_id: int) -> None:
    access.require(p, "admin")
    w = _row(session, p.workspace_id, webhook_id)
    audit.record(session, p.workspace_id, p.actor, "webhook.delete", "webhook", w.id, {"url": outbound.shown(w.url)})
    session.delete(w)


def deliveries(session: Session, p: Principal, webhook_id: int, *, limit: int = 50,
               before_id: int | None = None) -> list[DeliveryRecord]:
    """The delivery log of one webhook, newest first."""
    access.require(p, "admin")
    _row(session, p.workspace_id, webhook_id)
    q = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if before_id:
        q = q.where(WebhookDelivery.id < before_id)
    return [_delivery(d) for d in session.scalars(q.order_by(WebhookDelivery.id.desc()).limit(min(max(limit, 1), 200)))]


# ------------------------------------------------------------------------------------------ events


def _envelope(workspace_id: int, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "event": event, "created_at": utcnow().isoformat().replace("+00:00", "Z"),
            "workspace_id": workspace_id, "data": payload}


def _enqueue(session: Session, w: Webhook, event: str, payload: dict[str, Any], now: datetime) -> WebhookDelivery:
    d = WebhookDelivery(workspace_id=w.workspace_id, webhook_id=w.id, event=event,
                        payload=_envelope(w.workspace_id, event, payload), status="pending", attempts=0,
                        next_attempt_at=now, last_error="", response_excerpt="", created_at=now, updated_at=now)
    session.add(d)
    return d


def emit(session: Session, workspace_id: int, event: str, payload: dict[str, Any]) -> int:
    """Record `event` for every active webhook of the workspace that subscribes to it, in the caller's
    transaction; the number of deliveries queued. `payload` must be JSON-ready (ids, names, numbers)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = session.scalars(select(Webhook).where(Webhook.workspace_id == workspace_id, Webhook.active == 1)).all()
    now = utcnow()
    queued = 0
    for w in hooks:
        if "*" in w.events or event in w.events:
            _enqueue(session, w, event, payload, now)
            queued += 1
    return queued


def send_test(session: Session, p: Principal, webhook_id: int) -> int:
    """Queue a webhook.test event for one webhook (also a paused one); its delivery id. The caller
    delivers it at once with `deliver(db, [id])` after committing."""
    access.require(p, "admin")
    w = _row(session, p.workspace_id, webhook_id)
    d = _enqueue(session, w, TEST_EVENT, {"message": "Promptyard webhook test", "webhook_id": w.id,
                                          "actor": p.actor}, utcnow())
    session.flush()
    audit.record(session, p.workspace_id, p.actor, "webhook.test", "webhook", w.id, {"delivery": d.id})
    return d.id


def redeliver(session: Session, p: Principal, webhook_id: int, delivery_id: int) -> int:
    """Queue one earlier delivery again, with its same body (and id): a new delivery row, due now."""
    access.require(p, "admin")
    w = _row(session, p.workspace_id, webhook_id)
    old = session.scalar(select(WebhookDelivery).where(WebhookDelivery.webhook_id == w.id,
                                                       WebhookDelivery.id == delivery_id))
    if old is None:
        raise NotFound("errors.webhooks.no_delivery", id=delivery_id)
    now = utcnow()
    d = WebhookDelivery(workspace_id=w.workspace_id, webhook_id=w.id, event=old.event, payload=old.payload,
                        status="pending", attempts=0, next_attempt_at=now, last_error="", response_excerpt="",
                        created_at=now, updated_at=now)
    session.add(d)
    session.flush()
    audit.record(session, p.workspace_id, p.actor, "webhook.redeliver", "webhook", w.id,
                 {"delivery": old.id, "new_delivery": d.id})
    return d.id


def get_delivery(session: Session, p: Principal, webhook_id: int, delivery_id: int) -> DeliveryRecord:
    access.require(p, "admin")
    _row(session, p.workspace_id, webhook_id)
    d = session.scalar(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id,
                                                     WebhookDelivery.id == delivery_id))
    if d is None:
        raise NotFound("errors.webhooks.no_delivery", id=delivery_id)
    return _delivery(d)


# ------------------------------------------------------------------------------------------ delivery


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Promptyard-Signature value of a body sent at `timestamp` (unix seconds, as text)."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def slack_text(envelope: dict[str, Any]) -> str:
    data = envelope.get("data") or {}
    facts = ", ".join(f"{k}: {v}" for k, v in data.items() if isinstance(v, (str, int, float)) and v != "")
    return f"Promptyard · {envelope.get('event')}" + (f" · {facts}" if facts else "")


def body_of(envelope: dict[str, Any], fmt: str) -> bytes:
    shown = {"text": slack_text(envelope)} if fmt == "slack" else envelope
    return json.dumps(shown, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class _Job:
    id: int
    url: str
    fmt: str
    secret: str
    envelope: dict[str, Any]
    event: str
    attempts: int
    policy: outbound.Policy
    error: str = ""


def _claim(db: Any, ids: list[int] | None, limit: int, now: datetime) -> list[_Job]:
    jobs: list[_Job] = []
    with db.write() as s:
        q = select(WebhookDelivery).where(WebhookDelivery.status == "pending")
        q = q.where(WebhookDelivery.id.in_(ids)) if ids is not None else q.where(WebhookDelivery.next_attempt_at <= now)
        rows = s.scalars(q.order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
                         .with_for_update(skip_locked=True)).all()
        policy = outbound.policy_of(s)
        for d in rows:
            w = s.get(Webhook, d.webhook_id)
            d.next_attempt_at = now + LEASE
            try:
                secret = _secret_of(s, w)
            except PromptyardError as exc:
                jobs.append(_Job(d.id, w.url, w.format, "", d.payload, d.event, d.attempts, policy, exc.message))
                continue
            jobs.append(_Job(d.id, w.url, w.format, secret, d.payload, d.event, d.attempts, policy))
    return jobs


def _send(job: _Job) -> tuple[int | None, str, str]:
    """(receiver status or None, error, response excerpt) of one attempt."""
    if job.error:
        return None, job.error, ""
    body = body_of(job.envelope, job.fmt)
    timestamp = str(int(time.time()))
    headers = {"content-type": "application/json", "user-agent": "Promptyard-Webhooks/1",
               "x-promptyard-event": job.event, "x-promptyard-delivery": str(job.envelope.get("id", "")),
               "x-promptyard-timestamp": timestamp, "x-promptyard-signature": sign(job.secret, timestamp, body)}
    try:
        answer = outbound.send(job.policy, "POST", job.url, headers=headers, content=body,
                               timeout_s=min(DELIVERY_TIMEOUT_S, job.policy.timeout_s), retries=0)
    except PromptyardError as exc:
        return getattr(exc, "upstream_status", None), exc.message, ""
    excerpt = answer.text[:EXCERPT]
    if 200 <= answer.status_code < 300:
        return answer.status_code, "", excerpt
    return answer.status_code, f"HTTP {answer.status_code}", excerpt


def _settle(db: Any, results: list[tuple[_Job, int | None, str, str]], now: datetime) -> None:
    with db.write() as s:
        for job, status, error, excerpt in results:
            d = s.get(WebhookDelivery, job.id)
            if d is None:  # its webhook was deleted meanwhile
                continue
            d.attempts += 1
            d.last_status, d.last_error, d.response_excerpt, d.updated_at = status, error[:1000], excerpt, now
            if not error:
                d.status, d.delivered_at, d.next_attempt_at = "delivered", now, None
            elif d.attempts >= MAX_ATTEMPTS or d.event == TEST_EVENT:
                d.status, d.next_attempt_at = "failed", None  # a test is sent once: its answer is the point
            else:
                d.next_attempt_at = now + RETRY_AFTER[d.attempts - 1]


def deliver(db: Any, ids: list[int]) -> None:
    """Send these pending deliveries now (send test event, redeliver)."""
    _run(db, _claim(db, ids, len(ids), utcnow()))


def deliver_due(db: Any, *, limit: int = BATCH, now: datetime | None = None) -> int:
    """One batch of due deliveries (the server's tick); how many were attempted."""
    jobs = _claim(db, None, limit, now or utcnow())
    _run(db, jobs)
    return len(jobs)


def _run(db: Any, jobs: list[_Job]) -> None:
    """Send the claimed jobs, a few at once (a slow receiver holds one thread, not the batch), then
    record every outcome in one transaction."""
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=min(SENDERS, len(jobs)), thread_name_prefix="webhook") as pool:
        outcomes = list(pool.map(_send, jobs))
    _settle(db, [(job, *outcome) for job, outcome in zip(jobs, outcomes)], utcnow())
