"""The playground: open a logged request as a draft (its version with the logged variables), edit it,
run it (and a second draft beside it) through a provider connection, see the new answers beside the
logged one, score them, and save a draft as a new version (services/playground.py says what is stored).

Without JavaScript: the whole page is one form, and every button (run, add a draft, add a message, save
scores, save a version) posts it; the server renders the result. The drafts travel in the form (fields
a_..., b_... as web/ui/version_form.py reads them), a run's answer as the number of the request log it
was stored in (a_output, b_output). Viewers may open a draft; running it (it costs money) and saving
need an editor, scoring needs the ingest right: the services check, the page shows only what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from promptyard import catalogue
from promptyard.domain import access, numbers, templates
from promptyard.errors import Forbidden, PromptyardError
from promptyard.services import playground, providers, request_annotations, request_reads, score_configs, versions
from promptyard.services.render_pool import TemplateEngine, engine_for
from promptyard.web.context import ctx, db
from promptyard.web.ui import conversation, render, session
from promptyard.web.ui.render import FormData
from promptyard.web.ui.session import UiUser, Viewer
from promptyard.web.ui.version_form import VersionForm

router = APIRouter()
Ref = Annotated[str, Path(min_length=1, max_length=64)]
KEYS = ("a", "b")  # at most two drafts side by side


@dataclass
class Column:
    """One draft: its form, the log its last run was stored in, and what to say about it."""

    key: str
    vf: VersionForm
    output: int | None = None
    error: str | None = None
    notice: str | None = None

    @property
    def label(self) -> str:
        return self.key.upper()


@dataclass
class Playground:
    columns: list[Column]
    samples: dict[str, str] = field(default_factory=dict)
    connection: int | None = None

    @classmethod
    def from_form(cls, form: Any) -> "Playground":
        count = 2 if form.get("drafts") == "2" else 1
        columns = [Column(k, VersionForm.from_form(form, f"{k}_"), render.form_id(form.get(f"{k}_output"), numbers.ROW_ID_MAX))
                   for k in KEYS[:count]]
        samples = {k[4:]: v.replace("\r\n", "\n") for k, v in form.items() if k.startswith("var_")}
        return cls(columns, samples, render.form_id(form.get("connection")))

    def column(self, key: Any) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


def _engine(request: Request) -> TemplateEngine:
    return engine_for(ctx(request).settings)


@router.get("/requests/{ref}/playground", name="playground")
def open_page(request: Request, ref: Ref, user: Viewer) -> Response:
    with db(request).read() as s:
        start = playground.start(s, user.principal, ref, _engine(request))
    pg = Playground([Column("a", VersionForm.from_version(start.draft))], dict(start.variables))
    return _page(request, user, ref, pg)


@router.post("/requests/{ref}/playground", name="playground_act")
def act(request: Request, ref: Ref, user: Viewer, form: FormData) -> Response:
    session.check_csrf(user, form)
    pg = Playground.from_form(form)
    if form.get("add_draft") and len(pg.columns) == 1:
        first = pg.columns[0].vf
        pg.columns.append(Column("b", replace(first, messages=[dict(m) for m in first.messages], commit_message="")))
    elif form.get("drop_draft"):
        pg.columns = pg.columns[:1]
    elif form.get("run"):
        return _run(request, user, ref, pg)
    elif pg.column(form.get("score")):
        return _score(request, user, ref, pg, pg.column(form.get("score")), form)
    elif pg.column(form.get("save")):
        return _save(request, user, ref, pg, pg.column(form.get("save")))
    for c in pg.columns:
        if form.get(f"{c.key}_add_message"):
            c.vf.add_message()
    return _page(request, user, ref, pg)


def _failed(user: UiUser, c: Column, exc: PromptyardError) -> int:
    """The error shown in the draft's column; the page's status. Rights are the error page's."""
    if isinstance(exc, Forbidden):
        raise exc
    c.error = exc.text(user.locale)
    return exc.status


