"""What every client command of the CLI shares: the connection to a running server
(PROMPTYARD_URL, default http://127.0.0.1:8700, and PROMPTYARD_API_KEY, or --url/--api-key) and
how its answers and errors are read."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

import httpx

from promptyard import errors
from promptyard.sdk.http import error_of
from promptyard.settings import client_config


class Api:
    def __init__(self, url: str, key: str):
        self.http = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        return answer(r) if r.content or r.status_code >= 400 else None


def answer(r: httpx.Response) -> Any:
    """The JSON of a successful answer; an error answer raised as the error it names."""
    if r.status_code >= 400:
        raise error_of(r)
    return r.json()


def connection_failure(exc: Exception) -> str | None:
    """What a client command says when the server could not be reached or the connection broke: the
    server's URL and where it came from (None for any other exception)."""
    if not isinstance(exc, httpx.TransportError):
        return None
    try:
        url = exc.request.url
        where = f"{url.scheme}://{url.netloc.decode('ascii')}"
    except RuntimeError:  # an error raised before any request was made
        where = "the server"
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return (f"could not reach the Promptyard server at {where} ({exc or exc.__class__.__name__}); "
                "is it running there? Set PROMPTYARD_URL or pass --url")
    return f"the connection to {where} failed ({exc.__class__.__name__}: {exc})"


def connect(args: argparse.Namespace) -> Api:
    env_url, env_key = client_config()
    url, key = args.url or env_url, args.api_key or env_key
    if not key:
        raise errors.Unauthorized("errors.keys.set_promptyard_api_key")
    return Api(url, key)


def find_prompt_id(api: Api, name: str) -> int:
    return api.call("GET", f"/api/v1/prompts/by-name/{quote(name, safe='')}")["id"]


def add_connection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="server URL (PROMPTYARD_URL)")
    p.add_argument("--api-key", help="API key (PROMPTYARD_API_KEY)")
