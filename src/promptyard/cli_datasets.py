"""CLI commands for datasets on a running server: list, create, upload a CSV / JSONL file (streamed,
with a progress bar on a terminal), export a version, and take logs matching a filter. Datasets are
named on the command line; the server's ids are looked up by name."""

from __future__ import annotations

import argparse
import os
from typing import Any, BinaryIO

from promptyard import errors
from promptyard.cli_api import Api, connect
from promptyard.cli_exports import download
from promptyard.cli_help import examples
from promptyard.cli_progress import Bar, progress
from promptyard.sdk.http import error_of


def dataset_id(api: Api, name: str, *, create: bool = False) -> int:
    """The id of the dataset named `name` (made when missing and `create`)."""
    found = api.call("GET", "/api/v1/datasets", params={"name": name})["items"]
    if found:
        return found[0]["id"]
    if not create:
        raise errors.NotFound("errors.datasets.no_such_name_create", name=name)
    return api.call("POST", "/api/v1/datasets", json={"name": name})["id"]


def cmd_list(args: argparse.Namespace) -> int:
    for d in connect(args).call("GET", "/api/v1/datasets")["items"]:
        print(f"{d['name']}\tv{d['latest_version']}\t{d['item_count']} items\t{d['description'] or '-'}")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    d = connect(args).call("POST", "/api/v1/datasets", json={"name": args.name, "description": args.description})
    print(f"created dataset {d['name']} (id {d['id']})")
    return 0


def _said(version: dict[str, Any], name: str) -> str:
    return f"{name}: version {version['number']}, {version['item_count']} items (+{version['added']})"


class _Counted:
    """A file that tells the bar how many bytes were read: httpx streams the upload from it."""

    def __init__(self, file: BinaryIO, bar: Bar):
        self.file, self.bar = file, bar

    def read(self, n: int = -1) -> bytes:
        chunk = self.file.read(n)
        self.bar.advance(len(chunk))
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def cmd_upload(args: argparse.Namespace) -> int:
    """Upload a file into a new version; the file is streamed, not read into memory."""
    api = connect(args)
    ds = dataset_id(api, args.name, create=args.create)
    data = {"message": args.message} | ({"format": args.format} if args.format else {})
    with open(args.file, "rb") as f, progress("upload", os.fstat(f.fileno()).st_size, unit="bytes") as bar:
        r = api.http.post(f"/api/v1/datasets/{ds}/upload", data=data, timeout=None,
                          files={"file": (os.path.basename(args.file), _Counted(f, bar))})
    if r.status_code >= 400:
        raise error_of(r)
    print(_said(r.json(), args.name))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    api = connect(args)
    ds = dataset_id(api, args.name)
    params = {"format": args.format} | ({"version": args.version} if args.version else {}) | (
        {"bom": "true"} if args.bom else {})
    download(api, f"/api/v1/datasets/{ds}/export", params, fmt=args.format, output=args.output,
             total=lambda: _item_count(api, ds, args.version), unit="items")
    return 0


def _item_count(api: Api, ds: int, version: int | None) -> int | None:
    """How many items the exported version holds (for the bar; None when the version is unknown)."""
    versions = api.call("GET", f"/api/v1/datasets/{ds}")["versions"]
    return next((v["item_count"] for v in versions if version in (None, v["number"])), None)


def cmd_from_filter(args: argparse.Namespace) -> int:
    api = connect(args)
    ds = dataset_id(api, args.name, create=args.create)
    body = {"filter": args.filter, "max_items": args.max_items, "expected": not args.no_expected,
            "message": args.message}
    v = api.call("POST", f"/api/v1/datasets/{ds}/from-log", json=body)
    print(_said(v, args.name) + (" (more logs matched: raise --max-items)" if v.get("truncated") else ""))
    return 0


def dataset_commands(sub: Any) -> list[argparse.ArgumentParser]:
    group = sub.add_parser("datasets", help="datasets on a running server", **examples("datasets")).add_subparsers(
        dest="datasets_cmd", required=True)
    ls = group.add_parser("list", help="list datasets")
    ls.set_defaults(func=cmd_list)
    cr = group.add_parser("create", help="create an empty dataset")
    cr.add_argument("name")
    cr.add_argument("--description", default="")
    cr.set_defaults(func=cmd_create)
    up = group.add_parser("upload", help="add the rows of a CSV or JSONL file as a new version")
    up.add_argument("name")
    up.add_argument("file")
    up.add_argument("--format", choices=["csv", "jsonl"], help="default: the file's extension")
    up.add_argument("--create", action="store_true", help="make the dataset if it does not exist")
    up.add_argument("-m", "--message", default="", help="why this version was made")
    up.set_defaults(func=cmd_upload)
    ex = group.add_parser("export", help="write a version as CSV or JSONL")
    ex.add_argument("name")
    ex.add_argument("--version", type=int, help="default: the latest")
    ex.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    ex.add_argument("--bom", action="store_true", help="CSV: UTF-8 with a byte order mark, for Excel")
    ex.add_argument("-o", "--output", help="file to write (default: standard output)")
    ex.set_defaults(func=cmd_export)
    ff = group.add_parser("from-filter", help="add the logs a filter matches as a new version")
    ff.add_argument("name")
    ff.add_argument("--filter", required=True, help='e.g. \'score.medically_correct < 60 AND metadata.env = "prod"\'')
    ff.add_argument("--max-items", type=int, default=1000, help="take at most this many logs, newest first")
    ff.add_argument("--no-expected", action="store_true", help="do not keep the logs' outputs as expected outputs")
    ff.add_argument("--create", action="store_true", help="make the dataset if it does not exist")
    ff.add_argument("-m", "--message", default="", help="why this version was made")
    ff.set_defaults(func=cmd_from_filter)
    return [ls, cr, up, ex, ff]
