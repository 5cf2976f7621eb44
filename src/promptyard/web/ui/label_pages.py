"""Release labels of a prompt: where each points, moving one to a version with a reason (the
service allows `production` to admins only), and the history of every move."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from promptyard.errors import Forbidden, InvalidInput, NotFound
from promptyard.services import labels, prompts, versions
from promptyard.web.context import db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Editor, UiUser, Viewer

router = APIRouter()

SUGGESTED = ("production", "staging", "experimental")


def _page(request: Request, user: UiUser, prompt_id: int, *, status: int = 200, error: str | None = None,
          form: dict[str, str] | None = None) -> Response:
    with db(request).read() as s:
        prompt = prompts.get(s, user.principal, prompt_id)
        numbers = [v.number for v in versions.list_versions(s, user.principal, prompt_id)]
        moves = labels.history(s, user.principal, prompt_id)
    names = sorted({*SUGGESTED, *(lab.name for lab in prompt.labels)})
    return render.page(request, user, "ui/prompts/labels.html", status_code=status, prompt=prompt, numbers=numbers,
                       history=moves, names=names, error=error,
                       form=form or {"label": "", "version": str(prompt.latest_version), "reason": ""})


@router.get("/prompts/{prompt_id}/labels", name="labels")
def labels_page(request: Request, prompt_id: Id, user: Viewer) -> Response:
    return _page(request, user, prompt_id)


@router.post("/prompts/{prompt_id}/labels", name="label_move")
def move_label(request: Request, prompt_id: Id, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = {k: str(form.get(k) or "").strip() for k in ("label", "version", "reason")}
    version = render.form_id(fields["version"])
    try:
        if version is None:
            raise InvalidInput("errors.labels.choose_version_label_should")
        with db(request).write() as s:
            labels.move(s, user.principal, prompt_id, fields["label"], version=version, reason=fields["reason"])
    except (InvalidInput, Forbidden) as exc:
        return _page(request, user, prompt_id, status=exc.status, error=exc, form=fields)
    except NotFound as exc:
        # The prompt itself missing is the 404 page; a missing version is a form error.
        with db(request).read() as s:
            prompts.get(s, user.principal, prompt_id)
        return _page(request, user, prompt_id, status=422, error=exc, form=fields)
    return render.redirect(request, "labels", notice="label_moved", prompt_id=prompt_id)
