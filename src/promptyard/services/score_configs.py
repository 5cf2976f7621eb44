"""Score configs of a workspace (issue 17): list, read, create, edit, delete (editors write, every
member reads; each change audited), and `for_scoring`, the configs every score write checks its
scores against (loaded once per call or batch). The rules are in domain/score_configs.py.

A config's name is the name of its scores and does not change (scores are matched by name); an
edit applies to scores given from then on (stored scores are not re-checked). Deleting a config
leaves its scores, which count as free-form 0-100 scores again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain import score_configs as sc
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, NotFound
from promptyard.services import audit
from promptyard.store.models import ScoreConfig as Row
from promptyard.store.types import utcnow


def _record(r: Row) -> sc.ScoreConfig:
    categories = tuple(sc.Category(float(c["value"]), c["label"], c.get("description") or "")
                       for c in r.categories or ())
    return sc.ScoreConfig(name=r.name, type=r.type, min_value=r.min_value, max_value=r.max_value, step=r.step,
                          categories=categories, rubric=r.rubric, sources=tuple(r.sources),
                          comment_required_below=r.comment_required_below, archived=r.archived, id=r.id,
                          created_at=r.created_at, updated_at=r.updated_at)


def _fill(row: Row, c: sc.ScoreConfig) -> None:
    row.type, row.min_value, row.max_value, row.step = c.type, c.min_value, c.max_value, c.step
    row.categories = [{"value": x.value, "label": x.label, "description": x.description}
                      for x in c.categories] or None
    row.rubric, row.sources = c.rubric, list(c.sources)
    row.comment_required_below, row.archived = c.comment_required_below, c.archived
    row.updated_at = utcnow()


def _row(session: Session, p: Principal, config_id: int) -> Row:
    row = session.scalar(select(Row).where(Row.workspace_id == p.workspace_id, Row.id == config_id))
    if row is None:
        raise NotFound("errors.score_configs.not_found", id=config_id)
    return row


CACHE = "score_configs"  # session.info key: the configs read in this session, by workspace


def for_scoring(session: Session, workspace_id: int) -> dict[str, sc.ScoreConfig]:
    """Every config of the workspace by score name (archived ones too: they refuse new scores);
    read once per session (a review's save checks its values and writes its scores with them),
    read again after a change here (`_changed`)."""
    kept = session.info.setdefault(CACHE, {})
    if workspace_id not in kept:
        kept[workspace_id] = {r.name: _record(r)
                              for r in session.scalars(select(Row).where(Row.workspace_id == workspace_id))}
    return kept[workspace_id]


def _changed(session: Session) -> None:
    session.info.pop(CACHE, None)


def list_all(session: Session, p: Principal, *, archived: bool = True) -> list[sc.ScoreConfig]:
    access.require(p, "read")
    q = select(Row).where(Row.workspace_id == p.workspace_id)
    if not archived:
        q = q.where(Row.archived.is_(False))
    return [_record(r) for r in session.scalars(q.order_by(Row.name))]


def get(session: Session, p: Principal, config_id: int) -> sc.ScoreConfig:
    access.require(p, "read")
    return _record(_row(session, p, config_id))


def by_name(session: Session, p: Principal, name: str) -> sc.ScoreConfig | None:
    access.require(p, "read")
    row = session.scalar(select(Row).where(Row.workspace_id == p.workspace_id, Row.name == name))
    return _record(row) if row else None


def create(session: Session, p: Principal, body: Any) -> sc.ScoreConfig:
    access.require(p, "write")
    config = sc.spec(body)
    if session.scalar(select(Row.id).where(Row.workspace_id == p.workspace_id, Row.name == config.name)):
        raise Conflict("errors.score_configs.name_taken", name=config.name)
    row = Row(workspace_id=p.workspace_id, name=config.name, created_at=utcnow())
    _fill(row, config)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # created meanwhile by another writer
        raise Conflict("errors.score_configs.name_taken", name=config.name) from None
    _changed(session)
    audit.record(session, p.workspace_id, p.actor, "score_config.create", "score_config", row.id,
                 sc.as_body(_record(row)))
    return _record(row)


def update(session: Session, p: Principal, config_id: int, body: Any) -> sc.ScoreConfig:
    """The config replaced by `body` (every field; its name stays)."""
    access.require(p, "write")
    row = _row(session, p, config_id)
    before = sc.as_body(_record(row))
    _fill(row, sc.spec(body, name=row.name))
    session.flush()
    _changed(session)
    after = sc.as_body(_record(row))
    audit.record(session, p.workspace_id, p.actor, "score_config.update", "score_config", row.id,
                 {k: {"from": before[k], "to": v} for k, v in after.items() if before.get(k) != v})
    return _record(row)


def delete(session: Session, p: Principal, config_id: int) -> None:
    access.require(p, "write")
    row = _row(session, p, config_id)
    audit.record(session, p.workspace_id, p.actor, "score_config.delete", "score_config", row.id,
                 {"name": row.name})
    session.delete(row)
    session.flush()
    _changed(session)
