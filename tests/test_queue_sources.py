"""Annotation queues made from a dataset version or an evaluation run (services/queue_sources.py,
issue 17) on both databases: a dataset's source logs (items without one counted), a run's outputs
added as the run stores them (some variants only, sampled with every variant kept), the reviewers'
scores on the outputs' logs, the run comparison over them, judge-vs-human agreement, and the checks."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from promptyard.domain import agreement
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import annotation_queues as aq
from promptyard.services import datasets, evaluations, keys, request_ingest, users
from promptyard.services.evaluation_runner import Runner
from promptyard.store.models import EvaluationItem, QueueItem, Request, Score
from tests.eval_support import ENGINE, connection, create, dataset, prompt
from tests.support import log

# The fake LLM answers "echo: <the prompt>"; the judge's prompt is the output itself, so its answer
# ends with the dataset item's "Score: n" and the judge gives n on 1-5 (0-100: 100, 75, 25).
ITEMS = [{"input": {"q": "Score: 5"}}, {"input": {"q": "Score: 4"}}, {"input": {"q": "Score: 2"}}]
HUMAN = {"name": "helpful_human", "kind": "scale5", "judge": "helpful"}


def _member(database, p) -> int:  # noqa: ANN001
    with database.write() as s:
        return users.create_user(s, p.workspace_id, email=f"r-{uuid.uuid4().hex[:8]}@example.com",
                                 password="correct horse battery", role="editor")


def _run(database, p, fake_llm, *, start: bool = False) -> dict:  # noqa: ANN001
    conn = connection(database, p, fake_llm)
    data = dataset(database, p, ITEMS)
    name, judge = f"qa-{uuid.uuid4().hex[:6]}", f"j-{uuid.uuid4().hex[:6]}"
    prompt(database, p, name, "{q}", "Answer: {q}")
    prompt(database, p, judge, "{output}")
    run = create(database, p, {"dataset": data, "provider": conn, "judges": [{"prompt": judge, "name": "helpful"}],
                               "scorers": [{"type": "length", "max": 100}],
                               "variants": [{"prompt": name, "version": 1}, {"prompt": name, "version": 2}]})
    if start:
        Runner(database, ENGINE).run_until_idle()
    return run


def _queue(database, p, source: dict, scores=None, **kw) -> dict:  # noqa: ANN001
    with database.write() as s:
        return aq.create(s, p, {"name": f"q-{uuid.uuid4().hex[:6]}", "source": source,
                                "scores": scores or [HUMAN]} | kw)


def _items(database, queue_id: int) -> list[int]:  # noqa: ANN001
    with database.read() as s:
        return list(s.scalars(select(QueueItem.request_id).where(QueueItem.queue_id == queue_id).order_by(QueueItem.id)))


def _outputs(database, run_id: int) -> dict[int, tuple[str, int]]:  # noqa: ANN001
    """request id -> (variant, position) of a run's outputs."""
    with database.read() as s:
        return {i.request_id: (i.variant, i.position) for i in s.scalars(
            select(EvaluationItem).where(EvaluationItem.run_id == run_id, EvaluationItem.status == "done"))}


def test_a_runs_queue_fills_as_the_run_stores_outputs_and_its_reviews_land_on_them(database, principal, fake_llm):
    run = _run(database, principal, fake_llm)
    reviewer = _member(database, principal)
    q = _queue(database, principal, {"kind": "evaluation", "run": run["id"], "variants": [2]}, reviewers=[reviewer])
    v2 = run["variants"][1]["key"]
    assert q["items"] == 0 and q["source"] == {"kind": "evaluation", "ref": str(run["id"]), "run": run["id"],
                                               "variants": [v2]}
    assert q["scores"][0]["judge"] == "helpful"
    Runner(database, ENGINE).run_until_idle()
    outputs = _outputs(database, run["id"])
    items = _items(database, q["id"])
    assert len(outputs) == 6 and sorted(items) == sorted(r for r, (v, _) in outputs.items() if v == v2)
    # The reviewer scores the three outputs; the scores land on the outputs' logs as human scores.
    given = {5: 5, 4: 4, 2: 3}  # the judge's n -> the reviewer's value
    with database.write() as s:
        for _ in range(3):
            it = aq.next_item(s, principal, q["id"], reviewer=reviewer)["item"]
            n = int(it["request"]["input"]["messages"][0]["content"].rsplit(" ", 1)[1])
            aq.submit(s, principal, q["id"], it["id"], {"helpful_human": given[n]}, reviewer=reviewer)
    with database.read() as s:
        human = {r.request_id: r for r in s.scalars(select(Score).where(Score.name == "helpful_human",
                                                                        Score.request_id.in_(items)))}
        judged = {r.request_id: r.source for r in s.scalars(select(Score).where(Score.name == "helpful",
                                                                                Score.request_id.in_(items)))}
        over = aq.overview(s, principal, q["id"])
    assert {r.source for r in human.values()} == {"human"} and sorted(r.value for r in human.values()) == [3, 4, 5]
    assert set(judged.values()) == {"judge"}  # the judge's own score stays on the log beside the reviewer's
    # Judge against reviewer: the judge's 100 / 75 / 25 on 1-5 are 5 / 4 / 2; the reviewer gave 5 / 4 / 3.
    [ja] = over["judge_agreement"]
    expected = agreement.krippendorff_alpha([[5, 5], [4, 4], [2, 3]], level="ordinal")
    assert (ja["name"], ja["judge"], ja["level"], ja["items"], ja["judged"]) == ("helpful_human", "helpful", "ordinal", 3, 3)
    assert ja["alpha"] == pytest.approx(expected.value) and ja["observed"] == pytest.approx(2 / 3)
    assert 0 < ja["alpha"] < 1


