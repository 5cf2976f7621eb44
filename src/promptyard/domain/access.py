"""Scopes, roles and the check every service entry point makes."""

from __future__ import annotations

from promptyard.domain.records import Principal
from promptyard.errors import Forbidden  # noqa: F401  (re-exported)

# read: everything readable; prompts:read: prompts only (publishable browser keys);
# ingest: log requests, scores, metadata; write: prompts, folders, labels; admin: keys,
# members, protected labels.
SCOPES = ("read", "prompts:read", "ingest", "write", "admin")
PUBLISHABLE_SCOPES = ("prompts:read", "ingest")
ROLES = ("viewer", "editor", "admin", "owner")
ROLE_SCOPES = {
    "viewer": frozenset({"read", "prompts:read"}),
    "editor": frozenset({"read", "prompts:read", "ingest", "write"}),
    "admin": frozenset(SCOPES),
    "owner": frozenset(SCOPES),
}
# Labels whose moves need the admin scope (production traffic).
PROTECTED_LABELS = frozenset({"production"})

_IMPLIED = {"read": {"prompts:read"}}


def has(principal: Principal, scope: str) -> bool:
    if scope in principal.scopes or "admin" in principal.scopes:
        return True
    return any(scope in _IMPLIED.get(s, ()) for s in principal.scopes)


def is_protected(label: str) -> bool:
    return label in PROTECTED_LABELS


def may_move(principal: Principal, label: str) -> bool:
    """Whether `principal` may move label `label` or change its split: write, and admin as well
    for a protected label."""
    return has(principal, "write") and (not is_protected(label) or has(principal, "admin"))


def require(principal: Principal, scope: str) -> None:
    if not has(principal, scope):
        raise Forbidden("errors.keys.action_needs_scope", scope=scope)


def validate_scopes(scopes: list[str]) -> list[str]:
    from promptyard.errors import InvalidInput

    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise InvalidInput("errors.keys.scopes_non_empty_list", scopes=', '.join(SCOPES), scopes2=scopes)
    return sorted(set(scopes))
