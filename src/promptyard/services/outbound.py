"""Calls the server makes to other servers (LLM providers, webhooks): the one home of where they may go
and how they are retried.

Rules (`check` at create time, and again at every connection, so a name that resolves differently later -
DNS rebinding - or a redirect cannot reach a refused address):

- http and https only, an absolute URL with a host and without credentials in it;
- never link-local addresses (169.254.0.0/16, fe80::/10), cloud metadata addresses (169.254.169.254,
  fd00:ec2::254, 100.100.100.200, metadata.google.internal), the unspecified 0.0.0.0/8 and ::, multicast,
  nor any name that resolves to one of them (every address of the name is checked, and the connection is
  made to a checked address);
- never this server's own port on a loopback address (a provider URL must not turn into a call of our own
  admin API);
- PROMPTYARD_OUTBOUND_ALLOW, when set: only host names matching one of its patterns ("api.openai.com",
  "*.openai.azure.com") or addresses inside one of its CIDRs ("10.0.0.0/8", "127.0.0.1"). Empty: any
  host that is not refused above - loopback and private addresses included, because self-hosted LLMs
  live there;
- redirects are never followed (an answer 3xx is an error naming where it pointed);
- no proxy from the environment (it would bypass the address checks).

`send` makes one call with a deadline (the whole call, retries included), retrying connection errors,
429 and 5xx answers with exponential back-off and jitter, honouring Retry-After (bounded by
`Policy.max_wait_s` and the deadline). `attempts` is that loop around any call that answers with an HTTP
response: services/llm_calls.py runs the `openai` and `anthropic` clients in it (their own retries off),
over `client(policy)`, so the rules and the retries are the same for every call.

The HTTP client is `httpx2` (the one the `openai` and `anthropic` packages are built on; they accept no
other), with its connection pool's network backend replaced by one that checks every address.

The policy comes from the settings (`Policy.from_settings`) and rides in every session's `info`
(store/db.Database(outbound=...)); `policy_of(session)` finds it.
"""

from __future__ import annotations

import dataclasses
import email.utils
import fnmatch
import ipaddress
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore2
import httpx2

from promptyard.errors import InvalidInput, Upstream

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254",
                                                                  "100.100.100.200"))
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal"})
UNSPECIFIED = (ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("::/128"))
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
MAX_URL = 2000

Resolver = Callable[[str, int], list[str]]


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Policy:
    allow: tuple[str, ...] = ()  # host patterns and CIDRs; empty = any host not refused
    timeout_s: float = 60.0  # one call, retries included
    retries: int = 3
    backoff_s: float = 0.5  # first wait; doubles per retry (with jitter)
    max_wait_s: float = 30.0  # longest single wait, Retry-After included
    own_port: int | None = None  # this server's port: refused on loopback addresses
    resolver: Resolver = _system_resolver  # host, port -> addresses (tests give names of their own)

    @classmethod
    def from_settings(cls, settings: Any) -> "Policy":
        return cls(allow=parse_allow(settings.outbound_allow), timeout_s=settings.outbound_timeout_s,
                   retries=max(0, settings.outbound_retries), own_port=settings.port)

    def with_(self, **changes: Any) -> "Policy":
        return dataclasses.replace(self, **changes)


DEFAULT = Policy()


def policy_of(session: Any) -> Policy:
    """The policy riding in a session's info (the server's settings), else the default."""
    found = getattr(session, "info", {}).get("outbound")
    return found if isinstance(found, Policy) else DEFAULT


def parse_allow(raw: str) -> tuple[str, ...]:
    items = []
    for item in (i.strip().lower() for i in raw.split(",")):
        if not item:
            continue
        try:
            items.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            if not all(part and (part == "*" or all(c.isalnum() or c in "-_" for c in part))
                       for part in item.split(".")):
                raise SystemExit(f"PROMPTYARD_OUTBOUND_ALLOW: {item!r} is neither a host name pattern "
                                 "(api.example.com, *.example.com) nor an IP address or CIDR") from None
            items.append(item)
    return tuple(items)


# ------------------------------------------------------------------------------------------ the rules


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    addresses: tuple[str, ...]  # every address the host resolved to, all checked


