"""A workspace's redaction policy: reading and changing it (admins, audited), its term list, and applying it
to what is about to be stored (every ingest path calls `for_workspace` and `log` / `annotation` /
`variables` here before it writes). The policy's rules are domain/redaction_policy.py.

The keys of keyed hashes are derived from the server's secret (Settings.secret(), carried in the session's
`info`) and the workspace id: the database alone does not let anyone test a guess against a term-list entry
or a hashed value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain import logs as rl
from promptyard.domain import redaction_policy as rp
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput
from promptyard.services import audit
from promptyard.store import bulk, text_search
from promptyard.store.models import (
    PendingUpdate,
    RedactionCount,
    RedactionTerm,
    Request,
    RequestMetadata,
    RequestTag,
    Score,
    Workspace,
)
from promptyard.store.types import utcnow

MAX_TERMS_PER_CALL = 10_000
MAX_TERMS = 100_000
MAX_PREVIEW_CHARS = 20_000


def _key(session: Session, workspace_id: int) -> bytes:
    secret = session.info.get("secret") or b""
    return hmac.new(secret, f"promptyard/redaction/{workspace_id}".encode(), hashlib.sha256).digest()


# Every ingest call and annotation reads the policy and the term list. They change rarely, so the parsed
# policy (validating it runs its custom patterns on probe texts) is kept per stored form, and the term list per
# workspace with a mark (how many entries, the newest) that a cheap aggregate reads: any add or remove moves it.
_POLICIES: dict[str, rp.Policy] = {}
_TERMS: dict[tuple[str, int], tuple[tuple, rp.Terms]] = {}
_DEFAULT = rp.Policy()


def policy(session: Session, workspace_id: int) -> rp.Policy:
    stored = session.scalar(select(Workspace.redaction).where(Workspace.id == workspace_id))
    if stored is None:
        return _DEFAULT
    text = json.dumps(stored, sort_keys=True)
    found = _POLICIES.get(text)
    if found is None:
        if len(_POLICIES) >= 256:
            _POLICIES.clear()
        found = _POLICIES[text] = rp.parse(stored)
    return found


def _terms(session: Session, workspace_id: int) -> rp.Terms:
    mark = tuple(session.execute(select(func.count(), func.max(RedactionTerm.created_at))
                                 .where(RedactionTerm.workspace_id == workspace_id)).one())
    if not mark[0]:
        return rp.Terms()
    where = (str(session.get_bind().url), workspace_id)
    cached = _TERMS.get(where)
    if cached is not None and cached[0] == mark:
        return cached[1]
    rows = session.execute(select(RedactionTerm.digest, RedactionTerm.prefix, RedactionTerm.length)
                           .where(RedactionTerm.workspace_id == workspace_id)).all()
    terms = rp.Terms.of(rp.TermEntry(*row) for row in rows)
    _TERMS[where] = (mark, terms)
    return terms


LOOK_UP = object()  # for callers taking a redactor: none given, look up the workspace's


def for_workspace(session: Session, workspace_id: int) -> rp.Redactor | None:
    """The redactor ingest applies in this workspace (None when its policy is off)."""
    return redactor(spec(session, workspace_id))


@dataclass(frozen=True)
class Spec:
    """A workspace's redactor as data, which pickles: ingest's worker processes build it from this
    (services/ingest_workers.py)."""
    policy: rp.Policy
    key: bytes
    terms: rp.Terms | None


def spec(session: Session, workspace_id: int) -> Spec | None:
    """What the workspace's redactor is made of (None when its policy is off)."""
    found = policy(session, workspace_id)
    if not found.enabled:
        return None
    terms = _terms(session, workspace_id) if found.rules[rp.TERM].on else None
    return Spec(found, _key(session, workspace_id), terms)


def redactor(made_of: Spec | None) -> rp.Redactor | None:
    """A new redactor (each counts what it redacts: one per batch, never shared by threads)."""
    return None if made_of is None else rp.Redactor(made_of.policy, made_of.key, made_of.terms)


# --- what is redacted: one home for the list of fields --------------------------------------------------------

