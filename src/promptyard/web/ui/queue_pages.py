"""Annotation queues in the UI (services/annotation_queues.py, docs/review.md): the list, a new
queue (editors), a queue's overview (progress per reviewer, items waiting, disagreements) and the
focused review page.

The review page is one form: plain posts without JavaScript (each answer a 303 to the next item);
with it, web/static/review.js posts the same form by fetch and swaps the item in place, and adds
the keyboard (1-5, y/n, j next, s skip, c comment)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from promptyard import catalogue
from promptyard.domain.numbers import MAX_ID
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import annotation_queues as aq
from promptyard.services import datasets, evaluations, members
from promptyard.web.context import db
from promptyard.web.ui import conversation, render, session
from promptyard.web.ui.render import FormData, Id, form_id
from promptyard.web.ui.session import Editor, UiUser, Viewer

router = APIRouter()
SCORE_ROWS = 3  # score rows on the new-queue form
RUNS = 50  # the newest evaluation runs the form offers
ItemQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get("/queues", name="queues")
def queues_page(request: Request, user: Viewer) -> Response:
    with db(request).read() as s:
        found = aq.list_queues(s, user.principal)
    return render.page(request, user, "ui/queues/list.html", queues=found)


def _new_form(request: Request, user: UiUser, *, form: dict[str, Any] | None = None, error: str | None = None,
              status: int = 200) -> Response:
    with db(request).read() as s:
        people = members.list_members(s, user.principal)
        sets = datasets.list_all(s, user.principal)
        runs = evaluations.list_runs(s, user.principal, limit=RUNS)
    form = form or {"name": "", "description": "", "source": "filter", "filter": "", "dataset": None,
                    "dataset_version": "", "run": None, "variants": "", "reviews_per_item": 1, "rate": "",
                    "daily": False, "limit": aq.DEFAULT_ITEMS, "reviewers": [],
                    "scores": [{"name": "accuracy", "kind": "scale5", "rubric": "", "judge": ""}]}
    rows = (form["scores"] + [{"name": "", "kind": "scale5", "rubric": "", "judge": ""}] * SCORE_ROWS)[:SCORE_ROWS]
    return render.page(request, user, "ui/queues/new.html", status_code=status, form=form, rows=rows, people=people,
                       kinds=aq.FREE_KINDS, datasets=sets, runs=runs, error=error)


@router.get("/queues/new", name="queue_new")
def new_queue_page(request: Request, user: Editor) -> Response:
    return _new_form(request, user)


def _rate(text: str) -> float | str | None:
    """The sampling share typed as a percentage ('5' = 5%); the text itself when it is no number
    (the service then names the problem)."""
    if not text.strip():
        return None
    try:
        return float(text) / 100
    except ValueError:
        return text


def _fields(form: FormData) -> dict[str, Any]:
    """The new-queue form as typed (shown again with a problem)."""
    scores = [{"name": str(form.get(f"score_name_{i}") or "").strip(), "kind": str(form.get(f"score_kind_{i}") or ""),
               "rubric": str(form.get(f"score_rubric_{i}") or ""),
               "judge": str(form.get(f"score_judge_{i}") or "").strip()} for i in range(SCORE_ROWS)]
    return {"name": str(form.get("name") or ""), "description": str(form.get("description") or ""),
            "source": str(form.get("source") or "filter"), "filter": str(form.get("filter") or "").strip(),
            "dataset": form_id(form.get("dataset")), "dataset_version": str(form.get("dataset_version") or "").strip(),
            "run": form_id(form.get("run")), "variants": str(form.get("variants") or "").strip(),
            "rate": str(form.get("rate") or ""), "daily": form.get("daily") == "on",
            "reviews_per_item": form_id(form.get("reviews_per_item")) or 0,
            "limit": form_id(form.get("limit")) if form.get("limit") != "0" else 0,
            "reviewers": [n for n in (form_id(v) for v in form.getlist("reviewers")) if n],
            "scores": [s for s in scores if s["name"]]}


def _source(fields: dict[str, Any]) -> dict[str, Any]:
    """The source the form chose: a filter (none typed: added by hand), a dataset version or a run
    (its variants typed as keys or version numbers, separated by commas)."""
    if fields["source"] == "dataset":
        return {"kind": "dataset", "dataset": fields["dataset"] or "", "version": fields["dataset_version"] or None}
    if fields["source"] == "evaluation":
        wanted = [v.strip() for v in fields["variants"].replace("、", ",").split(",") if v.strip()]
        return {"kind": "evaluation", "run": fields["run"] or "", "variants": wanted}
    return {"kind": "filter", "ref": fields["filter"]} if fields["filter"] else {"kind": "manual"}


@router.post("/queues/new", name="queue_create")
def create_queue(request: Request, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = _fields(form)
    rate = _rate(fields["rate"])
    body = {"name": fields["name"], "description": fields["description"], "reviewers": fields["reviewers"],
            "scores": [{k: v for k, v in sc.items() if k != "judge" or v} for sc in fields["scores"]],
            "reviews_per_item": fields["reviews_per_item"],
            "limit": aq.DEFAULT_ITEMS if fields["limit"] is None else fields["limit"], "source": _source(fields),
            "sampling": {"rate": rate, "daily": fields["daily"]} if rate is not None else None}
    try:
        with db(request).write() as s:
            made = aq.create(s, user.principal, body)
    except (InvalidInput, Conflict, NotFound) as exc:
        return _new_form(request, user, form=fields, error=exc.text(user.locale), status=exc.status)
    return render.redirect(request, "queue", notice="queue_created", queue_id=made["id"])


@router.get("/queues/{queue_id}", name="queue")
def queue_page(request: Request, queue_id: Id, user: Viewer) -> Response:
    with db(request).read() as s:
        found = aq.overview(s, user.principal, queue_id)
    may_review = user.user_id in found["reviewers"] or user.role in ("admin", "owner")
    return render.page(request, user, "ui/queues/overview.html", queue=found, may_review=may_review,
                       value_text=value_text(found, user.locale))


def _review_page(request: Request, user: UiUser, queue_id: int, item_id: int | None, *, error: str | None = None,
                 status: int = 200, values: dict[str, str] | None = None, comment: str = "") -> Response:
    with db(request).read() as s:
        queue = aq.record(s, user.principal, queue_id)
        if item_id is None:
            found = aq.next_item(s, user.principal, queue_id)
            item, progress = found["item"], found["progress"]
        else:
            item = aq.item(s, user.principal, queue_id, item_id)
            progress = aq.progress(s, user.principal, queue_id)
    if item is not None and values is None:
        values = {r["name"]: _shown(r["value"]) for r in item["mine"]}
        comment = next((r["comment"] for r in item["mine"] if r["comment"]), "")
    return render.page(request, user, "ui/queues/review.html", status_code=status, queue=queue, item=item,
                       progress=progress, values=values or {}, comment=comment, error=error,
                       choices={sc["name"]: choices(sc, user.locale) for sc in queue["scores"]},
                       value_text=value_text(queue, user.locale),
                       input_turns=conversation.turns(item["request"]["input"], "user") if item else None,
                       output_turns=conversation.turns(item["request"]["output"], "assistant") if item else None)


def _shown(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def choices(spec: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """A score's one-click answers: {value sent, text, key (the keyboard's), hint}; none for numeric."""
    if spec["kind"] == "scale5":
        return [{"value": str(n), "text": str(n), "key": str(n), "hint": ""} for n in range(1, 6)]
    if spec["kind"] == "yes_no":
        return [{"value": _shown(aq.YES), "text": catalogue.translate(lang, "queues.yes"), "key": "y", "hint": ""},
                {"value": _shown(aq.NO), "text": catalogue.translate(lang, "queues.no"), "key": "n", "hint": ""}]
    if spec["kind"] == "categorical":
        cats = spec.get("categories") or []
        digits = all(float(c["value"]).is_integer() and 0 <= c["value"] <= 9 for c in cats)
        return [{"value": _shown(c["value"]), "text": c["label"], "hint": c["description"],
                 "key": _shown(c["value"]) if digits else (str(i + 1) if i < 9 else "")} for i, c in enumerate(cats)]
    return []


def value_text(queue: dict[str, Any], lang: str) -> Any:
    """For templates: a stored review value as its answer reads (yes / no, a category's label)."""
    specs = {s["name"]: s for s in queue["scores"]}

    def text(name: str, value: float) -> str:
        for c in choices(specs.get(name, {"kind": "numeric"}), lang):
            if c["value"] == _shown(value):
                return c["text"]
        return _shown(value)

    return text


@router.get("/queues/{queue_id}/review", name="queue_review")
def review_page(request: Request, queue_id: Id, user: Viewer, item: ItemQuery = None) -> Response:
    return _review_page(request, user, queue_id, item)


@router.post("/queues/{queue_id}/review", name="queue_review_submit")
def review_submit(request: Request, queue_id: Id, user: Viewer, form: FormData) -> Response:
    """Save (then the next item) or skip: a 303 to the next item, or the item again with the problem."""
    session.check_csrf(user, form)
    item_id = form_id(form.get("item"))
    if item_id is None:
        raise NotFound("errors.queues.item_not_found", id=str(form.get("item") or ""))
    comment = str(form.get("comment") or "")
    values: dict[str, str] = {}
    try:
        with db(request).write() as s:
            values = {sc["name"]: str(form.get(f"score_{sc['name']}") or "") for sc in aq.record(
                s, user.principal, queue_id)["scores"]}  # the queue read once: submit finds it in the session
            if form.get("action") == "skip":
                aq.skip(s, user.principal, queue_id, item_id)
            else:
                aq.submit(s, user.principal, queue_id, item_id, values, comment=comment)
    except (InvalidInput, Conflict) as exc:
        return _review_page(request, user, queue_id, item_id, error=exc.text(user.locale), status=exc.status,
                            values=values, comment=comment)
    notice = "review_skipped" if form.get("action") == "skip" else "review_saved"
    return render.redirect(request, "queue_review", notice=notice, queue_id=queue_id)
