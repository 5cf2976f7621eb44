"""Seed a repeatable request-log data set (default 1,000,000 logs, each with 3 metadata keys and
2 scores) straight into a database with core bulk inserts, the text index filled as ingest fills it
(store/text_search.add), for the search, analytics and text-search benchmarks. On PostgreSQL each log
is numbered by the month it was received in (store/partitions.py), so a million logs (25 s apart
from 2026-01-01) fill ten months' partitions.

    python bench/seed_million.py --url sqlite:///bench/out/million.db [--rows 1000000] [--corpus chat]

Two corpora: `short` (a one-line question and answer) and `chat`, typical pharmacy chat logs
(see `chat_log`): a system prompt (one of the 15 prompt versions' own, ~230 characters), the
patient's question (~40-110 characters), the suggested answer (2-4 sentences, ~100-250 characters),
mostly Japanese, every fifth in English; one log in RARE_EVERY holds the word RARE, which no
other log holds (the 2-character query of bench_text_search.py).

Prints the workspace's admin API key and keeps it in bench/out/ (common.key_file) for the benchmarks."""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import column, insert, table, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import key_file  # noqa: E402

from promptyard.domain.logs import text_of
from promptyard.services import keys, versions
from promptyard.store import partitions, rollups, text_search
from promptyard.store.db import Database
from promptyard.store.migrate import upgrade
from promptyard.store.models import Request, RequestMetadata, RequestTag, Score

PROMPTS, VERSIONS, CHUNK = 5, 3, 20_000
OUT = Path(__file__).resolve().parent / "out"


def seed(url: str, rows: int, seed_value: int = 42, corpus: str = "short") -> str:
    db = Database(url)
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, f"bench-{uuid.uuid4().hex[:6]}")
        p = keys.system_principal(ws)
        ids = {}
        for i in range(PROMPTS):
            for v in range(VERSIONS):
                rec, _ = versions.publish_by_name(s, p, name=f"bench/prompt-{i}", spec={
                    "messages": [{"role": "user", "content": f"v{v} {{question}}"}], "commit_message": f"v{v}"})
                ids[(i, v + 1)] = (rec.prompt_id, rec.id)
        _, raw = keys.create_key(s, p, name="bench", scopes=["read", "write", "ingest", "admin"])
    rng = random.Random(seed_value)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    t0 = time.time()
    for base in range(0, rows, CHUNK):
        n = min(CHUNK, rows - base)
        with db.write() as s:
            if db.kind == "postgresql":  # the rows' keys checked with cached plans, as ingest does (store/bulk.py)
                s.execute(text("SET LOCAL plan_cache_mode = auto"))
            rids, batch = _requests(s, ws, ids, rng, start, base, n, corpus)
            _children(s, ws, rng, rids, batch)
        done = base + n
        if done % 100_000 == 0 or done == rows:
            print(f"{done:,} rows, {done / (time.time() - t0):,.0f} rows/s", flush=True)
    db.dispose()
    return raw


