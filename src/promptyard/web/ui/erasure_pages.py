"""Erasure and retention pages (owners and admins): delete one log (a confirmation page, then the
POST), erase every log matching the list's filter or of one end user (preview count -> confirm ->
result), and the workspace's retention period with a purge now. Every step works without
JavaScript; services/erasure.py checks the rights, counts, audits and removes."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from promptyard.domain import query as filters
from promptyard.errors import Conflict, InvalidInput
from promptyard.services import erasure, request_reads
from promptyard.services.render_pool import engine_for
from promptyard.web.context import ctx, db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData
from promptyard.web.ui.session import Admin, UiUser

router = APIRouter()
Text = Annotated[str, Query(max_length=4000)]
Version = Annotated[int | None, Query(ge=1, le=render.MAX_ID)]
Ref = Annotated[str, Path(min_length=1, max_length=64)]


# --- one log -------------------------------------------------------------------------------------


@router.get("/requests/{ref}/erase", name="request_erase")
def erase_one_page(request: Request, ref: Ref, user: Admin) -> Response:
    with db(request).read() as s:
        item = request_reads.detail(s, user.principal, ref, engine_for(ctx(request).settings))
    return render.page(request, user, "ui/privacy/erase_one.html", item=item)


@router.post("/requests/{ref}/erase", name="request_erase_do")
def erase_one(request: Request, ref: Ref, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    erasure.erase_one(db(request), user.principal, ref)
    return render.redirect(request, "requests", notice="request_erased")


# --- a filter's logs or one end user's ------------------------------------------------------------


def _selection(fields: dict[str, str], zone: str) -> tuple[str, Any]:
    """('user', (key, value)) or ('filter', the list's filter with its prompt scope as JSON; times
    typed without an offset are the page's zone, written into the JSON with their offset)."""
    if fields["mode"] == "user":
        return "user", (fields["key"].strip(), fields["value"].strip())
    version = render.form_id(fields["version"]) if fields["prompt"] else None
    node = request_reads.scoped(filters.parse(fields["q"], ZoneInfo(zone)), fields["prompt"] or None, version)
    return "filter", filters.to_json(node)


def _count(request: Request, user: UiUser, fields: dict[str, str], expected: int | None = None,
           dry_run: bool = True) -> int:
    mode, what = _selection(fields, user.time_zone)
    database = db(request)
    if mode == "user":
        return erasure.erase_end_user(database, user.principal, *what, dry_run=dry_run, expected=expected)["count"]
    return erasure.erase_by_filter(database, user.principal, what, dry_run=dry_run, expected=expected)["count"]


def _erase_page(request: Request, user: UiUser, fields: dict[str, str], *, status: int = 200,
                count: int | None = None, erased: int | None = None, error: str | None = None) -> Response:
    return render.page(request, user, "ui/privacy/erase.html", status_code=status, fields=fields, count=count,
                       erased=erased, error=error)


def _fields(source: Any) -> dict[str, str]:
    names = ("mode", "q", "prompt", "version", "key", "value")
    out = {k: str(source.get(k) or "") for k in names}
    out["mode"] = "user" if out["mode"] == "user" else "filter"
    return out


@router.get("/privacy/erase", name="erase")
def erase_page(request: Request, user: Admin, mode: Text = "", q: Text = "", prompt: Text = "", version: Version = None,
               key: Text = "", value: Text = "") -> Response:
    """Without a selection: the two forms. With one: how many logs it matches, and the confirm form."""
    fields = _fields({"mode": mode, "q": q, "prompt": prompt, "version": version or "", "key": key, "value": value})
    chosen = (fields["key"] or fields["value"]) if fields["mode"] == "user" else (fields["q"] or fields["prompt"])
    if not chosen:
        return _erase_page(request, user, fields)
    try:
        return _erase_page(request, user, fields, count=_count(request, user, fields))
    except InvalidInput as exc:
        return _erase_page(request, user, fields, status=422, error=exc)


@router.post("/privacy/erase", name="erase_do")
def erase_do(request: Request, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = _fields(form)
    expected = render.form_id(form.get("expected")) if form.get("expected") != "0" else 0
    if expected is None:
        return _erase_page(request, user, fields, status=422,
                           error=InvalidInput("errors.privacy.previewed_count_missing"))
    try:
        erased = _count(request, user, fields, expected=expected, dry_run=False)
    except Conflict as exc:  # the logs changed since the preview: preview again
        return _erase_page(request, user, fields, status=409, count=exc.details["count"], error=exc)
    except InvalidInput as exc:
        return _erase_page(request, user, fields, status=422, error=exc)
    return _erase_page(request, user, fields, erased=erased)


# --- retention -------------------------------------------------------------------------------------


def _retention_page(request: Request, user: UiUser, *, status: int = 200, error: str | None = None,
                    purged: int | None = None, form: dict | None = None) -> Response:
    with db(request).read() as s:
        state = erasure.retention(s, user.principal)
    return render.page(request, user, "ui/privacy/retention.html", status_code=status, state=state, error=error,
                       purged=purged, form=form or {"days": state["days"] or "", "reason": ""},
                       max_days=erasure.MAX_RETENTION_DAYS)


@router.get("/privacy/retention", name="retention")
def retention_page(request: Request, user: Admin) -> Response:
    return _retention_page(request, user)


@router.post("/privacy/retention", name="retention_set")
def retention_set(request: Request, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = {"days": str(form.get("days") or "").strip(), "reason": str(form.get("reason") or "")}
    keep = form.get("keep") == "forever"
    days = None if keep else render.form_id(fields["days"])
    try:
        if days is None and not keep:
            raise InvalidInput("errors.privacy.days_whole_number_from_2", max_retention_days=erasure.MAX_RETENTION_DAYS)
        with db(request).write() as s:
            erasure.set_retention(s, user.principal, days, fields["reason"])
    except InvalidInput as exc:
        return _retention_page(request, user, status=422, error=exc, form=fields)
    return render.redirect(request, "retention", notice="retention_saved")


@router.post("/privacy/purge", name="retention_purge")
def retention_purge(request: Request, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    done = erasure.purge(db(request), user.principal)
    return _retention_page(request, user, purged=done["count"])
