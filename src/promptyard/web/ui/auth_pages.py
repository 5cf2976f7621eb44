"""Logging in and out, the language switch, the user's own settings (language, time zone) and, for
admins, the workspace's display settings (time zone, currency: services/workspace_display)."""

from __future__ import annotations

import math
import zoneinfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from promptyard import catalogue
from promptyard.domain import numbers
from promptyard.errors import InvalidInput, RateLimited, Unauthorized, retry_after
from promptyard.services import login_throttle, members, users, web_sessions, workspace_display
from promptyard.web.context import ctx, db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData
from promptyard.web.ui.session import Admin, MaybeUser, Viewer

router = APIRouter()

ZONES = sorted(zoneinfo.available_timezones())


def safe_next(value: object) -> str:
    """Where to go after logging in: only paths inside the UI (no open redirect)."""
    if isinstance(value, str) and value.startswith("/ui") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/"


@router.get("/", name="home")
def home(request: Request, user: MaybeUser) -> RedirectResponse:
    return RedirectResponse(render.path_for(request, "prompts" if user else "login"), status_code=303)


def _login_form(request: Request, *, status: int = 200, error: str | None = None, email: str = "",
                next_url: str = "/ui/", expired: bool = False) -> Response:
    token = session.login_token(request)
    response = render.page(request, None, "ui/login.html", status_code=status, error=error, email=email,
                           next=safe_next(next_url), login_token=token, expired=expired)
    session.set_cookie(response, request, session.LOGIN_COOKIE, token, max_age=3600)
    return response


@router.get("/login", name="login")
def login_page(request: Request, user: MaybeUser, next: str = "/ui/") -> Response:
    if user:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next_url=next, expired=session.SESSION_COOKIE in request.cookies)


def throttle_limits(request: Request) -> login_throttle.Limits:
    st = ctx(request).settings
    return login_throttle.Limits(st.login_failures_per_account, st.login_failures_per_address, st.login_window_s)


def client_address(request: Request) -> str | None:
    # uvicorn puts the X-Forwarded-For address here when the proxy is trusted (--forwarded-allow-ips).
    return request.client.host if request.client else None


def throttled_message(lang: str, exc: RateLimited) -> tuple[str, dict[str, str]]:
    """The form's message and the Retry-After header for a throttled login."""
    minutes = max(1, math.ceil(exc.retry_after_s / 60))
    return catalogue.translate(lang, "login.throttled", minutes=minutes), retry_after(exc)


@router.post("/login", name="login_submit")
def login_submit(request: Request, form: FormData) -> Response:
    lang = render.visitor_lang(request)
    email, next_url = str(form.get("email") or ""), form.get("next")
    if not session.check_login_token(request, form):
        return _login_form(request, status=403, error=catalogue.translate(lang, "login.stale"), email=email,
                           next_url=next_url)
    limits, address = throttle_limits(request), client_address(request)
    try:
        # The slow password check runs in a read transaction: a write transaction would hold
        # SQLite's write lock (and stall request logging) for the whole argon2 computation.
        with db(request).read() as s:
            login_throttle.check(s, email=email, address=address, limits=limits)
            user_id = users.check_password(s, email, str(form.get("password") or ""))
        with db(request).write() as s:
            login_throttle.succeeded(s, email=email)
            raw, login = web_sessions.open_session(s, user_id, hours=ctx(request).settings.session_hours)
    except RateLimited as exc:
        error, headers = throttled_message(lang, exc)
        response = _login_form(request, status=429, error=error, email=email, next_url=next_url)
        response.headers.update(headers)
        return response
    except Unauthorized as exc:
        no_workspace = isinstance(exc.details, dict) and exc.details.get("reason") == "no_workspace"
        if not no_workspace:  # a wrong password (no_workspace comes after a right one)
            with db(request).write() as s:
                login_throttle.failed(s, email=email, address=address, limits=limits)
        key = "login.no_workspace" if no_workspace else "login.wrong"
        return _login_form(request, status=401, error=catalogue.translate(lang, key), email=email, next_url=next_url)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    session.start_session(response, request, raw, login)
    return response


@router.post("/logout", name="logout")
def logout(request: Request, user: MaybeUser, form: FormData) -> Response:
    if user:
        session.check_csrf(user, form)
        with db(request).write() as s:
            web_sessions.logout(s, request.cookies.get(session.SESSION_COOKIE))
    response = RedirectResponse(render.path_for(request, "login"), status_code=303)
    response.delete_cookie(session.SESSION_COOKIE, path="/ui")
    return response


@router.post("/language", name="language")
def language(request: Request, user: MaybeUser, form: FormData) -> Response:
    lang = form.get("lang") if form.get("lang") in catalogue.LANGUAGES else catalogue.DEFAULT
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    if user:
        session.check_csrf(user, form)
        with db(request).write() as s:
            members.update_profile(s, user.principal, locale=lang)
    # Also remembered for the login page, which is shown before anyone is known.
    session.set_cookie(response, request, render.LANG_COOKIE, lang, max_age=365 * 86400)
    return response


def _settings(request: Request, user: session.UiUser, *, status: int = 200, error: str | None = None,
              display_error: str | None = None) -> Response:
    with db(request).read() as s:
        spaces = web_sessions.workspaces(s, user.user_id)
        shown = workspace_display.display(s, user.principal)
    return render.page(request, user, "ui/settings.html", status_code=status, zones=ZONES, error=error,
                       workspaces=spaces, display=shown, display_error=display_error,
                       currencies=workspace_display.CURRENCIES)


@router.get("/settings", name="settings")
def settings_page(request: Request, user: Viewer) -> Response:
    return _settings(request, user)


@router.post("/workspace", name="workspace_switch")
def workspace_switch(request: Request, user: Viewer, form: FormData) -> Response:
    session.check_csrf(user, form)
    target = render.form_id(form.get("workspace_id")) or 0
    with db(request).write() as s:
        web_sessions.switch_workspace(s, request.cookies.get(session.SESSION_COOKIE), target)
    return render.redirect(request, "prompts", notice="workspace_switched")


@router.post("/settings", name="settings_save")
def settings_save(request: Request, user: Viewer, form: FormData) -> Response:
    session.check_csrf(user, form)
    try:
        with db(request).write() as s:
            members.update_profile(s, user.principal, locale=str(form.get("locale", "")),
                                   time_zone=str(form.get("time_zone", "")), name=str(form.get("name", "")))
    except InvalidInput as exc:
        return _settings(request, user, status=422, error=exc)
    return render.redirect(request, "settings", notice="settings_saved")


@router.post("/settings/display", name="display_save")
def display_save(request: Request, user: Admin, form: FormData) -> Response:
    """The workspace's time zone ('' = each viewer's browser) and currency (a rate for yen)."""
    session.check_csrf(user, form)
    currency = str(form.get("currency", ""))
    rate = str(form.get("per_usd", "")).strip()
    per_usd = None if currency == "USD" else (numbers.ascii_decimal(rate) if rate else None)
    try:
        with db(request).write() as s:
            workspace_display.set_display(s, user.principal, time_zone=str(form.get("time_zone", "")) or None,
                                          currency=currency, per_usd=per_usd)
    except InvalidInput as exc:
        key = (exc.details or {}).get("ui_message")
        return _settings(request, user, status=422,
                         display_error=catalogue.translate(user.locale, key) if key else exc.text(user.locale))
    return render.redirect(request, "settings", notice="display_saved")
