"""Client commands of the CLI (need only httpx + PyYAML): prompts, requests export, experiments,
privacy (redaction policy, term list, retention, purge, erasure).

They talk to a running server: PROMPTYARD_URL (default http://127.0.0.1:8700) and
PROMPTYARD_API_KEY, or --url/--api-key.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from promptyard import errors
from promptyard.domain.stats import p_phrase
from promptyard.sdk.http import error_of
from promptyard.settings import client_config


class Api:
    def __init__(self, url: str, key: str):
        self.http = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        if r.status_code >= 400:
            raise error_of(r)
        return r.json() if r.content else None


def _api(args: argparse.Namespace) -> Api:
    env_url, env_key = client_config()
    url, key = args.url or env_url, args.api_key or env_key
    if not key:
        raise errors.Unauthorized("set PROMPTYARD_API_KEY or pass --api-key")
    return Api(url, key)


def cmd_list(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("folder", args.folder), ("tag", args.tag), ("label", args.label), ("q", args.q)) if v}
    for p in _api(args).call("GET", "/api/v1/prompts", params=params)["items"]:
        labels = ",".join(f"{lab['name']}=v{lab['version']}" for lab in p["labels"])
        print(f"{p['name']}\tv{p['latest_version']}\t{p['folder'] or '-'}\t{labels}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("version", args.version), ("label", args.label)) if v}
    print(json.dumps(_api(args).call("GET", f"/api/v1/fetch/{quote(args.name, safe='')}", params=params),
                     indent=2, ensure_ascii=False))
    return 0


VERSION_KEYS = ("type", "messages", "text", "tools", "template_format", "model")


def to_file(prompt: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    doc = {"name": prompt["name"], "folder": prompt.get("folder"), "description": prompt.get("description") or None,
           "tags": prompt.get("tags") or None}
    doc.update({k: version.get(k) for k in VERSION_KEYS})
    return {k: v for k, v in doc.items() if v is not None}


def pull_target(out: Path, name: str) -> Path:
    """Where `prompts pull` writes a prompt: <dir>/<name>.yaml, and never outside <dir>. The server
    refuses names with '..' segments, but a file path must not trust what a server sends (an old
    row, another server): '../.github/workflows/x' or a symlink out of <dir> is refused here."""
    path = out / f"{name}.yaml"
    root = out.resolve()
    if not path.resolve().is_relative_to(root) or path.resolve() == root:
        raise errors.InvalidInput(f"refusing to write prompt {name!r}: {path} is outside {out}")
    return path


def cmd_pull(args: argparse.Namespace) -> int:
    import yaml

    api, out, refused = _api(args), Path(args.dir), 0
    params = {"folder": args.folder} if args.folder else {}
    for prompt in api.call("GET", "/api/v1/prompts", params=params | {"limit": 1000})["items"]:
        if not prompt["latest_version"]:
            continue
        try:
            path = pull_target(out, prompt["name"])
        except errors.InvalidInput as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            refused += 1
            continue
        fetched = api.call("GET", f"/api/v1/fetch/{quote(prompt['name'], safe='')}",
                           params={"label": args.label} if args.label else {"label": "latest"})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(to_file(prompt, fetched["version"]), allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        print(f"pulled {prompt['name']} v{fetched['version']['number']} -> {path}")
    return 1 if refused else 0


def cmd_push(args: argparse.Namespace) -> int:
    """Publish every YAML file under the directory; a new version only where content changed."""
    import yaml

    api, root = _api(args), Path(args.dir)
    files = sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.yml"))
    if not files:
        raise errors.InvalidInput(f"no .yaml files under {root}")
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(doc, dict):
            raise errors.InvalidInput(f"{path}: expected a mapping at the top level")
        doc.setdefault("name", path.relative_to(root).with_suffix("").as_posix())
        body = doc | {"commit_message": args.message, "labels": args.label or []}
        try:
            v = api.call("POST", "/api/v1/publish", json=body)
        except errors.PromptyardError as exc:
            raise type(exc)(f"{path}: {exc.message}", details=exc.details) from None
        state = f"new version v{v['number']}" if v["created"] else f"unchanged (v{v['number']})"
        print(f"{doc['name']}: {state}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Stream matching requests into a file (or stdout) without holding them in memory."""
    api = _api(args)
    params = {"format": args.format} | ({"filter": args.filter} if args.filter else {})
    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    try:
        with api.http.stream("GET", "/api/v1/requests/export", params=params, timeout=None) as r:
            if r.status_code >= 400:
                r.read()
                raise error_of(r)
            for chunk in r.iter_bytes():
                out.write(chunk)
    finally:
        if args.output:
            out.close()
    return 0


