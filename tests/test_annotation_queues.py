"""Annotation queues (services/annotation_queues.py, issue 17) on both databases: a queue from a
filter (sampled per version), next item per reviewer, reviews, blind reviewing, the request's
human score written when an item has its reviews, skips, progress, disagreements, erasure."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from promptyard.domain import agreement
from promptyard.errors import Conflict, Forbidden, InvalidInput
from promptyard.services import annotation_queues as aq
from promptyard.services import erasure, log_stats, request_ingest, request_reads, score_configs, users
from promptyard.store.models import QueueItem, QueueMark, Review, Score
from tests.support import log

SCORES = [{"name": "accuracy", "kind": "scale5", "rubric": "5 = **correct** and complete"},
          {"name": "safe", "kind": "yes_no"}]


def _users(database, p, *roles: str) -> list:  # noqa: ANN001
    out = []
    with database.write() as s:
        for role in roles:
            uid = users.create_user(s, p.workspace_id, email=f"{role}-{uuid.uuid4().hex[:8]}@example.com",
                                    password="correct horse battery", role=role)
            out.append(replace(p, actor=f"user{uid}", user_id=uid, role=role,
                               scopes=frozenset({"read", "prompts:read"}) if role == "viewer" else p.scopes))
    return out


def _logs(database, p, n: int, **kw) -> list[int]:  # noqa: ANN001
    with database.write() as s:
        request_ingest.ingest(s, p, [log(metadata={"env": "prod", "batch": kw.get("batch", "a")},
                                         start_time=f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z", end_time=None,
                                         **{k: v for k, v in kw.items() if k != "batch"}) for i in range(n)],
                              max_batch=10_000)
    with database.read() as s:
        found = request_reads.browse(s, p, node=request_reads.query.parse(f'metadata.batch = "{kw.get("batch", "a")}"'),
                                     limit=1000)
    return sorted(i["number"] for i in found["items"])


def _queue(database, p, reviewers, **kw):  # noqa: ANN001, ANN201
    body = {"name": f"q-{uuid.uuid4().hex[:6]}", "scores": SCORES, "reviewers": [r.user_id for r in reviewers],
            "source": {"kind": "filter", "ref": 'metadata.batch = "a"'}} | kw
    with database.write() as s:
        return aq.create(s, p, body)


def test_review_flow_writes_the_mean_as_a_human_score(database, principal):
    a, b = _users(database, principal, "viewer", "viewer")
    ids = _logs(database, principal, 3)
    q = _queue(database, principal, [a, b], reviews_per_item=2)
    assert q["items"] == 3, q
    with database.write() as s:
        first = aq.next_item(s, a, q["id"])
        assert first["progress"] == {"done": 0, "skipped": 0, "total": 3, "position": 1}
        item = first["item"]
        assert item["request"]["number"] in ids and item["others"] is None and item["others_hidden"]
        aq.submit(s, a, q["id"], item["id"], {"accuracy": 4, "safe": "y"}, comment="ok")
    with database.write() as s:
        # b does not see a's values before giving theirs, then does.
        seen = aq.item(s, b, q["id"], item["id"])
        assert seen["others"] is None and seen["mine"] == []
        assert aq.next_item(s, b, q["id"])["item"]["id"] == item["id"]
        assert aq.submit(s, b, q["id"], item["id"], {"accuracy": 5, "safe": 1})["state"] == "done"
        after = aq.item(s, b, q["id"], item["id"])
        assert [(o["name"], o["value"]) for o in after["others"]] == [("accuracy", 4.0), ("safe", 100.0)]
        # a's next item is another one; a done item is nobody's next.
        nxt = aq.next_item(s, a, q["id"])
        assert nxt["item"]["id"] != item["id"] and nxt["progress"]["position"] == 2
    with database.read() as s:
        rows = {r.name: r for r in s.scalars(select(Score).where(Score.request_id == item["request"]["number"]))}
        assert rows["accuracy"].value == 4.5 and rows["accuracy"].source == "human" and rows["safe"].value == 100
        assert rows["accuracy"].comment == "ok"
        stats = {(i["prompt"], i["version"]): i for i in log_stats.per_version(s, principal)}
        assert stats[(None, None)]["scores"]["accuracy"]["mean"] == pytest.approx(4.5)


def test_one_review_per_item_and_skips(database, principal):
    (a,) = _users(database, principal, "editor")
    _logs(database, principal, 3)
    q = _queue(database, principal, [a])
    seen = []
    with database.write() as s:
        first = aq.next_item(s, a, q["id"])["item"]["id"]
        aq.skip(s, a, q["id"], first)
        while (n := aq.next_item(s, a, q["id"])["item"]) is not None:
            seen.append(n["id"])
            aq.submit(s, a, q["id"], n["id"], {"accuracy": 3, "safe": 0})
        progress = aq.next_item(s, a, q["id"])["progress"]
    assert first not in seen and len(seen) == 2 and progress == {"done": 2, "skipped": 1, "total": 3, "position": 3}
    with database.read() as s:
        assert aq.get(s, principal, q["id"])["counts"] == {"waiting": 1, "done": 2}


def test_values_checked_by_kind_and_rights(database, principal):
    a, outsider = _users(database, principal, "viewer", "viewer")
    _logs(database, principal, 1)
    q = _queue(database, principal, [a])
    with database.write() as s:
        item = aq.next_item(s, a, q["id"])["item"]["id"]
        for values in ({"accuracy": 6, "safe": 1}, {"accuracy": 3, "safe": 2}, {"accuracy": 3},
                       {"accuracy": 3, "safe": 1, "tone": 2}, {"accuracy": "x", "safe": 1}, "nope"):
            with pytest.raises(InvalidInput):
                aq.submit(s, a, q["id"], item, values)
        with pytest.raises(Forbidden):
            aq.next_item(s, outsider, q["id"])
        with pytest.raises(Forbidden):  # viewers do not create queues
            aq.create(s, a, {"name": "x", "scores": SCORES})
    with pytest.raises(InvalidInput) as bad:
        with database.write() as s:
            aq.submit(s, a, q["id"], item, {"accuracy": 9, "safe": 1})
    assert bad.value.text("ja") == "accuracy: 1〜5 の整数で評価してください。"


@pytest.mark.parametrize("body, key", [
    ({"scores": []}, "errors.queues.scores"),
    ({"scores": [{"name": "a b"}]}, "errors.queues.score_name"),
    ({"scores": [{"name": "a", "kind": "stars"}]}, "errors.queues.score_kind"),
    ({"reviews_per_item": 4}, "errors.queues.per_item"),
    ({"reviewers": [10**9]}, "errors.queues.not_members"),
    ({"source": {"kind": "filter", "ref": "nonsense ="}}, None),
    ({"source": {"kind": "manual"}, "sampling": {"rate": 0.1}}, "errors.queues.sampling_needs_filter"),
    ({"sampling": {"rate": 0}}, "errors.queues.rate"),
    ({"name": " "}, "errors.queues.empty"),
])
def test_bad_queue_bodies_name_the_problem(database, principal, body, key):
    base = {"name": "q", "scores": SCORES, "source": {"kind": "filter", "ref": 'metadata.batch = "a"'}}
    with pytest.raises(InvalidInput) as exc, database.write() as s:
        aq.create(s, principal, base | body)
    assert key is None or exc.value.key == key


def test_names_are_unique_per_workspace(database, principal):
    with database.write() as s:
        aq.create(s, principal, {"name": "same", "scores": SCORES})
    with pytest.raises(Conflict), database.write() as s:
        aq.create(s, principal, {"name": "same", "scores": SCORES})


def test_sampling_is_stratified_by_version(database, principal):
    from tests.support import log as make_log

    with database.write() as s:
        request_ingest.ingest(s, principal, [
            make_log(metadata={"batch": "s"}, prompt={"name": f"p-{principal.workspace_id}-{'ab'[i % 10 == 0]}"},
                     start_time=f"2026-11-20T10:00:{i % 60:02d}Z", end_time=None) for i in range(100)], max_batch=1000)
    with database.write() as s:
        q = aq.create(s, principal, {"name": "sampled", "scores": SCORES, "sampling": {"rate": 0.1},
                                     "source": {"kind": "filter", "ref": 'metadata.batch = "s"'}})
    # 90 logs of one prompt, 10 of the other: 9 + 1 (round(0.1 * 10) = 1, never none).
    assert q["items"] == 10
    with database.read() as s:
        names = s.execute(select(func.count()).select_from(QueueItem).where(QueueItem.queue_id == q["id"])).scalar()
    assert names == 10


def test_daily_sample_takes_each_new_day(database, principal):
    with database.write() as s:
        q = aq.create(s, principal, {"name": "daily", "scores": SCORES, "sampling": {"rate": 1.0, "daily": True},
                                     "source": {"kind": "filter", "ref": 'metadata.batch = "d"'}})
    assert q["items"] == 0
    now = datetime.now(timezone.utc)
    with database.write() as s:
        request_ingest.ingest(s, principal, [log(metadata={"batch": "d"}, start_time=now.isoformat(), end_time=None)],
                              max_batch=10)
    with database.write() as s:
        assert aq.sample_daily(s, now + timedelta(days=1)) >= 1
    with database.read() as s:
        assert aq.get(s, principal, q["id"])["counts"]["waiting"] == 1


def test_disagreements_and_overview(database, principal):
    a, b = _users(database, principal, "viewer", "viewer")
    _logs(database, principal, 2)
    q = _queue(database, principal, [a, b], reviews_per_item=2)
    with database.write() as s:
        i1 = aq.next_item(s, a, q["id"])["item"]["id"]
        aq.submit(s, a, q["id"], i1, {"accuracy": 1, "safe": 1})
        aq.submit(s, b, q["id"], i1, {"accuracy": 5, "safe": 1})
        i2 = aq.next_item(s, a, q["id"])["item"]["id"]
        aq.submit(s, b, q["id"], i2, {"accuracy": 2, "safe": 0})
        aq.submit(s, a, q["id"], i2, {"accuracy": 2, "safe": 1})
    with database.read() as s:
        o = aq.overview(s, principal, q["id"])
        assert [(d["item"], d["name"], d["spread"]) for d in o["disagreements"]] == [(i2, "safe", 100.0),
                                                                                    (i1, "accuracy", 4.0)]
        assert {r["id"]: r["done"] for r in o["reviewers"]} == {a.user_id: 2, b.user_id: 2}
        assert o["counts"] == {"waiting": 0, "done": 2}
        by_name = {a["name"]: a for a in o["agreement"]}
        expected = agreement.krippendorff_alpha([[1, 5], [2, 2]], level="ordinal")  # checked in test_agreement
        assert by_name["accuracy"]["alpha"] == pytest.approx(expected.value) and by_name["accuracy"]["items"] == 2
        assert by_name["accuracy"]["observed"] == 0.5 and by_name["safe"]["level"] == "nominal"
        assert by_name["safe"]["observed"] == 0.5


def test_erasure_removes_items_and_reviews(database, principal):
    (a,) = _users(database, principal, "viewer")
    _logs(database, principal, 2)
    q = _queue(database, principal, [a])
    with database.write() as s:
        item = aq.next_item(s, a, q["id"])["item"]
        aq.submit(s, a, q["id"], item["id"], {"accuracy": 4, "safe": 1})
    erasure.erase_one(database, principal, str(item["request"]["number"]))
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(QueueItem).where(QueueItem.id == item["id"])) == 0
        assert s.scalar(select(func.count()).select_from(Review).where(Review.item_id == item["id"])) == 0
        assert s.scalar(select(func.count()).select_from(QueueMark).where(QueueMark.item_id == item["id"])) == 0
        assert aq.get(s, principal, q["id"])["counts"] == {"waiting": 1, "done": 0}


def test_score_configs_give_the_kinds_values_and_the_combined_score(database, principal):
    """A queue's score named like a score config takes its type: boolean -> yes/no stored 100/0,
    categorical -> its labels; a pair of reviews combines to the lower median (a value the config
    allows), never a mean it would refuse."""
    a, b = _users(database, principal, "viewer", "viewer")
    _logs(database, principal, 1)
    with database.write() as s:
        score_configs.create(s, principal, {"name": "grade", "type": "categorical", "rubric": "段階評価", "categories": [
            {"value": 1, "label": "誤り"}, {"value": 2, "label": "不十分"}, {"value": 3, "label": "適切"}]})
        score_configs.create(s, principal, {"name": "passes", "type": "boolean", "comment_required_below": 50})
    q = _queue(database, principal, [a, b], reviews_per_item=2, scores=[{"name": "grade"}, {"name": "passes"}])
    kinds = {sc["name"]: (sc["kind"], sc["rubric"]) for sc in q["scores"]}
    assert kinds == {"grade": ("categorical", "段階評価"), "passes": ("yes_no", "")}
    with database.write() as s:
        item = aq.next_item(s, a, q["id"])["item"]["id"]
        with pytest.raises(InvalidInput) as no_comment:  # the config wants a comment below 50
            aq.submit(s, a, q["id"], item, {"grade": 3, "passes": "n"})
        assert no_comment.value.key == "errors.scores.comment_required"
        aq.submit(s, a, q["id"], item, {"grade": "適切", "passes": "n"}, comment="禁忌の記載なし")
        aq.submit(s, b, q["id"], item, {"grade": 2, "passes": "y"})
    with database.read() as s:
        request_id = s.scalar(select(QueueItem.request_id).where(QueueItem.id == item))
        rows = {r.name: r.value for r in s.scalars(select(Score).where(Score.request_id == request_id))}
    assert rows == {"grade": 2.0, "passes": 0.0}
