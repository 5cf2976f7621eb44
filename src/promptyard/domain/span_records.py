"""Spans as OTLP exports carry them, decoded from either wire form (domain/otlp.py: protobuf,
domain/otlp_json.py: JSON) into one plain record (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptyard.errors import TooLarge

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUSES = {0: "unset", 1: "ok", 2: "error"}
MAX_VALUE_DEPTH = 16  # nested arrays/maps in one attribute value


@dataclass
class Span:
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    status: str  # unset | ok | error
    status_message: str
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""


class Budget:
    """How many more attribute values (and spans and events) one body may hold."""

    def __init__(self, most: int):
        self.left = most

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise TooLarge("errors.traces.body_holds_too_many")