def _requests(s, ws, ids, rng, start, base, n, corpus) -> tuple[list[int], list[dict]]:  # noqa: ANN001
    batch = []
    for i in range(base, base + n):
        prompt, version = rng.randrange(PROMPTS), rng.randrange(VERSIONS) + 1
        pid, vid = ids[(prompt, version)]
        t = start + timedelta(seconds=i * 25)
        if corpus == "chat":
            inp, out = chat_log(rng, i, prompt * VERSIONS + version - 1)
        else:
            inp, out = {"messages": [{"role": "user", "content": f"質問 {i}"}]}, {"text": f"回答 {i}"}
        batch.append({
            "workspace_id": ws, "client_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "received_at": t,
            "start_time": t,
            "end_time": t + timedelta(milliseconds=800), "latency_ms": rng.lognormvariate(6.5, 0.4),
            "provider": "openai", "model": "gpt-4o", "input": inp,
            "output": out, "parameters": {},
            "status": "error" if rng.random() < 0.02 else "ok", "input_tokens": 120, "output_tokens": 40,
            "total_tokens": 160, "cost": 0.0007, "prompt_id": pid, "prompt_version_id": vid,
            "prompt_name": f"bench/prompt-{prompt}", "version_number": version, "label": "production",
            "tags": ["bench"], "source": "api"})
    t = Request.__table__
    if s.connection().dialect.name == "postgresql":  # numbered by the month received, as ingest does
        for at in (batch[0]["received_at"], batch[-1]["received_at"]):
            partitions.ensure(s.connection(), at, ahead=0)
        for i, r in enumerate(batch, start=base + 1):
            r["id"] = partitions.first_id(partitions.month_of(r["received_at"])) + i
        s.execute(insert(table(partitions.KEYS, column("workspace_id"), column("client_id"))),
                  [{"workspace_id": ws, "client_id": r["client_id"]} for r in batch])
    s.execute(insert(t), batch)
    if "id" in batch[0]:
        rids = [r["id"] for r in batch]
    else:  # SQLite numbers them in order
        first = s.scalar(t.select().with_only_columns(t.c.id).where(t.c.client_id == batch[0]["client_id"],
                                                                   t.c.workspace_id == ws))
        rids = list(range(first, first + n))
    text_search.add(s, [(rid, ws, text_of(r["input"]), text_of(r["output"])) for rid, r in zip(rids, batch)])
    return rids, batch


# --- the chat corpus ------------------------------------------------------------------------------

RARE, RARE_EVERY = "麻疹", 1000  # no other text of the corpus holds these two characters together
DRUGS = ("ロキソプロフェン", "アムロジピン", "カロナール", "ムコダイン", "アレグラ", "ツムラ葛根湯", "メトホルミン",
         "ランソプラゾール", "レバミピド", "モンテルカスト", "ビタミンB12", "セレコックス", "クラリスロマイシン")
DOSES = ("5mg", "10mg", "60mg", "200mg", "500mg", "1錠", "2錠", "1包", "10mL")
TIMES = ("朝食後", "夕食後", "毎食後", "就寝前", "食前", "1日2回", "1日3回", "頓服で")
SYMPTOMS = ("胃の痛み", "眠気", "めまい", "かゆみ", "便秘", "下痢", "頭痛", "動悸", "むくみ", "咳", "発熱")
SYSTEM = ("あなたは調剤薬局の薬剤師を支援するアシスタントです。患者からのチャットに対し、薬剤師が確認してから送る返信案を"
          "作成してください。", "用法・用量は添付文書と処方内容に従い、断定できないことは「薬剤師にご確認ください」と伝えます。",
          "受診を勧めるべき症状（発疹、呼吸困難、強い腹痛など）があれば、すぐに医療機関を受診するよう案内します。",
          "敬語で、200字以内で答えてください。", "他の患者の情報や処方内容には触れないでください。",
          "市販薬との飲み合わせを聞かれたら、成分名を確認してから答えます。", "返信の最後に、来局の予定を確認します。")
QUESTIONS = ("昨日処方された{drug}{dose}は、{symptom}があるのですが{time}に飲めば大丈夫でしょうか。",
             "子どもの{drug}を飲ませ忘れました。次の分と一緒に2回分飲ませてもいいですか？",
             "お薬手帳をなくしてしまいました。再発行はできますか。次回の来局は来週の{day}です。",
             "{drug}{dose}を{time}に飲んでいますが、グレープフルーツジュースは避けたほうがいいですか。",
             "{drug}を飲み始めてから{symptom}が続いています。このまま飲み続けてもいいでしょうか。",
             "市販の風邪薬と{drug}を一緒に飲んでも問題ありませんか。{symptom}が少しあります。",
             "旅行に行くので{drug}を多めにもらえますか。{day}から1週間留守にします。")
ENGLISH = ("I was prescribed {drug} {dose} yesterday. Can I take it {time_en} if I have {symptom_en}?",
           "I forgot a dose of {drug}. Should I take two doses next time?",
           "Is it safe to take {drug} together with an over-the-counter cold medicine?")
