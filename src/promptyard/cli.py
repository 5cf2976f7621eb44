"""`promptyard` command line: serve (default), db upgrade / redact / vacuum, keys, users, prompts push/pull.

Server commands import the server extra lazily, so `pip install promptyard` (client only) keeps
working for the client commands (prompts ..., requests export); without the extra a server command
says which install it needs and exits 2 (main).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from promptyard.cli_help import SERVER_COMMANDS, SERVER_EXTRA, SERVER_MODULES, examples, program, promptyard_version
from promptyard.cli_progress import progress
from promptyard.settings import Settings


def _server_settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(host=getattr(args, "host", None), port=getattr(args, "port", None),
                             data_dir=getattr(args, "data_dir", None),
                             database_url=getattr(args, "database_url", None))


CREDENTIALS_FILE = "first-run-credentials.txt"


def private_data_dir(settings: Settings, *, create: bool = False) -> Path:
    """Files in the data dir are private to the server's user (DESIGN 3.13): every file the process
    makes from now on is 0600 and every directory 0700 (umask; SQLite's -wal and -shm follow the
    database file), and a data dir left readable by an older version is tightened."""
    os.umask(0o077)
    data = Path(settings.data_dir)
    if settings.database_url and not data.exists() and not create:
        return data  # PostgreSQL: nothing of ours is there yet; made when something is written
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        data.chmod(0o700)
        for f in data.iterdir():
            if f.is_file() and not f.is_symlink() and f.stat().st_mode & 0o077:
                f.chmod(f.stat().st_mode & 0o700)
    except OSError as exc:  # not ours to change (another owner): say so, still serve
        print(f"warning: cannot make {data} private to this user ({exc})", file=sys.stderr)
    return data


def _database(settings: Settings, migrate: bool = True):  # noqa: ANN202
    from promptyard.store.db import Database
    from promptyard.store.migrate import upgrade

    private_data_dir(settings)
    from promptyard.services import outbound

    db = Database(settings.db_url, statement_timeout_s=settings.statement_timeout_s, secret=settings.secret(),
                  outbound=outbound.Policy.from_settings(settings))
    if migrate:
        upgrade(db.engine)
    return db


def cmd_serve(args: argparse.Namespace) -> int:
    from promptyard.services.setup import first_run
    from promptyard.web import serving
    from promptyard.web.app import create_app

    settings = _server_settings(args)
    try:
        sock = serving.listen(settings)  # before anything else: "serving on" below is then true
    except serving.CannotListen as exc:
        print(_cannot_listen(exc), file=sys.stderr)
        return PORT_UNAVAILABLE
    db = _database(settings)
    with db.exclusive("setup") as s:  # several servers may start at once on an empty database
        fr = first_run(s)
    url = f"http://{settings.host}:{settings.port}"
    print(f"Promptyard is serving on {url}  (database: {db.kind})", flush=True)
    if fr.api_key:
        _show_first_run(settings, url, fr)
    else:
        print(f"Log in at {url}/ui/login. {_more_hint()}", flush=True)
    serving.run(create_app(settings, db), settings, sock)
    return 0


PORT_UNAVAILABLE = 3  # serve's exit status when it cannot listen (uvicorn's own for a failed start)


def _more_hint() -> str:
    me = program()
    return f"New API key: {me} keys create --name NAME; new login: {me} users create --email E --role admin"


def _cannot_listen(exc: Any) -> str:
    other = exc.port + 1 if exc.port < 65535 else 8700
    choose = (f"choose another port with `{program()} serve --port {other}` or PROMPTYARD_PORT={other}"
              + ("" if exc.host in ("127.0.0.1", "localhost") else " (or another address with --host / PROMPTYARD_HOST)"))
    if exc.busy:
        return f"error: port {exc.port} on {exc.host} is already in use (another server is listening there); {choose}"
    return f"error: cannot listen on {exc.host} port {exc.port} ({exc.reason}); {choose}"


def _show_first_run(settings: Settings, url: str, fr: Any) -> None:
    """The owner's password and the admin key, shown once: on an interactive terminal only. Under a
    service manager or in a container stdout goes to journald / container logs, which many people
    can read and which are kept, so there they go to a file only this user can read."""
    secrets = (f"  log in at {url}/ui/login as {fr.admin_email} with password: {fr.admin_password}\n"
               f"  admin API key: {fr.api_key}\n")
    if sys.stdout.isatty():
        print("\nFirst start: created the default workspace. These are shown ONCE - keep them:")
        print(secrets + f"  {_more_hint()}\n", flush=True)
        return
    path = (private_data_dir(settings, create=True) / CREDENTIALS_FILE).resolve()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write("Promptyard first start: the owner login and an admin API key. Keep them elsewhere, "
                "then delete this file.\n" + secrets)
    print(f"\nFirst start: created the default workspace, an owner login and an admin API key.\n"
          f"  They are in {path} (readable only by this user): keep them elsewhere, then delete the file.\n"
          f"  {_more_hint()}\n"
          f"  Log in at {url}/ui/login as {fr.admin_email} with the password from that file.\n", flush=True)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from promptyard.store.migrate import current

    db = _database(_server_settings(args))
    print(f"database at revision {current(db.engine)} ({db.kind})")
    return 0


def cmd_db_redact(args: argparse.Namespace) -> int:
    """Apply the workspace's redaction policy to the logs stored before it (or before a term was added)."""
    from promptyard.services import redaction

    db = _database(_server_settings(args))
    p = _workspace(db, args.workspace)
    summary: dict[str, Any] = {"scanned": 0, "changed": 0, "counts": {}, "dry_run": args.dry_run}
    after: int | None = 0
    with progress("redact", unit="logs") as bar:
        while after is not None:
            with db.write() as s:
                part = redaction.redact_stored(s, p, after_id=after, dry_run=args.dry_run)
            after = part["last_id"]
            summary["scanned"] += part["scanned"]
            summary["changed"] += part["changed"]
            for kind, n in part["counts"].items():
                summary["counts"][kind] = summary["counts"].get(kind, 0) + n
            bar.advance(part["scanned"])
    if not args.dry_run:
        with db.write() as s:
            redaction.record_redact_stored(s, p, summary)
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(summary["counts"].items())) or "nothing"
    print(f"{summary['changed']:,} of {summary['scanned']:,} logs {'would be' if args.dry_run else 'were'} "
          f"redacted ({kinds})")
    if not args.dry_run and summary["changed"]:
        db.reclaim()  # the originals' bytes leave the files (SQLite; PostgreSQL: see `db vacuum --full`)
    return 0