def _prompt_id(api: Api, name: str) -> int:
    return api.call("GET", f"/api/v1/prompts/by-name/{quote(name, safe='')}")["id"]


# --- experiments: the service's numbers, printed (never recomputed; p-values as the domain shows them) ---

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
    api = _api(args)
    prompt_id = _prompt_id(api, args.prompt)
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
    api = _api(args)
    if args.exp_cmd == "get":
        return _print_view(api.call("GET", f"/api/v1/experiments/{args.id}", params=_evidence_params(args)),
                           args.json)
    fields = _declared(args)
    if not fields:
        raise errors.InvalidInput("declare needs at least one of --hypothesis, --primary-metric, --planned-units, "
                                  "--min-effect")
    e = api.call("PATCH", f"/api/v1/experiments/{args.id}", json=fields)
    print(f"experiment {e['id']}: primary metric {e['primary_metric']}, planned units {e['planned_units']}, "
          f"minimum effect {e['min_effect'] if e['min_effect'] is not None else '-'}; "
          f"hypothesis: {e['hypothesis'] or '-'}")
    return 0


def cmd_ramps(args: argparse.Namespace) -> int:
    api = _api(args)
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


def _experiment_commands(sub: Any) -> list[argparse.ArgumentParser]:
    exp = sub.add_parser("experiments", help="experiments on a release label").add_subparsers(
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


# --- privacy: redaction policy, term list, retention, purge, erasure (admin keys) ---


def _confirm(args: argparse.Namespace, question: str) -> bool:
    """--yes, or a typed 'yes' on a terminal; never a silent yes when nobody can answer."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise errors.InvalidInput("not a terminal: pass --yes to confirm (after a --dry-run to see the count)")
    return input(f"{question} Type yes to go on: ").strip().lower() == "yes"


def _when(value: str | None) -> str:
    return value or "-"


def cmd_retention(args: argparse.Namespace) -> int:
    api = _api(args)
    if args.days is None and not args.keep_forever:
        r = api.call("GET", "/api/v1/privacy/retention")
    else:
        if not args.reason:
            raise errors.InvalidInput("--reason is required to change the retention period (it is audited)")
        r = api.call("PUT", "/api/v1/privacy/retention", json={"days": None if args.keep_forever else args.days,
                                                                "reason": args.reason})
    if r["days"] is None:
        print("retention: none (logs are kept until erased)")
    else:
        print(f"retention: {r['days']} days (logs that started before {_when(r['cutoff'])}); "
              f"{r['expired']} logs past it now")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    api = _api(args)
    preview = api.call("POST", "/api/v1/privacy/purge", json={"dry_run": True})
    if preview["days"] is None:
        print("retention: none (logs are kept until erased): nothing to purge")
        return 0
    print(f"{preview['count']} logs started before {preview['cutoff']} (retention {preview['days']} days)")
    if args.dry_run or not preview["count"]:
        return 0
    if not _confirm(args, f"Purge {preview['count']} logs for good?"):
        print("nothing purged")
        return 1
    done = api.http.post("/api/v1/privacy/purge", json={}, timeout=None)
    result = _answer(done)
    print(f"purged {result['count']} logs")
    return 0


def _answer(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise error_of(r)
    return r.json()


def _user(text: str) -> dict[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise errors.InvalidInput("--user takes KEY=VALUE, e.g. --user patient_id=P-1029")
    return {"metadata_key": key, "metadata_value": value}


def cmd_erased(args: argparse.Namespace) -> int:
    """The audit trail's proof that one end user's logs were erased (matched by keyed hash)."""
    found = _api(args).call("POST", "/api/v1/privacy/erasures", json=_user(args.user))["items"]
    for x in found:
        print(f"{x['created_at']}\t{x['actor']}\t{x['count']} logs erased")
    if not found:
        print("no erasure of this end user's logs in the audit trail")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    api = _api(args)
    if args.request:
        item = api.call("GET", f"/api/v1/requests/{quote(args.request, safe='')}")
        print(f"request {item['id']} (#{item['number']}), {item['start_time']}, "
              f"{item['prompt'] or 'no prompt'}{'@' + str(item['version']) if item['version'] else ''}")
        if args.dry_run:
            return 0
        if not _confirm(args, "Erase this log for good?"):
            print("nothing erased")
            return 1
        api.call("DELETE", f"/api/v1/requests/{quote(args.request, safe='')}")
        print(f"erased request {item['id']}")
        return 0
    if args.user:
        body: dict[str, Any] = _user(args.user)
        what = f"logs with metadata {body['metadata_key']} = {body['metadata_value']!r}"
    else:
        body, what = {"filter": args.filter}, f"logs matching {args.filter}"
    count = api.call("POST", "/api/v1/requests/erase", json=body | {"dry_run": True})["count"]
    print(f"{count} {what}")
    if args.dry_run or not count:
        return 0
    if not _confirm(args, f"Erase {count} logs for good?"):
        print("nothing erased")
        return 1
    result = _answer(api.http.post("/api/v1/requests/erase", json=body | {"expected": count}, timeout=None))
    print(f"erased {result['count']} logs")
    return 0


def cmd_redaction(args: argparse.Namespace) -> int:
    """Show the workspace's redaction policy, or change the parts named (--enable/--disable, --on/--off KIND,
    --detector KIND=OPERATOR)."""
    api = _api(args)
    change: dict[str, Any] = {}
    if args.enable or args.disable:
        change["enabled"] = bool(args.enable)
    detectors: dict[str, dict[str, Any]] = {}
    for kind in args.on or ():
        detectors.setdefault(kind, {})["on"] = True
    for kind in args.off or ():
        detectors.setdefault(kind, {})["on"] = False
    for item in args.detector or ():
        kind, sep, operator = item.partition("=")
        if not sep:
            raise errors.InvalidInput("--detector takes KIND=OPERATOR, e.g. --detector phone=hash")
        detectors.setdefault(kind, {})["operator"] = operator
    if detectors:
        change["detectors"] = detectors
    policy = api.call("PATCH", "/api/v1/privacy/redaction", json=change | {"reason": args.reason or ""}) \
        if change else api.call("GET", "/api/v1/privacy/redaction")
    print(f"redaction: {'on' if policy['enabled'] else 'OFF (logs are stored as sent)'}"
          f"{' (the default policy)' if policy['default'] else ''}; term list: {policy['terms']} entries")
    for kind, rule in policy["detectors"].items():
        shown = rule["placeholder"] or policy["placeholders"].get(kind, "")
        print(f"  {kind:<24} {'on ' if rule['on'] else 'off'}  {rule['operator']:<12} {shown}")
    for c in policy["custom"]:
        print(f"  custom:{c['name']:<17} {'on ' if c['on'] else 'off'}  {c['operator']:<12} {c['pattern']}")
    return 0


def _names(path: str) -> list[str]:
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    return [line.strip() for line in text.splitlines() if line.strip()]


def cmd_terms(args: argparse.Namespace) -> int:
    """Add names to the term list, remove them, or empty it; only the list's size is ever shown."""
    api = _api(args)
    if args.add:
        r = api.call("POST", "/api/v1/privacy/redaction/terms", json={"terms": _names(args.add)})
    elif args.remove:
        r = api.call("POST", "/api/v1/privacy/redaction/terms/remove", json={"terms": _names(args.remove)})
    elif args.clear:
        r = api.call("POST", "/api/v1/privacy/redaction/terms/remove", json={"all": True})
    else:
        r = api.call("GET", "/api/v1/privacy/redaction")
    print(f"term list: {r['terms']} entries")
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    r = _api(args).call("POST", "/api/v1/privacy/redaction/preview", json={"text": args.text})
    print(r["text"])
    if r["counts"]:
        print("redacted: " + ", ".join(f"{k} {n}" for k, n in sorted(r["counts"].items())), file=sys.stderr)
    return 0


