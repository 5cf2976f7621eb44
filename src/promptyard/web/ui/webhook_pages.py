"""Webhooks (admins): list and create (the signing secret is shown once, on the answer to the form),
a webhook's settings and delivery log, "send test event", "redeliver", delete (services/webhooks.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from promptyard.errors import InvalidInput
from promptyard.services import webhooks
from promptyard.web.context import db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Admin, UiUser

router = APIRouter()


def _fields(form: Any) -> dict[str, Any]:
    events = [e for e in form.getlist("events") if isinstance(e, str)]
    return {"url": str(form.get("url") or "").strip(), "events": events or ["*"],
            "format": str(form.get("format") or "json"), "description": str(form.get("description") or "")}


def _list(request: Request, user: UiUser, *, status: int = 200, error: str | None = None,
          form: dict | None = None, new_secret: str | None = None, new_id: int | None = None) -> Response:
    with db(request).read() as s:
        rows = webhooks.list_all(s, user.principal)
    return render.page(request, user, "ui/admin/webhooks.html", status_code=status, rows=rows, error=error,
                       form=form or {"url": "", "events": ["*"], "format": "json", "description": ""},
                       events=webhooks.EVENTS, formats=webhooks.FORMATS, new_secret=new_secret, new_id=new_id)


def _detail(request: Request, user: UiUser, webhook_id: int, *, status: int = 200, error: str | None = None,
            new_secret: str | None = None) -> Response:
    with db(request).read() as s:
        hook = webhooks.get(s, user.principal, webhook_id)
        log = webhooks.deliveries(s, user.principal, webhook_id, limit=100)
    return render.page(request, user, "ui/admin/webhook.html", status_code=status, hook=hook, log=log, error=error,
                       events=webhooks.EVENTS, formats=webhooks.FORMATS, new_secret=new_secret)


@router.get("/webhooks", name="webhooks")
def webhooks_page(request: Request, user: Admin) -> Response:
    return _list(request, user)


@router.post("/webhooks", name="webhook_create")
def webhook_create(request: Request, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = _fields(form)
    try:
        with db(request).write() as s:
            made = webhooks.create(s, user.principal, **fields)
    except InvalidInput as exc:
        return _list(request, user, status=exc.status, error=exc.text(user.locale), form=fields)
    return _list(request, user, new_secret=made.secret, new_id=made.id)  # shown once, never in a URL


@router.get("/webhooks/{webhook_id}", name="webhook")
def webhook_page(request: Request, webhook_id: Id, user: Admin) -> Response:
    return _detail(request, user, webhook_id)


@router.post("/webhooks/{webhook_id}", name="webhook_update")
def webhook_update(request: Request, webhook_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    changes = {**_fields(form), "active": form.get("active") == "on"}
    try:
        with db(request).write() as s:
            webhooks.update(s, user.principal, webhook_id, changes)
    except InvalidInput as exc:
        return _detail(request, user, webhook_id, status=exc.status, error=exc.text(user.locale))
    return render.redirect(request, "webhook", notice="webhook_saved", webhook_id=webhook_id)


@router.post("/webhooks/{webhook_id}/rotate", name="webhook_rotate")
def webhook_rotate(request: Request, webhook_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        hook = webhooks.update(s, user.principal, webhook_id, {"rotate_secret": True})
    return _detail(request, user, webhook_id, new_secret=hook.secret)


@router.post("/webhooks/{webhook_id}/test", name="webhook_test")
def webhook_test(request: Request, webhook_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        delivery_id = webhooks.send_test(s, user.principal, webhook_id)
    webhooks.deliver(db(request), [delivery_id])
    return render.redirect(request, "webhook", notice="webhook_tested", webhook_id=webhook_id)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", name="webhook_redeliver")
def webhook_redeliver(request: Request, webhook_id: Id, delivery_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        new_id = webhooks.redeliver(s, user.principal, webhook_id, delivery_id)
    webhooks.deliver(db(request), [new_id])
    return render.redirect(request, "webhook", notice="webhook_redelivered", webhook_id=webhook_id)


@router.post("/webhooks/{webhook_id}/delete", name="webhook_delete")
def webhook_delete(request: Request, webhook_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        webhooks.delete(s, user.principal, webhook_id)
    return render.redirect(request, "webhooks", notice="webhook_deleted")
