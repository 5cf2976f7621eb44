"""Promptyard: prompt registry, request log and production experiments for LLM applications.

This package's top level is the light client SDK (httpx only); the server lives in
`promptyard.web` and needs `pip install "promptyard[server]"`.
"""

from promptyard.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PromptyardError,
    Unauthorized,
    Unavailable,
)
from promptyard.sdk.client import AsyncPromptyard, Promptyard
from promptyard.sdk.counters import FlushResult
from promptyard.sdk.prompt import Prompt
from promptyard.sdk.wrappers import wrap

__all__ = [
    "Promptyard", "AsyncPromptyard", "Prompt", "wrap", "FlushResult",
    "PromptyardError", "InvalidInput", "NotFound", "Conflict", "Unauthorized", "Forbidden", "Unavailable",
]
