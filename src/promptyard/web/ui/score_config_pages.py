"""Score config pages: the list with a create form, and one config's edit form (members read,
editors write). Plain form posts, no JavaScript; services/score_configs.py checks, audits, stores.

A categorical config's labels are typed one per line, `value | label | description`, lowest first.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from promptyard.domain import numbers
from promptyard.domain import score_configs as sc
from promptyard.errors import Conflict, InvalidInput
from promptyard.services import score_configs
from promptyard.web.context import db
from promptyard.web.ui import render, session
from promptyard.web.ui.render import FormData
from promptyard.web.ui.session import Editor, UiUser, Viewer

router = APIRouter()
Id = Annotated[int, Path(ge=1, le=render.MAX_ID)]
FIELDS = ("name", "type", "min", "max", "step", "categories", "rubric", "comment_required_below")


def _number(text: Any) -> Any:
    """A number typed in a field (None when empty); other text goes to the service, which says why."""
    text = (text or "").strip()
    if not text:
        return None
    number = numbers.ascii_decimal(text)
    return text if number is None else number


def _categories(text: str) -> list[dict[str, Any]] | None:
    rows = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        value, _, rest = line.partition("|")
        label, _, description = rest.partition("|")
        rows.append({"value": _number(value), "label": label.strip(), "description": description.strip()})
    return rows or None


def body_of(form: Any) -> dict[str, Any]:
    """A config's form -> the body services/score_configs takes."""
    return {"name": (form.get("name") or "").strip(), "type": form.get("type") or "", "min": _number(form.get("min")),
            "max": _number(form.get("max")), "step": _number(form.get("step")),
            "categories": _categories(form.get("categories") or ""), "rubric": form.get("rubric") or "",
            "sources": form.getlist("sources"),
            "comment_required_below": _number(form.get("comment_required_below")),
            "archived": form.get("archived") == "on"}


def fields_of(config: sc.ScoreConfig | None) -> dict[str, Any]:
    """A config's values as its form shows them (a new config: numeric 0-100, every source)."""
    if config is None:
        return {"name": "", "type": "numeric", "min": "0", "max": "100", "step": "", "categories": "", "rubric": "",
                "sources": list(sc.SOURCES), "comment_required_below": "", "archived": False}
    num = lambda x: "" if x is None else sc._num(x)  # noqa: E731
    return {"name": config.name, "type": config.type, "min": num(config.min_value), "max": num(config.max_value),
            "step": num(config.step), "rubric": config.rubric, "sources": list(config.sources),
            "categories": "\n".join(f"{sc._num(c.value)} | {c.label} | {c.description}".rstrip(" |")
                                    for c in config.categories),
            "comment_required_below": num(config.comment_required_below), "archived": config.archived}


def _typed(form: Any) -> dict[str, Any]:
    """What was typed, shown again next to the error."""
    out = {k: form.get(k) or "" for k in FIELDS}
    out["sources"] = form.getlist("sources")
    out["archived"] = form.get("archived") == "on"
    return out


def _list(request: Request, user: UiUser, *, status: int = 200, fields: dict | None = None,
          error: str | None = None) -> Response:
    with db(request).read() as s:
        items = score_configs.list_all(s, user.principal)
    return render.page(request, user, "ui/scores/configs.html", status_code=status, configs=items,
                       fields=fields or fields_of(None), error=error, types=sc.TYPES, sources=sc.SOURCES)


@router.get("/score-configs", name="score_configs")
def list_page(request: Request, user: Viewer) -> Response:
    return _list(request, user)


@router.post("/score-configs", name="score_config_create")
def create(request: Request, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    try:
        with db(request).write() as s:
            score_configs.create(s, user.principal, body_of(form))
    except (InvalidInput, Conflict) as exc:
        return _list(request, user, status=exc.status, fields=_typed(form), error=exc.text(user.locale))
    return render.redirect(request, "score_configs", notice="score_config_saved")


def _edit(request: Request, user: UiUser, config_id: int, *, status: int = 200, fields: dict | None = None,
          error: str | None = None) -> Response:
    with db(request).read() as s:
        config = score_configs.get(s, user.principal, config_id)
    return render.page(request, user, "ui/scores/edit.html", status_code=status, config=config,
                       fields=fields or fields_of(config), error=error, types=sc.TYPES, sources=sc.SOURCES)


@router.get("/score-configs/{config_id}", name="score_config")
def edit_page(request: Request, config_id: Id, user: Viewer) -> Response:
    return _edit(request, user, config_id)


@router.post("/score-configs/{config_id}", name="score_config_update")
def update(request: Request, config_id: Id, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    try:
        with db(request).write() as s:
            score_configs.update(s, user.principal, config_id, body_of(form))
    except InvalidInput as exc:
        return _edit(request, user, config_id, status=422, fields=_typed(form) | {"name": ""},
                     error=exc.text(user.locale))
    return render.redirect(request, "score_configs", notice="score_config_saved")


@router.post("/score-configs/{config_id}/delete", name="score_config_delete")
def delete(request: Request, config_id: Id, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        score_configs.delete(s, user.principal, config_id)
    return render.redirect(request, "score_configs", notice="score_config_deleted")
