"""CLI commands for evaluation runs: `promptyard evals run | show | compare | cancel | resume` on a running
server. `run --wait` follows the run with a progress bar (on a terminal) and prints the summary."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from promptyard import errors
from promptyard.cli_api import Api, connect
from promptyard.cli_help import examples
from promptyard.cli_progress import progress

FINISHED = ("done", "cancelled", "failed")


def _variant(text: str) -> dict[str, Any]:
    """NAME, NAME@3 (version 3) or NAME:label."""
    if "@" in text:
        name, _, number = text.rpartition("@")
        number = number[1:] if number.startswith("v") else number
        if number.isdigit():
            return {"prompt": name, "version": int(number)}
    if ":" in text:
        name, _, label = text.rpartition(":")
        return {"prompt": name, "label": label}
    return {"prompt": text}


def _json_arg(value: str | None) -> Any:
    """Inline JSON or @file.json."""
    if value is None:
        return None
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        return json.loads(text)
    except ValueError as exc:
        raise errors.InvalidInput("errors.evaluations.not_json", field="scorers/params", problem=str(exc)) from None


def _dataset_id(api: Api, given: str) -> int:
    if given.isdigit():
        return int(given)
    found = [d for d in api.call("GET", "/api/v1/datasets", params={"name": given})["items"] if d["name"] == given]
    if not found:
        raise errors.NotFound("errors.evaluations.no_dataset_named", name=given)
    return found[0]["id"]


def _provider_id(api: Api, given: str) -> int:
    if given.isdigit():
        return int(given)
    found = [c for c in api.call("GET", "/api/v1/providers")["items"] if c["name"] == given]
    if not found:
        raise errors.NotFound("errors.evaluations.no_provider_named", name=given)
    return found[0]["id"]


def _summary(run: dict[str, Any]) -> None:
    pr = run["progress"]
    print(f"run {run['id']}: {run['status']}; {pr['done']} done, {pr['failed']} failed of {pr['total']}; "
          f"cost ${run['cost']:.4f}; tokens {run['input_tokens']} in, {run['output_tokens']} out")
    if run.get("error"):
        print(f"error: {run['error']}")


def _wait(api: Api, run_id: int, poll_s: float = 1.0) -> dict[str, Any]:
    state = api.call("GET", f"/api/v1/evaluations/{run_id}/progress")
    with progress(f"run {run_id}", state["progress"]["total"], unit="items") as bar:
        seen = 0
        while True:
            finished = state["progress"]["done"] + state["progress"]["failed"]
            bar.advance(finished - seen)
            seen = finished
            if state["status"] in FINISHED:
                break
            time.sleep(poll_s)
            state = api.call("GET", f"/api/v1/evaluations/{run_id}/progress")
    return api.call("GET", f"/api/v1/evaluations/{run_id}")


def cmd_run(args: argparse.Namespace) -> int:
    api = connect(args)
    scorers = [{"type": t} for t in args.scorer or []] + (_json_arg(args.scorers) or [])
    judges = [{"prompt": _variant(j)["prompt"], **{k: v for k, v in _variant(j).items() if k != "prompt"},
               "name": args.judge_name or "judge"} for j in args.judge or []]
    body: dict[str, Any] = {"dataset": _dataset_id(api, args.dataset), "provider": _provider_id(api, args.provider),
                            "variants": [_variant(v) for v in args.prompt], "scorers": scorers, "judges": judges,
                            "concurrency": args.concurrency}
    for key in ("model", "name"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    if args.version is not None:
        body["dataset_version"] = args.version
    if args.params:
        body["params"] = _json_arg(args.params)
    run = api.call("POST", "/api/v1/evaluations", json=body)
    print(f"run {run['id']} queued: {run['progress']['total']} items", file=sys.stderr if args.wait else sys.stdout)
    if not args.wait:
        return 0
    run = _wait(api, run["id"], args.poll)
    _summary(run)
    return 0 if run["status"] == "done" else 1


def cmd_show(args: argparse.Namespace) -> int:
    api = connect(args)
    run = _wait(api, args.id, args.poll) if args.wait else api.call("GET", f"/api/v1/evaluations/{args.id}")
    if args.json:
        print(json.dumps(run, ensure_ascii=False, indent=2))
    else:
        _summary(run)
    return 0


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1f}"


def cmd_compare(args: argparse.Namespace) -> int:
    api = connect(args)
    params = {"base": args.base, "candidate": args.candidate, "worst": args.worst}
    for key in ("base_variant", "candidate_variant"):
        if getattr(args, key):
            params[key] = getattr(args, key)
    result = api.call("GET", "/api/v1/evaluations/compare", params=params)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"candidate run {result['candidate']['run']} ({result['candidate']['variant']['key']}) - base run "
          f"{result['base']['run']} ({result['base']['variant']['key']}), dataset {result['dataset']} "
          f"v{result['dataset_version']}; paired t 95% interval (bootstrap beside it)")
    for name, s in result["scores"].items():
        ci, boot = s["ci"], s["bootstrap_ci"]
        print(f"  {name}: {_num(s['mean_diff'])} [{_num(ci['low'])}, {_num(ci['high'])}] "
              f"(bootstrap [{_num(boot['low'])}, {_num(boot['high'])}]), n = {s['n']}")
    for row in result["items"][:args.worst]:
        if row["worst_diff"] >= 0:
            break
        print(f"  item {row['position']}: {_num(row['worst_diff'])}\n    base:      {row['base']['output']!r}\n"
              f"    candidate: {row['candidate']['output']!r}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    _summary(connect(args).call("POST", f"/api/v1/evaluations/{args.id}/cancel"))
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    api = connect(args)
    run = api.call("POST", f"/api/v1/evaluations/{args.id}/resume", json={"retry_failed": args.retry_failed})
    if args.wait:
        run = _wait(api, run["id"], args.poll)
    _summary(run)
    return 0


def eval_commands(sub: Any) -> list[argparse.ArgumentParser]:
    ev = sub.add_parser("evals", help="evaluation runs on a running server", **examples("evals")).add_subparsers(
        dest="evals_cmd", required=True)
    run = ev.add_parser("run", help="run prompt versions over a dataset version and score them")
    run.add_argument("--dataset", required=True, help="dataset id or name")
    run.add_argument("--version", type=int, help="dataset version (default: its latest)")
    run.add_argument("--provider", required=True, help="provider connection id or name")
    run.add_argument("--prompt", action="append", required=True,
                     help="a variant: NAME, NAME@3 or NAME:label (repeatable: compare them in one run)")
    run.add_argument("--scorer", action="append", help="a scorer type without options, e.g. exact_match (repeatable)")
    run.add_argument("--scorers", help="scorer specs as JSON or @file.json (docs/evaluations.md)")
    run.add_argument("--judge", action="append", help="a judge prompt: NAME, NAME@3 or NAME:label (repeatable)")
    run.add_argument("--judge-name", help="the judge's score name (default judge)")
    run.add_argument("--model", help="model for every variant (default: each variant's, else the connection's)")
    run.add_argument("--params", help="model parameters as JSON, e.g. '{\"temperature\": 0}'")
    run.add_argument("--concurrency", type=int, default=8)
    run.add_argument("--name")
    run.add_argument("--wait", action="store_true", help="follow the run to its end (a progress bar on a terminal)")
    run.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)
    show = ev.add_parser("show", help="a run's status and totals")
    show.add_argument("id", type=int)
    show.add_argument("--wait", action="store_true")
    show.add_argument("--json", action="store_true")
    show.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    show.set_defaults(func=cmd_show)
    cmp_ = ev.add_parser("compare", help="paired comparison of two runs on the same dataset version")
    cmp_.add_argument("base", type=int)
    cmp_.add_argument("candidate", type=int)
    cmp_.add_argument("--base-variant")
    cmp_.add_argument("--candidate-variant")
    cmp_.add_argument("--worst", type=int, default=10, help="items that got worse to print")
    cmp_.add_argument("--json", action="store_true")
    cmp_.set_defaults(func=cmd_compare)
    cancel = ev.add_parser("cancel", help="stop a run")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(func=cmd_cancel)
    resume = ev.add_parser("resume", help="queue a cancelled or failed run again")
    resume.add_argument("id", type=int)
    resume.add_argument("--retry-failed", action="store_true")
    resume.add_argument("--wait", action="store_true")
    resume.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    resume.set_defaults(func=cmd_resume)
    return [run, show, cmp_, cancel, resume]