def cmd_db_vacuum(args: argparse.Namespace) -> int:
    """Give back the space of erased and purged logs and make sure their text is gone from the
    files (Database.reclaim): what the server does after each erasure, or with --full the
    rewrite that PostgreSQL needs for that proof (docs/privacy.md)."""
    db = _database(_server_settings(args))
    done = db.reclaim(full=args.full, budget_s=None)
    print(f"{'VACUUM FULL' if args.full and db.kind == 'postgresql' else 'VACUUM' if args.full else 'reclaimed'} "
          f"({db.kind})" + ("" if done else ": readers kept the WAL checkpoint from finishing; run it again"))
    return 0 if done else 1


def _workspace(db: Any, name: str) -> Any:
    from promptyard.services import keys

    with db.write() as s:
        ws_id, _ = keys.ensure_workspace(s, name)
    return keys.system_principal(ws_id, actor="cli")


def cmd_keys(args: argparse.Namespace) -> int:
    from promptyard.services import keys

    db = _database(_server_settings(args))
    p = _workspace(db, args.workspace)
    with db.write() as s:
        if args.keys_cmd == "create":
            scopes = args.scopes.split(",") if args.scopes else None
            origins = args.origins.split(",") if args.origins else None
            rec, raw = keys.create_key(s, p, name=args.name, scopes=scopes, kind=args.kind, allowed_origins=origins)
            print(f"created key {rec.id} ({rec.kind}, scopes: {','.join(rec.scopes)}); it is shown only now:",
                  file=sys.stderr)
            print(raw)
        elif args.keys_cmd == "list":
            for k in keys.list_keys(s, p):
                state = "revoked" if k.revoked_at else "active"
                used = k.last_used_at.isoformat() if k.last_used_at else "never"
                print(f"{k.id}\t{k.prefix}…\t{k.name}\t{k.kind}\t{','.join(k.scopes)}\t{state}\tlast used {used}")
        else:
            keys.revoke_key(s, p, args.id)
            print(f"revoked key {args.id}")
    return 0


NO_TERMINAL_FOR_PASSWORD = ("error: users create: no terminal to ask for the password on; pass --password "
                            "(10+ characters)")


