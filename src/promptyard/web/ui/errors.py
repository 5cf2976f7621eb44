"""The UI surface's error responses: an HTML error page in the user's language (with the normal
header when the failing page knew its user), or a redirect to the login page for 401.

`web/app.py` sends every error on a /ui path here. The request is not passed to from_domain /
from_http, so the page context comes from `session.current`, which the UI's dependencies set in the
request's task before anything can fail.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from promptyard import catalogue
from promptyard.errors import PromptyardError, retry_after
from promptyard.web.request_ids import log_unexpected
from promptyard.web.ui import render, session

log = logging.getLogger("promptyard.ui")

_TITLES = {400: "error.bad_request", 401: "error.unauthorized", 403: "error.forbidden", 404: "error.not_found",
           405: "error.bad_request", 409: "error.conflict", 413: "error.too_large", 422: "error.invalid",
           429: "error.busy", 503: "error.busy"}


def _page(status: int, message_key: str | None, detail: str | PromptyardError | None = None,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    here = session.current.get()
    title_key = _TITLES.get(status, "error.internal")
    if here is None:
        # No UI route matched (unknown path): a plain page in both languages.
        en, ja = catalogue.translate("en", title_key), catalogue.translate("ja", title_key)
        if isinstance(detail, PromptyardError):
            detail = detail.message
        html = render.env.get_template("ui/error_bare.html").render(status=status, en=en, ja=ja, detail=detail)
        return HTMLResponse(html, status_code=status, headers={**render.SECURITY_HEADERS, **(headers or {})})
    response = render.page(here.request, here.user, "ui/error.html", status_code=status, status=status,
                           title_key=title_key, message_key=message_key, detail=detail)
    response.headers.update(headers or {})
    return response


def _to_login() -> RedirectResponse:
    here = session.current.get()
    target = session.login_url(here.request) if here else "/ui/login"
    return RedirectResponse(target, status_code=303)


def from_domain(exc: PromptyardError, request: Request | None = None) -> HTMLResponse | RedirectResponse:
    if exc.status == 401:
        return _to_login()
    # The service's message is shown under the translated title as detail, in the page's language
    # (render.page translates an error given as context; escaped like all text). UI code may name a
    # catalogue message of its own.
    details = exc.details if isinstance(exc.details, dict) else {}
    key = details.get("ui_message") or ("error.forbidden_detail" if exc.status == 403 else None)
    return _page(exc.status, key, exc, headers=retry_after(exc))


def from_validation(exc: RequestValidationError, request: object = None) -> HTMLResponse:
    # UI routes parse their own forms; this is a malformed URL (e.g. a non-numeric id).
    return _page(404 if any("path" in e.get("loc", ()) for e in exc.errors()) else 422, "error.bad_address")


def from_http(exc: HTTPException, request: object = None) -> HTMLResponse | RedirectResponse:
    if exc.status_code == 401:
        location = (getattr(exc, "headers", None) or {}).get("Location")
        return RedirectResponse(location, status_code=303) if location else _to_login()
    key = {404: "error.no_such_page", 405: "error.bad_address"}.get(exc.status_code)
    return _page(exc.status_code, key)


def from_unexpected(request: Request, exc: Exception) -> HTMLResponse:
    rid = log_unexpected(log, request, exc)
    try:
        return _page(500, "error.internal_detail", f"request id: {rid}")
    except Exception as page_exc:  # noqa: BLE001 - the error page itself failed; never answer with a trace
        log_unexpected(log, request, page_exc)
        return HTMLResponse(f"<!doctype html><title>500</title><h1>Internal error</h1><p>request id: {rid}</p>",
                            status_code=500)
