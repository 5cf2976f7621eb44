"""Every option once: name, default, help. Read from PROMPTYARD_* environment variables.

No other module reads os.environ: settings are read once (`Settings.from_env()`), CLI flags
override them, and the object is passed down.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    host: str = _opt("127.0.0.1", "address the server listens on")
    port: int = _opt(8700, "port the server listens on")
    data_dir: str = _opt("./data", "directory for the embedded SQLite database")
    database_url: str = _opt("", "SQLAlchemy URL; empty = sqlite:///<data_dir>/promptyard.db "
                                 "(PostgreSQL: postgresql+psycopg://user@host/db)")
    max_body_bytes: int = _opt(8 * 1024 * 1024, "largest request body accepted, in bytes (413 above)")
    max_batch: int = _opt(1000, "largest number of request logs in one ingest call (and of scores or metadata "
                                "updates in one bulk call)")
    max_body_values: int = _opt(100_000, "largest number of JSON values (items of arrays and objects) in one "
                                         "request body, counted before it is parsed (413 above)")
    max_json_depth: int = _opt(64, "deepest nesting of JSON arrays and objects in a request body (422 deeper)")
    publishable_max_body_bytes: int = _opt(1024 * 1024, "largest request body accepted with a publishable "
                                                       "(browser) key, in bytes (413 above); its value limit "
                                                       "shrinks in proportion")
    publishable_max_batch: int = _opt(100, "largest number of request logs (scores, metadata updates) "
                                           "in one call with a publishable key")
    render_timeout_s: float = _opt(1.0, "longest time a Jinja2 template may take to render")
    render_max_chars: int = _opt(1_000_000, "largest rendered template, in characters")
    template_max_chars: int = _opt(100_000, "largest prompt template (all its texts together), in characters; "
                                   "checked at publish and at render")
    template_compile_timeout_s: float = _opt(2.0, "longest time a Jinja2 template may take to parse and compile "
                                             "(its worker process is killed past it)")
    template_workers: int = _opt(2, "worker processes that compile and render Jinja2 templates")
    template_memory_mb: int = _opt(512, "address-space limit of each template worker process, in MiB")
    ingest_workers: int = _opt(2, "worker processes that prepare ingested batches (decoding, checks, redaction) "
                                  "beside the server process, which writes them; 0 = prepare in the server process; "
                                  "about the number of cores is best")
    session_hours: int = _opt(12, "how long a browser login lasts")
    pending_grace_s: int = _opt(3600, "how long a score/metadata update for a not-yet-logged request waits for it")
    ramp_tick_s: float = _opt(30.0, "how often the server advances guarded ramps, applies pending updates whose log arrived meanwhile and purges logs past their workspace's retention period (0 = never; use `experiments tick`, `privacy purge`)")
    analyze_every_s: float = _opt(3600.0, "how often the server refreshes the query planner's "
                                  "statistics (SQLite; PostgreSQL when autovacuum is off; 0 = only at start)")
    log_level: str = _opt("info", "server log level")
    cors_max_age: int = _opt(600, "seconds browsers may cache a CORS preflight answer")
    secure_cookies: bool = _opt(False, "mark the login cookie Secure (set to true behind HTTPS)")
    statement_timeout_s: float = _opt(30.0, "longest time one database read (search, statistics, an export's "
                                      "batch) may take before it ends with a 422 (0 = no limit)")
    login_failures_per_account: int = _opt(5, "failed logins per account within the window before further "
                                              "attempts get 429 (0 = no limit)")
    login_failures_per_address: int = _opt(20, "failed logins from one client address within the window before "
                                              "further attempts get 429 (0 = no limit)")
    login_window_s: int = _opt(900, "the sliding window of the login limits, in seconds")
    public_url: str = _opt("", "the URL people reach the server at (e.g. https://prompts.example.com); absolute "
                               "links such as invitations are built from it; empty = the listen address")
    secret_key: str = _opt("", "the server's secret, from which the keys of keyed hashes (redaction's hash operator, "
                               "the term list) and the key that encrypts stored secrets (provider API keys, webhook "
                               "signing secrets) are derived; every server on one database needs the same; empty = "
                               "<data_dir>/secret.key, made on first start (keep it: a new secret makes the term "
                               "list and earlier hashes unmatchable and stored secrets unreadable)")
    outbound_allow: str = _opt("", "comma list of where the server may call out (LLM providers, webhooks): host names, "
                                   "'*.example.com' patterns, IP addresses and CIDRs such as 10.0.0.0/8; empty = any "
                                   "host; link-local and cloud metadata addresses are refused either way")
    outbound_timeout_s: float = _opt(60.0, "longest time one outbound call (an LLM completion, a webhook delivery) "
                                     "may take, retries included")
    outbound_retries: int = _opt(3, "retries of an outbound call after a connection error, 429 or 5xx answer "
                                    "(exponential back-off with jitter, honouring Retry-After)")
    eval_workers: int = _opt(32, "threads that run evaluation items in the background (each run also keeps to "
                                 "its own concurrency); 0 = this server runs no evaluation items")
    eval_poll_s: float = _opt(0.5, "how often idle evaluation workers look for queued runs")
    eval_lease_margin_s: float = _opt(30.0, "how long past its timeouts an evaluation item claimed by a stopped "
                                            "server waits before another worker runs it again")
    allowed_hosts: str = _opt("", "comma list of Host header values served (others get 400); empty = the listen "
                                  "host, localhost, 127.0.0.1, ::1 and the PUBLIC_URL host; * = any")

    def __post_init__(self) -> None:
        if self.public_url and not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", self.public_url):
            raise SystemExit(f"PROMPTYARD_PUBLIC_URL: {self.public_url!r} is not an absolute http(s) URL "
                             "such as https://prompts.example.com")

    @property
    def base_url(self) -> str:
        """Where absolute links point: PUBLIC_URL, else the listen address - never a request's Host
        header, which whoever sends the request chooses."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def host_allowlist(self) -> frozenset[str]:
        """Host names (lower case, no port) requests may name; '*' in it allows any."""
        if self.allowed_hosts.strip():
            return frozenset(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())
        public = urlsplit(self.public_url).hostname if self.public_url else None
        return frozenset(h for h in (self.host.lower(), "localhost", "127.0.0.1", "::1", public) if h)

    def secret(self) -> bytes:
        """PROMPTYARD_SECRET_KEY, else the data dir's secret.key (made, 0600, by whichever process comes first)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = Path(self.data_dir) / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".secret.key.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)  # atomic: the first process's secret wins, whole
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_bytes().strip()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'promptyard.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"PROMPTYARD_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _convert(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(environment variable, default, help) for every option, for docs and `--help`."""
        return [(f"PROMPTYARD_{f.name.upper()}", f.default, f.metadata["help"]) for f in dataclasses.fields(cls)]


def _convert(kind: Any, raw: str, name: str) -> Any:
    kind = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise SystemExit(f"PROMPTYARD_{name.upper()}: cannot read {raw!r} as {kind}") from None
    return raw


DEFAULT_URL = "http://127.0.0.1:8700"


def client_config(env: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """(server URL, API key) for clients (SDK, CLI): PROMPTYARD_URL and PROMPTYARD_API_KEY."""
    env = os.environ if env is None else env
    return env.get("PROMPTYARD_URL") or DEFAULT_URL, env.get("PROMPTYARD_API_KEY") or None
