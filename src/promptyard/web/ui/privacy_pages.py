"""Privacy (admins): the workspace's redaction policy - detectors, custom patterns, the term list - and a
preview of what it makes of a sample text. Every change goes through services/redaction.py (audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from promptyard.domain import redaction_policy as rp
from promptyard.errors import InvalidInput
from promptyard.services import redaction
from promptyard.web.context import db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData
from promptyard.web.ui.session import Admin, UiUser

router = APIRouter()


def _page(request: Request, user: UiUser, *, status: int = 200, error: str | None = None,
          preview: dict | None = None, form: dict | None = None) -> Response:
    with db(request).read() as s:
        policy = redaction.describe(s, user.principal)
    return render.page(request, user, "ui/admin/privacy.html", status_code=status, policy=policy, error=error,
                       preview=preview, form=form or {}, kinds=rp.RULE_KINDS, operators=rp.OPERATORS)


@router.get("/privacy", name="privacy")
def privacy_page(request: Request, user: Admin) -> Response:
    return _page(request, user)


def _change(request: Request, user: UiUser, form: Any, change: Any, notice: str) -> Response:
    """Run one change to the policy; on a refusal, the page again with the reason (and what was typed)."""
    session.check_csrf(user, form)
    try:
        with db(request).write() as s:
            change(s)
    except InvalidInput as exc:
        return _page(request, user, status=422, error=exc, form=dict(form))
    return render.redirect(request, "privacy", notice=notice)


def _reason(form: Any) -> str:
    return str(form.get("reason") or "")


@router.post("/privacy/policy", name="privacy_policy")
def save_policy(request: Request, user: Admin, form: FormData) -> Response:
    data = {"enabled": form.get("enabled") == "on",
            "detectors": {k: {"on": form.get(f"on_{k}") == "on", "operator": str(form.get(f"operator_{k}") or ""),
                              "placeholder": str(form.get(f"placeholder_{k}") or "")} for k in rp.RULE_KINDS}}
    return _change(request, user, form, lambda s: redaction.set_policy(s, user.principal, data, reason=_reason(form)),
                   "privacy_saved")


@router.post("/privacy/custom", name="privacy_custom_add")
def add_custom(request: Request, user: Admin, form: FormData) -> Response:
    item = {"name": str(form.get("name") or "").strip(), "pattern": str(form.get("pattern") or ""),
            "operator": str(form.get("operator") or "placeholder"),
            "placeholder": str(form.get("placeholder") or "")}

    def change(s: Any) -> None:
        have = [c for c in redaction.describe(s, user.principal)["custom"] if c["name"] != item["name"]]
        redaction.set_policy(s, user.principal, {"custom": [*have, item]}, reason=_reason(form))

    return _change(request, user, form, change, "privacy_saved")


@router.post("/privacy/custom/remove", name="privacy_custom_remove")
def remove_custom(request: Request, user: Admin, form: FormData) -> Response:
    name = str(form.get("name") or "")

    def change(s: Any) -> None:
        have = [c for c in redaction.describe(s, user.principal)["custom"] if c["name"] != name]
        redaction.set_policy(s, user.principal, {"custom": have}, reason=_reason(form))

    return _change(request, user, form, change, "privacy_saved")


def _lines(form: Any) -> list[str]:
    return [line.strip() for line in str(form.get("terms") or "").splitlines() if line.strip()]


@router.post("/privacy/terms", name="privacy_terms_add")
def add_terms(request: Request, user: Admin, form: FormData) -> Response:
    return _change(request, user, {**form, "terms": ""},  # the names are never sent back into the page
                   lambda s: redaction.add_terms(s, user.principal, _lines(form)), "privacy_terms_added")


@router.post("/privacy/terms/remove", name="privacy_terms_remove")
def remove_terms(request: Request, user: Admin, form: FormData) -> Response:
    names = None if form.get("all") == "on" else _lines(form)
    return _change(request, user, {**form, "terms": ""},
                   lambda s: redaction.remove_terms(s, user.principal, names), "privacy_terms_removed")


@router.post("/privacy/preview", name="privacy_preview")
def preview(request: Request, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    text = str(form.get("text") or "")
    try:
        with db(request).read() as s:
            result = redaction.preview(s, user.principal, text)
    except InvalidInput as exc:
        return _page(request, user, status=422, error=exc)
    return _page(request, user, preview={"sample": text, "redacted": result["text"], "counts": result["counts"]})