ANSWERS = ("ご連絡ありがとうございます。", "{drug}は{time}に服用してください。", "{symptom}が強い場合は服用を中止してください。",
           "2回分をまとめて飲むことは避け、次の分から通常どおり服用してください。", "飲み合わせについては薬剤師が確認いたします。",
           "{symptom}が続くときは、早めに医療機関を受診してください。", "次回の来局時にお薬手帳をお持ちください。",
           "{dose}を守って服用してください。", "ご不明な点があれば、いつでも薬剤師にご相談ください。",
           "お薬手帳は薬局で再発行できますので、来局時にお申し付けください。", "予定の{day}にお待ちしております。")
ANSWERS_EN = ("Thank you for your message.", "Please take {drug} {time_en}.", "If the {symptom_en} gets worse, stop "
              "taking it and see a doctor.", "Do not take two doses at once.", "A pharmacist will check the combination.")
DAYS = ("月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日")
EN = {"time_en": ("after breakfast", "at bedtime", "before meals", "twice a day"),
      "symptom_en": ("a headache", "stomach pain", "dizziness", "a cough", "itching")}


def chat_log(rng: random.Random, i: int, version: int) -> tuple[dict, dict]:
    """One typical log: the version's system prompt, a question, an answer (see the module's doc)."""
    fill = {"drug": rng.choice(DRUGS), "dose": rng.choice(DOSES), "time": rng.choice(TIMES),
            "symptom": rng.choice(SYMPTOMS), "day": rng.choice(DAYS)} | {k: rng.choice(v) for k, v in EN.items()}
    system = "".join(SYSTEM[j] for j in range(len(SYSTEM)) if j < 3 or (version >> (j - 3)) & 1)
    english = i % 5 == 4
    question = rng.choice(ENGLISH if english else QUESTIONS).format(**fill)
    if i % RARE_EVERY == 7:
        question = f"先月{RARE}の予防接種を受けました。{question}"
    answer = (" " if english else "").join(rng.choice(ANSWERS_EN if english else ANSWERS).format(**fill)
                                         for _ in range(rng.randint(3, 6)))
    return ({"messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]},
            {"choices": [{"message": {"role": "assistant", "content": answer}}]})


def _children(s, ws, rng, rids: list[int], batch: list[dict]) -> None:  # noqa: ANN001
    """Metadata, scores and tags, and the running totals as ingest keeps them."""
    meta, scores, tags = [], [], []
    changes = rollups.Changes()
    for rid, r in zip(rids, batch):
        meta += [{"request_id": rid, "workspace_id": ws, "key": "env", "value": rng.choice(("prod", "prod", "dev"))},
                 {"request_id": rid, "workspace_id": ws, "key": "store", "value": f"s{rng.randrange(31)}"},
                 {"request_id": rid, "workspace_id": ws, "key": "user_id", "value": f"u{rng.randrange(50_000)}"}]
        scores += [{"request_id": rid, "workspace_id": ws, "name": "medically_correct", "value": rng.randrange(101),
                    "comment": "", "source": "api", "author": "seed"},
                   {"request_id": rid, "workspace_id": ws, "name": "follows_manual", "value": rng.randrange(101),
                    "comment": "", "source": "api", "author": "seed"}]
        tags.append({"request_id": rid, "workspace_id": ws, "tag": "bench"})
        version = rollups.key(r["prompt_name"], r["version_number"])
        changes.request(version, at=r["start_time"], status=r["status"], total_tokens=r["total_tokens"],
                        cost=r["cost"], latency_ms=r["latency_ms"])
        for sc in scores[-2:]:
            changes.score(version, sc["name"], sc["value"], at=r["start_time"])
    changes.apply(s, ws)
    s.execute(insert(RequestMetadata.__table__), meta)
    s.execute(insert(Score.__table__), scores)
    s.execute(insert(RequestTag.__table__), tags)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=f"sqlite:///{OUT / 'million.db'}")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--corpus", choices=["short", "chat"], default="short")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    key = seed(args.url, args.rows, corpus=args.corpus)
    key_file(args.url).write_text(key)
    print(key)


if __name__ == "__main__":
    sys.exit(main())
