"""The query planner (store/query_plan.py) never changes an answer: on random logs (metadata,
scores, tags, times with many ties, Japanese keys and values) and random filters (AND, OR, NOT,
every operator), each plan it can choose, forced in turn, pages through the same ids in the same
order as one plain scan of the filter, both ways, and counts the same matches. Both databases."""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from promptyard import catalogue
from promptyard.domain import query
from promptyard.domain.span_records import Span
from promptyard.services import keys, otlp_ingest, request_ingest, request_reads
from promptyard.store import query_plan
from promptyard.store.models import Request
from promptyard.store.query_sql import where
from promptyard.store.types import utcnow

META = {"env": ["prod", "dev", "本番"], "user_id": ["u1", "u2", "u007", "佐藤"], "部署": ["薬剤部", "内科", "x"]}
SCORES = ["q", "正確さ"]
TAGS = ["beta", "日本語", "gold"]
TEXTS = ["この薬の用量は?", "dose of aspirin", "用法と用量", "hello"]
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
LOGS = 160


def _logs(rng: random.Random) -> list[dict]:
    out = []
    for i in range(LOGS):
        meta = {k: rng.choice(v) for k, v in META.items() if rng.random() < 0.7}
        out.append({
            "id": f"plan-{i}-{uuid.uuid4().hex[:6]}", "model": rng.choice(["gpt-4o", "claude"]),
            "start_time": (T0 + timedelta(minutes=rng.randrange(25))).isoformat(),  # ties: ~6 logs a minute
            "input": rng.choice(TEXTS), "output": rng.choice(TEXTS), "latency_ms": rng.randrange(50, 900),
            "metadata": meta, "tags": rng.sample(TAGS, rng.randrange(len(TAGS) + 1)),
            "scores": [{"name": n, "value": rng.randrange(101)} for n in SCORES if rng.random() < 0.6]})
    return out


TRACE_IDS = [f"{0x7ace0 + i:032x}" for i in range(8)]
ROOTS = ["rag.answer", "faq", "回答"]
TOP_K = [1, 3, 5, 8]


def _spans(rng: random.Random) -> list[Span]:
    """Traces of a root, a retrieval span and 1-3 LLM spans (each LLM span a log, its time among
    the other logs'); the same trace ids in both workspaces."""
    out = []
    for n, trace_id in enumerate(TRACE_IDS):
        t = int((T0 + timedelta(minutes=rng.randrange(25))).timestamp() * 1e9)
        root = f"{n:08x}00000000"
        out.append(Span(trace_id, root, None, rng.choice(ROOTS), "server", t, t + 10**9, {}, [], "ok", ""))
        out.append(Span(trace_id, f"{n:08x}00000001", root, "retrieve", "internal", t, t + 10**8,
                        {"retrieval.top_k": rng.choice(TOP_K), "db.system": rng.choice(["qdrant", "pg"])}, [], "ok", ""))
        for i in range(rng.randrange(1, 4)):
            out.append(Span(trace_id, f"{n:08x}0000010{i}", root, "chat", "client", t, t + 5 * 10**8,
                            {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                             "gen_ai.request.model": rng.choice(["gpt-4o", "claude"])}, [], "ok", ""))
    return out


@pytest.fixture(scope="module")
def seeded(database):  # noqa: ANN001, ANN201
    """The same random logs (some of them LLM spans of traces) in two workspaces: a plan that
    leaks the other workspace's ids fails."""
    logs, spans = _logs(random.Random(15)), _spans(random.Random(16))
    principals = []
    for _ in range(2):
        with database.write() as s:
            ws, _ = keys.ensure_workspace(s, f"plan-{uuid.uuid4().hex[:8]}")
            p = keys.system_principal(ws)
            result = request_ingest.ingest(s, p, [dict(x, id=f"{x['id']}-{ws}") for x in logs], max_batch=1000)
            traced = otlp_ingest.ingest(s, p, spans, max_batch=1000)
        assert not result["errors"], result["errors"][:3]
        assert traced["rejected"] == 0 and traced["logs"] > len(TRACE_IDS), traced
        principals.append(p)
    return database, principals[0]


