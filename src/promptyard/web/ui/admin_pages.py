"""API keys (admins): create - the key is shown once, on the answer to the form, never in a URL -
list, revoke; publishable browser keys with their allowed origins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from promptyard.domain import access
from promptyard.errors import InvalidInput
from promptyard.services import keys
from promptyard.web.context import db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Admin, UiUser

router = APIRouter()

SECRET_SCOPES = ("read", "write", "ingest", "admin")


def _page(request: Request, user: UiUser, *, status: int = 200, error: str | None = None,
          new_key: str | None = None, form: dict | None = None) -> Response:
    with db(request).read() as s:
        rows = keys.list_keys(s, user.principal)
    return render.page(request, user, "ui/admin/keys.html", status_code=status, keys=rows, error=error,
                       new_key=new_key, scopes=SECRET_SCOPES, publishable_scopes=access.PUBLISHABLE_SCOPES,
                       form=form or {"name": "", "kind": "secret", "scopes": ["read", "write", "ingest"],
                                      "origins": ""})


@router.get("/keys", name="keys")
def keys_page(request: Request, user: Admin) -> Response:
    return _page(request, user)


@router.post("/keys", name="key_create")
def key_create(request: Request, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = {"name": str(form.get("name") or "").strip(), "kind": str(form.get("kind") or "secret"),
              "scopes": [s for s in form.getlist("scopes") if isinstance(s, str)],
              "origins": str(form.get("origins") or "")}
    origins = [o.strip() for o in fields["origins"].replace(",", "\n").splitlines() if o.strip()]
    try:
        with db(request).write() as s:
            _, raw = keys.create_key(s, user.principal, name=fields["name"], kind=fields["kind"],
                                     scopes=fields["scopes"] or None, allowed_origins=origins)
    except InvalidInput as exc:
        return _page(request, user, status=422, error=exc, form=fields)
    return _page(request, user, new_key=raw)


@router.post("/keys/{key_id}/revoke", name="key_revoke")
def key_revoke(request: Request, key_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        keys.revoke_key(s, user.principal, key_id)
    return render.redirect(request, "keys", notice="key_revoked")