def shown(url: str) -> str:
    """A URL as errors show it: scheme, host, port and path (no query, no credentials)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"[:200]
    except ValueError:
        return url[:60]


def _split(url: str) -> tuple[str, str, int]:
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL:
        raise InvalidInput("errors.outbound.bad_url", field="url", url=str(url)[:100])
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidInput("errors.outbound.bad_url", field="url", url=url[:100]) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidInput("errors.outbound.scheme", field="url", scheme=scheme or "-")
    if not parts.hostname:
        raise InvalidInput("errors.outbound.bad_url", field="url", url=url[:100])
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("errors.outbound.credentials", field="url")
    if any(c.isspace() for c in url.strip()):
        raise InvalidInput("errors.outbound.bad_url", field="url", url=url[:100])
    return scheme, parts.hostname.lower().rstrip("."), port or (443 if scheme == "https" else 80)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _normal(address: Address) -> Address:
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:169.254.169.254 is 169.254.169.254
    return mapped or address


def refusal(address: Address, port: int, policy: Policy) -> str | None:
    """Why a connection to this address may never be made (a catalogue key), or None."""
    a = _normal(address)
    if a in METADATA_ADDRESSES:
        return "errors.outbound.metadata"
    if any(a in net for net in LINK_LOCAL if net.version == a.version):
        return "errors.outbound.link_local"
    if any(a in net for net in UNSPECIFIED if net.version == a.version) or a.is_multicast:
        return "errors.outbound.unspecified"
    if policy.own_port is not None and port == policy.own_port and a.is_loopback:
        return "errors.outbound.own_server"
    return None


def _host_allowed(host: str, allow: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in allow if not _is_network(pattern))


def _is_network(item: str) -> bool:
    return "/" in item  # parse_allow writes every address as a CIDR


def _address_allowed(address: Address, allow: tuple[str, ...]) -> bool:
    a = _normal(address)
    for item in allow:
        if _is_network(item):
            net = ipaddress.ip_network(item)
            if net.version == a.version and a in net:
                return True
    return False


def addresses(host: str, port: int, policy: Policy, *, unresolved_ok: bool = False) -> tuple[str, ...]:
    """Every address `host` resolves to, each checked; InvalidInput naming the first refusal. A name
    that does not resolve: Upstream (nothing to connect to), or () with `unresolved_ok` (checked when
    it resolves: at every connection)."""
    if host in METADATA_HOSTS:
        raise InvalidInput("errors.outbound.metadata_host", field="url", host=host)
    literal = _literal(host)
    if literal is not None:
        found = [str(literal)]
    else:
        try:
            found = policy.resolver(host, port)
        except (OSError, UnicodeError):
            found = []
        if not found:
            if unresolved_ok and not policy.allow:
                return ()
            if unresolved_ok and _host_allowed(host, policy.allow):
                return ()
            if unresolved_ok:
                raise InvalidInput("errors.outbound.not_allowed", field="url", host=host)
            raise Upstream("errors.outbound.unresolvable", host=host)
    for raw in found:
        a = ipaddress.ip_address(raw.split("%")[0])
        why = refusal(a, port, policy)
        if why:
            raise InvalidInput(why, field="url", host=host, address=str(a), port=port)
    if policy.allow and not _host_allowed(host, policy.allow) \
            and not all(_address_allowed(ipaddress.ip_address(raw.split("%")[0]), policy.allow) for raw in found):
        raise InvalidInput("errors.outbound.not_allowed", field="url", host=host)
    return tuple(found)


def check(url: str, policy: Policy) -> Target:
    """The URL's target if every rule lets it through, else InvalidInput (422) naming the rule. A host
    name that does not resolve here and now passes when the allowlist admits it (DNS may come and go;
    every connection checks again) with no addresses."""
    scheme, host, port = _split(url)
    return Target(scheme, host, port, addresses(host, port, policy, unresolved_ok=True))


# ------------------------------------------------------------------------------------------ the calls


class _GuardedBackend(httpcore2.SyncBackend):
    """Connects only to addresses `addresses` let through: the check is made at every connection."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore2.NetworkStream:
        last: Exception | None = None
        for address in addresses(host.lower().rstrip("."), port, self.policy):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One context for every client: loading the CA bundle costs ~20 ms of CPU each time."""
    return ssl.create_default_context(cafile=certifi.where())


class _Transport(httpx2.HTTPTransport):
    def __init__(self, policy: Policy) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx2 takes no network backend; its pool is replaced by one that connects through the guard.
        self._pool = httpcore2.ConnectionPool(
            ssl_context=_ssl_context(), max_connections=200, max_keepalive_connections=50, keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy))


class _Clients:
    """One pooled client per policy (connections are kept alive between calls, across threads), built once
    even when a run's 32 workers ask for it at the same moment (lru_cache would build it 32 times)."""

    MAX = 16

    def __init__(self) -> None:
        self._by_policy: dict[Policy, httpx2.Client] = {}
        self._lock = threading.Lock()

    def __call__(self, policy: Policy) -> httpx2.Client:
        found = self._by_policy.get(policy)
        if found is not None:
            return found
        with self._lock:
            if policy not in self._by_policy:
                if len(self._by_policy) >= self.MAX:
                    self._by_policy.pop(next(iter(self._by_policy)))  # the oldest; its pool closes when unused
                self._by_policy[policy] = httpx2.Client(transport=_Transport(policy), trust_env=False,
                                                        follow_redirects=False)
            return self._by_policy[policy]

    def cache_clear(self) -> None:
        """Forget every client: the next call opens new connections (and checks their addresses again)."""
        with self._lock:
            self._by_policy.clear()


