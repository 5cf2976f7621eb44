"""Batch ingest over HTTP: logs with 3 metadata keys and 2 scores, in batches of 500, into a real
`promptyard serve`, on SQLite and PostgreSQL, with the workspace's redaction policy on (the default) and
off. Targets: at least 5,000 logs/s; with redaction on, at least 80% of the rate without it (issue 13).

Two kinds of log: `short` (a one-line question and answer) and `chat` (a pharmacy conversation as our first
users log it: a system prompt, the patient's message, the suggested reply; every fifth one names the patient
and a phone number). Off and on alternate, ROUNDS times each; the table gives the median."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_seconds, database_cpu_seconds, fresh_pg, machine, server, server_processes, write_section  # noqa: E402

BATCH, BATCHES, CLIENTS, ROUNDS = 500, 40, 2, 5
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/promptyard_bench_ingest"

SYSTEM = ("あなたは調剤薬局の薬剤師を支援するアシスタントです。患者からのチャットに対し、薬剤師が確認してから送る返信案を"
          "作成してください。用法・用量は添付文書と処方内容に従い、断定できないことは「薬剤師にご確認ください」と伝えます。"
          "受診を勧めるべき症状（発疹、呼吸困難、強い腹痛など）があれば、すぐに医療機関を受診するよう案内します。")
QUESTIONS = ("昨日処方されたロキソプロフェン60mgは、胃が弱いのですが食後に飲めば大丈夫でしょうか。1日3回と言われました。",
             "子どもの咳止めシロップを飲ませ忘れました。次の分と一緒に2回分飲ませてもいいですか？",
             "お薬手帳をなくしてしまいました。再発行はできますか。次回の来局は来週の火曜日です。",
             "アムロジピン5mgを毎朝飲んでいますが、グレープフルーツジュースは避けたほうがいいですか。")
ANSWER = ("ご連絡ありがとうございます。ロキソプロフェンは胃への負担があるため、必ず食後に服用し、空腹時は避けてください。"
          "1日3回、1回1錠の用量を守り、胃の痛みや黒い便が出た場合は服用を中止して薬剤師にご相談ください。"
          "胃薬が一緒に処方されている場合は、同じタイミングで服用して問題ありません。")


def _chat(i: int) -> tuple[dict, dict]:
    question = QUESTIONS[i % len(QUESTIONS)]
    if i % 5 == 0:
        question = f"山田花子です。{question} 折り返しは090-{1000 + i % 9000:04d}-5678にお願いします。"
    return ({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]},
            {"choices": [{"message": {"role": "assistant", "content": ANSWER}}]})


def make_log(i: int, kind: str = "short") -> dict:
    if kind == "chat":
        inp, out = _chat(i)
    else:
        inp = {"messages": [{"role": "user", "content": f"質問 {i}: この薬の用量は?"}]}
        out = {"text": f"回答 {i}: 1日2回、食後に服用してください。"}
    return {"id": str(uuid.uuid4()), "provider": "openai", "model": "gpt-4o", "input": inp, "output": out,
            "start_time": 1764000000 + i, "end_time": 1764000000.8 + i,
            "usage": {"input_tokens": 120, "output_tokens": 40}, "tags": ["bench"],
            "metadata": {"env": "prod", "user_id": f"u{i % 997}", "store": f"s{i % 31}"},
            "scores": [{"name": "follows_manual", "value": i % 101}, {"name": "medically_correct", "value": (i * 7) % 101}]}


def set_redaction(url: str, key: str, on: bool) -> None:
    body = {"enabled": on, "reason": "benchmark: redaction off for comparison"}
    httpx.patch(url + "/api/v1/privacy/redaction", json=body, headers={"Authorization": f"Bearer {key}"},
                timeout=30).raise_for_status()


def run(url: str, key: str, kind: str = "short", cpu: dict | None = None) -> float:
    """Logs/s of one run; `cpu` gets CPU microseconds per log of the server process ("server"), of its
    ingest workers together ("workers") and of the PostgreSQL server's processes ("database")."""
    # Encoded before timing, as an SDK's background sender has its batch ready: the clients share the cores.
    batches = [json.dumps({"requests": [make_log(b * BATCH + i, kind) for i in range(BATCH)]}).encode()
               for b in range(BATCHES)]

    def send(batch: bytes) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}",
                                                 "content-type": "application/json"}, timeout=60) as c:
            r = c.post("/api/v1/requests", content=batch)
            r.raise_for_status()
            assert r.json()["accepted"] == BATCH, r.text[:300]

    send(batches[0])  # warm up
    servers, workers = server_processes()
    before, database = cpu_seconds(servers + workers), database_cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, batches[1:]))
    rate = (BATCHES - 1) * BATCH / (time.perf_counter() - start)
    used = {pid: s - before.get(pid, 0.0) for pid, s in cpu_seconds(servers + workers).items()}
    database = database_cpu_seconds() - database
    if cpu is not None:
        per_log = 1e6 / ((BATCHES - 1) * BATCH)
        cpu.setdefault("server", []).append(sum(used[p] for p in servers if p in used) * per_log)
        cpu.setdefault("workers", []).append(sum(used[p] for p in workers if p in used) * per_log)
        cpu.setdefault("database", []).append(database * per_log)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default=PG, help="the PostgreSQL database to (re)create; '' for SQLite only")
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--kinds", default="short,chat")
    ap.add_argument("--workers", default="0,2", help="PROMPTYARD_INGEST_WORKERS values to compare")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for label, db_url in [("SQLite", None)] + ([("PostgreSQL", args.pg)] if args.pg and fresh_pg(args.pg) else []):
        for kind in args.kinds.split(","):
            for workers in args.workers.split(","):
                if db_url:
                    fresh_pg(db_url)  # a fresh database: the server's first run hands out the admin key
                with server(db_url, {"PROMPTYARD_INGEST_WORKERS": workers}) as (url, key):
                    rates: dict[bool, list[float]] = {True: [], False: []}
                    cpu: dict[str, list[float]] = {}
                    for _ in range(args.rounds):
                        for on in (False, True):
                            set_redaction(url, key, on)
                            rates[on].append(run(url, key, kind, cpu if on else None))
                off, on = statistics.median(rates[False]), statistics.median(rates[True])
                database = f"{statistics.median(cpu['database']):,.0f}" if db_url else "-"
                rows.append(f"| {label} | {kind} | {workers} | {off:,.0f} | {on:,.0f} | {on / off:.0%} | "
                            f"{statistics.median(cpu['server']):,.0f} / {statistics.median(cpu['workers']):,.0f} / "
                            f"{database} |")
                print(rows[-1], flush=True)
    write(rows, args.rounds, load)


