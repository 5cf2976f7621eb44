"""Experiments (issue 7) in the UI: every label and its traffic policy; per label the results per
version and segment with 95% intervals, each candidate against the baseline with the test used,
p-value and a plain-language verdict; editing the split and segments; promote and roll back."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from promptyard.domain import numbers
from promptyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from promptyard.services import experiments, prompts, ramps, versions
from promptyard.web.ui import catalogue, pages
from promptyard.web.ui.pages import Editor, FormData, Id, UiUser, Viewer

router = APIRouter()

OptNumber = Annotated[int | None, Query(ge=1, le=pages.MAX_ID)]
MinN = Annotated[int, Query(ge=2, le=1_000_000)]
Label = Annotated[str, Path(max_length=64)]


@router.get("/experiments", name="experiments")
def experiments_page(request: Request, user: Viewer) -> Response:
    with pages.db(request).read() as s:
        rows = [p for p in prompts.search(s, user.principal, limit=1000) if p.labels]
    running = [(p, lab) for p in rows for lab in p.labels if lab.policy]
    return pages.render(request, user, "ui/experiments/list.html", prompts=rows, running=running)


def verdict_text(c: dict[str, Any], lang: str) -> str:
    """The service's verdict in the user's language, from its numbers (not its English text)."""
    metric = catalogue.translate(lang, "exp.error_rate") if c["metric"] == experiments.ERROR_RATE else c["metric"]
    fields = {"candidate": f"v{c['candidate']}", "baseline": f"v{c['baseline']}", "metric": metric,
              "n_a": c["n_baseline"], "n_b": c["n_candidate"]}
    shown = c["shown"]  # the domain's rounding: the sentence never disagrees with the verdict
    if c["verdict"] in ("better", "worse") and shown is not None:
        unit = "pp" if c["metric"] == experiments.ERROR_RATE or "proportion" in (c["test"] or "") else "points"
        fields |= {"diff": shown["diff"], "half": shown["half"],
                   "unit": catalogue.translate(lang, f"exp.unit_{unit}"), "p": p_text(shown)}
    elif c["verdict"] == "no_difference" and shown is not None:
        fields["p"] = p_text(shown)
    return catalogue.translate(lang, f"exp.verdict_{c['verdict']}", **fields)


def p_text(shown: dict[str, Any] | None) -> str:
    """'p < 0.001' or 'p = 0.045' from the domain's shown p-value ('—' without a test)."""
    if shown is None:
        return "—"
    return f"p {shown['p']}" if shown["p"].startswith("<") else f"p = {shown['p']}"


def _page(request: Request, user: UiUser, prompt_id: int, label: str, *, baseline: int | None = None,
          min_n: int = 30, status: int = 200, error: str | None = None, form: dict | None = None,
          ramp_form: dict | None = None) -> Response:
    with pages.db(request).read() as s:
        prompt = prompts.get(s, user.principal, prompt_id)
        view = experiments.view(s, user.principal, prompt_id, label, baseline=baseline, min_n=min_n)
        numbers = [v.number for v in versions.list_versions(s, user.principal, prompt_id)]
        ramp_list = ramps.list_ramps(s, user.principal, prompt_id, label)
    current = next(lab for lab in prompt.labels if lab.name == label)
    policy = view["policy"] or {}
    weights = {str(x["version"]): x["weight"] for x in policy.get("split", [])} or {str(current.version): 100}
    form = form or {"weights": weights, "sticky_key": policy.get("sticky_key", ""),
                    "segments": json.dumps(policy["segments"], indent=2, ensure_ascii=False)
                    if policy.get("segments") else ""}
    score_names = sorted({n for arm in view["versions"] for n in arm["scores"]})
    # The service's warnings are English sentences; the same facts, in the user's language:
    too_few = sorted({verdict_text(c, user.locale) for c in view["comparisons"] if c["verdict"] == "too_few"})
    no_baseline = all(arm["version"] != view["baseline"] for arm in view["versions"])
    ramp_form = ramp_form or {"candidate": str(max(numbers, default=1)), "baseline": str(current.version),
                              "steps": "10, 25, 50, 100", "interval_min": "60", "metric": experiments.ERROR_RATE,
                              "margin": "2", "min_n": "30", "sticky_key": policy.get("sticky_key", "")}
    return pages.render(request, user, "ui/experiments/detail.html", status_code=status, prompt=prompt, label=current,
                        view=view, numbers=numbers, form=form, error=error, min_n=min_n, score_names=score_names,
                        too_few=too_few, no_baseline=no_baseline,
                        verdict=lambda c: verdict_text(c, user.locale), ramps=ramp_list, ramp_form=ramp_form,
                        metrics=[experiments.ERROR_RATE, *score_names])


@router.get("/prompts/{prompt_id}/labels/{label}/experiment", name="experiment")
def experiment_page(request: Request, prompt_id: Id, label: Label, user: Viewer, baseline: OptNumber = None,
                    min_n: MinN = 30) -> Response:
    return _page(request, user, prompt_id, label, baseline=baseline, min_n=min_n)