def privacy_group(sub: Any) -> Any:
    """The `privacy` command's subcommands (retention, purge, erase, erased, redaction, terms, preview). Every
    subcommand needs --url/--api-key (added by add_commands)."""
    group = sub.add_parser("privacy", help="redaction policy, retention, purge and erasure of logs (admin keys)"
                           ).add_subparsers(
        dest="privacy_cmd", required=True)
    ret = group.add_parser("retention", help="show the retention period, or set it (--days N | --keep-forever)")
    which = ret.add_mutually_exclusive_group()
    which.add_argument("--days", type=int, help="keep logs this many days (by their start time)")
    which.add_argument("--keep-forever", action="store_true", help="no retention period: keep logs until erased")
    ret.add_argument("--reason", help="why it changes (required to change it; audited)")
    ret.set_defaults(func=cmd_retention)
    purge = group.add_parser("purge", help="purge the logs past the retention period now (the server also does)")
    erase = group.add_parser("erase", help="erase one log, one end user's logs, or a filter's logs")
    target = erase.add_mutually_exclusive_group(required=True)
    target.add_argument("--request", help="one log, by its id or number")
    target.add_argument("--user", help="every log of one end user: KEY=VALUE of their metadata, e.g. patient_id=P-1")
    target.add_argument("--filter", help='every log a filter matches, e.g. \'time < "2026-01-01"\'')
    for p in (purge, erase):
        p.add_argument("--dry-run", action="store_true", help="only show what would go")
        p.add_argument("--yes", action="store_true", help="do not ask: confirmed (for scripts)")
    purge.set_defaults(func=cmd_purge)
    erase.set_defaults(func=cmd_erase)
    erased = group.add_parser("erased", help="whether one end user's logs were erased (the audit trail's proof)")
    erased.add_argument("--user", required=True, help="KEY=VALUE of their metadata, e.g. patient_id=P-1")
    erased.set_defaults(func=cmd_erased)
    red = group.add_parser("redaction", help="show the redaction policy, or change the parts named")
    state = red.add_mutually_exclusive_group()
    state.add_argument("--enable", action="store_true", help="redact before storing (the default)")
    state.add_argument("--disable", action="store_true", help="store logs as sent (needs --reason)")
    red.add_argument("--on", action="append", metavar="KIND", help="turn a detector on (repeatable)")
    red.add_argument("--off", action="append", metavar="KIND", help="turn a detector off (repeatable; needs --reason)")
    red.add_argument("--detector", action="append", metavar="KIND=OPERATOR",
                     help="placeholder | mask | hash | drop, e.g. phone=hash (repeatable)")
    red.add_argument("--reason", help="why (required when something is turned off; audited)")
    red.set_defaults(func=cmd_redaction)
    terms = group.add_parser("terms", help="the term list: names redacted wherever they appear (only hashes kept)")
    how = terms.add_mutually_exclusive_group()
    how.add_argument("--add", metavar="FILE", help="add the names in FILE, one per line (- = standard input)")
    how.add_argument("--remove", metavar="FILE", help="remove the names in FILE")
    how.add_argument("--clear", action="store_true", help="empty the list")
    terms.set_defaults(func=cmd_terms)
    preview = group.add_parser("preview", help="what the policy makes of a sample text (nothing is stored)")
    preview.add_argument("text")
    preview.set_defaults(func=cmd_preview)
    return group