def write(rows: list[str], rounds: int, load: float) -> None:
    write_section("ingest", "\n".join([
        "## Batch ingest (`bench/bench_ingest.py`)",
        f"{(BATCHES - 1) * BATCH:,} logs (3 metadata keys, 2 scores, tags, token usage each) posted in batches of "
        f"{BATCH} by {CLIENTS} concurrent clients to one `promptyard serve` process, whose ingest workers "
        "(`PROMPTYARD_INGEST_WORKERS`, 2 by default; 0: all in the server process) check, decode and redact the "
        f"batches while it writes them; {machine()}. "
        "`short`: a one-line question and answer; `chat`: a pharmacy conversation (a 250-character system prompt, "
        "the patient's message, a 170-character reply; every fifth names the patient and a phone number). "
        f"Redaction off and on alternate, {rounds} runs each, median (the database grows by every run); load "
        f"average {load:.1f} at the start. The text index is kept at ingest (store/text_search.py). Targets: "
        "at least 6,000 logs/s with the text index (issue 15); with redaction on (the default), at least 80% of the "
        "rate without it. PostgreSQL's column: the CPU time of its own processes (backends, WAL writer, checkpointer).", "",
        "| database | logs | ingest workers | logs/s, redaction off | logs/s, redaction on | on / off | "
        "CPU µs per log (redaction on): server process / ingest workers / PostgreSQL |",
        "|---|---|---|---|---|---|---|",
        *rows]))


if __name__ == "__main__":
    main()