def policy_from_form(form: Any, old_salt: str | None) -> dict[str, Any]:
    """weight_<version> fields, a sticky key and the segments as JSON -> a routing policy."""
    split = []
    for key, value in form.items():
        version = pages.form_id(key[7:]) if key.startswith("weight_") else None
        if version is not None and str(value).strip() not in ("", "0"):
            weight = numbers.ascii_decimal(value)
            if weight is None:
                raise InvalidInput(f"the weight of v{version} must be a number (got {value!r})")
            split.append({"version": version, "weight": int(weight) if weight.is_integer() else weight})
    policy: dict[str, Any] = {"split": split}
    if str(form.get("sticky_key") or "").strip():
        policy["sticky_key"] = str(form["sticky_key"]).strip()
    if old_salt:
        policy["salt"] = old_salt  # keeps every unit on its version where the weights allow
    text = str(form.get("segments") or "").strip()
    if text:
        try:
            policy["segments"] = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"segments: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return policy


def _policy_fields(form: Any) -> dict[str, Any]:
    return {"weights": {k[7:]: v for k, v in form.items() if k.startswith("weight_")},
            "sticky_key": str(form.get("sticky_key") or ""), "segments": str(form.get("segments") or "")}


def _change(request: Request, user: UiUser, prompt_id: int, label: str, form: Any, **move: Any) -> Response:
    """Run one label change (promote / new policy / rollback); form errors re-render the page."""
    fields = _policy_fields(form) if "policy" in move else None
    try:
        with pages.db(request).write() as s:
            if move.pop("rollback", False):
                experiments.rollback(s, user.principal, prompt_id, label, reason=move["reason"])
            else:
                experiments.promote(s, user.principal, prompt_id, label, **move)
    except (InvalidInput, Forbidden, Conflict) as exc:
        return _page(request, user, prompt_id, label, status=exc.status, error=exc.message, form=fields)
    except NotFound as exc:
        return _page(request, user, prompt_id, label, status=422, error=exc.message)
    return pages.redirect(request, "experiment", notice="label_changed", prompt_id=prompt_id, label=label)


@router.post("/prompts/{prompt_id}/labels/{label}/policy", name="experiment_policy")
def set_policy(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    pages.check_csrf(user, form)
    try:
        policy = policy_from_form(form, str(form.get("salt") or "") or None)
    except InvalidInput as exc:
        return _page(request, user, prompt_id, label, status=422, error=exc.message, form=_policy_fields(form))
    return _change(request, user, prompt_id, label, form, policy=policy, reason=str(form.get("reason") or ""))


@router.post("/prompts/{prompt_id}/labels/{label}/promote", name="experiment_promote")
def promote(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    pages.check_csrf(user, form)
    return _change(request, user, prompt_id, label, form, version=pages.form_id(form.get("version")),
                   reason=str(form.get("reason") or ""))


@router.post("/prompts/{prompt_id}/labels/{label}/rollback", name="experiment_rollback")
def rollback(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    pages.check_csrf(user, form)
    return _change(request, user, prompt_id, label, form, rollback=True, reason=str(form.get("reason") or ""))


RAMP_FIELDS = ("candidate", "baseline", "steps", "interval_min", "metric", "margin", "min_n", "sticky_key")


def ramp_plan(fields: dict[str, str]) -> dict[str, Any]:
    """The ramp form (interval in minutes, steps as '10, 25, 50, 100') -> the plan ramps.start takes;
    ramps.check_plan validates it."""
    whole, decimal = numbers.ascii_int, numbers.ascii_decimal
    steps = [decimal(x) for x in fields["steps"].replace("%", "").split(",") if x.strip()]
    interval = decimal(fields["interval_min"])
    plan = {"candidate": whole(fields["candidate"]), "baseline": whole(fields["baseline"]), "steps": steps,
            "interval_s": None if interval is None else interval * 60,
            "guard": {"metric": fields["metric"], "margin": decimal(fields["margin"])},
            "min_n": whole(fields["min_n"]), "sticky_key": fields["sticky_key"] or None}
    if None in (plan["candidate"], plan["baseline"], plan["interval_s"], plan["guard"]["margin"], plan["min_n"],
                *steps):
        raise InvalidInput("the ramp needs numbers: versions, steps (e.g. 10, 25, 50, 100), minutes, "
                           "margin and minimum samples")
    return plan


@router.post("/prompts/{prompt_id}/labels/{label}/ramps", name="ramp_start")
def ramp_start(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    pages.check_csrf(user, form)
    fields = {k: str(form.get(k) or "").strip() for k in RAMP_FIELDS}
    try:
        with pages.db(request).write() as s:
            ramps.start(s, user.principal, prompt_id, label, ramp_plan(fields), reason=str(form.get("reason") or ""))
    except (InvalidInput, Forbidden, Conflict) as exc:
        return _page(request, user, prompt_id, label, status=exc.status, error=exc.message, ramp_form=fields)
    return pages.redirect(request, "experiment", notice="ramp_started", prompt_id=prompt_id, label=label)


@router.post("/prompts/{prompt_id}/labels/{label}/ramps/{ramp_id}/stop", name="ramp_stop")
def ramp_stop(request: Request, prompt_id: Id, label: Label, ramp_id: Id, user: Editor, form: FormData) -> Response:
    pages.check_csrf(user, form)
    with pages.db(request).write() as s:
        ramps.stop(s, user.principal, ramp_id, reason=str(form.get("reason") or ""))
    return pages.redirect(request, "experiment", notice="ramp_stopped", prompt_id=prompt_id, label=label)