def _cond() -> st.SearchStrategy:
    key = st.sampled_from(sorted(META))
    meta = st.one_of(
        st.builds(lambda k, op, v: query.Cond("metadata", k, op, v), key, st.sampled_from(["=", "!=", "~"]),
                  st.sampled_from([v for vs in META.values() for v in vs] + ["0", "薬"])),
        st.builds(lambda k, op, vs: query.Cond("metadata", k, op, tuple(vs)), key, st.sampled_from(["in", "not_in"]),
                  st.lists(st.sampled_from(META["user_id"] + META["env"]), min_size=1, max_size=3, unique=True)),
        st.builds(lambda k, op: query.Cond("metadata", k, op), key, st.sampled_from(["exists", "missing"])))
    score = st.one_of(
        st.builds(lambda n, op, v: query.Cond("score", n, op, v), st.sampled_from(SCORES),
                  st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), st.integers(0, 100).map(float)),
        st.builds(lambda n, op: query.Cond("score", n, op), st.sampled_from(SCORES + ["none"]),
                  st.sampled_from(["exists", "missing"])))
    tag = st.one_of(
        st.builds(lambda op, v: query.Cond("tag", None, op, v), st.sampled_from(["=", "!="]), st.sampled_from(TAGS)),
        st.builds(lambda op, vs: query.Cond("tag", None, op, tuple(vs)), st.sampled_from(["in", "not_in"]),
                  st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True)),
        st.builds(lambda op: query.Cond("tag", None, op), st.sampled_from(["exists", "missing"])))
    column = st.one_of(
        st.builds(lambda v: query.Cond("model", None, "=", v), st.sampled_from(["gpt-4o", "claude"])),
        st.builds(lambda op, v: query.Cond("latency", None, op, float(v)), st.sampled_from(["<", ">="]),
                  st.integers(50, 900)),
        st.builds(lambda m: query.Cond("time", None, ">=", T0 + timedelta(minutes=m)), st.integers(0, 25)),
        # "と用法": every gram in "用法と用量", the query not (SQLite's index gives a superset there)
        st.builds(lambda f, v: query.Cond(f, None, "~", v), st.sampled_from(["text", "input", "output"]),
                  st.sampled_from(["用量", "dose", "薬の", "と用法"])))
    trace = st.one_of(
        st.builds(lambda t: query.Cond("trace_id", None, "=", t), st.sampled_from(TRACE_IDS + ["f" * 32])),
        st.builds(lambda op, ts: query.Cond("trace_id", None, op, tuple(ts)), st.sampled_from(["in", "not_in"]),
                  st.lists(st.sampled_from(TRACE_IDS), min_size=1, max_size=3, unique=True)),
        st.builds(lambda op: query.Cond("span_id", None, op), st.sampled_from(["exists", "missing"])),
        st.builds(lambda op, v: query.Cond("trace.name", None, op, v), st.sampled_from(["=", "!=", "~"]),
                  st.sampled_from(ROOTS)),
        st.builds(lambda op, v: query.Cond("span.name", None, op, v), st.sampled_from(["=", "!="]),
                  st.sampled_from(["retrieve", "chat", "nope"])),
        st.builds(lambda op, v: query.Cond("span.attr", "retrieval.top_k", op, v),
                  st.sampled_from(["=", "!=", "<", ">="]), st.sampled_from(TOP_K)),
        st.builds(lambda v: query.Cond("span.attr", "db.system", "=", v), st.sampled_from(["qdrant", "pg"])))
    return st.one_of(meta, meta, score, tag, column, trace)


FILTERS = st.recursive(_cond(), lambda inner: st.one_of(
    st.lists(inner, min_size=2, max_size=4).map(lambda xs: query.And(tuple(xs))),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: query.Or(tuple(xs))),
    inner.map(query.Not)), max_leaves=6)


def _scan(s, p, node) -> list[int]:  # noqa: ANN001
    """The plain scan: every match of the filter, newest first, in one statement."""
    return list(s.scalars(select(Request.id).where(Request.workspace_id == p.workspace_id, where(node, utcnow()))
                          .order_by(Request.start_time.desc(), Request.id.desc())))