def add_commands(sub: Any) -> None:
    prompts = sub.add_parser("prompts", help="prompts on a running server").add_subparsers(
        dest="prompts_cmd", required=True)
    pl = prompts.add_parser("list", help="list prompts")
    for flag in ("--folder", "--tag", "--label", "--q"):
        pl.add_argument(flag)
    pl.set_defaults(func=cmd_list)
    pg = prompts.add_parser("get", help="print a version as JSON")
    pg.add_argument("name")
    pg.add_argument("--version", type=int)
    pg.add_argument("--label")
    pg.set_defaults(func=cmd_get)
    pp = prompts.add_parser("push", help="publish a folder of YAML files (prompts as code)")
    pp.add_argument("dir")
    pp.add_argument("-m", "--message", required=True, help="commit message for every new version")
    pp.add_argument("--label", action="append", help="move this label to each pushed version (repeatable)")
    pp.set_defaults(func=cmd_push)
    pu = prompts.add_parser("pull", help="write prompts as YAML files into a folder")
    pu.add_argument("dir")
    pu.add_argument("--folder", help="only prompts in this folder")
    pu.add_argument("--label", help="pull this label's version instead of the newest")
    pu.set_defaults(func=cmd_pull)
    requests = sub.add_parser("requests", help="the request log on a running server").add_subparsers(
        dest="requests_cmd", required=True)
    ex = requests.add_parser("export", help="export requests matching a filter as CSV or JSONL")
    ex.add_argument("--filter", help='e.g. \'metadata.env = "prod" AND score.medically_correct < 60\'')
    ex.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    ex.add_argument("-o", "--output", help="file to write (default: standard output)")
    ex.set_defaults(func=cmd_export)
    privacy = privacy_group(sub)
    for p in (pl, pg, pp, pu, ex, *_experiment_commands(sub), *privacy.choices.values()):
        p.add_argument("--url", help="server URL (PROMPTYARD_URL)")
        p.add_argument("--api-key", help="API key (PROMPTYARD_API_KEY)")
