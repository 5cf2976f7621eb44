"""CLI commands for experiments: policies, evidence, declarations, ramps, promotion and
rollback. The service's numbers, printed (never recomputed; p-values as the domain shows them)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from promptyard import errors
from promptyard.cli_api import Api, connect, find_prompt_id
from promptyard.cli_help import examples
from promptyard.domain.stats import p_phrase

DECLARED = ("hypothesis", "primary_metric", "planned_units", "min_effect")


def _declared(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in DECLARED if getattr(args, k, None) is not None}


def _outcome(o: dict[str, Any] | None) -> str:
    if not o:
        return "-"
    return o["kind"] + (f" v{o['version']}" if o.get("version") else "") + (" (forced)" if o.get("forced") else "")


def _num(x: float | None, places: int) -> str:
    return "-" if x is None else f"{x:.{places}f}"


def _interval(lo: float | None, hi: float | None, places: int) -> str:
    return f"[{_num(lo, places)}, {_num(hi, places)}]"


def print_evidence(view: dict[str, Any]) -> None:
    """One experiment's evidence (show and get), as the UI shows it: the header, warnings, each
    rule with its arms, the comparisons and the winner."""
    e, method = view["experiment"], view["method"]
    print(f"experiment {e['id']} on label {e['label']}: {e['state']}"
          + (" (evidence frozen at its end)" if view["frozen"] else ""))
    print(f"started by {e['started_by']} at {e['started_at']}")
    if e["state"] == "ended":
        print(f"ended by {e['ended_by']} at {e['ended_at']}: {_outcome(e['outcome'])}"
              + (f"; reason: {e['outcome']['reason']}" if (e["outcome"] or {}).get("reason") else ""))
    print(f"hypothesis: {e['hypothesis'] or '(none declared)'}")
    print(f"primary metric: {view['primary_metric']}; unit of analysis: {method['unit']}; planned units: "
          f"{method['planned_units']}; minimum effect: {e['min_effect'] or '-'}; baseline: v{view['baseline']}")
    for w in view["warnings"]:
        detail = ", ".join(f"{k} {v}" for k, v in w.items() if k not in ("code", "p"))
        print(f"warning: {w['code']}" + (f" ({detail})" if detail else ""))
    places = {c["metric"]: c["shown"]["places"] for c in reversed(view["comparisons"]) if c["shown"]}
    for rule in view["rules"]:
        _print_rule(rule, places)
    if view["comparisons"]:
        print(f"\ncomparisons with v{view['baseline']}:")
    for c in view["comparisons"]:
        _print_comparison(c)
    w = view["winner"]
    print("\nwinner: " + ("none yet" if w is None else f"v{w}" + (" (the baseline)" if w == view["baseline"] else "")))


def _print_rule(rule: dict[str, Any], places: dict[str, int]) -> None:
    """A rule's arms; means and intervals with the decimals of that metric's comparison (else 1)."""
    weights = ", ".join(f"v{v} {w:g}%" for v, w in rule["weights"].items())
    print(f"\nrule {rule['rule']}: " + ("randomised" if rule["randomised"] else "not randomised: no comparison")
          + (f" (weights {weights})" if weights else ""))
    for arm in rule["arms"]:
        er = arm["error_rate"]
        cells = [f"{arm['units']} units", f"{arm['requests']} requests",
                 "error rate " + ("-" if er is None else f"{er * 100:.{places.get('error_rate', 1)}f}%")]
        for name, s in arm["scores"].items():
            k = places.get(name, 1)
            cells.append(f"{name} {_num(s['mean'], k)} {_interval(s['ci_low'], s['ci_high'], k)} n={s['n']}")
        print(f"  v{arm['version']}: " + ", ".join(cells))
    srm = rule["sample_ratio"]
    if srm:
        observed = ", ".join(f"v{v} {n}" for v, n in srm["observed"].items())
        expected = ", ".join(f"v{v} {share:.0%}" for v, share in srm["expected_share"].items())
        state = "MISMATCH: verdicts withheld" if srm["mismatch"] else "matches the weights"
        print(f"  sample ratio: units {observed}; expected {expected}; {state} ({p_phrase(srm['p_shown'])})")


def _print_comparison(c: dict[str, Any]) -> None:
    print(f"- {c['text']}" + (" [primary]" if c["primary"] else " [guardrail]"))
    unit = "percentage points" if c["metric"] == "error_rate" else "points"
    if c["shown"]:
        k = c["shown"]["places"]
        print(f"    always-valid 95% interval {_interval(c['ci_low'], c['ci_high'], k)} {unit}, "
              f"{p_phrase(c['shown']['p'])} (Holm-adjusted)")
        if c["fixed"]:
            f = c["fixed"]
            print(f"    fixed-horizon 95% interval {_interval(f['ci_low'], f['ci_high'], k)} {unit}, "
                  f"{p_phrase(f['p_shown'])} (planned analysis only)")
        if c["primary"] and c["detectable"] is not None:
            print(f"    detectable now: a true difference of {_num(c['detectable'], k)} {unit} "
                  "(80% power, at the units so far)")
    if c["primary"] and c["units_needed"] is not None:
        print("    " + (f"about {c['units_needed']} more units per arm" if c["units_needed"] else "enough units per arm")
              + " to find the declared minimum effect")


def _evidence_params(args: argparse.Namespace) -> dict[str, int]:
    return {k: v for k, v in (("baseline", args.baseline), ("min_units", args.min_units)) if v}


def _show(api: Api, args: argparse.Namespace, prompt_id: int, base: str) -> int:
    try:
        view = api.call("GET", base + "/experiment", params=_evidence_params(args))
    except errors.NotFound:
        names = {lab["name"] for lab in api.call("GET", f"/api/v1/prompts/{prompt_id}/labels")["items"]}
        if args.label not in names:
            raise
        print(f"{args.label} serves one version: no running experiment")
        _print_list(api.call("GET", base + "/experiments")["items"])
        return 0
    return _print_view(view, args.json)


def _print_view(view: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(view, indent=2, ensure_ascii=False))
    else:
        print_evidence(view)
    return 0


def _print_list(items: list[dict[str, Any]]) -> None:
    for x in items:
        print(f"{x['id']}\t{x['state']}\t{x['started_at']}\t{x['ended_at'] or '-'}\t{_outcome(x['outcome'])}\t"
              f"{x['hypothesis'] or '-'}")


def cmd_experiment(args: argparse.Namespace) -> int:
    api = connect(args)
    prompt_id = find_prompt_id(api, args.prompt)
    base = f"/api/v1/prompts/{prompt_id}/labels/{quote(args.label, safe='')}"
    if args.exp_cmd == "show":
        return _show(api, args, prompt_id, base)
    if args.exp_cmd == "list":
        _print_list(api.call("GET", base + "/experiments")["items"])
    elif args.exp_cmd == "promote":
        body = {"reason": args.reason} | ({"version": args.version} if args.version else {}) \
            | ({"force": True} if args.force else {})
        label = api.call("POST", base + "/promote", json=body)
        print(f"{args.label} -> v{label['version']}")
    elif args.exp_cmd == "rollback":
        label = api.call("POST", base + "/rollback", json={"reason": args.reason})
        print(f"{args.label} -> v{label['version']}")
    elif args.exp_cmd == "policy":
        policy = None if args.clear else json.loads(Path(args.file).read_text(encoding="utf-8") if args.file != "-"
                                                   else sys.stdin.read())
        body = {"policy": policy, "version": args.version, "reason": args.reason}
        if declared := _declared(args):
            body["experiment"] = declared
        label = api.call("PUT", base, json=body)
        print(f"{args.label} -> " + ("policy set" if label.get("policy") else f"v{label['version']}"))
    else:
        plan = {"candidate": args.candidate, "baseline": args.baseline, "steps": args.steps,
                "interval_s": args.interval, "guard": {"metric": args.guard, "margin": args.margin},
                "reason": args.reason}
        plan |= {k: v for k, v in (("min_n", args.min_units), ("planned_units", args.planned_units),
                                   ("sticky_key", args.sticky_key)) if v}
        ramp = api.call("POST", base + "/ramps", json=plan)
        print(f"ramp {ramp['id']} running: v{args.candidate} at {ramp['weight']:g}%")
    return 0


def cmd_experiment_by_id(args: argparse.Namespace) -> int:
    api = connect(args)
    if args.exp_cmd == "get":
        return _print_view(api.call("GET", f"/api/v1/experiments/{args.id}", params=_evidence_params(args)),
                           args.json)
    fields = _declared(args)
    if not fields:
        raise errors.InvalidInput("errors.experiments.declare_needs_least_hypothesis")
    e = api.call("PATCH", f"/api/v1/experiments/{args.id}", json=fields)
    print(f"experiment {e['id']}: primary metric {e['primary_metric']}, planned units {e['planned_units']}, "
          f"minimum effect {e['min_effect'] if e['min_effect'] is not None else '-'}; "
          f"hypothesis: {e['hypothesis'] or '-'}")
    return 0


def cmd_ramps(args: argparse.Namespace) -> int:
    api = connect(args)
    if args.exp_cmd == "tick":
        for ramp in api.call("POST", "/api/v1/ramps/tick")["items"]:
            print(f"ramp {ramp['id']}: {ramp['state']} at {ramp['weight']:g}% ({ramp.get('note') or ''})")
    else:
        ramp = api.call("POST", f"/api/v1/ramps/{args.id}/stop", json={"reason": args.reason})
        print(f"ramp {ramp['id']}: {ramp['state']}")
    return 0


def _declaration_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hypothesis", help="what the candidate should change, and why")
    p.add_argument("--primary-metric", help="the score (or error_rate) that decides; the others are guardrails")
    p.add_argument("--planned-units", type=int, help="units (users, or requests) expected in all arms")
    p.add_argument("--min-effect", type=float, help="the smallest difference worth finding, in the metric's points")


def _evidence_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", type=int, help="compare with this version (default: the label's base version)")
    p.add_argument("--min-units", type=int, help="units per arm below which a metric is not tested (default 30)")
    p.add_argument("--json", action="store_true", help="print the API's answer as JSON")


def experiment_commands(sub: Any) -> list[argparse.ArgumentParser]:
    exp = sub.add_parser("experiments", help="experiments on a release label",
                         **examples("experiments")).add_subparsers(
        dest="exp_cmd", required=True)
    show = exp.add_parser("show", help="the label's running experiment: per rule, comparisons, winner")
    _evidence_options(show)
    listed = exp.add_parser("list", help="the label's experiments, newest first")
    promote = exp.add_parser("promote", help="make a version the label's single version")
    promote.add_argument("--version", type=int, help="default: the experiment's winner")
    promote.add_argument("--force", action="store_true", help="promote a version the experiment did not serve")
    rollback = exp.add_parser("rollback", help="undo the label's last move")
    ramp = exp.add_parser("ramp", help="start a guarded ramp")
    ramp.add_argument("--candidate", type=int, required=True)
    ramp.add_argument("--baseline", type=int, required=True)
    ramp.add_argument("--steps", type=float, nargs="+", default=[10, 25, 50, 100])
    ramp.add_argument("--interval", type=float, default=3600, help="seconds between steps")
    ramp.add_argument("--guard", default="error_rate", help="score name or error_rate")
    ramp.add_argument("--margin", type=float, default=2.0)
    ramp.add_argument("--min-units", type=int, help="units per arm before the guard is judged (default 30)")
    ramp.add_argument("--planned-units", type=int, help="tunes the always-valid interval (default 1000)")
    ramp.add_argument("--sticky-key", help="metadata key of the unit, e.g. user_id (default: the label's policy's)")
    policy = exp.add_parser("policy", help="set the label's routing policy (split + segments) from JSON")
    which = policy.add_mutually_exclusive_group(required=True)
    which.add_argument("--file", help="policy JSON file (docs/experiments.md), '-' for standard input")
    which.add_argument("--clear", action="store_true", help="remove the policy: back to one version")
    policy.add_argument("--version", type=int, help="the base version (default: the largest weight)")
    _declaration_options(policy)
    parsers = [show, listed, promote, rollback, ramp, policy]
    for p in parsers:
        p.add_argument("prompt")
        p.add_argument("label")
        p.set_defaults(func=cmd_experiment)
    get = exp.add_parser("get", help="one experiment by id (its frozen evidence when it has ended)")
    _evidence_options(get)
    declare = exp.add_parser("declare", help="set what a running experiment tests")
    _declaration_options(declare)
    for p in (get, declare):
        p.add_argument("id", type=int)
        p.set_defaults(func=cmd_experiment_by_id)
    stop = exp.add_parser("stop-ramp", help="stop a guarded ramp where it is")
    stop.add_argument("id", type=int)
    tick = exp.add_parser("tick", help="advance this workspace's due ramps now")
    for p in (stop, tick):
        p.set_defaults(func=cmd_ramps)
    for p in (promote, rollback, ramp, policy, stop):
        p.add_argument("--reason", required=True)
    return [*parsers, get, declare, stop, tick]