def _pages(s, p, node, plan, limit) -> list[list[int]]:  # noqa: ANN001
    pages, after = [], None
    while True:
        found = request_reads.browse(s, p, node=node, limit=limit, after=after, plan=plan)
        pages.append([i["number"] for i in found["items"]])
        after = found["next"]
        if not after:
            return pages


def _back(s, p, node, plan, limit, pages) -> None:  # noqa: ANN001
    """From the last page, `before` cursors lead back through the same pages to the first."""
    if len(pages) < 2:
        return
    found = request_reads.browse(s, p, node=node, limit=limit, after=None, plan=plan)
    cursor = None
    for page in pages[:-1]:  # forward again to the last page, keeping the cursor that reached it
        assert [i["number"] for i in found["items"]] == page
        cursor = found["next"]
        found = request_reads.browse(s, p, node=node, limit=limit, after=cursor, plan=plan)
    for page in reversed(pages[:-1]):
        found = request_reads.browse(s, p, node=node, limit=limit, before=found["prev"], plan=plan)
        assert [i["number"] for i in found["items"]] == page


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=FILTERS, limit=st.integers(3, 40), backwards=st.booleans())
def test_every_plan_pages_like_a_plain_scan(seeded, node, limit, backwards):  # noqa: ANN001
    database, p = seeded
    node = query.parse(query.to_text(node))  # what a client can send
    with database.read() as s:
        expected = _scan(s, p, node)
        plans = ["walk", None, *range(len(query_plan.candidates(node, p.workspace_id)))]
        for plan in plans:
            pages = _pages(s, p, node, plan, limit)
            assert [i for page in pages for i in page] == expected, (query.to_text(node), plan)
            assert all(len(page) == limit for page in pages[:-1]), plan
            found = request_reads.browse(s, p, node=node, limit=limit, count=True, plan=plan)
            assert found["matching"] == {"count": len(expected), "more": False}, plan
            if backwards:
                _back(s, p, node, plan, limit, pages)


def test_only_and_ed_positive_child_and_text_conditions_drive(seeded):  # noqa: ANN001
    _, p = seeded
    node = query.parse('metadata.env = "prod" AND (tag = "beta" OR score.q > 5) AND NOT metadata.user_id = "u1" '
                       'AND metadata.部署 != "x" AND score.q missing AND model = "claude" AND text ~ "用量" '
                       'AND metadata.env ~ "pro" AND (tag in ["gold"] AND score.正確さ >= 50)')
    driving = [(c.field, c.key, c.op) for c in (o.cond for o in query_plan.candidates(node, p.workspace_id))]
    assert driving == [("metadata", "env", "="), ("text", None, "~"), ("tag", None, "in"), ("score", "正確さ", ">=")]
    traced = query.parse(f'trace_id = "{TRACE_IDS[0]}" AND span.attr.retrieval.top_k >= 3 AND trace.name = "faq" '
                         f'AND trace_id != "{TRACE_IDS[1]}"')
    assert [(o.cond.field, o.cond.op) for o in query_plan.candidates(traced, p.workspace_id)] == [("trace_id", "=")]


def test_a_small_set_drives_and_a_broad_filter_walks(database):  # noqa: ANN001
    """400 logs, all tagged, 5 of them of one user: the user's 5 drive (5 rows read against the
    ~400 a walk would test), the tag walks (every log matches: a page fills at once)."""
    with database.write() as s:
        ws, _ = keys.ensure_workspace(s, f"plan-{uuid.uuid4().hex[:8]}")
        p = keys.system_principal(ws)
        logs = [{"id": f"drive-{i}-{ws}", "model": "m", "tags": ["beta"],
                 "metadata": {"user_id": "rare" if i % 80 == 0 else f"u{i % 7}"},
                 "start_time": (T0 + timedelta(seconds=i)).isoformat()} for i in range(400)]
        assert not request_ingest.ingest(s, p, logs, max_batch=1000)["errors"]
    with database.read() as s:
        rare = query_plan.choose(s, query.parse('tag exists AND metadata.user_id = "rare"'), p.workspace_id, limit=50)
        assert rare.driver is not None and rare.driver.cond.key == "user_id" and rare.estimates == (100, 5)
        broad = query_plan.choose(s, query.parse('tag = "beta" AND metadata.user_id exists'), p.workspace_id, limit=50)
        assert broad.driver is None and broad.estimates == (400, 400)
        assert query_plan.choose(s, query.parse('model = "claude"'), p.workspace_id, limit=50).driver is None


