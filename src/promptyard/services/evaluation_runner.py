"""The background workers that execute evaluation runs (services/evaluations.py holds the runs themselves).

One `Runner` per server process (started by the app's lifespan, web/app.py): a dispatcher thread claims
pending items of active runs, at most each run's `concurrency` in flight in this process and `workers`
in all, and hands them to a thread pool. It claims half a run's concurrency ahead (in batches, refilled
when half of that is left), and a worker that finishes an item takes the run's next one claimed ahead
itself, without waiting for the dispatcher or a claim transaction. A run that stops being active
(cancelled) has the items claimed ahead cancelled with it at the dispatcher's next pass (it passes at
every finished item and every `poll_s`; an item may still start in between, as with a claim made just
before the cancel).
Each item:

1. is claimed in a short write transaction: status running, attempts + 1, claimed_at now (its lease). On
   PostgreSQL the claim takes `FOR UPDATE SKIP LOCKED`, so several servers share a run without taking the
   same item; SQLite admits one writer at a time (BEGIN IMMEDIATE), so its claims are serial anyway;
2. is rendered (the variant's prompt version or draft with the item's variables; an item given as
   messages is sent as they are, after the template's own messages) and sent through
   services/llm_calls.complete with the run's per-item timeout; that call retries connection errors,
   429 and 5xx with back-off itself. A call that still fails goes back to pending, claimable again after a
   back-off, until `max_attempts`; then the item fails with the reason;
3. is scored: the deterministic scorers, then each judge (its prompt rendered with input, output and
   expected, sent through the same connection, its answer parsed by domain/judges.py); a scorer or judge
   that cannot score records its reason on the item, and the other scores still count;
4. is stored by a writer thread that gathers what finished meanwhile into one write transaction (one
   ingest call for up to WRITE_BATCH outputs), each only if its claim still holds (the same attempt, still
   running): the output as a request log through the normal ingest (client id `eval-<run>-<item>`, so a replay stores
   nothing twice; metadata promptyard.eval_run and promptyard.eval_variant, tag `evaluation`), its scores on
   that log (source rule for scorers, judge for judges, author `judge:<prompt>@v<n>/<model>`), the item done,
   the run's counts, cost and tokens, and the output added to the annotation queues that follow the run
   (services/queue_sources.py).

A restart loses only the items in flight or claimed ahead: their lease runs out (twice the run's timeout
for the call and each judge - one item's time waiting, one running - plus `lease_margin_s`) and they are claimed again; an item's log and scores are written in the
same transaction as its "done", so every item is done exactly once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from promptyard import log_scrub
from promptyard.domain import judges, scorers, templates
from promptyard.domain.logs import text_of
from promptyard.domain.records import Principal
from promptyard.errors import PromptyardError, Unavailable
from promptyard.services import evaluations, keys, llm_calls, queue_sources, request_ingest
from promptyard.services.render_pool import TemplateEngine
from promptyard.store import bulk
from promptyard.store.db import Database
from promptyard.store.models import DatasetItem, EvaluationItem, EvaluationRun, PromptVersion, Request
from promptyard.store.types import utcnow

log = logging.getLogger("promptyard.evaluations")

WRITE_BATCH = 500  # finished items stored in one transaction at most
WRITE_GATHER_S = 0.02  # how long the writer waits for more after the first
BACKOFF_S = (1.0, 4.0, 15.0, 60.0)  # before attempt 2, 3, 4, 5+ of an item whose call failed
MAX_ERROR_CHARS = 2000


@dataclass
class _Run:
    """What executing one run's items needs, loaded once per run and process."""

    id: int
    principal: Principal
    connection: Any
    model: str | None
    params: dict[str, Any]
    timeout_s: float
    max_attempts: int
    concurrency: int
    variants: dict[str, dict[str, Any]]
    templates: dict[str, tuple[str, dict, str, dict, str | None]]  # key -> kind, template, fmt, params, model
    scorers: list[scorers.Scorer]
    judges: list[tuple[dict[str, Any], tuple[str, dict, str, dict, str | None]]]
    in_flight: int = 0
    lease_s: float = 0.0
    ready: deque = field(default_factory=deque)  # claimed, not started yet (under Runner._lock)


