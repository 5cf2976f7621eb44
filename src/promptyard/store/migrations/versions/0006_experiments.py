"""experiments as records (one per policy period of a label) and their per-unit running sums
(store/experiment_totals.py), filled from the label history and the logs already stored

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from __future__ import annotations

import hashlib
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

import promptyard.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5_000


def upgrade() -> None:
    t = promptyard.store.types
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("policy", t.JSONType, nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=False),
        sa.Column("hypothesis", sa.Text(), nullable=False),
        sa.Column("primary_metric", sa.String(length=200), nullable=False),
        sa.Column("planned_units", sa.Integer(), nullable=False),
        sa.Column("min_effect", sa.Float(), nullable=True),
        sa.Column("started_by", sa.String(length=320), nullable=False),
        sa.Column("started_at", t.UTCDateTime(), nullable=False),
        sa.Column("start_event_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", t.UTCDateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=320), nullable=False),
        sa.Column("end_event_id", sa.Integer(), nullable=True),
        sa.Column("outcome", t.JSONType, nullable=True),
        sa.Column("results", t.JSONType, nullable=True),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_experiments_label", "experiments", ["workspace_id", "prompt_id", "label", "started_at"])
    op.create_index(op.f("ix_experiments_workspace_id"), "experiments", ["workspace_id"])
    op.create_table(
        "experiment_units",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=220), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("yy", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("experiment_id", "version", "rule", "metric", "unit"),
        sqlite_with_rowid=False,
    )
    op.add_column("requests", sa.Column("experiment_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_requests_experiment_id"), "requests", ["experiment_id"])
    _fill()


def downgrade() -> None:
    op.drop_index(op.f("ix_requests_experiment_id"), table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("experiment_id")
    op.drop_table("experiment_units")
    op.drop_index(op.f("ix_experiments_workspace_id"), table_name="experiments")
    op.drop_index("ix_experiments_label", table_name="experiments")
    op.drop_table("experiments")


# --- backfill: frozen copies of the rules as of this migration (domain/routing.rules,
# services/experiment_records.counts_for, store/experiment_totals) -------------------------------

def _rules(policy: dict) -> dict[str, dict[int, float]]:
    out = {}
    for seg in policy.get("segments") or []:
        if "version" in seg:
            out[f"segment:{seg['name']}"] = {seg["version"]: 100.0}
        else:
            out[f"segment:{seg['name']}/split"] = {s["version"]: float(s["weight"]) for s in seg["split"]}
    out["split"] = {s["version"]: float(s["weight"]) for s in policy["split"]}
    return out


JSON, WHEN = promptyard.store.types.JSONType, promptyard.store.types.UTCDateTime()
EVENTS = sa.table("label_events", sa.column("id"), sa.column("workspace_id"), sa.column("prompt_id"),
                  sa.column("label"), sa.column("from_version"), sa.column("to_version"),
                  sa.column("from_policy", JSON), sa.column("to_policy", JSON), sa.column("actor"),
                  sa.column("reason"), sa.column("created_at", WHEN))
REQUESTS = sa.table("requests", sa.column("id"), sa.column("workspace_id"), sa.column("prompt_id"),
                    sa.column("label"), sa.column("version_number"), sa.column("routing", JSON), sa.column("status"),
                    sa.column("latency_ms"), sa.column("cost"), sa.column("start_time", WHEN),
                    sa.column("experiment_id"))
SCORES = sa.table("scores", sa.column("request_id"), sa.column("name"), sa.column("value"))
EXPERIMENTS = sa.table("experiments", *[sa.column(c, JSON if c in ("policy", "outcome") else WHEN if c in (
    "started_at", "ended_at") else None) for c in (
    "id", "workspace_id", "prompt_id", "label", "policy", "baseline", "hypothesis", "primary_metric",
    "planned_units", "min_effect", "started_by", "started_at", "start_event_id", "ended_at", "ended_by",
    "end_event_id", "outcome", "results")])
UNITS = sa.table("experiment_units", *[sa.column(c) for c in ("experiment_id", "version", "rule", "metric", "unit",
                                                               "n", "y", "yy")])


def _periods(conn: sa.Connection) -> list[dict]:
    """One experiment per policy period in the label history: from a move that set a policy to
    the next move of the same label."""
    open_: dict[tuple, dict] = {}
    out = []
    for e in conn.execute(sa.select(EVENTS).order_by(EVENTS.c.id)).mappings():
        key = (e["workspace_id"], e["prompt_id"], e["label"])
        before, after = e["from_policy"], e["to_policy"]
        if before == after and (after is None or e["from_version"] == e["to_version"]):
            continue
        current = open_.pop(key, None)
        if current is not None:
            kind = "changed" if after is not None else ("removed" if e["to_version"] is None else "ended")
            current |= {"ended_at": e["created_at"], "ended_by": e["actor"], "end_event_id": e["id"],
                        "outcome": {"kind": kind, "version": e["to_version"], "forced": False, "reason": e["reason"]}}
        if after is not None:
            open_[key] = {"workspace_id": key[0], "prompt_id": key[1], "label": key[2], "policy": after,
                          "baseline": e["to_version"], "started_by": e["actor"], "started_at": e["created_at"],
                          "start_event_id": e["id"], "ended_at": None, "ended_by": "", "end_event_id": None,
                          "outcome": None}
            out.append(open_[key])
    return out


def _fill() -> None:
    conn = op.get_bind()
    r = REQUESTS.c
    for period in _periods(conn):
        eid = conn.execute(EXPERIMENTS.insert().returning(EXPERIMENTS.c.id), [period | {
            "hypothesis": "", "primary_metric": "error_rate", "planned_units": 1000, "min_effect": None,
            "results": None}]).scalar_one()
        sums: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        by_request: dict[int, tuple] = {}
        rules = _rules(period["policy"])
        q = sa.select(r.id, r.version_number, r.routing, r.status, r.latency_ms, r.cost).where(
            r.workspace_id == period["workspace_id"], r.prompt_id == period["prompt_id"],
            r.label == period["label"], r.start_time >= period["started_at"])
        if period["ended_at"] is not None:
            q = q.where(r.start_time < period["ended_at"])
        for rid, version, routing, status, latency, cost in conn.execute(q):
            rule = (routing or {}).get("rule")
            if not isinstance(rule, str) or rules.get(rule, {}).get(version or 0, 0) <= 0:
                continue
            unit = (routing or {}).get("unit")
            key = (version, rule, hashlib.sha256(unit.encode("utf-8")).hexdigest()[:32] if unit else "")
            by_request[rid] = key
            values = [("@error_rate", 100.0 if status == "error" else 0.0)]
            values += [("@latency_ms", latency)] if latency is not None else []
            values += [("@cost", cost)] if cost is not None else []
            for metric, value in values:
                _add(sums[(key, metric)], value)
        ids = list(by_request)
        for i in range(0, len(ids), BATCH):
            chunk = ids[i:i + BATCH]
            conn.execute(REQUESTS.update().where(r.id.in_(chunk)).values(experiment_id=eid))
            for rid, name, value in conn.execute(sa.select(SCORES).where(SCORES.c.request_id.in_(chunk))):
                _add(sums[(by_request[rid], name)], value)
        values = [{"experiment_id": eid, "version": k[0], "rule": k[1], "unit": k[2], "metric": metric,
                   "n": s[0], "y": s[1], "yy": s[2]} for (k, metric), s in sums.items()]
        for i in range(0, len(values), BATCH):
            conn.execute(UNITS.insert(), values[i:i + BATCH])


def _add(s: list[float], value: float) -> None:
    s[0] += 1
    s[1] += value
    s[2] += value * value