def test_the_count_is_exact_up_to_its_bound(seeded):  # noqa: ANN001
    database, p = seeded
    node = query.parse("tag exists")
    with database.read() as s:
        n = len(_scan(s, p, node))
        plan = query_plan.counting(s, query_plan.choose(s, node, p.workspace_id, limit=10))
        ids = plan.ids(utcnow()).where(Request.workspace_id == p.workspace_id)
        assert query_plan.count(s, ids, bound=n) == (n, False)
        assert query_plan.count(s, ids, bound=n - 1) == (n - 1, True)
        assert request_reads.browse(s, p, node=node, limit=5, count=True)["matching"] == {"count": n, "more": False}


def test_a_count_reads_the_smallest_set_and_each_id_once(database):  # noqa: ANN001
    """100 of 900 logs carry both tags: the tag set (200 entries, each id twice) is smaller than
    the env set (900): the count reads it and counts each log once."""
    with database.write() as s:
        ws, _ = keys.ensure_workspace(s, f"plan-{uuid.uuid4().hex[:8]}")
        p = keys.system_principal(ws)
        logs = [{"id": f"count-{i}-{ws}", "model": "m", "tags": ["beta", "gold"] if i % 9 == 0 else [],
                 "metadata": {"env": "prod" if i % 2 else "dev"},
                 "start_time": (T0 + timedelta(seconds=i)).isoformat()} for i in range(900)]
        assert not request_ingest.ingest(s, p, logs, max_batch=1000)["errors"]
    node = query.parse('metadata.env exists AND tag in ["beta", "gold"]')
    with database.read() as s:
        counting = query_plan.counting(s, query_plan.choose(s, node, p.workspace_id, limit=50))
        assert counting.driver is not None and counting.driver.cond.field == "tag"
        assert len(_scan(s, p, node)) == 100
        ids = counting.ids(utcnow()).where(Request.workspace_id == p.workspace_id)
        assert query_plan.count(s, ids) == (100, False)
        found = request_reads.browse(s, p, node=node, limit=5, count=True)
        assert found["matching"] == {"count": 100, "more": False}


def test_the_api_and_the_ui_list_say_how_many_match(api, ui):  # noqa: ANN001, F811
    logs = [{"id": str(uuid.uuid4()), "model": "m", "metadata": {"部署": "薬剤部" if i % 3 else "内科"},
             "start_time": (T0 + timedelta(seconds=i)).isoformat()} for i in range(7)]
    assert api.post("/api/v1/requests", json={"requests": logs}).status_code == 200
    q = 'metadata.部署 = "薬剤部"'
    page = api.get("/api/v1/requests", params={"filter": q, "limit": 2}).json()
    assert len(page["items"]) == 2 and page["matching"] == {"count": 4, "more": False}
    again = api.post("/api/v1/requests/search", json={"filter": q, "limit": 2, "cursor": page["next_cursor"]}).json()
    assert again["matching"] == {"count": 4, "more": False} and again["items"][0]["number"] < page["items"][-1]["number"]
    assert api.get("/api/v1/requests").json()["matching"] == {"count": 7, "more": False}
    assert re.search(r'id="matching">4 matching<', ui("viewer").get("/ui/requests", params={"q": q}).text)
    assert re.search(r'id="matching">該当 7 件<', ui("viewer", lang="ja").get("/ui/requests").text)
    assert catalogue.translate("en", "requests.matching", n=1234) == "1,234 matching"
    assert catalogue.translate("en", "requests.matching_more", n=10_000) == "10,000+ matching"
    assert catalogue.translate("ja", "requests.matching", n=1234) == "該当 1,234 件"
    assert catalogue.translate("ja", "requests.matching_more", n=10_000) == "10,000 件以上"
