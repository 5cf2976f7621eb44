"""CLI commands for prompts (list, get, pull and push YAML files: prompts as code) and the
request log's export, on a running server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from promptyard import errors
from promptyard.cli_api import Api, connect
from promptyard.cli_exports import download


def cmd_list(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("folder", args.folder), ("tag", args.tag), ("label", args.label), ("q", args.q)) if v}
    for p in connect(args).call("GET", "/api/v1/prompts", params=params)["items"]:
        labels = ",".join(f"{lab['name']}=v{lab['version']}" for lab in p["labels"])
        print(f"{p['name']}\tv{p['latest_version']}\t{p['folder'] or '-'}\t{labels}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("version", args.version), ("label", args.label)) if v}
    print(json.dumps(connect(args).call("GET", f"/api/v1/fetch/{quote(args.name, safe='')}", params=params),
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
        raise errors.InvalidInput("errors.prompts.refusing_write_prompt_outside", name=name, path=path, out=out)
    return path


def to_yaml(doc: dict[str, Any]) -> str:
    """A prompt file as YAML a person edits: multi-line text (templates, messages) as block scalars
    (`|`, with `|-` / `|+` where the text ends without / with extra newlines), so a new line typed in an
    editor stays a new line on push (in a quoted scalar a single line break folds into a space). Text
    that a block scalar cannot hold exactly (a space before a line break, control characters) stays
    double-quoted, which also keeps it exactly."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    return yaml.dump(doc, Dumper=Dumper, allow_unicode=True, sort_keys=False, width=1000)


def cmd_pull(args: argparse.Namespace) -> int:
    api, out, refused = connect(args), Path(args.dir), 0
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
        path.write_text(to_yaml(to_file(prompt, fetched["version"])), encoding="utf-8")
        print(f"pulled {prompt['name']} v{fetched['version']['number']} -> {path}")
    return 1 if refused else 0


def cmd_push(args: argparse.Namespace) -> int:
    """Publish every YAML file under the directory; a new version only where content changed."""
    import yaml

    api, root = connect(args), Path(args.dir)
    files = sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.yml"))
    if not files:
        raise errors.InvalidInput("errors.prompts.no_yaml_files_under", root=root)
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(doc, dict):
            raise errors.InvalidInput("errors.prompts.expected_mapping_top_level", path=path)
        doc.setdefault("name", path.relative_to(root).with_suffix("").as_posix())
        body = doc | {"commit_message": args.message, "labels": args.label or []}
        try:
            v = api.call("POST", "/api/v1/publish", json=body)
        except errors.PromptyardError as exc:
            raise type(exc)("errors.prompts.in_file", path=path, reason=exc.as_text(), details=exc.details) from None
        state = f"new version v{v['number']}" if v["created"] else f"unchanged (v{v['number']})"
        print(f"{doc['name']}: {state}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Stream matching requests into a file (or stdout); see cli_exports.download."""
    api = connect(args)
    params = {"format": args.format} | ({"filter": args.filter} if args.filter else {}) | (
        {"bom": "true"} if args.bom else {})
    download(api, "/api/v1/requests/export", params, fmt=args.format, output=args.output,
             total=lambda: _matching(api, args.filter))
    return 0


def _matching(api: Api, filter: str | None) -> int | None:
    """How many requests the export will have (None above the count the search gives exactly)."""
    found = api.call("GET", "/api/v1/requests", params={"limit": 1} | ({"filter": filter} if filter else {}))
    matching = found.get("matching") or {}
    return None if matching.get("more") or "count" not in matching else matching["count"]
