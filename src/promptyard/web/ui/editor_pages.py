"""The prompt editor: edit messages, format, model and parameters starting from any version;
preview the template with sample variables (rendered on the server, errors shown in the form);
save as a new version, which needs a commit message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from promptyard import catalogue
from promptyard.domain import templates
from promptyard.domain.records import PromptRecord
from promptyard.errors import InvalidInput
from promptyard.services import prompts, versions
from promptyard.services.render_pool import TemplateEngine, engine_for
from promptyard.web.context import ctx, db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Editor, UiUser
from promptyard.web.ui.version_form import VersionForm

router = APIRouter()

OptNumber = Annotated[int | None, Query(ge=1, le=render.MAX_ID)]


def _editor(request: Request, user: UiUser, prompt: PromptRecord, vf: VersionForm, base: int | None, *,
            status: int = 200, error: str | None = None, preview: dict | None = None,
            preview_error: str | None = None) -> Response:
    variables = vf.variables(_engine(request))
    unfilled = vf.unfilled(variables) if preview is not None else []
    return render.page(request, user, "ui/prompts/edit.html", status_code=status, prompt=prompt, vf=vf, base=base,
                       error=error, preview=preview, preview_error=preview_error, unfilled=unfilled,
                       variables=variables, roles=templates.ROLES, formats=templates.FORMATS)


@router.get("/prompts/{prompt_id}/edit", name="prompt_edit")
def edit_page(request: Request, prompt_id: Id, user: Editor, base: OptNumber = None) -> Response:
    with db(request).read() as s:
        prompt = prompts.get(s, user.principal, prompt_id)
        number = base or prompt.latest_version
        start = versions.get(s, user.principal, prompt_id, number) if number else None
    vf = VersionForm.from_version(start) if start else VersionForm()
    return _editor(request, user, prompt, vf, number)


def _engine(request: Request) -> TemplateEngine:
    return engine_for(ctx(request).settings)


@router.post("/prompts/{prompt_id}/edit", name="prompt_save")
def save(request: Request, prompt_id: Id, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    vf = VersionForm.from_form(form)
    base = render.form_id(form.get("base"))
    with db(request).read() as s:
        prompt = prompts.get(s, user.principal, prompt_id)
    if form.get("add_message"):
        vf.add_message()
        return _editor(request, user, prompt, vf, base)
    if form.get("preview"):
        try:
            return _editor(request, user, prompt, vf, base, preview=vf.preview(_engine(request)))
        except InvalidInput as exc:
            return _editor(request, user, prompt, vf, base, status=422, preview_error=exc)
    return _publish(request, user, prompt, vf, base)


def _publish(request: Request, user: UiUser, prompt: PromptRecord, vf: VersionForm, base: int | None) -> Response:
    if not vf.commit_message:
        # Checked here too (the service checks it as well) to show the message in the user's language.
        return _editor(request, user, prompt, vf, base, status=422,
                       error=catalogue.translate(user.locale, "editor.commit_required"))
    try:
        with db(request).write() as s:
            version, created = versions.publish(s, user.principal, prompt.id, vf.spec(), engine=_engine(request))
    except InvalidInput as exc:
        return _editor(request, user, prompt, vf, base, status=exc.status, error=exc)
    if not created:
        return _editor(request, user, prompt, vf, base, status=409,
                       error=catalogue.translate(user.locale, "editor.unchanged", version=version.number))
    return render.redirect(request, "prompt", notice="version_saved", prompt_id=prompt.id,
                           query={"v": version.number})
