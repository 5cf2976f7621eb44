"""20 clients publishing versions of one prompt at once get 1..N with no gap or duplicate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from promptyard.services import prompts, versions


def spec(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"variant {i} {{q}}"}], "commit_message": f"writer {i}"}


def test_concurrent_publishes_number_without_gaps(database, principal):
    with database.write() as s:
        pid = prompts.create(s, principal, name="contended").id

    def publish(i: int) -> int:
        with database.write() as s:
            return versions.publish(s, principal, pid, spec(i))[0].number

    with ThreadPoolExecutor(max_workers=20) as pool:
        numbers = list(pool.map(publish, range(60)))
    assert sorted(numbers) == list(range(1, 61))
    with database.read() as s:
        stored = [v.number for v in versions.list_versions(s, principal, pid)]
    assert sorted(stored) == list(range(1, 61))


def test_concurrent_label_moves_are_all_recorded(database, principal):
    from promptyard.services import labels

    with database.write() as s:
        pid = prompts.create(s, principal, name="labels").id
        for i in range(5):
            versions.publish(s, principal, pid, spec(i))

    def move(i: int) -> None:
        with database.write() as s:
            labels.move(s, principal, pid, "staging", version=i % 5 + 1, reason=f"move {i}")

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(move, range(30)))
    with database.read() as s:
        history = labels.history(s, principal, pid, "staging")
    # Every recorded move starts where the previous one ended: no lost update.
    chain = list(reversed(history))
    assert chain[0].from_version is None
    assert all(a.to_version == b.from_version for a, b in zip(chain, chain[1:]))


def test_concurrent_ingest_and_scoring_keep_running_totals_exact(database, principal):
    """16 writers ingest overlapping batches (replays included) over three versions and re-score
    each other's logs at once: no deadlock, nothing lost, and the running totals (per version, and
    the experiment's per-unit sums) equal the statistics computed from the logs."""
    import random
    import uuid
    from datetime import timedelta

    from promptyard.domain import query
    from promptyard.services import experiments, log_stats, request_annotations, request_ingest
    from promptyard.store.types import utcnow

    with database.write() as s:
        for i in range(3):
            pid = versions.publish_by_name(s, principal, name="busy", spec=spec(i))[0].prompt_id
        experiments.set_policy(s, principal, pid, "production", reason="three-way", policy={
            "sticky_key": "user", "split": [{"version": v, "weight": w} for v, w in ((1, 34), (2, 33), (3, 33))]})
    ids = [str(uuid.uuid4()) for _ in range(240)]
    start = utcnow()

    def log(i: int) -> dict:
        return {"id": ids[i], "model": "gpt-4o", "prompt": {"name": "busy", "version": 1 + i % 3},
                "routing": {"label": "production", "rule": "split", "unit": f"u{i % 30}"},
                "start_time": start.isoformat(), "end_time": (start + timedelta(seconds=1 + i % 7)).isoformat(),
                "usage": {"input_tokens": i, "output_tokens": 1}, "scores": [{"name": "q", "value": i % 101}]}

    def writer(w: int) -> None:
        rng = random.Random(w)
        for start in (w * 15, (w * 15 + 7) % 240):  # the second batch overlaps another writer's
            with database.write() as s:
                request_ingest.ingest(s, principal, [log(i % 240) for i in range(start, start + 15)], max_batch=100)
        for i in rng.sample(range(w * 15), min(10, w * 15)):
            with database.write() as s:
                request_annotations.annotate(s, principal, ids[i], request_annotations.SCORES,
                                             {"name": "q", "value": rng.randrange(101)}, grace_s=60)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(writer, range(16)))
    with database.read() as s:
        totals = log_stats.per_version(s, principal, prompt="busy")
        exact = log_stats.per_version(s, principal, prompt="busy", node=query.parse('status = "ok"'))
        arms = experiments.view(s, principal, pid, "production")["rules"][0]["arms"]
    assert sum(t["count"] for t in totals) == 240
    for t, e in zip(totals, exact, strict=True):
        assert (t["version"], t["count"], t["tokens_total"]) == (e["version"], e["count"], e["tokens_total"])
        assert t["scores"]["q"]["n"] == e["scores"]["q"]["n"]
        assert abs(t["scores"]["q"]["mean"] - e["scores"]["q"]["mean"]) < 1e-9
    for arm, e in zip(arms, exact, strict=True):
        assert (arm["version"], arm["requests"], arm["units"]) == (e["version"], e["count"], 10)
        assert arm["scores"]["q"]["n"] == e["scores"]["q"]["n"]
        assert abs(arm["scores"]["q"]["mean"] - e["scores"]["q"]["mean"]) < 1e-9