def log(red: rp.Redactor | None, item: rl.NormalLog) -> dict[str, int]:
    """Redact the log's free text in place (input, output, prompt variables, parameters, error message,
    metadata values, tags, score comments); the counts per kind. Texts for search are made again from what
    is kept when it changed."""
    if red is None:
        return {}
    red.take()
    inp, out = red.value(item.input), red.value(item.output)
    if inp is not item.input:
        item.input, item.input_text = inp, rl.text_of(inp)
    if out is not item.output:
        item.output, item.output_text = out, rl.text_of(out)
    if item.prompt and item.prompt.get("variables"):
        item.prompt = item.prompt | {"variables": red.value(item.prompt["variables"])}
    item.parameters = red.value(item.parameters)
    if item.error_message:
        item.error_message = red.text(item.error_message) or None
    item.metadata = {k: red.text(v) for k, v in item.metadata.items()}
    item.tags = _tags(red, item.tags)
    item.scores = [s | {"comment": red.text(s["comment"])} if s["comment"] else s for s in item.scores]
    return red.take()


def _tags(red: rp.Redactor, tags: list[str]) -> list[str]:
    return list(dict.fromkeys(t for t in (red.text(tag) for tag in tags) if t))


def routing_of(red: rp.Redactor | None, decision: dict | None) -> dict | None:
    """A routing decision's sticky unit is a metadata value: it is stored only as the policy leaves it."""
    if red is None or not decision or not decision.get("unit"):
        return decision
    return decision | {"unit": red.text(decision["unit"])}


def metadata_update(red: rp.Redactor | None, item: dict) -> tuple[dict, dict[str, int]]:
    """A metadata update sent for a stored (or not yet stored) request, redacted like a log's; the counts."""
    if red is None:
        return item, {}
    red.take()
    return {k: red.text(v) for k, v in item.items()}, red.take()


def tags_update(red: rp.Redactor | None, item: dict) -> tuple[dict, dict[str, int]]:
    """Tags to add and remove; those to remove are redacted too (they must match the stored form) but
    not counted."""
    if red is None:
        return item, {}
    red.take()
    add = _tags(red, item["add"])
    found = red.take()
    return {"add": add, "remove": _tags(red, item["remove"])}, found


def score_update(red: rp.Redactor | None, item: dict) -> tuple[dict, dict[str, int]]:
    """A score: its comment is the only text it carries (most carry none)."""
    if red is None or not item["comment"]:
        return item, {}
    red.take()
    return item | {"comment": red.text(item["comment"])}, red.take()


# By the name a pending update stores (services/request_annotations.KINDS uses the same names).
UPDATES = {"metadata": metadata_update, "tags": tags_update, "scores": score_update}


def variables(red: rp.Redactor | None, values: dict | None) -> tuple[dict | None, dict[str, int]]:
    if red is None or values is None:
        return values, {}
    red.take()
    return red.value(values), red.take()


def count_rows(workspace_id: int, request_id: int, counts: dict[str, int]) -> list[dict]:
    return [{"request_id": request_id, "kind": k, "n": n, "workspace_id": workspace_id} for k, n in counts.items()]


def add_counts(session: Session, workspace_id: int, request_id: int, counts: dict[str, int]) -> None:
    """Counts of a later annotation added to the request's."""
    if counts:
        bulk.insert(session, RedactionCount.__table__, count_rows(workspace_id, request_id, counts),
                    add_on_conflict=(("request_id", "kind"), ("n",)))


def counts_of(session: Session, p: Principal, request_id: int) -> dict[str, int]:
    access.require(p, "read")
    rows = session.execute(select(RedactionCount.kind, RedactionCount.n).where(
        RedactionCount.workspace_id == p.workspace_id, RedactionCount.request_id == request_id)
        .order_by(RedactionCount.kind)).all()
    return {kind: n for kind, n in rows}


# --- the policy, for admins -----------------------------------------------------------------------------------

def describe(session: Session, p: Principal) -> dict[str, Any]:
    access.require(p, "read")
    stored = session.scalar(select(Workspace.redaction).where(Workspace.id == p.workspace_id))
    terms = session.scalar(select(func.count()).select_from(RedactionTerm)
                           .where(RedactionTerm.workspace_id == p.workspace_id))
    return {**policy(session, p.workspace_id).to_json(), "terms": terms, "default": stored is None,
            "placeholders": rp.PLACEHOLDERS, "operators": list(rp.OPERATORS)}


