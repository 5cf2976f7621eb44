"""Experiments (issue 12) in the UI: a label's running experiment (its declaration, per routing
rule the arms, the randomised comparisons with always-valid intervals and Holm-adjusted p-values,
the winner), its past experiments with their frozen evidence and outcome; declaring, editing the
split, promoting (the winner by default, force for a version outside the experiment), rolling
back and guarded ramps. Every number comes from the service's dict, rounded as its `shown` says."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from promptyard import catalogue
from promptyard.domain import library_texts, numbers
from promptyard.domain.stats import p_phrase
from promptyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from promptyard.services import experiment_records, experiments, prompts, ramps, versions
from promptyard.web.context import db
from promptyard.web.ui import figures, render, session
from promptyard.web.ui.render import FormData, Id
from promptyard.web.ui.session import Editor, UiUser, Viewer

router = APIRouter()

OptNumber = Annotated[int | None, Query(ge=1, le=render.MAX_ID)]
MinUnits = Annotated[int, Query(ge=2, le=1_000_000)]
Label = Annotated[str, Path(max_length=64)]
DECLARED = ("hypothesis", "primary_metric", "planned_units", "min_effect")


@router.get("/experiments", name="experiments")
def experiments_page(request: Request, user: Viewer) -> Response:
    with db(request).read() as s:
        rows = [p for p in prompts.search(s, user.principal, limit=1000) if p.labels]
        running = [(p, lab) for p in rows for lab in p.labels if lab.policy]
        records = experiment_records.running_in_workspace(s, user.principal)  # declarations beside splits
    return render.page(request, user, "ui/experiments/list.html", prompts=rows, running=running, records=records)


# --- the service's numbers in the user's language -------------------------------------------------

def metric_name(metric: str, lang: str) -> str:
    return catalogue.translate(lang, "exp.error_rate") if metric == experiments.ERROR_RATE else metric


def unit_name(metric: str, lang: str) -> str:
    """Comparisons of the error rate are in percentage points, of a score in its points."""
    return catalogue.translate(lang, "exp.unit_pp" if metric == experiments.ERROR_RATE else "exp.unit_points")


def p_text(shown: dict[str, Any] | None) -> str:
    """'p < 0.001' or 'p = 0.045' from the domain's shown p-value ('—' without a test)."""
    return "—" if shown is None else p_phrase(shown["p"])


def p_of(shown_p: str | None) -> str:
    """A p-value the service shows without a whole `shown` (fixed-horizon, sample ratio)."""
    return "—" if shown_p is None else p_phrase(shown_p)


def fixed(value: float | None, places: int) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def signed_diff(c: dict[str, Any]) -> str:
    """The difference as the domain rounded it (shown.diff is |diff|), with the sign of diff."""
    shown = c["shown"]
    if shown is None or c["diff"] is None:
        return "—"
    zero = not shown["diff"].strip("0.")
    sign = "" if zero else ("+" if c["diff"] > 0 else "-")
    return f"{sign}{shown['diff']} ± {shown['half']}"


def interval(c: dict[str, Any], low: float | None, high: float | None) -> str:
    if c["shown"] is None or low is None or high is None:
        return "—"
    places = c["shown"]["places"]
    return f"[{fixed(low, places)}, {fixed(high, places)}]"


def verdict_text(c: dict[str, Any], lang: str, need: int = 30) -> str:
    """The service's verdict in the user's language, from its fields (not its English text)."""
    fields = {"candidate": f"v{c['candidate']}", "baseline": f"v{c['baseline']}",
              "metric": metric_name(c["metric"], lang), "n_a": c["units_baseline"], "n_b": c["units_candidate"],
              "need": need}
    shown = c["shown"]  # the domain's rounding: the sentence never disagrees with the verdict
    kind = c["verdict"]
    if kind in ("better", "worse", "no_difference") and shown is None:
        kind = "too_few"
    if kind in ("better", "worse", "no_difference"):
        fields |= {"diff": shown["diff"], "half": shown["half"], "unit": unit_name(c["metric"], lang),
                   "p": p_text(shown)}
    return catalogue.translate(lang, f"exp.verdict_{kind}", **fields)


def detectable_text(c: dict[str, Any], lang: str, min_effect: float | None) -> list[str]:
    """For the primary metric: the effect findable now, and the units still needed for the
    declared minimum effect."""
    out = []
    if not c["primary"] or c["places"] is None:
        return out
    unit = unit_name(c["metric"], lang)
    if c["detectable"] is not None:
        out.append(catalogue.translate(lang, "exp.detectable", d=fixed(c["detectable"], c["places"]),
                                       unit=unit))
    if c["units_needed"] is not None and min_effect is not None:
        out.append(catalogue.translate(lang, "exp.units_needed", n=figures.count(c["units_needed"]), d=f"{min_effect:g}", unit=unit))
    return out