client = _Clients()


def _retry_after(response: httpx2.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def backoff(policy: Policy, attempt: int) -> float:
    """The wait before retry number `attempt` (0-based): exponential, with jitter in its upper half."""
    return min(policy.max_wait_s, policy.backoff_s * (2 ** attempt)) * (0.5 + random.random() / 2)


Attempt = Callable[[httpx2.Timeout], httpx2.Response]


def send(policy: Policy, method: str, url: str, *, headers: dict[str, str] | None = None,
         content: bytes | None = None, timeout_s: float | None = None, retries: int | None = None,
         sleep: Callable[[float], None] = time.sleep) -> httpx2.Response:
    """One outbound call under the rules above. Returns the answer (also a final 429/5xx once the
    retries or the deadline are spent); raises InvalidInput when a rule refuses the target and
    Upstream when no answer came (unreachable, timed out) or the answer was a redirect."""
    return attempts(policy, url, lambda timeout: client(policy).request(method, url, headers=headers, content=content,
                                                                        timeout=timeout),
                    timeout_s=timeout_s, retries=retries, sleep=sleep)


def attempts(policy: Policy, url: str, attempt: Attempt, *, timeout_s: float | None = None,
             retries: int | None = None, sleep: Callable[[float], None] = time.sleep) -> httpx2.Response:
    """`attempt(timeout)` (a call to `url` through `client(policy)`) until it answers with something else
    than 429/5xx, under the deadline and the retries of `send`. `attempt` returns the answer, also an
    error answer, and raises what httpx2 raises when no answer came. A URL that is not http(s) is refused
    before any attempt."""
    _split(url)
    deadline = time.monotonic() + (timeout_s if timeout_s and timeout_s > 0 else policy.timeout_s)
    retries = policy.retries if retries is None else retries
    attempt_no = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Upstream("errors.outbound.timeout", url=shown(url))
        try:
            response = attempt(httpx2.Timeout(remaining, connect=min(remaining, 10.0)))
        except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.RemoteProtocolError) as exc:
            wait = backoff(policy, attempt_no)
            if attempt_no >= retries or time.monotonic() + wait >= deadline:
                if isinstance(exc, httpx2.ConnectTimeout):
                    raise Upstream("errors.outbound.timeout", url=shown(url)) from None
                raise Upstream("errors.outbound.unreachable", url=shown(url)) from None
        except httpx2.TimeoutException:
            raise Upstream("errors.outbound.timeout", url=shown(url)) from None
        except httpx2.TransportError:
            raise Upstream("errors.outbound.unreachable", url=shown(url)) from None
        else:
            if 300 <= response.status_code < 400:
                raise Upstream("errors.outbound.redirect", url=shown(url), status=response.status_code,
                               location=shown(response.headers.get("location", "")), upstream_status=response.status_code)
            if response.status_code not in RETRY_STATUSES or attempt_no >= retries:
                return response
            told = _retry_after(response)
            wait = min(policy.max_wait_s, told) if told is not None else backoff(policy, attempt_no)
            if time.monotonic() + wait >= deadline:
                return response
        sleep(wait)
        attempt_no += 1