def set_policy(session: Session, p: Principal, data: Any, *, reason: str = "") -> dict[str, Any]:
    """Change the policy (fields left out keep their value). Turning redaction off, or a detector off, needs a
    reason; the audit trail keeps the change, who made it and why."""
    access.require(p, "admin")
    row = session.get(Workspace, p.workspace_id, with_for_update=True)
    before = rp.parse(row.redaction)
    try:
        after = rp.parse(data, base=before)
    except rp.PolicyError as exc:
        raise exc from None
    reason = (reason or "").strip()
    weakened = _weakened(before, after)
    if weakened and not reason:
        raise InvalidInput("errors.privacy.reason_turning_off_needs", weakened=', '.join(weakened))
    if len(reason) > 1000:
        raise InvalidInput("errors.privacy.reason_most_1_000")
    row.redaction = after.to_json()
    audit.record(session, p.workspace_id, p.actor, "privacy.redaction", "workspace", p.workspace_id,
                 {"before": before.to_json(), "after": after.to_json(), "reason": reason})
    session.flush()
    return describe(session, p)


def _weakened(before: rp.Policy, after: rp.Policy) -> list[str]:
    if before.enabled and not after.enabled:
        return ["redaction"]
    return [k for k in rp.RULE_KINDS if before.rules[k].on and not after.rules[k].on] + \
        [c.kind for c in before.custom if c.rule.on and c.kind not in {d.kind for d in after.custom if d.rule.on}]


def _entries(session: Session, p: Principal, terms: Any) -> list[rp.TermEntry]:
    if not isinstance(terms, list) or not terms or len(terms) > MAX_TERMS_PER_CALL:
        raise InvalidInput("errors.privacy.terms_send_list_1", max_terms_per_call=MAX_TERMS_PER_CALL)
    key = _key(session, p.workspace_id)
    out: dict[str, rp.TermEntry] = {}
    for i, term in enumerate(terms):
        try:
            out.update((e.digest, e) for e in rp.term_entries(key, term))
        except rp.PolicyError:  # the term is not echoed: it is patient data
            raise InvalidInput("errors.privacy.terms_each_term_text", i=i, min_term_chars=rp.MIN_TERM_CHARS,
                               max_term_chars=rp.MAX_TERM_CHARS) from None
    return list(out.values())


def add_terms(session: Session, p: Principal, terms: Any) -> dict[str, Any]:
    """Add names to the term list; only their keyed hashes are kept. Answers the list's size."""
    access.require(p, "admin")
    entries = _entries(session, p, terms)
    have = _term_count(session, p.workspace_id)
    if have + len(entries) > MAX_TERMS:
        raise InvalidInput("errors.privacy.terms_workspace_keeps_most", max_terms=MAX_TERMS, have=have)
    bulk.insert(session, RedactionTerm.__table__,
                [{"workspace_id": p.workspace_id, "digest": e.digest, "prefix": e.prefix, "length": e.length,
                  "created_by": p.actor, "created_at": utcnow()} for e in entries],
                skip_conflicts_on=("workspace_id", "digest"))
    total = _term_count(session, p.workspace_id)
    audit.record(session, p.workspace_id, p.actor, "privacy.terms.add", "workspace", p.workspace_id,
                 {"added": total - have, "total": total})
    return {"terms": total}


def remove_terms(session: Session, p: Principal, terms: Any | None = None) -> dict[str, Any]:
    """Remove the given names from the term list (None: every term)."""
    access.require(p, "admin")
    q = delete(RedactionTerm).where(RedactionTerm.workspace_id == p.workspace_id)
    if terms is not None:
        q = q.where(RedactionTerm.digest.in_([e.digest for e in _entries(session, p, terms)]))
    have = _term_count(session, p.workspace_id)
    session.execute(q)
    total = _term_count(session, p.workspace_id)
    audit.record(session, p.workspace_id, p.actor, "privacy.terms.remove", "workspace", p.workspace_id,
                 {"removed": have - total, "total": total})
    return {"terms": total}


def _term_count(session: Session, workspace_id: int) -> int:
    return session.scalar(select(func.count()).select_from(RedactionTerm)
                          .where(RedactionTerm.workspace_id == workspace_id))


def preview(session: Session, p: Principal, text: Any, data: Any = None) -> dict[str, Any]:
    """What the policy (or a draft of a change to it) makes of a sample text; nothing is stored."""
    access.require(p, "admin")
    if not isinstance(text, str) or len(text) > MAX_PREVIEW_CHARS:
        raise InvalidInput("errors.privacy.text_string_most_characters", max_preview_chars=MAX_PREVIEW_CHARS)
    red = for_workspace(session, p.workspace_id) or rp.Redactor(rp.Policy(enabled=False))
    if data is not None:
        try:
            red = rp.Redactor(rp.parse(data, base=red.policy), _key(session, p.workspace_id), red.terms)
        except rp.PolicyError as exc:
            raise exc from None
    return {"text": red.text(text), "counts": red.take()}


