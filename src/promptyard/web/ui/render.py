"""The UI's pages: templates, links, forms and the page's language.

How a page module uses it (with session.py, which says who is asking)::

    from fastapi import APIRouter, Request
    from promptyard.services import prompts
    from promptyard.web.context import db
    from promptyard.web.ui import render, session
    from promptyard.web.ui.render import FormData, Id
    from promptyard.web.ui.session import Editor, Viewer

    router = APIRouter()

    @router.get("/prompts/{prompt_id}", name="prompt")
    def prompt_page(request: Request, prompt_id: Id, user: Viewer):
        with db(request).read() as s:
            prompt = prompts.get(s, user.principal, prompt_id)   # the service checks rights
        return render.page(request, user, "ui/prompt.html", prompt=prompt)

    @router.post("/prompts/{prompt_id}/describe", name="prompt_describe")
    def describe(request: Request, prompt_id: Id, user: Editor, form: FormData):
        session.check_csrf(user, form)                            # every POST, first thing
        ...
        return render.redirect(request, "prompt", notice="saved", prompt_id=prompt_id)

- `FormData` is the parsed form body (`form.get(name)`, `form.getlist(name)`); parse fields
  yourself so bad input re-renders the form (422) instead of a framework error. Every value is a
  str without NUL (files and NUL are refused before the handler runs); `form_id(value)` reads a
  version number or id (None when it is not one).
- Errors raised by services (NotFound, Forbidden, InvalidInput ...) become the HTML error page
  (errors.py). To re-render a form instead, catch `InvalidInput`/`Conflict` and call `page(...,
  status_code=422, error=exc)`, translated here into the page's language.
- Templates extend "ui/base.html" (blocks `title`, `content`) and get: `t(key, **fields)`
  (catalogue text in the user's language; files in web/ui/i18n/, see catalogue.py),
  `fmt_time(dt)` (the page's time zone, named in the header as `zone_label`; times.py),
  `money(x)` (a cost in the workspace's currency; figures.py), `url_for(route_name, query={...}, **path_params)` (a path),
  `csrf_field()` (every POST form), `safe_href(url)` (only http(s) and relative links survive),
  `pretty_json(value)`, `text | markdown` (LLM output as safe Markdown: markdown.py),
  `can(right)` / `can_move(label)` / `protected(label)` (what the user may
  do, from domain/access.py: a template never inspects scopes or names a label itself), `user`,
  `lang`, `request`. Autoescape is on and undefined names raise: never use `|safe` on user or
  LLM text.
- `redirect(request, route_name, notice=key, **path_params)` after a successful POST (303); the
  notice shows as `t("notice." + key)` on the next page.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from markupsafe import Markup
from starlette.datastructures import FormData as StarletteFormData
from starlette.routing import NoMatchFound

from promptyard import catalogue
from promptyard.domain import access, numbers
from promptyard.errors import InvalidInput, PromptyardError
from promptyard.web.ui import figures, markdown, times

if TYPE_CHECKING:
    from promptyard.web.ui.session import UiUser

WEB = Path(__file__).resolve().parents[1]
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
LANG_COOKIE = "py_lang"  # a visitor's language choice (set by auth_pages, read here)
MAX_ID = numbers.MAX_ID
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]

# Pages carry private data and must not run foreign code: no inline or third-party scripts or
# styles (templates use classes from app.css, never style attributes), no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                                "frame-ancestors 'none'; form-action 'self'"),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def visitor_lang(request: Request) -> str:
    return catalogue.negotiate(None, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


# --- forms ---------------------------------------------------------------------------------------

async def read_form(request: Request) -> StarletteFormData:
    """The form body, refused (422 page) when it holds files or NUL characters: no UI form uploads
    files, and NUL is text PostgreSQL cannot store while SQLite would - the API refuses it too."""
    form = await request.form()
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise InvalidInput("errors.system.field_text_file", key=key, details={"ui_message": "error.form_file"})
        if "\x00" in key or "\x00" in value:
            raise InvalidInput("errors.system.text_may_contain_nul", details={"ui_message": "error.form_nul"})
    return form


FormData = Annotated[StarletteFormData, Depends(read_form)]


def form_id(value: object, hi: int = MAX_ID) -> int | None:
    """A version number or id typed into a form: 1 ... `hi` (a request's number: numbers.ROW_ID_MAX)
    in ASCII digits, else None."""
    return numbers.ascii_int(value, lo=1, hi=hi)


def form_number(value: object) -> object:
    """A number typed into a form (a score) as a number when it is one; anything else as it came, for
    the service to say why it is not."""
    number = numbers.ascii_decimal(value)
    return value if number is None else number


# --- links ---------------------------------------------------------------------------------------

PATHS_KEPT = 4096  # UI paths remembered per app (a page asks for ~25; routing walks every route each time)


def _ui_paths(app: Any) -> dict[tuple[str, ...], str]:
    """The paths already built, by route name and parameters: the routes do not change while the app runs."""
    found = getattr(app.state, "ui_paths", None)
    if found is None:
        found = app.state.ui_paths = {}
    return found


def _ui_routes(app: Any) -> list[Any]:
    """The app's routes that belong to the UI. Route names are only unique per surface (the API
    also has an 'experiment' route), so UI links are looked up among UI routes only."""
    found = getattr(app.state, "ui_routes", None)
    if found is None:
        found = [r for r in app.router.routes
                 if getattr(getattr(r, "original_router", None), "prefix",
                            None) == "/ui"  # included router (newer FastAPI)
                 or str(getattr(r, "path", "")).startswith("/ui/")]  # flattened routes (older FastAPI)
        app.state.ui_routes = found
    return found


def path_for(request: Request, route: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
    values = {k: str(v) for k, v in params.items()}
    paths = _ui_paths(request.app)
    key = (route, *sorted(values.items()))
    path = paths.get(key)
    if path is None:
        for candidate in _ui_routes(request.app):
            try:
                path = str(candidate.url_path_for(route, **values))
                break
            except NoMatchFound:
                continue
        else:
            raise NoMatchFound(route, values)
        if len(paths) >= PATHS_KEPT:
            paths.clear()
        paths[key] = path
    clean = {k: v for k, v in (query or {}).items() if v is not None and v != ""}
    return f"{path}?{urlencode(clean, doseq=True)}" if clean else path


def safe_href(url: object) -> str:
    """A link target from user data: http(s) URLs and same-site paths only, anything else '#'."""
    if not isinstance(url, str):
        return "#"
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        return text
    if not parts.scheme and text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return "#"


# --- templates -----------------------------------------------------------------------------------

@pass_context
def _t(context: Any, key: str, /, **fields: object) -> str:
    return catalogue.translate(context["lang"], key, **fields)


@pass_context
def fmt_time(context: Any, value: datetime | str | None, seconds: bool = False) -> str:
    return times.shown(value, context["tz"], seconds)


@pass_context
def _money(context: Any, value: float | None) -> str:
    return figures.money(value, context["currency"])


@pass_context
def _url_for(context: Any, route: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
    return path_for(context["request"], route, query, **params)


@pass_context
def _url_or_none(context: Any, route: str, **params: Any) -> str | None:
    """A path, or None when no route has that name (a page area that is not installed)."""
    try:
        return path_for(context["request"], route, **params)
    except NoMatchFound:
        return None


@pass_context
def csrf_field(context: Any) -> Markup:
    user = context.get("user")
    token = user.csrf_token if user else ""
    return Markup('<input type="hidden" name="csrf_token" value="%s">') % token


@pass_context
def can(context: Any, right: str) -> bool:
    """Whether the page's user has `right` (a scope of domain/access.py); False without a user."""
    user = context.get("user")
    return user is not None and access.has(user.principal, right)