def typed_score_text(c: dict[str, Any], lang: str) -> list[str]:
    """A typed score's figures beside the verdict: a pass/fail score's pass rates and two-proportion
    test, a categorical one's rank test (the services' `proportions` and `rank_test`)."""
    if c.get("proportions"):
        pr, test = c["proportions"], c["proportions"]["test"]
        p = p_of(test["p_shown"]) if test and test["p"] is not None else catalogue.translate(lang, "scores.exp.no_test")
        return [catalogue.translate(lang, "scores.exp.proportions", rate_a=figures.percent(pr["baseline"]["rate"]),
                                    rate_b=figures.percent(pr["candidate"]["rate"]), p=p)]
    if c.get("rank_test"):
        r = c["rank_test"]
        p = p_of(r["p_shown"]) if r["p"] is not None else catalogue.translate(lang, "scores.exp.no_test")
        return [catalogue.translate(lang, "scores.exp.rank_test", median_a=figures.score(r["median_baseline"]),
                                    median_b=figures.score(r["median_candidate"]), candidate=f"v{c['candidate']}",
                                    superiority=f"{r['superiority']:.2f}", p=p)]
    return []


def warning_text(w: dict[str, Any], lang: str) -> str:
    code = w.get("code", "")
    fields = {"rule": w.get("rule", ""), "p": p_of(w.get("p_shown")), "baseline": f"v{w.get('baseline')}"}
    text = catalogue.translate(lang, f"exp.warn_{code}", **fields)
    return code if text == f"exp.warn_{code}" else text


def outcome_text(outcome: dict[str, Any] | None, lang: str) -> str:
    if not outcome:
        return catalogue.translate(lang, "exp.state_running")
    text = catalogue.translate(lang, f"exp.outcome_{outcome.get('kind', 'ended')}", version=outcome.get("version"))
    return text + (f" ({catalogue.translate(lang, 'exp.forced')})" if outcome.get("forced") else "")


def score_names(view: dict[str, Any] | None) -> list[str]:
    if view is None:
        return []
    return sorted({n for rule in view["rules"] for arm in rule["arms"] for n in arm["scores"]})


def _helpers(lang: str, view: dict[str, Any] | None) -> dict[str, Any]:
    need = view["min_units"] if view else 30
    min_effect = view["experiment"]["min_effect"] if view else None
    return {"verdict": lambda c: verdict_text(c, lang, need), "warning": lambda w: warning_text(w, lang),
            "typed_score": lambda c: typed_score_text(c, lang),
            "detectable": lambda c: detectable_text(c, lang, min_effect), "metric_name": lambda m: metric_name(m, lang),
            "outcome": lambda o: outcome_text(o, lang), "signed_diff": signed_diff, "interval": interval,
            "p_text": p_text, "p_of": p_of, "fixed": fixed, "score_names": score_names(view)}


# --- the label's page ------------------------------------------------------------------------------

def _page(request: Request, user: UiUser, prompt_id: int, label: str, *, baseline: int | None = None,
          min_units: int = 30, status: int = 200, error: str | None = None, form: dict | None = None,
          ramp_form: dict | None = None, declare_form: dict | None = None) -> Response:
    with db(request).read() as s:
        prompt = prompts.get(s, user.principal, prompt_id)
        view = experiments.view(s, user.principal, prompt_id, label, baseline=baseline, min_units=min_units)
        version_numbers = [v.number for v in versions.list_versions(s, user.principal, prompt_id)]
        ramp_list = ramps.list_ramps(s, user.principal, prompt_id, label)
        past = experiment_records.list_for(s, user.principal, prompt_id, label)
        last = next((r for r in past if r.state == "ended"), None)
        last_view = experiments.get(s, user.principal, last.id) if view is None and last else None  # frozen: cheap
    current = next(lab for lab in prompt.labels if lab.name == label)
    policy = current.policy or {}
    weights = {str(x["version"]): x["weight"] for x in policy.get("split", [])} or {str(current.version): 100}
    declared = view["experiment"] if view else {}
    form = form or {"weights": weights, "sticky_key": policy.get("sticky_key", ""),
                    "segments": json.dumps(policy["segments"], indent=2, ensure_ascii=False)
                    if policy.get("segments") else "",
                    "hypothesis": "", "primary_metric": declared.get("primary_metric", experiments.ERROR_RATE),
                    "planned_units": "", "min_effect": ""}
    declare_form = declare_form or {
        "hypothesis": declared.get("hypothesis", ""), "primary_metric": declared.get("primary_metric", ""),
        "planned_units": str(declared.get("planned_units") or ""),
        "min_effect": "" if declared.get("min_effect") is None else f"{declared['min_effect']:g}"}
    names = score_names(view or last_view)
    metrics = [experiments.ERROR_RATE, *names]
    for chosen in (declare_form["primary_metric"], form["primary_metric"]):
        if chosen and chosen not in metrics:
            metrics.append(chosen)
    ramp_form = ramp_form or {"candidate": str(max(version_numbers, default=1)), "baseline": str(current.version),
                              "steps": "10, 25, 50, 100", "interval_min": "60", "metric": experiments.ERROR_RATE,
                              "margin": "2", "min_n": "30", "sticky_key": policy.get("sticky_key", "")}
    return render.page(request, user, "ui/experiments/detail.html", status_code=status, prompt=prompt, label=current,
                       view=view, numbers=version_numbers, form=form, error=error, min_units=min_units,
                       ramps=ramp_list, ramp_form=ramp_form, metrics=metrics, past=past,
                       declare_form=declare_form, **_helpers(user.locale, view))