def test_a_queue_made_after_the_run_takes_its_outputs_and_the_comparison_uses_the_reviews(database, principal,
                                                                                         fake_llm):
    run = _run(database, principal, fake_llm, start=True)
    reviewer = _member(database, principal)
    q = _queue(database, principal, {"kind": "evaluation", "ref": str(run["id"])}, reviewers=[reviewer])
    assert q["items"] == 6
    outputs = _outputs(database, run["id"])
    with database.write() as s:
        while (it := aq.next_item(s, principal, q["id"], reviewer=reviewer)["item"]) is not None:
            variant, position = outputs[it["request"]["number"]]
            value = 3 if variant == run["variants"][0]["key"] else 3 + position % 2  # v2 is better on odd items
            aq.submit(s, principal, q["id"], it["id"], {"helpful_human": value}, reviewer=reviewer)
    v1, v2 = (v["key"] for v in run["variants"])
    with database.read() as s:
        result = evaluations.compare(s, principal, run["id"], run["id"], base_variant=v1, candidate_variant=v2)
    human = result["scores"]["helpful_human"]
    assert human["source"] == "human" and human["n"] == 3 and human["base_mean"] == 3
    assert human["mean_diff"] == pytest.approx(sum(p % 2 for p in {p for _, p in outputs.values()}) / 3)
    assert "helpful" in result["scores"] and "source" not in result["scores"]["helpful"]


def test_sampling_a_run_keeps_every_variant(database, principal, fake_llm):
    run = _run(database, principal, fake_llm)
    following = _queue(database, principal, {"kind": "evaluation", "run": run["id"]}, sampling={"rate": 0.01})
    Runner(database, ENGINE).run_until_idle()
    late = _queue(database, principal, {"kind": "evaluation", "run": run["id"]}, sampling={"rate": 0.01})
    outputs = _outputs(database, run["id"])
    for q in (following, late):
        items = _items(database, q["id"])
        assert {outputs[r][0] for r in items} == {v["key"] for v in run["variants"]}, q
        assert len(items) < 6
    everything = _queue(database, principal, {"kind": "evaluation", "run": run["id"]}, sampling={"rate": 1})
    assert everything["items"] == 6


def test_a_datasets_queue_reviews_its_source_logs_and_counts_the_items_without_one(database, principal):
    with database.write() as s:
        request_ingest.ingest(s, principal, [log(id=f"src-{i}-{principal.workspace_id}", prompt_name=None,
                                                 start_time=f"2026-11-20T10:00:0{i}Z", end_time=None)
                                             for i in range(4)], max_batch=10)
        ids = list(s.scalars(select(Request.id).where(Request.workspace_id == principal.workspace_id)
                             .order_by(Request.id)))
        made = datasets.create(s, principal, name=f"set-{uuid.uuid4().hex[:6]}")
        datasets.from_requests(s, principal, made["id"], ids[:3])
        datasets.add_items(s, principal, made["id"], [{"input": {"q": "typed by hand"}}, {"input": {"q": "another"}}])
    q = _queue(database, principal, {"kind": "dataset", "dataset": made["id"]}, scores=[{"name": "ok", "kind": "yes_no"}])
    assert q["items"] == 3 and sorted(_items(database, q["id"])) == ids[:3]
    assert q["source"] == {"kind": "dataset", "ref": str(made["id"]), "dataset": made["id"], "version": 2,
                           "without_log": 2}
    first = _queue(database, principal, {"kind": "dataset", "dataset": made["id"], "version": 1}, limit=2,
                   scores=[{"name": "ok", "kind": "yes_no"}])
    assert first["items"] == 2 and first["source"]["without_log"] == 0
    sampled = _queue(database, principal, {"kind": "dataset", "ref": str(made["id"])}, sampling={"rate": 0.1},
                     scores=[{"name": "ok", "kind": "yes_no"}])
    assert sampled["items"] == 1  # one stratum (no prompt version): at least one


