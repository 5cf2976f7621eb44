"""Client commands of the CLI (need only httpx + PyYAML), one module per noun: cli_prompts
(prompts, requests export), cli_experiments, cli_datasets, cli_privacy; cli_api holds the connection they share.
They talk to a running server: PROMPTYARD_URL (default http://127.0.0.1:8700) and
PROMPTYARD_API_KEY, or --url/--api-key.
"""

from __future__ import annotations

from typing import Any

from promptyard.cli_api import add_connection_options
from promptyard.cli_datasets import dataset_commands
from promptyard.cli_experiments import experiment_commands
from promptyard.cli_help import examples
from promptyard.cli_privacy import privacy_group
from promptyard.cli_prompts import cmd_export, cmd_get, cmd_list, cmd_pull, cmd_push


def add_commands(sub: Any) -> None:
    prompts = sub.add_parser("prompts", help="prompts on a running server", **examples("prompts")).add_subparsers(
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
    requests = sub.add_parser("requests", help="the request log on a running server",
                              **examples("requests")).add_subparsers(
        dest="requests_cmd", required=True)
    ex = requests.add_parser("export", help="export requests matching a filter as CSV or JSONL")
    ex.add_argument("--filter", help='e.g. \'metadata.env = "prod" AND score.medically_correct < 60\'')
    ex.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    ex.add_argument("--bom", action="store_true", help="CSV: UTF-8 with a byte order mark, so that Excel "
                                                      "reads Japanese text (no mojibake)")
    ex.add_argument("-o", "--output", help="file to write (default: standard output)")
    ex.set_defaults(func=cmd_export)
    privacy = privacy_group(sub)
    for p in (pl, pg, pp, pu, ex, *experiment_commands(sub), *dataset_commands(sub),
              *privacy.choices.values()):
        add_connection_options(p)
