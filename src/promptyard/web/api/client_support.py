"""Routes our own SDKs need beyond the registry API: the prompt bundle.

A bundle is one label's routing policy plus every version that policy can serve, so a client
caches one bundle per (name, label) and assigns versions itself (same hashing as the server,
tests/vectors/routing.json) without a network call per request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from promptyard.services import labels, versions
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, OptNumber, PromptName

router = APIRouter(prefix="/api/v1", tags=["clients"], responses=errors.READ)


def policy_versions(policy: dict[str, Any]) -> set[int]:
    numbers = {s["version"] for s in policy.get("split", [])}
    for seg in policy.get("segments") or []:
        numbers |= {seg["version"]} if "version" in seg else {s["version"] for s in seg["split"]}
    return numbers


@router.get("/prompt-bundle/{name:path}", responses=errors.FOUND)
def prompt_bundle(name: PromptName, c: Ctx, p: Auth, version: OptNumber = None, label: str | None = None):
    """{prompt, label, policy, version (the label's own), versions: {number: version}}; by
    `version`, by `label`, or (neither) 'production' if set, else the newest version."""
    with c.db.read() as s:
        r = labels.resolve(s, p, name, version=version, label=label)
        own = next((lb for lb in r.prompt.labels if lb.name == r.label), None)
        policy = own.policy if own is not None and own.policy and version is None else None
        base = own.version if policy else r.version.number
        found = {r.version.number: r.version}
        for number in (policy_versions(policy) | {base}) if policy else ():
            found.setdefault(number, versions.get(s, p, r.prompt.id, number))
    return {"prompt": {"id": r.prompt.id, "name": r.prompt.name, "folder": r.prompt.folder}, "label": r.label,
            "policy": policy, "version": base, "versions": {str(n): shapes.version(v) for n, v in found.items()}}
