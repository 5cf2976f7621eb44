"""Release labels of a prompt: where each points, moving one to a version with a reason (the
service allows `production` to admins only), the history of every move, and the labels' gates (a label
that needs a passing evaluation before it moves to a newer version: services/gates.py) with the decisions
that let a move through and the runs they rest on. A refused move shows the gate's reason on the form."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from promptyard.domain import access
from promptyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from promptyard.services import datasets, gates, labels, prompts, versions
from promptyard.web.context import db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Editor, UiUser, Viewer

router = APIRouter()

SUGGESTED = ("production", "staging", "experimental")


def _page(request: Request, user: UiUser, prompt_id: int, *, status: int = 200, error: object = None,
          form: dict[str, str] | None = None, gate_error: object = None, gate_form: dict[str, str] | None = None
          ) -> Response:
    with db(request).read() as s:
        prompt = prompts.get(s, user.principal, prompt_id)
        numbers = [v.number for v in versions.list_versions(s, user.principal, prompt_id)]
        moves = labels.history(s, user.principal, prompt_id)
        gated = gates.list_gates(s, user.principal, prompt_id)
        passed = gates.decisions(s, user.principal, prompt_id)
        sets = datasets.list_all(s, user.principal) if access.has(user.principal, "write") else []
    names = sorted({*SUGGESTED, *(lab.name for lab in prompt.labels)})
    return render.page(request, user, "ui/prompts/labels.html", status_code=status, prompt=prompt, numbers=numbers,
                       history=moves, names=names, error=error, gates=gated, decisions=passed, datasets=sets,
                       form=form or {"label": "", "version": str(prompt.latest_version), "reason": ""},
                       gate_error=gate_error,
                       gate_form=gate_form or {"label": "production", "dataset": "", "score": "", "max_drop": "2"})


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
    except (InvalidInput, Forbidden, Conflict) as exc:  # Conflict: a gate refused, and says why
        return _page(request, user, prompt_id, status=exc.status, error=exc, form=fields)
    except NotFound as exc:
        # The prompt itself missing is the 404 page; a missing version is a form error.
        with db(request).read() as s:
            prompts.get(s, user.principal, prompt_id)
        return _page(request, user, prompt_id, status=422, error=exc, form=fields)
    return render.redirect(request, "labels", notice="label_moved", prompt_id=prompt_id)


_POINTS = re.compile(r"\d{1,3}(?:\.\d{1,6})?")


@router.post("/prompts/{prompt_id}/gates", name="gate_set")
def set_gate(request: Request, prompt_id: Id, user: Editor, form: FormData) -> Response:
    """Require a passing evaluation before a label moves (replaces that label's gate)."""
    session.check_csrf(user, form)
    fields = {k: str(form.get(k) or "").strip() for k in ("label", "dataset", "score", "max_drop")}
    drop = fields["max_drop"] or "0"
    try:
        with db(request).write() as s:
            gates.set_gate(s, user.principal, prompt_id, fields["label"], dataset=render.form_id(fields["dataset"]),
                           score=fields["score"], max_drop=float(drop) if _POINTS.fullmatch(drop) else drop)
    except (InvalidInput, Forbidden, NotFound) as exc:
        with db(request).read() as s:
            prompts.get(s, user.principal, prompt_id)  # the prompt itself missing is the 404 page
        return _page(request, user, prompt_id, status=exc.status, gate_error=exc, gate_form=fields)
    return render.redirect(request, "labels", notice="gate_saved", prompt_id=prompt_id)


@router.post("/prompts/{prompt_id}/gates/remove", name="gate_remove")
def remove_gate(request: Request, prompt_id: Id, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        gates.delete(s, user.principal, prompt_id, str(form.get("label") or ""))
    return render.redirect(request, "labels", notice="gate_removed", prompt_id=prompt_id)