def test_unknown_or_foreign_sources_and_bad_judges_are_refused(database, principal, fake_llm):
    run = _run(database, principal, fake_llm)
    with database.write() as s:
        other_ws, _ = keys.ensure_workspace(s, f"ws-{uuid.uuid4().hex[:10]}")
    stranger = keys.system_principal(other_ws, actor="stranger")
    cases = [
        (stranger, {"kind": "evaluation", "run": run["id"]}, [HUMAN], NotFound, "errors.evaluations.not_found"),
        (principal, {"kind": "evaluation", "run": 10**9}, [HUMAN], NotFound, "errors.evaluations.not_found"),
        (principal, {"kind": "dataset", "dataset": 10**9}, [HUMAN], NotFound, "errors.datasets.not_found"),
        (stranger, {"kind": "dataset", "dataset": run["dataset"]}, [{"name": "ok"}], NotFound,
         "errors.datasets.not_found"),
        (principal, {"kind": "dataset", "dataset": run["dataset"], "version": 7}, [{"name": "ok"}], NotFound,
         "errors.datasets.no_such_version"),
        (principal, {"kind": "dataset", "ref": "first"}, [{"name": "ok"}], InvalidInput, "errors.queues.source_id"),
        (principal, {"kind": "evaluation", "run": run["id"], "variants": [9]}, [HUMAN], InvalidInput,
         "errors.queues.variant"),
        (principal, {"kind": "evaluation", "run": run["id"]}, [{"name": "helpful"}], InvalidInput,
         "errors.queues.score_of_run"),
        (principal, {"kind": "evaluation", "run": run["id"]}, [HUMAN | {"judge": "nope"}], InvalidInput,
         "errors.queues.judge"),
        (principal, {"kind": "filter", "ref": "status = 'ok'"}, [HUMAN], InvalidInput, "errors.queues.judge_needs_run"),
    ]
    for who, source, scores, error, key in cases:
        with pytest.raises(error) as caught, database.write() as s:
            aq.create(s, who, {"name": "x", "source": source, "scores": scores})
        assert caught.value.key == key, (source, caught.value.key)
    with pytest.raises(InvalidInput) as caught, database.write() as s:
        aq.create(s, principal, {"name": "x", "source": {"kind": "evaluation", "run": run["id"]}, "scores": [HUMAN],
                                 "sampling": {"rate": 0.5, "daily": True}})
    assert caught.value.key == "errors.queues.daily_needs_filter"


def test_a_closed_queue_takes_the_outputs_stored_meanwhile_when_opened_again(database, principal, fake_llm):
    run = _run(database, principal, fake_llm)
    q = _queue(database, principal, {"kind": "evaluation", "run": run["id"]})
    with database.write() as s:
        aq.set_status(s, principal, q["id"], "closed")
    Runner(database, ENGINE).run_until_idle()
    assert _items(database, q["id"]) == []
    with database.write() as s:
        assert aq.set_status(s, principal, q["id"], "open")["counts"] == {"waiting": 6, "done": 0}


def test_queues_made_while_the_run_stores_outputs_miss_none(database, principal, fake_llm):
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, [{"input": {"q": f"質問 {i}"}} for i in range(40)])
    name = f"qa-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{q}")
    run = create(database, principal, {"dataset": data, "provider": conn, "model": "slow-30", "concurrency": 8,
                                       "variants": [{"prompt": name}], "scorers": [{"type": "length", "max": 100}]})
    runner = Runner(database, ENGINE, workers=8, poll_s=0.02)
    runner.start()
    made = []
    try:
        while True:  # a queue made now and then while outputs are being stored
            made.append(_queue(database, principal, {"kind": "evaluation", "run": run["id"]}, scores=[{"name": "ok"}]))
            with database.read() as s:
                if evaluations.get(s, principal, run["id"])["status"] not in evaluations.ACTIVE:
                    break
    finally:
        runner.stop()
    outputs = set(_outputs(database, run["id"]))
    # (How many outputs each queue found at its creation depends on the machine's load: the run's writer
    # may store many in one transaction. Whatever it found, the rest must have followed.)
    assert len(outputs) == 40 and len(made) >= 2
    for q in made:
        assert set(_items(database, q["id"])) == outputs, q["items"]
