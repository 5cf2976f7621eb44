"""The examples at the foot of `promptyard --help` and of its main commands' help, and which commands
need the server extra. Passed to argparse as `**examples("name")`."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

SERVER_COMMANDS = ("serve", "db", "keys", "users")  # they open the database: pip install 'promptyard[server]'
SERVER_EXTRA = "pip install 'promptyard[server]'"
# The modules of the server extra (pyproject's [server], and what fastapi brings: starlette, pydantic). A
# server command that cannot import one of them says to install the extra (exit 2) instead of a traceback.
SERVER_MODULES = frozenset({"fastapi", "starlette", "pydantic", "uvicorn", "uvloop", "httptools", "sqlalchemy",
                            "alembic", "psycopg", "jinja2", "pebble", "argon2", "multipart", "python_multipart",
                            "fastapi_offline", "regex", "opentelemetry", "google", "jsonschema", "cryptography",
                            "markdown_it", "openai", "anthropic", "httpx2", "httpcore2"})

_CLIENT = ("client command: talks to a running server (PROMPTYARD_URL, default http://127.0.0.1:8700, and\n"
           "PROMPTYARD_API_KEY, or --url / --api-key); needs only `pip install promptyard`.")
_SERVER = f"server command: opens the database itself; needs `{SERVER_EXTRA}`."

EXAMPLES = {
    "promptyard": f"""examples:
  promptyard                                  serve on http://127.0.0.1:8700 (`promptyard --port 8800`: serve too)
  promptyard serve --port 8800 --data-dir /srv/promptyard/data
  promptyard keys create --name laptop        an API key, printed once
  promptyard prompts pull prompts/            every prompt as a YAML file (PROMPTYARD_API_KEY set)
  promptyard requests export --format csv --bom -o requests.csv

server commands ({", ".join(SERVER_COMMANDS)}) open the database themselves and need the server
extra: {SERVER_EXTRA}
client commands (prompts, requests, experiments, datasets, evals, privacy) talk to a running server (PROMPTYARD_URL,
PROMPTYARD_API_KEY) and need only `pip install promptyard`.
`promptyard COMMAND --help` shows each command's options and examples.""",
    "serve": f"""examples:
  promptyard serve                            http://127.0.0.1:8700, SQLite in ./data
  promptyard serve --port 8800                or PROMPTYARD_PORT=8800
  promptyard serve --host 0.0.0.0 --data-dir /srv/promptyard/data
  PROMPTYARD_DATABASE_URL=postgresql+psycopg://user@db/promptyard promptyard serve

exit status: 0 stopped, 2 the server extra is missing, 3 the port is busy or cannot be listened on.
{_SERVER}""",
    "db": f"""examples:
  promptyard db upgrade                       apply the migrations (serve does it too)
  promptyard db redact --dry-run              count what the redaction policy would change in stored logs
  promptyard db vacuum --full

{_SERVER}""",
    "keys": f"""examples:
  promptyard keys create --name ci --scopes read,write
  promptyard keys create --name web --kind publishable --origins https://app.example.com
  promptyard keys list
  promptyard keys revoke 3

{_SERVER}""",
    "users": f"""examples:
  promptyard users create --email ph@example.jp --role editor      asks for the password on a terminal
  promptyard users create --email ops@example.jp --role admin --password 'at-least-10-chars'

{_SERVER}""",
    "prompts": f"""examples:
  promptyard prompts pull prompts/
  promptyard prompts push prompts/ -m "Ask for the dosage first" --label staging
  promptyard prompts list --folder production
  promptyard prompts get 服薬指導/返信案 --label production

{_CLIENT}""",
    "requests": f"""examples:
  promptyard requests export --filter 'score.medically_correct < 60' --format csv -o low.csv
  promptyard requests export --format csv --bom -o for-excel.csv       UTF-8 with BOM: Excel reads Japanese
  promptyard requests export --filter 'metadata.env = "prod"' > prod.jsonl

{_CLIENT}""",
    "experiments": f"""examples:
  promptyard experiments policy 服薬指導/返信案 production --file policy.json --reason "try v3 on staff"
  promptyard experiments show 服薬指導/返信案 production
  promptyard experiments promote 服薬指導/返信案 production --reason "v3 wins on medically_correct"

{_CLIENT}""",
    "evals": f"""examples:
  promptyard evals run --dataset regression-set --provider openai-prod --prompt 服薬指導/返信案:production --prompt 服薬指導/返信案@4 --scorer exact_match --wait
  promptyard evals run --dataset 7 --provider 2 --prompt 服薬指導/返信案@4 --judge judges/medical:production --judge-name medically_correct
  promptyard evals compare 12 12 --base-variant 3:v2 --candidate-variant 3:v4
  promptyard evals resume 12 --wait

{_CLIENT}""",
    "datasets": f"""examples:
  promptyard datasets from-filter 回帰セット --create --filter 'score.medically_correct < 60' -m "low scores"
  promptyard datasets upload 回帰セット questions.csv -m "pharmacists' questions"
  promptyard datasets export 回帰セット --format csv --bom -o regression.csv
  promptyard datasets list

{_CLIENT}""",
    "privacy": f"""examples:
  promptyard privacy retention --days 365 --reason "policy 2026-04"
  promptyard privacy purge --dry-run
  promptyard privacy erase --user patient_id=P-1029 --dry-run
  promptyard privacy preview "090-1234-5678 に電話"

{_CLIENT}""",
}


def examples(name: str) -> dict[str, Any]:
    """The keyword arguments that give a parser its examples (kept as written: line breaks and all)."""
    return {"epilog": EXAMPLES[name], "formatter_class": argparse.RawDescriptionHelpFormatter}


def promptyard_version() -> str:
    try:
        return version("promptyard")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def program() -> str:
    """How to run this command line again from the same place, for the hints it prints: `promptyard`
    when that is the one on PATH; else the path it was started by (`.venv/bin/promptyard` under `make
    serve`, whose venv is not on PATH); else `python -m promptyard.cli` with this Python."""
    started = sys.argv[0]
    if os.path.basename(started) != "promptyard":
        return f"{shlex.quote(sys.executable)} -m promptyard.cli"
    on_path = shutil.which("promptyard")
    if on_path and os.path.realpath(on_path) == os.path.realpath(started):
        return "promptyard"
    return shlex.quote(started)
