"""HTTP plumbing shared by the sync and async clients (error answers also by the CLI): headers, error
answers, retry rules."""

from __future__ import annotations

import random
from typing import Any

import httpx

from promptyard import errors

USER_AGENT = "promptyard-python"
# Statuses worth sending again: the server (or a proxy in front of it) was busy or broken,
# not the data. Every other 4xx is a problem with the data that a retry cannot fix.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def headers(api_key: str | None) -> dict[str, str]:
    out = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if api_key:
        out["Authorization"] = f"Bearer {api_key}"
    return out


def error_of(response: httpx.Response) -> errors.PromptyardError:
    """The exception for an error answer, from its {"error": {code, message, details}} body."""
    code = details = None
    message = f"HTTP {response.status_code} from {response.request.url.path}"
    try:
        body: Any = response.json()
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            code, details = err.get("code"), err.get("details")
            message = err.get("message") or message
    except ValueError:
        pass
    return errors.from_status(response.status_code, message, code, details)


def check(response: httpx.Response) -> Any:
    """The JSON body of a successful answer; the matching PromptyardError otherwise."""
    if response.status_code >= 400:
        raise error_of(response)
    return response.json()


def retryable(exc: BaseException | None = None, status: int | None = None) -> bool:
    if status is not None:
        return status in RETRY_STATUSES
    return isinstance(exc, (httpx.TransportError, errors.Unavailable))


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": at least half the step, so retries do back
    off, plus a random half, so many clients that failed together do not come back together."""
    step = min(cap, base * (2 ** min(attempt, 60)))  # 2**1100 would not fit a float: an outage of hours
    return step / 2 + random.uniform(0, step / 2)


def unreachable(exc: BaseException) -> errors.Unavailable:
    return errors.Unavailable("errors.sdk.unreachable", kind=exc.__class__.__name__, reason=str(exc))