@router.get("/prompts/{prompt_id}/labels/{label}/experiment", name="experiment")
def experiment_page(request: Request, prompt_id: Id, label: Label, user: Viewer, baseline: OptNumber = None,
                    min_units: MinUnits = 30) -> Response:
    return _page(request, user, prompt_id, label, baseline=baseline, min_units=min_units)


@router.get("/experiments/{experiment_id}", name="experiment_record")
def experiment_record_page(request: Request, experiment_id: Id, user: Viewer, baseline: OptNumber = None,
                           min_units: MinUnits = 30) -> Response:
    """One experiment by id, running or ended (then with the evidence frozen at its end)."""
    with db(request).read() as s:
        view = experiments.get(s, user.principal, experiment_id, baseline=baseline, min_units=min_units)
        prompt = prompts.get(s, user.principal, view["experiment"]["prompt_id"])
    label = next((lab for lab in prompt.labels if lab.name == view["experiment"]["label"]), None)
    return render.page(request, user, "ui/experiments/experiment.html", prompt=prompt, label=label, view=view,
                       min_units=min_units, **_helpers(user.locale, view))


# --- forms ----------------------------------------------------------------------------------------

def declaration_from_form(form: Any) -> dict[str, Any]:
    """hypothesis, primary metric, planned units and minimum effect from a form (ASCII numbers;
    an empty planned units keeps the plan, an empty minimum effect clears it)."""
    out: dict[str, Any] = {"hypothesis": str(form.get("hypothesis") or "")}
    if str(form.get("primary_metric") or "").strip():
        out["primary_metric"] = str(form["primary_metric"]).strip()
    units, effect = str(form.get("planned_units") or "").strip(), str(form.get("min_effect") or "").strip()
    if units:
        out["planned_units"] = numbers.ascii_int(units)
        if out["planned_units"] is None:
            raise InvalidInput("errors.experiments.planned_units_whole_number", units=units)
    out["min_effect"] = None
    if effect:
        out["min_effect"] = numbers.ascii_decimal(effect)
        if out["min_effect"] is None:
            raise InvalidInput("errors.experiments.minimum_effect_number_got", effect=effect)
    return out


def _declare_fields(form: Any) -> dict[str, str]:
    return {k: str(form.get(k) or "") for k in DECLARED}