# --- logs stored before the policy (or a term) existed --------------------------------------------------------

def redact_stored(session: Session, p: Principal, *, after_id: int = 0, batch: int = 500,
                  dry_run: bool = False) -> dict[str, Any]:
    """Apply the current policy to one batch of the logs already stored (ids above `after_id`): what redaction
    would have done at ingest, done now, in place (and to pending updates, with the first batch). Answers
    {last_id (None at the end), scanned, changed, counts}; the caller loops, one transaction per batch."""
    access.require(p, "admin")
    red = for_workspace(session, p.workspace_id)
    if red is None:
        raise InvalidInput("errors.privacy.redaction_off_workspace_turn")
    rows = session.scalars(select(Request).where(Request.workspace_id == p.workspace_id, Request.id > after_id)
                           .order_by(Request.id).limit(batch).with_for_update()).all()
    ids = [r.id for r in rows]
    meta: dict[int, list[RequestMetadata]] = {}
    for m in session.scalars(select(RequestMetadata).where(bulk.one_of(RequestMetadata.request_id, ids))):
        meta.setdefault(m.request_id, []).append(m)
    comments: dict[int, list[Score]] = {}
    for sc in session.scalars(select(Score).where(bulk.one_of(Score.request_id, ids), Score.comment != "")):
        comments.setdefault(sc.request_id, []).append(sc)
    totals: dict[str, int] = {}
    changed = 0
    for r in rows:
        red.take()
        found = _redact_row(red, r, meta.get(r.id, []), comments.get(r.id, []), write=not dry_run, session=session)
        if found:
            changed += 1
            for kind, n in found.items():
                totals[kind] = totals.get(kind, 0) + n
            if not dry_run:
                add_counts(session, p.workspace_id, r.id, found)
    if after_id == 0:
        for item in session.scalars(select(PendingUpdate).where(PendingUpdate.workspace_id == p.workspace_id)):
            payload, found = UPDATES[item.kind](red, item.payload)
            if found and not dry_run:
                item.payload = payload
                item.redacted = {k: (item.redacted or {}).get(k, 0) + n for k, n in found.items()}
    session.flush()
    return {"last_id": ids[-1] if len(ids) == batch else None, "scanned": len(ids), "changed": changed,
            "counts": totals}


def _redact_row(red: rp.Redactor, r: Request, meta: list[RequestMetadata], scores: list[Score], *,
                write: bool, session: Session) -> dict[str, int]:
    """One stored log's fields as `log` would have left them; written back when `write`."""
    inp, out = red.value(r.input), red.value(r.output)
    variables, parameters, routing = red.value(r.input_variables), red.value(r.parameters), routing_of(red, r.routing)
    error = red.text(r.error_message or "") or None
    tags = _tags(red, list(r.tags or []))
    values = [(m, red.text(m.value)) for m in meta]
    texts = [(sc, red.text(sc.comment)) for sc in scores]
    found = red.take()
    if not found or not write:
        return found
    if inp is not r.input or out is not r.output:  # the text index follows (store/text_search.py)
        text_search.remove(session, [(r.id, r.workspace_id, rl.text_of(r.input), rl.text_of(r.output))])
        text_search.add(session, [(r.id, r.workspace_id, rl.text_of(inp), rl.text_of(out))])
    r.input, r.output = inp, out
    r.input_variables, r.parameters, r.routing, r.error_message = variables, parameters, routing, error
    if tags != list(r.tags or []):
        r.tags = tags
        session.execute(delete(RequestTag).where(RequestTag.request_id == r.id))
        session.add_all(RequestTag(request_id=r.id, tag=t, workspace_id=r.workspace_id) for t in tags)
    for m, value in values:
        m.value = value
    for sc, comment in texts:
        sc.comment = comment
    return found


def record_redact_stored(session: Session, p: Principal, summary: dict[str, Any]) -> None:
    audit.record(session, p.workspace_id, p.actor, "privacy.redact_stored", "workspace", p.workspace_id, summary)