@pass_context
def can_move(context: Any, label: str) -> bool:
    """Whether the page's user may move label `label` or change its split (access.may_move)."""
    user = context.get("user")
    return user is not None and access.may_move(user.principal, label)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@pass_context
def kind_name(context: Any, kind: str) -> str:
    """A redaction kind in the page's language ("custom:<name>" for a workspace's own pattern)."""
    if kind.startswith("custom:"):
        return catalogue.translate(context["lang"], "privacy.kind.custom", name=kind.removeprefix("custom:"))
    return catalogue.translate(context["lang"], f"privacy.kind.{kind}")


@pass_context
def _notice(context: Any) -> str | None:
    key = context["request"].query_params.get("notice")
    text = f"notice.{key}" if key else None
    if text and text in catalogue.catalogue("en"):
        return catalogue.translate(context["lang"], text)
    return None


env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True)
env.globals.update(t=_t, fmt_time=fmt_time, url_for=_url_for, url_or_none=_url_or_none, csrf_field=csrf_field,
                   safe_href=safe_href, notice=_notice, languages=catalogue.LANGUAGES, kind_name=kind_name,
                   can=can, can_move=can_move, protected=access.is_protected, num=figures, money=_money)
env.filters.update(fmt_time=fmt_time, safe_href=safe_href, pretty_json=pretty_json, markdown=markdown.markdown_filter)


def page(request: Request, user: UiUser | None, template_name: str, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    lang = user.locale if user else visitor_lang(request)
    tz = user.time_zone if user else "UTC"
    # An error given as context (error=exc) shows in the page's language: the one place the UI translates.
    context = {k: v.text(lang) if isinstance(v, PromptyardError) else v for k, v in context.items()}
    html = env.get_template(template_name).render(request=request, user=user, lang=lang, tz=tz,
                                                  zone_label=times.zone_label(tz),
                                                  currency=user.currency if user else figures.USD,
                                                  markdown_budget=markdown.Budget(), **context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def redirect(request: Request, route: str, notice: str | None = None, query: dict[str, Any] | None = None,
             **params: Any) -> RedirectResponse:
    """303 See Other after a POST, so a reload does not send the form again."""
    return RedirectResponse(path_for(request, route, {**(query or {}), "notice": notice}, **params),
                            status_code=303)