@router.post("/prompts/{prompt_id}/labels/{label}/experiment/declare", name="experiment_declare")
def declare(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    try:
        experiment_id = render.form_id(form.get("experiment_id"))
        if experiment_id is None:
            raise InvalidInput("errors.experiments.experiment_id_missing")
        fields = declaration_from_form(form)
        with db(request).write() as s:
            record = experiment_records.get_row(s, user.principal, experiment_id)
            if (record.prompt_id, record.label) != (prompt_id, label):
                raise InvalidInput("errors.experiments.not_this_labels_experiment", experiment_id=experiment_id)
            experiment_records.declare(s, user.principal, experiment_id, fields)
    except (InvalidInput, Forbidden, Conflict) as exc:
        return _page(request, user, prompt_id, label, status=exc.status, error=exc,
                     declare_form=_declare_fields(form))
    except NotFound as exc:
        return _page(request, user, prompt_id, label, status=422, error=exc,
                     declare_form=_declare_fields(form))
    return render.redirect(request, "experiment", notice="declared", prompt_id=prompt_id, label=label)


def policy_from_form(form: Any, old_salt: str | None) -> dict[str, Any]:
    """weight_<version> fields, a sticky key and the segments as JSON -> a routing policy."""
    split = []
    for key, value in form.items():
        version = render.form_id(key[7:]) if key.startswith("weight_") else None
        if version is not None and str(value).strip() not in ("", "0"):
            weight = numbers.ascii_decimal(value)
            if weight is None:
                raise InvalidInput("errors.experiments.weight_v_number_got", version=version, value=value)
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
            raise InvalidInput("errors.experiments.segments_valid_json_line", msg=library_texts.json_reason(exc.msg), lineno=exc.lineno) from None
    return policy


def _policy_fields(form: Any) -> dict[str, Any]:
    return {"weights": {k[7:]: v for k, v in form.items() if k.startswith("weight_")},
            "sticky_key": str(form.get("sticky_key") or ""), "segments": str(form.get("segments") or ""),
            **_declare_fields(form)}


def _change(request: Request, user: UiUser, prompt_id: int, label: str, form: Any, **move: Any) -> Response:
    """Run one label change (new policy / promote / rollback); errors re-render the page."""
    fields = _policy_fields(form) if "policy" in move else None
    try:
        with db(request).write() as s:
            if move.pop("rollback", False):
                experiments.rollback(s, user.principal, prompt_id, label, reason=move["reason"])
            elif "policy" in move:
                experiments.set_policy(s, user.principal, prompt_id, label, **move)
            else:
                experiments.promote(s, user.principal, prompt_id, label, **move)
    except (InvalidInput, Forbidden, Conflict) as exc:
        return _page(request, user, prompt_id, label, status=exc.status, error=exc, form=fields)
    except NotFound as exc:
        return _page(request, user, prompt_id, label, status=422, error=exc, form=fields)
    return render.redirect(request, "experiment", notice="label_changed", prompt_id=prompt_id, label=label)


@router.post("/prompts/{prompt_id}/labels/{label}/policy", name="experiment_policy")
def set_policy(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    try:
        policy = policy_from_form(form, str(form.get("salt") or "") or None)
        declared = declaration_from_form(form)
    except InvalidInput as exc:
        return _page(request, user, prompt_id, label, status=422, error=exc, form=_policy_fields(form))
    return _change(request, user, prompt_id, label, form, policy=policy, declared=declared,
                   reason=str(form.get("reason") or ""))


@router.post("/prompts/{prompt_id}/labels/{label}/promote", name="experiment_promote")
def promote(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    """Promote the chosen version (empty: the experiment's winner); `force` for a version that
    the experiment did not serve."""
    session.check_csrf(user, form)
    return _change(request, user, prompt_id, label, form, version=render.form_id(form.get("version")),
                   force=bool(form.get("force")), reason=str(form.get("reason") or ""))


@router.post("/prompts/{prompt_id}/labels/{label}/rollback", name="experiment_rollback")
def rollback(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    return _change(request, user, prompt_id, label, form, rollback=True, reason=str(form.get("reason") or ""))


RAMP_FIELDS = ("candidate", "baseline", "steps", "interval_min", "metric", "margin", "min_n", "sticky_key")


def ramp_plan(fields: dict[str, str]) -> dict[str, Any]:
    """The ramp form (interval in minutes, steps as '10, 25, 50, 100', min_n in units per arm)
    -> the plan ramps.start takes; ramps.check_plan validates it."""
    whole, decimal = numbers.ascii_int, numbers.ascii_decimal
    steps = [decimal(x) for x in fields["steps"].replace("%", "").split(",") if x.strip()]
    interval_min = decimal(fields["interval_min"])
    plan = {"candidate": whole(fields["candidate"]), "baseline": whole(fields["baseline"]), "steps": steps,
            "interval_s": None if interval_min is None else interval_min * 60,
            "guard": {"metric": fields["metric"], "margin": decimal(fields["margin"])},
            "min_n": whole(fields["min_n"]), "sticky_key": fields["sticky_key"] or None}
    if None in (plan["candidate"], plan["baseline"], plan["interval_s"], plan["guard"]["margin"], plan["min_n"],
                *steps):
        raise InvalidInput("errors.experiments.ramp_needs_numbers_versions")
    return plan


@router.post("/prompts/{prompt_id}/labels/{label}/ramps", name="ramp_start")
def ramp_start(request: Request, prompt_id: Id, label: Label, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    fields = {k: str(form.get(k) or "").strip() for k in RAMP_FIELDS}
    try:
        with db(request).write() as s:
            ramps.start(s, user.principal, prompt_id, label, ramp_plan(fields), reason=str(form.get("reason") or ""))
    except (InvalidInput, Forbidden, Conflict) as exc:
        return _page(request, user, prompt_id, label, status=exc.status, error=exc, ramp_form=fields)
    return render.redirect(request, "experiment", notice="ramp_started", prompt_id=prompt_id, label=label)


@router.post("/prompts/{prompt_id}/labels/{label}/ramps/{ramp_id}/stop", name="ramp_stop")
def ramp_stop(request: Request, prompt_id: Id, label: Label, ramp_id: Id, user: Editor, form: FormData) -> Response:
    session.check_csrf(user, form)
    with db(request).write() as s:
        ramps.stop(s, user.principal, ramp_id, reason=str(form.get("reason") or ""))
    return render.redirect(request, "experiment", notice="ramp_stopped", prompt_id=prompt_id, label=label)