def cmd_users(args: argparse.Namespace) -> int:
    """Create a login; the password from --password, else asked for on the terminal (never read from a
    pipe: without a terminal the command says so and exits 2 before it changes anything)."""
    import getpass

    from promptyard.services import users

    password = args.password
    if not password:
        if not sys.stdin.isatty():
            print(NO_TERMINAL_FOR_PASSWORD, file=sys.stderr)
            return 2
        try:
            password = getpass.getpass("password (10+ characters): ")
        except EOFError:
            print(NO_TERMINAL_FOR_PASSWORD, file=sys.stderr)
            return 2
    db = _database(_server_settings(args))
    p = _workspace(db, args.workspace)
    with db.write() as s:
        users.create_user(s, p.workspace_id, email=args.email, password=password, role=args.role, actor="cli")
    print(f"created user {args.email} with role {args.role}")
    return 0


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data directory (PROMPTYARD_DATA_DIR)")
    p.add_argument("--database-url", help="database URL (PROMPTYARD_DATABASE_URL)")
    p.add_argument("--workspace", default="default", help="workspace name (default: default)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promptyard", description="Promptyard server and client",
                                     **examples("promptyard"))
    parser.add_argument("--version", action="version", version=f"promptyard {promptyard_version()}")
    sub = parser.add_subparsers(dest="cmd")
    serve = sub.add_parser("serve", help="run the server (default command) [server]", **examples("serve"))
    serve.add_argument("--host", help="listen address (PROMPTYARD_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (PROMPTYARD_PORT, default 8700)")
    _server_args(serve)
    serve.set_defaults(func=cmd_serve)
    db = sub.add_parser("db", help="database commands [server]", **examples("db")).add_subparsers(dest="db_cmd", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    _server_args(up)
    up.set_defaults(func=cmd_db_upgrade)
    red = db.add_parser("redact", help="apply the workspace's redaction policy to logs stored before it "
                                       "(docs/privacy.md)")
    red.add_argument("--dry-run", action="store_true", help="count what would change; change nothing")
    _server_args(red)
    red.set_defaults(func=cmd_db_redact)
    vac = db.add_parser("vacuum", help="give back erased logs' space; --full rewrites the files (see docs/privacy.md)")
    vac.add_argument("--full", action="store_true", help="SQLite: VACUUM (also turns on incremental auto-vacuum); "
                                                         "PostgreSQL: VACUUM FULL (locks the log tables meanwhile)")
    _server_args(vac)
    vac.set_defaults(func=cmd_db_vacuum)
    keys = sub.add_parser("keys", help="API keys [server]", **examples("keys")).add_subparsers(dest="keys_cmd", required=True)
    kc = keys.add_parser("create", help="create a key and print it once")
    kc.add_argument("--name", required=True)
    kc.add_argument("--scopes", help="comma-separated: read,write,ingest,admin (default read,write,ingest)")
    kc.add_argument("--kind", choices=["secret", "publishable"], default="secret")
    kc.add_argument("--origins", help="publishable keys: comma-separated allowed origins")
    kl = keys.add_parser("list", help="list keys")
    kr = keys.add_parser("revoke", help="revoke a key")
    kr.add_argument("id", type=int)
    for p in (kc, kl, kr):
        _server_args(p)
        p.set_defaults(func=cmd_keys)
    users = sub.add_parser("users", help="logins [server]", **examples("users")).add_subparsers(dest="users_cmd", required=True)
    uc = users.add_parser("create", help="create a login")
    uc.add_argument("--email", required=True)
    uc.add_argument("--role", choices=["viewer", "editor", "admin", "owner"], default="editor")
    uc.add_argument("--password", help="asked for on the terminal when omitted (without a terminal: required)")
    _server_args(uc)
    uc.set_defaults(func=cmd_users)
    from promptyard import cli_client

    cli_client.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["serve", *argv]  # bare `promptyard [--port N ...]` serves
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ModuleNotFoundError as exc:
        if args.cmd not in SERVER_COMMANDS or (exc.name or "").split(".")[0] not in SERVER_MODULES:
            raise
        print(f"error: this command needs `{SERVER_EXTRA}` (the server extra: {exc.name} is not installed)",
              file=sys.stderr)
        return 2
    except Exception as exc:  # a PromptyardError or a connection problem: one line, no trace
        from promptyard.cli_api import connection_failure
        from promptyard.errors import PromptyardError

        said = connection_failure(exc)
        if said or isinstance(exc, PromptyardError) or exc.__class__.__module__.startswith("httpx"):
            print(f"error: {said or exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
