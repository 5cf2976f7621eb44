"""Request log pages: the list with the filter box and keyset paging, exports, one request with
its score and metadata forms, and per-version analytics drawn as SVG charts.

Every read and write goes through services (request_reads, request_annotations, log_stats), which check
the user's workspace and rights; handlers only parse, call and shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse
from starlette.routing import NoMatchFound

from promptyard.catalogue import translate
from promptyard.domain import access, diff, text_tokens
from promptyard.domain import query as filters
from promptyard.errors import InvalidInput
from promptyard.services import exports, log_stats, log_trends, request_annotations, request_reads, score_configs
from promptyard.services.render_pool import engine_for
from promptyard.web.context import ctx, db
from promptyard.web.downloads import download
from promptyard.web.ui import charts, conversation, glance, list_columns, render, request_filters, session, trend_charts
from promptyard.web.ui.render import FormData
from promptyard.web.ui.session import Editor, UiUser, Viewer

router = APIRouter()
PAGE_SIZE = 50
Text = Annotated[str, Query(max_length=4000)]
Days = Annotated[int, Query(ge=1, le=max(log_trends.PERIODS))]
Cursor = Annotated[str | None, Query(max_length=200)]
Version = Annotated[int | None, Query(ge=1, le=render.MAX_ID)]
Ref = Annotated[str, Path(min_length=1, max_length=64)]


def _scope(prompt: str, version: int | None) -> dict[str, Any]:
    return {"prompt": prompt or None, "version": version if prompt else None}


def _helpers_redirect(request: Request, user: UiUser, name: str, q: str) -> RedirectResponse | None:
    """Helper fields become filter text in the box (one truth): redirect to the plain URL."""
    params = request.query_params
    if not request_filters.has_helpers(params):
        return None
    text = request_filters.combine(q, request_filters.helper_conditions(params, user.time_zone))
    keep = {k: params.get(k) for k in ("prompt", "version")}
    return RedirectResponse(render.path_for(request, name, {**keep, "q": text}), status_code=303)


def _prompt_link(request: Request, prompt_id: int | None, version: int | None = None) -> str | None:
    """The registry's page of the prompt (at that version), when the registry UI has that page."""
    if not prompt_id:
        return None
    try:
        return render.path_for(request, "prompt", {"v": version}, prompt_id=prompt_id)
    except NoMatchFound:
        return None


@router.get("/requests", name="requests")
def list_page(request: Request, user: Viewer, q: Text = "", prompt: Text = "", version: Version = None,
              after: Cursor = None, before: Cursor = None):
    try:
        jump = _helpers_redirect(request, user, "requests", q)
    except filters.FilterSyntaxError as exc:
        return _list(request, user, q, prompt, version, None, None, request_filters.place(q, exc, user.locale))
    if jump:
        return jump
    return _list(request, user, q, prompt, version, after, before, None)


def _list(request: Request, user: UiUser, q: str, prompt: str, version: int | None, after: str | None,
          before: str | None, error: request_filters.FilterError | None):
    node, parse_error = request_filters.parse(q, user.time_zone, user.locale)
    error = error or parse_error
    scope = _scope(prompt, version)
    with db(request).read() as s:
        found = {"items": [], "next": None, "prev": None, "matching": None} if error else request_reads.browse(
            s, user.principal, node=node, limit=PAGE_SIZE, after=after, before=before if not after else None,
            count=True, full=True, **scope)
        names = request_reads.suggestions(s, user.principal)
        ids = request_reads.prompt_ids(s, user.principal, {i["prompt"] for i in found["items"] if i["prompt"]})
    queries = text_tokens.text_queries(node)
    for item in found["items"]:  # the page needs two lines of each text, not the texts
        item.update(glance.of(item, queries))
        for key in ("input", "output", "input_text", "output_text", "input_variables", "routing"):
            item.pop(key, None)
    chosen = list_columns.chosen(request.cookies.get(list_columns.cookie_name(user.user_id)))
    return render.page(request, user, "ui/requests/list.html", status_code=422 if error else 200,
                       q=q, scope=scope, page=found, names=names, error=error, prompt_links={
                            n: _prompt_link(request, pid) for n, pid in ids.items()},
                       score_ops=request_filters.SCORE_OPS, since=request_filters.SINCE,
                       columns=list_columns.shown(chosen, found["items"]), chosen=chosen,
                       choices=list_columns.choices(names, found["items"]),
                       highlight=any("match" in i for i in found["items"]), csv_bom=_csv_bom(user))


@router.post("/requests/columns", name="requests_columns")
def columns(request: Request, user: Viewer, form: FormData):
    """The list's columns, remembered for this user in this browser (a cookie): the chooser's form."""
    session.check_csrf(user, form)
    back = form.get("next") or ""
    response = RedirectResponse(back if list_columns.is_list_path(back) else render.path_for(request, "requests"),
                                status_code=303)
    name = list_columns.cookie_name(user.user_id)
    if form.get("reset"):
        response.delete_cookie(name, path="/ui")
    else:
        session.set_cookie(response, request, name, list_columns.encode(form.getlist("col")), max_age=365 * 86400)
    return response


def _csv_bom(user: UiUser) -> bool:
    """Whether the UI's CSV has a byte order mark unless asked otherwise: in Japanese, where the file
    is most often opened in Excel, which reads a CSV without one as Shift_JIS (mojibake)."""
    return user.locale == "ja"


@router.get("/requests/export", name="requests_export")
def export(request: Request, user: Viewer, format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
           q: Text = "", prompt: Text = "", version: Version = None, bom: bool | None = None):
    """The CSV has a byte order mark (Excel then reads UTF-8) when asked, and by default in Japanese."""
    node = request_reads.scoped(filters.parse(q, ZoneInfo(user.time_zone)), **_scope(prompt, version))
    bom = _csv_bom(user) if bom is None else bom
    return download(db(request).read, lambda s: exports.export(s, user.principal, node, format, bom=bom),
                    media_type=exports.MEDIA[format], filename=f"requests.{format}")


