"""Who is asking: the logged-in user, roles, CSRF and the UI's cookies.

- `viewer` / `editor` / `admin` (aliases `Viewer`, `Editor`, `Admin`) are dependencies returning
  a `UiUser`; without a valid session they redirect to /ui/login?next=..., with too low a role
  they answer with the 403 page. Services still check `user.principal` themselves.
- `check_csrf(user, form)` first thing in every POST handler.
- Forms that log someone in use `login_token` / `check_login_token` (double submit) instead of
  the session's CSRF token, and `start_session` to hand out the cookie.
- `current` is the page being answered (request, language, user), for the error pages (errors.py).
"""

from __future__ import annotations

import contextvars
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from promptyard import catalogue
from promptyard.catalogue import Text
from promptyard.domain import access
from promptyard.domain.records import Principal
from promptyard.errors import Forbidden, InvalidInput
from promptyard.services.web_sessions import WebLogin
from promptyard.web.context import ctx, web_login
from promptyard.web.ui import figures, times
from promptyard.web.ui.render import LANG_COOKIE, path_for, visitor_lang

SESSION_COOKIE = "py_session"
LOGIN_COOKIE = "py_login"


@dataclass
class UiUser:
    user_id: int
    email: str
    name: str
    workspace_id: int
    role: str
    locale: str  # the language pages are shown in: 'en' | 'ja'
    time_zone: str  # the zone pages show times in and read typed times in (times.zone_for)
    csrf_token: str
    principal: Principal
    saved_locale: str | None = None  # the user's own choice (None = follow the browser)
    saved_time_zone: str | None = None  # the user's own zone (None = the workspace's, else the browser's)
    currency: figures.Currency = figures.USD  # the workspace's, for costs


@dataclass(frozen=True)
class PageContext:
    """What an error page needs to look like the page it replaces (see errors.py)."""

    request: Request
    lang: str
    user: UiUser | None = None


# Set by the async dependencies below, which run in the request's own task, so the exception
# handlers (same task) can render the error page in the user's language with the header.
current: contextvars.ContextVar[PageContext | None] = contextvars.ContextVar("promptyard_ui_page", default=None)


async def bind_request(request: Request) -> None:
    """Router-wide dependency: every UI request knows its language before anything can fail, and
    NUL characters in the address are refused here as in forms (see render.read_form)."""
    current.set(PageContext(request, visitor_lang(request)))
    values = [*request.path_params.values(), *(v for _, v in request.query_params.multi_items())]
    if any("\x00" in str(v) for v in values):
        raise InvalidInput("errors.users.text_may_contain_nul", details={"ui_message": "error.form_nul"})


def _to_user(login: WebLogin, request: Request) -> UiUser:
    lang = catalogue.negotiate(login.locale, request.cookies.get(LANG_COOKIE),
                               request.headers.get("accept-language"))
    principal = Principal(workspace_id=login.workspace_id, actor=login.email,
                          scopes=access.ROLE_SCOPES.get(login.role, frozenset()), user_id=login.user_id,
                          role=login.role)
    zone = times.zone_for(login.time_zone, login.workspace_time_zone, request.cookies.get(times.BROWSER_COOKIE))
    return UiUser(login.user_id, login.email, login.name, login.workspace_id, login.role, lang, zone,
                  login.csrf_token, principal, login.locale, login.time_zone, figures.Currency.of(login.currency))


async def optional_user(request: Request) -> UiUser | None:
    raw = request.cookies.get(SESSION_COOKIE)
    login = await run_in_threadpool(web_login, ctx(request), raw) if raw else None
    user = _to_user(login, request) if login else None
    current.set(PageContext(request, user.locale if user else visitor_lang(request), user))
    return user


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/ui/"
    return path_for(request, "login") + "?" + urlencode({"next": target})


def _needs(scope: str):  # noqa: ANN202
    async def dependency(request: Request) -> UiUser:
        user = await optional_user(request)
        if user is None:
            # errors.from_http turns this into a 303 to the login page.
            raise HTTPException(401, "login required", headers={"Location": login_url(request)})
        if not access.has(user.principal, scope):
            raise Forbidden("errors.users.page_needs_right_your", scope=Text(f"errors.users.right_{scope}"),
                            role=Text(f"role.{user.role}"))
        return user

    dependency.__name__ = f"needs_{scope}"
    return dependency


viewer = _needs("read")
editor = _needs("write")
admin = _needs("admin")
Viewer = Annotated[UiUser, Depends(viewer)]
Editor = Annotated[UiUser, Depends(editor)]
Admin = Annotated[UiUser, Depends(admin)]
MaybeUser = Annotated[UiUser | None, Depends(optional_user)]


def check_csrf(user: UiUser, form: Any) -> None:
    token = form.get("csrf_token") if form is not None else None
    if not isinstance(token, str) or not secrets.compare_digest(token.encode(), user.csrf_token.encode()):
        raise Forbidden("errors.users.form_was_stale_sent",
                        details={"ui_message": "error.csrf"})


# --- cookies and logging in ----------------------------------------------------------------------

def set_cookie(response: Response, request: Request, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(name, value, httponly=True, samesite="lax", secure=ctx(request).settings.secure_cookies,
                        path="/ui", **kw)


def login_token(request: Request) -> str:
    """The token for a form that logs someone in (login, accepting an invitation). It must come
    back with the cookie of the same name (double submit, see check_login_token)."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)


def check_login_token(request: Request, form: Any) -> bool:
    """Whether a logging-in form came from our own page: another site cannot read or set the
    cookie, so it cannot log a victim into an account of its choosing (login CSRF)."""
    sent, expected = form.get("login_token"), request.cookies.get(LOGIN_COOKIE) or ""
    return isinstance(sent, str) and bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())


def start_session(response: Response, request: Request, raw: str, login: WebLogin) -> None:
    """Hand the browser its new session cookie (a fresh token on every login: no fixation)."""
    set_cookie(response, request, SESSION_COOKIE, raw, max_age=ctx(request).settings.session_hours * 3600,
               expires=login.expires_at)
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