@dataclass
class _Claim:
    item_id: int
    run_id: int
    attempt: int
    variant: str = ""
    found: bool = False  # the dataset item still exists (its input and expected below)
    input: Any = None
    expected: str | None = None


@dataclass
class Result:
    text: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    answer: Any = None
    error: str = ""
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # scores for the log
    failures: list[str] = field(default_factory=list)
    judge_cost: float = 0.0
    judge_tokens: tuple[int, int] = (0, 0)


def _version(session: Session, version_id: int) -> tuple[str, dict, str, dict, str | None]:
    v = session.get(PromptVersion, version_id)
    return v.kind, v.template, v.template_format, dict(v.parameters or {}), v.model


class Runner:
    def __init__(self, db: Database, engine: TemplateEngine, *, workers: int = 32, poll_s: float = 0.25,
                 lease_margin_s: float = 30.0):
        self.db, self.engine = db, engine
        self.workers, self.poll_s, self.lease_margin_s = max(1, workers), poll_s, lease_margin_s
        self._runs: dict[int, _Run] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._in_flight = 0

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="promptyard-eval")
        self._writer = threading.Thread(target=self._write_loop, name="promptyard-eval-writer", daemon=True)
        self._writer.start()
        self._thread = threading.Thread(target=self._loop, name="promptyard-eval-dispatch", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Claim nothing more; wait a little for the items in flight (the rest are claimed again later)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._writer is not None:
            self._results.put(None)  # after what is queued: finished items are stored before it ends
            self._writer.join(timeout_s)

    def wake(self) -> None:
        """A run was created or resumed: look for work now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self.dispatch()
            except Unavailable:
                claimed = 0  # the store logged the outage; try again at the next poll
            except Exception:  # noqa: BLE001 - never let the dispatcher die
                log_scrub.failure(log, "dispatching evaluation items failed")
                claimed = 0
            if not claimed:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    # --- dispatching -----------------------------------------------------------------------

    def dispatch(self) -> int:
        """One pass: start claimed items where there is room, claiming more first when the run's ready items
        run low; the number of items started or claimed."""
        with self.db.read() as s:
            active = list(s.scalars(select(EvaluationRun.id).where(EvaluationRun.status.in_(evaluations.ACTIVE))
                                    .order_by(EvaluationRun.id)))
        self._release([run_id for run_id in list(self._runs) if run_id not in active])
        moved = 0
        for run_id in active:
            if self._stop.is_set():
                break
            run = self._run(run_id)
            if run is None:
                continue
            free = max(0, min(self.workers - self._in_flight, run.concurrency - run.in_flight))
            ahead = run.concurrency // 2  # claimed ahead, so a worker that finishes need not wait for a claim
            if free + ahead - len(run.ready) > 0 and (len(run.ready) < free or len(run.ready) <= ahead // 2):
                claims = self._claim(run, free + ahead - len(run.ready))
                with self._lock:
                    run.ready.extend(claims)
                moved += len(claims)
            for _ in range(free):
                with self._lock:
                    if not run.ready:
                        break
                    claim = run.ready.popleft()
                    run.in_flight += 1
                    self._in_flight += 1
                if self._pool is not None:
                    self._pool.submit(self._execute, run, claim)
                else:
                    self._execute(run, claim)
                moved += 1
        return moved

    def _release(self, run_ids: list[int]) -> None:
        """Runs no longer active (cancelled, failed): forget them; their items claimed ahead and not started
        are cancelled, as cancelling does to pending items."""
        for run_id in run_ids:
            with self._lock:  # a worker takes from `ready` only while the run is in self._runs
                run = self._runs.pop(run_id, None)
                if run is None or not run.ready:
                    continue
                claims, run.ready = list(run.ready), deque()
            with self.db.write() as s:
                for c in claims:
                    s.execute(update(EvaluationItem).where(
                        EvaluationItem.id == c.item_id, EvaluationItem.status == "running",
                        EvaluationItem.attempts == c.attempt).values(status="cancelled", claimed_at=None))

    def _run(self, run_id: int) -> _Run | None:
        cached = self._runs.get(run_id)
        if cached is not None:
            return cached
        try:
            with self.db.read() as s:
                run = s.get(EvaluationRun, run_id)
                if run is None:
                    return None
                p = keys.system_principal(run.workspace_id, actor=run.created_by or "evaluation")
                conn = llm_calls.connection(s, run.connection_id, run.workspace_id)
                templates = {}
                for v in run.variants:
                    if v.get("draft"):
                        templates[v["key"]] = (v["kind"], v["template"], v["format"], dict(v["params"]), v["model"])
                    else:
                        templates[v["key"]] = _version(s, v["version_id"])
                judge_list = [(j, _version(s, j["version_id"])) for j in run.judges]
                built = _Run(run.id, p, conn, run.model or None, dict(run.params or {}), run.timeout_s,
                             run.max_attempts, run.concurrency, {v["key"]: v for v in run.variants}, templates,
                             [scorers.parse(spec) for spec in run.scorers], judge_list)
                # An item claimed ahead may wait for one item's time before its own starts.
                built.lease_s = 2 * run.timeout_s * (1 + len(run.judges)) + self.lease_margin_s
        except Unavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the connection or a judge prompt is gone: the run fails
            with self.db.write() as s:
                self._fail_run(s, run_id, exc.message if isinstance(exc, PromptyardError)
                               else "the run's provider connection or prompts could not be loaded")
            return None
        self._runs[run_id] = built
        return built

    def _claim(self, run: _Run, limit: int) -> list[_Claim]:
        now = utcnow()
        with self.db.write() as s:
            row = s.scalar(select(EvaluationRun).where(EvaluationRun.id == run.id).with_for_update())
            if row is None or row.status not in evaluations.ACTIVE:
                return []  # the next dispatch releases the run (and what it claimed ahead)
            # Leases that ran out (a stopped server's items in flight) are claimable again.
            s.execute(update(EvaluationItem).where(
                EvaluationItem.run_id == run.id, EvaluationItem.status == "running",
                EvaluationItem.claimed_at < now - timedelta(seconds=run.lease_s)).values(status="pending",
                                                                                       claimed_at=None))
            q = (select(EvaluationItem.id, EvaluationItem.attempts, EvaluationItem.variant,
                        EvaluationItem.dataset_item_id).where(
                EvaluationItem.run_id == run.id, EvaluationItem.status == "pending",
                (EvaluationItem.claimed_at.is_(None)) | (EvaluationItem.claimed_at <= now))
                 .order_by(EvaluationItem.id).limit(limit))
            if self.db.kind == "postgresql":
                q = q.with_for_update(skip_locked=True)
            found = s.execute(q).all()
            if not found:
                self._maybe_finish(s, row)
                return []
            s.execute(update(EvaluationItem).where(EvaluationItem.id.in_([f.id for f in found])).values(
                status="running", attempts=EvaluationItem.attempts + 1, claimed_at=now))
            if row.status == "queued":
                row.status, row.started_at = "running", row.started_at or now
            # The items' inputs come along: a worker starts calling the provider without a transaction of its own.
            sources = {d.id: d for d in s.execute(select(DatasetItem.id, DatasetItem.input, DatasetItem.expected).where(
                DatasetItem.id.in_([f.dataset_item_id for f in found])))}
            claims = []
            for f in found:
                source = sources.get(f.dataset_item_id)
                claims.append(_Claim(f.id, run.id, f.attempts + 1, f.variant, source is not None,
                                     source.input if source else None, source.expected if source else None))
            return claims

    # --- one item ----------------------------------------------------------------------------

    def _execute(self, run: _Run, claim: _Claim | None) -> None:
        """A worker: this item, then the run's items claimed ahead while there are some (the slot is kept)."""
        while claim is not None:
            self._execute_one(run, claim)
            claim = self._next(run)
        self._wake.set()

    def _next(self, run: _Run) -> _Claim | None:
        with self._lock:
            if run.ready and self._runs.get(run.id) is run and not self._stop.is_set():
                self._wake.set()  # the dispatcher refills what was claimed ahead
                return run.ready.popleft()
            run.in_flight -= 1
            self._in_flight -= 1
            return None

    def _execute_one(self, run: _Run, claim: _Claim) -> None:
        try:
            self._execute_item(run, claim)
        except Exception:  # noqa: BLE001 - one item's bug must not stop the others
            log_scrub.failure(log, "evaluation item %s of run %s failed", claim.item_id, claim.run_id)
            try:
                with self.db.write() as s:
                    self._give_up(s, run, claim, "internal error while running the item")
            except Exception:  # noqa: BLE001
                log_scrub.failure(log, "recording the failure of evaluation item %s failed", claim.item_id)

    def _messages(self, template: tuple[str, dict, str, dict, str | None], variables: Any) -> list[dict[str, Any]]:
        kind, tpl, fmt, _, _ = template
        given = variables if isinstance(variables, dict) else {}
        rendered = self.engine.render(kind, tpl, fmt, given, strict=isinstance(variables, dict))
        messages = templates.as_messages(kind, rendered)
        if isinstance(variables, list):  # an item given as messages: the conversation to answer
            messages += [{"role": m.get("role", "user"), "content": m.get("content", "")} for m in variables
                         if isinstance(m, dict)]
        return messages

    def _call(self, run: _Run, template: tuple, messages: list[dict[str, Any]]) -> Any:
        _, _, _, params, model = template
        return llm_calls.complete(run.connection, None, messages=messages, model=run.model or model,
                                  params={**params, **run.params}, timeout_s=run.timeout_s)

    def _execute_item(self, run: _Run, claim: _Claim) -> None:
        variant, inp, expected = claim.variant, claim.input, claim.expected
        if not claim.found:
            with self.db.write() as s:
                self._give_up(s, run, claim, "the dataset item no longer exists")
            return
        result = Result()
        started = utcnow()
        try:
            result.messages = self._messages(run.templates[variant], inp)
        except PromptyardError as exc:
            with self.db.write() as s:
                self._give_up(s, run, claim, exc.message)
            return
        try:
            result.answer = self._call(run, run.templates[variant], result.messages)
        except PromptyardError as exc:
            with self.db.write() as s:
                self._retry(s, run, claim, exc)
            return
        ended = utcnow()
        result.text = result.answer.text
        for scorer in run.scorers:
            outcome = scorer.score(result.text, expected)
            if outcome.value is None:
                result.failures.append(f"{outcome.name}: " + _translate(outcome.error, outcome.params))
            else:
                result.outcomes.append({"name": outcome.name, "value": outcome.value, "source": "rule",
                                        "comment": outcome.comment or "", "author": f"scorer:{scorer.kind}"})
        for spec, template in run.judges:
            self._judge(run, spec, template, inp, result.text, expected, result)
        self._finished((run, claim, variant, result, started, ended))

    def _judge(self, run: _Run, spec: dict, template: tuple, inp: Any, output: str, expected: str | None,
               result: Result) -> None:
        variables = {"input": inp if isinstance(inp, str) else _input_text(inp), "output": output,
                     "expected": expected or ""}
        try:
            messages = self._messages(template, variables)
            _, _, _, params, model = template
            answer = llm_calls.complete(run.connection, None, messages=messages,
                                        model=spec.get("model") or model or run.model, params=params,
                                        timeout_s=run.timeout_s)
            verdict = judges.parse_answer(answer.text, tuple(spec["scale"]))
        except PromptyardError as exc:
            result.failures.append(f"{spec['name']}: {exc.message}")
            return
        result.judge_cost += answer.cost or 0.0
        result.judge_tokens = (result.judge_tokens[0] + (answer.input_tokens or 0),
                               result.judge_tokens[1] + (answer.output_tokens or 0))
        result.outcomes.append({"name": spec["name"], "value": verdict.value, "source": "judge",
                                "comment": (verdict.reason or "")[:5000],
                                "author": judges.author(spec["prompt"], spec["version"], answer.model)[:320]})

    # --- writing ---------------------------------------------------------------------------------

    def _held(self, s: Session, claim: _Claim) -> EvaluationItem | None:
        """The item, when this claim still holds it (not cancelled, not reclaimed by another worker)."""
        return s.scalar(select(EvaluationItem).where(
            EvaluationItem.id == claim.item_id, EvaluationItem.status == "running",
            EvaluationItem.attempts == claim.attempt).with_for_update())

    def _finished(self, entry: tuple) -> None:
        """An item's result, to be stored: by the writer thread in batches, or now without one."""
        if self._writer is not None and self._writer.is_alive():
            self._results.put(entry)
        else:
            self._write([entry])

    def _write_loop(self) -> None:
        """Store finished items in batches: one transaction (one ingest call) for what finished meanwhile."""
        while True:
            try:
                first = self._results.get(timeout=self.poll_s)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if first is None:
                return
            time.sleep(WRITE_GATHER_S)  # let the items finishing about now join this batch
            batch, last = [first], False
            while len(batch) < WRITE_BATCH:
                try:
                    entry = self._results.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    last = True
                    break
                batch.append(entry)
            self._write(batch)
            if last:
                return

    def _write(self, batch: list[tuple]) -> None:
        try:
            with self.db.write() as s:
                self._store_many(s, batch)
        except Exception:  # noqa: BLE001 - store them one by one: one bad item must not lose the others
            if len(batch) == 1:
                log_scrub.failure(log, "storing evaluation item %s failed", batch[0][1].item_id)
                return  # its claim runs out and the item is run again
            for entry in batch:
                self._write([entry])
        finally:
            self._wake.set()

    def _raw(self, run: _Run, item: EvaluationItem, variant: str, result: Result, started, ended) -> dict:
        answer, v = result.answer, run.variants[variant]
        meta = {evaluations.METADATA_RUN: str(run.id), evaluations.METADATA_VARIANT: variant}
        if not v.get("draft"):
            meta |= {"promptyard.eval_prompt": v["prompt"], "promptyard.eval_version": str(v["version"])}
        return {"id": f"eval-{run.id}-{item.id}", "start_time": started.isoformat(), "end_time": ended.isoformat(),
                "provider": run.connection.kind, "model": answer.model,
                "input": {"messages": result.messages, "parameters": {**run.templates[variant][3], **run.params}},
                "output": {"messages": [{"role": "assistant", "content": result.text}]},
                "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
                "cost": answer.cost, "metadata": meta, "tags": [evaluations.RUN_TAG, f"evaluation-{run.id}"],
                "scores": result.outcomes}

    def _store_many(self, s: Session, entries: list[tuple]) -> None:
        """Finished items, per run: the outputs ingested in one call, the items done, the run's counts."""
        by_run: dict[int, list[tuple]] = {}
        for entry in entries:
            by_run.setdefault(entry[0].id, []).append(entry)
        for run_id in sorted(by_run):
            group = by_run[run_id]
            run = group[0][0]
            row = _locked_run(s, run_id)
            held = [(entry, item) for entry in group if (item := self._held(s, entry[1])) is not None]
            if not held:
                continue
            raws = [self._raw(run, item, e[2], e[3], e[4], e[5]) for e, item in held]
            answer = request_ingest.ingest(s, run.principal, raws, max_batch=len(raws), source="evaluation")
            refused = {e["index"]: e["message"] for e in answer["errors"]}
            stored = dict(s.execute(select(Request.client_id, Request.id).where(
                Request.workspace_id == run.principal.workspace_id,
                bulk.one_of(Request.client_id, [r["id"] for r in raws]))).all())
            now = utcnow()
            for i, ((_, _, _, result, _, _), item) in enumerate(held):
                if i in refused or raws[i]["id"] not in stored:
                    item.status, item.finished_at = "failed", now
                    item.error = refused.get(i, "the output could not be stored")[:MAX_ERROR_CHARS]
                    row.items_failed += 1
                    continue
                answer_ = result.answer
                cost = (answer_.cost or 0.0) + result.judge_cost
                item.status, item.request_id, item.finished_at = "done", stored[raws[i]["id"]], now
                item.latency_ms, item.cost = answer_.latency_ms, cost
                item.scores = {o["name"]: o["value"] for o in result.outcomes} | {
                    f.split(":", 1)[0]: None for f in result.failures}
                item.error = "\n".join(result.failures)[:MAX_ERROR_CHARS]
                row.items_done += 1
                row.cost += cost
                row.input_tokens += (answer_.input_tokens or 0) + result.judge_tokens[0]
                row.output_tokens += (answer_.output_tokens or 0) + result.judge_tokens[1]
            queue_sources.outputs_stored(s, row, [(item.request_id, item.variant) for _, item in held
                                                  if item.status == "done"])
            self._maybe_finish(s, row)

    def _retry(self, s: Session, run: _Run, claim: _Claim, exc: PromptyardError) -> None:
        if claim.attempt >= run.max_attempts:
            self._give_up(s, run, claim, exc.message)
            return
        _locked_run(s, run.id)  # the run first, then the item: the order every writer here takes them in
        item = self._held(s, claim)
        if item is None:
            return
        wait = BACKOFF_S[min(claim.attempt - 1, len(BACKOFF_S) - 1)]
        item.status, item.claimed_at, item.error = "pending", utcnow() + timedelta(seconds=wait), exc.message[:MAX_ERROR_CHARS]

    def _give_up(self, s: Session, run: _Run, claim: _Claim, reason: str) -> None:
        row = _locked_run(s, run.id)
        item = self._held(s, claim)
        if item is None:
            return
        item.status, item.error, item.finished_at = "failed", reason[:MAX_ERROR_CHARS], utcnow()
        row.items_failed += 1
        self._maybe_finish(s, row)

    def _maybe_finish(self, s: Session, row: EvaluationRun | None) -> None:
        """Done when no item is left pending or running (failed items do not make the run fail; a run whose
        every item failed does)."""
        if row is None or row.status not in evaluations.ACTIVE:
            return
        left = s.scalar(select(func.count()).where(EvaluationItem.run_id == row.id,
                                                   EvaluationItem.status.in_(("pending", "running"))))
        if left:
            return
        row.status = "failed" if row.items_done == 0 else "done"
        row.finished_at = utcnow()
        if row.status == "failed":
            row.error = "every item failed"
        s.flush()
        evaluations.finished(s, row)
        self._runs.pop(row.id, None)

    def _fail_run(self, s: Session, run_id: int, reason: str) -> None:
        row = s.get(EvaluationRun, run_id)
        if row is not None and row.status in evaluations.ACTIVE:
            row.status, row.error, row.finished_at = "failed", reason[:MAX_ERROR_CHARS], utcnow()

    def run_until_idle(self, timeout_s: float = 60.0) -> None:
        """Dispatch until no run is active (tests and the CLI's local mode)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.dispatch()
            with self.db.read() as s:
                if not s.scalar(select(func.count()).where(EvaluationRun.status.in_(evaluations.ACTIVE))):
                    return
            time.sleep(0.05)
        raise TimeoutError("evaluation runs still active")


def _locked_run(s: Session, run_id: int) -> EvaluationRun:
    """The run's row, locked for this transaction (PostgreSQL): item writes of one run take turns, so the
    last one to finish sees every other item finished and closes the run."""
    return s.scalar(select(EvaluationRun).where(EvaluationRun.id == run_id).with_for_update())


def _input_text(value: Any) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}: {v}" for k, v in value.items())
    return text_of(value)


def _translate(key: str | None, params: dict[str, Any]) -> str:
    from promptyard import catalogue

    return catalogue.translate("en", key, **params) if key else ""