def _run(request: Request, user: UiUser, ref: str, pg: Playground) -> Response:
    """Every draft rendered, then sent at once (playground.call_all), each answer stored as a playground log."""
    engine, status, ready = _engine(request), 200, []
    for c in pg.columns:
        c.output = None
        try:
            with db(request).read() as s:
                ready.append((c, playground.prepare(s, user.principal, ref, c.vf.draft(),
                                                    playground.values(pg.samples), pg.connection, engine, c.label)))
        except PromptyardError as exc:
            status = max(status, _failed(user, c, exc))
    answers = playground.call_all([prepared for _, prepared in ready])  # no transaction open meanwhile
    for (c, prepared), ran in zip(ready, answers):
        try:
            if isinstance(ran, PromptyardError):
                raise ran
            with db(request).write() as s:
                c.output = playground.store(s, user.principal, prepared, ran)
        except PromptyardError as exc:
            status = max(status, _failed(user, c, exc))
    return _page(request, user, ref, pg, status)


def _score(request: Request, user: UiUser, ref: str, pg: Playground, c: Column, form: Any) -> Response:
    """The scores typed under a draft's answer, written on its log (request_annotations, source human)."""
    rows = [(form.get(f"sname_{i}"), f"s_{c.key}_{i}") for i in range(_count(form.get("score_count")))]
    rows.append(((form.get(f"s_{c.key}_new") or "").strip(), f"s_{c.key}_new_v"))
    payload = [{"name": name, "value": render.form_number(form.get(fname)), "comment": form.get(f"{fname}_c") or "",
                "source": "human", "author": user.email}
               for name, fname in rows if name and (form.get(fname) or "").strip()]
    if c.output is None or not payload:
        c.error = catalogue.translate(user.locale, "playground.no_scores")
        return _page(request, user, ref, pg, 422)
    try:
        with db(request).write() as s:
            request_annotations.annotate(s, user.principal, str(c.output), request_annotations.SCORES, payload,
                                         stored_only=True, grace_s=ctx(request).settings.pending_grace_s)
    except PromptyardError as exc:
        return _page(request, user, ref, pg, _failed(user, c, exc))
    c.notice = catalogue.translate(user.locale, "notice.requests_score_saved")
    return _page(request, user, ref, pg)


def _save(request: Request, user: UiUser, ref: str, pg: Playground, c: Column) -> Response:
    """The draft as a new version of the logged request's prompt (labels stay where they are)."""
    with db(request).read() as s:
        prompt_id = request_reads.get(s, user.principal, ref, _engine(request))["prompt_id"]
    if not prompt_id:
        c.error = catalogue.translate(user.locale, "playground.no_prompt")
        return _page(request, user, ref, pg, 422)
    if not c.vf.commit_message:
        c.error = catalogue.translate(user.locale, "editor.commit_required")
        return _page(request, user, ref, pg, 422)
    try:
        spec = c.vf.spec()
        with db(request).write() as s:
            version, created = versions.publish(s, user.principal, prompt_id, spec, engine=_engine(request))
    except PromptyardError as exc:
        return _page(request, user, ref, pg, _failed(user, c, exc))
    if not created:
        c.error = catalogue.translate(user.locale, "editor.unchanged", version=version.number)
        return _page(request, user, ref, pg, 409)
    return render.redirect(request, "prompt", notice="version_saved", prompt_id=prompt_id,
                           query={"v": version.number})


def _count(value: Any) -> int:
    return min(render.form_id(value) or 0, 1000)


def _page(request: Request, user: UiUser, ref: str, pg: Playground, status: int = 200) -> Response:
    engine = _engine(request)
    with db(request).read() as s:
        origin = request_reads.get(s, user.principal, ref, engine)
        outputs = {c.key: request_reads.get(s, user.principal, str(c.output), engine) for c in pg.columns if c.output}
        connections = providers.choices(s, user.principal) if access.has(user.principal, "write") else []
        configs = [c for c in score_configs.list_all(s, user.principal) if not c.archived]
    draft_variables = {c.key: c.vf.variables(engine) for c in pg.columns}
    names = list(pg.samples)
    for found in draft_variables.values():
        names += [n for n in found if n not in names]
    return render.page(
        request, user, "ui/playground/page.html", status_code=status, ref=ref, origin=origin, pg=pg,
        logged_turns=conversation.turns(origin["output"], "assistant"), variables=names,
        draft_variables=draft_variables,
        outputs={k: {"item": o, "turns": conversation.turns(o["output"], "assistant"),
                     "scores": {sc["name"]: sc for sc in o["scores"]}} for k, o in outputs.items()},
        connections=connections, score_configs=configs, roles=templates.ROLES, formats=templates.FORMATS,
        can_save=bool(origin["prompt_id"]) and access.has(user.principal, "write"),
        can_score=access.has(user.principal, "ingest"))
