"""Provider connections (admins): list, create, edit, delete. The secret field is write-only: the page
shows whether a secret is set and its last four characters, never the secret (services/providers.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from promptyard.errors import Conflict, InvalidInput
from promptyard.services import providers
from promptyard.web.context import db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Admin, UiUser

router = APIRouter()

_BLANK = {"name": "", "kind": "openai", "base_url": "", "default_model": "", "headers": "", "secret_header": ""}


def _headers_text(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


def _headers(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise InvalidInput("errors.providers.header_line", field="headers", line=line[:100])
        out[name.strip()] = value.strip()
    return out


def _fields(form: Any) -> dict[str, str]:
    return {k: str(form.get(k) or "") for k in _BLANK}


def _list(request: Request, user: UiUser, *, status: int = 200, error: str | None = None,
          form: dict | None = None) -> Response:
    with db(request).read() as s:
        rows = providers.list_all(s, user.principal)
    return render.page(request, user, "ui/admin/providers.html", status_code=status, rows=rows, error=error,
                       form=form or dict(_BLANK), kinds=providers.KINDS, defaults=providers.DEFAULT_URLS)


def _edit(request: Request, user: UiUser, connection_id: int, *, status: int = 200, error: str | None = None,
          form: dict | None = None) -> Response:
    with db(request).read() as s:
        record = providers.get(s, user.principal, connection_id)
    shown = form or {"name": record.name, "kind": record.kind, "base_url": record.base_url,
                     "default_model": record.default_model, "headers": _headers_text(record.headers),
                     "secret_header": record.secret_header}
    return render.page(request, user, "ui/admin/provider.html", status_code=status, record=record, error=error,
                       form=shown, kinds=providers.KINDS)


@router.get("/providers", name="providers")
def providers_page(request: Request, user: Admin) -> Response:
    return _list(request, user)


@router.post("/providers", name="provider_create")
def provider_create(request: Request, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = _fields(form)
    try:
        with db(request).write() as s:
            made = providers.create(s, user.principal, name=fields["name"], kind=fields["kind"],
                                    base_url=fields["base_url"], default_model=fields["default_model"],
                                    headers=_headers(fields["headers"]), secret_header=fields["secret_header"],
                                    secret=str(form.get("secret") or ""))
    except (InvalidInput, Conflict) as exc:
        return _list(request, user, status=exc.status, error=exc.text(user.locale), form=fields)
    return render.redirect(request, "provider", notice="provider_saved", connection_id=made.id)


@router.get("/providers/{connection_id}", name="provider")
def provider_page(request: Request, connection_id: Id, user: Admin) -> Response:
    return _edit(request, user, connection_id)


@router.post("/providers/{connection_id}", name="provider_update")
def provider_update(request: Request, connection_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = _fields(form)
    secret = str(form.get("secret") or "")
    try:
        changes: dict[str, Any] = {**{k: v for k, v in fields.items() if k != "headers"},
                                   "headers": _headers(fields["headers"])}
        if form.get("remove_secret") == "on":
            changes["secret"] = ""
        elif secret:
            changes["secret"] = secret
        with db(request).write() as s:
            providers.update(s, user.principal, connection_id, changes)
    except (InvalidInput, Conflict) as exc:
        return _edit(request, user, connection_id, status=exc.status, error=exc.text(user.locale), form=fields)
    return render.redirect(request, "provider", notice="provider_saved", connection_id=connection_id)


@router.post("/providers/{connection_id}/delete", name="provider_delete")
def provider_delete(request: Request, connection_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        providers.delete(s, user.principal, connection_id)
    return render.redirect(request, "providers", notice="provider_deleted")
