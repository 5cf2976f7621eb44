"""Records -> JSON-ready dicts, one function per record kind."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from promptyard.domain.records import Bundle, Resolved, VersionRecord


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def plain(record: Any) -> Any:
    """A dataclass record (or list of them) as JSON-ready data, datetimes as ISO-8601 UTC."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: plain(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, (list, tuple)):
        return [plain(r) for r in record]
    if isinstance(record, dict):
        return {k: plain(v) for k, v in record.items()}
    if isinstance(record, datetime):
        return iso(record)
    return record


def version(v: VersionRecord) -> dict[str, Any]:
    out = plain(v)
    out["type"] = out.pop("kind")
    out["model"] = {"provider": out.pop("provider"), "name": out.pop("model"), "parameters": out.pop("parameters")}
    template = out.pop("template")
    out.update(template)  # messages/tools or text at the top level, as clients send them
    return out


def resolved(r: Resolved, rendered: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "prompt": {"id": r.prompt.id, "name": r.prompt.name, "folder": r.prompt.folder},
        "version": version(r.version),
        "label": r.label,
        "routing": {"rule": r.rule, "unit": r.unit} if r.rule else None,
        "rendered": rendered,
    }


def bundle(b: Bundle) -> dict[str, Any]:
    return {"prompt": {"id": b.prompt.id, "name": b.prompt.name, "folder": b.prompt.folder}, "label": b.label,
            "policy": b.policy, "version": b.version,
            "versions": {str(n): version(v) for n, v in b.versions.items()}}
