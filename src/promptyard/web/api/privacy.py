"""/api/v1/privacy/redaction: the workspace's redaction policy, its term list, and a preview on sample text."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from promptyard.domain import redaction_policy as rp
from promptyard.services import redaction
from promptyard.web.api import errors
from promptyard.web.api.deps import Auth, Ctx

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"], responses=errors.READ)

_DETECTORS = "kind -> {on, operator, placeholder}; the kind `term` is the term list"


Operator = Literal[rp.OPERATORS]
Placeholder = Field("", max_length=rp.MAX_PLACEHOLDER_CHARS, description="empty = the kind's typed placeholder")


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    on: bool = True
    operator: Operator = "placeholder"
    placeholder: str = Placeholder


class CustomIn(RuleIn):
    name: str = Field(pattern=rp.CUSTOM_NAME.pattern, description="counted as custom:<name>")
    pattern: str = Field(min_length=1, max_length=rp.MAX_PATTERN_CHARS,
                         description="a regular expression, matched on the NFKC-normalised text")


class PolicyIn(BaseModel):
    """A change to the policy: fields left out keep their value."""

    model_config = ConfigDict(extra="forbid", strict=True)
    enabled: bool | None = Field(None, description="false turns redaction off (needs a reason)")
    detectors: dict[Literal[rp.RULE_KINDS], RuleIn] | None = Field(None, description=_DETECTORS)
    custom: list[CustomIn] | None = Field(None, max_length=rp.MAX_CUSTOM,
                                          description="custom patterns, replacing the list")
    reason: str = Field("", max_length=1000, description="why; required when something is turned off (audited)")


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    terms: list[str] = Field(description="names to redact wherever they appear; only keyed hashes are kept")


class TermsRemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    terms: list[str] | None = Field(None, description="names to take off the list")
    all: bool = Field(False, description="empty the list")


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str = Field(description="sample text (nothing is stored)")
    policy: dict[str, Any] | None = Field(None, description="a draft change to try instead of the saved policy")


@router.get("/redaction")
def get_policy(c: Ctx, p: Auth):
    """The policy: whether it is on, each detector's operator and placeholder, custom patterns, and the size
    of the term list (its entries are hashes and cannot be listed)."""
    with c.db.read() as s:
        return redaction.describe(s, p)


@router.patch("/redaction", responses=errors.WRITE)
def change_policy(c: Ctx, p: Auth, body: PolicyIn):
    """Change the policy (admins). It applies to what is stored from now on; audited with the reason."""
    data = body.model_dump(exclude_unset=True, exclude={"reason"})
    with c.db.write() as s:
        return redaction.set_policy(s, p, data, reason=body.reason)


@router.post("/redaction/preview", responses=errors.WRITE)
def preview(c: Ctx, p: Auth, body: PreviewIn):
    """What the policy (or a draft of a change) makes of a sample text, and the counts per kind."""
    with c.db.read() as s:
        return redaction.preview(s, p, body.text, body.policy)


@router.post("/redaction/terms", responses=errors.WRITE)
def add_terms(c: Ctx, p: Auth, body: TermsIn):
    """Add names to the term list (admins; at most 10,000 per call)."""
    with c.db.write() as s:
        return redaction.add_terms(s, p, body.terms)


@router.post("/redaction/terms/remove", responses=errors.WRITE)
def remove_terms(c: Ctx, p: Auth, body: TermsRemoveIn):
    """Take names off the term list, or empty it (`all`)."""
    with c.db.write() as s:
        return redaction.remove_terms(s, p, None if body.all else (body.terms or []))