@router.get("/requests/{ref}", name="request")
def detail_page(request: Request, ref: Ref, user: Viewer, raw: bool = False):
    """`raw`: LLM output as the text it is, not rendered as Markdown (the page's "raw" link)."""
    return _detail(request, user, ref, raw=raw)


def _detail(request: Request, user: UiUser, ref: str, status_code: int = 200, raw: bool = False, **form_state: Any):
    with db(request).read() as s:
        item = request_reads.detail(s, user.principal, ref, engine_for(ctx(request).settings))
        configs = {c.name: c for c in score_configs.list_all(s, user.principal)}
    item["score_names"] = sorted(set(item["score_names"]) | {n for n, c in configs.items() if not c.archived})
    input_turns = conversation.turns(item["input"], "user")
    rendered_turns = (conversation.turns(item["rendered_template"], "system")
                      if item["rendered_template"] and "error" not in item["rendered_template"] else None)
    return render.page(request, user, "ui/requests/detail.html", status_code=status_code, item=item,
                       score_configs=configs,
                       input_turns=input_turns, output_turns=conversation.turns(item["output"], "assistant"),
                       rendered_turns=rendered_turns, template_diff=_template_diff(rendered_turns, input_turns),
                       diff_chars=DIFF_CHARS,
                       raw=raw, segments=diff.segments,
                       prompt_link=_prompt_link(request, item["prompt_id"], item["version"]),
                       can_edit=access.has(user.principal, "write"),
                       form_error=form_state.get("form_error"), form_values=form_state.get("form_values", {}))


DIFF_CHARS = 20_000  # the character diff is quadratic at worst: longer texts get the marker only


def _template_diff(rendered: list | None, sent: list | None) -> dict[str, Any] | None:
    """None when the rendered template reads the same as the input sent (or there is none to
    compare), else {rows}: the rows of one against the other (domain/diff.py, changed characters
    marked), [] when the two are too long to diff on a page."""
    if rendered is None:
        return None
    left, right = conversation.plain(rendered), conversation.plain(sent)
    if left == right:
        return None
    return {"rows": diff.text_rows(left, right) if len(left) + len(right) <= DIFF_CHARS else []}


def _annotate(request: Request, user: UiUser, ref: str, kind: request_annotations.Kind, payload: dict, form: Any,
              notice: str):
    session.check_csrf(user, form)
    try:
        with db(request).write() as s:
            request_annotations.annotate(s, user.principal, ref, kind, payload, stored_only=True,
                                         grace_s=ctx(request).settings.pending_grace_s)
    except InvalidInput as exc:
        return _detail(request, user, ref, 422, form_error=exc, form_values=dict(form))
    return render.redirect(request, "request", notice=notice, ref=ref)


@router.post("/requests/{ref}/scores", name="request_score")
def score(request: Request, ref: Ref, user: Editor, form: FormData):
    value = render.form_number(form.get("value"))
    payload = {"name": (form.get("name") or "").strip(), "value": value, "comment": form.get("comment") or "",
               "source": "human", "author": user.email}
    return _annotate(request, user, ref, request_annotations.SCORES, payload, form, "requests_score_saved")


@router.post("/requests/{ref}/metadata", name="request_metadata")
def metadata(request: Request, ref: Ref, user: Editor, form: FormData):
    key = (form.get("key") or "").strip()
    return _annotate(request, user, ref, request_annotations.METADATA, {key: form.get("value") or ""}, form,
                     "requests_metadata_saved")


@router.get("/analytics", name="analytics")
def analytics_page(request: Request, user: Viewer, q: Text = "", prompt: Text = "", days: Days = 7,
                   per: Literal["day", "hour"] = "day"):
    node, error = request_filters.parse(q, user.time_zone, user.locale)
    if per == "hour":  # at most a week of hours: 168 points a line
        days = min(days, max(log_trends.HOUR_PERIODS))
    with db(request).read() as s:
        items = [] if error else log_stats.per_version(s, user.principal, prompt=prompt or None, node=node)
        redacted = {} if error else log_stats.redactions(s, user.principal, prompt=prompt or None, node=node)
        if error:
            trends = None
        elif per == "hour":
            trends = log_trends.per_hour(s, user.principal, hours=days * 24, tz=user.time_zone,
                                         prompt=prompt or None, node=node)
        else:
            trends = log_trends.per_day(s, user.principal, days=days, tz=user.time_zone, prompt=prompt or None,
                                        node=node)
        names = request_reads.suggestions(s, user.principal)
    t = lambda key, **kw: translate(user.locale, key, **kw)  # noqa: E731
    chart_list = charts.analytics_charts(items, t, user.locale, user.currency)
    trend_list = trend_charts.trend_charts(trends, t, user.locale) if trends and trends["series"] else []
    return render.page(request, user, "ui/analytics/versions.html", status_code=422 if error else 200,
                       q=q, prompt=prompt, rows=items, charts=chart_list, error=error, names=names, redacted=redacted,
                       days=days, per=per, periods=log_trends.HOUR_PERIODS if per == "hour" else log_trends.PERIODS,
                       trends=trend_list, trends_max=trend_charts.MAX_LINES,
                       lines_left=max(0, len(trends["series"]) - trend_charts.MAX_LINES) if trends else 0,
                       score_names=sorted({n for i in items for n in i["scores"]}),
                       label=lambda i: charts.version_label(i, translate(user.locale, "requests.analytics.unlinked")))
