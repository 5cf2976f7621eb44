"""CLI commands for privacy (admin keys): the redaction policy, the term list, a preview,
retention, purge and erasure."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote

from promptyard import errors
from promptyard.cli_api import answer, connect
from promptyard.cli_help import examples
from promptyard.cli_progress import progress


def _confirm(args: argparse.Namespace, question: str) -> bool:
    """--yes, or a typed 'yes' on a terminal; never a silent yes when nobody can answer."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise errors.InvalidInput("errors.privacy.terminal_pass_yes_confirm")
    return input(f"{question} Type yes to go on: ").strip().lower() == "yes"


def _when(value: str | None) -> str:
    return value or "-"


def cmd_retention(args: argparse.Namespace) -> int:
    api = connect(args)
    if args.days is None and not args.keep_forever:
        r = api.call("GET", "/api/v1/privacy/retention")
    else:
        if not args.reason:
            raise errors.InvalidInput("errors.privacy.reason_required_change_retention")
        r = api.call("PUT", "/api/v1/privacy/retention", json={"days": None if args.keep_forever else args.days,
                                                                "reason": args.reason})
    if r["days"] is None:
        print("retention: none (logs are kept until erased)")
    else:
        print(f"retention: {r['days']} days (logs that started before {_when(r['cutoff'])}); "
              f"{r['expired']} logs past it now")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    api = connect(args)
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
    with progress("purge", preview["count"]) as bar:  # one call: the bar shows the time it takes
        result = answer(api.http.post("/api/v1/privacy/purge", json={}, timeout=None))
        bar.done(result["count"])
    print(f"purged {result['count']} logs")
    return 0


def _user(text: str) -> dict[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise errors.InvalidInput("errors.privacy.user_takes_key_value")
    return {"metadata_key": key, "metadata_value": value}


def cmd_erased(args: argparse.Namespace) -> int:
    """The audit trail's proof that one end user's logs were erased (matched by keyed hash)."""
    found = connect(args).call("POST", "/api/v1/privacy/erasures", json=_user(args.user))["items"]
    for x in found:
        print(f"{x['created_at']}\t{x['actor']}\t{x['count']} logs erased")
    if not found:
        print("no erasure of this end user's logs in the audit trail")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    api = connect(args)
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
    with progress("erase", count) as bar:
        result = answer(api.http.post("/api/v1/requests/erase", json=body | {"expected": count}, timeout=None))
        bar.done(result["count"])
    print(f"erased {result['count']} logs")
    return 0


def cmd_redaction(args: argparse.Namespace) -> int:
    """Show the workspace's redaction policy, or change the parts named (--enable/--disable, --on/--off KIND,
    --detector KIND=OPERATOR)."""
    api = connect(args)
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
            raise errors.InvalidInput("errors.privacy.detector_takes_kind_operator")
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
    api = connect(args)
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
    r = connect(args).call("POST", "/api/v1/privacy/redaction/preview", json={"text": args.text})
    print(r["text"])
    if r["counts"]:
        print("redacted: " + ", ".join(f"{k} {n}" for k, n in sorted(r["counts"].items())), file=sys.stderr)
    return 0


def privacy_group(sub: Any) -> Any:
    """The `privacy` command's subcommands (retention, purge, erase, erased, redaction, terms, preview). Every
    subcommand needs --url/--api-key (added by add_commands)."""
    group = sub.add_parser("privacy", help="redaction policy, retention, purge and erasure of logs (admin keys)",
                           **examples("privacy")).add_subparsers(
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

