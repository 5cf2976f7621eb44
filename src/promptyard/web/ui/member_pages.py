"""Members of the workspace and their roles, invitations (admins), and accepting an invitation
(anyone holding the link: a new account, or an existing one after its password)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from promptyard import catalogue
from promptyard.domain import access
from promptyard.errors import Conflict, Forbidden, InvalidInput, RateLimited, Unauthorized
from promptyard.services import login_throttle, members, web_sessions
from promptyard.web.context import ctx, db
from promptyard.web.ui import auth_pages, render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Admin, UiUser

router = APIRouter()

Token = Annotated[str, Path(max_length=200)]  # invitation tokens are 43 characters


def _page(request: Request, user: UiUser, *, status: int = 200, error: str | None = None,
          invite_link: str | None = None, form: dict | None = None) -> Response:
    with db(request).read() as s:
        people = members.list_members(s, user.principal)
        open_invites = members.list_invitations(s, user.principal)
    return render.page(request, user, "ui/admin/members.html", status_code=status, members=people,
                       invitations=open_invites, roles=access.ROLES, error=error, invite_link=invite_link,
                       form=form or {"email": "", "role": "editor"})


@router.get("/members", name="members")
def members_page(request: Request, user: Admin) -> Response:
    return _page(request, user)


@router.post("/members/{user_id}/role", name="member_role")
def member_role(request: Request, user_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    try:
        with db(request).write() as s:
            members.set_role(s, user.principal, user_id, str(form.get("role") or ""))
    except (InvalidInput, Forbidden, Conflict) as exc:
        return _page(request, user, status=exc.status, error=exc)
    return render.redirect(request, "members", notice="member_saved")


@router.post("/members/{user_id}/remove", name="member_remove")
def member_remove(request: Request, user_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    try:
        with db(request).write() as s:
            members.remove(s, user.principal, user_id)
    except (InvalidInput, Forbidden, Conflict) as exc:
        return _page(request, user, status=exc.status, error=exc)
    return render.redirect(request, "members", notice="member_removed")


@router.post("/invitations", name="invite")
def invite(request: Request, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = {"email": str(form.get("email") or "").strip(), "role": str(form.get("role") or "")}
    try:
        with db(request).write() as s:
            _, raw = members.invite(s, user.principal, email=fields["email"], role=fields["role"])
    except (InvalidInput, Forbidden, Conflict) as exc:
        return _page(request, user, status=exc.status, error=exc, form=fields)
    # Shown once on this answer (never put in a redirect URL); the admin sends it to the person.
    # From PROMPTYARD_PUBLIC_URL (or the listen address), never from the Host header: a forged
    # Host would otherwise make the admin send out a link to someone else's server.
    link = ctx(request).settings.base_url + render.path_for(request, "invitation", token=raw)
    return _page(request, user, invite_link=link)


@router.post("/invitations/{invitation_id}/revoke", name="invitation_revoke")
def invitation_revoke(request: Request, invitation_id: Id, user: Admin, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        members.revoke_invitation(s, user.principal, invitation_id)
    return render.redirect(request, "members", notice="invitation_revoked")


def _accept_form(request: Request, token: str, *, status: int = 200, error: str | None = None) -> Response:
    with db(request).read() as s:
        invitation, has_account = members.invitation(s, token)
    login_token = session.login_token(request)
    response = render.page(request, None, "ui/admin/accept.html", status_code=status, invitation=invitation,
                           has_account=has_account, token=token, login_token=login_token, error=error)
    session.set_cookie(response, request, session.LOGIN_COOKIE, login_token, max_age=3600)
    return response


@router.get("/invite/{token}", name="invitation")
def invitation_page(request: Request, token: Token) -> Response:
    return _accept_form(request, token)


@router.post("/invite/{token}", name="invitation_accept")
def invitation_accept(request: Request, token: Token, form: FormData) -> Response:
    # Accepting logs the browser in, and whoever made the invitation knows its token: without the
    # login form's double-submit token another site could log a victim into an account it made.
    if not session.check_login_token(request, form):
        return _accept_form(request, token, status=403,
                            error=catalogue.translate(render.visitor_lang(request), "login.stale"))
    limits, address = auth_pages.throttle_limits(request), auth_pages.client_address(request)
    with db(request).read() as s:
        invitation, has_account = members.invitation(s, token)
    try:
        if has_account:  # accepting checks that account's password: throttled like the login form
            with db(request).read() as s:
                login_throttle.check(s, email=invitation.email, address=address, limits=limits)
        with db(request).write() as s:
            user_id, workspace_id = members.accept(s, token, password=str(form.get("password") or ""),
                                                   name=str(form.get("name") or ""))
            login_throttle.succeeded(s, email=invitation.email)
            # Logged in at once, in the workspace that invited them.
            raw, login = web_sessions.open_session(s, user_id, hours=ctx(request).settings.session_hours,
                                                   workspace_id=workspace_id)
    except RateLimited as exc:
        error, headers = auth_pages.throttled_message(render.visitor_lang(request), exc)
        response = _accept_form(request, token, status=429, error=error)
        response.headers.update(headers)
        return response
    except (InvalidInput, Unauthorized, Conflict) as exc:
        if isinstance(exc, Unauthorized) and has_account:
            with db(request).write() as s:
                login_throttle.failed(s, email=invitation.email, address=address, limits=limits)
        return _accept_form(request, token, status=exc.status, error=exc)
    response = RedirectResponse(render.path_for(request, "prompts"), status_code=303)
    session.start_session(response, request, raw, login)
    return response
