"""/api/v1/webhooks: a workspace's webhooks, their delivery logs, test events and redelivery (admins;
audited). The signing secret is in the answer that creates (or rotates) it, never again."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from promptyard.domain.numbers import MAX_ID
from promptyard.services import webhooks
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, Id

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=errors.READ)

Event = Literal["*", "version.published", "label.moved", "experiment.started", "experiment.ended", "ramp.stopped",
                "evaluation.finished"]


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, description="http(s) URL the events are POSTed to; the outbound rules apply "
                     "(no link-local or metadata address; PROMPTYARD_OUTBOUND_ALLOW)")
    events: list[Event] = Field(default_factory=lambda: ["*"], description="events to send; ['*'] = all")
    format: Literal["json", "slack"] = Field("json", description="json: the event envelope; slack: {\"text\": ...} "
                                             "for Slack-compatible incoming webhooks")
    description: str = Field("", max_length=200)
    secret: str | None = Field(None, description="signing secret (16-200 characters); empty = one is made")
    active: bool = True


class WebhookPatch(BaseModel):
    url: str | None = Field(None, max_length=2000)
    events: list[Event] | None = None
    format: Literal["json", "slack"] | None = None
    description: str | None = Field(None, max_length=200)
    active: bool | None = None
    rotate_secret: bool = Field(False, description="make a new signing secret (returned in this answer only)")
    secret: str | None = Field(None, description="with rotate_secret: the new secret to use; empty = one is made")


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    format: str
    active: bool
    description: str
    secret_hint: str
    created_by: str
    created_at: str
    updated_at: str
    secret: str | None = Field(None, description="the signing secret: only in the answer that created or rotated it")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    event: str
    payload: dict[str, Any] = Field(description="the event envelope {id, event, created_at, workspace_id, data}")
    status: str = Field(description="pending | delivered | failed")
    attempts: int
    next_attempt_at: str | None
    last_status: int | None = Field(description="the receiver's HTTP status of the last attempt")
    last_error: str
    response_excerpt: str
    created_at: str
    updated_at: str
    delivered_at: str | None


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


@router.get("", response_model=WebhookList)
def list_webhooks(c: Ctx, p: Auth):
    with c.db.read() as s:
        return {"items": shapes.plain(webhooks.list_all(s, p))}


@router.post("", status_code=201, response_model=WebhookOut, responses=errors.WRITE)
def create_webhook(body: WebhookIn, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(webhooks.create(s, p, **body.model_dump()))


@router.get("/{webhook_id}", response_model=WebhookOut, responses=errors.FOUND)
def get_webhook(webhook_id: Id, c: Ctx, p: Auth):
    with c.db.read() as s:
        return shapes.plain(webhooks.get(s, p, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut, responses=errors.WRITE | errors.FOUND)
def update_webhook(webhook_id: Id, body: WebhookPatch, c: Ctx, p: Auth):
    with c.db.write() as s:
        return shapes.plain(webhooks.update(s, p, webhook_id, body.model_dump(exclude_unset=True)))


@router.delete("/{webhook_id}", status_code=204, responses=errors.WRITE | errors.FOUND)
def delete_webhook(webhook_id: Id, c: Ctx, p: Auth):
    with c.db.write() as s:
        webhooks.delete(s, p, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses=errors.FOUND)
def list_deliveries(webhook_id: Id, c: Ctx, p: Auth, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None):
    """The delivery log, newest first (page with `before_id`)."""
    with c.db.read() as s:
        return {"items": shapes.plain(webhooks.deliveries(s, p, webhook_id, limit=limit, before_id=before_id))}


def _deliver_now(c: Any, p: Any, webhook_id: int, delivery_id: int) -> dict:
    webhooks.deliver(c.db, [delivery_id])
    with c.db.read() as s:
        return shapes.plain(webhooks.get_delivery(s, p, webhook_id, delivery_id))


@router.post("/{webhook_id}/test", status_code=201, response_model=DeliveryOut, responses=errors.WRITE | errors.FOUND)
def send_test(webhook_id: Id, c: Ctx, p: Auth):
    """Send a webhook.test event now; the answer is its delivery with the receiver's status."""
    with c.db.write() as s:
        delivery_id = webhooks.send_test(s, p, webhook_id)
    return _deliver_now(c, p, webhook_id, delivery_id)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=201, response_model=DeliveryOut,
             responses=errors.WRITE | errors.FOUND)
def redeliver(webhook_id: Id, delivery_id: Id, c: Ctx, p: Auth):
    """Send an earlier delivery's body (same id) again now, as a new delivery."""
    with c.db.write() as s:
        new_id = webhooks.redeliver(s, p, webhook_id, delivery_id)
    return _deliver_now(c, p, webhook_id, new_id)
